package api

import (
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/shard"
)

// ShardBuckets returns shard s's part of the client-side rate limits bs,
// for [NewLimits]: the Allowed figure of every bucket whose scope the n
// machines share (client-user, endpoint-user and org: they use the same
// OAuth clients and users) is split with [shard.Shard.Split], so the
// machines together stay within the organization's limits. Token-scope
// buckets are kept whole: each machine gets its own tokens. A part of 0 (a
// limit smaller than n) is treated by [Limits] as 1 per window.
func ShardBuckets(s shard.Shard, bs []Bucket) []Bucket {
	out := make([]Bucket, len(bs))
	for i, b := range bs {
		b.Families = append([]string(nil), b.Families...)
		if b.Scope != genesys.ScopeToken {
			b.Allowed = s.Split(b.Allowed)
		}
		out[i] = b
	}
	return out
}
