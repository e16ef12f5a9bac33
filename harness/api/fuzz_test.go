package api_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/api"
)

// ExpandRoute sees whatever a scenario writes: it must never panic, and
// never fill fewer placeholders than it was given values.

func FuzzExpandRoute(f *testing.F) {
	f.Add("/api/v2/users/{id}/presences/{source}", "u 1", "purecloud")
	f.Add("/api/v2/{", "x", "y")
	f.Add("/}{}", "", "")
	f.Fuzz(func(t *testing.T, route, p1, p2 string) {
		var b strings.Builder
		if err := api.ExpandRoute(&b, route, []string{p1, p2}); err == nil {
			if strings.Count(route, "{") < 2 {
				t.Errorf("ExpandRoute(%q) accepted 2 params for fewer placeholders: %q", route, b.String())
			}
		}
	})
}
