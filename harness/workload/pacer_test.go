package workload_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/workload"
)

// simulate runs p over simulated time, as an executor would with a perfect
// clock, and returns the elapsed time of every arrival. It fails tb if p
// does not stop within limit arrivals.
func simulate(tb testing.TB, p workload.Pacer, limit int) []time.Duration {
	tb.Helper()
	var (
		elapsed time.Duration
		at      []time.Duration
	)
	for len(at) < limit {
		wait, stop := p.Pace(elapsed, uint64(len(at)))
		if stop {
			return at
		}
		if wait < 0 {
			tb.Fatalf("Pace(%v, %d) wait = %v, want ≥ 0", elapsed, len(at), wait)
		}
		elapsed += wait
		at = append(at, elapsed)
	}
	tb.Fatalf("%v did not stop within %d arrivals", p, limit)
	return nil
}

// countIn counts the arrivals in [from, to).
func countIn(at []time.Duration, from, to time.Duration) int {
	n := 0
	for _, t := range at {
		if t >= from && t < to {
			n++
		}
	}
	return n
}

func mustStages(tb testing.TB, start float64, stages ...workload.Stage) *workload.StagesPacer {
	tb.Helper()
	p, err := workload.NewStagesPacer(start, stages)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestConstantPacerPace(t *testing.T) {
	tests := []struct {
		name     string
		p        workload.ConstantPacer
		elapsed  time.Duration
		hits     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"first arrival at once", workload.ConstantPacer{Freq: 10}, 0, 0, 0, false},
		{"second waits one period", workload.ConstantPacer{Freq: 10}, 0, 1, 100 * time.Millisecond, false},
		{"part of the period left", workload.ConstantPacer{Freq: 10}, 150 * time.Millisecond, 2, 50 * time.Millisecond, false},
		{"late: due now", workload.ConstantPacer{Freq: 10}, time.Second, 3, 0, false},
		{"per minute", workload.ConstantPacer{Freq: 300, Per: time.Minute}, 0, 1, 200 * time.Millisecond, false},
		{"fractional rate", workload.ConstantPacer{Freq: 0.5}, 0, 1, 2 * time.Second, false},
		{"zero rate stops", workload.ConstantPacer{Freq: 0}, 0, 0, 0, true},
		{"negative rate stops", workload.ConstantPacer{Freq: -1}, 0, 0, 0, true},
		{"last arrival before duration", workload.ConstantPacer{Freq: 10, Duration: time.Second}, 0, 9, 900 * time.Millisecond, false},
		{"arrival at duration does not happen", workload.ConstantPacer{Freq: 10, Duration: time.Second}, 0, 10, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := tt.p.Pace(tt.elapsed, tt.hits)
			if wait != tt.wantWait || stop != tt.wantStop {
				t.Errorf("%v.Pace(%v, %d) = (%v, %v), want (%v, %v)", tt.p, tt.elapsed, tt.hits, wait, stop, tt.wantWait, tt.wantStop)
			}
		})
	}
}

func TestConstantPacerRate(t *testing.T) {
	tests := []struct {
		p       workload.ConstantPacer
		elapsed time.Duration
		want    float64
	}{
		{workload.ConstantPacer{Freq: 10}, 0, 10},
		{workload.ConstantPacer{Freq: 300, Per: time.Minute}, time.Hour, 5},
		{workload.ConstantPacer{Freq: 10, Duration: time.Second}, time.Second, 0},
		{workload.ConstantPacer{Freq: 0}, 0, 0},
	}
	for _, tt := range tests {
		if got := tt.p.Rate(tt.elapsed); got != tt.want {
			t.Errorf("%v.Rate(%v) = %v, want %v", tt.p, tt.elapsed, got, tt.want)
		}
	}
}

