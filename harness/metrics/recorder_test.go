package metrics_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/internal/resulttest"
)

// The shared fixtures (internal/resulttest) under this package's names.
var (
	epoch    = resulttest.Epoch
	newClock = resulttest.NewClock
	mkResult = resulttest.Result
)

func TestRecorderCountsAndSeries(t *testing.T) {
	c := newClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now), metrics.WithScenario("TestX"), metrics.WithShard("1/2"),
		metrics.WithTarget("simulator", ""), metrics.WithLabels(map[string]string{"k": "v"}))
	start := c.Now()
	// second 0: 3 ok, 1 429; second 2: one 500, one transport error; second 3: a 404
	for i := 0; i < 3; i++ {
		r := mkResult("a", 200, start.Add(100*time.Millisecond), 10*time.Millisecond)
		r.BytesIn, r.BytesOut = 100, 10
		rec.Record(r)
	}
	rec.Record(mkResult("a", 429, start.Add(200*time.Millisecond), time.Millisecond))
	rec.Record(mkResult("b", 500, start.Add(2*time.Second), 20*time.Millisecond))
	rec.Record(mkResult("b", 0, start.Add(2*time.Second+500*time.Millisecond), 30*time.Millisecond))
	rec.Record(mkResult("b", 404, start.Add(3*time.Second), 5*time.Millisecond))
	c.Advance(4 * time.Second)
	doc := rec.Snapshot()

	if doc.Schema != result.SchemaVersion || doc.Scenario != "TestX" || doc.Shard != "1/2" || doc.Target.Kind != "simulator" || doc.Labels["k"] != "v" {
		t.Errorf("header = %q %q %q %+v %v", doc.Schema, doc.Scenario, doc.Shard, doc.Target, doc.Labels)
	}
	if !doc.Start.Equal(epoch) || !doc.End.Equal(epoch.Add(4*time.Second)) {
		t.Errorf("start, end = %v, %v; want %v, +4s", doc.Start, doc.End, epoch)
	}
	a := doc.Op("a")
	if a == nil {
		t.Fatalf("Op(a) = nil; ops %v", doc.OpNames())
	}
	if a.Count != 4 || a.Outcomes["ok"] != 3 || a.Outcomes["throttled"] != 1 || a.Status429 != 1 || a.BytesIn != 300 || a.BytesOut != 30 || a.Attempts != 4 {
		t.Errorf("a = count %d outcomes %v 429 %d bytes %d/%d attempts %d", a.Count, a.Outcomes, a.Status429, a.BytesIn, a.BytesOut, a.Attempts)
	}
	if a.Route != "/api/v2/a" {
		t.Errorf("a.Route = %q", a.Route)
	}
	b := doc.Op("b")
	if b.Errors() != 3 || b.Outcome(result.TransportError) != 1 {
		t.Errorf("b errors = %d, transport = %d; want 3, 1", b.Errors(), b.Outcome(result.TransportError))
	}
	if got := b.ByOutcome["server_error"].Latency.Percentile(50); !near(got, 20*time.Millisecond) {
		t.Errorf("b server_error p50 = %v, want 20ms", got)
	}
	s := doc.Series
	if s.IntervalMs != 1000 {
		t.Errorf("IntervalMs = %d", s.IntervalMs)
	}
	want := struct{ req, thr, errs []int64 }{[]int64{4, 0, 2, 1}, []int64{1, 0, 0, 0}, []int64{0, 0, 2, 1}}
	if !equal(s.Requests, want.req) || !equal(s.Throttled, want.thr) || !equal(s.Errors, want.errs) {
		t.Errorf("series = %v %v %v; want %v %v %v", s.Requests, s.Throttled, s.Errors, want.req, want.thr, want.errs)
	}
	if all := doc.All(); all.Count != 7 {
		t.Errorf("All().Count = %d, want 7", all.Count)
	}
}

// near reports whether got is within the histograms' 0.1% of want.
func near(got, want time.Duration) bool {
	return math.Abs(float64(got-want)) <= 0.001*float64(want)
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRecorderDefaultOpName(t *testing.T) {
	rec := metrics.NewRecorder()
	rec.Record(&metrics.Result{Method: "PATCH", Route: "/api/v2/users/{id}/presences/{source}", Status: 200, Latency: time.Millisecond})
	rec.Record(&metrics.Result{Status: 200})
	doc := rec.Snapshot()
	if got := doc.OpNames(); len(got) != 2 || got[0] != "PATCH /api/v2/users/{id}/presences/{source}" || got[1] != "unnamed" {
		t.Errorf("OpNames() = %q", got)
	}
}

// The CO-corrected total is recorded apart from service time; Intended sets
// the series slot by completion time.
func TestRecorderTotalVersusLatency(t *testing.T) {
	c := newClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now))
	r := &metrics.Result{Op: "x", Status: 200, Intended: epoch, Start: epoch.Add(2 * time.Second),
		Latency: 10 * time.Millisecond, Total: 2*time.Second + 10*time.Millisecond}
	rec.Record(r)
	c.Advance(5 * time.Second)
	doc := rec.Snapshot()
	x := doc.Op("x")
	if got := x.Latency.Percentile(99); !near(got, 10*time.Millisecond) {
		t.Errorf("latency p99 = %v, want 10ms", got)
	}
	if got := x.Total.Percentile(99); !near(got, 2010*time.Millisecond) {
		t.Errorf("total p99 = %v, want 2.01s within 0.1%%", got)
	}
	if !equal(doc.Series.Requests, []int64{0, 0, 1, 0, 0}) {
		t.Errorf("series = %v, want the request in slot 2", doc.Series.Requests)
	}
}

