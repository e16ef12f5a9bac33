// Package metrics records what a load test did and judges it: latency
// histograms per operation and outcome, counters, per-second series, what
// each rate limit rejected and at what scope, and k6-style thresholds; it
// builds each scenario's result document (package harness/result).
//
// # Metrics and result document
//
// Every request a scenario makes becomes a Result (a value, as in vegeta):
// operation, route template, status, result.Outcome, service latency, the latency
// from the intended send time (corrected for coordinated omission), retries,
// bytes, the rate-limit headers, the bucket that throttled it and the opaque
// identities of its token, OAuth client and user. A Recorder aggregates them:
//
//	rec := metrics.NewRecorder(metrics.WithScenario(t.Name()))
//	rec.Record(&res)            // from any goroutine; no allocation once an operation is known
//	doc := rec.Snapshot()       // a *result.Document
//	metrics.AssertThresholds(t, doc, "p99(presence.set, service) < 800ms", "rate(429) < 1%")
//	metrics.Emit(t, doc)        // one line: cxload-result: {...}
//
// Each operation has its own mutex: results of different operations are
// recorded in parallel.
//
// Latencies go into HdrHistograms from 1 µs to 1 h with 3 significant
// figures, so every percentile (p50 to p99.99) is within 0.1% of a recorded
// value; values above 1 h are recorded as 1 h. Each operation keeps, per
// outcome, the service time of the last attempt ("latency") and the total
// from the intended send time, retries and waits included ("total"). A paced
// load that falls behind shows in "total", not in "latency".
//
// # Rate limits: which limit, what scope
//
// Every bucket that rejected a request (the 429 body's limit.key, or a
// client-side limiter, whose Result.Scope reads "client-side:<scope>") gets a
// result.RateLimitObservation: its allowed count (from
// inin-ratelimit-allowed or the 429 body, else a KnownLimit), its window (a
// KnownLimit, else estimated from Retry-After and from inin-ratelimit-reset
// when the headers describe that bucket, see result.EstimateWindow), how many
// requests it rejected, the first and last rejection, and its scope inferred
// from evidence by result.InferScope: one token among many rejected means a
// token limit; all tokens of one client, a client limit; several clients, an
// org limit only when one of them was rejected before it had sent as many
// requests as the bucket allows; one operation rejected while others
// succeeded, an endpoint limit.
//
// # The result document
//
// Snapshot returns a result.Document (package harness/result holds the
// schema, cxload.result/v1), and Emit writes it into the test output as one
// line that reports and scripts/report read back.
//
// # Thresholds
//
// AssertThresholds judges threshold expressions (result.ParseThreshold) on a
// document and records their verdicts in it, failing the test with one
// paragraph per failed threshold, naming the measured value and the
// operation. A ThresholdWatcher checks periodically during the run and
// cancels its context at the first failure.
//
// # Progress
//
// Recorder.Progress logs a line every few seconds:
//
//	cxload-progress: elapsed=12s agents=100 rps=812 429s=23 errors=0 p99=45ms
//
// ReportBenchmark reports req/s, p50-ms, p99-ms, 429s/op and errors/op with
// b.ReportMetric.
package metrics
