// Package resulttest holds the fixtures the tests of harness/metrics and
// harness/result share: an injected clock, a request result, and a sample
// run recorded into a document.
package resulttest

import (
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// Epoch is where every Clock starts.
var Epoch = time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)

// Clock is an injected clock that tests move by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at Epoch.
func NewClock() *Clock { return &Clock{t: Epoch} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Result is one GET of operation op answered with status after latency.
func Result(op string, status int, start time.Time, latency time.Duration) *metrics.Result {
	return &metrics.Result{
		Op: op, Method: "GET", Route: "/api/v2/" + op, Status: status,
		Outcome: result.OutcomeFor(status), Start: start, Latency: latency, Total: latency, Attempts: 1,
	}
}

// Sample is a 10-second run: presence.set 1000 requests (p99 ~ 900ms, 20
// throttled by 429, 5 server errors), queues.list 100 requests at 5ms, one
// transport error, and one 31 s heartbeat gap.
func Sample(t testing.TB) *result.Document {
	t.Helper()
	c := NewClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now))
	for i := 0; i < 1000; i++ {
		lat := 10 * time.Millisecond
		if i >= 985 {
			lat = 900 * time.Millisecond
		}
		status := 200
		switch {
		case i%50 == 1:
			status = 429
		case i%200 == 3:
			status = 500
		}
		rec.Record(Result("presence.set", status, Epoch.Add(time.Duration(i)*time.Millisecond), lat))
	}
	for i := 0; i < 99; i++ {
		rec.Record(Result("queues.list", 200, Epoch, 5*time.Millisecond))
	}
	rec.Record(Result("queues.list", 0, Epoch, time.Second))
	rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSHeartbeat, Gap: 31 * time.Second})
	c.Advance(10 * time.Second)
	return rec.Snapshot()
}
