package reports

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"

	"github.com/cxload/cxload/harness/result"
)

//go:embed report.html.tmpl
var htmlTemplate string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":     func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"ms":      fmtMs,
	"msOf":    msOrDash,
	"waitPct": waitShare,
	"fmtUnit": fmtUnit,
	"metric":  fmtMetric,
	"delta":   fmtPct,
	"f1":      func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"plus":    func(a, b float64) float64 { return a + b },
	"minus":   func(a, b float64) float64 { return b - a },
}).Parse(htmlTemplate))

// MaxTrendCharts bounds the benchmark trend charts of an HTML report.
const MaxTrendCharts = 60

type htmlView struct {
	Title      string
	Headline   string
	Verdict    string
	Env        []string
	URL        string
	Failed     []Test
	Builds     []Package
	Comparison *Comparison
	MetricRows []metricRow
	Overview   []overviewRow
	Scenarios  []scenarioView
	Benchmarks []benchRow
	BenchTrend []*chart
	TrendNote  string
	ScenTrend  []trendGroup
	Skipped    []Test
	Problems   []string
	Runs       int
	Generated  string
}

type scenarioView struct {
	Title      string
	Facts      []string
	Summary    string
	Sum        Summary
	Scenario   *Scenario
	Latency    []*chart // one per operation
	Throttle   *chart
	Thresholds []thresholdView
	Limits     []limitRow
	Headline   []string // the short list; when set, the summary is folded away
}

type thresholdView struct {
	OK                  bool
	Expr, Value, Detail string
}

// metricRow is a scenario metric of the comparison; Group is set on the
// first row of a run of rows of one scenario and cell, which the table
// shows as a heading row (narrow screens cannot fit a scenario column).
type metricRow struct {
	Group string
	MetricDelta
}

type benchRow struct {
	Name, Unit, Center, Range string
	N                         int
}

type trendGroup struct {
	Title  string
	Charts []*chart
}

// HTML writes a self-contained HTML report: no scripts, styles or fonts
// from the network, so it opens from file:// and as a CI artifact. Charts
// are inline SVG: per scenario, one small chart per operation with the
// percentiles of its total and service time, and requests per second (ok,
// throttled, errors) with each rate limit's first 429 and window resets;
// per benchmark, its samples (a single run) or, across the history, the
// spread of each run's samples and their median; and the trends of the
// scenario metrics (p99 per operation, throughput, 429 rate, WebSocket
// stability) with their change points marked. The layout adapts from a
// phone to a laptop.
func (r *Report) HTML(w io.Writer) error {
	v := r.htmlView()
	var buf bytes.Buffer
	if err := reportTmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("reports: html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (r *Report) htmlView() *htmlView {
	run := r.Run
	v := &htmlView{
		Title:      cmp.Or(r.Title, "cxload report"),
		Headline:   strings.TrimLeft(r.Headline(), "✅❌⚠️ "),
		Verdict:    r.Verdict(),
		URL:        run.Env.URL,
		Comparison: r.Comparison,
		Runs:       len(r.History),
	}
	v.Env = strings.Split(strings.NewReplacer("`", "").Replace(envLine(run)), " · ")
	if run.Env.URL != "" && len(v.Env) > 0 {
		v.Env = v.Env[:len(v.Env)-1] // the link is shown separately
	}
	if r.Comparison != nil {
		prev := "\x00"
		for _, m := range r.Comparison.Metrics {
			row := metricRow{MetricDelta: m}
			if g := scenarioTitle(m.Scenario, m.Cell); g != prev {
				row.Group, prev = g, g
			}
			v.MetricRows = append(v.MetricRows, row)
		}
	}
	for _, t := range run.Tests {
		switch t.Verdict {
		case Fail:
			v.Failed = append(v.Failed, t)
		case Skip:
			v.Skipped = append(v.Skipped, t)
		}
	}
	for _, p := range run.Packages {
		if p.FailedBuild != "" {
			v.Builds = append(v.Builds, p)
		}
	}
	if rows := r.overview(); len(rows) > 1 {
		v.Overview = rows
	}
	for i := range run.Scenarios {
		if run.Scenarios[i].Doc != nil {
			v.Scenarios = append(v.Scenarios, scenarioHTML(i, &run.Scenarios[i], r.summaries[i]))
		}
	}
	for _, b := range run.Benchmarks {
		s := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(b.Values), &benchmath.DefaultThresholds), 0.95)
		v.Benchmarks = append(v.Benchmarks, benchRow{b.Name, b.Unit, fmtUnit(s.Center, b.Unit), s.PctRangeString(), len(b.Values)})
	}
	if len(r.History) >= 2 {
		v.BenchTrend, v.TrendNote = benchTrends(r.History)
	} else {
		v.BenchTrend, v.TrendNote = benchSamples(run.Benchmarks)
	}
	v.ScenTrend = scenarioTrends(r.History, r.ChangePoints())
	for _, p := range run.Problems {
		v.Problems = append(v.Problems, p.String())
	}
	for _, err := range r.sumErrs {
		v.Problems = append(v.Problems, err.Error())
	}
	return v
}

