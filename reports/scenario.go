package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/result"
)

// Percentiles are the percentiles reported per operation.
var Percentiles = []float64{50, 90, 95, 99, 99.9}

// OpSummary is the headline of one operation of a scenario.
type OpSummary struct {
	Op        string             `json:"op"`
	Count     int64              `json:"count"`
	Throttled int64              `json:"throttled"`
	Errors    int64              `json:"errors"`   // HTTP errors other than 429, 5xx, transport errors
	Canceled  int64              `json:"canceled"` // requests cut short by the end of the run
	RPS       float64            `json:"rps"`      // count per second of the document's duration
	Rate429   float64            `json:"rate429"`
	LatencyMs map[string]float64 `json:"latencyMs,omitempty"` // "p50"... "max": total time, from the intended send
	ServiceMs map[string]float64 `json:"serviceMs,omitempty"` // same for the service time of the answering attempt
	// WaitShare is the share of the total time not spent in the answering
	// attempt: client-side limiter waits, earlier attempts and Retry-After
	// waits, queueing behind the load generator (1 - mean service / mean
	// total); 0 when unknown.
	WaitShare float64 `json:"waitShare"`
}

// Summary is the headline of one scenario: the numbers a report shows.
type Summary struct {
	Scenario  string      `json:"scenario"`
	Cell      string      `json:"cell,omitempty"`
	Seconds   float64     `json:"seconds"`
	Requests  int64       `json:"requests"`
	Throttled int64       `json:"throttled"`
	Errors    int64       `json:"errors"`
	Canceled  int64       `json:"canceled"`
	RPS       float64     `json:"rps"`
	Rate429   float64     `json:"rate429"`
	Ops       []OpSummary `json:"ops"`
	// WebSocket figures, when the scenario used notifications.
	WebSocket *result.WebSocketStats `json:"websocket,omitempty"`
	PushMs    map[string]float64     `json:"pushMs,omitempty"`
	// ThresholdsFailed counts failed thresholds.
	ThresholdsFailed int `json:"thresholdsFailed"`
}

// Summarize computes the headline of s. Percentiles come from the
// document's histograms (after shards were merged, from the merged
// histograms).
func Summarize(s *Scenario) (Summary, error) {
	d := s.Doc
	if d == nil {
		return Summary{Scenario: s.Name, Cell: s.Cell()}, fmt.Errorf("reports: scenario %s: no result document (a compacted history entry)", s.Name)
	}
	sum := Summary{Scenario: s.Name, Cell: s.Cell(), WebSocket: d.WebSocket}
	if !d.Start.IsZero() && d.End.After(d.Start) {
		sum.Seconds = d.End.Sub(d.Start).Seconds()
	}
	for _, o := range d.Operations {
		op := OpSummary{Op: o.Op, Count: o.Count}
		op.Throttled = o.Outcome(result.Throttled)
		op.Errors = o.Errors()
		op.Canceled = o.Outcome(result.Canceled)
		if sum.Seconds > 0 {
			op.RPS = float64(o.Count) / sum.Seconds
		}
		if o.Count > 0 {
			op.Rate429 = float64(op.Throttled) / float64(o.Count)
		}
		var err error
		if op.LatencyMs, err = percentilesMs(o.Total); err != nil {
			return sum, fmt.Errorf("reports: scenario %s: operations[%s].total: %w", s.Name, o.Op, err)
		}
		if op.ServiceMs, err = percentilesMs(o.Latency); err != nil {
			return sum, fmt.Errorf("reports: scenario %s: operations[%s].latency: %w", s.Name, o.Op, err)
		}
		if mt, ms := o.Total.Mean(), o.Latency.Mean(); mt > 0 && o.Total.Count() > 0 && o.Latency.Count() > 0 {
			op.WaitShare = min(1, max(0, 1-float64(ms)/float64(mt)))
		}
		sum.Requests += o.Count
		sum.Throttled += op.Throttled
		sum.Errors += op.Errors
		sum.Canceled += op.Canceled
		sum.Ops = append(sum.Ops, op)
	}
	if sum.Seconds > 0 {
		sum.RPS = float64(sum.Requests) / sum.Seconds
	}
	if sum.Requests > 0 {
		sum.Rate429 = float64(sum.Throttled) / float64(sum.Requests)
	}
	if d.WebSocket != nil {
		var err error
		if sum.PushMs, err = percentilesMs(d.WebSocket.PushLatency); err != nil {
			return sum, fmt.Errorf("reports: scenario %s: websocket.pushLatency: %w", s.Name, err)
		}
	}
	for _, th := range d.Thresholds {
		if !th.OK {
			sum.ThresholdsFailed++
		}
	}
	return sum, nil
}

func percentilesMs(h result.Histogram) (map[string]float64, error) {
	if h.Data == "" {
		return nil, nil
	}
	q, err := h.Quantiles(Percentiles...)
	if err != nil || q.Count == 0 {
		return nil, err
	}
	const scale = 1e-3 // µs (result.HistogramUnit) to ms
	m := make(map[string]float64, len(Percentiles)+1)
	for i, p := range Percentiles {
		m[PercentileName(p)] = float64(q.Values[i]) * scale
	}
	m["max"] = float64(q.Max) * scale
	return m, nil
}

// PercentileName returns "p50", "p99", "p99.9".
func PercentileName(p float64) string {
	return "p" + trimFloat(p)
}

func trimFloat(f float64) string {
	return fmt.Sprintf("%g", f)
}

