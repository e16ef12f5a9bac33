package workload_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/harness/workload"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// log collects the iterations of a run, safe for concurrent use.
type log struct {
	mu    sync.Mutex
	start time.Time
	its   []workload.Iteration
}

func newLog() *log { return &log{start: time.Now()} }

func (l *log) add(it workload.Iteration) {
	l.mu.Lock()
	l.its = append(l.its, it)
	l.mu.Unlock()
}

// work returns an IterFunc that logs each iteration and then takes d, or
// returns early with ctx's error when canceled.
func (l *log) work(d time.Duration) workload.IterFunc {
	return func(ctx context.Context, it workload.Iteration) error {
		l.add(it)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// offsets returns the intended starts relative to the log's start, sorted.
func (l *log) offsets() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]time.Duration, len(l.its))
	for i, it := range l.its {
		out[i] = it.Intended.Sub(l.start)
	}
	slices.Sort(out)
	return out
}

func (l *log) agents() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, it := range l.its {
		if !slices.Contains(out, it.Agent) {
			out = append(out, it.Agent)
		}
	}
	slices.Sort(out)
	return out
}

func checkStats(tb testing.TB, got, want workload.Stats) {
	tb.Helper()
	if got != want {
		tb.Errorf("stats:\n got %v\nwant %v", got, want)
	}
}

func TestOpenCounts(t *testing.T) {
	tests := []struct {
		name    string
		open    workload.Open
		service time.Duration
		want    workload.Stats
	}{
		{
			name: "10/s for 10s, agents keep up",
			open: workload.Open{Pacer: workload.ConstantPacer{Freq: 10, Duration: 10 * time.Second}, Agents: 5},
			// The last arrival is at 9.9s and ends at 10s.
			service: 100 * time.Millisecond,
			want:    workload.Stats{Arrivals: 100, Started: 100, Completed: 100, Reason: workload.StopPacer, Issuing: 9900 * time.Millisecond, Elapsed: 10 * time.Second},
		},
		{
			name: "one busy agent: arrivals are dropped, not delayed",
			open: workload.Open{Pacer: workload.ConstantPacer{Freq: 10, Duration: 10 * time.Second}, Agents: 1},
			// Busy 250ms from each accepted arrival: of 0, 100, 200, 300ms… only
			// every third (0, 300, 600…9900ms) finds the agent idle.
			service: 250 * time.Millisecond,
			want:    workload.Stats{Arrivals: 100, Started: 34, Dropped: 66, Completed: 34, Reason: workload.StopPacer, Issuing: 9900 * time.Millisecond, Elapsed: 10150 * time.Millisecond},
		},
		{
			name:    "max iterations",
			open:    workload.Open{Pacer: workload.ConstantPacer{Freq: 100}, Agents: 10, MaxIterations: 25},
			service: 10 * time.Millisecond,
			want:    workload.Stats{Arrivals: 25, Started: 25, Completed: 25, Reason: workload.StopIterations, Issuing: 240 * time.Millisecond, Elapsed: 250 * time.Millisecond},
		},
		{
			name:    "max duration",
			open:    workload.Open{Pacer: workload.ConstantPacer{Freq: 10}, Agents: 2, MaxDuration: time.Second},
			service: 50 * time.Millisecond,
			want:    workload.Stats{Arrivals: 10, Started: 10, Completed: 10, Reason: workload.StopDuration, Issuing: time.Second, Elapsed: time.Second},
		},
		{
			name: "k6 stages",
			open: workload.Open{Pacer: mustStages(t, 0, workload.Stage{Duration: 10 * time.Second, Target: 50}, workload.Stage{Duration: 30 * time.Second, Target: 50}, workload.Stage{Duration: 5 * time.Second, Target: 0}), Agents: 3},
			// At 50/s arrivals are 20ms apart: never more than one in flight.
			service: 15 * time.Millisecond,
			want:    workload.Stats{Arrivals: 1875, Started: 1875, Completed: 1875, Reason: workload.StopPacer},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLog()
				got, err := tt.open.Run(t.Context(), l.work(tt.service))
				if err != nil {
					t.Fatal(err)
				}
				if tt.want.Issuing == 0 { // not worth computing by hand
					got.Issuing, got.Elapsed = 0, 0
				}
				checkStats(t, got, tt.want)
				if n := len(l.its); uint64(n) != got.Started {
					t.Errorf("the IterFunc ran %d times, Started = %d", n, got.Started)
				}
				for _, it := range l.its {
					if !it.Start.Equal(it.Intended) {
						t.Fatalf("iteration %d started at %v, intended %v: the fake clock leaves no delay", it.N, it.Start.Sub(l.start), it.Intended.Sub(l.start))
					}
				}
			})
		})
	}
}

