package capacity_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

func TestScopeWords(t *testing.T) {
	tests := []struct {
		scope    genesys.Scope
		families []string
		want     string
	}{
		{genesys.ScopeToken, nil, "per access token: every token has its own budget"},
		{genesys.ScopeClientUser, nil, "per organization × OAuth client × user: a client-credentials token has no user, so all tokens of one OAuth client share it"},
		// No families: the limit's own endpoints.
		{genesys.ScopeEndpointUser, nil, "per user and endpoint (its endpoints), across OAuth clients: a client-credentials token counts as its OAuth client's user, so more tokens of one client do not help"},
		// One family is singular, more are listed.
		{genesys.ScopeEndpointUser, []string{genesys.FamilyRecordingState}, "per user and endpoint (the route family conversations.recordingstate), across"},
		{genesys.ScopeEndpointUser, []string{genesys.FamilyPresence, "users.routingstatus"}, "per user and endpoint (the route families users.presences, users.routingstatus), across"},
		{genesys.ScopeOrg, nil, "per organization: every client, token and user shares it"},
		{genesys.ScopeClient, nil, "per OAuth client: it limits token creation, not the API"},
		// A scope the harness does not know is named, not guessed.
		{"tenant", nil, `scope "tenant" unknown`},
	}
	for _, tt := range tests {
		if got := capacity.ScopeWords(tt.scope, tt.families); !strings.HasPrefix(got, tt.want) {
			t.Errorf("ScopeWords(%q, %v) = %q, want it to start with %q", tt.scope, tt.families, got, tt.want)
		}
	}
}

func TestAdvice(t *testing.T) {
	tests := []struct {
		name    string
		b       api.Bucket
		want    []string // in the advice
		notWant []string // never in it
	}{
		// Documented, per token: more tokens.
		{"token limit", tokenLimit,
			[]string{"spread the load over more tokens", "pace each below 300 per 60s"},
			[]string{"not a documented", "hypothetical"}},
		// Documented, per client × user: more clients or user tokens.
		{"org.app.user limit", clientLimit,
			[]string{"more OAuth clients (this target has 3)", "user tokens", "pace each client below 3000 per 60s"},
			[]string{"not a documented", "hypothetical"}},
		// The scope comes from the key when the bucket has none.
		{"scope from the key", api.Bucket{Key: genesys.KeyToken, Allowed: 300, Window: time.Minute},
			[]string{"more tokens", "300 per 60s"}, nil},
		// The simulator's invented recording-state limit is hypothetical,
		// never advice to ask Genesys for anything.
		{"hypothetical endpoint-user limit", endpointLimit,
			[]string{gcsim.KeyRecordingState + " is hypothetical", "no Genesys source documents", "the route family conversations.recordingstate", "pace below 100 per 60s", "TestRateLimitDiscovery"},
			[]string{"ask Genesys", "not a documented"}},
		{"hypothetical key without scope", api.Bucket{Key: "hypothetical.users.presences.rate.per.minute", Allowed: 40, Window: 20 * time.Second},
			[]string{"is hypothetical", "pace below 40 per 20s"}, nil},
		// An organization limit is not documented: said so, with what its scope suggests.
		{"undocumented org limit", orgLimit,
			[]string{genesys.KeyOrg + " is not a documented Genesys limit", "scope as known here is org", "no pool lifts", "600 per 60s", "TestRateLimitDiscovery"},
			[]string{"hypothetical"}},
		// A per-resource limit a tenant reported: undocumented, per user.
		{"tenant's per-resource limit", api.Bucket{Key: "users.rate.per.minute", Scope: genesys.ScopeEndpointUser, Allowed: 180, Window: time.Minute, Source: "tenant"},
			[]string{"users.rate.per.minute is not a documented Genesys limit", "more tokens do not help", "180 per 60s"},
			[]string{"hypothetical"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capacity.Advice(tt.b, 3)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Advice(%s) = %q, want it to contain %q", tt.b.Key, got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("Advice(%s) = %q, want no %q", tt.b.Key, got, w)
				}
			}
		})
	}
}

func TestIsDocumented(t *testing.T) {
	for _, l := range genesys.DocumentedLimits() {
		if !capacity.IsDocumented(l.Key) || capacity.IsHypothetical(l.Key) {
			t.Errorf("%s: IsDocumented = %v, IsHypothetical = %v; want true, false", l.Key, capacity.IsDocumented(l.Key), capacity.IsHypothetical(l.Key))
		}
	}
	for _, k := range []string{genesys.KeyOrg, gcsim.KeyRecordingState, gcsim.KeyTokenCreate, ""} {
		if capacity.IsDocumented(k) {
			t.Errorf("IsDocumented(%q) = true, want false", k)
		}
	}
	if !capacity.IsHypothetical(gcsim.KeyRecordingState) || capacity.IsHypothetical("org.hypothetical.rate") {
		t.Errorf("IsHypothetical: want true for %s only (the prefix, not a substring)", gcsim.KeyRecordingState)
	}
}

func TestPerWindow(t *testing.T) {
	tests := []struct {
		b    api.Bucket
		want string
	}{
		{api.Bucket{Allowed: 100, Window: time.Minute}, "100 per 60s"},
		{api.Bucket{Allowed: 3, Window: 1500 * time.Millisecond}, "3 per 1.5s"},
		// No window is a minute, as the client-side limiter reads it.
		{api.Bucket{Allowed: 300}, "300 per 60s"},
		// Below a millisecond the duration speaks for itself.
		{api.Bucket{Allowed: 1, Window: 1500 * time.Microsecond}, "1 per 1.5ms"},
	}
	for _, tt := range tests {
		if got := capacity.PerWindow(tt.b); got != tt.want {
			t.Errorf("PerWindow(%d per %v) = %q, want %q", tt.b.Allowed, tt.b.Window, got, tt.want)
		}
	}
}

func TestRateWords(t *testing.T) {
	tests := []struct {
		r    float64
		want string
	}{
		{5, "5.00 req/s (300 per minute)"},
		{200.0 / 60, "3.33 req/s (200 per minute)"},
		{0, "0.00 req/s (0 per minute)"},
		// Reach.Rate of a pool no known limit applies to.
		{math.Inf(1), "no known limit"},
	}
	for _, tt := range tests {
		if got := capacity.RateWords(tt.r); got != tt.want {
			t.Errorf("RateWords(%g) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