func scenarioHTML(i int, s *Scenario, sum Summary) scenarioView {
	d := s.Doc
	sv := scenarioView{Title: scenarioTitle(s.Name, s.Cell()), Summary: d.Summary, Sum: sum, Scenario: s}
	sv.Facts = []string{
		fmt.Sprintf("%d requests", sum.Requests),
		fmt.Sprintf("%.1f req/s", sum.RPS),
		fmt.Sprintf("%d throttled (%.1f%%)", sum.Throttled, sum.Rate429*100),
		fmt.Sprintf("%d errors", sum.Errors),
	}
	if sum.Canceled > 0 {
		sv.Facts = append(sv.Facts, fmt.Sprintf("%d canceled at the end", sum.Canceled))
	}
	sv.Facts = append(sv.Facts,
		time.Duration(sum.Seconds*float64(time.Second)).Round(time.Second/10).String())
	if len(s.Shards) > 0 {
		sv.Facts = append(sv.Facts, fmt.Sprintf("%d shards merged", len(s.Shards)))
	}
	for _, th := range d.Thresholds {
		sv.Thresholds = append(sv.Thresholds, thresholdView{th.OK, thresholdExpr(th.Expr), th.Value, th.Detail})
	}
	sv.Limits, sv.Headline = limitRows(d), headline(d)
	sv.Latency = latencyCharts(fmt.Sprintf("lat-%d", i), s)
	sv.Throttle = throttleChart(fmt.Sprintf("thr-%d", i), s)
	return sv
}

// nines maps a percentile to the x axis of a percentile chart:
// -log10(1-p/100), so p90=1, p99=2, p99.9=3; max sits at 4.5.
func nines(p float64) float64 {
	if p >= 100 {
		return 4.5
	}
	return -math.Log10(1 - p/100)
}

