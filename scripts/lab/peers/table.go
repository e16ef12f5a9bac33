package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// measurement is what one loader achieved in one part of the run (closed
// loop at full speed, or paced at a fixed rate).
type measurement struct {
	Loader      string        `json:"loader"`                // bare, cxload, vegeta, k6
	Note        string        `json:"note,omitempty"`        // how it was driven, e.g. "ticker pacer"
	NotMeasured string        `json:"notMeasured,omitempty"` // why there are no figures; empty when measured
	Requests    int64         `json:"requests"`              // completed requests
	Errors      int64         `json:"errors"`                // transport errors and non-2xx answers
	Rate        float64       `json:"rate"`                  // achieved requests per second
	TargetRate  float64       `json:"targetRate,omitempty"`  // paced only: requested rate
	CPU         time.Duration `json:"cpuNs"`                 // user+system CPU of the loader process
	P50         time.Duration `json:"p50Ns"`                 // service time: from actual send
	P99         time.Duration `json:"p99Ns"`                 // service time: from actual send
	COP99       time.Duration `json:"coP99Ns,omitempty"`     // paced only: from intended send
	MaxRSS      int64         `json:"maxRSSBytes"`           // peak resident set of the loader process
	// In-process loaders only: heap allocations per request.
	AllocsPerReq float64 `json:"allocsPerReq,omitempty"`
	BytesPerReq  float64 `json:"bytesPerReq,omitempty"`
	Dropped      int64   `json:"dropped,omitempty"` // paced: arrivals never sent (in Requests and Errors)
	// The target's CPU time during this loader's run, and that over the
	// run's duration: near 1 (100% of its CPU), the target, not the
	// loader, set the pace.
	TargetCPU  time.Duration `json:"targetCPUNs,omitempty"`
	TargetBusy float64       `json:"targetBusy,omitempty"`
	// The loader's CPU over the run's duration: near 1, the loader used
	// all of its CPU.
	LoaderBusy float64 `json:"loaderBusy,omitempty"`
	// CPU time other processes took on the loader's and the target's CPUs
	// during the run, over its duration: above a few percent, the figures
	// were disturbed. -1: unknown (not pinned).
	Others float64 `json:"others"`
	Runs   int     `json:"runs,omitempty"`   // measured runs; the figures are those of the median run
	Spread string  `json:"spread,omitempty"` // the key of every run, sorted: "38,941 req/s, 45,066 req/s"
}

// cpuPer1k returns CPU seconds spent per 1,000 requests, or NaN without
// requests.
func (m measurement) cpuPer1k() float64 {
	if m.Requests <= 0 {
		return math.NaN()
	}
	return m.CPU.Seconds() * 1000 / float64(m.Requests)
}

// rateError returns the achieved rate's error against the target in percent
// (negative: too slow), or NaN without a target.
func (m measurement) rateError() float64 {
	if m.TargetRate <= 0 {
		return math.NaN()
	}
	return (m.Rate - m.TargetRate) / m.TargetRate * 100
}

// ratio returns x/base, or NaN when either is unknown or base is zero.
func ratio(x, base float64) float64 {
	if math.IsNaN(x) || math.IsNaN(base) || base == 0 {
		return math.NaN()
	}
	return x / base
}

// baseline returns the measured bare loop among ms, if any.
func baseline(ms []measurement) (measurement, bool) {
	for _, m := range ms {
		if m.Loader == "bare" && m.NotMeasured == "" {
			return m, true
		}
	}
	return measurement{}, false
}