// TestOpenIntended checks that each iteration carries the pacer's due time.
func TestOpenIntended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStages(t, 0, workload.Stage{Duration: 10 * time.Second, Target: 10})
		l := newLog()
		o := workload.Open{Pacer: p, Agents: 4}
		if _, err := o.Run(t.Context(), l.work(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if got, want := l.offsets(), simulate(t, p, 1000); !slices.Equal(got, want) {
			t.Errorf("intended starts %v,\nwant the pacer's %v", got, want)
		}
	})
}

// TestOpenOnDrop checks that every drop is reported with its intended time.
func TestOpenOnDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var dropped []time.Duration
		o := workload.Open{
			Pacer:  workload.ConstantPacer{Freq: 10, Duration: time.Second},
			Agents: 1,
			OnDrop: func(it workload.Iteration) { dropped = append(dropped, it.Intended.Sub(start)) },
		}
		st, err := o.Run(t.Context(), newLog().work(450*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{100, 200, 300, 400, 600, 700, 800, 900}
		for i := range want {
			want[i] *= time.Millisecond
		}
		if !slices.Equal(dropped, want) || st.Dropped != uint64(len(want)) {
			t.Errorf("dropped at %v (Dropped = %d), want %v", dropped, st.Dropped, want)
		}
	})
}

func TestGracefulStop(t *testing.T) {
	tests := []struct {
		name    string
		grace   time.Duration
		service time.Duration
		want    workload.Stats // closed: 1 agent, MaxDuration 1s
		openEnd time.Duration  // open: its one arrival is at 0s and the pacer stops there
	}{
		{"finishes within the bound", 5 * time.Second, 3 * time.Second,
			workload.Stats{Arrivals: 1, Started: 1, Completed: 1, Reason: workload.StopPacer, Issuing: time.Second, Elapsed: 3 * time.Second}, 3 * time.Second},
		{"canceled at the bound", 5 * time.Second, time.Hour,
			workload.Stats{Arrivals: 1, Started: 1, Errors: 1, Interrupted: 1, Reason: workload.StopPacer, Issuing: time.Second, Elapsed: 6 * time.Second}, 5 * time.Second},
		{"negative: canceled at once", -1, time.Hour,
			workload.Stats{Arrivals: 1, Started: 1, Errors: 1, Interrupted: 1, Reason: workload.StopPacer, Issuing: time.Second, Elapsed: time.Second}, 0},
		{"zero: the default bound", 0, time.Hour,
			workload.Stats{Arrivals: 1, Started: 1, Errors: 1, Interrupted: 1, Reason: workload.StopPacer, Issuing: time.Second, Elapsed: time.Second + workload.DefaultGracefulStop}, workload.DefaultGracefulStop},
	}
	for _, tt := range tests {
		t.Run("open/"+tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := workload.Open{Pacer: workload.ConstantPacer{Freq: 1, Duration: time.Second}, Agents: 1, GracefulStop: tt.grace}
				got, err := o.Run(t.Context(), newLog().work(tt.service))
				if err != nil {
					t.Fatal(err)
				}
				want := tt.want
				want.Issuing, want.Elapsed = 0, tt.openEnd
				checkStats(t, got, want)
			})
		})
		t.Run("closed/"+tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := workload.Closed{Agents: 1, MaxDuration: time.Second, GracefulStop: tt.grace}
				got, err := c.Run(t.Context(), newLog().work(tt.service))
				if err != nil {
					t.Fatal(err)
				}
				want := tt.want
				want.Reason = workload.StopDuration
				checkStats(t, got, want)
			})
		})
	}
}

