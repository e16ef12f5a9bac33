package metrics_test

import (
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// A scenario records every request, then judges and emits the result.
func Example() {
	start := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	now := start
	rec := metrics.NewRecorder(metrics.WithScenario("TestPresence"), metrics.WithNow(func() time.Time { return now }))

	for i := 0; i < 600; i++ {
		res := metrics.Result{
			Op: "presence.set", Method: "PATCH", Route: "/api/v2/users/{id}/presences/{source}",
			Status: 200, Start: start.Add(time.Duration(i) * 100 * time.Millisecond),
			Latency: time.Duration(20+i%30) * time.Millisecond, TokenID: fmt.Sprint("tok-", i%4), ClientID: "cli-1",
		}
		if i%4 == 0 && i >= 300 { // token 0 goes over its 300 per minute
			res.Status, res.ThrottledBy = 429, "token.rate.per.minute"
			res.RateLimit = metrics.RateLimitInfo{Allowed: 300, Reset: 61 * time.Second, Value: 300}
		}
		res.Outcome = result.OutcomeFor(res.Status)
		rec.Record(&res)
	}
	now = start.Add(time.Minute)

	doc := rec.Snapshot()
	fmt.Println(doc.Summary)
	for _, r := range result.Check(doc,
		result.MustParseThreshold("p99(presence.set, service) < 800ms"),
		result.MustParseThreshold("rate(429) < 1%"),
	) {
		fmt.Println(r.OK, r.Detail)
	}
	// In a test: metrics.AssertThresholds(t, doc, ...); metrics.Emit(t, doc)

	// Output:
	// 600 requests in 1m0s (peak 10 req/s); 75 throttled (12.5%). Limit token.rate.per.minute rejected 75, allows 300 per 60s; scope token (1 of 4 tokens was rejected while the others passed). Slowest service p99: presence.set 49ms.
	// true threshold p99(presence.set, service) < 800ms: measured 49ms (operation presence.set, 600 requests, service time of the answering attempt)
	// false threshold rate(429) < 1%: measured 12.5% (all operations: 75 of 600 requests were 429)
}

func ExampleRecorder() {
	rec := metrics.NewRecorder()
	for _, ms := range []int{12, 15, 11, 300, 14} {
		rec.Record(&metrics.Result{Op: "queues.list", Status: 200, Latency: time.Duration(ms) * time.Millisecond})
	}
	rec.Record(&metrics.Result{Op: "queues.list", Status: 503, Outcome: result.ServerError, Latency: 2 * time.Millisecond})

	op := rec.Snapshot().Op("queues.list")
	fmt.Println("count:", op.Count, "outcomes:", op.Outcomes)
	fmt.Println("p50:", op.Latency.Percentile(50).Round(time.Millisecond))
	fmt.Println("max:", op.Latency.Max().Round(time.Millisecond))
	// Output:
	// count: 6 outcomes: map[ok:5 server_error:1]
	// p50: 12ms
	// max: 300ms
}
