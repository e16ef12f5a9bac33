package reports

import (
	"fmt"
	"math"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cxload/cxload/harness/result"
)

// Interval is a percentile with its confidence interval, in the metric's
// unit, and the number of samples it was read from. A side the samples are
// too few to bound is open: the bound is past the smallest (LoOpen) or the
// largest (HiOpen) sample, and Lo or Hi holds that sample.
type Interval struct {
	Value  float64 `json:"value"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	LoOpen bool    `json:"loOpen,omitempty"`
	HiOpen bool    `json:"hiOpen,omitempty"`
	N      int64   `json:"n"`
}

// latencyDist is a latency distribution pooled from one or more histograms
// of the documents' geometry (result.NewHDR): merging them is exact, so a
// baseline of several runs holds every sample of every run.
type latencyDist struct {
	p *hdr.PackedHistogram
}

// add merges h into d.
func (d *latencyDist) add(h result.Histogram) error {
	p, err := h.Packed()
	if err != nil {
		return err
	}
	if d.p == nil {
		d.p = p.Clone()
		return nil
	}
	if dropped := d.p.Merge(p); dropped > 0 {
		return fmt.Errorf("%d values out of the histogram's range", dropped)
	}
	return nil
}

func (d *latencyDist) count() int64 {
	if d == nil || d.p == nil {
		return 0
	}
	return d.p.TotalCount()
}

// atRank returns the k-th smallest sample (1-based), in microseconds, as
// the histogram resolves it (the highest value equivalent to its bucket,
// as ValueAtPercentile reports percentiles).
func (d *latencyDist) atRank(k int64) float64 {
	n := d.p.TotalCount()
	// ValueAtPercentile resolves percentile q to rank floor(q/100·n + 0.5).
	return float64(d.p.ValueAtPercentile(100 * float64(k) / float64(n)))
}

// percentileCI returns the q-th percentile of d (0 < q < 100) and its
// distribution-free confidence interval at level conf, in milliseconds.
//
// The interval is that of order statistics: the number of samples below
// the true percentile is binomial(n, q/100), so the samples of ranks
// n·p ∓ z·√(n·p·(1−p)) (normal approximation, rounded outward) enclose it
// with probability conf. It assumes nothing about the shape of the
// distribution; it does assume the samples are independent.
func (d *latencyDist) percentileCI(q, conf float64) Interval {
	const scale = 1e-3 // µs (result.HistogramUnit) to ms
	n := d.count()
	iv := Interval{N: n}
	if n == 0 {
		return iv
	}
	p := q / 100
	z := normalQuantile(1 - (1-conf)/2)
	center := float64(n) * p
	half := z * math.Sqrt(float64(n)*p*(1-p))
	lo := int64(math.Floor(center - half))
	hi := int64(math.Ceil(center+half)) + 1
	iv.Value = float64(d.p.ValueAtPercentile(q)) * scale
	if lo < 1 {
		lo, iv.LoOpen = 1, true
	}
	if hi > n {
		hi, iv.HiOpen = n, true
	}
	iv.Lo = d.atRank(lo) * scale
	iv.Hi = d.atRank(hi) * scale
	return iv
}

// normalQuantile returns the standard normal quantile of probability p.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// MinTailSamples is the fewest samples beyond a percentile, in each run,
// for a verdict on it: the order-statistic interval assumes independent
// samples, and the slowest requests of a run are not (one stall of the
// machine delays every request in flight), so a percentile is judged only
// where several stalls' worth of samples lie beyond it. A p99 needs 2000
// requests, a median 40.
const MinTailSamples = 20

// intervalVerdict judges a change of the q-th percentile from old to new
// (lower is better): worse or better only when each side has
// MinTailSamples beyond the percentile, the two confidence intervals are
// disjoint (with open sides unbounded), and the change of the point values
// is at least the rule's minimum effect; "~" otherwise, with the reason.
func intervalVerdict(q float64, old, new Interval, rule Rule) (verdict, note string) {
	if n := min(old.N, new.N); float64(n)*(1-q/100) < MinTailSamples {
		return NoChange, fmt.Sprintf("too few samples (%d and %d) for %s: a verdict needs %d beyond it", old.N, new.N, PercentileName(q), MinTailSamples)
	}
	switch {
	case new.Lo > old.Hi && !new.LoOpen && !old.HiOpen:
		verdict = Worse
	case new.Hi < old.Lo && !new.HiOpen && !old.LoOpen:
		verdict = Better
	case old.HiOpen || old.LoOpen || new.HiOpen || new.LoOpen:
		return NoChange, fmt.Sprintf("too few samples (%d and %d) to bound %s", old.N, new.N, PercentileName(q))
	default:
		return NoChange, "confidence intervals overlap"
	}
	diff := math.Abs(new.Value - old.Value)
	if diff < rule.Abs || (old.Value != 0 && diff/math.Abs(old.Value) < rule.Rel) {
		return NoChange, "significant but under the minimum effect " + rule.String()
	}
	return verdict, ""
}

// withinRuns keeps a verdict on a percentile only when the new value also
// lies outside the range of the baseline runs' own values of it (each
// run's histogram alone): a change no larger than the runs of the baseline
// differ among themselves is noise between runs (a busy machine, another
// process), which the intervals of the pooled samples cannot see. With a
// baseline of one run there is no range, and the verdict stands.
func withinRuns(verdict string, v float64, runs []*latencyDist, q float64) (string, string) {
	if len(runs) < 2 {
		return verdict, ""
	}
	const scale = 1e-3
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range runs {
		x := float64(r.p.ValueAtPercentile(q)) * scale
		lo, hi = min(lo, x), max(hi, x)
	}
	if (verdict == Worse && v <= hi) || (verdict == Better && v >= lo) {
		return NoChange, fmt.Sprintf("within the range of the %d baseline runs (%s to %s)", len(runs), fmtMs(lo), fmtMs(hi))
	}
	return verdict, ""
}

// String formats the rule as on the command line: "10%+1".
func (r Rule) String() string {
	switch {
	case r.Rel > 0 && r.Abs > 0:
		return fmt.Sprintf("%g%%+%g", r.Rel*100, r.Abs)
	case r.Abs > 0:
		return fmt.Sprintf("%g", r.Abs)
	default:
		return fmt.Sprintf("%g%%", r.Rel*100)
	}
}

// fmtCI formats a metric's value, and, for a percentile compared from
// histograms, its interval: "43.1ms [41.6ms, 44.3ms]"; an open side shows
// the sample past which it lies, "[41.6ms, >620ms]".
func fmtCI(v float64, ci *Interval, unit string) string {
	s := fmtMetric(v, unit)
	if ci == nil {
		return s
	}
	lo, hi := fmtMetric(ci.Lo, unit), fmtMetric(ci.Hi, unit)
	if ci.LoOpen {
		lo = "<" + lo
	}
	if ci.HiOpen {
		hi = ">" + hi
	}
	return s + " [" + lo + ", " + hi + "]"
}
