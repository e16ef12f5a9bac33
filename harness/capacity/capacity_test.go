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

var (
	tokenLimit    = api.Bucket{Key: genesys.KeyClientCredentialsToken, Scope: genesys.ScopeToken, Allowed: 300, Window: time.Minute}
	clientLimit   = api.Bucket{Key: genesys.KeyOrgAppUser, Scope: genesys.ScopeClientUser, Allowed: 3000, Window: time.Minute}
	endpointLimit = api.Bucket{Key: gcsim.KeyRecordingState, Scope: genesys.ScopeEndpointUser, Allowed: 100, Window: time.Minute,
		Families: []string{genesys.FamilyRecordingState}}
	orgLimit = api.Bucket{Key: genesys.KeyOrg, Scope: genesys.ScopeOrg, Allowed: 600, Window: time.Minute}
	// The simulator's default profile, as a client knows it.
	defaults = []api.Bucket{tokenLimit, clientLimit, endpointLimit}
)

func TestSize(t *testing.T) {
	tests := []struct {
		name        string
		buckets     []api.Bucket
		family      string
		rate        float64
		clients     int
		wantClients int
		wantTokens  int
		wantReach   float64
		wantKey     string // the bottleneck
		wantNext    string // the limit after it; "" for none
		wantNeed    int
	}{
		// 20/s is 4 tokens' worth of 300 per minute; one client's 3000 per minute holds it.
		{"presence 20/s: 4 tokens, one client", defaults, genesys.FamilyPresence, 20, 2, 1, 4, 20, genesys.KeyClientCredentialsToken, genesys.KeyOrgAppUser, 0},
		// 60/s is over one client's 50/s: two clients, 12 tokens between them.
		{"presence 60/s: two clients for the client-user limit", defaults, genesys.FamilyPresence, 60, 2, 2, 12, 60, genesys.KeyClientCredentialsToken, genesys.KeyOrgAppUser, 0},
		// 100 per minute per client: two clients reach 200/60, the rate would need 6.
		{"recording 10/s: limited by the endpoint limit per client", defaults, genesys.FamilyRecordingState, 10, 2, 2, 2, 200.0 / 60, gcsim.KeyRecordingState, genesys.KeyClientCredentialsToken, 6},
		{"recording 1/s: one client suffices", defaults, genesys.FamilyRecordingState, 1, 2, 1, 1, 1, gcsim.KeyRecordingState, genesys.KeyClientCredentialsToken, 0},
		// A token limit alone: tokens, never more clients.
		{"token limit only", []api.Bucket{tokenLimit}, genesys.FamilyQueues, 12, 5, 1, 3, 12, genesys.KeyClientCredentialsToken, "", 0},
		// A client-user limit alone: one token per client is enough.
		{"client-user limit only", []api.Bucket{clientLimit}, genesys.FamilyQueues, 120, 5, 3, 3, 120, genesys.KeyOrgAppUser, "", 0},
		{"client-user limit, too few clients", []api.Bucket{clientLimit}, genesys.FamilyQueues, 120, 2, 2, 2, 100, genesys.KeyOrgAppUser, "", 3},
		// An endpoint-user limit of another family does not apply.
		{"endpoint-user limit of another family", []api.Bucket{endpointLimit}, genesys.FamilyPresence, 10, 2, 1, 1, 10, "", "", 0},
		{"endpoint-user limit", []api.Bucket{endpointLimit}, genesys.FamilyRecordingState, 5, 4, 3, 3, 5, gcsim.KeyRecordingState, "", 0},
		// An organization limit: no pool lifts it, and it asks for no clients.
		{"org limit binds", append([]api.Bucket{orgLimit}, defaults...), genesys.FamilyPresence, 20, 2, 1, 4, 10, genesys.KeyOrg, genesys.KeyClientCredentialsToken, 0},
		{"org limit below the rate's need", []api.Bucket{orgLimit}, genesys.FamilyQueues, 5, 2, 1, 1, 5, genesys.KeyOrg, "", 0},
		// No known limit: the smallest pool, the whole rate.
		{"no buckets", nil, genesys.FamilyPresence, 50, 2, 1, 1, 50, "", "", 0},
		// At the bound: 200000 tokens' worth, 20000 clients' worth over 2.
		{"rate at MaxRate", defaults, genesys.FamilyPresence, capacity.MaxRate, 2, 2, 200000, 100, genesys.KeyOrgAppUser, genesys.KeyClientCredentialsToken, 20000},
		// A bucket without scope takes its key's, as the client-side limiter does.
		{"scope from the key", []api.Bucket{{Key: genesys.KeyOrgAppUser, Allowed: 3000, Window: time.Minute}}, genesys.FamilyQueues, 60, 2, 2, 2, 60, genesys.KeyOrgAppUser, "", 0},
		// A bucket without window is per minute, as the client-side limiter reads it.
		{"window defaults to a minute", []api.Bucket{{Key: genesys.KeyToken, Scope: genesys.ScopeToken, Allowed: 300}}, genesys.FamilyQueues, 20, 1, 1, 4, 20, genesys.KeyToken, "", 0},
		// Token creation limits the token endpoint, not the API.
		{"client scope skipped", []api.Bucket{{Key: "oauth.client.token.rate", Scope: genesys.ScopeClient, Allowed: 1, Window: time.Minute}}, genesys.FamilyQueues, 5, 1, 1, 1, 5, "", "", 0},
		// A bucket with Allowed ≤ 0 is no limit.
		{"zero allowed skipped", []api.Bucket{{Key: genesys.KeyToken, Scope: genesys.ScopeToken, Window: time.Minute}}, genesys.FamilyQueues, 5, 1, 1, 1, 5, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := capacity.Size(tt.buckets, tt.family, tt.rate, tt.clients)
			if err != nil {
				t.Fatalf("Size: %v", err)
			}
			if p.Clients != tt.wantClients || p.Tokens() != tt.wantTokens || math.Abs(p.Reach.Rate-tt.wantReach) > 1e-9 ||
				p.Reach.Bottleneck.Key != tt.wantKey || p.Next.Bottleneck.Key != tt.wantNext || p.NeedClients != tt.wantNeed {
				t.Errorf("Size = %d clients × %d tokens, reach %.3f/s by %q, next %q, need %d clients; want %d clients, %d tokens, %.3f/s by %q, next %q, need %d",
					p.Clients, p.Tokens(), p.Reach.Rate, p.Reach.Bottleneck.Key, p.Next.Bottleneck.Key, p.NeedClients,
					tt.wantClients, tt.wantTokens, tt.wantReach, tt.wantKey, tt.wantNext, tt.wantNeed)
			}
			if p.Reach.Limited() != (tt.wantKey != "") {
				t.Errorf("Reach.Limited() = %v, want %v", p.Reach.Limited(), tt.wantKey != "")
			}
			if tt.wantNext == "" && !math.IsInf(p.Next.Rate, 1) {
				t.Errorf("Next.Rate = %v, want +Inf (no other limit)", p.Next.Rate)
			}
		})
	}
}

