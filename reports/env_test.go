package reports_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/reports"
)

// TestEnvShard: CXLOAD_SHARD becomes the shard label written "i/n", and a
// value that is not a shard is an error naming it, not a label.
func TestEnvShard(t *testing.T) {
	getenv := func(shard string) func(string) string {
		return func(k string) string {
			if k == reports.EnvShard {
				return shard
			}
			return ""
		}
	}
	env, err := reports.EnvFromEnviron(getenv(" 2 / 4 "))
	if err != nil || env.Labels[reports.ShardLabel] != "2/4" {
		t.Errorf(`EnvFromEnviron with CXLOAD_SHARD=" 2 / 4 ": labels %v, %v; want shard=2/4`, env.Labels, err)
	}
	for _, bad := range []string{"5/4", "two", "1/1001"} {
		_, err := reports.EnvFromEnviron(getenv(bad))
		if err == nil || !strings.Contains(err.Error(), `CXLOAD_SHARD="`+bad+`"`) {
			t.Errorf("EnvFromEnviron with CXLOAD_SHARD=%q: err = %v, want one naming the variable and value", bad, err)
		}
	}
}
