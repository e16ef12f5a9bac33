package result_test

import (
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

func ExampleParseThreshold() {
	for _, expr := range []string{"p99(presence.set, service) < 800ms", "p99(presence.set) < 800ms", "p99(presence.set, total) < 2s", "rate(errors, presence.set) < 0.5%", "p99(presence.set) < 8OOms"} {
		th, err := result.ParseThreshold(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("ok:", th)
	}
	// Output:
	// ok: p99(presence.set, service) < 800ms
	// ok: p99(presence.set, service) < 800ms
	// ok: p99(presence.set, total) < 2s
	// ok: rate(errors, presence.set) < 0.5%
	// result: threshold "p99(presence.set) < 8OOms": column 21: "8OOms" is not a duration: want e.g. 800ms, 1.5s or 250us (forms: p99(op, service) < 800ms, p99.9(op, ok, service) <= 1s, p99(op, total) < 2s, avg(op, service) < 50ms, max(op, total) < 5s, rate(429) < 1%, rate(errors, op) < 0.5%, count(transport errors) == 0, count(requests, op) >= 1000, rps(op) >= 100, rejected(token.rate.per.minute) == 0, max_heartbeat_gap < 45s, ws_lost == 0)
}

// Shards of a run merge exactly, after a round trip through the test output.
func ExampleDocument_Merge() {
	shard := func(name string, ms ...int) *result.Document {
		rec := metrics.NewRecorder(metrics.WithShard(name))
		for _, v := range ms {
			rec.Record(&metrics.Result{Op: "a", Status: 200, Latency: time.Duration(v) * time.Millisecond})
		}
		b, _ := rec.Snapshot().Encode() // what Emit writes
		doc, err := result.Decode(b)
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
	scope, why := result.InferScope(result.Evidence{
		Tokens: 1, Clients: 1, TokensSeen: 8, ClientsSeen: 1,
		Ops: []string{"presence.set"},
	})
	fmt.Println(scope+":", why)
	// Output:
	// token: 1 of 8 tokens was rejected while the others passed
}

// A reader of go test output joins a test's output pieces until the newline,
// then decodes what follows the prefix.
func ExampleDecode() {
	rec := metrics.NewRecorder(metrics.WithScenario("TestQueues"))
	rec.Record(&metrics.Result{Op: "queues.list", Status: 200, Latency: 12 * time.Millisecond})
	b, _ := rec.Snapshot().Encode()
	line := "    queues_test.go:40: " + result.Prefix + string(b) + "\n" // as t.Log writes it

	doc, err := result.Decode([]byte(line))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.Scenario, doc.Op("queues.list").Count, doc.Op("queues.list").Latency.Percentile(99).Round(time.Millisecond))

	_, err = result.Decode([]byte(`{"schema":"cxload.result/v2"}`))
	fmt.Println(err)
	// Output:
	// TestQueues 1 12ms
	// result: decode document: schema "cxload.result/v2" is not supported: this reader understands "cxload.result/v1"
}
