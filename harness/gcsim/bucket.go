package gcsim

import (
	"sync"
	"time"
)

// windowSpec is a bucket's rule: allowed requests per length, fixed or sliding.
type windowSpec struct {
	allowed int64
	length  int64 // nanoseconds
	sliding bool
}

// windowState is a bucket's count. Its methods are pure functions of the
// state, the spec and now (Unix nanoseconds), so they are tested with a table
// and no clock.
type windowState struct {
	start int64 // start of the current (sub-)window; 0 = never used
	count int64 // requests counted in the current (sub-)window
	prev  int64 // sliding: count of the previous sub-window
}

// roll returns the state as seen at now. A fixed window opens at the first
// request after the previous one ended (not aligned to the clock); a sliding
// window moves in steps of length, keeping the previous step's count.
func (sp windowSpec) roll(s windowState, now int64) windowState {
	if s.start == 0 || now < s.start {
		return windowState{start: now}
	}
	age := now - s.start
	if age < sp.length {
		return s
	}
	if !sp.sliding {
		return windowState{start: now}
	}
	steps := age / sp.length
	next := windowState{start: s.start + steps*sp.length}
	if steps == 1 {
		next.prev = s.count
	}
	return next
}

// used is the number of requests the window holds at now (s already rolled).
// For a sliding window it is the current count plus the previous count
// weighted by the part of the previous sub-window still inside the window.
func (sp windowSpec) used(s windowState, now int64) int64 {
	if !sp.sliding || s.prev == 0 {
		return s.count
	}
	overlap := sp.length - (now - s.start) // in (0, length]
	return s.count + (s.prev*overlap+sp.length-1)/sp.length
}

// reset is the time until the current (sub-)window ends.
func (sp windowSpec) reset(s windowState, now int64) int64 {
	r := s.start + sp.length - now
	if r < 0 {
		return 0
	}
	return r
}

// retryAfter is the time until one more request fits (s already rolled and full).
func (sp windowSpec) retryAfter(s windowState, now int64) int64 {
	if !sp.sliding {
		return sp.reset(s, now)
	}
	// The estimate at time t in this sub-window is count + prev*(L-(t-start))/L.
	room := sp.allowed - s.count
	if room > 0 && s.prev > 0 {
		// Need prev*(L-e)/L <= room-1  <=>  e >= L - (room-1)*L/prev.
		e := sp.length - (room-1)*sp.length/s.prev
		if w := s.start + e - now; w > 0 {
			return w
		}
		return 1
	}
	// The current sub-window is full: wait until it becomes the previous one
	// and has decayed enough (count*(L-e)/L <= allowed-1).
	e := sp.length
	if s.count > 0 {
		e = sp.length - (sp.allowed-1)*sp.length/s.count
	}
	return s.start + sp.length + e - now
}

// bucket is one counter: one token's, one client-user's, one org's...
type bucket struct {
	mu sync.Mutex
	st windowState
}

// verdict is the outcome of checking one bucket for a request.
type verdict struct {
	limit   *limitRule
	count   int64 // after this request (or at rejection)
	reset   int64 // ns until the window resets
	retry   int64 // ns until a request fits (rejected only)
	allowed bool
}

// limitRule is a Limit compiled for the hot path.
type limitRule struct {
	Limit
	idx  int
	spec windowSpec
	// counters for Stats
	admitted counter
	rejected counter
}

func newRule(i int, l Limit) *limitRule {
	return &limitRule{Limit: l, idx: i, spec: windowSpec{
		allowed: int64(l.Allowed),
		length:  int64(time.Duration(l.Window)),
		sliding: l.WindowMode == Sliding,
	}}
}

// admit checks buckets (locked in rule order, which is the same for every
// request, so there is no deadlock), counts the request in all of them if
// every one has room, or in those whose rule counts rejected requests
// otherwise. It fills out[i] for each bucket and reports whether the request
// is admitted.
func admit(rules []*limitRule, buckets []*bucket, now int64, out []verdict) bool {
	for _, b := range buckets {
		b.mu.Lock()
	}
	ok := true
	for i, b := range buckets {
		r := rules[i]
		b.st = r.spec.roll(b.st, now)
		used := r.spec.used(b.st, now)
		v := verdict{limit: r, count: used, reset: r.spec.reset(b.st, now), allowed: used < r.spec.allowed}
		if !v.allowed {
			v.retry = r.spec.retryAfter(b.st, now)
			ok = false
		}
		out[i] = v
	}
	for i, b := range buckets {
		r := rules[i]
		if ok || r.CountRejected {
			b.st.count++
			out[i].count++
		}
		if ok {
			r.admitted.add(1)
		} else if !out[i].allowed {
			r.rejected.add(1)
		}
		b.mu.Unlock()
	}
	return ok
}
