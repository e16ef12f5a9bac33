package result_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/result"
)

func TestInferScope(t *testing.T) {
	tests := []struct {
		name   string
		e      result.Evidence
		want   string
		reason string // a fragment of the reason
	}{
		{"no identities", result.Evidence{Ops: []string{"a"}}, result.ScopeUndetermined, "no token"},
		{"one token among many", result.Evidence{Tokens: 1, Clients: 1, TokensSeen: 4, ClientsSeen: 1, Ops: []string{"a"}}, result.ScopeToken, "1 of 4 tokens"},
		// one token among many wins over "one op while others passed": both fit, the token is the finer evidence
		{"one token among many, one op", result.Evidence{Tokens: 1, Clients: 1, TokensSeen: 4, Ops: []string{"a"}, OpsPassing: []string{"b"}}, result.ScopeToken, "1 of 4"},
		{"all tokens of one client", result.Evidence{Tokens: 4, Clients: 1, TokensSeen: 4, ClientsSeen: 1, Ops: []string{"a", "b"}}, result.ScopeClient, "all 4 tokens"},
		{"some tokens of one client", result.Evidence{Tokens: 3, Clients: 1, TokensSeen: 8, ClientsSeen: 2, Ops: []string{"a"}}, result.ScopeClient, "3 of 8 tokens"},
		// Each client spent an allowance of its own before its rejection: one
		// bucket per client (or per user, endpoint) rejects them all too.
		{"several clients, each spent an allowance", result.Evidence{Tokens: 4, Clients: 2, TokensSeen: 4, ClientsSeen: 2}, result.ScopeUndetermined, "org-wide or one bucket per client would look the same"},
		// One client was rejected after fewer requests than the bucket
		// allows: it was spent by the other one.
		{"several clients, one rejected early", result.Evidence{Tokens: 4, Clients: 2, TokensSeen: 4, ClientsSeen: 2, ClientsEarly: 1, FewestBefore: 3}, result.ScopeOrg, "one after only 3 requests of its own had been sent"},
		{"one op while others pass, shared token", result.Evidence{Tokens: 1, Clients: 1, TokensSeen: 1, ClientsSeen: 1, Ops: []string{"recording.set"}, OpsPassing: []string{"presence.set"}}, result.ScopeEndpoint, "only recording.set was rejected while presence.set succeeded"},
		{"one op while others pass, many tokens", result.Evidence{Tokens: 5, Clients: 1, TokensSeen: 5, Ops: []string{"recording.set"}, OpsPassing: []string{"presence.set", "queues.list"}}, result.ScopeEndpoint, "presence.set, queues.list"},
		{"one op, nothing else passed", result.Evidence{Tokens: 1, Clients: 1, TokensSeen: 1, Ops: []string{"recording.set"}}, result.ScopeUndetermined, "only one token"},
		{"several tokens of one user", result.Evidence{Tokens: 3, Clients: 1, Users: 1, TokensSeen: 6, UsersSeen: 2, Ops: []string{"a", "b"}}, result.ScopeUser, "3 tokens of 1 user"},
		{"single token run", result.Evidence{Tokens: 1, Clients: 1, TokensSeen: 1, ClientsSeen: 1, Ops: []string{"a", "b"}}, result.ScopeUndetermined, "would look the same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := result.InferScope(tt.e)
			if got != tt.want || !strings.Contains(why, tt.reason) {
				t.Errorf("InferScope(%+v) = %q, %q; want %q, reason containing %q", tt.e, got, why, tt.want, tt.reason)
			}
		})
	}
}

func TestEstimateWindow(t *testing.T) {
	tests := []struct {
		reset, retry time.Duration
		want         float64
		source       string
	}{
		{0, 0, 0, ""},
		{61 * time.Second, 30 * time.Second, 60, "ratelimit-reset"}, // snapped to the minute
		{59 * time.Second, 0, 60, "ratelimit-reset"},
		{0, 45 * time.Second, 45, "retry-after"},
		{10 * time.Second, 125 * time.Second, 125, "retry-after"}, // 5 s from a minute: not snapped
		{3600 * time.Second, 0, 3600, "ratelimit-reset"},
	}
	for _, tt := range tests {
		got, src := result.EstimateWindow(tt.reset, tt.retry)
		if got != tt.want || src != tt.source {
			t.Errorf("EstimateWindow(%v, %v) = %v, %q; want %v, %q", tt.reset, tt.retry, got, src, tt.want, tt.source)
		}
	}
}