func TestContextCancel(t *testing.T) {
	for _, name := range []string{"open", "closed"} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(2500*time.Millisecond, cancel)
				l := newLog()
				var (
					st  workload.Stats
					err error
				)
				// 3 agents, each iteration takes 1s and none may end on its own
				// after the cancel: the grace period must not apply.
				if name == "open" {
					o := workload.Open{Pacer: workload.ConstantPacer{Freq: 2}, Agents: 3, GracefulStop: time.Minute}
					st, err = o.Run(ctx, l.work(time.Second))
				} else {
					c := workload.Closed{Agents: 3, GracefulStop: time.Minute}
					st, err = c.Run(ctx, l.work(time.Second))
				}
				if err != nil {
					t.Fatal(err)
				}
				if st.Reason != workload.StopCanceled || st.Elapsed != 2500*time.Millisecond || st.Issuing != 2500*time.Millisecond {
					t.Errorf("stats %v, want reason canceled, issuing and elapsed 2.5s", st)
				}
				if st.Interrupted == 0 || st.Completed+st.Interrupted != st.Started {
					t.Errorf("stats %v: want the in-flight iterations interrupted and every start accounted for", st)
				}
			})
		})
	}
}

func TestClosedCounts(t *testing.T) {
	tests := []struct {
		name    string
		closed  workload.Closed
		service time.Duration
		want    workload.Stats
	}{
		{
			name: "3 agents, 1s think, 10s",
			// Each agent starts at 0, 1.3, 2.6 … 9.1s: 8 iterations.
			closed:  workload.Closed{Agents: 3, Think: workload.ConstantThink(time.Second), MaxDuration: 10 * time.Second},
			service: 300 * time.Millisecond,
			want:    workload.Stats{Arrivals: 24, Started: 24, Completed: 24, Reason: workload.StopDuration, Issuing: 10 * time.Second, Elapsed: 10 * time.Second},
		},
		{
			name: "max iterations",
			// 4 start at 0s, 4 at 1s, 2 at 2s.
			closed:  workload.Closed{Agents: 4, MaxIterations: 10},
			service: time.Second,
			want:    workload.Stats{Arrivals: 10, Started: 10, Completed: 10, Reason: workload.StopIterations, Issuing: 2 * time.Second, Elapsed: 3 * time.Second},
		},
		{
			name: "max iterations ends the run when the last one starts",
			// Not an hour later, when the agent would come back from thinking.
			closed:  workload.Closed{Agents: 1, MaxIterations: 1, Think: workload.ConstantThink(time.Hour)},
			service: time.Second,
			want:    workload.Stats{Arrivals: 1, Started: 1, Completed: 1, Reason: workload.StopIterations, Issuing: 0, Elapsed: time.Second},
		},
		{
			name: "ramp up, hold, down",
			// Agent k is active from k+1 s to 29−k s and starts an iteration
			// every 0.5 s: 56−4k iterations; 380 for k = 0…9. All are inactive
			// after 29 s, so the run ends when the ramp does.
			closed: workload.Closed{Agents: 10, Think: workload.ConstantThink(400 * time.Millisecond),
				Ramp: &workload.Ramp{Stages: []workload.Stage{{10 * time.Second, 10}, {10 * time.Second, 10}, {10 * time.Second, 0}}}},
			service: 100 * time.Millisecond,
			want:    workload.Stats{Arrivals: 380, Started: 380, Completed: 380, Reason: workload.StopAgents, Issuing: 29 * time.Second, Elapsed: 29 * time.Second},
		},
		{
			name: "ramp capped by the population",
			// The ramp asks for 10 agents, there are 2: 10 iterations each in 5s.
			closed:  workload.Closed{Agents: 2, Ramp: &workload.Ramp{Start: 10, Stages: []workload.Stage{{5 * time.Second, 10}}}},
			service: 500 * time.Millisecond,
			want:    workload.Stats{Arrivals: 20, Started: 20, Completed: 20, Reason: workload.StopPacer, Issuing: 5 * time.Second, Elapsed: 5 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLog()
				got, err := tt.closed.Run(t.Context(), l.work(tt.service))
				if err != nil {
					t.Fatal(err)
				}
				checkStats(t, got, tt.want)
			})
		})
	}
}