func TestStagesPacerPace(t *testing.T) {
	// Rate t per second over 10 s: the area by t is t²/2, so arrival n is
	// due at √(2n) s, and the area at the end is 50.
	ramp := mustStages(t, 0, workload.Stage{Duration: 10 * time.Second, Target: 10})
	// 10/s for 1 s, nothing for 1 s, then 10/s for 1 s.
	gap := mustStages(t, 10,
		workload.Stage{Duration: time.Second, Target: 10},
		workload.Stage{Duration: 0, Target: 0},
		workload.Stage{Duration: time.Second, Target: 0},
		workload.Stage{Duration: 0, Target: 10},
		workload.Stage{Duration: time.Second, Target: 10},
	)
	// Ramp down from 20/s to 0 over 2 s: area 20, arrival n due where
	// 20u − 5u² = n.
	down := mustStages(t, 20, workload.Stage{Duration: 2 * time.Second, Target: 0})
	tests := []struct {
		name     string
		p        workload.Pacer
		elapsed  time.Duration
		hits     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"ramp: first arrival at 0", ramp, 0, 0, 0, false},
		{"ramp: arrival 2 at 2s", ramp, 0, 2, 2 * time.Second, false},
		{"ramp: arrival 8 at 4s, from 1s", ramp, time.Second, 8, 3 * time.Second, false},
		{"ramp: arrival 18 at 6s", ramp, 0, 18, 6 * time.Second, false},
		{"ramp: late arrival is due now", ramp, 7 * time.Second, 18, 0, false},
		{"ramp: arrival 49 is the last", ramp, 0, 49, time.Duration(math.Round(math.Sqrt(98) * 1e9)), false},
		{"ramp: arrival 50 falls at the end: stop", ramp, 0, 50, 0, true},
		{"gap: arrival 9 at 0.9s", gap, 0, 9, 900 * time.Millisecond, false},
		{"gap: arrival 10 at 1s, where the area reaches 10", gap, 0, 10, time.Second, false},
		{"gap: arrival 11 after the pause", gap, time.Second, 11, 1100 * time.Millisecond, false},
		{"gap: arrival 19 at 2.9s", gap, 0, 19, 2900 * time.Millisecond, false},
		{"gap: arrival 20 stops", gap, 0, 20, 0, true},
		{"down: arrival 15 at 1s", down, 0, 15, time.Second, false},
		{"down: arrival 20 stops", down, 0, 20, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := tt.p.Pace(tt.elapsed, tt.hits)
			if wait != tt.wantWait || stop != tt.wantStop {
				t.Errorf("%v.Pace(%v, %d) = (%v, %v), want (%v, %v)", tt.p, tt.elapsed, tt.hits, wait, stop, tt.wantWait, tt.wantStop)
			}
		})
	}
}

func TestStagesPacerRate(t *testing.T) {
	p := mustStages(t, 0,
		workload.Stage{Duration: 10 * time.Second, Target: 50},
		workload.Stage{Duration: 30 * time.Second, Target: 50},
		workload.Stage{Duration: 5 * time.Second, Target: 0},
	)
	tests := []struct {
		elapsed time.Duration
		want    float64
	}{
		{0, 0},
		{5 * time.Second, 25},
		{10 * time.Second, 50},
		{39 * time.Second, 50},
		{42500 * time.Millisecond, 25},
		{45 * time.Second, 0},
		{time.Hour, 0},
	}
	for _, tt := range tests {
		if got := p.Rate(tt.elapsed); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Rate(%v) = %v, want %v", tt.elapsed, got, tt.want)
		}
	}
}

