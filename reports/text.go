package reports

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
)

// Text writes c as a benchstat-like text table, regressions first.
func (c *Comparison) Text(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "baseline: %s; new: run %s; alpha=%g", c.Baseline, c.NewID, c.Alpha)
	if c.MinEffect > 0 {
		fmt.Fprintf(&b, "; min effect %g%%", c.MinEffect)
	}
	b.WriteString("\n\n")
	if len(c.Benchmarks) > 0 {
		rows := [][]string{{"benchmark", "unit", "old", "new", "delta", "p, n", "verdict"}}
		for _, d := range c.Benchmarks {
			old, nw := "–", "–"
			if d.Old.N > 0 {
				old = fmtUnit(d.Old.Center, d.Unit) + " ±" + pctRange(d.Old)
			}
			if d.New.N > 0 {
				nw = fmtUnit(d.New.Center, d.Unit) + " ±" + pctRange(d.New)
			}
			rows = append(rows, []string{d.Name, d.Unit, old, nw, d.Delta, d.Stat, d.Verdict})
		}
		writeTable(&b, rows)
		b.WriteString("\n")
	}
	if len(c.Metrics) > 0 {
		rows := [][]string{{"scenario", "metric", "old", "new", "delta", "better", "verdict"}}
		for _, m := range c.Metrics {
			old, nw := "–", "–"
			if m.Verdict != NewMetric {
				old = fmtCI(m.Old, m.OldCI, m.Unit)
			}
			if m.Verdict != Missing {
				nw = fmtCI(m.New, m.NewCI, m.Unit)
			}
			rows = append(rows, []string{scenarioTitle(m.Scenario, m.Cell), m.Metric, old, nw, m.DeltaString(), m.Better, m.Verdict})
		}
		writeTable(&b, rows)
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func pctRange(c Center) string {
	if c.Center == 0 || math.IsInf(c.Lo, 0) || math.IsInf(c.Hi, 0) {
		return "∞"
	}
	d := max(c.Center-c.Lo, c.Hi-c.Center)
	return fmt.Sprintf("%.0f%%", d/math.Abs(c.Center)*100)
}

func writeTable(b *bytes.Buffer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))))
			}
		}
		b.WriteByte('\n')
	}
}
