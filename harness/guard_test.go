package harness_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestInWindow(t *testing.T) {
	dublin := mustZone(t, "Europe/Dublin")
	tokyo := mustZone(t, "Asia/Tokyo")
	for _, tc := range []struct {
		utc  string
		loc  *time.Location
		open bool
	}{
		{"2026-11-26T23:00:00Z", dublin, true},  // 23:00 Dublin (UTC+0 in winter): opens
		{"2026-11-26T22:59:00Z", dublin, false}, // a minute early
		{"2026-11-27T04:59:00Z", dublin, true},  // last minute
		{"2026-11-27T05:00:00Z", dublin, false}, // closed at 05:00
		{"2026-07-01T22:30:00Z", dublin, true},  // 23:30 Dublin summer time (UTC+1)
		{"2026-07-01T04:30:00Z", dublin, false}, // 05:30 Dublin summer time
		{"2026-11-26T15:00:00Z", tokyo, true},   // 00:00 Tokyo
		{"2026-11-26T12:00:00Z", tokyo, false},  // 21:00 Tokyo
	} {
		now, _ := time.Parse(time.RFC3339, tc.utc)
		err := harness.InWindow(now, tc.loc)
		if (err == nil) != tc.open {
			t.Errorf("InWindow(%s, %s) = %v, want open=%v", tc.utc, tc.loc, err, tc.open)
		}
		if err != nil && !strings.Contains(err.Error(), tc.loc.String()) {
			t.Errorf("error %q does not name the zone", err)
		}
	}
}

// fakeClock is an injected clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func night(t testing.TB) *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 23, 30, 0, 0, mustZone(t, "Europe/Dublin"))}
}
func guardConfig(t testing.TB) harness.GuardConfig {
	return harness.GuardConfig{Approval: "CS-1", Budget: 1000, Abort429Rate: 0.05, Abort5xxRate: 0.02, AbortAfter: 10 * time.Second, Location: mustZone(t, "Europe/Dublin")}
}

