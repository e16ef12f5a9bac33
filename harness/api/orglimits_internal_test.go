package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The namespaces listing is an untyped object in the API: every shape seen
// or plausible is read, and anything else is an error naming what was found.
func TestNamespaceNames(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
		pages      int
		err        string
	}{
		// gcsim's and the SDK's paged form
		{"paged objects", `{"entities":[{"name":"platform.api"},{"name":"notifications"}],"pageCount":2}`, []string{"platform.api", "notifications"}, 2, ""},
		// plain names, no paging (the tenant stand-in's)
		{"plain names", `{"entities":["platform.api","notifications"]}`, []string{"platform.api", "notifications"}, 1, ""},
		// a bare array of objects naming the namespace
		{"array", `[{"namespace":"platform.api"},{"id":"webchat"}]`, []string{"platform.api", "webchat"}, 1, ""},
		// under another key
		{"namespaces key", `{"namespaces":["platform.api"]}`, []string{"platform.api"}, 1, ""},
		// no list at all
		{"no list", `{"total":3}`, nil, 0, `want a list of namespaces`},
		// an entry with no name
		{"nameless entry", `{"entities":[{"value":3}]}`, nil, 0, `entry 0: want a name`},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.body), &v); err != nil {
			t.Fatal(err)
		}
		got, pages, err := namespaceNames(v)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: namespaceNames(%s) error = %v, want %q", tc.name, tc.body, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) || pages != tc.pages {
			t.Errorf("%s: namespaceNames(%s) = %q, %d, %v; want %q, %d", tc.name, tc.body, got, pages, err, tc.want, tc.pages)
		}
	}
}
