// Package backoff is the one exponential backoff of cxload's clients: the
// API client's retries (harness/api), the token pool's failed token
// requests (harness/auth) and the notification sockets' reconnects
// (harness/notify).
package backoff

import (
	"context"
	"time"
)

// A Backoff is a capped exponential backoff: the wait before retry n
// (0-based) grows from Min by Factor per retry, up to Max. Random numbers
// are the caller's, so that a wait is a pure function of its inputs.
//
// Delay spreads waits with equal jitter (half fixed, half random): clients
// that failed together do not come back together, and none retries at
// once. A caller that must never wait less than asked (a server's
// Retry-After) adds its jitter on top of Step instead.
type Backoff struct {
	Min    time.Duration // the first wait, before jitter
	Max    time.Duration // the longest wait, before jitter; 0: no cap
	Factor float64       // growth per retry; below 1 (the zero value included): 2
}

// Step returns Min·Factor^n, capped at Max: retry n's wait before jitter.
func (b Backoff) Step(n int) time.Duration {
	f := b.Factor
	if f < 1 {
		f = 2
	}
	d := float64(b.Min)
	for range n {
		if b.Max > 0 && d >= float64(b.Max) {
			break
		}
		d *= f
	}
	if b.Max > 0 {
		d = min(d, float64(b.Max))
	}
	if d >= float64(1<<63-1) {
		return 1<<63 - 1
	}
	return time.Duration(d)
}

// Delay returns retry n's wait with equal jitter: Step(n)/2 + r·Step(n)/2,
// for r in [0, 1).
func (b Backoff) Delay(n int, r float64) time.Duration {
	d := b.Step(n)
	return d/2 + time.Duration(r*float64(d/2))
}

// Sleep waits d, or until ctx ends, whose error it then returns.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
