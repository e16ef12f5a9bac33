package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestPopulationCalls runs -population -calls end to end, tiny: 20 agents
// (one per queue) take 2 calls a second for 4 s, in child processes. Every
// call the supervisor saw answered was handled by an agent, every request
// succeeded, no offer rang out, no event was lost, and every agent is idle
// at the end.
func TestPopulationCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two child processes for a few seconds; skipped with -short")
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-population", "20", "-calls", "2", "-population-duration", "4s", "-population-handle", "1s",
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
	if ops["presence.set"].Count != 2*20 {
		t.Errorf("presence.set sent %d times, want 40 (On Queue, then off queue, for each agent)", ops["presence.set"].Count)
	}
	if f.Busy != 0 || f.During.TimedOut != 0 || f.NotResp != 0 || f.Failed != 0 {
		t.Errorf("busy at the end %d, rang out %d, NOT_RESPONDING %d, failed %d; want none", f.Busy, f.During.TimedOut, f.NotResp, f.Failed)
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
