package reports

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"
)

// MarkdownLimit is the most bytes Markdown writes: GitHub refuses a step
// summary over 1 MiB, so the report stays well under it and says what it
// left out.
const MarkdownLimit = 1000 << 10

// limitWriter keeps at most limit bytes, cut at a line boundary.
type limitWriter struct {
	buf     bytes.Buffer
	limit   int
	dropped int
}

func (w *limitWriter) printf(format string, args ...any) {
	if w.dropped > 0 {
		w.dropped += len(fmt.Sprintf(format, args...))
		return
	}
	s := fmt.Sprintf(format, args...)
	if w.buf.Len()+len(s) > w.limit {
		w.dropped += len(s)
		return
	}
	w.buf.WriteString(s)
}

// Markdown writes the report as GitHub-flavored Markdown, for terminals and
// $GITHUB_STEP_SUMMARY: the verdict, failures, regressions (first), each
// scenario's headline metrics and rate limits per matrix cell, benchmarks,
// and unreadable input. Output is cut to stay under MarkdownLimit, with a
// note saying so.
func (r *Report) Markdown(w io.Writer) error {
	lw := &limitWriter{limit: MarkdownLimit - 512}
	r.markdown(lw)
	if lw.dropped > 0 {
		fmt.Fprintf(&lw.buf, "\n> **Report truncated**: %d more bytes did not fit the %d KiB limit of a step summary; see the HTML or JSON report for everything.\n", lw.dropped, MarkdownLimit>>10)
	}
	_, err := w.Write(lw.buf.Bytes())
	return err
}

func (r *Report) markdown(w *limitWriter) {
	run := r.Run
	title := cmp.Or(r.Title, "cxload report")
	w.printf("# %s: %s\n\n", mdEscape(title), r.Headline())
	w.printf("%s\n\n", envLine(run))

	// Failures first.
	var failed []Test
	for _, t := range run.Tests {
		if t.Verdict == Fail {
			failed = append(failed, t)
		}
	}
	var builds []Package
	for _, p := range run.Packages {
		if p.FailedBuild != "" {
			builds = append(builds, p)
		}
	}
	if len(failed)+len(builds) > 0 {
		w.printf("## Failures\n\n")
		for _, p := range builds {
			w.printf("- **build failed**: %s\n", mdCode(p.FailedBuild, false))
			if len(p.BuildOutput) > 0 {
				w.printf("  ```\n%s\n  ```\n", indent(tail(p.BuildOutput, 20), "  "))
			}
		}
		for _, t := range failed {
			w.printf("- **%s** (%s): %s\n", mdEscape(t.Name), mdCode(shortPkg(t.Package), false), mdEscape(cmp.Or(t.Reason, "failed")))
			if len(t.Output) > 0 {
				w.printf("  <details><summary>output</summary>\n\n  ```\n%s\n  ```\n  </details>\n", indent(t.Output, "  "))
			}
		}
		w.printf("\n")
	}

	if c := r.Comparison; c != nil {
		r.markdownComparison(w, c)
	}
	r.markdownChangePoints(w)

	if len(run.Scenarios) > 0 {
		w.printf("## Scenarios\n\n")
		if rows := r.overview(); len(rows) > 1 {
			w.printf("| scenario | cell | requests | req/s | 429 | errors | slowest total p99 | thresholds |\n|---|---|--:|--:|--:|--:|---|---|\n")
			for _, o := range rows {
				w.printf("| %s | %s | %d | %.1f | %.1f%% | %d | %s | %s |\n", mdEscape(o.Name), mdEscape(o.Cell), o.Requests, o.RPS, o.Rate429*100, o.Errors, mdEscape(o.SlowestP99), o.Thresholds)
			}
			w.printf("\n")
		}
		for i := range run.Scenarios {
			if run.Scenarios[i].Doc == nil {
				continue // compacted: only its metrics remain
			}
			r.markdownScenario(w, &run.Scenarios[i], r.summaries[i])
		}
	}

	if len(run.Benchmarks) > 0 && r.Comparison == nil {
		w.printf("## Benchmarks\n\n")
		w.printf("| benchmark | unit | median | ± | n |\n|---|---|--:|--:|--:|\n")
		for _, b := range run.Benchmarks {
			s := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(b.Values), &benchmath.DefaultThresholds), 0.95)
			w.printf("| %s | %s | %s | %s | %d |\n", mdEscape(b.Name), mdEscape(b.Unit), fmtUnit(s.Center, b.Unit), s.PctRangeString(), len(b.Values))
		}
		w.printf("\n")
	}

	var skipped []Test
	for _, t := range run.Tests {
		if t.Verdict == Skip {
			skipped = append(skipped, t)
		}
	}
	if len(skipped) > 0 {
		w.printf("<details><summary>%d skipped</summary>\n\n", len(skipped))
		for _, t := range skipped {
			w.printf("- %s: %s\n", mdEscape(t.Name), mdEscape(t.Reason))
		}
		w.printf("\n</details>\n\n")
	}

	if len(run.Problems)+len(r.sumErrs) > 0 {
		w.printf("## Unreadable input\n\n")
		for _, p := range run.Problems {
			w.printf("- %s\n", mdCode(p.String(), false))
		}
		for _, err := range r.sumErrs {
			w.printf("- %s\n", mdEscape(err.Error()))
		}
		w.printf("\n")
	}
}