func TestGuardCheck(t *testing.T) {
	day := &fakeClock{t: time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name  string
		cfg   func(*harness.GuardConfig)
		clock *fakeClock
		want  string
	}{
		{"ok at night", func(*harness.GuardConfig) {}, night(t), ""},
		{"no approval", func(g *harness.GuardConfig) { g.Approval = "" }, night(t), "CXLOAD_APPROVAL"},
		{"no budget", func(g *harness.GuardConfig) { g.Budget = 0 }, night(t), "CXLOAD_REQUEST_BUDGET"},
		{"daytime", func(*harness.GuardConfig) {}, day, "outside the load-test window"},
		{"daytime allowed", func(g *harness.GuardConfig) { g.AllowOutsideWindow = true }, day, ""},
	} {
		cfg := guardConfig(t)
		tc.cfg(&cfg)
		err := harness.NewGuard(cfg, tc.clock.now, nil).Check()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Check = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestGuardStartPlan(t *testing.T) {
	var logs []string
	logf := func(f string, a ...any) { logs = append(logs, f) }
	g := harness.NewGuard(guardConfig(t), night(t).now, logf)
	defer g.Close()
	err := g.Start(harness.Plan{Agents: 10, Rate: 5, Duration: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "about 18000 requests, over the budget of 1000") {
		t.Errorf("Start over budget = %v", err)
	}
	if err := g.Start(harness.Plan{Agents: 10, Rate: 5, Duration: 3 * time.Minute}); err != nil {
		t.Errorf("Start within budget = %v", err)
	}
	if len(logs) != 2 {
		t.Errorf("plan printed %d times, want 2", len(logs))
	}
}

// TestGuardRefusalNamesSizing checks that an over-budget refusal names what
// sizes the plan: its rate and duration by default, the plan's Sizing knobs
// when it has them (a rate and duration that do not size it would be a fix
// that changes nothing).
func TestGuardRefusalNamesSizing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         harness.Plan
		want, not string
	}{
		// Sized by rate × duration: lower those.
		{"rate and duration", harness.Plan{Agents: 1, Rate: 5, Duration: time.Hour}, "lower the rate or duration, run fewer scenarios, or raise the budget", ""},
		// Sized by its own knob: name it, not the rate.
		{"sizing knob", harness.Plan{Agents: 1, Rate: 50, Duration: time.Minute, Requests: 9068, Sizing: "CXLOAD_PROBE_MAX=1000 (each probe of a route family costs a request; 9 families)"},
			"lower CXLOAD_PROBE_MAX=1000 (each probe of a route family costs a request; 9 families), run fewer scenarios, or raise the budget", "rate or duration"},
	} {
		g := harness.NewGuard(guardConfig(t), night(t).now, func(string, ...any) {})
		err := g.Start(tc.p)
		g.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.not != "" && strings.Contains(err.Error(), tc.not) {
			t.Errorf("%s: Start = %v, want it to say %q and not %q", tc.name, err, tc.want, tc.not)
		}
	}
}

// TestPlanStringPlural checks the plan line's agent count reads right for one.
func TestPlanStringPlural(t *testing.T) {
	for _, tc := range []struct {
		agents int
		want   string
	}{{0, "plan: 0 agents,"}, {1, "plan: 1 agent,"}, {2, "plan: 2 agents,"}} {
		if got := (harness.Plan{Agents: tc.agents}).String(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Plan{Agents: %d}.String() = %q, want prefix %q", tc.agents, got, tc.want)
		}
	}
}

func TestPlanEstimate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    harness.Plan
		want int64
	}{
		{"rate × duration", harness.Plan{Rate: 5, Duration: time.Hour}, 18000},
		{"rounded to the nearest request", harness.Plan{Rate: 0.5, Duration: 3 * time.Second}, 2},
		{"requests win", harness.Plan{Rate: 1e300, Duration: time.Hour, Requests: 7}, 7},
		{"negative requests: rate × duration", harness.Plan{Rate: 1, Duration: 10 * time.Second, Requests: -1}, 10},
		// beyond int64 the estimate saturates; it used to wrap to −9.2×10¹⁸
		{"1e300 req/s saturates", harness.Plan{Rate: 1e300, Duration: time.Hour}, math.MaxInt64},
		{"just past int64 saturates", harness.Plan{Rate: 1e10, Duration: 1e9 * time.Second}, math.MaxInt64},
		{"infinite rate saturates", harness.Plan{Rate: math.Inf(1), Duration: time.Nanosecond}, math.MaxInt64},
		{"largest plan", harness.Plan{Rate: math.MaxFloat64, Duration: math.MaxInt64}, math.MaxInt64},
		// nonsense counts as no request, never as a negative or positive count
		{"NaN rate", harness.Plan{Rate: math.NaN(), Duration: time.Hour}, 0},
		{"infinite rate, no time", harness.Plan{Rate: math.Inf(1)}, 0},
		{"negative rate", harness.Plan{Rate: -5, Duration: time.Hour}, 0},
		{"negative rate and duration", harness.Plan{Rate: -5, Duration: -time.Hour}, 0},
	} {
		if got := tc.p.Estimate(); got != tc.want {
			t.Errorf("%s: %+v.Estimate() = %d, want %d", tc.name, tc.p, got, tc.want)
		}
	}
}

// Start refuses a plan over the bounds of a run or with a nonsense number
// before a single request: a tenant run never reaches the token endpoint.
func TestGuardStartRefusesAbsurdPlans(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    harness.Plan
		want string
	}{
		{"rate 1e300", harness.Plan{Agents: 10, Rate: 1e300, Duration: time.Hour}, "harness.MaxRate"},
		{"NaN rate", harness.Plan{Agents: 10, Rate: math.NaN(), Duration: time.Hour}, "rate NaN"},
		{"infinite rate", harness.Plan{Agents: 10, Rate: math.Inf(1), Duration: time.Hour}, "harness.MaxRate"},
		{"negative rate", harness.Plan{Agents: 10, Rate: -1, Duration: time.Hour}, "rate -1"},
		{"agents over the bound", harness.Plan{Agents: harness.MaxAgents + 1, Rate: 1, Duration: time.Second}, "harness.MaxAgents"},
		{"negative agents", harness.Plan{Agents: -1, Rate: 1, Duration: time.Second}, "-1 agents"},
		{"duration over the bound", harness.Plan{Agents: 1, Rate: 1e-9, Duration: harness.MaxDuration + 1}, "harness.MaxDuration"},
		{"negative requests", harness.Plan{Agents: 1, Requests: -1}, "-1 requests"},
		// within every bound but over the budget of 1000
		{"the largest plan", harness.Plan{Agents: harness.MaxAgents, Rate: harness.MaxRate, Duration: harness.MaxDuration},
			"about 86400000000 requests, over the budget of 1000"},
	} {
		g := harness.NewGuard(guardConfig(t), night(t).now, nil)
		if err := g.Start(tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Start(%+v) = %v, want an error naming %q", tc.name, tc.p, err, tc.want)
		}
		g.Close()
	}
}