// TestStagesArrivals is the acceptance property: integrating Pace over
// simulated time, ramping arrival stages produce the configured number of
// arrivals (the area under the rate), in total and in every stage, within 1%.
func TestStagesArrivals(t *testing.T) {
	tests := []struct {
		name   string
		start  float64
		stages []workload.Stage
	}{
		{"k6 example: up, hold, down", 0, []workload.Stage{{10 * time.Second, 50}, {30 * time.Second, 50}, {5 * time.Second, 0}}},
		{"slow ramp from 1/s", 1, []workload.Stage{{time.Minute, 20}, {time.Minute, 5}}},
		{"steps with jumps", 100, []workload.Stage{{2 * time.Second, 100}, {0, 300}, {3 * time.Second, 300}, {0, 10}, {10 * time.Second, 10}}},
		{"fractional rates", 0.5, []workload.Stage{{30 * time.Second, 3.3}, {17 * time.Second, 0.7}}},
		{"high rate", 0, []workload.Stage{{5 * time.Second, 5000}, {5 * time.Second, 5000}, {5 * time.Second, 0}}},
		{"pause in the middle", 10, []workload.Stage{{10 * time.Second, 0}, {10 * time.Second, 0}, {10 * time.Second, 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustStages(t, tt.start, tt.stages...)
			at := simulate(t, p, 1_000_000)
			if got, want := uint64(len(at)), p.Arrivals(); got != want {
				t.Errorf("arrivals = %d, want %d (the area under the rate, rounded up)", got, want)
			}
			// Per stage: the count matches the stage's area within 1% (or within
			// one arrival, for stages too small for 1% to be a whole arrival).
			v0 := tt.start
			var t0 time.Duration
			for i, s := range tt.stages {
				area := (v0 + s.Target) / 2 * s.Duration.Seconds()
				got := float64(countIn(at, t0, t0+s.Duration))
				if tol := math.Max(0.01*area, 1); math.Abs(got-area) > tol {
					t.Errorf("stage %d (%v): %v arrivals, want %v ± %v", i, s, got, area, tol)
				}
				v0, t0 = s.Target, t0+s.Duration
			}
			for i := 1; i < len(at); i++ {
				if at[i] < at[i-1] {
					t.Fatalf("arrival %d at %v before arrival %d at %v", i, at[i], i-1, at[i-1])
				}
			}
		})
	}
}

// TestStagesPacerDueMatchesPace checks that Due and Pace agree, and that an
// executor arriving exactly at a due time gets wait 0 (no spin at the edge).
func TestStagesPacerDueMatchesPace(t *testing.T) {
	p := mustStages(t, 3, workload.Stage{Duration: 7 * time.Second, Target: 77}, workload.Stage{Duration: 3 * time.Second, Target: 1})
	for n := uint64(0); ; n++ {
		at, ok := p.Due(n)
		wait, stop := p.Pace(0, n)
		if ok == stop || (ok && wait != at) {
			t.Fatalf("Due(%d) = (%v, %v) but Pace(0, %d) = (%v, %v)", n, at, ok, n, wait, stop)
		}
		if !ok {
			break
		}
		if w, s := p.Pace(at, n); w != 0 || s {
			t.Fatalf("Pace(%v, %d) = (%v, %v), want (0, false) at the due time", at, n, w, s)
		}
	}
}

func TestStagesPacerExpected(t *testing.T) {
	p := mustStages(t, 0,
		workload.Stage{Duration: 10 * time.Second, Target: 50},
		workload.Stage{Duration: 30 * time.Second, Target: 50},
		workload.Stage{Duration: 5 * time.Second, Target: 0},
	)
	at := simulate(t, p, 10_000)
	tests := []struct {
		elapsed time.Duration
		want    float64
	}{
		{0, 0}, {5 * time.Second, 62.5}, {10 * time.Second, 250}, {25 * time.Second, 1000},
		{40 * time.Second, 1750}, {45 * time.Second, 1875}, {time.Hour, 1875},
	}
	for _, tt := range tests {
		got := p.Expected(tt.elapsed)
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Expected(%v) = %v, want %v", tt.elapsed, got, tt.want)
		}
		// The arrivals issued before elapsed are the expected count, rounded up.
		if n := countIn(at, 0, tt.elapsed); tt.elapsed < time.Hour && n != int(math.Ceil(tt.want-1e-9)) {
			t.Errorf("%d arrivals before %v, want ⌈%v⌉", n, tt.elapsed, tt.want)
		}
	}
}

func TestNewStagesPacerErrors(t *testing.T) {
	tests := []struct {
		name   string
		start  float64
		stages []workload.Stage
		want   string
	}{
		{"negative start", -1, nil, "ramp start -1"},
		{"negative duration", 0, []workload.Stage{{time.Second, 1}, {-time.Second, 1}}, "stages[1].duration -1s"},
		{"NaN target", 0, []workload.Stage{{time.Second, math.NaN()}}, "stages[0].target NaN"},
		{"negative target", 0, []workload.Stage{{time.Second, -3}}, "stages[0].target -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := workload.NewStagesPacer(tt.start, tt.stages)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "workload: ") {
				t.Errorf("NewStagesPacer error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLinearPacer(t *testing.T) {
	p, err := workload.NewLinearPacer(10, 30, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(simulate(t, p, 10_000)), 200; got != want {
		t.Errorf("linear 10→30/s over 10s: %d arrivals, want %d", got, want)
	}
	if got := p.Rate(5 * time.Second); got != 20 {
		t.Errorf("Rate(5s) = %v, want 20", got)
	}
}

func BenchmarkStagesPacerPace(b *testing.B) {
	p := mustStages(b, 0, workload.Stage{Duration: 10 * time.Second, Target: 50}, workload.Stage{Duration: 30 * time.Second, Target: 50}, workload.Stage{Duration: 5 * time.Second, Target: 0})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Pace(0, uint64(i%1875))
	}
}
