package api

import (
	"net/http"
	"time"

	"github.com/cxload/cxload/harness/backoff"
)

// RetryPolicy says when and how long to wait before sending a request again.
// Zero fields take the values of DefaultRetry.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts the client makes per request, the
	// first included; 1 means no retries. A 401 adds one attempt of its own
	// (after a token refresh). Result.Attempts counts what reached the
	// server instead: re-sends that net/http's Transport makes by itself
	// (see Gate) are counted there, not against this bound.
	MaxAttempts int
	// MaxRetryAfter: a 429 or 503 asking to wait longer than this is not
	// retried; the response is returned as is. (Genesys' Go SDK: 180 s.)
	MaxRetryAfter time.Duration
	// Backoff is the first wait for a 5xx or transport error without
	// Retry-After, doubled per attempt up to MaxBackoff (backoff.Backoff's
	// Step).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Jitter adds up to this fraction of each wait, so that throttled agents
	// do not come back in lockstep. It is added rather than equal jitter
	// (backoff.Backoff's Delay) because a wait the server asked for
	// (Retry-After) must never be shortened. Negative: none.
	Jitter float64
	// RetryUnsafe retries 5xx and transport errors of POST and PATCH too.
	// By default only idempotent methods are retried after a 5xx; 429s are
	// always retried (the server refused the request before acting on it).
	RetryUnsafe bool
}

// DefaultRetry is the retry policy used for zero fields of Config.Retry.
var DefaultRetry = RetryPolicy{
	MaxAttempts:   4,
	MaxRetryAfter: time.Minute,
	Backoff:       500 * time.Millisecond,
	MaxBackoff:    30 * time.Second,
	Jitter:        0.2,
}

// withDefaults returns r with zero fields taken from DefaultRetry and a
// negative Jitter as 0.
func (r RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = d.MaxAttempts
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = d.MaxRetryAfter
	}
	if r.Backoff <= 0 {
		r.Backoff = d.Backoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = d.MaxBackoff
	}
	if r.Jitter == 0 {
		r.Jitter = d.Jitter
	} else if r.Jitter < 0 {
		r.Jitter = 0
	}
	return r
}

// retryable reports whether an attempt's outcome may be retried: a 429
// always (the server refused the request before acting on it), a 5xx but
// 501 or a transport error for idempotent methods or with RetryUnsafe.
func (r RetryPolicy) retryable(method string, a *attemptResult) bool {
	switch {
	case a.status == http.StatusTooManyRequests:
		return true
	case a.status >= 500 && a.status != http.StatusNotImplemented, a.status == 0 && a.err != nil:
		return r.RetryUnsafe || idempotent(method)
	}
	return false
}

// wait returns how long to wait before attempt n+1: the server's
// Retry-After (ra, when asked) or the backoff's step n-1, plus jitter
// (rnd in [0, 1)).
func (r RetryPolicy) wait(n int, ra time.Duration, asked bool, rnd float64) time.Duration {
	w := ra
	if !asked {
		w = backoff.Backoff{Min: r.Backoff, Max: r.MaxBackoff, Factor: 2}.Step(n - 1)
	}
	if r.Jitter > 0 {
		w += time.Duration(r.Jitter * rnd * float64(w))
	}
	return w
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}
