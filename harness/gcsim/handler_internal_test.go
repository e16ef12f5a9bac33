package gcsim

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// TestWrite429MatchesErrorBody: the hand-written 429 body is byte for byte
// what encoding/json makes of the genesys.ErrorBody.
func TestWrite429MatchesErrorBody(t *testing.T) {
	for _, form := range []string{"", "window", "retryAfter"} {
		for _, key := range []string{"token.rate.per.minute", `odd "key" \ é`} { // the second takes the escaping path
			p := DefaultProfile()
			p.RateLimitMessage = form
			s := NewUnstartedServer(p)
			defer s.Close()
			l := newRule(0, Limit{Key: key, Namespace: "platform.api", Scope: genesys.ScopeToken, Allowed: 300, Window: Duration(time.Minute)})
			var win, retry int64 = 60, 42
			ctx := func() *reqCtx {
				return &reqCtx{w: httptest.NewRecorder(), r: httptest.NewRequest("GET", "/x", nil), corr: "corr-1"}
			}
			fast := ctx()
			s.write429(fast, l, win, retry)

			slow := ctx()
			code, msg := "too.many.requests", "Rate limit exceeded the maximum [300] requests within [60] seconds"
			with := "Rate limit exceeded the maximum [{limit}] requests within [{window}] seconds"
			if form != "window" { // "" is the documented form too
				code, msg = "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [42] seconds"
				with = "Rate limit exceeded the maximum. Retry the request in [{retryAfter}] seconds"
			}
			s.writeError(slow, http.StatusTooManyRequests, code, msg, &errorExtra{
				withParams: with,
				params:     map[string]string{"limit": "300", "window": strconv.FormatInt(win, 10), "retryAfter": strconv.FormatInt(retry, 10)},
				limit:      &genesys.ErrorLimit{Key: l.Key, Namespace: l.Namespace, Value: l.Allowed},
			})
			got, want := fast.w.(*httptest.ResponseRecorder).Body.String(), slow.w.(*httptest.ResponseRecorder).Body.String()
			if got != want {
				t.Errorf("form %q:\n got %s\nwant %s", form, got, want)
			}
			if code := fast.w.(*httptest.ResponseRecorder).Code; code != 429 {
				t.Errorf("status %d", code)
			}
		}
	}
}

// TestTokenSweep: tokens expired over an hour ago are forgotten with their
// per-token buckets; live tokens and shared buckets stay.
func TestTokenSweep(t *testing.T) {
	s := NewUnstartedServer(nil)
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cl := s.auth.clients[DefaultClientID]
	old := s.auth.issue(cl, nil, grantClientCredential, t0)
	fresh := s.auth.issue(cl, nil, grantClientCredential, t0.Add(30*time.Hour))
	before := len(s.auth.all)
	s.auth.sweep(t0.Add(30 * time.Hour).UnixNano()) // old expired at 24 h: 6 h ago
	if _, ok := s.auth.tokens.Load(old.value); ok {
		t.Error("expired token kept")
	}
	if _, ok := s.auth.tokens.Load(fresh.value); !ok {
		t.Error("live token dropped")
	}
	perToken := 0
	for _, r := range s.rules {
		if r.Scope == genesys.ScopeToken {
			perToken++
		}
	}
	if got := len(s.auth.all); got != before-perToken {
		t.Errorf("buckets after sweep = %d, want %d", got, before-perToken)
	}
}
