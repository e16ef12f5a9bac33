package reports

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/internal/resulttest"
)

// twoSpeeds is a run of a fast operation (1 ms) and a slow one (2 s).
func twoSpeeds(t *testing.T) *Scenario {
	t.Helper()
	c := resulttest.NewClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now))
	for i := 0; i < 200; i++ {
		at := resulttest.Epoch.Add(time.Duration(i) * 10 * time.Millisecond)
		rec.Record(resulttest.Result("fast.get", 200, at, time.Millisecond))
		rec.Record(resulttest.Result("slow.get", 200, at, 2*time.Second))
	}
	c.Advance(10 * time.Second)
	return &Scenario{Name: "TestTwoSpeeds", Doc: rec.Snapshot()}
}

// topTick returns the value of a chart's highest y label.
func topTick(t *testing.T, c *chart) string {
	t.Helper()
	require.NotEmpty(t, c.YTicks, "chart %s has no y axis", c.ID)
	return c.YTicks[len(c.YTicks)-1].Label
}

// TestLatencySmallMultiples: one chart per operation, each on its own
// scale, with the total and the service time; a 1 ms operation is not
// drawn on the axis of a 2 s one.
func TestLatencySmallMultiples(t *testing.T) {
	s := twoSpeeds(t)
	charts := latencyCharts("lat-0", s)
	require.Len(t, charts, 2, "one chart per operation")
	byOp := map[string]*chart{}
	for _, c := range charts {
		byOp[c.Title] = c
		assert.Len(t, c.Lines, 2, "%s: total and service curves", c.Title)
		assert.Equal(t, []legendItem{{"s0", "total"}, {"s1", "service"}}, c.Legend, c.Title)
	}
	require.Contains(t, byOp, "fast.get")
	require.Contains(t, byOp, "slow.get")
	fast, err := strconv.ParseFloat(topTick(t, byOp["fast.get"]), 64)
	require.NoError(t, err)
	slow, err := strconv.ParseFloat(topTick(t, byOp["slow.get"]), 64)
	require.NoError(t, err)
	assert.True(t, fast >= 1 && fast < 5, "fast.get's axis ends at %g ms, want a few ms", fast)
	assert.True(t, slow >= 2000 && slow < 5000, "slow.get's axis ends at %g ms, want a few seconds", slow)
}

// TestThrottleChartPerSecondAndResets: the series is drawn as requests per
// second whatever its interval, and each limit that rejected gets its first
// 429 and one reset marker per window until a window after its last 429.
func TestThrottleChartPerSecondAndResets(t *testing.T) {
	start := resulttest.Epoch
	n := 120 // 60 s at 500 ms
	se := result.Series{IntervalMs: 500, Requests: make([]int64, n), Throttled: make([]int64, n), Errors: make([]int64, n)}
	for i := range se.Requests {
		se.Requests[i] = 10 // 20 req/s
		if i >= 20 && i < 90 {
			se.Throttled[i] = 4 // 8 req/s
		}
	}
	doc := &result.Document{Start: start, End: start.Add(60 * time.Second), Series: se,
		RateLimits: []result.RateLimitObservation{
			{Key: "a.limit", WindowSeconds: 10, WindowSource: "ratelimit-reset", Rejected: 280,
				FirstRejection: start.Add(10 * time.Second), LastRejection: start.Add(45 * time.Second)},
			{Key: "no.window", Rejected: 1, FirstRejection: start.Add(30 * time.Second), LastRejection: start.Add(30 * time.Second)},
			{Key: "never.rejected", WindowSeconds: 5},
		}}
	c := throttleChart("thr-0", &Scenario{Name: "TestLimits", Doc: doc})
	require.NotNil(t, c)
	assert.Equal(t, "req/s", c.YLabel)
	var okTitle, thrTitle string
	for _, b := range c.Bars {
		if strings.HasPrefix(b.Title, "10s–10.5s: ") {
			switch b.Class {
			case "ok":
				okTitle = b.Title
			case "thr":
				thrTitle = b.Title
			}
		}
	}
	assert.Equal(t, "10s–10.5s: 12/s ok", okTitle)
	assert.Equal(t, "10s–10.5s: 8/s throttled", thrTitle)

	sc := c.scale(0, 60, 0, 1)
	var firsts, resets []float64
	for _, m := range c.Marks {
		x := math.Round((m.X-c.Left)/c.PlotW*60*10) / 10
		switch {
		case strings.Contains(m.Class, "first"):
			firsts = append(firsts, x)
		case strings.HasPrefix(m.Title, "a.limit: reset"):
			resets = append(resets, x)
		default:
			t.Errorf("unexpected mark %+v", m)
		}
		assert.Equal(t, sc.Y(1), m.Y1, "marks span the plot")
	}
	assert.Equal(t, []float64{10, 30}, firsts, "first 429 of each limit that rejected")
	assert.Equal(t, []float64{20, 30, 40, 50}, resets, "a.limit resets every 10 s until one window after its last 429 (45 s)")
	var legend []string
	for _, l := range c.Legend {
		legend = append(legend, l.Label)
	}
	assert.Contains(t, legend, "a.limit: first 429, then resets every 10s")
	assert.Contains(t, legend, "no.window: first 429")

	// The scenario's finding about a.limit (a 15 s window) is the answer
	// the chart uses, not the 429s' 10 s.
	doc.Findings = []result.Finding{{Key: "a.limit", Allowed: 100, WindowSeconds: 15, WindowSource: "experiment"}}
	c = throttleChart("thr-0", &Scenario{Name: "TestLimits", Doc: doc})
	resets = nil
	for _, m := range c.Marks {
		if strings.HasPrefix(m.Title, "a.limit: reset") {
			resets = append(resets, math.Round((m.X-c.Left)/c.PlotW*60*10)/10)
			assert.Contains(t, m.Title, "(window from experiment)")
		}
	}
	assert.Equal(t, []float64{25, 40, 55}, resets, "a.limit resets every 15 s, as found")
}

