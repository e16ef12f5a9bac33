package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/workload"
)

// cxload's request: a route template with one parameter, as scenarios send
// them; the target answers every path the same.
const (
	cxloadOp    = "users.get"
	cxloadRoute = "/api/v2/users/{userId}"
	cxloadUser  = "3f2c6a1e-8b7d-4c2a-9e1f-5d6b7a8c9d0e"
)

// neverLimit is the Allowed figure of the client-side buckets: so large
// that they never make a request wait, so that the limiter's cost is
// measured, not its effect.
const neverLimit = 1 << 30

// staticTokens hands every agent the same token: the token pool is not
// what is measured, the Authorization header and per-token limiting are.
type staticTokens struct{ tok *auth.Token }

func (s staticTokens) Token(context.Context, int) (*auth.Token, error) { return s.tok, nil }
func (s staticTokens) Invalidate(*auth.Token)                          {}

// newCxloadClient returns cxload's client as a scenario has it: a token,
// a metrics.Recorder, and client-side limits on the two buckets every
// Platform API request counts against (per token, and per org × client ×
// user).
func newCxloadClient(url string, conns int) (*api.Client, *metrics.Recorder, error) {
	rec := metrics.NewRecorder(metrics.WithScenario("peers"), metrics.WithTarget("loopback", ""))
	limits := api.NewLimits(nil,
		api.Bucket{Key: "token.rate.per.minute", Scope: genesys.ScopeToken, Allowed: neverLimit, Source: "peers"},
		api.Bucket{Key: "org.app.user.rate.per.minute", Scope: genesys.ScopeClientUser, Allowed: neverLimit, Source: "peers"},
	)
	c, err := api.New(api.Config{
		BaseURL:  url,
		Tokens:   staticTokens{auth.NewToken("peers-not-a-secret", "peers-client", time.Now().Add(24*time.Hour))},
		Recorder: rec,
		Agents:   conns,
		Limits:   limits,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("peers: cxload client: %w", err)
	}
	return c, rec, nil
}

// cxloadErr turns Do's answer into the loop's error: a transport error, or
// a status outside 2xx.
func cxloadErr(resp *api.Response, err error) error {
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return fmt.Errorf("status %d", resp.Status)
	}
	return nil
}

// runCxload runs cxload's client: a closed loop at full speed (rate 0),
// one worker per connection as for the bare loop; or paced at rate by
// harness/agent's open executor, one agent per connection. Either way the
// count the Recorder saw must match the loop's.
func runCxload(ctx context.Context, url string, conns int, duration time.Duration, rate float64) (loadReport, error) {
	c, rec, err := newCxloadClient(url, conns)
	if err != nil {
		return loadReport{}, err
	}
	defer c.Close()
	if rate > 0 {
		return cxloadPaced(ctx, c, rec, conns, duration, rate)
	}
	agentID := 0
	rep := closedLoop(ctx, conns, duration, func() sendFunc {
		ac := c.Agent(agentID)
		agentID++
		req := &api.Request{Op: cxloadOp, Method: http.MethodGet, Route: cxloadRoute, Params: []string{cxloadUser}}
		return func() error { return cxloadErr(ac.Do(context.Background(), req)) }
	})
	rep.Note = "harness/api client, metrics.Recorder, 2 client-side buckets, " + strconv.Itoa(conns) + " workers"
	return rep, checkRecorded(rec, rep.Requests)
}

// checkRecorded fails when the Recorder did not see exactly n requests.
func checkRecorded(rec *metrics.Recorder, n int64) error {
	if got := rec.Snapshot().All().Count; got != n {
		return fmt.Errorf("peers: cxload: the recorder counted %d requests, the loop %d", got, n)
	}
	return nil
}

// pacedAgentsPerConn: agents of the paced run per connection.
const pacedAgentsPerConn = 4

// cxloadPaced drives the client with workload.Open and a constant pacer.
// Latencies come from each request's Result: Latency (service time) and
// Total (from the intended start). Arrivals dropped because every agent
// was busy count as requests and errors.
//
// The executor has pacedAgentsPerConn agents per connection (as k6's
// maxVUs above its connections): when the loader is descheduled for a few
// milliseconds, the arrivals that came due meanwhile find an agent, wait
// for a connection (the client's own queue, counted in Total) and are sent
// late rather than dropped. Only an arrival that finds every agent busy
// is dropped.
func cxloadPaced(ctx context.Context, c *api.Client, rec *metrics.Recorder, conns int, duration time.Duration, rate float64) (loadReport, error) {
	agents := pacedAgentsPerConn * conns
	stats := make([]*workerStats, agents)
	reqs := make([]*api.Request, agents)
	clients := make([]*api.Client, agents)
	for i := range stats {
		stats[i] = newWorkerStats(true)
		reqs[i] = &api.Request{Op: cxloadOp, Method: http.MethodGet, Route: cxloadRoute, Params: []string{cxloadUser}}
		clients[i] = c.Agent(i)
	}
	open := &workload.Open{
		Pacer:        workload.ConstantPacer{Freq: rate, Per: time.Second, Duration: duration}, // ends the arrivals
		Agents:       agents,
		GracefulStop: 10 * time.Second,
	}
	start := time.Now()
	st, err := open.Run(ctx, func(ctx context.Context, it workload.Iteration) error {
		// An agent runs one iteration at a time: its stats and request are its own.
		ws, req := stats[it.Agent], reqs[it.Agent]
		req.Intended = it.Intended
		resp, err := clients[it.Agent].Do(ctx, req)
		err = cxloadErr(resp, err)
		if resp != nil {
			r := &resp.Result
			if ws.firstStart.IsZero() {
				ws.firstStart = r.Start
			}
			ws.lastStart = r.Start
			recordDur(ws.service, r.Latency)
			recordDur(ws.co, r.Total)
		}
		ws.add(err)
		return err
	})
	if err != nil {
		return loadReport{}, fmt.Errorf("peers: cxload paced: %w", err)
	}
	rep := merge(stats, time.Since(start), rate)
	if err := checkRecorded(rec, rep.Requests); err != nil {
		return loadReport{}, err
	}
	rep.Dropped = int64(st.Dropped)
	rep.Requests += int64(st.Dropped)
	rep.Errors += int64(st.Dropped)
	rep.Note = fmt.Sprintf("harness/agent Open executor, ConstantPacer, %d agents on %d connections; %d arrivals, %d dropped (all agents busy)", agents, conns, st.Arrivals, st.Dropped)
	return rep, nil
}
