// Command peers measures cxload's HTTP client side by side with its peers on
// this machine: a bare net/http client loop (the baseline), cxload's client
// with recording and limiting on, vegeta and k6.
//
// Usage:
//
//	go run ./peers [-duration 10s] [-conns 50] [-rate 5000] [-only bare,cxload,vegeta,k6] [-target raw|nethttp] [-json]
//	go run ./peers -population 10000 [-population-duration 60s] [-population-period 10s] [-population-heartbeat 10s] [-json]
//	go run ./peers -population 10000 -calls 50 [-population-duration 5m] [-population-handle 60s] [-population-ring 1s] [-population-patience 2m] [-json]
//
// It starts one loopback target (by default a minimal HTTP/1.1 responder
// on net.Conn, cheap enough not to be the bottleneck; -target nethttp: a
// Go net/http server; either answers an 82-byte JSON body) in a separate
// process pinned to CPU 1, then runs each loader in its
// own process pinned to CPU 0, one after another, for the same duration and
// number of connections. For every loader it reports requests per second,
// CPU seconds per 1,000 requests (from the loader process's rusage), p50 and
// p99 latency, peak RSS and errors, with ratios to the bare loop. Then it
// runs paced load at a fixed rate and reports the achieved rate's error and
// the p99 measured from each request's intended send time (corrected for
// coordinated omission).
//
// vegeta and k6 are taken from PATH, or installed with `go install` into a
// temporary GOBIN (or the directory given by -bin). A loader that cannot be
// run is reported as "not measured: <reason>"; the others still run.
//
// With -population N it runs instead N agents of harness/agent against
// harness/gcsim in a child process pinned to CPU 1, from a child process
// pinned to CPU 0: each agent holds a notification channel subscribed to
// its presence and routing status topics and changes its presence every
// -population-period for -population-duration. It reports the agents and
// channels up, API requests by outcome, notification events, heartbeat
// gaps, drops and reconnects, and each process's CPU and memory (per agent
// for the loader); any error is counted.
//
// With -calls R as well, the agents take inbound calls instead: every agent
// goes On Queue and its channel also follows its conversations.calls
// topic; the simulator's traffic model offers R calls per second over its
// 20 queues (Poisson arrivals, callers hanging up after an exponential
// wait of mean -population-patience). An agent answers an offer after
// -population-ring, talks for -population-handle on average (uniform
// within ±50%), hangs up and wraps up. When -population-duration is over,
// idle agents go off queue and busy ones after their call (before the
// wrap-up, which would make them IDLE and be offered the next waiting
// call). A supervisor channel per queue counts, from the simulator's call
// events, the calls offered, answered (ASA, talk, after-call work),
// abandoned or rung out, by when they entered the queue: before every
// agent was On Queue, during the load, or after it. The report adds CPU
// per handled call of both processes.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