// TestGracefulRampDown: agents deactivated by the ramp finish their
// iteration within GracefulRampDown, or are canceled at its end.
func TestGracefulRampDown(t *testing.T) {
	// Two agents active for 10s, then none for 5s.
	ramp := &workload.Ramp{Start: 2, Stages: []workload.Stage{{10 * time.Second, 2}, {0, 0}, {5 * time.Second, 0}}}
	tests := []struct {
		name     string
		rampDown time.Duration
		service  time.Duration
		want     workload.Stats
	}{
		{"finishes within the bound", 3 * time.Second, 11 * time.Second,
			workload.Stats{Arrivals: 2, Started: 2, Completed: 2, Reason: workload.StopAgents, Issuing: 11 * time.Second, Elapsed: 11 * time.Second}},
		{"canceled at the bound", 3 * time.Second, time.Hour,
			workload.Stats{Arrivals: 2, Started: 2, Errors: 2, Interrupted: 2, Reason: workload.StopAgents, Issuing: 13 * time.Second, Elapsed: 13 * time.Second}},
		{"negative: canceled when the window ends", -1, time.Hour,
			workload.Stats{Arrivals: 2, Started: 2, Errors: 2, Interrupted: 2, Reason: workload.StopAgents, Issuing: 10 * time.Second, Elapsed: 10 * time.Second}},
		{"the run's end bounds it too", time.Minute, time.Hour,
			// The ramp ends at 15s; GracefulStop (2s) then cancels at 17s.
			workload.Stats{Arrivals: 2, Started: 2, Errors: 2, Interrupted: 2, Reason: workload.StopPacer, Issuing: 15 * time.Second, Elapsed: 17 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := workload.Closed{Agents: 2, Ramp: ramp, GracefulRampDown: tt.rampDown, GracefulStop: 2 * time.Second}
				got, err := c.Run(t.Context(), newLog().work(tt.service))
				if err != nil {
					t.Fatal(err)
				}
				checkStats(t, got, tt.want)
			})
		})
	}
}

// TestClosedRampActive samples the number of active agents along a ramp and
// checks each agent's first start against its activation time.
func TestClosedRampActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var active atomic.Int64
		c := &workload.Closed{Agents: 10, Active: &active, Think: workload.ConstantThink(400 * time.Millisecond),
			Ramp: &workload.Ramp{Stages: []workload.Stage{{10 * time.Second, 10}, {10 * time.Second, 10}, {10 * time.Second, 0}}}}
		l := newLog()
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := c.Run(t.Context(), l.work(100*time.Millisecond)); err != nil {
				t.Error(err)
			}
		}()
		// Sample at x.25 s, off every boundary. The ramp's value at t rounds
		// down to the active count on the way up, and stays above it on the way down.
		want := map[time.Duration]int{250 * time.Millisecond: 0, 3250 * time.Millisecond: 3, 9250 * time.Millisecond: 9,
			15250 * time.Millisecond: 10, 21250 * time.Millisecond: 8, 28250 * time.Millisecond: 1}
		var at time.Duration
		for _, s := range slices.Sorted(maps.Keys(want)) {
			time.Sleep(s - at)
			at = s
			synctest.Wait()
			if got := active.Load(); got != int64(want[s]) {
				t.Errorf("Active() at %v = %d, want %d", s, got, want[s])
			}
		}
		<-done
		first := map[int]time.Duration{}
		for _, it := range l.its {
			if _, ok := first[it.Agent]; !ok {
				first[it.Agent] = it.Start.Sub(l.start)
			}
		}
		for k := range 10 {
			if want := time.Duration(k+1) * time.Second; first[k] != want {
				t.Errorf("agent %d first started at %v, want %v", k, first[k], want)
			}
		}
	})
}

