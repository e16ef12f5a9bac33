package shard_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/shard"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want shard.Shard
	}{
		{"1/1", shard.Shard{Index: 1, Count: 1}},
		{"2/4", shard.Shard{Index: 2, Count: 4}},
		{"4/4", shard.Shard{Index: 4, Count: 4}},
		{" 3 / 7 ", shard.Shard{Index: 3, Count: 7}},
		{"", shard.Shard{Index: 1, Count: 1}},
	}
	for _, tt := range tests {
		got, err := shard.Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseShardErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // besides "shard" and the value
	}{
		{"2", ""},
		{"0/4", "index 0 out of range"},
		{"5/4", "index 5 out of range"},
		{"-1/4", "index -1 out of range"},
		{"1/0", "count 0 < 1"},
		{"a/4", `index "a"`},
		{"1/b", `count "b"`},
		{"1/4/2", `count "4/2"`},
		{"1/1001", "over the bound of 1000 shards (shard.Max)"},
	}
	for _, tt := range tests {
		_, err := shard.Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want one", tt.in)
			continue
		}
		msg := err.Error()
		for _, w := range []string{"shard " + fmt.Sprintf("%q", tt.in), tt.want} {
			if !strings.Contains(msg, w) {
				t.Errorf("Parse(%q) error %q, want it to contain %q", tt.in, msg, w)
			}
		}
	}
}

func TestFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name       string
		env        map[string]string
		want       string   // the shard, when no error
		wantErrHas []string // parts of the error, when one
	}{
		// Nothing set: the whole run.
		{name: "unset", want: "1/1"},
		{name: "CXLOAD_SHARD", env: map[string]string{shard.Env: "3/8"}, want: "3/8"},
		// Kubernetes' index is 0-based; the shard is 1-based.
		{name: "indexed job first", env: map[string]string{shard.IndexEnv: "0", shard.CountEnv: "4"}, want: "1/4"},
		{name: "indexed job last", env: map[string]string{shard.IndexEnv: "3", shard.CountEnv: "4"}, want: "4/4"},
		{name: "indexed job spaces", env: map[string]string{shard.IndexEnv: " 1 ", shard.CountEnv: " 2 "}, want: "2/2"},
		{name: "indexed job at the bound", env: map[string]string{shard.IndexEnv: "999", shard.CountEnv: "1000"}, want: "1000/1000"},
		// CXLOAD_SHARD wins over the Job's index, so a pod can be pinned by hand.
		{name: "CXLOAD_SHARD wins", env: map[string]string{shard.Env: "2/3", shard.IndexEnv: "0", shard.CountEnv: "4"}, want: "2/3"},
		// A blank CXLOAD_SHARD is unset.
		{name: "blank CXLOAD_SHARD", env: map[string]string{shard.Env: " ", shard.IndexEnv: "2", shard.CountEnv: "4"}, want: "3/4"},
		{name: "bad CXLOAD_SHARD", env: map[string]string{shard.Env: "9/8", shard.IndexEnv: "0", shard.CountEnv: "4"},
			wantErrHas: []string{`CXLOAD_SHARD="9/8"`}},
		// Kubernetes does not export completions: the manifest must.
		{name: "index without count", env: map[string]string{shard.IndexEnv: "2"},
			wantErrHas: []string{`JOB_COMPLETION_INDEX="2"`, "CXLOAD_SHARDS is not", "spec.completions"}},
		// A Job that is not Indexed would run the whole load in every pod.
		{name: "count without index", env: map[string]string{shard.CountEnv: "4"},
			wantErrHas: []string{`CXLOAD_SHARDS="4"`, "completionMode: Indexed"}},
		{name: "index past count", env: map[string]string{shard.IndexEnv: "4", shard.CountEnv: "4"},
			wantErrHas: []string{`JOB_COMPLETION_INDEX="4"`, "from 0 to 3"}},
		{name: "negative index", env: map[string]string{shard.IndexEnv: "-1", shard.CountEnv: "4"},
			wantErrHas: []string{`JOB_COMPLETION_INDEX="-1"`, "from 0 to 3"}},
		{name: "index not a number", env: map[string]string{shard.IndexEnv: "one", shard.CountEnv: "4"},
			wantErrHas: []string{`JOB_COMPLETION_INDEX="one"`}},
		{name: "count zero", env: map[string]string{shard.IndexEnv: "0", shard.CountEnv: "0"},
			wantErrHas: []string{`CXLOAD_SHARDS="0"`, "whole number from 1 to 1000"}},
		{name: "count not a number", env: map[string]string{shard.IndexEnv: "0", shard.CountEnv: "4x"},
			wantErrHas: []string{`CXLOAD_SHARDS="4x"`}},
		{name: "count over the bound", env: map[string]string{shard.IndexEnv: "0", shard.CountEnv: "1001"},
			wantErrHas: []string{`CXLOAD_SHARDS="1001"`, "shard.Max"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shard.FromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErrHas == nil {
				if err != nil || got.String() != tt.want || got.Validate() != nil {
					t.Errorf("FromEnv(%v) = %v, %v, want %s", tt.env, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("FromEnv(%v) = %v, want an error", tt.env, got)
			}
			for _, w := range tt.wantErrHas {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("FromEnv(%v) error %q, want it to contain %q", tt.env, err, w)
				}
			}
		})
	}
}

