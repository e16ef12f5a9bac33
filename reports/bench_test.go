package reports_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/cxload/cxload/reports"
)

// history1000 returns 1,000 runs made from the real captures, each with its
// own id, start time and benchmark samples.
func history1000(b *testing.B) []*reports.Run {
	b.Helper()
	base := readCapture(b, "scenario-old.json", "bench-old.json")
	alt := readCapture(b, "scenario-new.json", "bench-new.json")
	var runs []*reports.Run
	for i := 0; i < 1000; i++ {
		src := base
		if i%7 == 3 {
			src = alt
		}
		r := *src
		r.ID = fmt.Sprintf("run-%04d", i)
		r.Env.Start = base.Env.Start.Add(time.Duration(i-1000) * 6 * time.Hour)
		r.Benchmarks = nil
		for _, bm := range src.Benchmarks {
			vals := make([]float64, len(bm.Values))
			for j, v := range bm.Values {
				vals[j] = v * (1 + 0.01*float64((i*7+j)%11))
			}
			bm.Values = vals
			r.Benchmarks = append(r.Benchmarks, bm)
		}
		runs = append(runs, &r)
	}
	return runs
}

// BenchmarkTrendReport1000 renders the HTML report of a run with a history
// of 1,000 runs (trend charts of every benchmark and scenario metric).
// The target is under a second per report: see the ms/report metric.
func BenchmarkTrendReport1000(b *testing.B) {
	runs := history1000(b)
	cur := runs[len(runs)-1]
	cmp := reports.Compare(runs[len(runs)-6:len(runs)-1], cur, reports.CompareOptions{})
	var size int
	b.ResetTimer()
	for b.Loop() {
		var buf bytes.Buffer
		if err := reports.NewReport(cur, cmp, runs).HTML(&buf); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/report")
	b.ReportMetric(float64(size)/1e6, "MB-html")
}

// BenchmarkMarkdown renders the Markdown of the compare capture.
func BenchmarkMarkdown(b *testing.B) {
	cur := readCapture(b, "scenario-new.json", "bench-new.json")
	cmp := reports.Compare([]*reports.Run{readCapture(b, "scenario-old.json", "bench-old.json")}, cur, reports.CompareOptions{})
	for b.Loop() {
		if err := reports.NewReport(cur, cmp, nil).Markdown(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadRun builds runs from the real captures (reader + builder +
// result documents), in MB/s of input.
func BenchmarkReadRun(b *testing.B) {
	var data [][]byte
	var total int64
	for _, f := range []string{"scenario-old.json", "bench-old.json", "failures.json"} {
		d := mustRead(b, "testdata/"+f)
		data = append(data, d)
		total += int64(len(d))
	}
	b.SetBytes(total)
	for b.Loop() {
		var in []reports.NamedReader
		for i, d := range data {
			in = append(in, reports.NamedReader{Name: fmt.Sprint(i), R: bytes.NewReader(d)})
		}
		if _, err := reports.ReadRun(reports.Env{}, in...); err != nil {
			b.Fatal(err)
		}
	}
}
