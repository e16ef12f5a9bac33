package workload

import (
	"math/bits"
	"sync/atomic"
)

// idleSet is the busy bits of an open run's agents. Only the scheduler
// acquires (sets bits) and each agent releases its own bit, so acquire's
// find-then-set cannot race with another acquire.
//
// acquire is next-fit: it takes the first idle agent at or after the one
// following the last it took, wrapping around. Arrivals thus go round the
// agents in order, spreading the load over every agent (and every per-user
// rate limit) and making runs reproducible; with n shards of a population
// that n divides, each agent gets the same arrivals sharded or not.
type idleSet struct {
	words []atomic.Uint64
	n     int
	next  int // where the next search starts; scheduler only
}

func newIdleSet(n int) *idleSet {
	return &idleSet{words: make([]atomic.Uint64, (n+63)/64), n: n}
}

// acquire marks the next idle agent busy and returns its index, or -1
// when every agent is busy.
func (s *idleSet) acquire() int {
	k := s.find(s.next, s.n)
	if k < 0 {
		k = s.find(0, s.next)
	}
	if k < 0 {
		return -1
	}
	s.words[k/64].Or(1 << (k % 64))
	s.next = k + 1
	if s.next == s.n {
		s.next = 0
	}
	return k
}

// find returns the first idle agent in [from, to), or -1.
func (s *idleSet) find(from, to int) int {
	for i := from / 64; i*64 < to; i++ {
		free := ^s.words[i].Load()
		if i == from/64 {
			free &^= (uint64(1) << (from % 64)) - 1 // below from
		}
		if free == 0 {
			continue
		}
		k := i*64 + bits.TrailingZeros64(free)
		if k >= to {
			return -1
		}
		return k
	}
	return -1
}

// release marks agent k idle.
func (s *idleSet) release(k int) {
	s.words[k/64].And(^(uint64(1) << (k % 64)))
}
