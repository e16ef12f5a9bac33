package shard_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/shard"
)

// FuzzParseShard: any CXLOAD_SHARD value either parses into a shard with
// 1 ≤ i ≤ n ≤ Max, whose String parses back to it, or gives an error that
// names the value and says what is wanted.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/1", "2/4", " 3 / 8 ", "", "0/1", "5/4", "1/0", "-1/2", "a/b", "1", "1/2/3", "9223372036854775807/9223372036854775807", "+1/+2", "1000/1000", "1/1001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := shard.Parse(s)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "shard ") || !strings.Contains(msg, "want") && !strings.Contains(msg, "shard.Max") {
				t.Fatalf("Parse(%q) error %q: want it to start with \"shard\" and say what is wanted", s, msg)
			}
			return
		}
		if sh.Index < 1 || sh.Index > sh.Count || sh.Count > shard.Max {
			t.Fatalf("Parse(%q) = %+v: want 1 <= i <= n <= %d", s, sh, shard.Max)
		}
		if err := sh.Validate(); err != nil {
			t.Fatalf("Parse(%q) = %+v, which does not validate: %v", s, sh, err)
		}
		back, err := shard.Parse(sh.String())
		if err != nil || back != sh {
			t.Fatalf("Parse(%q) = %+v; its String %q parses as %+v, %v", s, sh, sh.String(), back, err)
		}
	})
}