func envLine(run *Run) string {
	var parts []string
	parts = append(parts, "run "+mdCode(run.ID, false))
	if run.Env.Commit != "" {
		c := run.Env.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s := "commit " + mdCode(c, false)
		if run.Env.Branch != "" {
			s += " on " + mdCode(run.Env.Branch, false)
		}
		parts = append(parts, s)
	}
	if run.Env.GoVersion != "" || run.Env.GOOS != "" {
		parts = append(parts, mdEscape(run.Env.GoVersion+" "+strings.Trim(run.Env.GOOS+"/"+run.Env.GOARCH, "/")))
	}
	if run.Env.CPU != "" {
		parts = append(parts, mdEscape(run.Env.CPU))
	}
	if !run.Env.Start.IsZero() {
		s := run.Env.Start.UTC().Format("2006-01-02 15:04 UTC")
		if run.Env.End.After(run.Env.Start) {
			s += " (" + run.Env.End.Sub(run.Env.Start).Round(100*time.Millisecond).String() + ")"
		}
		parts = append(parts, s)
	}
	if l := formatLabels(run.Env.Labels); l != "" {
		parts = append(parts, "labels "+mdEscape(l))
	}
	if run.Env.URL != "" {
		parts = append(parts, mdLink("CI run", run.Env.URL))
	}
	return strings.Join(parts, " · ")
}

