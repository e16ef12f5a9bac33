package gcsim

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestTrafficKeepsRate: a traffic timer that fires late (timer latency, a
// callback waiting for the lock) delays calls but does not lower the rate.
// With every firing lag late, the calls offered by any time T are those
// the seed's timeline makes due by T, give or take the ones due in the
// last lag.
func TestTrafficKeepsRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lag = 50 * time.Millisecond
		p := DefaultProfile()
		p.ACD.Traffic = Traffic{CallsPerSecond: 10, Queues: []string{QueueID(0)}}
		s := NewUnstartedServer(p)
		defer s.Close()
		s.state.acd.afterFunc = func(d time.Duration, f func()) *time.Timer { return time.AfterFunc(d+lag, f) }
		start := time.Now()
		s.startTraffic()

		// due returns how many calls the timeline makes due by at.
		due := func(at time.Time) int {
			a := newArrivals(s.state.acd.seed, 10, 1, 0, start)
			n := 0
			for _, _, ok := a.take(at); ok; _, _, ok = a.take(at) {
				n++
			}
			return n
		}
		for _, at := range []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second} {
			time.Sleep(time.Until(start.Add(at)))
			s.state.convMu.Lock()
			got := len(s.state.convs)
			s.state.convMu.Unlock()
			lo, hi := due(start.Add(at-lag)), due(start.Add(at))
			if got < lo || got > hi {
				t.Errorf("calls offered by %v = %d, want %d to %d (due by then on the timeline, at 10 per second)", at, got, lo, hi)
			}
		}
	})
}
