package reports_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/reports"
)

// noisy returns n values around level with Gaussian noise of sd, seeded.
func noisy(rng *rand.Rand, n int, level, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = level + sd*rng.NormFloat64()
	}
	return v
}

// TestEDivisiveFindsStep: a step in the level is found at the first value
// after it, whatever the noise's draw; one step, one change point.
func TestEDivisiveFindsStep(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2))
		x := append(noisy(rng, 12, 100, 5), noisy(rng, 10, 130, 5)...)
		got := reports.EDivisive(x, reports.ChangePointOptions{Seed: seed})
		require.Len(t, got, 1, "seed %d: %v", seed, got)
		assert.Equal(t, 12, got[0].Index, "seed %d", seed)
		assert.LessOrEqual(t, got[0].P, reports.DefaultChangePointAlpha)
	}
}

// TestEDivisiveTwoSteps: up then down again gives two change points.
func TestEDivisiveTwoSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2))
	x := append(append(noisy(rng, 10, 100, 5), noisy(rng, 8, 140, 5)...), noisy(rng, 10, 100, 5)...)
	got := reports.EDivisive(x, reports.ChangePointOptions{Seed: 7})
	require.Len(t, got, 2, "%v", got)
	assert.Equal(t, 10, got[0].Index)
	assert.Equal(t, 18, got[1].Index)
}

// TestEDivisiveNoiseIsCalibrated: in series of pure noise (no shift), the
// permutation test finds a change point about as often as its level says:
// at α = 0.005, one series in 200 on average; 5 or more of 200 would
// happen by chance less than once in 200 test runs (binomial).
func TestEDivisiveNoiseIsCalibrated(t *testing.T) {
	found := 0
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		if got := reports.EDivisive(noisy(rng, 25, 100, 5), reports.ChangePointOptions{Seed: seed}); len(got) > 0 {
			found++
		}
	}
	assert.LessOrEqual(t, found, 4, "series of noise with a change point, of 200")
}

// TestChangePointsNoneInNoise: histories of noise (p99 about 50 ms ± 5%,
// throughput about 100/s ± 3%) show no change point in a report.
func TestChangePointsNoneInNoise(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 4))
		var history []*reports.Run
		for i := range 30 {
			r := metricRun(i, "p99 op", 50+2.5*rng.NormFloat64())
			r.Metrics = append(r.Metrics, reports.ScenarioMetric{Scenario: "S", Metric: "throughput", Unit: "req/s", Value: 100 + 3*rng.NormFloat64(), Better: "higher"})
			history = append(history, r)
		}
		assert.Empty(t, reports.ChangePoints(history, reports.ChangePointOptions{Seed: seed}), "seed %d", seed)
	}
}

// TestEDivisiveDeterministic: the same series and seed, the same answer.
func TestEDivisiveDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := append(noisy(rng, 6, 10, 3), noisy(rng, 6, 14, 3)...)
	a := reports.EDivisive(x, reports.ChangePointOptions{Seed: 42})
	b := reports.EDivisive(x, reports.ChangePointOptions{Seed: 42})
	assert.Equal(t, a, b)
}

// TestEDivisiveShortSeries: fewer values than two segments: nothing.
func TestEDivisiveShortSeries(t *testing.T) {
	assert.Empty(t, reports.EDivisive([]float64{1, 1, 9, 9, 9}, reports.ChangePointOptions{}))
	assert.Empty(t, reports.EDivisive(nil, reports.ChangePointOptions{}))
}

// metricRun is a run with one scenario metric.
func metricRun(i int, metric string, v float64) *reports.Run {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
	return &reports.Run{ID: fmt.Sprintf("run-%02d", i), Env: reports.Env{Start: start}, Compacted: true,
		Metrics: []reports.ScenarioMetric{{Scenario: "S", Metric: metric, Unit: "ms", Value: v, Better: "lower"}}}
}

// TestChangePointsOverHistory: a history whose p99 rose from about 50 ms to
// about 80 ms at run 8 names that run, with the medians before and after;
// a flat throughput beside it has none.
func TestChangePointsOverHistory(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var history []*reports.Run
	for i := range 16 {
		level := 50.0
		if i >= 8 {
			level = 80
		}
		r := metricRun(i, "p99 op", level+3*rng.NormFloat64())
		r.Metrics = append(r.Metrics, reports.ScenarioMetric{Scenario: "S", Metric: "throughput", Unit: "req/s", Value: 100 + 3*rng.NormFloat64(), Better: "higher"})
		history = append(history, r)
	}
	cps := reports.ChangePoints(history, reports.ChangePointOptions{Seed: 1})
	require.Len(t, cps, 1, "%+v", cps)
	cp := cps[0]
	assert.Equal(t, "p99 op", cp.Metric)
	assert.Equal(t, 8, cp.Index)
	assert.Equal(t, "run-08", cp.RunID)
	assert.InDelta(t, 50, cp.Before, 4)
	assert.InDelta(t, 80, cp.After, 4)
	assert.Equal(t, reports.Worse, cp.Verdict)
}

// TestChangePointsUnderMinimumEffect: a significant shift smaller than the
// metric's minimum effect (p99: 10% and 1 ms) is not reported.
func TestChangePointsUnderMinimumEffect(t *testing.T) {
	var history []*reports.Run
	for i := range 16 {
		v := 50.0 + 0.01*float64(i%3)
		if i >= 8 {
			v += 2 // 4%: clear in a series this quiet, but under 10%
		}
		history = append(history, metricRun(i, "p99 op", v))
	}
	assert.Empty(t, reports.ChangePoints(history, reports.ChangePointOptions{}))
	loose := map[string]reports.Rule{"p99": {Rel: 0.01}}
	assert.Len(t, reports.ChangePoints(history, reports.ChangePointOptions{Rules: loose}), 1)
}

// TestChangePointsServiceMedian: the service time's median, read from the
// runs' histograms, has its change points too: a route 30% slower from the
// seventh of twelve runs.
func TestChangePointsServiceMedian(t *testing.T) {
	var history []*reports.Run
	for i := range 12 {
		scale := 1.0
		if i >= 6 {
			scale = 1.3
		}
		history = append(history, latencyRun(t, fmt.Sprintf("run-%02d", i), uint64(i+1), 2000, 20, scale))
	}
	var got []reports.ChangePoint
	for _, cp := range reports.ChangePoints(history, reports.ChangePointOptions{}) {
		if cp.Metric == "service p50 op" {
			got = append(got, cp)
		}
	}
	require.Len(t, got, 1)
	assert.Equal(t, 6, got[0].Index)
	assert.InDelta(t, 30, got[0].DeltaPct, 5)
}
