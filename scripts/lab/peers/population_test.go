package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// TestPopulationSmall runs -population end to end, small: 50 agents for
// 2 s, the simulator and the population in child processes (this test
// binary, see TestMain). Every count must add up: each presence change
// due was sent, answered 200, and its event arrived on the agent's
// channel; every channel is open at the end on both sides.
func TestPopulationSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two child processes for a few seconds; skipped with -short")
	}
	const agents = 50
	var stdout, stderr bytes.Buffer
	args := []string{"-population", "50", "-population-duration", "2s", "-population-period", "1s", "-population-heartbeat", "1s", "-json"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run %q: %v\nstderr:\n%s", args, err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}
	if rep.Target != "gcsim" || rep.Population == nil || len(rep.Closed) != 0 {
		t.Fatalf("report target %q, population %v, %d loader rows; want gcsim, a population, no loaders", rep.Target, rep.Population, len(rep.Closed))
	}
	r, l := rep.Population, rep.Population.Load
	if r.Errors != 0 {
		t.Errorf("errors = %d, want 0; load: %+v", r.Errors, l)
	}
	if l.Started != agents || l.ChannelsOpen != agents || l.SimSockets != agents || l.SimChannels != agents {
		t.Errorf("started %d, open at the end %d, simulator sockets %d, channels %d; want %d each",
			l.Started, l.ChannelsOpen, l.SimSockets, l.SimChannels, agents)
	}
	// 50 agents, one request a second each, for 2 s: 100 arrivals.
	if l.Arrivals != 100 || l.Dropped != 0 || l.IterErrors != 0 {
		t.Errorf("arrivals %d, dropped %d, failed %d; want 100, 0, 0 (%s)", l.Arrivals, l.Dropped, l.IterErrors, l.FirstErr)
	}
	ops := map[string]popOp{}
	for _, op := range l.Ops {
		ops[op.Op] = op
		if op.Outcomes["ok"] != op.Count {
			t.Errorf("%s: %d requests, outcomes %v; want all ok", op.Op, op.Count, op.Outcomes)
		}
	}
	set := ops["presence.set"]
	if set.Count != int64(l.Arrivals) {
		t.Errorf("presence.set sent %d, want one per arrival (%d)", set.Count, l.Arrivals)
	}
	if ops["users.list"].Count != 1 {
		t.Errorf("users.list sent %d times, want 1 (50 users fit one page)", ops["users.list"].Count)
	}
	if l.Expected != set.Count || l.Matched != set.Count || l.Events != set.Count || l.Lost != 0 {
		t.Errorf("events %d, expected %d, matched %d, lost %d; want every presence change's event (%d) and nothing lost",
			l.Events, l.Expected, l.Matched, l.Lost, set.Count)
	}
	if l.Connects != agents || l.Drops != 0 || l.Reconnects != 0 || l.Failures != 0 || l.Closes["1000"] != agents {
		t.Errorf("connects %d, drops %d, reconnects %d, failures %d, closes %v; want %d connects closed normally and nothing else",
			l.Connects, l.Drops, l.Reconnects, l.Failures, l.Closes, agents)
	}
	if l.Heartbeats == 0 {
		t.Error("no heartbeat received in 2 s with a 1 s interval")
	}
	if l.Open.Goroutines <= l.Before.Goroutines || l.Open.Heap <= l.Before.Heap || l.PeakGoroutines < l.Open.Goroutines {
		t.Errorf("goroutines before %d, open %d, peak %d; heap before %d, open %d: want growth with the channels open",
			l.Before.Goroutines, l.Open.Goroutines, l.PeakGoroutines, l.Before.Heap, l.Open.Heap)
	}
	if r.LoaderCPU <= 0 || r.SimCPU < 0 || r.LoaderMaxRSS <= 0 || r.SimMaxRSS <= 0 || r.SimRSS == 0 {
		t.Errorf("loader CPU %v, RSS %d; simulator CPU %v, RSS %d, peak %d: want them measured", r.LoaderCPU, r.LoaderMaxRSS, r.SimCPU, r.SimRSS, r.SimMaxRSS)
	}
	if !strings.Contains(stderr.String(), "peers: simulator http://127.0.0.1:") {
		t.Errorf("stderr does not name the simulator: %s", stderr.String())
	}
}

func TestPopulationFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // substring; "" = valid
	}{
		{args: []string{"-population", "10"}},
		{args: []string{"-population", "10", "-population-duration", "5s", "-population-period", "1s", "-population-heartbeat", "2s"}},
		{args: []string{"-population", "-1"}, wantErr: "-population -1: want 1..100000 agents"},
		{args: []string{"-population", "100001"}, wantErr: "-population 100001"},
		{args: []string{"-population", "10", "-population-period", "50ms"}, wantErr: "-population-period 50ms: want 100ms..1h"},
		{args: []string{"-population", "10", "-population-duration", "0s"}, wantErr: "-population-duration 0s"},
		{args: []string{"-population", "10", "-population-heartbeat", "100ms"}, wantErr: "-population-heartbeat 100ms"},
		// Without -population its other flags are not checked (nor used).
		{args: []string{"-population-period", "50ms"}},
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

// TestPopulationChildArgs checks the children's own flag errors.
func TestPopulationChildArgs(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"population", "-agents", "5"}, wantErr: "no -url"},
		{args: []string{"population", "-agents", "0", "-url", "http://127.0.0.1:1"}, wantErr: "-agents 0"},
		{args: []string{"gcsim", "-agents", "5", "extra"}, wantErr: `unexpected arguments ["extra"]`},
		{args: []string{"gcsim", "-agents", "5", "-period", "1ms"}, wantErr: "-period 1ms"},
		{args: []string{"nothing"}, wantErr: `unknown kind "nothing"`},
		{args: nil, wantErr: "missing kind (want target, load, gcsim or population)"},
	}
	for _, tt := range tests {
		err := runChild(context.Background(), tt.args, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("runChild(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
		}
	}
}

// TestPopProfile checks that the simulator's profile is valid and sized
// for the population: a user per agent, a channel per agent under one
// owner, no limit low enough to throttle the run.
func TestPopProfile(t *testing.T) {
	c := popConfig{Agents: 10000, Duration: time.Minute, Period: 10 * time.Second, Heartbeat: 10 * time.Second}
	p := popProfile(c)
	data, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gcsim.ParseProfile(data); err != nil {
		t.Fatalf("popProfile is invalid: %v", err)
	}
	if p.Directory.Agents != c.Agents || p.Notifications.MaxChannelsPerOwner < c.Agents || p.Notifications.HeartbeatInterval.Std() != c.Heartbeat {
		t.Errorf("directory %d agents, %d channels per owner, heartbeat %v; want %d, >= %d, %v",
			p.Directory.Agents, p.Notifications.MaxChannelsPerOwner, p.Notifications.HeartbeatInterval.Std(), c.Agents, c.Agents, c.Heartbeat)
	}
	// The whole run's requests, on one bucket, within one window.
	need := int64(c.rate()*c.Duration.Seconds()) + int64(3*c.Agents)
	for _, l := range p.Limits {
		if !l.Disabled && int64(l.Allowed) < need {
			t.Errorf("limit %s allows %d per %v; the run sends up to %d", l.Key, l.Allowed, l.Window.Std(), need)
		}
	}
}

func TestRaiseNoFile(t *testing.T) {
	n, err := raiseNoFile(16)
	if err != nil || n < 16 {
		t.Fatalf("raiseNoFile(16) = %d, %v; want at least 16", n, err)
	}
	if _, err := raiseNoFile(1 << 62); err == nil || !strings.Contains(err.Error(), "RLIMIT_NOFILE is") || !strings.Contains(err.Error(), "ulimit -Hn") {
		t.Errorf("raiseNoFile(1<<62) = %v, want an error saying the limit and how to raise it", err)
	}
}

