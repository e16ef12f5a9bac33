package workload

import "testing"

// TestIdleSet checks next-fit: arrivals go round the agents in order,
// skipping busy ones, across 64-agent words.
func TestIdleSet(t *testing.T) {
	tests := []struct {
		name string
		n    int
		ops  []int // ≥ 0: release that agent; -1: acquire
		want []int // what each acquire returns
	}{
		{"round robin", 3, []int{-1, 0, -1, 1, -1, 2, -1}, []int{0, 1, 2, 0}},
		{"skips busy ones", 4, []int{-1, -1, -1, 1, -1, -1}, []int{0, 1, 2, 3, 1}},
		{"all busy", 2, []int{-1, -1, -1, 0, -1}, []int{0, 1, -1, 0}},
		{"wraps across words", 130, append(acquires(129), 3, 128, -1, -1, -1), append(seq(129), 129, 3, 128)},
		{"exactly one word: wraps to 0 first", 64, append(append(acquires(64), 63, 0), -1, -1, -1), append(seq(64), 0, 63, -1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newIdleSet(tt.n)
			var got []int
			for _, op := range tt.ops {
				if op >= 0 {
					s.release(op)
				} else {
					got = append(got, s.acquire())
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("acquires = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("acquire %d = %d, want %d (all: %v)", i, got[i], tt.want[i], got)
				}
			}
		})
	}
}

func acquires(n int) []int {
	ops := make([]int, n)
	for i := range ops {
		ops[i] = -1
	}
	return ops
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
