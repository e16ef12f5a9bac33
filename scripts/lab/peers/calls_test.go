package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/notify"
)

// TestPopulationCalls runs -population -calls end to end, tiny: 40 agents
// (two per queue) take 20 calls a second for 4 s, in child processes, so
// that calls wait in queue. Every call the supervisor saw answered was
// handled by an agent, every request succeeded, no offer rang out, no
// event was lost, and the agents were all idle and off queue within the
// longest talk after the load, though calls still waited.
func TestPopulationCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two child processes for a few seconds; skipped with -short")
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-population", "40", "-calls", "20", "-population-duration", "4s", "-population-handle", "1s",
		"-population-ring", "100ms", "-population-heartbeat", "1s", "-json"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run %q: %v\nstderr:\n%s", args, err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}
	r := rep.Population
	if r == nil || r.Load == nil || r.Load.Calls == nil {
		t.Fatalf("report without a calls run: %s", stdout.String())
	}
	l, f := r.Load, r.Load.Calls
	if r.Errors != 0 {
		t.Errorf("errors = %d, want 0; calls %+v", r.Errors, f)
	}
	ops := map[string]popOp{}
	for _, op := range l.Ops {
		ops[op.Op] = op
	}
	if f.During.Offered == 0 || f.During.Answered == 0 {
		t.Fatalf("during the load %d calls offered, %d answered; want some (2/s for 4 s)", f.During.Offered, f.During.Answered)
	}
	answered := f.Before.Answered + f.During.Answered + f.After.Answered
	if f.Answered != answered || f.Handled != f.Answered || f.Offers != f.Answered+f.Gone {
		t.Errorf("agents: %d offers, %d answered, %d gone, %d handled; supervisor: %d answered; want offers = answered + gone, all answered handled and seen",
			f.Offers, f.Answered, f.Gone, f.Handled, answered)
	}
	if ops["call.answer"].Count != f.Offers || ops["call.wrapup"].Count != f.Handled || ops["call.disconnect"].Count != f.Handled {
		t.Errorf("requests answer %d, disconnect %d, wrapup %d; want one per offer (%d), per handled call (%d)",
			ops["call.answer"].Count, ops["call.disconnect"].Count, ops["call.wrapup"].Count, f.Offers, f.Handled)
	}
	if ops["presence.set"].Count != 2*40 {
		t.Errorf("presence.set sent %d times, want 80 (On Queue, then off queue, for each agent)", ops["presence.set"].Count)
	}
	if f.Busy != 0 || f.During.TimedOut != 0 || f.NotResp != 0 || f.Failed != 0 {
		t.Errorf("busy at the end %d, rang out %d, NOT_RESPONDING %d, failed %d; want none", f.Busy, f.During.TimedOut, f.NotResp, f.Failed)
	}
	// The last calls end within the ring, the longest talk (1.5 s) and
	// their requests.
	if f.Busy != 0 || f.DrainTime > 100*time.Millisecond+1500*time.Millisecond+5*time.Second {
		t.Errorf("after the load %d agents busy, drained in %v; want none within 6.6 s", f.Busy, f.DrainTime)
	}
	// Talk times are drawn within ±50% of 1 s; the answer waits the ring.
	if f.During.Talk < 500*time.Millisecond || f.During.Talk > 1500*time.Millisecond || f.During.ASA < 100*time.Millisecond {
		t.Errorf("talk %v (want 0.5..1.5 s), ASA %v (want at least the 100 ms ring)", f.During.Talk, f.During.ASA)
	}
	if l.Expected == 0 || l.Matched != l.Expected || l.Lost != 0 {
		t.Errorf("events expected %d, matched %d, lost %d; want all matched", l.Expected, l.Matched, l.Lost)
	}
	var out bytes.Buffer
	if err := writePopulation(&out, &rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"calls during the load", "ASA", "CPU per handled call"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCallsFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"-population", "10000", "-calls", "50", "-population-handle", "90s"}},
		{args: []string{"-population", "10", "-calls", "-1"}, wantErr: "-calls -1: want 0 (off) or a rate"},
		{args: []string{"-population", "10", "-calls", "1", "-population-ring", "9s"}, wantErr: "-population-ring 9s"},
		{args: []string{"-population", "10", "-calls", "1", "-population-handle", "10ms"}, wantErr: "-population-handle 10ms"},
		{args: []string{"-population", "1000", "-calls", "50", "-population-handle", "60s"}, wantErr: "needs 3000 agents talking of 1000"},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, new(bytes.Buffer))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseFlags(%q) error = %v, want none", tt.args, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseFlags(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestCallErrors(t *testing.T) {
	ok := callFigures{During: callCounts{Abandoned: 3}, Gone: 2}
	if n := callErrors(&ok); n != 0 {
		t.Errorf("2 answers refused for 3 abandons: %d errors, want 0", n)
	}
	bad := callFigures{During: callCounts{Abandoned: 1, TimedOut: 2}, Gone: 3, Busy: 1, NotResp: 2}
	if n := callErrors(&bad); n != 2+2+1+2 {
		t.Errorf("callErrors = %d, want 7 (2 rang out, 2 refusals beyond the abandons, 1 busy, 2 NOT_RESPONDING)", n)
	}
}