// TestShardedExecutors: shards 1/4 … 4/4 of a run, each run on its own,
// together start exactly the iterations of one unsharded run, at the same
// intended times, with the same set of agents.
func TestShardedExecutors(t *testing.T) {
	pacer := mustStages(t, 0, workload.Stage{Duration: 4 * time.Second, Target: 40}, workload.Stage{Duration: 4 * time.Second, Target: 40}, workload.Stage{Duration: 2 * time.Second, Target: 0})
	type run func(t *testing.T, sh shard.Shard) ([]time.Duration, []int, workload.Stats)
	runs := map[string]run{
		"open": func(t *testing.T, sh shard.Shard) (offs []time.Duration, agents []int, st workload.Stats) {
			synctest.Test(t, func(t *testing.T) {
				l := newLog()
				o := workload.Open{Pacer: pacer, Agents: 20, Shard: sh, MaxIterations: 300}
				var err error
				if st, err = o.Run(t.Context(), l.work(5*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				offs, agents = l.offsets(), l.agents()
			})
			return
		},
		"closed": func(t *testing.T, sh shard.Shard) (offs []time.Duration, agents []int, st workload.Stats) {
			synctest.Test(t, func(t *testing.T) {
				l := newLog()
				c := workload.Closed{Agents: 13, Shard: sh, Think: workload.ConstantThink(time.Second),
					Ramp: &workload.Ramp{Stages: []workload.Stage{{10 * time.Second, 13}}}}
				var err error
				if st, err = c.Run(t.Context(), l.work(250*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				offs, agents = l.offsets(), l.agents()
			})
			return
		},
	}
	for name, r := range runs {
		t.Run(name, func(t *testing.T) {
			wholeOffs, wholeAgents, wholeSt := r(t, shard.Shard{})
			var offs []time.Duration
			var agents []int
			var started uint64
			for i := 1; i <= 4; i++ {
				sh := shard.Shard{Index: i, Count: 4}
				o, a, st := r(t, sh)
				for _, k := range a {
					if !sh.Owns(k) {
						t.Errorf("shard %v ran agent %d, which it does not own", sh, k)
					}
				}
				offs, agents, started = append(offs, o...), append(agents, a...), started+st.Started
			}
			slices.Sort(offs)
			slices.Sort(agents)
			if started != wholeSt.Started || !slices.Equal(offs, wholeOffs) {
				t.Errorf("shards started %d iterations, one run %d; intended times equal: %v", started, wholeSt.Started, slices.Equal(offs, wholeOffs))
			}
			if !slices.Equal(agents, wholeAgents) {
				t.Errorf("shards used agents %v, one run %v", agents, wholeAgents)
			}
		})
	}
}

// TestClosedReproducible: the same seed gives the same run.
func TestClosedReproducible(t *testing.T) {
	var got [2][]time.Duration
	for i := range got {
		synctest.Test(t, func(t *testing.T) {
			l := newLog()
			c := workload.Closed{Agents: 5, Seed: 42, Think: workload.ExponentialThink{Mean: time.Second}, MaxDuration: 20 * time.Second}
			if _, err := c.Run(t.Context(), l.work(100*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			got[i] = l.offsets()
		})
	}
	if len(got[0]) < 50 || !slices.Equal(got[0], got[1]) {
		t.Errorf("two runs with seed 42: %d and %d iterations, equal: %v", len(got[0]), len(got[1]), slices.Equal(got[0], got[1]))
	}
}

func TestExecutorErrors(t *testing.T) {
	noop := func(context.Context, workload.Iteration) error { return nil }
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"open without pacer", func() error { _, err := (&workload.Open{Agents: 1}).Run(context.Background(), noop); return err }, "Open.Pacer is nil"},
		{"open without agents", func() error {
			_, err := (&workload.Open{Pacer: workload.ConstantPacer{Freq: 1}}).Run(context.Background(), noop)
			return err
		}, "Open.Agents = 0"},
		{"open bad shard", func() error {
			_, err := (&workload.Open{Pacer: workload.ConstantPacer{Freq: 1}, Agents: 1, Shard: shard.Shard{Index: 5, Count: 4}}).Run(context.Background(), noop)
			return err
		}, "shard 5/4"},
		{"open unshardable pacer", func() error {
			_, err := (&workload.Open{Pacer: paceOnly{}, Agents: 1, Shard: shard.Shard{Index: 1, Count: 2}}).Run(context.Background(), noop)
			return err
		}, "cannot be sharded"},
		{"open nil func", func() error {
			_, err := (&workload.Open{Pacer: workload.ConstantPacer{Freq: 1}, Agents: 1}).Run(context.Background(), nil)
			return err
		}, "nil IterFunc"},
		{"closed without agents", func() error { _, err := (&workload.Closed{}).Run(context.Background(), noop); return err }, "Closed.Agents = 0"},
		{"closed bad ramp", func() error {
			_, err := (&workload.Closed{Agents: 1, Ramp: &workload.Ramp{Start: -1}}).Run(context.Background(), noop)
			return err
		}, "Closed.Ramp"},
	}
	for _, tt := range tests {
		err := tt.run()
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "workload: ") {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

type paceOnly struct{}

func (paceOnly) Pace(time.Duration, uint64) (time.Duration, bool) { return 0, true }
func (paceOnly) Rate(time.Duration) float64                       { return 0 }

// TestIterationErrorsCounted: an error does not stop the run.
func TestIterationErrorsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		o := workload.Open{Pacer: workload.ConstantPacer{Freq: 10, Duration: time.Second}, Agents: 1}
		st, err := o.Run(t.Context(), func(_ context.Context, it workload.Iteration) error {
			if it.N%2 == 0 {
				return boom
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Started != 10 || st.Errors != 5 || st.Completed != 10 {
			t.Errorf("stats %v, want 10 started and completed, 5 errors", st)
		}
	})
}

// paceOnlyOf hides a Schedule's Due: the executor must pace it by Pace alone.
type paceOnlyOf struct{ p workload.Pacer }

func (w paceOnlyOf) Pace(e time.Duration, h uint64) (time.Duration, bool) { return w.p.Pace(e, h) }
func (w paceOnlyOf) Rate(e time.Duration) float64                         { return w.p.Rate(e) }

// TestOpenPacerWithoutDue: a pacer that is not a Schedule gives the same
// arrivals at the same intended times.
func TestOpenPacerWithoutDue(t *testing.T) {
	p := mustStages(t, 2, workload.Stage{Duration: 5 * time.Second, Target: 20})
	var runs [2][]time.Duration
	for i, pacer := range []workload.Pacer{p, paceOnlyOf{p}} {
		synctest.Test(t, func(t *testing.T) {
			l := newLog()
			o := workload.Open{Pacer: pacer, Agents: 2}
			if _, err := o.Run(t.Context(), l.work(10*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			runs[i] = l.offsets()
		})
	}
	if len(runs[0]) != 55 || !slices.Equal(runs[0], runs[1]) {
		t.Errorf("Schedule: %d arrivals; Pacer only: %d; same times: %v; want 55 and the same", len(runs[0]), len(runs[1]), slices.Equal(runs[0], runs[1]))
	}
}

// TestOpenRoundRobin: arrivals go round the agents in order, skipping the
// busy ones.
func TestOpenRoundRobin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLog()
		// 10/s on 3 agents; arrival 2 keeps agent 2 busy from 200 to 550ms.
		o := workload.Open{Pacer: workload.ConstantPacer{Freq: 10, Duration: time.Second}, Agents: 3}
		_, err := o.Run(t.Context(), func(ctx context.Context, it workload.Iteration) error {
			l.add(it)
			d := 10 * time.Millisecond
			if it.N == 2 {
				d = 350 * time.Millisecond
			}
			time.Sleep(d)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]int, 10)
		for _, it := range l.its {
			got[it.N] = it.Agent
		}
		// Arrival 5 (500ms) would be agent 2's: busy, so agent 0; then on in
		// order from there.
		want := []int{0, 1, 2, 0, 1, 0, 1, 2, 0, 1}
		if !slices.Equal(got, want) {
			t.Errorf("agents by arrival %v, want %v", got, want)
		}
	})
}