func TestSizeRefuses(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		clients int
		want    string
	}{
		{"zero rate", 0, 2, "rate 0 req/s: want a number above 0, at most 1000000 (capacity.MaxRate)"},
		{"negative rate", -5, 2, "rate -5 req/s"},
		{"NaN rate", math.NaN(), 2, "rate NaN req/s"},
		{"infinite rate", math.Inf(1), 2, "rate +Inf req/s"},
		// Beyond MaxRate the token count would overflow int.
		{"huge rate", 1e300, 2, "rate 1e+300 req/s"},
		{"just over the bound", capacity.MaxRate + 1, 2, "at most 1000000"},
		{"no clients", 10, 0, "0 OAuth clients available: want at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := capacity.Size(defaults, genesys.FamilyPresence, tt.rate, tt.clients)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Size(rate %g, %d clients) = %+v, %v; want an error containing %q", tt.rate, tt.clients, p, err, tt.want)
			}
		})
	}
}

func TestOf(t *testing.T) {
	tests := []struct {
		name            string
		family          string
		tokens, clients int
		wantRate        float64
		wantKey         string
		wantInstances   int
	}{
		// One token of one client: the token limit, 5/s.
		{"one token", genesys.FamilyPresence, 1, 1, 5, genesys.KeyClientCredentialsToken, 1},
		// Unbounded tokens: the clients' 3000 per minute each.
		{"many tokens over two clients", genesys.FamilyPresence, math.MaxInt32, 2, 100, genesys.KeyOrgAppUser, 2},
		// Recording state: 100 per minute per client, whatever the tokens.
		{"recording over three clients", genesys.FamilyRecordingState, 50, 3, 5, gcsim.KeyRecordingState, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := capacity.Of(defaults, tt.family, tt.tokens, tt.clients)
			if math.Abs(r.Rate-tt.wantRate) > 1e-9 || r.Bottleneck.Key != tt.wantKey || r.Instances != tt.wantInstances {
				t.Errorf("Of(%s, %d tokens, %d clients) = %.3f/s by %s × %d; want %.3f/s by %s × %d",
					tt.family, tt.tokens, tt.clients, r.Rate, r.Bottleneck.Key, r.Instances, tt.wantRate, tt.wantKey, tt.wantInstances)
			}
		})
	}
	if r := capacity.Of(nil, genesys.FamilyPresence, 1, 1); !math.IsInf(r.Rate, 1) || r.Limited() {
		t.Errorf("Of(no buckets) = %+v, want +Inf and not limited", r)
	}
}
