package metrics_test

import (
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/metrics"
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
		res.Outcome = metrics.OutcomeFor(res.Status)
		rec.Record(&res)
	}
	now = start.Add(time.Minute)

	doc := rec.Snapshot()
	fmt.Println(doc.Summary)
	for _, r := range metrics.Check(doc,
		metrics.MustParseThreshold("p99(presence.set) < 800ms"),
		metrics.MustParseThreshold("rate(429) < 1%"),
	) {
		fmt.Println(r.OK, r.Detail)
	}
	// In a test: metrics.AssertThresholds(t, doc, ...); metrics.Emit(t, doc)

	// Output:
	// 600 requests in 1m0s (peak 10 req/s); 75 throttled (12.5%). Limit token.rate.per.minute rejected 75, allows 300 per 60s; scope token (1 of 4 tokens was rejected while the others passed). Slowest p99: presence.set 49ms.
	// true threshold p99(presence.set) < 800ms: measured 49ms (operation presence.set, 600 requests, service time)
	// false threshold rate(429) < 1%: measured 12.5% (all operations: 75 of 600 requests were 429)
}

func ExampleRecorder() {
	rec := metrics.NewRecorder()
	for _, ms := range []int{12, 15, 11, 300, 14} {
		rec.Record(&metrics.Result{Op: "queues.list", Status: 200, Latency: time.Duration(ms) * time.Millisecond})
	}
	rec.Record(&metrics.Result{Op: "queues.list", Status: 503, Outcome: metrics.ServerError, Latency: 2 * time.Millisecond})

	op := rec.Snapshot().Op("queues.list")
	fmt.Println("count:", op.Count, "outcomes:", op.Outcomes)
	fmt.Println("p50:", op.Latency.Percentile(50).Round(time.Millisecond))
	fmt.Println("max:", op.Latency.Max().Round(time.Millisecond))
	// Output:
	// count: 6 outcomes: map[ok:5 server_error:1]
	// p50: 12ms
	// max: 300ms
}

func ExampleParseThreshold() {
	for _, expr := range []string{"p99(presence.set) < 800ms", "rate(errors, presence.set) < 0.5%", "p99(presence.set) < 8OOms"} {
		th, err := metrics.ParseThreshold(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("ok:", th)
	}
	// Output:
	// ok: p99(presence.set) < 800ms
	// ok: rate(errors, presence.set) < 0.5%
	// metrics: threshold "p99(presence.set) < 8OOms": column 21: "8OOms" is not a duration: want e.g. 800ms, 1.5s or 250us (forms: p99(op) < 800ms, p99.9(op, ok) <= 1s, p99(op, total) < 2s, avg(op) < 50ms, max(op) < 5s, rate(429) < 1%, rate(errors, op) < 0.5%, count(transport errors) == 0, count(requests, op) >= 1000, rps(op) >= 100, rejected(token.rate.per.minute) == 0, max_heartbeat_gap < 45s, ws_lost == 0)
}

// Shards of a run merge exactly, after a round trip through the test output.
func ExampleDocument_Merge() {
	shard := func(name string, ms ...int) *metrics.Document {
		rec := metrics.NewRecorder(metrics.WithShard(name))
		for _, v := range ms {
			rec.Record(&metrics.Result{Op: "a", Status: 200, Latency: time.Duration(v) * time.Millisecond})
		}
		b, _ := rec.Snapshot().Encode() // what Emit writes
		doc, err := metrics.DecodeDocument(b)
		if err != nil {
			panic(err)
		}
		return doc
	}
	doc := shard("1/2", 10, 20, 30)
	if err := doc.Merge(shard("2/2", 40, 50)); err != nil {
		panic(err)
	}
	a := doc.Op("a")
	fmt.Println(doc.Shard, a.Count, a.Latency.Percentile(100).Round(time.Millisecond))
	// Output:
	// 1/2+2/2 5 50ms
}

func ExampleInferScope() {
	scope, why := metrics.InferScope(metrics.Evidence{
		Tokens: 1, Clients: 1, TokensSeen: 8, ClientsSeen: 1,
		Ops: []string{"presence.set"},
	})
	fmt.Println(scope+":", why)
	// Output:
	// token: 1 of 8 tokens was rejected while the others passed
}

// A reader of go test output joins a test's output pieces until the newline,
// then decodes what follows the prefix.
func ExampleDecodeDocument() {
	rec := metrics.NewRecorder(metrics.WithScenario("TestQueues"))
	rec.Record(&metrics.Result{Op: "queues.list", Status: 200, Latency: 12 * time.Millisecond})
	b, _ := rec.Snapshot().Encode()
	line := "    queues_test.go:40: " + metrics.ResultPrefix + string(b) + "\n" // as t.Log writes it

	doc, err := metrics.DecodeDocument([]byte(line))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.Scenario, doc.Op("queues.list").Count, doc.Op("queues.list").Latency.Percentile(99).Round(time.Millisecond))

	_, err = metrics.DecodeDocument([]byte(`{"schema":"cxload.result/v2"}`))
	fmt.Println(err)
	// Output:
	// TestQueues 1 12ms
	// metrics: decode document: schema "cxload.result/v2" is not supported: this reader understands "cxload.result/v1"
}