func TestGuardBudget(t *testing.T) {
	cfg := guardConfig(t)
	cfg.Budget = 3
	g := harness.NewGuard(cfg, night(t).now, nil)
	defer g.Close()
	for i := range 3 {
		if err := g.Admit(); err != nil {
			t.Fatalf("Admit %d = %v", i, err)
		}
	}
	err := g.Admit()
	if !errors.Is(err, harness.ErrStopped) || !strings.Contains(err.Error(), "request budget spent: 3 requests of 3") {
		t.Errorf("4th Admit = %v", err)
	}
	if g.Verdict() == "" || g.Context().Err() == nil || g.Used() != 3 {
		t.Errorf("Verdict %q, ctx %v, used %d", g.Verdict(), g.Context().Err(), g.Used())
	}
}

// The guard aborts only when the share stays above the threshold for AbortAfter.
func TestGuardAbortRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern func(sec int) (n, bad int) // attempts and bad ones per second
		status  int
		stopAt  int // second at which the verdict appears; -1 never
		want    string
	}{
		{"429 sustained", func(int) (int, int) { return 20, 5 }, 429, 10, "429 Too Many Requests above 5.0%"},
		{"5xx sustained", func(int) (int, int) { return 20, 1 }, 503, 10, "5xx server errors above 2.0%"},
		{"429 below threshold", func(int) (int, int) { return 100, 5 }, 429, -1, ""},
		{"429 intermittent", func(s int) (int, int) { return 20, 5 * (s % 2) }, 429, -1, ""},
		{"slow run judged over longer spans", func(int) (int, int) { return 1, 1 }, 429, 10, "429 Too Many Requests above 5.0%"},
		{"slow run, some 429s", func(s int) (int, int) { return 1, btoi(s%30 == 0) }, 429, -1, ""},
		// A burst of 429s, then the client waits out Retry-After in silence
		// and its next request passes: the silence is not 29 s above the
		// threshold.
		{"429 burst, then silence", func(s int) (int, int) {
			if s == 0 {
				return 20, 20
			}
			return 20 * btoi(s == 29), 0
		}, 429, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := night(t)
			g := harness.NewGuard(guardConfig(t), clk.now, nil)
			defer g.Close()
			stopped := -1
			for sec := 0; sec < 30 && stopped < 0; sec++ {
				n, bad := tc.pattern(sec)
				for i := range n {
					clk.t = night(t).t.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Second/time.Duration(n))
					st := 200
					if i < bad {
						st = tc.status
					}
					g.Done(st)
					if g.Verdict() != "" {
						stopped = sec
						break
					}
				}
			}
			if stopped != tc.stopAt || !strings.Contains(g.Verdict(), tc.want) {
				t.Errorf("stopped at second %d with %q; want %d, %q", stopped, g.Verdict(), tc.stopAt, tc.want)
			}
			if tc.stopAt >= 0 && !errors.Is(g.Admit(), harness.ErrStopped) {
				t.Errorf("Admit after stop did not refuse")
			}
		})
	}
}

// A run that reaches 05:00 region time is stopped.
func TestGuardWindowCloses(t *testing.T) {
	clk := night(t) // 23:30 Dublin
	g := harness.NewGuard(guardConfig(t), clk.now, nil)
	defer g.Close()
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	clk.add(5*time.Hour + 29*time.Minute) // 04:59
	if err := g.Admit(); err != nil {
		t.Fatalf("Admit at 04:59 = %v", err)
	}
	clk.add(time.Minute) // 05:00
	err := g.Admit()
	if !errors.Is(err, harness.ErrStopped) || !strings.Contains(err.Error(), "window closed at 05:00 Europe/Dublin") {
		t.Errorf("Admit at 05:00 = %v", err)
	}
}

func TestWindowCloses(t *testing.T) {
	dublin := mustZone(t, "Europe/Dublin")
	for _, tc := range []struct{ now, want string }{
		{"2026-11-26T23:30:00Z", "2026-11-27T05:00:00Z"},
		{"2026-11-27T02:00:00Z", "2026-11-27T05:00:00Z"},
		{"2026-03-28T23:30:00Z", "2026-03-29T04:00:00Z"}, // clocks go forward that night: 05:00 IST = 04:00 UTC
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		if got := harness.WindowCloses(now, dublin).UTC().Format(time.RFC3339); got != tc.want {
			t.Errorf("WindowCloses(%s) = %s, want %s", tc.now, got, tc.want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