func (r *Report) markdownComparison(w *limitWriter, c *Comparison) {
	nb := map[string]int{}
	for _, b := range c.Benchmarks {
		nb[b.Verdict]++
	}
	for _, m := range c.Metrics {
		nb[m.Verdict]++
	}
	w.printf("## Compared with %s\n\n", mdEscape(c.Baseline))
	w.printf("%d worse, %d better, %d unchanged (benchmarks: Mann-Whitney U, α=%g", nb[Worse], nb[Better], nb[NoChange], c.Alpha)
	if c.MinEffect > 0 {
		w.printf(", minimum effect %g%%", c.MinEffect)
	}
	w.printf("; latency: service p50, service p99 and total p99 from the histograms, baseline runs pooled, a change only when the %g%% confidence intervals are disjoint and the change is at least the minimum effect; other scenario metrics: the minimum effect).\n\n", c.confidence()*100)
	changed := func(v string) bool { return v == Worse || v == Better }
	var rows int
	for _, m := range c.Metrics {
		if changed(m.Verdict) {
			rows++
		}
	}
	if rows > 0 {
		w.printf("| scenario | metric | old | new | delta | verdict |\n|---|---|--:|--:|--:|---|\n")
		for _, m := range c.Metrics {
			if !changed(m.Verdict) {
				continue
			}
			w.printf("| %s | %s | %s | %s | %s | %s |\n", mdTitle(m.Scenario, m.Cell), mdEscape(m.Metric),
				mdEscape(fmtCI(m.Old, m.OldCI, m.Unit)), mdEscape(fmtCI(m.New, m.NewCI, m.Unit)), m.DeltaString(), verdictMark(m.Verdict))
		}
		w.printf("\n")
	}
	rows = 0
	for _, b := range c.Benchmarks {
		if changed(b.Verdict) {
			rows++
		}
	}
	if rows > 0 {
		w.printf("| benchmark | unit | old | new | delta | p, n | verdict |\n|---|---|--:|--:|--:|---|---|\n")
		for _, b := range c.Benchmarks {
			if !changed(b.Verdict) {
				continue
			}
			w.printf("| %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(b.Name), mdEscape(b.Unit), fmtUnit(b.Old.Center, b.Unit), fmtUnit(b.New.Center, b.Unit), mdEscape(b.Delta), mdEscape(b.Stat), verdictMark(b.Verdict))
		}
		w.printf("\n")
	}
	var same []string
	for _, b := range c.Benchmarks {
		if b.Verdict == NoChange {
			same = append(same, fmt.Sprintf("%s %s %s → %s (%s)", mdEscape(b.Name), mdEscape(b.Unit), fmtUnit(b.Old.Center, b.Unit), fmtUnit(b.New.Center, b.Unit), mdEscape(b.Stat)))
		}
	}
	for _, m := range c.Metrics {
		if m.Verdict == NoChange {
			line := fmt.Sprintf("%s %s %s → %s", mdTitle(m.Scenario, m.Cell), mdEscape(m.Metric), mdEscape(fmtCI(m.Old, m.OldCI, m.Unit)), mdEscape(fmtCI(m.New, m.NewCI, m.Unit)))
			if m.Note != "" {
				line += " (" + mdEscape(m.Note) + ")"
			}
			same = append(same, line)
		}
	}
	if len(same) > 0 {
		w.printf("<details><summary>%d unchanged (~)</summary>\n\n", len(same))
		for _, s := range same {
			w.printf("- %s\n", s)
		}
		w.printf("\n</details>\n\n")
	}
	for _, warn := range c.Warnings {
		w.printf("> %s\n", mdEscape(warn))
	}
}

func (r *Report) markdownScenario(w *limitWriter, s *Scenario, sum Summary) {
	d := s.Doc
	w.printf("### %s\n\n", mdTitle(s.Name, s.Cell()))
	var facts []string
	facts = append(facts, fmt.Sprintf("%d requests in %s", sum.Requests, time.Duration(sum.Seconds*float64(time.Second)).Round(time.Second/10)))
	facts = append(facts, fmt.Sprintf("%.1f req/s", sum.RPS))
	facts = append(facts, fmt.Sprintf("429s: %d (%.1f%%)", sum.Throttled, sum.Rate429*100))
	facts = append(facts, fmt.Sprintf("errors: %d", sum.Errors))
	if sum.Canceled > 0 {
		facts = append(facts, fmt.Sprintf("canceled at the end: %d", sum.Canceled))
	}
	if d.Target.Kind != "" {
		facts = append(facts, "target "+mdEscape(d.Target.Kind+" "+d.Target.Region))
	}
	if len(s.Shards) > 0 {
		facts = append(facts, fmt.Sprintf("%d shards merged", len(s.Shards)))
	}
	w.printf("%s\n\n", strings.Join(facts, " · "))
	folded := len(headline(d)) > 0 // with no short list, the summary is all there is: shown, not folded
	if d.Summary != "" && !folded {
		w.printf("> %s\n\n", mdEscape(d.Summary))
	}
	for _, l := range headline(d) {
		w.printf("- %s\n", mdEscape(l))
	}
	failed := 0
	for _, th := range d.Thresholds {
		if !th.OK {
			failed++
			w.printf("- ❌ %s: %s", mdCode(thresholdExpr(th.Expr), false), mdEscape(th.Value))
			if th.Detail != "" {
				w.printf(" — %s", mdEscape(th.Detail))
			}
			w.printf("\n")
		}
	}
	switch n := len(d.Thresholds); {
	case failed > 0:
	case n == 1:
		w.printf("- ✅ the threshold held\n")
	case n > 1:
		w.printf("- ✅ all %d thresholds held\n", n)
	}
	if len(headline(d)) > 0 || len(d.Thresholds) > 0 {
		w.printf("\n")
	}
	if rows := limitRows(d); len(rows) > 0 {
		w.printf("Rate limits:\n\n| limit | allowed | window from | scope | answer from | rejected | first 429 |\n|---|--:|---|---|---|--:|---|\n")
		for _, r := range rows {
			src := mdEscape(r.Source)
			if r.Disagrees != "" {
				src += " ⚠️ " + mdEscape(r.Disagrees)
			}
			w.printf("| %s | %s | %s | %s | %s | %d | %s |\n", mdCode(r.Key, true), mdEscape(r.Allowed), mdEscape(r.WindowFrom), mdEscape(r.Scope), src, r.Rejected, r.First)
		}
		w.printf("\n")
	}
	if len(sum.Ops) > 0 {
		w.printf("| operation | count | req/s | 429 | errors | total p50 | total p99 | service p50 | service p99 | wait share | total max |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, op := range sum.Ops {
			w.printf("| %s | %d | %.1f | %d | %d | %s | %s | %s | %s | %s | %s |\n", mdEscape(op.Op), op.Count, op.RPS, op.Throttled, op.Errors,
				msOrDash(op.LatencyMs, "p50"), msOrDash(op.LatencyMs, "p99"), msOrDash(op.ServiceMs, "p50"), msOrDash(op.ServiceMs, "p99"), waitShare(op), msOrDash(op.LatencyMs, "max"))
		}
		w.printf("\n")
	}
	if ws := d.WebSocket; ws != nil {
		w.printf("WebSocket: %d connects, %d heartbeats, max heartbeat gap %s, %d drops, %d reconnects, %d events, %d lost",
			ws.Connects, ws.Heartbeats, fmtMs(ws.MaxHeartbeatGapMs), ws.Drops, ws.Reconnects, ws.Events, ws.Lost)
		if v, ok := sum.PushMs["p99"]; ok {
			w.printf(", push p99 %s", fmtMs(v))
		}
		w.printf("\n\n")
	}
	var evidence []string
	for _, r := range limitRows(d) {
		if r.Evidence != "" {
			evidence = append(evidence, fmt.Sprintf("%s, scope %s: %s", mdCode(r.Key, true), mdEscape(r.Scope), mdEscape(r.Evidence)))
		}
	}
	for _, th := range d.Thresholds {
		if th.OK {
			evidence = append(evidence, fmt.Sprintf("✅ %s: %s", mdCode(thresholdExpr(th.Expr), false), mdEscape(th.Value)))
		}
	}
	if len(evidence) > 0 || (d.Summary != "" && folded) {
		w.printf("<details><summary>evidence</summary>\n\n")
		if d.Summary != "" && folded {
			w.printf("> %s\n\n", mdEscape(d.Summary))
		}
		for _, e := range evidence {
			w.printf("- %s\n", e)
		}
		w.printf("\n</details>\n\n")
	}
}

// waitShare formats OpSummary.WaitShare: "–" when unknown.
func waitShare(op OpSummary) string {
	if op.LatencyMs == nil || op.ServiceMs == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", op.WaitShare*100)
}

func perWindow(allowed int, window float64) string {
	if allowed == 0 {
		return "?"
	}
	if window <= 0 {
		return fmt.Sprint(allowed)
	}
	return fmt.Sprintf("%d / %gs", allowed, window)
}

// mdTitle is scenarioTitle with the name and cell escaped for Markdown.
func mdTitle(name, cell string) string {
	if cell == "" {
		return mdEscape(name)
	}
	return mdEscape(name) + " [" + mdEscape(cell) + "]"
}

func scenarioTitle(name, cell string) string {
	if cell == "" {
		return name
	}
	return name + " [" + cell + "]"
}

func msOrDash(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return fmtMs(v)
	}
	return "–"
}

