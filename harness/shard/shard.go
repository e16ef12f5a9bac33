package agent

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/api"
)

// ShardEnv is the environment variable that selects this machine's shard,
// "i/n" with 1 ≤ i ≤ n.
const ShardEnv = "CXLOAD_SHARD"

// A Shard is this machine's part "i/n" of a run split over n machines.
// Index is 1-based. The zero Shard is the whole run, "1/1".
//
// Agent k (0-based) belongs to shard (k mod n)+1; arrival g of a pacer
// belongs to shard (g mod n)+1; an integer budget T is split into
// ⌊T/n⌋ for every shard plus one for each of the first T mod n shards.
// So n shards together use exactly the agents, issue exactly the arrivals,
// and spend exactly the budgets of one unsharded run.
type Shard struct {
	Index int // 1..Count
	Count int // number of shards; 0 means 1
}

// ParseShard parses "i/n" with 1 ≤ i ≤ n, e.g. "2/4". An empty string is "1/1".
func ParseShard(s string) (Shard, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Shard{Index: 1, Count: 1}, nil
	}
	is, ns, ok := strings.Cut(t, "/")
	if !ok {
		return Shard{}, fmt.Errorf(`agent: shard %q: want "i/n" with 1 ≤ i ≤ n, e.g. "2/4"`, s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case err1 != nil:
		return Shard{}, fmt.Errorf(`agent: shard %q: index %q is not a whole number: want "i/n" with 1 ≤ i ≤ n, e.g. "2/4"`, s, is)
	case err2 != nil:
		return Shard{}, fmt.Errorf(`agent: shard %q: count %q is not a whole number: want "i/n" with 1 ≤ i ≤ n, e.g. "2/4"`, s, ns)
	case n < 1:
		return Shard{}, fmt.Errorf(`agent: shard %q: count %d < 1: want "i/n" with 1 ≤ i ≤ n, e.g. "2/4"`, s, n)
	case i < 1 || i > n:
		return Shard{}, fmt.Errorf(`agent: shard %q: index %d out of range: want "i/n" with 1 ≤ i ≤ n (here 1 ≤ i ≤ %d)`, s, i, n)
	}
	return Shard{Index: i, Count: n}, nil
}

// ShardFromEnv returns the shard named by CXLOAD_SHARD, or "1/1" if it is
// unset or empty. The error names the variable.
func ShardFromEnv() (Shard, error) {
	v := os.Getenv(ShardEnv)
	sh, err := ParseShard(v)
	if err != nil {
		return Shard{}, fmt.Errorf("%s=%q: %w", ShardEnv, v, err)
	}
	return sh, nil
}

// norm returns the 0-based index and the count, treating the zero Shard as 1/1.
func (s Shard) norm() (i, n int) {
	if s.Count <= 0 {
		return 0, 1
	}
	return s.Index - 1, s.Count
}

// Whole reports whether s is the whole run (1/1 or the zero Shard).
func (s Shard) Whole() bool { _, n := s.norm(); return n == 1 }

// String formats s as "i/n".
func (s Shard) String() string {
	i, n := s.norm()
	return strconv.Itoa(i+1) + "/" + strconv.Itoa(n)
}

// Validate reports whether s is a valid shard (the zero Shard is).
func (s Shard) Validate() error {
	if s.Count == 0 && s.Index == 0 {
		return nil
	}
	if s.Count < 1 || s.Index < 1 || s.Index > s.Count {
		return fmt.Errorf(`agent: shard %d/%d: want i/n with 1 ≤ i ≤ n, e.g. "2/4"`, s.Index, s.Count)
	}
	return nil
}

// Owns reports whether agent k (0-based, over the whole population) belongs to s.
func (s Shard) Owns(k int) bool {
	i, n := s.norm()
	return k >= 0 && k%n == i
}

// Agents returns the agents of a population of total (0-based ids) that
// belong to s, in increasing order.
func (s Shard) Agents(total int) []int {
	i, n := s.norm()
	out := make([]int, 0, s.Split(total))
	for k := i; k < total; k += n {
		out = append(out, k)
	}
	return out
}

// Split returns this shard's part of an integer budget total (agents,
// iterations, requests per window): ⌊total/n⌋, plus one for each of the
// first total mod n shards. The n parts add up to total exactly, and
// shard s's part of a population is the number of agents it [Shard.Owns].
func (s Shard) Split(total int) int {
	if total <= 0 {
		return 0
	}
	i, n := s.norm()
	p := total / n
	if i < total%n {
		p++
	}
	return p
}

// Split64 is [Shard.Split] for uint64 budgets such as iteration counts.
func (s Shard) Split64(total uint64) uint64 {
	i, n := s.norm()
	p := total / uint64(n)
	if uint64(i) < total%uint64(n) {
		p++
	}
	return p
}

// SplitRate returns this shard's part of a continuous rate, rate/n.
// For budgets that must add up exactly, use [Shard.Split] on an integer
// count per window.
func (s Shard) SplitRate(rate float64) float64 {
	_, n := s.norm()
	return rate / float64(n)
}

// Buckets returns this shard's part of the client-side rate limits bs, for
// api.NewLimits: the Allowed figure of every bucket whose scope the n
// machines share (client-user, endpoint-user and org: they use the same
// OAuth clients and users) is split with [Shard.Split], so the machines
// together stay within the organization's limits. Token-scope buckets are
// kept whole: each machine gets its own tokens. Note that a part of 0 (a
// limit smaller than n) is treated by api.Limits as 1 per window.
func (s Shard) Buckets(bs []api.Bucket) []api.Bucket {
	out := make([]api.Bucket, len(bs))
	for i, b := range bs {
		b.Families = append([]string(nil), b.Families...)
		if b.Scope != api.ScopeToken {
			b.Allowed = s.Split(b.Allowed)
		}
		out[i] = b
	}
	return out
}

// Pacer returns the pacer of this shard's part of p: arrival h of the
// shard is arrival h·n + (i−1) of p, at the same time. The n shards'
// arrivals are the arrivals of p, each exactly once. For the whole run it
// returns p itself.
func (s Shard) Pacer(p Schedule) Schedule {
	if s.Whole() {
		return p
	}
	i, n := s.norm()
	return shardPacer{p: p, i: uint64(i), n: uint64(n)}
}

type shardPacer struct {
	p    Schedule
	i, n uint64
}

// Due is the due time of the parent's arrival h·n + i.
func (sp shardPacer) Due(h uint64) (time.Duration, bool) {
	g := h*sp.n + sp.i
	if g/sp.n != h { // overflow
		return 0, false
	}
	return sp.p.Due(g)
}

// Pace implements Pacer.
func (sp shardPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	at, ok := sp.Due(hits)
	return paceAt(at, ok, elapsed)
}

// Rate is the parent's rate over n.
func (sp shardPacer) Rate(elapsed time.Duration) float64 {
	return sp.p.Rate(elapsed) / float64(sp.n)
}

// String describes the shard and its parent.
func (sp shardPacer) String() string {
	return fmt.Sprintf("shard %d/%d of %v", sp.i+1, sp.n, sp.p)
}