// writeClosedTable prints the full-speed table with ratios to the bare loop.
func writeClosedTable(w io.Writer, ms []measurement) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, padName("loader", ms)+"\treq/s\t× bare\tCPU s/1k req\t× bare\tp50\tp99\tpeak RSS\terrors\tloader CPU\ttarget CPU\tothers\t\n")
	base, haveBase := baseline(ms)
	for _, m := range ms {
		name := padName(m.Loader, ms)
		if m.NotMeasured != "" {
			// A row without figures; the reason goes into a footnote so
			// that it does not widen the columns.
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", name)
			continue
		}
		rateRatio, cpuRatio := math.NaN(), math.NaN()
		if haveBase {
			rateRatio = ratio(m.Rate, base.Rate)
			cpuRatio = ratio(m.cpuPer1k(), base.cpuPer1k())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n",
			name, formatInt(int64(math.Round(m.Rate))), formatRatio(rateRatio),
			formatFloat(m.cpuPer1k(), 4), formatRatio(cpuRatio),
			formatDuration(m.P50), formatDuration(m.P99), formatBytes(m.MaxRSS), m.Errors,
			formatBusy(m.LoaderBusy), formatBusy(m.TargetBusy), formatShare(m.Others))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeFootnotes(w, ms)
}

// writePacedTable prints the paced table: the requests sent of those due
// in d, the achieved rate against the target and the p99 from the actual
// and from the intended send time.
func writePacedTable(w io.Writer, ms []measurement, d time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, padName("loader", ms)+"\ttarget/s\tsent\tachieved/s\terror\tp99 (service)\tp99 (CO-corrected)\tCPU s/1k req\tpeak RSS\terrors\tothers\t\n")
	for _, m := range ms {
		name := padName(m.Loader, ms)
		if m.NotMeasured != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", name)
			continue
		}
		due := int64(math.Round(m.TargetRate * d.Seconds()))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n",
			name, formatInt(int64(math.Round(m.TargetRate))),
			formatInt(m.Requests-m.Dropped)+" of "+formatInt(due), formatFloat(m.Rate, 1),
			formatPercent(m.rateError()), formatDuration(m.P99), formatDuration(m.COP99),
			formatFloat(m.cpuPer1k(), 4), formatBytes(m.MaxRSS), m.Errors, formatShare(m.Others))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeFootnotes(w, ms)
}

// padName pads name with spaces to the longest loader name (and "loader"),
// so that the first column reads left-aligned in a right-aligned table.
func padName(name string, ms []measurement) string {
	width := len("loader")
	for _, m := range ms {
		width = max(width, len(m.Loader))
	}
	return name + strings.Repeat(" ", width-len(name))
}

// maxOthers returns the largest Others of ms (-1 if none is known).
func maxOthers(ms []measurement) float64 {
	x := -1.0
	for _, m := range ms {
		if m.NotMeasured == "" {
			x = max(x, m.Others)
		}
	}
	return x
}

// writeFootnotes lists the notes and the reasons for rows without figures.
func writeFootnotes(w io.Writer, ms []measurement) error {
	for _, m := range ms {
		var err error
		switch {
		case m.NotMeasured != "":
			_, err = fmt.Fprintf(w, "  %s: not measured: %s\n", m.Loader, m.NotMeasured)
		case m.Note != "" || m.AllocsPerReq > 0 || m.Spread != "":
			note := m.Note
			if m.AllocsPerReq > 0 {
				note = strings.TrimPrefix(fmt.Sprintf("%s; %.1f allocs, %.0f B per request", note, m.AllocsPerReq, m.BytesPerReq), "; ")
			}
			if m.Spread != "" {
				note = strings.TrimPrefix(note+"; runs: "+m.Spread, "; ")
			}
			_, err = fmt.Fprintf(w, "  %s: %s\n", m.Loader, note)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// formatInt writes n with thousands separators: 30,120.
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func formatFloat(x float64, prec int) string {
	if math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', prec, 64)
}

func formatRatio(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}

func formatPercent(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	if math.Abs(x) < 0.005 {
		x = 0 // no "-0.00%"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "%"
}

// formatBusy prints a share of one CPU as a percentage: 97%.
func formatBusy(x float64) string {
	if x <= 0 || math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x*100, 'f', 0, 64) + "%"
}

// formatShare is formatBusy where 0 is a value (0%) and a negative one is
// unknown.
func formatShare(x float64) string {
	if x < 0 || math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x*100, 'f', 0, 64) + "%"
}

// formatDuration prints a latency with three significant figures in a unit
// that suits it: 812µs, 1.23ms, 45.6ms, 1.20s.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + "µs"
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	}
}

// formatBytes prints a size in MiB with one decimal: 12.3 MiB.
func formatBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