// percentileCurve returns (percentile, ms) points of h for a latency
// percentile chart: 0 to 99.99 on a log scale of 1/(1-p).
func percentileCurve(h result.Histogram) ([][2]float64, error) {
	if h.Data == "" {
		return nil, nil
	}
	ps := []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99}
	q, err := h.Quantiles(ps...)
	if err != nil || q.Count == 0 {
		return nil, err
	}
	const scale = 1e-3 // µs (result.HistogramUnit) to ms
	var pts [][2]float64
	for i, p := range ps {
		pts = append(pts, [2]float64{p, float64(q.Values[i]) * scale})
	}
	pts = append(pts, [2]float64{100, float64(q.Max) * scale})
	return pts, nil
}

// ScenarioMetric is one number of a scenario that comparisons and trends
// follow.
type ScenarioMetric struct {
	Scenario string  `json:"scenario"`
	Cell     string  `json:"cell,omitempty"`
	Metric   string  `json:"metric"` // e.g. "p99 recording.set", "throughput", "429 rate"
	Unit     string  `json:"unit"`   // "ms", "req/s", "%", "count"
	Value    float64 `json:"value"`
	// Better is "lower" or "higher".
	Better string `json:"better"`
}

// Key identifies the metric across runs.
func (m ScenarioMetric) Key() string { return m.Scenario + "\x00" + m.Cell + "\x00" + m.Metric }

// Metrics returns the scenario metrics of r, in a stable order: per
// scenario, p99 per operation, throughput, 429 rate, then WebSocket
// heartbeat gap, drops and lost events. They are computed once, when the
// run is built or its shards merged, and kept in Run.Metrics, so that
// trends over a long history do not decode every histogram again.
func Metrics(r *Run) ([]ScenarioMetric, []error) {
	if r.Metrics != nil || r.Compacted || len(r.Scenarios) == 0 {
		return r.Metrics, nil
	}
	return scenarioMetrics(r)
}

func scenarioMetrics(r *Run) ([]ScenarioMetric, []error) {
	var out []ScenarioMetric
	var errs []error
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		sum, err := Summarize(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add := func(metric, unit, better string, v float64) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return
			}
			out = append(out, ScenarioMetric{Scenario: s.Name, Cell: sum.Cell, Metric: metric, Unit: unit, Value: v, Better: better})
		}
		for _, op := range sum.Ops {
			if v, ok := op.LatencyMs["p99"]; ok {
				add("p99 "+op.Op, "ms", "lower", v)
			}
		}
		add("throughput", "req/s", "higher", sum.RPS)
		add("429 rate", "%", "lower", sum.Rate429*100)
		if ws := sum.WebSocket; ws != nil {
			add("max heartbeat gap", "ms", "lower", ws.MaxHeartbeatGapMs)
			add("websocket drops", "count", "lower", float64(ws.Drops))
			add("events lost", "count", "lower", float64(ws.Lost))
		}
	}
	return out, errs
}

// fmtMs formats milliseconds for people: "0.42ms", "12.3ms", "1.25s".
func fmtMs(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	default:
		return fmt.Sprintf("%.3gms", ms)
	}
}

// limitRow is one row of a scenario's rate-limit table: the scenario's
// finding, or, where it recorded none, the inference from its 429s.
type limitRow struct {
	Key, Allowed, WindowFrom, Scope, Evidence string
	Rejected                                  int64
	First                                     string // first 429, relative to the start
	Source                                    string // "finding (how)" or "inferred from the 429s; no finding recorded"
	Inferred                                  bool
	Disagrees                                 string // where the 429s disagree with the finding
}

// InferredNote is what a rate-limit row says when the scenario recorded no
// finding for the limit.
const InferredNote = "inferred from the 429s; no finding recorded"

func limitRows(d *result.Document) []limitRow {
	var rows []limitRow
	for _, a := range d.Limits() {
		r := limitRow{Key: a.Key, Allowed: perWindow(a.Allowed, a.WindowSeconds), WindowFrom: a.WindowSource, Scope: a.Scope,
			Evidence: a.ScopeReason, Inferred: a.Inferred(), Source: InferredNote}
		if r.Key == "" {
			r.Key = "(unnamed)"
		}
		if f := a.Finding; f != nil {
			r.Source = "finding"
			if f.Method != "" {
				r.Source += " (" + f.Method + ")"
			}
		}
		if rl := a.Observed; rl != nil {
			r.Rejected = rl.Rejected
			if !rl.FirstRejection.IsZero() && !d.Start.IsZero() {
				r.First = "+" + rl.FirstRejection.Sub(d.Start).Round(100*time.Millisecond).String()
			}
			if rl.Source == "client-side" {
				r.Source += ", client-side limiter"
			}
		}
		if len(a.Disagreements) > 0 {
			r.Disagrees = "the 429s disagree: " + strings.Join(a.Disagreements, "; ")
		}
		rows = append(rows, r)
	}
	return rows
}

// headline is a scenario's answer as a short list: each finding (the
// limit, its figure, what to change), then the scenario's own headline.
func headline(d *result.Document) []string {
	var out []string
	for _, f := range d.Findings {
		out = append(out, f.String())
	}
	return append(out, d.Headline...)
}

// thresholdExpr returns a threshold expression with its latency figure
// named, as documents written before figures were named lack it
// ("p99(op) < 1s" judged the service time).
func thresholdExpr(expr string) string {
	if th, err := result.ParseThreshold(expr); err == nil {
		return th.String()
	}
	return expr
}