// TestBenchSamplesSingleRun: a run without history charts every benchmark
// and unit: its samples and their median.
func TestBenchSamplesSingleRun(t *testing.T) {
	bs := []Benchmark{
		{Name: "A-2", Unit: "sec/op", Values: []float64{1e-6, 2e-6, 3e-6}},
		{Name: "A-2", Unit: "B/op", Values: []float64{32, 32, 32}},
	}
	charts, note := benchSamples(bs)
	assert.Empty(t, note)
	require.Len(t, charts, 2)
	c := charts[0]
	assert.Equal(t, "A-2 (sec/op)", c.Title)
	assert.Len(t, c.Dots, 3, "one dot per sample")
	require.Len(t, c.Lines, 1)
	assert.Equal(t, "median 2.000µ", c.Lines[0].Title)
	require.Len(t, c.Ranges, 1, "the bar spanning the samples")
}

// TestChangePointsMarked: the change points of the history (the ones the
// Markdown lists) are marked on the scenario trend chart of their metric,
// at the run where it shifted, and nowhere else.
func TestChangePointsMarked(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var history []*Run
	for i := range 16 {
		level := 50.0
		if i >= 8 {
			level = 80
		}
		history = append(history, &Run{ID: fmt.Sprintf("run-%02d", i), Metrics: []ScenarioMetric{
			{Scenario: "S", Metric: "p99 op", Unit: "ms", Value: level + 3*rng.NormFloat64(), Better: "lower"},
			{Scenario: "S", Metric: "throughput", Unit: "req/s", Value: 100 + 3*rng.NormFloat64(), Better: "higher"},
		}})
	}
	rep := NewReport(history[len(history)-1], nil, history)
	require.Len(t, rep.ChangePoints(), 1, "the detector finds the shift")
	v := rep.htmlView()
	require.Len(t, v.ScenTrend, 1)
	var marked []*chart
	for _, c := range v.ScenTrend[0].Charts {
		if len(c.Marks) > 0 {
			marked = append(marked, c)
		}
	}
	require.Len(t, marked, 1, "one chart carries the change point")
	c := marked[0]
	require.Len(t, c.Marks, 1)
	m := c.Marks[0]
	assert.Equal(t, "total p99 latency per operation (ms)", c.Title)
	assert.Equal(t, "mark cp worse", m.Class)
	assert.Equal(t, "▲", m.Label)
	assert.Contains(t, m.Title, "total p99 op: change point at run #9")
	assert.Equal(t, c.scale(-0.5, 15.5, 0, 1).X(8), m.X, "marked at the ninth run")

	var buf strings.Builder
	require.NoError(t, rep.HTML(&buf))
	assert.Equal(t, 1, strings.Count(buf.String(), `class="mark cp worse"`), "the HTML draws the mark")
}

// TestRunTicksReadable: the run axis labels about 8 runs, always the
// newest, and never two labels closer than half a step.
func TestRunTicksReadable(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 9, 16, 17, 23, 60, 61} {
		labels := make([]string, n)
		for i := range labels {
			labels[i] = fmt.Sprintf("#%d", i+1)
		}
		c := newChart("x", "x")
		sc := c.scale(-0.5, float64(n)-0.5, 0, 1)
		c.xRunTicks(sc, labels)
		require.NotEmpty(t, c.XTicks, "n=%d", n)
		assert.Equal(t, labels[n-1], c.XTicks[len(c.XTicks)-1].Label, "n=%d: the newest run is labelled", n)
		assert.LessOrEqual(t, len(c.XTicks), 9, "n=%d", n)
		step := max(1, int(math.Ceil(float64(n)/8)))
		minGap := (sc.X(float64(step)) - sc.X(0)) / 2
		for i := 1; i < len(c.XTicks); i++ {
			assert.GreaterOrEqual(t, c.XTicks[i].Pos-c.XTicks[i-1].Pos, minGap-0.01, "n=%d: labels %s and %s overlap", n, c.XTicks[i-1].Label, c.XTicks[i].Label)
		}
	}
}