// latencyCharts draws one small chart per operation (small multiples, each
// with its own scale, so that a slow operation does not flatten the others):
// the percentile curves of the total time (from the intended send: limiter
// waits, retries and Retry-After included) and of the service time (the
// attempt that got the answer).
func latencyCharts(id string, s *Scenario) []*chart {
	var out []*chart
	for n, o := range s.Doc.Operations {
		type curve struct {
			name, class string
			pts         [][2]float64
		}
		var curves []curve
		maxV := 0.0
		for _, h := range []struct {
			name, class string
			h           result.Histogram
		}{{"total", "s0", o.Total}, {"service", "s1", o.Latency}} {
			pts, err := percentileCurve(h.h)
			if err != nil || len(pts) == 0 {
				continue
			}
			curves = append(curves, curve{h.name, h.class, pts})
			for _, p := range pts {
				if p[0] <= 99.99 {
					maxV = max(maxV, p[1])
				}
			}
		}
		if len(curves) == 0 {
			continue
		}
		c := newChartSize(fmt.Sprintf("%s-%d", id, n), o.Op, smallW, smallH)
		c.YLabel = "ms"
		top := c.yAxis(maxV, shortNum)
		sc := c.scale(0, 4.5, 0, top)
		for _, t := range []struct {
			p     float64
			label string
		}{{50, "p50"}, {90, "p90"}, {99, "p99"}, {99.9, "p99.9"}, {100, "max"}} {
			c.XTicks = append(c.XTicks, tick{sc.X(nines(t.p)), t.label})
		}
		for _, cv := range curves {
			var xs, ys []float64
			for _, p := range cv.pts {
				y := min(p[1], top) // max may be off the chart
				xs, ys = append(xs, sc.X(nines(p[0]))), append(ys, sc.Y(y))
				c.Dots = append(c.Dots, dot{X: sc.X(nines(p[0])), Y: sc.Y(y), R: 2.5, Class: cv.class, Title: fmt.Sprintf("%s %s %s: %s", o.Op, cv.name, PercentileName(p[0]), fmtMs(p[1]))})
			}
			c.Lines = append(c.Lines, polyline{Class: cv.class, Points: points(xs, ys), Title: o.Op + " " + cv.name})
			c.Legend = append(c.Legend, legendItem{cv.class, cv.name})
		}
		out = append(out, c)
	}
	return out
}

// maxBars bounds the bars of a series chart; longer series are summed into
// wider intervals.
const maxBars = 240

// maxResetMarks bounds the reset markers drawn for one limit.
const maxResetMarks = 24

// throttleChart draws requests per second (ok, throttled, errors stacked)
// and, for each rate limit that rejected requests, its first 429 and the
// ends of its windows after it: the window that rejected first resets at
// the latest one window after its first 429,
// every later window one window after that.
func throttleChart(id string, s *Scenario) *chart {
	d := s.Doc
	se := d.Series
	n := len(se.Requests)
	if n == 0 || se.IntervalMs <= 0 {
		return nil
	}
	group := (n + maxBars - 1) / maxBars
	interval := float64(se.IntervalMs*int64(group)) / 1000
	at := func(v []int64, i int) float64 {
		var sum int64
		for j := i * group; j < min((i+1)*group, len(v)); j++ {
			sum += v[j]
		}
		return float64(sum) / interval
	}
	bars := (n + group - 1) / group
	title := "Requests per second: ok, throttled (429), errors"
	if interval != 1 {
		title += fmt.Sprintf(" (averaged over %gs)", interval)
	}
	c := newChart(id, title)
	c.YLabel = "req/s"
	maxV := 0.0
	for i := 0; i < bars; i++ {
		maxV = max(maxV, at(se.Requests, i))
	}
	top := c.yAxis(maxV, shortNum)
	sc := c.scale(0, float64(bars)*interval, 0, top)
	w := max(sc.X(interval)-sc.X(0)-0.5, 0.5)
	for i := 0; i < bars; i++ {
		req, thr, errs := at(se.Requests, i), at(se.Throttled, i), at(se.Errors, i)
		ok := max(req-thr-errs, 0)
		x := sc.X(float64(i) * interval)
		t0 := fmt.Sprintf("%gs–%gs: ", float64(i)*interval, float64(i+1)*interval)
		y := 0.0
		for _, part := range []struct {
			v     float64
			class string
			name  string
		}{{ok, "ok", "ok"}, {thr, "thr", "throttled"}, {errs, "err", "errors"}} {
			if part.v == 0 {
				continue
			}
			y1, y2 := sc.Y(y), sc.Y(y+part.v)
			c.Bars = append(c.Bars, bar{X: x, Y: y2, W: w, H: round2(y1 - y2), Class: part.class, Title: t0 + fmt.Sprintf("%s/s %s", shortNum(round3(part.v)), part.name)})
			y += part.v
		}
	}
	step := max(1, bars/6)
	for i := 0; i <= bars; i += step {
		c.XTicks = append(c.XTicks, tick{sc.X(float64(i) * interval), fmt.Sprintf("%gs", float64(i)*interval)})
	}
	c.Legend = []legendItem{{"ok", "ok"}, {"thr", "throttled (429)"}, {"err", "errors"}}
	end := float64(bars) * interval
	// The window is the scenario's finding where it recorded one (the
	// answer every renderer shows), else what the 429s suggest.
	for li, a := range d.Limits() {
		rl := a.Observed
		if rl == nil || rl.FirstRejection.IsZero() || d.Start.IsZero() {
			continue
		}
		window, src := a.WindowSeconds, a.WindowSource
		if window <= 0 && rl.WindowSeconds > 0 {
			window, src = rl.WindowSeconds, cmp.Or(rl.WindowSource, "the 429s")
		}
		cls := "mark " + seriesClass(li+3)
		first := rl.FirstRejection.Sub(d.Start).Seconds()
		last := max(rl.LastRejection.Sub(d.Start).Seconds(), first)
		if first < 0 || first > end {
			continue
		}
		c.markAt(sc, first, cls+" first", "", fmt.Sprintf("%s: first 429 at +%.1fs (%d rejected)", rl.Key, first, rl.Rejected))
		label := rl.Key + ": first 429"
		if window > 0 {
			if src != "" {
				src = " (window from " + src + ")"
			}
			for k := 1; k <= maxResetMarks; k++ {
				t := first + float64(k)*window
				if t > min(last+window, end) {
					break
				}
				c.markAt(sc, t, cls, "", fmt.Sprintf("%s: reset at the latest %d × %gs after the first 429 (+%.1fs)%s", rl.Key, k, window, t, src))
			}
			label += fmt.Sprintf(", then resets every %gs", window)
		}
		c.Legend = append(c.Legend, legendItem{seriesClass(li + 3), label})
	}
	return c
}

