package reports

import (
	"fmt"
	"slices"
	"strings"
)

// Report is what the renderers show: a run, optionally the comparison with
// its baseline, and the history for trends (oldest first, the run last).
type Report struct {
	Run        *Run
	Comparison *Comparison
	History    []*Run
	// Title overrides the report's title.
	Title string

	summaries []Summary
	sumErrs   []error
}

// NewReport prepares a report. history may be nil; if it does not end
// with run, run is added for the trends.
func NewReport(run *Run, cmp *Comparison, history []*Run) *Report {
	r := &Report{Run: run, Comparison: cmp, History: slices.Clone(history)}
	if n := len(r.History); n == 0 || r.History[n-1].ID != run.ID {
		r.History = append(r.History, run)
	}
	for i := range run.Scenarios {
		s, err := Summarize(&run.Scenarios[i])
		if err != nil {
			r.sumErrs = append(r.sumErrs, err)
		}
		r.summaries = append(r.summaries, s)
	}
	return r
}

// Summaries returns the headline of each scenario of the run.
func (r *Report) Summaries() []Summary { return r.summaries }

// Headline returns the one-line verdict: "✅ 12 passed" or "❌ 2 failed ...".
func (r *Report) Headline() string {
	if r.Run.Empty() {
		return "⚠️ no test results in the input"
	}
	pass, fail, skip := r.Run.Counts()
	var parts []string
	buildFail := 0
	for _, p := range r.Run.Packages {
		if p.FailedBuild != "" {
			buildFail++
		}
	}
	if fail > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", fail))
	}
	if buildFail > 0 {
		parts = append(parts, fmt.Sprintf("%d build failed", buildFail))
	}
	parts = append(parts, fmt.Sprintf("%d passed", pass))
	if skip > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", skip))
	}
	if r.Comparison != nil {
		if n := r.Comparison.Regressions(); n > 0 {
			parts = append(parts, fmt.Sprintf("%d regressions", n))
		}
	}
	mark := "✅"
	if r.Run.Failed() {
		mark = "❌"
	} else if r.Comparison != nil && r.Comparison.Regressions() > 0 {
		mark = "⚠️"
	}
	return mark + " " + strings.Join(parts, ", ")
}

// Verdict returns "fail" when a test or build failed, "regressed" when the
// comparison found regressions, and "pass" otherwise.
func (r *Report) Verdict() string {
	switch {
	case r.Run.Failed():
		return Fail
	case r.Comparison != nil && r.Comparison.Regressions() > 0:
		return "regressed"
	}
	return Pass
}

// overviewRow is one line of the scenario overview.
type overviewRow struct {
	Name, Cell       string
	Requests, Errors int64
	RPS, Rate429     float64
	SlowestP99       string // "op 123ms"
	Thresholds       string // "✅ 3/3" or "❌ 1 of 3 failed"
	Failed           bool
}

// overview returns one row per scenario and cell with its headline numbers.
func (r *Report) overview() []overviewRow {
	var rows []overviewRow
	for i, s := range r.Run.Scenarios {
		if s.Doc == nil {
			continue
		}
		sum := r.summaries[i]
		o := overviewRow{Name: s.Name, Cell: sum.Cell, Requests: sum.Requests, Errors: sum.Errors, RPS: sum.RPS, Rate429: sum.Rate429}
		worst, worstOp := -1.0, ""
		for _, op := range sum.Ops {
			if v, ok := op.LatencyMs["p99"]; ok && v > worst {
				worst, worstOp = v, op.Op
			}
		}
		if worst >= 0 {
			o.SlowestP99 = worstOp + " " + fmtMs(worst)
		}
		if n := len(s.Doc.Thresholds); n > 0 {
			if sum.ThresholdsFailed > 0 {
				o.Thresholds = fmt.Sprintf("❌ %d of %d failed", sum.ThresholdsFailed, n)
				o.Failed = true
			} else {
				o.Thresholds = fmt.Sprintf("✅ %d passed", n)
			}
		}
		rows = append(rows, o)
	}
	return rows
}
