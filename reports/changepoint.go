package reports

import (
	"cmp"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// ChangePointOptions configure change-point detection. The zero value uses
// the defaults.
type ChangePointOptions struct {
	// Alpha is the significance level of the permutation test of each
	// change point. Default DefaultChangePointAlpha.
	Alpha float64
	// Permutations is the number of permutations per test. Default
	// DefaultPermutations.
	Permutations int
	// MinSize is the fewest runs on each side of a change point. Default
	// DefaultMinSegment; at least 2.
	MinSize int
	// MaxRuns bounds the history searched: the newest MaxRuns runs.
	// Default DefaultChangePointRuns.
	MaxRuns int
	// Seed seeds the permutations: the same history and seed give the
	// same change points.
	Seed uint64
	// Rules are the minimum effects by metric kind between the medians
	// before and after a change point, as in comparisons; nil means
	// DefaultRules.
	Rules map[string]Rule
}

// Defaults of ChangePointOptions.
const (
	// DefaultChangePointAlpha is strict because every metric of every
	// scenario is searched, and each change point found adds a test.
	DefaultChangePointAlpha = 0.005
	DefaultPermutations     = 999 // the smallest p-value is 1/1000
	DefaultMinSegment       = 3
	DefaultChangePointRuns  = 100
)

func (o ChangePointOptions) withDefaults() ChangePointOptions {
	o.Alpha = cmp.Or(o.Alpha, DefaultChangePointAlpha)
	o.Permutations = cmp.Or(o.Permutations, DefaultPermutations)
	o.MinSize = max(cmp.Or(o.MinSize, DefaultMinSegment), 2)
	o.MaxRuns = cmp.Or(o.MaxRuns, DefaultChangePointRuns)
	if o.Rules == nil {
		o.Rules = DefaultRules
	}
	return o
}

// Split is a change point in a series: the index of the first value after
// the shift, and the p-value of its permutation test.
type Split struct {
	Index int     `json:"index"`
	P     float64 `json:"p"`
}

// EDivisive finds the change points of x with the E-divisive means method
// (Matteson and James, 2014; as in Apache Otava, formerly Hunter): it splits
// x where the energy distance between the two sides is largest, keeps the
// split when a permutation test finds it significant, and searches each
// side again, until no significant split remains. It makes no assumption on
// the distribution of the values. Splits are returned by index, ascending.
func EDivisive(x []float64, opt ChangePointOptions) []Split {
	opt = opt.withDefaults()
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	bounds := []int{0, len(x)} // segment boundaries, ascending
	var splits []Split
	for {
		best, bestQ, seg := -1, 0.0, -1
		for s := 0; s+1 < len(bounds); s++ {
			tau, q := bestSplit(x[bounds[s]:bounds[s+1]], opt.MinSize)
			if tau >= 0 && q > bestQ {
				best, bestQ, seg = bounds[s]+tau, q, s
			}
		}
		if best < 0 {
			break
		}
		p := permutationP(x[bounds[seg]:bounds[seg+1]], bestQ, opt, rng)
		if p > opt.Alpha {
			break
		}
		splits = append(splits, Split{Index: best, P: p})
		bounds = append(bounds, best)
		slices.Sort(bounds)
	}
	slices.SortFunc(splits, func(a, b Split) int { return cmp.Compare(a.Index, b.Index) })
	return splits
}

// bestSplit returns the split of v (the index of the first value of the
// right side) with the largest energy statistic of Matteson and James
//
//	Q(τ,κ) = m·k/(m+k) · (2/(m·k)·Σ|xᵢ−yⱼ| − Σ|xᵢ−xⱼ|/C(m,2) − Σ|yᵢ−yⱼ|/C(k,2))
//
// of X = v[:τ] and Y = v[τ:κ], both of at least minSize values, and that
// Q; -1 if v is too short. Letting Y end before v does (κ) finds a shift
// that a later one undoes: up, then down again.
func bestSplit(v []float64, minSize int) (int, float64) {
	n := len(v)
	if n < 2*minSize {
		return -1, 0
	}
	// col[j][i] = Σ_{i'<i} |v_i' − v_j|, for i ≤ j.
	col := make([][]float64, n)
	for j := range n {
		c := make([]float64, j+1)
		for i := 1; i <= j; i++ {
			c[i] = c[i-1] + math.Abs(v[i-1]-v[j])
		}
		col[j] = c
	}
	best, bestQ := -1, 0.0
	withinX := 0.0 // Σ over pairs in v[:tau]
	for tau := 1; tau <= n-minSize; tau++ {
		withinX += col[tau-1][tau-1]
		if tau < minSize {
			continue
		}
		m := float64(tau)
		between, withinY := 0.0, 0.0
		for kappa := tau + 1; kappa <= n; kappa++ {
			j := kappa - 1 // joins Y
			between += col[j][tau]
			withinY += col[j][j] - col[j][tau]
			k := float64(kappa - tau)
			if kappa-tau < minSize {
				continue
			}
			e := 2*between/(m*k) - withinX/(m*(m-1)/2) - withinY/(k*(k-1)/2)
			if q := m * k / (m + k) * e; q > bestQ {
				best, bestQ = tau, q
			}
		}
	}
	return best, bestQ
}

// permutationP is the share of random orders of v whose best split is at
// least q, counting v itself: (1+hits)/(1+permutations). It stops early
// once the split can no longer be significant.
func permutationP(v []float64, q float64, opt ChangePointOptions, rng *rand.Rand) float64 {
	w := slices.Clone(v)
	hits := 0
	limit := int(opt.Alpha * float64(opt.Permutations+1)) // more hits: p > alpha
	for range opt.Permutations {
		rng.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
		if _, pq := bestSplit(w, opt.MinSize); pq >= q {
			hits++
			if hits > limit {
				return 1
			}
		}
	}
	return float64(1+hits) / float64(1+opt.Permutations)
}

// ChangePoint is a run at which a scenario metric shifted, found over a
// history by EDivisive and larger than the metric's minimum effect.
type ChangePoint struct {
	Scenario string `json:"scenario"`
	Cell     string `json:"cell,omitempty"`
	Metric   string `json:"metric"`
	Unit     string `json:"unit"`
	// Index is the position in the history of the first run after the
	// shift; RunID is that run.
	Index int    `json:"index"`
	RunID string `json:"runId"`
	// Before and After are the medians of the metric from the previous
	// change point (or the start) to this one, and from this one to the
	// next (or the end).
	Before   float64 `json:"before"`
	After    float64 `json:"after"`
	DeltaPct float64 `json:"deltaPct"`
	P        float64 `json:"p"`
	Verdict  string  `json:"verdict"` // better or worse
}

// ChangePoints searches every scenario metric of history (oldest first),
// and the service time's median of each operation where the runs keep their
// histograms, for change points: metric by metric in the order they first
// appear; within a metric, oldest first.
func ChangePoints(history []*Run, opt ChangePointOptions) []ChangePoint {
	opt = opt.withDefaults()
	off := max(len(history)-opt.MaxRuns, 0)
	history = history[off:]
	type series struct {
		m    ScenarioMetric
		idx  []int // positions in history
		vals []float64
	}
	byKey := make(map[string]*series)
	var order []string
	for i, r := range history {
		ms, _ := Metrics(r)
		for _, m := range append(ms, serviceMedians(r)...) {
			s := byKey[m.Key()]
			if s == nil {
				s = &series{}
				byKey[m.Key()] = s
				order = append(order, m.Key())
			}
			s.m = m
			s.idx = append(s.idx, i)
			s.vals = append(s.vals, m.Value)
		}
	}
	var out []ChangePoint
	for _, k := range order {
		s := byKey[k]
		o := opt
		h := fnv.New64a()
		h.Write([]byte(k))
		o.Seed = opt.Seed ^ h.Sum64() // per metric: independent of the others
		splits := EDivisive(s.vals, o)
		rule := ruleFor(opt.Rules, s.m.Metric)
		for i, sp := range splits {
			from, to := 0, len(s.vals)
			if i > 0 {
				from = splits[i-1].Index
			}
			if i+1 < len(splits) {
				to = splits[i+1].Index
			}
			before, after := median(s.vals[from:sp.Index]), median(s.vals[sp.Index:to])
			verdict := metricVerdict(before, after, s.m.Better, rule)
			if verdict == NoChange {
				continue
			}
			run := history[s.idx[sp.Index]]
			out = append(out, ChangePoint{Scenario: s.m.Scenario, Cell: s.m.Cell, Metric: s.m.Metric, Unit: s.m.Unit,
				Index: off + s.idx[sp.Index], RunID: run.ID, Before: before, After: after,
				DeltaPct: deltaPct(before, after), P: sp.P, Verdict: verdict})
		}
	}
	return out
}

// ChangePoints returns the change points of the report's history, with the
// comparison's minimum effects when there is a comparison. The HTML trend
// charts and the Markdown show the same ones.
func (r *Report) ChangePoints() []ChangePoint {
	if len(r.History) < 2*DefaultMinSegment {
		return nil
	}
	var opt ChangePointOptions
	if r.Comparison != nil {
		opt.Rules = r.Comparison.Rules
	}
	return ChangePoints(r.History, opt)
}

// MaxChangePointLines bounds the change points the Markdown lists.
const MaxChangePointLines = 30

// markdownChangePoints lists the change points of the history, one line
// each: the metric, the run it shifted at, before → after.
func (r *Report) markdownChangePoints(w *limitWriter) {
	cps := r.ChangePoints()
	if len(cps) == 0 {
		return
	}
	runs := min(len(r.History), DefaultChangePointRuns)
	w.printf("## Change points\n\n")
	w.printf("Where a scenario metric shifted over the last %d runs (E-divisive means, permutation test α=%g; shifts under the minimum effect left out):\n\n", runs, DefaultChangePointAlpha)
	for i, cp := range cps {
		if i == MaxChangePointLines {
			w.printf("- … %d more in the JSON report\n", len(cps)-i)
			break
		}
		w.printf("- %s %s %s: from run %s (%d of %d): %s → %s (%s, p=%.3g)\n", verdictMark(cp.Verdict), mdTitle(cp.Scenario, cp.Cell), mdEscape(MetricLabel(cp.Metric)),
			mdCode(cp.RunID, false), cp.Index+1, len(r.History), mdEscape(fmtMetric(cp.Before, cp.Unit)), mdEscape(fmtMetric(cp.After, cp.Unit)), fmtPct(cp.DeltaPct), cp.P)
	}
	w.printf("\n")
}

// serviceMedians returns the median service time of each operation of r's
// scenarios, as metrics "service p50 <op>"; none for a compacted run.
func serviceMedians(r *Run) []ScenarioMetric {
	var out []ScenarioMetric
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if s.Doc == nil {
			continue
		}
		for _, o := range s.Doc.Operations {
			q, err := o.Latency.Quantiles(50)
			if err != nil || q.Count == 0 {
				continue
			}
			out = append(out, ScenarioMetric{Scenario: s.Name, Cell: s.Cell(), Metric: "service p50 " + o.Op, Unit: "ms",
				Value: float64(q.Values[0]) * 1e-3, Better: "lower"})
		}
	}
	return out
}