func runLabel(r *Run, i int) string {
	if !r.Env.Start.IsZero() {
		return r.Env.Start.UTC().Format("01-02 15:04")
	}
	return fmt.Sprintf("#%d", i+1)
}

// benchTrends draws, per benchmark and unit, the samples of every run: a
// vertical bar from the smallest to the largest sample (the spread of the
// -count runs), the samples themselves when there are few runs, and the
// median line.
func benchTrends(history []*Run) ([]*chart, string) {
	type key struct{ pkg, name, unit string }
	var keys []key
	vals := make(map[key][][]float64) // per run
	for i, r := range history {
		for _, b := range r.Benchmarks {
			k := key{b.Package, b.Name, b.Unit}
			if _, ok := vals[k]; !ok {
				keys = append(keys, k)
				vals[k] = make([][]float64, len(history))
			}
			vals[k][i] = append(vals[k][i], b.Values...)
		}
	}
	note := ""
	if len(keys) > MaxTrendCharts {
		note = fmt.Sprintf("%d more benchmarks are not charted; see the JSON report.", len(keys)-MaxTrendCharts)
		keys = keys[:MaxTrendCharts]
	}
	labels := make([]string, len(history))
	for i, r := range history {
		labels[i] = runLabel(r, i)
	}
	var charts []*chart
	for n, k := range keys {
		c := newChart(fmt.Sprintf("bt-%d", n), k.name+" ("+k.unit+")")
		perRun := vals[k]
		maxV := 0.0
		for _, v := range perRun {
			for _, x := range v {
				maxV = max(maxV, x)
			}
		}
		axis := shortNum
		if k.unit == "sec/op" || k.unit == "B/s" {
			axis = func(f float64) string { return fmtUnit(f, k.unit) }
		}
		top := c.yAxis(maxV, axis)
		sc := c.scale(-0.5, float64(len(history))-0.5, 0, top)
		var xs, ys []float64
		showDots := len(history) <= 60
		for i, v := range perRun {
			if len(v) == 0 {
				continue
			}
			lo, hi := slices.Min(v), slices.Max(v)
			med := median(v)
			x := sc.X(float64(i))
			title := fmt.Sprintf("%s: median %s, %d samples %s–%s", labels[i], fmtUnit(med, k.unit), len(v), fmtUnit(lo, k.unit), fmtUnit(hi, k.unit))
			c.Ranges = append(c.Ranges, segment{X: x, Y1: sc.Y(lo), Y2: sc.Y(hi), Class: "s0", Title: title})
			if showDots {
				for _, s := range v {
					c.Dots = append(c.Dots, dot{X: x, Y: sc.Y(s), R: 2, Class: "s0 sample", Title: fmtUnit(s, k.unit)})
				}
			}
			xs, ys = append(xs, x), append(ys, sc.Y(med))
		}
		c.Lines = append(c.Lines, polyline{Class: "s1", Points: points(xs, ys), Title: "median"})
		c.xRunTicks(sc, labels)
		c.Legend = []legendItem{{"s0", "samples (min–max)"}, {"s1", "median"}}
		charts = append(charts, c)
	}
	return charts, note
}

