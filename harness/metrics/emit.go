package metrics

import "testing"

// ResultPrefix starts the test-output line that carries a result document.
const ResultPrefix = "cxload-result: "

// ProgressPrefix starts a progress line.
const ProgressPrefix = "cxload-progress: "

// Emit writes doc as one line of test output.
func Emit(t testing.TB, doc *Document) { t.Helper() }

// ReportBenchmark reports headline metrics of doc with b.ReportMetric.
func ReportBenchmark(b *testing.B, doc *Document) {}