// TestValidate: a Shard built by hand is checked as Parse checks a string.
func TestValidate(t *testing.T) {
	for _, s := range []shard.Shard{{}, {Index: 1, Count: 1}, {Index: 4, Count: 4}, {Index: shard.Max, Count: shard.Max}} {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", s, err)
		}
	}
	for _, s := range []shard.Shard{{Index: 0, Count: 4}, {Index: 5, Count: 4}, {Index: 1, Count: 0}, {Index: 1, Count: shard.Max + 1}} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v.Validate() = nil, want an error", s)
		}
	}
}

func TestShardZeroIsWhole(t *testing.T) {
	var s shard.Shard
	if !s.Whole() || s.String() != "1/1" || !s.Owns(5) || s.Split(7) != 7 || s.Validate() != nil {
		t.Errorf("zero Shard: Whole=%v String=%q Owns(5)=%v Split(7)=%d Validate=%v, want the whole run",
			s.Whole(), s.String(), s.Owns(5), s.Split(7), s.Validate())
	}
}

func shards(n int) []shard.Shard {
	out := make([]shard.Shard, n)
	for i := range out {
		out[i] = shard.Shard{Index: i + 1, Count: n}
	}
	return out
}

// TestShardSplit checks that budgets split so the parts add up exactly,
// differ by at most one, and match the number of agents each shard owns.
func TestShardSplit(t *testing.T) {
	for n := 1; n <= 9; n++ {
		for _, total := range []int{0, 1, 2, 3, 7, 10, 299, 300, 301, 500, 10_000} {
			sum, lo, hi := 0, total, 0
			for _, s := range shards(n) {
				p := s.Split(total)
				sum += p
				lo, hi = min(lo, p), max(hi, p)
				if owned := len(s.Agents(total)); owned != p {
					t.Errorf("shard %v: Split(%d) = %d but it owns %d agents", s, total, p, owned)
				}
				if p64 := s.Split64(uint64(total)); p64 != uint64(p) {
					t.Errorf("shard %v: Split64(%d) = %d, Split = %d", s, total, p64, p)
				}
			}
			if sum != total || hi-lo > 1 {
				t.Errorf("n=%d total=%d: parts sum to %d (want %d), spread %d..%d", n, total, sum, total, lo, hi)
			}
		}
	}
}

// TestShardsOwnEachItemOnce: shards 1/4 … 4/4 together own each item of
// the run exactly once.
func TestShardsOwnEachItemOnce(t *testing.T) {
	const population = 500
	var agents []int
	for _, s := range shards(4) {
		agents = append(agents, s.Agents(population)...)
	}
	slices.Sort(agents)
	if want := (shard.Shard{}).Agents(population); !slices.Equal(agents, want) {
		t.Errorf("shards 1/4..4/4 together own %d items, want each of the %d exactly once", len(agents), population)
	}
	for k := range population {
		owners := 0
		for _, s := range shards(4) {
			if s.Owns(k) {
				owners++
				if want := k%4 + 1; s.Index != want {
					t.Errorf("item %d owned by shard %v, want %d/4", k, s, want)
				}
			}
		}
		if owners != 1 {
			t.Errorf("item %d has %d owners, want 1", k, owners)
		}
	}
}

func TestSplitRate(t *testing.T) {
	if got := (shard.Shard{Index: 1, Count: 3}).SplitRate(300); got != 100 {
		t.Errorf("SplitRate(300) for 1/3 = %v, want 100", got)
	}
}
