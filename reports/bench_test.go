package reports_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
	"github.com/cxload/cxload/reports/testjson"
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

// scenarioStream returns a `go test -json` stream of about size bytes
// holding n scenario result documents: the documents of the scenario
// capture (as metrics.Emit writes them, cut into 1 KiB output events as
// test2json does), each round of them in its own matrix cell, with progress
// lines before them as the load scenarios print.
func scenarioStream(tb testing.TB, size, n int, shards bool) []byte {
	tb.Helper()
	var docs []string
	r := testjson.NewReader(bytes.NewReader(mustRead(tb, "testdata/scenario-old.json")), "scenario-old.json")
	for r.Scan() {
		if l, ok := r.Result().(*testjson.Line); ok && strings.Contains(l.Text, result.Prefix) {
			docs = append(docs, l.Text)
		}
	}
	require.NoError(tb, r.Err())
	require.NotEmpty(tb, docs)
	const pkg = "github.com/cxload/cxload/loadtest"
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	event := func(action, test, output string) {
		at = at.Add(time.Millisecond)
		e := map[string]any{"Time": at, "Action": action, "Package": pkg}
		if test != "" {
			e["Test"] = test
		}
		if action == "output" {
			e["Output"] = output
		}
		if action == "pass" {
			e["Elapsed"] = 0.5
		}
		b, err := json.Marshal(e)
		require.NoError(tb, err)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	event("start", "", "")
	per := size / n
	for i := range n {
		test := fmt.Sprintf("TestMatrix/cell-%04d", i)
		begin := buf.Len()
		event("run", test, "")
		event("output", test, "=== RUN   "+test+"\n")
		cell := i
		if shards {
			cell = i / len(docs) // the captured shards of a cell merge
		}
		doc := strings.Replace(docs[i%len(docs)], `"labels":{"region":"sim"`, fmt.Sprintf(`"labels":{"region":"sim","cell":"%04d"`, cell), 1) + "\n"
		for j := 0; buf.Len()-begin < per-len(doc)*5/4-200; j++ {
			event("output", test, fmt.Sprintf("    scenario_test.go:133: %sinterval %d, %d requests\n", result.ProgressPrefix, j, j*300))
		}
		for len(doc) > 0 {
			k := min(len(doc), 1024)
			event("output", test, doc[:k])
			doc = doc[k:]
		}
		event("output", test, "--- PASS: "+test+" (0.50s)\n")
		event("pass", test, "")
	}
	event("pass", "", "")
	return buf.Bytes()
}

// BenchmarkReadRunScenarios reads a 50 MB stream of 2,628 scenario result
// documents, in MB/s of input: each in its own matrix cell, or with the
// captured shards of a cell merged.
func BenchmarkReadRunScenarios(b *testing.B) {
	for _, bc := range []struct {
		name   string
		shards bool
	}{{"cells", false}, {"shards", true}} {
		b.Run(bc.name, func(b *testing.B) {
			data := scenarioStream(b, 50<<20, 2628, bc.shards)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				run, err := reports.ReadRun(reports.Env{}, reports.NamedReader{Name: "stream", R: bytes.NewReader(data)})
				if err != nil {
					b.Fatal(err)
				}
				if len(run.Problems) > 0 || len(run.Scenarios) < 2628/2 {
					b.Fatalf("%d scenarios, problems %v", len(run.Scenarios), run.Problems)
				}
			}
		})
	}
}
