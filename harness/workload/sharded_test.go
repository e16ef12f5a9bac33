package workload_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/harness/workload"
)

func shards(n int) []shard.Shard {
	out := make([]shard.Shard, n)
	for i := range out {
		out[i] = shard.Shard{Index: i + 1, Count: n}
	}
	return out
}

// TestShardsTogetherEqualOneRun is the acceptance property: shards 1/n … n/n
// of a schedule together issue exactly the arrivals of one unsharded run
// (same count, same times), each shard its Split of them.
func TestShardsTogetherEqualOneRun(t *testing.T) {
	pacers := []struct {
		name string
		p    workload.Schedule
	}{
		{"k6 stages", mustStages(t, 0, workload.Stage{Duration: 10 * time.Second, Target: 50}, workload.Stage{Duration: 30 * time.Second, Target: 50}, workload.Stage{Duration: 5 * time.Second, Target: 0})},
		{"constant 7/s for 13s", workload.ConstantPacer{Freq: 7, Duration: 13 * time.Second}},
		{"fractional ramp", mustStages(t, 0.3, workload.Stage{Duration: 17 * time.Second, Target: 9.1})},
	}
	for _, pc := range pacers {
		whole := simulate(t, pc.p, 1_000_000)
		for _, n := range []int{1, 2, 3, 4, 7} {
			t.Run(fmt.Sprintf("%s/n=%d", pc.name, n), func(t *testing.T) {
				var union []time.Duration
				for _, s := range shards(n) {
					part := simulate(t, workload.ShardSchedule(s, pc.p), 1_000_000)
					if want := s.Split(len(whole)); len(part) != want {
						t.Errorf("shard %v: %d arrivals, want %d", s, len(part), want)
					}
					union = append(union, part...)
				}
				slices.Sort(union)
				if !slices.Equal(union, whole) {
					t.Errorf("shards together: %d arrivals, unsharded %d; the times differ", len(union), len(whole))
				}
			})
		}
	}
}

func TestShardScheduleRate(t *testing.T) {
	p := workload.ShardSchedule(shard.Shard{Index: 2, Count: 4}, workload.ConstantPacer{Freq: 100})
	if got := p.Rate(0); got != 25 {
		t.Errorf("shard 2/4 of 100/s: Rate = %v, want 25", got)
	}
	whole := workload.ConstantPacer{Freq: 100}
	if got := workload.ShardSchedule(shard.Shard{}, whole); got != workload.Schedule(whole) {
		t.Errorf("ShardSchedule(whole run, p) = %v, want p itself", got)
	}
}