func verdictMark(v string) string {
	switch v {
	case Worse:
		return "❌ worse"
	case Better:
		return "✅ better"
	}
	return v
}

// DeltaString is the change in percent, or "from 0" when the old value
// is 0 (no percentage exists).
func (m MetricDelta) DeltaString() string {
	switch {
	case m.Verdict == NewMetric || m.Verdict == Missing:
		return ""
	case m.Old == 0 && m.New != 0:
		return "from 0"
	}
	return fmtPct(m.DeltaPct)
}

func fmtPct(p float64) string {
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return "?"
	}
	return fmt.Sprintf("%+.1f%%", p)
}

func fmtMetric(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmtMs(v)
	case "%":
		return fmt.Sprintf("%.1f%%", v)
	case "req/s":
		return fmt.Sprintf("%.1f/s", v)
	case "count":
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

// fmtUnit formats a benchmark value as benchstat does ("158.2n", "1.2Ki").
func fmtUnit(v float64, unit string) string {
	return benchunit.Scale(v, benchunit.ClassOf(unit))
}

func shortPkg(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

func indent(lines []string, prefix string) string {
	var sb strings.Builder
	for i, l := range lines {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(prefix)
		sb.WriteString(strings.ReplaceAll(l, "```", "'''"))
	}
	return sb.String()
}