// Percentiles read from the histogram are within 0.1% of the exact ones.
func TestPercentileAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rec := metrics.NewRecorder()
	var exact []int64 // µs, as recorded
	for i := 0; i < 200_000; i++ {
		// log-uniform between 50 µs and 20 s
		us := int64(math.Exp(math.Log(50) + rng.Float64()*(math.Log(20e6)-math.Log(50))))
		exact = append(exact, us)
		rec.Record(&metrics.Result{Op: "x", Status: 200, Latency: time.Duration(us) * time.Microsecond})
	}
	sort.Slice(exact, func(i, j int) bool { return exact[i] < exact[j] })
	doc := rec.Snapshot()
	for _, p := range []float64{50, 90, 99, 99.9, 99.99, 100} {
		rank := int(math.Ceil(p / 100 * float64(len(exact))))
		want := float64(exact[rank-1])
		got := float64(doc.Op("x").Latency.Percentile(p) / time.Microsecond)
		if rel := math.Abs(got-want) / want; rel > 0.001 {
			t.Errorf("p%v = %vµs, exact %vµs: off by %.4f%%, want <= 0.1%%", p, got, want, rel*100)
		}
	}
}

// Values out of the histogram's range are clamped, not lost.
func TestRecordClampsOutOfRange(t *testing.T) {
	rec := metrics.NewRecorder()
	rec.Record(&metrics.Result{Op: "x", Status: 200, Latency: -time.Second})
	rec.Record(&metrics.Result{Op: "x", Status: 200, Latency: 3 * time.Hour})
	doc := rec.Snapshot()
	x := doc.Op("x")
	if x.Latency.Count() != 2 {
		t.Fatalf("count = %d, want 2", x.Latency.Count())
	}
	if got := x.Latency.Max(); got < 59*time.Minute || got > 61*time.Minute {
		t.Errorf("max = %v, want about 1h (clamped)", got)
	}
	if got := x.Latency.Min(); got != 0 {
		t.Errorf("min = %v, want 0 (clamped)", got)
	}
}

// Many goroutines recording at once lose nothing (run with -race).
func TestRecordConcurrent(t *testing.T) {
	rec := metrics.NewRecorder()
	const workers, each = 16, 2000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := []string{"a", "b", "c"}
			now := time.Now()
			for i := 0; i < each; i++ {
				status := 200
				if i%10 == 0 {
					status = 429
				}
				r := mkResult(ops[i%3], status, now, time.Duration(i)*time.Microsecond)
				r.TokenID = string(rune('A' + w))
				r.ThrottledBy = ""
				if status == 429 {
					r.ThrottledBy = "token.rate.per.minute"
				}
				rec.Record(r)
			}
		}()
	}
	done := make(chan struct{})
	go func() { // snapshots while recording
		defer close(done)
		for i := 0; i < 5; i++ {
			_ = rec.Snapshot()
		}
	}()
	wg.Wait()
	<-done
	doc := rec.Snapshot()
	all := doc.All()
	if all.Count != workers*each {
		t.Errorf("count = %d, want %d", all.Count, workers*each)
	}
	if got, want := all.Outcome(result.Throttled), int64(workers*each/10); got != want {
		t.Errorf("throttled = %d, want %d", got, want)
	}
	if all.Latency.Count() != workers*each {
		t.Errorf("histogram count = %d, want %d", all.Latency.Count(), workers*each)
	}
	if doc.Identities.Tokens != workers {
		t.Errorf("tokens = %d, want %d", doc.Identities.Tokens, workers)
	}
	rl := doc.RateLimit("token.rate.per.minute")
	if rl == nil || rl.Rejected != workers*each/10 || rl.Evidence.Tokens != workers {
		t.Errorf("rate limit = %+v", rl)
	}
}

