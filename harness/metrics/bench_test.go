package metrics_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// benchResults returns n distinct, realistic results (3 operations, 100
// tokens of one client, 2% throttled by the token bucket).
func benchResults(n int) []metrics.Result {
	ops := []string{"presence.set", "routingstatus.get", "queues.list"}
	now := time.Now()
	out := make([]metrics.Result, n)
	for i := range out {
		r := metrics.Result{
			Op: ops[i%len(ops)], Method: "PATCH", Route: "/api/v2/users/{id}/presences/{source}",
			Status: 200, Start: now.Add(time.Duration(i) * time.Millisecond),
			Latency: time.Duration(1000+i*37%50000) * time.Microsecond, Attempts: 1,
			BytesIn: 412, BytesOut: 64, TokenID: "tok-" + strconv.Itoa(i%100), ClientID: "cli-1",
			RateLimit: metrics.RateLimitInfo{Count: i % 300, Allowed: 300, Reset: 40 * time.Second},
		}
		r.Total = r.Latency
		if i%50 == 0 {
			r.Status, r.ThrottledBy, r.Scope = 429, "token.rate.per.minute", "token"
			r.RateLimit.Key, r.RateLimit.Value, r.RateLimit.RetryAfter = "token.rate.per.minute", 300, 20*time.Second
		}
		r.Outcome = result.OutcomeFor(r.Status)
		out[i] = r
	}
	return out
}

// BenchmarkRecord is the cost of recording one result on one goroutine
// (target: < 200 ns, 0 allocs/op).
func BenchmarkRecord(b *testing.B) {
	rs := benchResults(4096)
	rec := metrics.NewRecorder()
	for i := range rs {
		rec.Record(&rs[i]) // warm up: ops, histograms, id sets
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; b.Loop(); i++ {
		rec.Record(&rs[i&4095])
	}
	cpu.report()
}

type cpuMeter struct {
	b     *testing.B
	start time.Duration
	ok    bool
}

// startCPU resets the timer and starts measuring CPU time; report adds
// cpu-ns/op, the process CPU time per operation (all goroutines together).
func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	t, ok := cpuTime()
	return cpuMeter{b: b, start: t, ok: ok}
}

func (m cpuMeter) report() {
	m.b.StopTimer()
	if t, ok := cpuTime(); ok && m.ok && m.b.N > 0 {
		m.b.ReportMetric(float64(t-m.start)/float64(m.b.N), "cpu-ns/op")
	}
}

// BenchmarkRecordParallel records from GOMAXPROCS goroutines at once.
func BenchmarkRecordParallel(b *testing.B) {
	rs := benchResults(4096)
	rec := metrics.NewRecorder()
	for i := range rs {
		rec.Record(&rs[i])
	}
	var seed atomic.Int64
	b.ReportAllocs()
	cpu := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1) * 1021)
		for pb.Next() {
			rec.Record(&rs[i&4095])
			i++
		}
	})
	cpu.report()
}

// BenchmarkSnapshot is the cost of turning a recorder into a document.
func BenchmarkSnapshot(b *testing.B) {
	rs := benchResults(4096)
	rec := metrics.NewRecorder()
	for i := range rs {
		rec.Record(&rs[i])
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = rec.Snapshot()
	}
}

// ReportBenchmark reports the headline metrics a benchmark of a scenario shows.
func TestReportBenchmark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark")
	}
	res := testing.Benchmark(func(b *testing.B) {
		c := newClock()
		rec := metrics.NewRecorder(metrics.WithNow(c.Now))
		for i := 0; i < b.N; i++ {
			st := 200
			if i%4 == 0 {
				st = 429
			}
			rec.Record(mkResult("a", st, epoch, 10*time.Millisecond))
		}
		c.Advance(time.Duration(b.N) * time.Millisecond) // 1000 req/s
		metrics.ReportBenchmark(b, rec.Snapshot())
	})
	want := map[string]float64{"req/s": 1000, "p50-ms": 10, "p99-ms": 10, "429s/op": 0.25, "errors/op": 0}
	for unit, w := range want {
		got, ok := res.Extra[unit]
		if !ok {
			t.Errorf("no %s metric; got %v", unit, res.Extra)
			continue
		}
		if d := got - w; d > 0.011*w+0.01 || d < -0.011*w-0.01 { // 429s/op rounds with b.N
			t.Errorf("%s = %v, want %v", unit, got, w)
		}
	}
}
