package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/cxload/cxload/harness/result"
)

// Verdicts of a comparison.
const (
	Better    = "better"
	Worse     = "worse"
	NoChange  = "~"
	Missing   = "missing" // in the baseline, not in the new run
	NewMetric = "new"     // in the new run, not in the baseline
)

// CompareOptions configure Compare. The zero value uses the defaults.
type CompareOptions struct {
	// Alpha is the significance level of the Mann-Whitney U test:
	// a benchmark changed only if p < Alpha. Default DefaultAlpha.
	Alpha float64
	// Confidence is the level of the confidence intervals around
	// benchmark centers and latency percentiles. Default 0.95.
	Confidence float64
	// MinEffect is the smallest change of a benchmark center, in
	// percent, that counts as better or worse even when significant.
	// The default 0 makes verdicts agree with benchstat's.
	MinEffect float64
	// Rules are the minimum effects of scenario metrics, by metric
	// kind; nil means DefaultRules.
	Rules map[string]Rule
}

// DefaultAlpha is the default significance level, as benchstat's.
const DefaultAlpha = 0.05

// Rule is the minimum effect of a scenario metric: to count as better or
// worse, its change must be at least Abs (in the metric's unit) and at
// least Rel (a fraction of the old value). A latency percentile must also
// have changed significantly (see TestPercentileCI).
type Rule struct {
	Rel float64 `json:"rel,omitempty"`
	Abs float64 `json:"abs,omitempty"`
}

// DefaultRules are the minimum effects of scenario metrics by kind (the
// metric name up to the first space, after the figure: kind p99 for
// "total p99 <op>" and "service p99 <op>").
var DefaultRules = map[string]Rule{
	"p50":               {Rel: 0.10, Abs: 0.5}, // 10% and at least 0.5 ms
	"p99":               {Rel: 0.10, Abs: 1},   // 10% and at least 1 ms
	"throughput":        {Rel: 0.10},           // 10%
	"429 rate":          {Abs: 1},              // one percentage point
	"max heartbeat gap": {Rel: 0.20, Abs: 1e3}, // 20% and at least a second
	"websocket drops":   {Abs: 1},              // any
	"events lost":       {Abs: 1},              // any
}

func ruleFor(rules map[string]Rule, metric string) Rule {
	if r, ok := rules[metric]; ok {
		return r
	}
	metric = strings.TrimPrefix(metric, "service ") // "service p50 <op>": kind p50
	metric = strings.TrimPrefix(metric, "total ")
	kind, _, _ := strings.Cut(metric, " ")
	if r, ok := rules[kind]; ok {
		return r
	}
	return Rule{Rel: 0.10}
}

// Comparison is the result of comparing a run with a baseline.
// Benchmarks and Metrics are sorted regressions first.
type Comparison struct {
	Baseline   string        `json:"baseline"` // what the baseline is, e.g. "run 2026...", "median of 5 runs"
	BaseIDs    []string      `json:"baseIds,omitempty"`
	NewID      string        `json:"newId,omitempty"`
	Alpha      float64       `json:"alpha"`
	MinEffect  float64       `json:"minEffectPct"`
	Benchmarks []BenchDelta  `json:"benchmarks,omitempty"`
	Metrics    []MetricDelta `json:"metrics,omitempty"`
	Warnings   []string      `json:"warnings,omitempty"`
	// Confidence is the level of the intervals; Rules the minimum effects
	// the comparison used, which change points use too.
	Confidence float64         `json:"confidence,omitempty"`
	Rules      map[string]Rule `json:"-"`
}

func (c *Comparison) confidence() float64 { return cmp.Or(c.Confidence, 0.95) }

