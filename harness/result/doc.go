// Package result is the result document of a load test, schema
// cxload.result/v1: what a scenario (or one shard of it) measured, as
// harness/metrics writes it and as reports reads it. It holds the Document
// and its parts, the latency Histogram and its encoding, Encode and Decode,
// Merge, the inference of a rate limit's scope (InferScope, EstimateWindow),
// Summarize, and the threshold expressions judged on a document.
//
// Thresholds are judged on the document they describe, by one code path
// (Threshold.Eval): a scenario judges its own (metrics.AssertThresholds), and
// Merge judges every expression again on the merged document, because the
// merged counts and histograms answer the question exactly while the shards'
// verdicts do not (a merged p99 is not a function of the shards' p99s).
//
// # The document
//
// A Document is written into the test output as ONE line,
// "cxload-result: " followed by compact JSON (metrics.Emit). go test -json implies
// -v, so the line is always in the JSON stream, but test2json cuts long
// output lines into several "output" events (of about 1 KiB): a reader must
// join a test's consecutive output events until the newline, then pass the
// text after the prefix to Decode. A t.Attr value is not used, since
// values over about 1 KiB are not emitted as attr events.
//
// The fields (see Document and its types for every one):
//
//	schema      "cxload.result/v1"; Decode refuses any other
//	scenario, shard, labels, target{kind,region}, start, end (RFC 3339)
//	operations  [{op, route, count, outcomes{ok,throttled,...}, status429,
//	             bytesIn, bytesOut, connections, retryWaitMs, attempts,
//	             latency, total, byOutcome{<outcome>{latency,total}}, rateHeaders}]
//	             (attempts: sent to the server, retries included; a request
//	             refused before sending counts in count but adds no attempt)
//	rateLimits  [{key, namespace, scope, scopeReason, declaredScope, allowed,
//	             windowSeconds, windowSource, rejected, recovered, firstRejection, lastRejection,
//	             evidence{tokens,clients,users,tokensSeen,...,ops,opsPassing}, source,
//	             sampleCorrelationIds}]
//	identities  {tokens, clients, users, tokenIds, ...}   opaque ids, capped at 256
//	series      {intervalMs, requests[], throttled[], errors[]}  by completion time
//	websocket   {connects, heartbeats, maxHeartbeatGapMs, drops, reconnects,
//	             events, lost, pushLatency}
//	thresholds  [{expr, figure, value, ok, detail}]
//	findings    [{key, namespace, allowed, windowSeconds, windowSource, scope,
//	             families, method, hidden, evidence[], advice}]   the scenario's answers
//	headline    [] the scenario's answer as a short list
//	summary     plain words: volume, peak rate, the limit, its scope, the slowest service p99
//
// A histogram is {"encoding":"hdr-v2-base64","unit":"us","data":"..."}: an
// HdrHistogram V2 compressed snapshot in base64, readable by every
// HdrHistogram implementation. Document.Merge adds shards exactly: counts
// add, histograms merge bucket by bucket, series add by index aligned on the
// start times, rate-limit observations merge by key and source, and scopes
// are inferred again from the merged evidence. Read percentiles with
// doc.Op("presence.set").Latency.Percentile(99).
//
// # Findings
//
// A scenario that sets out to answer "which limit, what figure, what
// window, what scope" records its answers once, as Findings. Limits gives
// the answers a reader shows: each finding (with the 429s of its key, and
// where they disagree with it), then each limit the run observed that no
// finding names, inferred from its 429s (InferScope, EstimateWindow).
//
// # Thresholds
//
// ParseThreshold reads k6-like expressions: "p99(presence.set, service) < 800ms",
// "p99(presence.set, total) < 2s" (every latency threshold names its figure:
// the service time of the answering attempt, or the total time from the
// intended send; the older "p99(op)" judges the service time and is recorded
// named),
// "rate(429) < 1%", "rate(errors, presence.set) < 0.5%",
// "count(transport errors) == 0", "rps(presence.set) >= 100",
// "max_heartbeat_gap < 45s" (see Threshold). Check evaluates them.
package result