// benchSamples draws, per benchmark and unit of a single run, its -count
// samples in the order they ran, with their median: the spread a
// comparison will have to see through.
func benchSamples(bs []Benchmark) ([]*chart, string) {
	note := ""
	if len(bs) > MaxTrendCharts {
		note = fmt.Sprintf("%d more benchmarks are not charted; see the JSON report.", len(bs)-MaxTrendCharts)
		bs = bs[:MaxTrendCharts]
	}
	var charts []*chart
	for n, b := range bs {
		if len(b.Values) == 0 {
			continue
		}
		c := newChartSize(fmt.Sprintf("bs-%d", n), b.Name+" ("+b.Unit+")", smallW, smallH)
		axis := shortNum
		if b.Unit == "sec/op" || b.Unit == "B/s" {
			axis = func(f float64) string { return fmtUnit(f, b.Unit) }
		}
		top := c.yAxis(slices.Max(b.Values), axis)
		k := len(b.Values)
		sc := c.scale(0.5, float64(k)+0.5, 0, top)
		med, lo, hi := median(b.Values), slices.Min(b.Values), slices.Max(b.Values)
		c.Ranges = append(c.Ranges, segment{X: sc.X(0.5), Y1: sc.Y(lo), Y2: sc.Y(hi), Class: "s0",
			Title: fmt.Sprintf("%d samples %s–%s", k, fmtUnit(lo, b.Unit), fmtUnit(hi, b.Unit))})
		for i, v := range b.Values {
			c.Dots = append(c.Dots, dot{X: sc.X(float64(i + 1)), Y: sc.Y(v), R: 3, Class: "s0", Title: fmt.Sprintf("sample %d: %s", i+1, fmtUnit(v, b.Unit))})
		}
		c.Lines = append(c.Lines, polyline{Class: "s1", Points: points([]float64{sc.X(0.5), sc.X(float64(k) + 0.5)}, []float64{sc.Y(med), sc.Y(med)}),
			Title: "median " + fmtUnit(med, b.Unit)})
		step := max(1, int(math.Ceil(float64(k)/8)))
		for i := 1; i <= k; i += step {
			c.XTicks = append(c.XTicks, tick{sc.X(float64(i)), fmt.Sprintf("#%d", i)})
		}
		c.Legend = []legendItem{{"s0", "samples (bar: min–max)"}, {"s1", "median " + fmtUnit(med, b.Unit)}}
		charts = append(charts, c)
	}
	return charts, note
}

// markChanges marks on a trend chart the change points of one series
// (scenario, cell and metric), at their run.
func (c *chart) markChanges(sc scale, cps []ChangePoint, scenario, cell, metric string, labels []string) {
	for _, cp := range cps {
		if cp.Scenario != scenario || cp.Cell != cell || cp.Metric != metric || cp.Index < 0 || cp.Index >= len(labels) {
			continue
		}
		c.markAt(sc, float64(cp.Index), "mark cp "+cp.Verdict, "▲",
			fmt.Sprintf("%s: change point at run %s: median %s → %s (%s, %s; p=%.3g)", MetricLabel(metric), labels[cp.Index],
				fmtMetric(cp.Before, cp.Unit), fmtMetric(cp.After, cp.Unit), fmtPct(cp.DeltaPct), cp.Verdict, cp.P))
	}
}

