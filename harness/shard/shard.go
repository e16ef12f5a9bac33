// Package shard splits one run over n machines: each machine runs shard
// "i/n" and does exactly its part, so that the n machines together do what
// one unsharded run would.
//
// Item k of a run (an agent, an arrival; 0-based) belongs to shard
// (k mod n)+1, and an integer budget T (agents, iterations, requests) is
// split into ⌊T/n⌋ for every shard plus one for each of the first T mod n
// shards, so the parts add up to T exactly.
//
// A machine learns its shard from the environment:
//
//	sh, err := shard.FromEnv(os.Getenv) // CXLOAD_SHARD=2/4
//
// or, in a Kubernetes Indexed Job, from the pod's completion index and the
// Job's completions, which the manifest passes on:
//
//	JOB_COMPLETION_INDEX=1 CXLOAD_SHARDS=4 // shard 2/4
package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// Env is the environment variable that selects this machine's shard, "i/n"
// with 1 ≤ i ≤ n ≤ Max.
const Env = "CXLOAD_SHARD"

// IndexEnv is the 0-based completion index Kubernetes sets in each pod of an
// Indexed Job; it is shard IndexEnv+1 of CountEnv when [Env] is unset.
const IndexEnv = "JOB_COMPLETION_INDEX"

// CountEnv is the number of shards of an Indexed Job. Kubernetes does not
// export a Job's completions to its pods, so the manifest sets CountEnv to
// the same number as spec.completions.
const CountEnv = "CXLOAD_SHARDS"

// Max bounds n: 1,000 machines, each with at least 100 agents at the
// largest population the harness accepts (harness.MaxAgents). A run that
// truly needs more machines raises it here.
const Max = 1_000

// form is the expected form, for errors.
var form = fmt.Sprintf(`want "i/n" with 1 ≤ i ≤ n ≤ %d, e.g. "2/4"`, Max)

// A Shard is this machine's part "i/n" of a run split over n machines.
// Index is 1-based. The zero Shard is the whole run, "1/1".
type Shard struct {
	Index int // 1..Count
	Count int // number of shards; 0 means 1
}

// Parse parses "i/n" with 1 ≤ i ≤ n ≤ [Max], e.g. "2/4"; spaces around the
// numbers are ignored. An empty string is "1/1".
func Parse(s string) (Shard, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Shard{Index: 1, Count: 1}, nil
	}
	is, ns, ok := strings.Cut(t, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: %s", s, form)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case err1 != nil:
		return Shard{}, fmt.Errorf("shard %q: index %q is not a whole number: %s", s, is, form)
	case err2 != nil:
		return Shard{}, fmt.Errorf("shard %q: count %q is not a whole number: %s", s, ns, form)
	case n < 1:
		return Shard{}, fmt.Errorf("shard %q: count %d < 1: %s", s, n, form)
	case n > Max:
		return Shard{}, fmt.Errorf("shard %q: count %d is over the bound of %d shards (shard.Max): run fewer, larger shards", s, n, Max)
	case i < 1 || i > n:
		return Shard{}, fmt.Errorf(`shard %q: index %d out of range: want "i/n" with 1 ≤ i ≤ n (here 1 ≤ i ≤ %d)`, s, i, n)
	}
	return Shard{Index: i, Count: n}, nil
}

// FromEnv returns this machine's shard as getenv (usually os.Getenv) reads
// it: [Env] ("i/n") when it is set; else, in a Kubernetes Indexed Job, shard
// [IndexEnv]+1 of [CountEnv]; else "1/1". [Env] wins over the other two, so a
// pod can be given a shard by hand. The error names the variables and how to
// set them: [IndexEnv] without [CountEnv], or [CountEnv] without an index (a
// Job whose completionMode is not Indexed would run the whole load in every
// pod), is refused.
func FromEnv(getenv func(string) string) (Shard, error) {
	if v := getenv(Env); strings.TrimSpace(v) != "" {
		sh, err := Parse(v)
		if err != nil {
			return Shard{}, fmt.Errorf("%s=%q: %w", Env, v, err)
		}
		return sh, nil
	}
	iv, nv := strings.TrimSpace(getenv(IndexEnv)), strings.TrimSpace(getenv(CountEnv))
	switch {
	case iv == "" && nv == "":
		return Shard{Index: 1, Count: 1}, nil
	case nv == "":
		return Shard{}, fmt.Errorf("%s=%q is set (a Kubernetes Indexed Job) but %s is not: set %s in the Job's pod template to its spec.completions, or set %s=i/n",
			IndexEnv, iv, CountEnv, CountEnv, Env)
	case iv == "":
		return Shard{}, fmt.Errorf("%s=%q is set but neither %s nor %s is: run it in a Job with completionMode: Indexed (Kubernetes sets %s), or set %s=i/n",
			CountEnv, nv, Env, IndexEnv, IndexEnv, Env)
	}
	n, err := strconv.Atoi(nv)
	switch {
	case err != nil || n < 1:
		return Shard{}, fmt.Errorf("%s=%q: want the Job's completions, a whole number from 1 to %d", CountEnv, nv, Max)
	case n > Max:
		return Shard{}, fmt.Errorf("%s=%q: over the bound of %d shards (shard.Max): run fewer, larger shards", CountEnv, nv, Max)
	}
	i, err := strconv.Atoi(iv)
	if err != nil || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%s=%q: want a whole number from 0 to %d (%s=%d minus one): is %s the Job's spec.completions?",
			IndexEnv, iv, n-1, CountEnv, n, CountEnv)
	}
	return Shard{Index: i + 1, Count: n}, nil
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
	if s.Count < 1 || s.Count > Max || s.Index < 1 || s.Index > s.Count {
		return fmt.Errorf("shard %d/%d: %s", s.Index, s.Count, form)
	}
	return nil
}

// Owns reports whether item k (0-based, over the whole run) belongs to s.
func (s Shard) Owns(k int) bool {
	i, n := s.norm()
	return k >= 0 && k%n == i
}

// Agents returns the items (agents) of a run of total that belong to s, in
// increasing order.
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
// shard s's part of a population is the number of items it [Shard.Owns].
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
