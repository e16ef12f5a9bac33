package metrics

import (
	"testing"

	"github.com/cxload/cxload/harness/result"
)

// Emit writes doc into the test output as exactly one line,
// "cxload-result: <compact JSON>", with t.Log. go test -json implies -v, so
// the line is always in the JSON stream, but test2json may cut it into
// several "output" events: a reader joins a test's output until the newline
// before decoding (see the package documentation). A document that cannot be
// encoded is reported with t.Error.
func Emit(t testing.TB, doc *result.Document) {
	t.Helper()
	b, err := doc.Encode()
	if err != nil {
		t.Error(err)
		return
	}
	t.Log(result.Prefix + string(b))
}

// ReportBenchmark reports the headline metrics of doc with b.ReportMetric:
// req/s over the document's duration, p50-ms and p99-ms of service time over
// all operations, 429s/op and errors/op per benchmark iteration (b.N).
func ReportBenchmark(b *testing.B, doc *result.Document) {
	b.Helper()
	all := doc.All()
	if d := doc.Duration(); d > 0 {
		b.ReportMetric(float64(all.Count)/d.Seconds(), "req/s")
	}
	if all.Count > 0 {
		b.ReportMetric(float64(all.Latency.Percentile(50))/float64(1e6), "p50-ms")
		b.ReportMetric(float64(all.Latency.Percentile(99))/float64(1e6), "p99-ms")
	}
	if b.N > 0 {
		b.ReportMetric(float64(all.Status429)/float64(b.N), "429s/op")
		b.ReportMetric(float64(all.Errors())/float64(b.N), "errors/op")
	}
}
