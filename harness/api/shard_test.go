package api_test

import (
	"slices"
	"testing"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/shard"
)

func TestShardBuckets(t *testing.T) {
	bs := []api.Bucket{
		{Key: "client.credentials.token.rate.per.minute", Scope: genesys.ScopeToken, Allowed: 300},
		{Key: "org.app.user.rate.per.minute", Scope: genesys.ScopeClientUser, Allowed: 3000},
		{Key: "conversations.recordingstate.rate.per.minute", Scope: genesys.ScopeEndpointUser, Allowed: 100, Families: []string{"recordingstate"}},
		{Key: "org.rate.per.minute", Scope: genesys.ScopeOrg, Allowed: 7},
	}
	sum := make([]int, len(bs))
	for i := 1; i <= 3; i++ {
		s := shard.Shard{Index: i, Count: 3}
		part := api.ShardBuckets(s, bs)
		for i, b := range part {
			sum[i] += b.Allowed
			if b.Key != bs[i].Key || b.Scope != bs[i].Scope || !slices.Equal(b.Families, bs[i].Families) {
				t.Errorf("shard %v bucket %d = %+v, want %+v but for Allowed", s, i, b, bs[i])
			}
		}
		if part[0].Allowed != 300 {
			t.Errorf("shard %v: token bucket Allowed = %d, want 300 (each machine has its own tokens)", s, part[0].Allowed)
		}
		part[2].Families[0] = "changed"
		if bs[2].Families[0] != "recordingstate" {
			t.Fatalf("ShardBuckets shares Families with its input: changing the part changed bs")
		}
	}
	for i, b := range bs[1:] {
		if sum[i+1] != b.Allowed {
			t.Errorf("%s: shards' parts sum to %d, want %d", b.Key, sum[i+1], b.Allowed)
		}
	}
}
