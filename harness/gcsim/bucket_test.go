package gcsim

import (
	"sync"
	"testing"
	"time"
)

const sec = int64(time.Second)

func TestWindowSpec(t *testing.T) {
	fixed := windowSpec{allowed: 3, length: 60 * sec}
	sliding := windowSpec{allowed: 10, length: 60 * sec, sliding: true}
	tests := []struct {
		name      string
		spec      windowSpec
		st        windowState
		now       int64
		wantSt    windowState
		wantUsed  int64
		wantReset int64
	}{
		// The first request opens the window at now, not at a clock boundary.
		{"fixed first request", fixed, windowState{}, 1000 * sec, windowState{start: 1000 * sec}, 0, 60 * sec},
		// Inside the window nothing changes.
		{"fixed inside", fixed, windowState{start: 1000 * sec, count: 3}, 1059 * sec, windowState{start: 1000 * sec, count: 3}, 3, 1 * sec},
		// At exactly start+length the window is over: a new one opens at now.
		{"fixed at end", fixed, windowState{start: 1000 * sec, count: 3}, 1060 * sec, windowState{start: 1060 * sec}, 0, 60 * sec},
		// Long after, the new window opens at now (not aligned to the old one).
		{"fixed long after", fixed, windowState{start: 1000 * sec, count: 3}, 1234 * sec, windowState{start: 1234 * sec}, 0, 60 * sec},
		// A clock going backwards restarts the window rather than underflowing.
		{"fixed clock backwards", fixed, windowState{start: 1000 * sec, count: 2}, 900 * sec, windowState{start: 900 * sec}, 0, 60 * sec},
		// Sliding: one step later the count becomes prev, fully weighted at the step start.
		{"sliding next step", sliding, windowState{start: 0 + 1, count: 10}, 60*sec + 1, windowState{start: 60*sec + 1, prev: 10}, 10, 60 * sec},
		// Half-way through the step, half of prev still counts.
		{"sliding half", sliding, windowState{start: 1, count: 2, prev: 10}, 30*sec + 1, windowState{start: 1, count: 2, prev: 10}, 7, 30 * sec},
		// Two steps later nothing is left.
		{"sliding two steps", sliding, windowState{start: 1, count: 10, prev: 4}, 120*sec + 1, windowState{start: 120*sec + 1}, 0, 60 * sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.spec.roll(tt.st, tt.now)
			if st != tt.wantSt {
				t.Errorf("roll(%+v, %d) = %+v, want %+v", tt.st, tt.now, st, tt.wantSt)
			}
			if got := tt.spec.used(st, tt.now); got != tt.wantUsed {
				t.Errorf("used = %d, want %d", got, tt.wantUsed)
			}
			if got := tt.spec.reset(st, tt.now); got != tt.wantReset {
				t.Errorf("reset = %v, want %v", time.Duration(got), time.Duration(tt.wantReset))
			}
		})
	}
}

// TestSlidingRetryAfter checks that after waiting retryAfter a request fits
// and one nanosecond earlier it does not.
func TestSlidingRetryAfter(t *testing.T) {
	sp := windowSpec{allowed: 10, length: 60 * sec, sliding: true}
	for _, st := range []windowState{
		{start: 1, count: 10},          // current step full
		{start: 1, count: 4, prev: 10}, // full because of the previous step
		{start: 1, count: 9, prev: 7},
	} {
		now := 20*sec + 1
		if sp.used(st, now) < sp.allowed {
			t.Fatalf("state %+v not full at %d", st, now)
		}
		w := sp.retryAfter(st, now)
		at := func(t int64) int64 { return sp.used(sp.roll(st, t), t) }
		if got := at(now + w); got >= sp.allowed {
			t.Errorf("%+v: used after retryAfter %v = %d, want < %d", st, time.Duration(w), got, sp.allowed)
		}
		if got := at(now + w - 1); got < sp.allowed {
			t.Errorf("%+v: used 1ns before retryAfter %v = %d, want >= %d (retryAfter too long)", st, time.Duration(w), got, sp.allowed)
		}
	}
}

func TestAdmit(t *testing.T) {
	small := newRule(0, Limit{Key: "small", Allowed: 2, Window: Duration(time.Minute)})
	big := newRule(1, Limit{Key: "big", Allowed: 5, Window: Duration(time.Minute), CountRejected: true})
	rules := []*limitRule{small, big}
	bs := []*bucket{{}, {}}
	out := make([]verdict, 2)
	now := 10 * sec
	wantOK := []bool{true, true, false, false}
	for i, want := range wantOK {
		if got := admit(rules, bs, now, out); got != want {
			t.Fatalf("request %d: admit = %v, want %v", i+1, got, want)
		}
	}
	// small does not count rejected requests; big does.
	if bs[0].st.count != 2 || bs[1].st.count != 4 {
		t.Errorf("counts = %d, %d; want 2, 4", bs[0].st.count, bs[1].st.count)
	}
	if out[0].allowed || !out[1].allowed || out[0].retry != 60*sec {
		t.Errorf("last verdicts = %+v", out)
	}
	if small.rejected.load() != 2 || big.rejected.load() != 0 || big.admitted.load() != 2 {
		t.Errorf("stats small rejected %d, big rejected %d admitted %d; want 2, 0, 2",
			small.rejected.load(), big.rejected.load(), big.admitted.load())
	}
	// A new window admits again.
	if !admit(rules, bs, now+60*sec, out) {
		t.Error("request in the next window rejected")
	}
}

// TestAdmitConcurrent checks that a bucket admits exactly allowed requests
// under contention (run with -race).
func TestAdmitConcurrent(t *testing.T) {
	r := newRule(0, Limit{Key: "k", Allowed: 300, Window: Duration(time.Minute)})
	b := &bucket{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]verdict, 1)
			for i := 0; i < 100; i++ {
				if admit([]*limitRule{r}, []*bucket{b}, sec, out) {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if admitted != 300 {
		t.Errorf("admitted %d of 800, want 300", admitted)
	}
}