// scenarioTrends draws, per scenario and cell, the scenario metrics across
// runs, one chart per unit: p99 per operation, throughput, 429 rate,
// WebSocket stability; the change points cps are marked where they shifted.
func scenarioTrends(history []*Run, cps []ChangePoint) []trendGroup {
	if len(history) < 2 {
		return nil
	}
	type series struct {
		scenario, cell, metric string
		vals                   []float64 // NaN where the run lacks it
	}
	type group struct {
		title  string
		byUnit map[string][]*series
		units  []string
	}
	groups := make(map[string]*group)
	var order []string
	idx := make(map[string]*series)
	for i, r := range history {
		ms, _ := Metrics(r)
		for _, m := range ms {
			gk := m.Scenario + "\x00" + m.Cell
			g := groups[gk]
			if g == nil {
				g = &group{title: scenarioTitle(m.Scenario, m.Cell), byUnit: make(map[string][]*series)}
				groups[gk] = g
				order = append(order, gk)
			}
			unit := m.Unit
			switch m.Metric {
			case "websocket drops", "events lost":
				unit = "ws-count"
			case "max heartbeat gap":
				unit = "gap"
			}
			s := idx[m.Key()]
			if s == nil {
				s = &series{scenario: m.Scenario, cell: m.Cell, metric: m.Metric, vals: make([]float64, len(history))}
				for j := range s.vals {
					s.vals[j] = math.NaN()
				}
				idx[m.Key()] = s
				if _, ok := g.byUnit[unit]; !ok {
					g.units = append(g.units, unit)
				}
				g.byUnit[unit] = append(g.byUnit[unit], s)
			}
			s.vals[i] = m.Value
		}
	}
	labels := make([]string, len(history))
	for i, r := range history {
		labels[i] = runLabel(r, i)
	}
	titles := map[string]string{"ms": "total p99 latency per operation (ms)", "req/s": "Throughput (req/s)", "%": "429 rate (%)", "ws-count": "WebSocket drops and lost events", "gap": "WebSocket: longest gap between heartbeats (ms)", "count": "count"}
	var out []trendGroup
	for gi, gk := range order {
		g := groups[gk]
		tg := trendGroup{Title: g.title}
		for ui, unit := range g.units {
			ss := g.byUnit[unit]
			title := cmp.Or(titles[unit], unit)
			c := newChart(fmt.Sprintf("st-%d-%d", gi, ui), title)
			maxV := 0.0
			for _, s := range ss {
				for _, v := range s.vals {
					if !math.IsNaN(v) {
						maxV = max(maxV, v)
					}
				}
			}
			top := c.yAxis(maxV, shortNum)
			sc := c.scale(-0.5, float64(len(history))-0.5, 0, top)
			for si, s := range ss {
				cls := seriesClass(si)
				var xs, ys []float64
				for i, v := range s.vals {
					if math.IsNaN(v) {
						continue
					}
					xs, ys = append(xs, sc.X(float64(i))), append(ys, sc.Y(v))
					if len(history) <= 120 {
						c.Dots = append(c.Dots, dot{X: sc.X(float64(i)), Y: sc.Y(v), R: 2.5, Class: cls, Title: fmt.Sprintf("%s %s: %s", labels[i], MetricLabel(s.metric), shortNum(v))})
					}
				}
				c.Lines = append(c.Lines, polyline{Class: cls, Points: points(xs, ys), Title: MetricLabel(s.metric)})
				c.Legend = append(c.Legend, legendItem{cls, MetricLabel(s.metric)})
				c.markChanges(sc, cps, s.scenario, s.cell, s.metric, labels)
			}
			if len(c.Marks) > 0 {
				c.Legend = append(c.Legend, legendItem{"cp", "▲ change point (hover for its metric)"})
			}
			c.xRunTicks(sc, labels)
			tg.Charts = append(tg.Charts, c)
		}
		out = append(out, tg)
	}
	return out
}
