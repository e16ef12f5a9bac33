package result_test

import (
	"math"
	"sync"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// clock is an injected clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var epoch = time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mkResult(op string, status int, start time.Time, latency time.Duration) *metrics.Result {
	return &metrics.Result{
		Op: op, Method: "GET", Route: "/api/v2/" + op, Status: status,
		Outcome: result.OutcomeFor(status), Start: start, Latency: latency, Total: latency, Attempts: 1,
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

// throttled builds a 429 result rejected by bucket key.
func throttled(op, key, tok, cli string, at time.Time) *metrics.Result {
	r := mkResult(op, 429, at, time.Millisecond)
	r.ThrottledBy = key
	r.TokenID, r.ClientID = tok, cli
	r.RateLimit = metrics.RateLimitInfo{Count: 301, Allowed: 300, Reset: 61 * time.Second, Key: key, Namespace: "platform.api", Value: 300, RetryAfter: 20 * time.Second}
	return r
}

func ok(op, tok, cli string, at time.Time) *metrics.Result {
	r := mkResult(op, 200, at, time.Millisecond)
	r.TokenID, r.ClientID = tok, cli
	return r
}