// TestCallDriverLeavesBeforeWrapup checks the end of a calls run: an agent
// on a call when the load ends goes off queue before its wrap-up, so the
// call waiting in its queue is not offered to it (a wrap-up makes an agent
// on queue IDLE, and an IDLE agent is offered the next waiting call at
// once).
func TestCallDriverLeavesBeforeWrapup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := popConfig{Agents: 1, Duration: time.Second, Period: time.Second, Heartbeat: time.Second,
		Handle: 400 * time.Millisecond, Ring: 10 * time.Millisecond}
	sim, client := callsSim(ctx, t, c, 1)
	users, err := agent.LoadUsers(ctx, client, 1)
	if err != nil {
		t.Fatal(err)
	}
	var d *callDriver
	nopts := notify.Options{API: client, HeartbeatInterval: c.Heartbeat, PingInterval: -1,
		OnEvent: func(ev notify.Event) { d.onEvent(ev) }}
	pop, err := agent.NewPopulation(agent.Config{API: client, Users: users, Channel: agent.NotifyChannels(nopts)})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	d = newCallDriver(ctx, c, pop.Agents())
	if _, err := openChannels(ctx, pop, 1, true); err != nil {
		t.Fatal(err)
	}
	a := pop.Agents()[0]
	if err := a.GoOnQueue(ctx); err != nil {
		t.Fatal(err)
	}
	drained := func() {
		t.Helper()
		done := make(chan struct{})
		go func() { d.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("the driver did not finish its calls: %v", ctx.Err())
		}
	}

	if _, err := sim.InjectCalls(gcsim.QueueID(0), 1); err != nil {
		t.Fatal(err)
	}
	for d.counters.answered.Load() == 0 && d.counters.failed.Load() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // the first call's offer, ring and answer
	}
	d.endLoad(1) // the agent is on a call: it stays on queue for now
	waiting, err := sim.InjectCalls(gcsim.QueueID(0), 1)
	if err != nil {
		t.Fatal(err)
	}
	drained()
	_, offerErr := a.FindOffer(ctx, waiting[0])
	drained() // the second call too, if it was offered
	if n := d.counters.offers.Load(); n != 1 || offerErr == nil {
		t.Errorf("the agent took %d offers, want 1 (the call that waited must not be offered to it); FindOffer on the waiting call: %v, want an error", n, offerErr)
	}
	if d.counters.handled.Load() != 1 || d.counters.failed.Load() != 0 || d.counters.offq.Load() != 0 {
		t.Errorf("handled %d, failed %d, queue changes failed %d; want 1, 0, 0 (%v)",
			d.counters.handled.Load(), d.counters.failed.Load(), d.counters.offq.Load(), d.firstErr.Load())
	}
	if st, err := a.RoutingStatus(ctx); err != nil || st != agent.RoutingOffQueue {
		t.Errorf("routing status after the load %q, %v; want OFF_QUEUE", st, err)
	}
}

func TestCallerGone(t *testing.T) {
	gone := &api.StatusError{Response: &api.Response{Status: 400, Body: []byte(`{"message":"gcsim: participant 1 is disconnected"}`)}}
	other := &api.StatusError{Response: &api.Response{Status: 400, Body: []byte(`{"message":"state \"x\": the simulator takes connected"}`)}}
	server := &api.StatusError{Response: &api.Response{Status: 500, Body: []byte(`participant 1 is disconnected`)}}
	if !callerGone(gone) || callerGone(other) || callerGone(server) || callerGone(context.Canceled) {
		t.Errorf("callerGone: disconnected 400 %v, other 400 %v, 500 %v, canceled %v; want true, false, false, false",
			callerGone(gone), callerGone(other), callerGone(server), callerGone(context.Canceled))
	}
}

// callsSim starts the simulator in-process for c's agents with queues
// queues and no traffic (tests inject the calls), and an API client on it.
func callsSim(ctx context.Context, t *testing.T, c popConfig, queues int) (*gcsim.Server, *api.Client) {
	t.Helper()
	p := popProfile(c)
	p.Directory.Queues = queues
	sim := gcsim.NewServer(p)
	t.Cleanup(sim.Close)
	tg, err := harness.Open(ctx, harness.WithName("calls"), harness.WithProfile(p),
		harness.WithGetenv(func(k string) string { return map[string]string{harness.EnvSimURL: sim.URL()}[k] }),
		harness.WithLogf(t.Logf))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	pool, err := tg.Pool(auth.Config{Policy: auth.PerClient, TokensPerClient: 1})
	if err != nil {
		t.Fatal(err)
	}
	client, err := tg.Client(api.Config{Tokens: pool, Recorder: tg.NewRecorder(), Agents: 1})
	if err != nil {
		t.Fatal(err)
	}
	return sim, client
}

// TestSupervisorOutlivesOpening checks that the supervisor's channels live
// on when the context that bounded their opening ends (the run opens them
// under a 3-minute opening timeout and uses them for the whole load).
func TestSupervisorOutlivesOpening(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := popConfig{Agents: 1, Heartbeat: time.Second}
	sim, client := callsSim(ctx, t, c, gcsim.DefaultQueues)
	sup := &supervisor{calls: map[string]*supCall{}}
	openCtx, endOpening := context.WithCancel(ctx)
	sc, err := openSupervisor(openCtx, client, c, sup)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	endOpening()
	ids, err := sim.InjectCalls(gcsim.QueueID(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	for wait.Err() == nil {
		sup.mu.Lock()
		seen := sup.calls[ids[0]] != nil
		sup.mu.Unlock()
		if seen {
			return
		}
		time.Sleep(5 * time.Millisecond) // the call's event on its queue's channel
	}
	t.Fatalf("the supervisor never saw call %s once its opening context ended (%v)", ids[0], sc.col.Stats())
}