func TestCountErrors(t *testing.T) {
	c := popConfig{Agents: 10}
	ok := popLoad{ChannelsOpen: 10, Ops: []popOp{{Op: "presence.set", Count: 5, Outcomes: map[string]int64{"ok": 5}}}}
	tests := []struct {
		name string
		edit func(l *popLoad)
		want int64
	}{
		{"none", func(*popLoad) {}, 0},
		{"throttled and failed", func(l *popLoad) {
			l.Ops = []popOp{{Op: "presence.set", Count: 5, Outcomes: map[string]int64{"ok": 2, "throttled": 1, "server_error": 2}}}
		}, 3},
		{"dropped arrivals", func(l *popLoad) { l.Dropped = 4 }, 4},
		{"channels closed", func(l *popLoad) { l.ChannelsOpen = 7 }, 3},
		{"socket trouble", func(l *popLoad) { l.Drops, l.Failures, l.Lost = 1, 2, 3 }, 6},
	}
	for _, tt := range tests {
		l := ok
		tt.edit(&l)
		if got := countErrors(c, &l); got != tt.want {
			t.Errorf("%s: countErrors = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// samplePopulation is a fixed population report for the golden output.
func samplePopulation() *report {
	return &report{
		Machine: machine{Date: "2026-11-26T20:00:00Z", CPUs: 2, CPU: "Intel(R) Xeon(R) Processor", Go: "go1.26.8 linux/amd64", LoadBefore: "0.50 0.40 0.30", LoadAfter: "1.10 0.60 0.35"},
		Target:  "gcsim", Pinned: true, CPUs: [2]int{0, 1}, Runs: 1, Dur: time.Minute,
		Population: &popResult{
			Config: popConfig{Agents: 10000, Duration: time.Minute, Period: 10 * time.Second, Heartbeat: 10 * time.Second},
			Load: &popLoad{Started: 10000, OpenTime: 4321 * time.Millisecond, ChannelsOpen: 10000, SimSockets: 10000, SimChannels: 10000,
				Ops: []popOp{
					{Op: "presence.definitions", Count: 1, Outcomes: map[string]int64{"ok": 1}, P50: time.Millisecond, P99: time.Millisecond},
					{Op: "presence.set", Count: 60000, Outcomes: map[string]int64{"ok": 59999, "server_error": 1}, P50: 300 * time.Microsecond, P99: 12 * time.Millisecond},
					{Op: "users.list", Count: 100, Outcomes: map[string]int64{"ok": 100}, P50: 2 * time.Millisecond, P99: 5 * time.Millisecond},
				},
				Arrivals: 60000, IterErrors: 1, FirstErr: "agent: agent 7 (Agent 0008): status 500",
				Connects: 10000, Heartbeats: 60000, MaxHeartbeatGap: 10100 * time.Millisecond, Drops: 0, Events: 59999, Expected: 60000, Matched: 59999, Lost: 1,
				PushP50: 400 * time.Microsecond, PushP99: 15 * time.Millisecond, Closes: map[string]int64{"1000": 10000},
				Before:  popMem{Heap: 4 << 20, Stacks: 64 << 10, RSS: 20 << 20, Goroutines: 10},
				Open:    popMem{Heap: 4<<20 + 10000*8192, Stacks: 64<<10 + 10000*4096, RSS: 20<<20 + 10000*20480, Goroutines: 20010},
				End:     popMem{Heap: 4<<20 + 10000*9216, Stacks: 64<<10 + 10000*4096, RSS: 20<<20 + 10000*40960, Goroutines: 20010},
				PeakRSS: 450 << 20, PeakGoroutines: 30010, AfterClose: 8, NoFile: 20000},
			Errors:    2,
			LoaderCPU: 30 * time.Second, LoaderMaxRSS: 450 << 20, LoaderBusy: 0.4,
			SimCPU: 25 * time.Second, SimBusy: 0.33, SimRSS: 300 << 20, SimMaxRSS: 310 << 20, Others: 0.02, Wall: 75 * time.Second,
		},
	}
}

func TestWritePopulationGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := writePopulation(&buf, samplePopulation()); err != nil {
		t.Fatal(err)
	}
	golden(t, "population.golden", buf.Bytes())
}