// Center is a benchmark sample's center (the median) with its confidence
// interval and sample count.
type Center struct {
	Center float64 `json:"center"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	N      int     `json:"n"`
}

// BenchDelta compares one benchmark in one unit.
type BenchDelta struct {
	Package string `json:"package,omitempty"`
	Name    string `json:"name"`
	Unit    string `json:"unit"`
	Old     Center `json:"old"`
	New     Center `json:"new"`
	// DeltaPct is the change of the center in percent; it is set even
	// when the change is not significant.
	DeltaPct float64 `json:"deltaPct"`
	// Delta is benchstat's rendering: "+12.34%", "-5.00%", or "~" when
	// the change is not significant.
	Delta string  `json:"delta"`
	P     float64 `json:"p"`
	// Stat is benchstat's test summary, "p=0.002 n=6".
	Stat    string `json:"stat"`
	Verdict string `json:"verdict"` // better, worse, ~
	// Note explains a "~" that is significant but under MinEffect, and
	// carries benchmath's warnings.
	Note string `json:"note,omitempty"`
}

// MetricDelta compares one scenario metric.
type MetricDelta struct {
	Scenario string  `json:"scenario"`
	Cell     string  `json:"cell,omitempty"`
	Metric   string  `json:"metric"` // as MetricLabel names it: "total p99 <op>", "service p50 <op>", "throughput"
	Unit     string  `json:"unit"`
	Better   string  `json:"better"` // lower or higher
	Old      float64 `json:"old"`
	New      float64 `json:"new"`
	DeltaPct float64 `json:"deltaPct"` // NaN-free: 0 when old is 0
	// Rule is the minimum effect: a change smaller than it is "~".
	Rule    Rule   `json:"rule"`
	Verdict string `json:"verdict"`
	// Test says how the verdict was reached: TestPercentileCI,
	// TestPooled or TestThreshold.
	Test string `json:"test,omitempty"`
	// OldCI and NewCI are the percentile's confidence intervals, for
	// TestPercentileCI.
	OldCI *Interval `json:"oldCi,omitempty"`
	NewCI *Interval `json:"newCi,omitempty"`
	// Note explains a "~" of TestPercentileCI: overlapping intervals, too
	// few samples, or a change under the minimum effect.
	Note string `json:"note,omitempty"`
}

// How a scenario metric was compared (MetricDelta.Test).
const (
	// TestPercentileCI: a latency percentile read from the histograms
	// of the baseline (all runs merged) and of the new run, each with its
	// order-statistic confidence interval; a change counts when the
	// intervals are disjoint and the change is at least the rule.
	TestPercentileCI = "percentile CI"
	// TestPooled: a rate of all the baseline runs' requests together
	// (throughput, 429 rate), against the rule.
	TestPooled = "pooled"
	// TestThreshold: the median of the baseline runs' values against the
	// rule, where no histograms or documents are left (a compacted
	// history) or for counts (WebSocket drops, lost events).
	TestThreshold = "threshold"
)

// Regressions returns the number of worse benchmarks and metrics.
func (c *Comparison) Regressions() int {
	n := 0
	for _, b := range c.Benchmarks {
		if b.Verdict == Worse {
			n++
		}
	}
	for _, m := range c.Metrics {
		if m.Verdict == Worse {
			n++
		}
	}
	return n
}

// HigherIsBetter reports whether a larger value of a benchmark unit is an
// improvement: rates (units ending in "/s") are; times, sizes and counts
// per op are not.
func HigherIsBetter(unit string) bool {
	return strings.HasSuffix(unit, "/s")
}

// Compare compares cur with a baseline of one or more runs. With several
// baseline runs (the last N), benchmark samples are pooled, latency
// histograms merged and throughput and 429 rate computed over all their
// requests; the other scenario metrics' baseline is the median of their
// values (see MetricDelta.Test).
func Compare(base []*Run, cur *Run, opt CompareOptions) *Comparison {
	if opt.Alpha == 0 {
		opt.Alpha = DefaultAlpha
	}
	if opt.Confidence == 0 {
		opt.Confidence = 0.95
	}
	if opt.Rules == nil {
		opt.Rules = DefaultRules
	}
	c := &Comparison{Alpha: opt.Alpha, MinEffect: opt.MinEffect, NewID: cur.ID, Confidence: opt.Confidence, Rules: opt.Rules}
	for _, r := range base {
		c.BaseIDs = append(c.BaseIDs, r.ID)
	}
	switch len(base) {
	case 0:
		c.Baseline = "none"
	case 1:
		c.Baseline = "run " + base[0].ID
	default:
		c.Baseline = fmt.Sprintf("median of %d runs", len(base))
	}
	c.Benchmarks = compareBenchmarks(base, cur, opt)
	var errs []error
	c.Metrics, errs = compareMetrics(base, cur, opt)
	for _, err := range errs {
		c.Warnings = append(c.Warnings, err.Error())
	}
	return c
}

func verdictRank(v string) int {
	switch v {
	case Worse:
		return 0
	case Better:
		return 1
	case NoChange:
		return 2
	case NewMetric:
		return 3
	default:
		return 4
	}
}

func compareBenchmarks(base []*Run, cur *Run, opt CompareOptions) []BenchDelta {
	type key struct{ pkg, name, unit string }
	old := make(map[key][]float64)
	var order []key
	for _, r := range base {
		for _, b := range r.Benchmarks {
			k := key{b.Package, b.Name, b.Unit}
			if _, ok := old[k]; !ok {
				order = append(order, k)
			}
			old[k] = append(old[k], b.Values...)
		}
	}
	thr := benchmath.DefaultThresholds
	thr.CompareAlpha = opt.Alpha
	var out []BenchDelta
	seen := make(map[key]bool)
	for _, b := range cur.Benchmarks {
		k := key{b.Package, b.Name, b.Unit}
		seen[k] = true
		ov, ok := old[k]
		if !ok {
			s := benchmath.NewSample(slices.Clone(b.Values), &thr)
			sum := benchmath.AssumeNothing.Summary(s, opt.Confidence)
			out = append(out, BenchDelta{Package: b.Package, Name: b.Name, Unit: b.Unit,
				New: Center{sum.Center, sum.Lo, sum.Hi, len(b.Values)}, Delta: "", Verdict: NewMetric})
			continue
		}
		out = append(out, compareSamples(b.Package, b.Name, b.Unit, ov, b.Values, &thr, opt))
	}
	for _, k := range order {
		if !seen[k] {
			s := benchmath.NewSample(slices.Clone(old[k]), &thr)
			sum := benchmath.AssumeNothing.Summary(s, opt.Confidence)
			out = append(out, BenchDelta{Package: k.pkg, Name: k.name, Unit: k.unit,
				Old: Center{sum.Center, sum.Lo, sum.Hi, len(old[k])}, Verdict: Missing})
		}
	}
	slices.SortStableFunc(out, func(a, b BenchDelta) int { return cmp.Compare(verdictRank(a.Verdict), verdictRank(b.Verdict)) })
	return out
}

// compareSamples compares two samples as benchstat does: medians with
// confidence intervals, Mann-Whitney U, "~" when p > alpha.
func compareSamples(pkg, name, unit string, oldV, newV []float64, thr *benchmath.Thresholds, opt CompareOptions) BenchDelta {
	// NewSample sorts in place: give it copies.
	os := benchmath.NewSample(slices.Clone(oldV), thr)
	ns := benchmath.NewSample(slices.Clone(newV), thr)
	a := benchmath.AssumeNothing
	osum, nsum := a.Summary(os, opt.Confidence), a.Summary(ns, opt.Confidence)
	cmpRes := a.Compare(os, ns)
	d := BenchDelta{
		Package: pkg, Name: name, Unit: unit,
		Old:   Center{osum.Center, osum.Lo, osum.Hi, len(oldV)},
		New:   Center{nsum.Center, nsum.Lo, nsum.Hi, len(newV)},
		Delta: cmpRes.FormatDelta(osum.Center, nsum.Center),
		P:     cmpRes.P,
		Stat:  cmpRes.String(),
	}
	if osum.Center != 0 {
		d.DeltaPct = (nsum.Center/osum.Center - 1) * 100
	}
	var notes []string
	for _, w := range cmpRes.Warnings {
		notes = append(notes, w.Error())
	}
	switch {
	case d.Delta == "~" || d.Delta == "?" || d.DeltaPct == 0:
		d.Verdict = NoChange
	case math.Abs(d.DeltaPct) < opt.MinEffect:
		d.Verdict = NoChange
		notes = append(notes, fmt.Sprintf("significant but under the minimum effect of %g%%", opt.MinEffect))
	case (d.DeltaPct > 0) == HigherIsBetter(unit):
		d.Verdict = Better
	default:
		d.Verdict = Worse
	}
	d.Note = strings.Join(notes, "; ")
	return d
}

// MetricLabel names a scenario metric as reports show it: a latency
// percentile always with its figure, as in the per-operation tables. The
// total time's p99, stored as ScenarioMetric "p99 <op>", is "total p99 <op>";
// "service p50 <op>" and other metrics are unchanged.
func MetricLabel(metric string) string {
	if strings.HasPrefix(metric, "p50 ") || strings.HasPrefix(metric, "p99 ") {
		return "total " + metric
	}
	return metric
}

// latencyRows are the latency percentiles compared from the recorded
// histograms, per operation: the service time's median, which a slower
// route moves even where client-side waits make up the total time, the
// service time's p99, and the total time's p99 that trends follow
// (ScenarioMetric "p99 <op>", shown as MetricLabel's "total p99 <op>").
var latencyRows = []struct {
	figure string // "service" (OpStats.Latency) or "total" (OpStats.Total)
	q      float64
	prefix string // of the metric's name
}{
	{"service", 50, "service p50 "},
	{"service", 99, "service p99 "},
	{"total", 99, "total p99 "},
}

// pooled is what the baseline runs hold of one scenario and cell, all runs
// together: latency histograms per figure and operation, merged, and each
// run's own; and the totals the rates are computed from.
type pooled struct {
	lat                 map[string]*latencyDist   // by figure + "\x00" + operation
	perRun              map[string][]*latencyDist // the same, one per run
	requests, throttled int64
	seconds             float64
	partial             bool // a run's document was compacted away
}

// poolBaseline merges, per scenario and cell, the documents of the
// baseline runs; runs without documents (compacted) add nothing.
func poolBaseline(base []*Run) (map[[2]string]*pooled, []error) {
	out := make(map[[2]string]*pooled)
	var errs []error
	for _, r := range base {
		for i := range r.Scenarios {
			s := &r.Scenarios[i]
			k := [2]string{s.Name, s.Cell()}
			p := out[k]
			if p == nil {
				p = &pooled{lat: make(map[string]*latencyDist), perRun: make(map[string][]*latencyDist)}
				out[k] = p
			}
			if s.Doc == nil {
				p.partial = true
				continue
			}
			if err := p.addDoc(s.Doc); err != nil {
				errs = append(errs, fmt.Errorf("reports: baseline run %s, scenario %s: %w", r.ID, s.Name, err))
			}
		}
	}
	return out, errs
}

func (p *pooled) addDoc(d *result.Document) error {
	if !d.Start.IsZero() && d.End.After(d.Start) {
		p.seconds += d.End.Sub(d.Start).Seconds()
	}
	for _, o := range d.Operations {
		p.requests += o.Count
		p.throttled += o.Outcome(result.Throttled)
		for _, f := range []struct {
			name string
			h    result.Histogram
		}{{"service", o.Latency}, {"total", o.Total}} {
			if f.h.Data == "" {
				continue
			}
			k := f.name + "\x00" + o.Op
			one := new(latencyDist)
			if err := one.add(f.h); err != nil {
				return fmt.Errorf("operations[%s].%s: %w", o.Op, f.name, err)
			}
			p.perRun[k] = append(p.perRun[k], one)
			ld := p.lat[k]
			if ld == nil {
				ld = new(latencyDist)
				p.lat[k] = ld
			}
			if err := ld.add(f.h); err != nil {
				return fmt.Errorf("operations[%s].%s: %w", o.Op, f.name, err)
			}
		}
	}
	return nil
}

func compareMetrics(base []*Run, cur *Run, opt CompareOptions) ([]MetricDelta, []error) {
	curM, errs := Metrics(cur)
	vals := make(map[string][]float64)
	meta := make(map[string]ScenarioMetric)
	var order []string
	for _, r := range base {
		ms, _ := Metrics(r)
		for _, m := range ms {
			k := m.Key()
			if _, ok := vals[k]; !ok {
				order = append(order, k)
				meta[k] = m
			}
			vals[k] = append(vals[k], m.Value)
		}
	}
	oldPool, perrs := poolBaseline(base)
	errs = append(errs, perrs...)
	curPool, cerrs := poolBaseline([]*Run{cur})
	errs = append(errs, cerrs...)
	// pools returns the pooled baseline and the new run of m's scenario
	// when every run has its document, so that the pool holds all the
	// samples.
	pools := func(m ScenarioMetric) (*pooled, *pooled) {
		k := [2]string{m.Scenario, m.Cell}
		o, c := oldPool[k], curPool[k]
		if o == nil || c == nil || o.partial || c.partial {
			return nil, nil
		}
		return o, c
	}
	var out []MetricDelta
	seen := make(map[string]bool)
	for _, m := range curM {
		k := m.Key()
		seen[k] = true
		d := MetricDelta{Scenario: m.Scenario, Cell: m.Cell, Metric: MetricLabel(m.Metric), Unit: m.Unit, Better: m.Better, New: m.Value, Rule: ruleFor(opt.Rules, m.Metric)}
		ov, ok := vals[k]
		if !ok {
			d.Verdict = NewMetric
			out = append(out, d)
			continue
		}
		d.Old = median(ov)
		d.Test = TestThreshold
		op, isLat := strings.CutPrefix(m.Metric, "p99 ")
		o, c := pools(m)
		switch {
		case isLat && o != nil && o.lat["total\x00"+op].count() > 0 && c.lat["total\x00"+op].count() > 0:
			for _, row := range latencyRows {
				k := row.figure + "\x00" + op
				if o.lat[k].count() == 0 || c.lat[k].count() == 0 {
					continue
				}
				dq := d
				dq.Metric = row.prefix + op
				dq.Rule = ruleFor(opt.Rules, dq.Metric)
				dq.Test = TestPercentileCI
				oi, ni := o.lat[k].percentileCI(row.q, opt.Confidence), c.lat[k].percentileCI(row.q, opt.Confidence)
				dq.OldCI, dq.NewCI = &oi, &ni
				dq.Old, dq.New = oi.Value, ni.Value
				dq.Verdict, dq.Note = intervalVerdict(row.q, oi, ni, dq.Rule)
				if dq.Verdict != NoChange {
					dq.Verdict, dq.Note = withinRuns(dq.Verdict, ni.Value, o.perRun[k], row.q)
				}
				dq.DeltaPct = deltaPct(dq.Old, dq.New)
				out = append(out, dq)
			}
			continue
		case m.Metric == "throughput" && o != nil && o.seconds > 0:
			d.Old = float64(o.requests) / o.seconds
			d.Test = TestPooled
		case m.Metric == "429 rate" && o != nil && o.requests > 0:
			d.Old = float64(o.throttled) / float64(o.requests) * 100
			d.Test = TestPooled
		}
		d.DeltaPct = deltaPct(d.Old, d.New)
		d.Verdict = metricVerdict(d.Old, d.New, m.Better, d.Rule)
		out = append(out, d)
	}
	for _, k := range order {
		if !seen[k] {
			m := meta[k]
			out = append(out, MetricDelta{Scenario: m.Scenario, Cell: m.Cell, Metric: MetricLabel(m.Metric), Unit: m.Unit, Better: m.Better, Old: median(vals[k]), Rule: ruleFor(opt.Rules, m.Metric), Verdict: Missing})
		}
	}
	slices.SortStableFunc(out, func(a, b MetricDelta) int { return cmp.Compare(verdictRank(a.Verdict), verdictRank(b.Verdict)) })
	return out, errs
}

func deltaPct(old, new float64) float64 {
	if old == 0 {
		return 0
	}
	return (new/old - 1) * 100
}

func metricVerdict(old, new float64, better string, rule Rule) string {
	diff := new - old
	if diff == 0 || math.Abs(diff) < rule.Abs {
		return NoChange
	}
	if old != 0 && math.Abs(diff)/math.Abs(old) < rule.Rel {
		return NoChange
	}
	if (diff > 0) == (better == "higher") {
		return Better
	}
	return Worse
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ParseRule parses a scenario metric's minimum effect "KIND=RULE" as given
// to the -threshold flag: KIND is a metric kind of DefaultRules ("p50",
// "p99" (each for the service and the total time), "throughput",
// "429 rate", "max heartbeat gap", "websocket drops", "events lost") and
// RULE a relative change "10%", an absolute change in the metric's unit
// "2", or both "10%+2" (both must be crossed).
func ParseRule(s string) (kind string, r Rule, err error) {
	kind, spec, ok := strings.Cut(s, "=")
	kind = strings.TrimSpace(kind)
	if !ok || kind == "" || strings.TrimSpace(spec) == "" {
		return "", r, fmt.Errorf("reports: threshold %q: want KIND=RULE, e.g. p99=5%% or \"websocket drops=1\" or p99=5%%+2", s)
	}
	if _, known := DefaultRules[kind]; !known {
		kinds := make([]string, 0, len(DefaultRules))
		for k := range DefaultRules {
			kinds = append(kinds, fmt.Sprintf("%q", k))
		}
		slices.Sort(kinds)
		return "", r, fmt.Errorf("reports: threshold %q: unknown metric kind %q; known: %s", s, kind, strings.Join(kinds, ", "))
	}
	for _, part := range strings.Split(spec, "+") {
		part = strings.TrimSpace(part)
		rel := strings.HasSuffix(part, "%")
		v, perr := strconv.ParseFloat(strings.TrimSuffix(part, "%"), 64)
		if perr != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return "", r, fmt.Errorf("reports: threshold %q: %q is not a percentage (5%%) or a number >= 0", s, part)
		}
		if rel {
			r.Rel = v / 100
		} else {
			r.Abs = v
		}
	}
	return kind, r, nil
}
