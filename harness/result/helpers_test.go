package result_test

import (
	"math"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/internal/resulttest"
)

// The shared fixtures (internal/resulttest) under this package's names.
type clock = resulttest.Clock

var (
	epoch    = resulttest.Epoch
	newClock = resulttest.NewClock
	mkResult = resulttest.Result
)

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
