package reports_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
)

// latencyRun is a run of one scenario, "S", whose operation "op" took n
// latencies drawn from a log-normal distribution (median medianMs, shape
// 0.5, a typical API latency) and multiplied by scale, with seed.
func latencyRun(t testing.TB, id string, seed uint64, n int, medianMs, scale float64) *reports.Run {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	h := result.NewHDR()
	for range n {
		ms := medianMs * math.Exp(0.5*rng.NormFloat64()) * scale
		require.NoError(t, h.RecordValue(result.Micros(time.Duration(ms*float64(time.Millisecond)))))
	}
	hist, err := result.EncodeHistogram(h)
	require.NoError(t, err)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Hour)
	doc := &result.Document{
		Schema: result.SchemaVersion, Scenario: "S", Start: start, End: start.Add(10 * time.Second),
		Operations: []result.OpStats{{Op: "op", Count: int64(n), Outcomes: map[string]int64{"ok": int64(n)}, Latency: hist, Total: hist}},
	}
	return &reports.Run{ID: id, Env: reports.Env{Start: start},
		Scenarios: []reports.Scenario{{Name: "S", Doc: doc}}}
}

// latencyVerdicts compares cur with base and returns the deltas of the
// latency percentiles by metric ("service p50 op", "service p99 op",
// "total p99 op").
func latencyVerdicts(t testing.TB, base []*reports.Run, cur *reports.Run) map[string]reports.MetricDelta {
	t.Helper()
	c := reports.Compare(base, cur, reports.CompareOptions{})
	require.Empty(t, c.Warnings)
	out := map[string]reports.MetricDelta{}
	for _, m := range c.Metrics {
		if m.Test == reports.TestPercentileCI {
			out[m.Metric] = m
		}
	}
	require.Contains(t, out, "service p50 op")
	require.Contains(t, out, "service p99 op")
	require.Contains(t, out, "total p99 op")
	return out
}

// TestCompareSameDistributionNoVerdict: A/A pairs of 1000 samples of one
// distribution are never a change. (Compared as two numbers against 10%
// and 1 ms, their p99s differ enough in several of these pairs.)
func TestCompareSameDistributionNoVerdict(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		old := latencyRun(t, "a", 2*seed, 1000, 20, 1)
		cur := latencyRun(t, "b", 2*seed+1, 1000, 20, 1)
		for name, d := range latencyVerdicts(t, []*reports.Run{old}, cur) {
			assert.Equal(t, reports.NoChange, d.Verdict, "seed %d: %s %v → %v (%s)", seed, name, d.OldCI, d.NewCI, d.Note)
		}
	}
}

// TestCompareShiftIsRegression: every latency 30% slower, with 5000
// samples a side, is a regression of both percentiles; 30% faster is an
// improvement.
func TestCompareShiftIsRegression(t *testing.T) {
	old := latencyRun(t, "a", 1, 5000, 20, 1)
	for _, tc := range []struct {
		scale   float64
		verdict string
	}{{1.3, reports.Worse}, {1 / 1.3, reports.Better}} {
		cur := latencyRun(t, "b", 2, 5000, 20, tc.scale)
		for name, d := range latencyVerdicts(t, []*reports.Run{old}, cur) {
			assert.Equal(t, tc.verdict, d.Verdict, "×%.2f: %s %v → %v (%s)", tc.scale, name, d.OldCI, d.NewCI, d.Note)
			assert.InDelta(t, (tc.scale-1)*100, d.DeltaPct, 8, "×%.2f: %s", tc.scale, name)
		}
	}
}

// TestCompareSmallSamplesNoVerdict: 30% slower on 20 requests is not
// enough to tell; the p99 of 20 samples cannot even be bounded.
func TestCompareSmallSamplesNoVerdict(t *testing.T) {
	old := latencyRun(t, "a", 1, 20, 20, 1)
	cur := latencyRun(t, "b", 2, 20, 20, 1.3)
	v := latencyVerdicts(t, []*reports.Run{old}, cur)
	assert.Equal(t, reports.NoChange, v["service p50 op"].Verdict, "p50: %+v", v["service p50 op"])
	assert.Equal(t, reports.NoChange, v["total p99 op"].Verdict)
	assert.Contains(t, v["total p99 op"].Note, "too few samples")
	assert.True(t, v["total p99 op"].NewCI.HiOpen, "p99 of 20 samples: the upper bound is past the largest sample")
}

