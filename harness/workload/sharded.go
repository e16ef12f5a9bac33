package workload

import (
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/shard"
)

// ShardSchedule returns the schedule of shard s's part of p: arrival h of
// the shard is arrival h·n + (i−1) of p, at the same time. The n shards'
// arrivals are the arrivals of p, each exactly once. For the whole run it
// returns p itself.
func ShardSchedule(s shard.Shard, p Schedule) Schedule {
	if s.Whole() {
		return p
	}
	return shardSchedule{p: p, i: uint64(s.Index - 1), n: uint64(s.Count)}
}

type shardSchedule struct {
	p    Schedule
	i, n uint64
}

// Due is the due time of the parent's arrival h·n + i.
func (sp shardSchedule) Due(h uint64) (time.Duration, bool) {
	g := h*sp.n + sp.i
	if g/sp.n != h { // overflow
		return 0, false
	}
	return sp.p.Due(g)
}

// Pace implements Pacer.
func (sp shardSchedule) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	at, ok := sp.Due(hits)
	return paceAt(at, ok, elapsed)
}

// Rate is the parent's rate over n.
func (sp shardSchedule) Rate(elapsed time.Duration) float64 {
	return sp.p.Rate(elapsed) / float64(sp.n)
}

// String describes the shard and its parent.
func (sp shardSchedule) String() string {
	return fmt.Sprintf("shard %d/%d of %v", sp.i+1, sp.n, sp.p)
}