// Record does not allocate once an operation and outcome have been seen.
func TestRecordDoesNotAllocate(t *testing.T) {
	rec := metrics.NewRecorder()
	now := time.Now()
	ok := mkResult("presence.set", 200, now, 3*time.Millisecond)
	ok.TokenID, ok.ClientID, ok.UserID = "tok-1", "cli-1", "usr-1"
	thr := mkResult("presence.set", 429, now, time.Millisecond)
	thr.TokenID, thr.ClientID = "tok-2", "cli-1"
	thr.ThrottledBy, thr.Scope = "token.rate.per.minute", "token"
	thr.RateLimit = metrics.RateLimitInfo{Count: 300, Allowed: 300, Reset: 30 * time.Second, Key: "token.rate.per.minute", RetryAfter: 30 * time.Second}
	rec.Record(ok) // warm up: first sight allocates the op, histograms, series, id sets
	rec.Record(thr)
	for _, r := range []*metrics.Result{ok, thr} {
		if n := testing.AllocsPerRun(1000, func() { rec.Record(r) }); n != 0 {
			t.Errorf("Record(%v) allocates %v times per call, want 0", r.Outcome, n)
		}
	}
}

func TestRecordWebSocket(t *testing.T) {
	rec := metrics.NewRecorder()
	if rec.Snapshot().WebSocket != nil {
		t.Fatal("WebSocket != nil before any notification event")
	}
	for _, ev := range []metrics.WebSocketEvent{
		{Kind: metrics.WSConnect},
		{Kind: metrics.WSHeartbeat, Gap: 30 * time.Second},
		{Kind: metrics.WSHeartbeat, Gap: 44 * time.Second},
		{Kind: metrics.WSEvent, PushLatency: 5 * time.Millisecond},
		{Kind: metrics.WSEvent, PushLatency: 7 * time.Millisecond},
		{Kind: metrics.WSDrop},
		{Kind: metrics.WSReconnect},
		{Kind: metrics.WSLost, N: 3},
		{Kind: metrics.WSLost},
	} {
		rec.RecordWebSocket(ev)
	}
	w := rec.Snapshot().WebSocket
	if w.Connects != 1 || w.Heartbeats != 2 || w.MaxHeartbeatGapMs != 44000 || w.Events != 2 || w.Drops != 1 || w.Reconnects != 1 || w.Lost != 4 {
		t.Errorf("websocket = %+v", w)
	}
	if got := w.PushLatency.Percentile(100); !near(got, 7*time.Millisecond) {
		t.Errorf("push p100 = %v, want 7ms", got)
	}
	// WebSocket reads the same figures without encoding the histogram.
	now := rec.WebSocket()
	if now.PushLatency.Data != "" || now.PushLatency.Count() != 2 {
		t.Errorf("WebSocket().PushLatency = %+v (count %d), want 2 values, not encoded", now.PushLatency, now.PushLatency.Count())
	}
	now.PushLatency, w.PushLatency = result.Histogram{}, result.Histogram{}
	if *now != *w {
		t.Errorf("WebSocket() = %+v, want the snapshot's %+v", *now, *w)
	}
}

// Operations beyond the most a recorder keeps apart go to OtherOp, and the
// summary says why.
func TestMaxOperations(t *testing.T) {
	rec := metrics.NewRecorder(metrics.WithMaxOperations(2))
	for _, path := range []string{"/u/1", "/u/2", "/u/3", "/u/4", "/u/1"} {
		rec.Record(&metrics.Result{Method: "GET", Route: path, Status: 200, Latency: time.Millisecond})
	}
	doc := rec.Snapshot()
	if got := strings.Join(doc.OpNames(), ","); got != "(other),GET /u/1,GET /u/2" {
		t.Errorf("ops = %s", got)
	}
	if o := doc.Op(result.OtherOp); o == nil || o.Count != 2 {
		t.Errorf("other = %+v", o)
	}
	if !strings.Contains(doc.Summary, "2 results were recorded as operation (other)") {
		t.Errorf("summary = %q", doc.Summary)
	}
	if p := rec.ProgressStats(); p.Requests != 5 {
		t.Errorf("progress requests = %d, want 5", p.Requests)
	}
}

// The document's attempts are the attempts sent to the server: a request
// refused before sending (Attempts 0) counts as a request, not an attempt.
func TestAttemptsAreSent(t *testing.T) {
	for _, tc := range []struct {
		name         string
		attempts     []int // Result.Attempts of each recorded request
		wantAttempts int64
	}{
		{name: "one each", attempts: []int{1, 1, 1}, wantAttempts: 3},
		{name: "retried", attempts: []int{3, 1}, wantAttempts: 4},
		{name: "refused before sending", attempts: []int{0}, wantAttempts: 0},
		{name: "mixed", attempts: []int{0, 2, 0, 1}, wantAttempts: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			rec := metrics.NewRecorder(metrics.WithNow(c.Now))
			for _, n := range tc.attempts {
				res := mkResult("a", 200, epoch, time.Millisecond)
				res.Attempts = n
				if n == 0 {
					res.Status, res.Outcome, res.Err = 0, result.Throttled, "refused by the client-side limiter"
				}
				rec.Record(res)
			}
			a := rec.Snapshot().Op("a")
			if a.Count != int64(len(tc.attempts)) || a.Attempts != tc.wantAttempts {
				t.Errorf("Results with attempts %v: document count %d, attempts %d; want %d, %d",
					tc.attempts, a.Count, a.Attempts, len(tc.attempts), tc.wantAttempts)
			}
		})
	}
}