// TestCompareMinimumEffect: a significant change under the minimum effect
// is "~", with the reason.
func TestCompareMinimumEffect(t *testing.T) {
	old := latencyRun(t, "a", 1, 50000, 20, 1)
	cur := latencyRun(t, "b", 2, 50000, 20, 1.05) // 5%: significant at this size
	v := latencyVerdicts(t, []*reports.Run{old}, cur)
	d := v["service p50 op"]
	assert.Equal(t, reports.NoChange, d.Verdict)
	assert.Contains(t, d.Note, "under the minimum effect 10%+0.5")
	assert.Greater(t, d.NewCI.Lo, d.OldCI.Hi, "the intervals are disjoint")

	rules := map[string]reports.Rule{"p50": {Rel: 0.02}}
	c := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{Rules: rules})
	for _, m := range c.Metrics {
		if m.Metric == "service p50 op" {
			assert.Equal(t, reports.Worse, m.Verdict, "with a 2%% minimum effect")
		}
	}
}

// TestComparePoolsBaseline: a baseline of several runs holds all their
// samples (the histograms merged), not a median of their percentiles.
func TestComparePoolsBaseline(t *testing.T) {
	// Two runs of 1000 fast requests and one of 3000 slow ones: the median
	// of their medians is a fast run's, the median of all 5000 samples is
	// twice as slow.
	base := []*reports.Run{latencyRun(t, "a", 1, 1000, 10, 1), latencyRun(t, "b", 2, 1000, 10, 1), latencyRun(t, "c", 3, 3000, 30, 1)}
	merged := result.NewHDR()
	for _, r := range base {
		h, err := r.Scenarios[0].Doc.Operations[0].Total.Hist()
		require.NoError(t, err)
		merged.Merge(h)
	}
	cur := latencyRun(t, "d", 4, 5000, 10, 1)
	d := latencyVerdicts(t, base, cur)["service p50 op"]
	assert.Equal(t, int64(5000), d.OldCI.N, "pooled samples")
	assert.InDelta(t, float64(merged.ValueAtPercentile(50))/1000, d.Old, 1e-9, "the median of all the baseline's samples")
	// Significantly faster than the pooled samples, but no faster than
	// the fast baseline runs: not a change.
	assert.Greater(t, d.OldCI.Lo, d.NewCI.Hi)
	assert.Equal(t, reports.NoChange, d.Verdict, "%+v", d)
}

// TestCompareCompactedBaselineUsesThresholds: without histograms (a
// compacted history entry) p99 is compared as a number against its rule,
// and says so.
func TestCompareCompactedBaselineUsesThresholds(t *testing.T) {
	old := latencyRun(t, "a", 1, 1000, 20, 1)
	old.Metrics, _ = reports.Metrics(old)
	old.Scenarios[0].Doc = nil
	old.Compacted = true
	cur := latencyRun(t, "b", 2, 1000, 20, 2)
	c := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{})
	found := false
	for _, m := range c.Metrics {
		assert.NotEqual(t, reports.TestPercentileCI, m.Test, "%s: no percentile intervals without the baseline's histograms", m.Metric)
		if m.Metric == "total p99 op" {
			found = true
			assert.Equal(t, reports.TestThreshold, m.Test)
			assert.Equal(t, reports.Worse, m.Verdict)
		}
	}
	assert.True(t, found, fmt.Sprint(c.Metrics))
}

// TestCompareWithinBaselineRuns: with a baseline of several runs, a change
// no larger than those runs differ among themselves is not a verdict,
// however many samples make it significant.
func TestCompareWithinBaselineRuns(t *testing.T) {
	base := []*reports.Run{latencyRun(t, "a", 1, 5000, 16, 1), latencyRun(t, "b", 2, 5000, 20, 1), latencyRun(t, "c", 3, 5000, 30, 1)}
	d := latencyVerdicts(t, base, latencyRun(t, "d", 4, 5000, 27, 1))["service p50 op"]
	assert.Greater(t, d.NewCI.Lo, d.OldCI.Hi, "the intervals are disjoint")
	assert.Equal(t, reports.NoChange, d.Verdict)
	assert.Contains(t, d.Note, "within the range of the 3 baseline runs")

	d = latencyVerdicts(t, base, latencyRun(t, "e", 5, 5000, 36, 1))["service p50 op"]
	assert.Equal(t, reports.Worse, d.Verdict, "beyond the slowest baseline run: %+v", d)
}

// TestCompareTailNeedsSamples: a p99 is judged only with MinTailSamples
// beyond it in each run: 1500 requests (15 beyond the p99) 30% slower
// move the median, not the p99's verdict.
func TestCompareTailNeedsSamples(t *testing.T) {
	v := latencyVerdicts(t, []*reports.Run{latencyRun(t, "a", 1, 1500, 20, 1)}, latencyRun(t, "b", 2, 1500, 20, 1.3))
	assert.Equal(t, reports.Worse, v["service p50 op"].Verdict)
	for _, m := range []string{"service p99 op", "total p99 op"} {
		assert.Equal(t, reports.NoChange, v[m].Verdict, m)
		assert.Contains(t, v[m].Note, "a verdict needs 20 beyond it", m)
	}
}
