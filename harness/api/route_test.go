package api_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/api"
)

func TestExpandRoute(t *testing.T) {
	for _, tc := range []struct {
		route   string
		params  []string
		want    string
		wantErr string
	}{
		{"/api/v2/users/{id}/presences/{source}", []string{"u-1", "purecloud"}, "/api/v2/users/u-1/presences/purecloud", ""},
		{"/api/v2/users/{id}", []string{"a/b c"}, "/api/v2/users/a%2Fb%20c", ""}, // escaped
		{"/api/v2/routing/queues", nil, "/api/v2/routing/queues", ""},
		{"/api/v2/users/{id}", nil, "", "no value for {id}"},
		{"/api/v2/users", []string{"x"}, "", "0 parameters, got 1"},
		{"/api/v2/users/{id", []string{"x"}, "", "unclosed {"},
		{"api/v2/users", nil, "", "must start with /"},
	} {
		var b strings.Builder
		err := api.ExpandRoute(&b, tc.route, tc.params)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ExpandRoute(%q, %q) error = %v, want %q", tc.route, tc.params, err, tc.wantErr)
			}
			continue
		}
		if err != nil || b.String() != tc.want {
			t.Errorf("ExpandRoute(%q, %q) = %q, %v; want %q", tc.route, tc.params, b.String(), err, tc.want)
		}
	}
}
