package gcsim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

const queuesPath = "/api/v2/routing/queues"

// direct serves one request through s.Handler() without the network and
// returns the status.
func direct(s *gcsim.Server, method, path, token string) int {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	return w.Code
}

func routingStatusPath(i int) string { return "/api/v2/users/" + gcsim.UserID(i) + "/routingstatus" }

// TestTokenLimit drives one token past the default limit: exactly the 301st
// request of the window is rejected, with Genesys' headers and body, and a
// second token of the same client is not affected.
func TestTokenLimit(t *testing.T) {
	// A stopped injected clock: however slow the machine, all 301 requests
	// fall in one window and the reset is exactly 60 s away.
	p := gcsim.DefaultProfile()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.Now = func() time.Time { return now }
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	for i := 1; i <= 300; i++ {
		r := do(t, s, "GET", queuesPath, tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200; body %s", i, r.Status, r.Body)
		}
		if got := r.Header.Get("inin-ratelimit-count"); got != strconv.Itoa(i) {
			t.Fatalf("request %d: inin-ratelimit-count = %q, want %d", i, got, i)
		}
	}
	r := do(t, s, "GET", queuesPath, tok, nil)
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("request 301: status %d, want 429; body %s", r.Status, r.Body)
	}
	checkHeaders := map[string]string{
		"inin-ratelimit-count":   "300",
		"inin-ratelimit-allowed": "300",
		"inin-ratelimit-reset":   "60",
		"Retry-After":            "60",
		"Content-Type":           "application/json",
	}
	for h, want := range checkHeaders {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	corr := r.Header.Get("ININ-Correlation-Id")
	if corr == "" {
		t.Error("no ININ-Correlation-Id header")
	}
	body := r.json(t)
	if body["code"] != "too.many.requests.retry.after" || body["status"] != 429.0 || body["contextId"] != corr {
		t.Errorf("429 body = %s; want code too.many.requests.retry.after, status 429, contextId = correlation id", r.Body)
	}
	if msg, _ := body["message"].(string); msg != "Rate limit exceeded the maximum. Retry the request in [60] seconds" {
		t.Errorf("message = %q", msg)
	}
	lim, _ := body["limit"].(map[string]any)
	if lim["key"] != genesys.KeyClientCredentialsToken || lim["namespace"] != "platform.api" || lim["value"] != 300.0 {
		t.Errorf("limit = %v, want key %s, namespace platform.api, value 300", lim, genesys.KeyClientCredentialsToken)
	}
	for _, f := range []string{"messageWithParams", "messageParams", "details", "errors"} {
		if _, ok := body[f]; !ok {
			t.Errorf("429 body has no %q: %s", f, r.Body)
		}
	}

	// A second token of the same client has its own bucket.
	tok2 := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	r = do(t, s, "GET", queuesPath, tok2, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("second token: status %d, want 200; body %s", r.Status, r.Body)
	}
	// Its nearest bucket is now the shared client-user one: 301/3000 > 1/300.
	if c, a := r.Header.Get("inin-ratelimit-count"), r.Header.Get("inin-ratelimit-allowed"); c != "301" || a != "3000" {
		t.Errorf("second token: count/allowed = %s/%s, want 301/3000", c, a)
	}
	st := s.Stats()
	if b := st.Bucket(genesys.KeyClientCredentialsToken); b.Rejected != 1 {
		t.Errorf("stats bucket %s rejected = %d, want 1", b.Key, b.Rejected)
	}
	if n := st.Count("GET", queuesPath, 429); n != 1 {
		t.Errorf("stats GET %s 429 = %d, want 1", queuesPath, n)
	}
}

// TestClientUserLimit: the tokens of one client (no user) share the
// org × client × user bucket and together hit it at its own figure, while
// another client is not affected.
func TestClientUserLimit(t *testing.T) {
	p := gcsim.DefaultProfile()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.Now = func() time.Time { return now } // one window however slow the machine
	s := newServer(t, p)
	var toks []string
	for i := 0; i < 11; i++ {
		toks = append(toks, token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret))
	}
	n := 0
	for _, tok := range toks {
		for i := 0; i < 290 && n < 3000; i++ { // below each token's 300
			n++
			// Straight to the handler: 3000 loopback round trips are slow under -race.
			if code := direct(s, "GET", queuesPath, tok); code != http.StatusOK {
				t.Fatalf("request %d: status %d, want 200", n, code)
			}
		}
	}
	r := do(t, s, "GET", queuesPath, toks[10], nil)
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("request 3001: status %d, want 429", r.Status)
	}
	if key := r.json(t)["limit"].(map[string]any)["key"]; key != genesys.KeyOrgAppUser {
		t.Errorf("limit.key = %v, want %s", key, genesys.KeyOrgAppUser)
	}
	if got := r.Header.Get("inin-ratelimit-allowed"); got != "3000" {
		t.Errorf("inin-ratelimit-allowed = %q, want 3000 (the bucket that rejected)", got)
	}
	other := token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2)
	if r := do(t, s, "GET", queuesPath, other, nil); r.Status != http.StatusOK {
		t.Errorf("other client: status %d, want 200", r.Status)
	}
}

// TestResourceLimit: a per-endpoint limit rejects at its own figure, names
// itself in limit.key, and leaves other routes alone.
func TestResourceLimit(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Limits = append(p.Limits, gcsim.Limit{Key: gcsim.KeyRecordingState, Namespace: "conversation", Scope: genesys.ScopeEndpointUser,
		Allowed: 7, Window: gcsim.Duration(time.Minute), Families: []string{genesys.FamilyRecordingState}, Hypothetical: true})
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	calls, err := s.InjectCalls(gcsim.QueueID(0), 1)
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v2/conversations/" + calls[0] + "/recordingstate"
	for i := 1; i <= 7; i++ {
		r := do(t, s, "PATCH", path, tok, map[string]string{"recordingState": "paused"})
		if r.Status != http.StatusAccepted {
			t.Fatalf("request %d: status %d, want 202; body %s", i, r.Status, r.Body)
		}
		if got := r.Header.Get("inin-ratelimit-allowed"); got != "7" {
			t.Errorf("request %d: inin-ratelimit-allowed = %q, want 7 (the nearest bucket)", i, got)
		}
	}
	r := do(t, s, "PATCH", path, tok, map[string]string{"recordingState": "paused"})
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("request 8: status %d, want 429", r.Status)
	}
	lim := r.json(t)["limit"].(map[string]any)
	if lim["key"] != gcsim.KeyRecordingState || lim["value"] != 7.0 {
		t.Errorf("limit = %v, want key %s value 7", lim, gcsim.KeyRecordingState)
	}
	// The screenshare route shares the family (and so the bucket).
	if r := do(t, s, "PUT", "/api/v2/conversations/screenshares/x/recordingstate", tok, map[string]string{"recordingState": "active"}); r.Status != http.StatusTooManyRequests {
		t.Errorf("screenshare recordingstate: status %d, want 429", r.Status)
	}
	if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != http.StatusOK {
		t.Errorf("other route: status %d, want 200", r.Status)
	}
}

// TestWindowSemantics checks fixed and sliding windows, counting of
// rejected requests and hidden limits on a fake clock.
func TestWindowSemantics(t *testing.T) {
	lim := func(mut func(*gcsim.Limit)) gcsim.Limit {
		l := gcsim.Limit{Key: "test.rate", Namespace: "platform.api", Scope: genesys.ScopeToken, Allowed: 3, Window: gcsim.Duration(time.Minute)}
		mut(&l)
		return l
	}
	type step struct {
		wait   time.Duration // before the request
		status int
		count  string // inin-ratelimit-count ("" = header absent)
		retry  string // Retry-After on 429
	}
	tests := []struct {
		name  string
		limit gcsim.Limit
		steps []step
	}{
		{"fixed window opens at first request", lim(func(*gcsim.Limit) {}), []step{
			{0, 200, "1", ""}, {10 * time.Second, 200, "2", ""}, {0, 200, "3", ""},
			{0, 429, "3", "50"},
			{49 * time.Second, 429, "3", "1"},
			{time.Second, 200, "1", ""}, // 60 s after the first request: new window
		}},
		{"rejected requests count when configured", lim(func(l *gcsim.Limit) { l.CountRejected = true }), []step{
			{0, 200, "1", ""}, {0, 200, "2", ""}, {0, 200, "3", ""},
			{0, 429, "4", "60"}, {0, 429, "5", "60"},
			{60 * time.Second, 200, "1", ""},
		}},
		{"sliding window", lim(func(l *gcsim.Limit) { l.WindowMode = gcsim.Sliding }), []step{
			{0, 200, "1", ""}, {0, 200, "2", ""}, {0, 200, "3", ""},
			{30 * time.Second, 429, "3", "50"}, // 2 of the 3 must slide out: 60 s + 20 s after the first
			{30 * time.Second, 429, "3", "20"}, // the previous 3 still count fully at the step start
			{20 * time.Second, 200, "3", ""},   // a third of the step passed: 2 of the previous 3 remain, plus this one
		}},
		{"hidden limit: enforced, not reported", lim(func(l *gcsim.Limit) { l.Hidden = true }), []step{
			{0, 200, "", ""}, {0, 200, "", ""}, {0, 200, "", ""}, {0, 429, "", "60"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newPipeServer(t, withLimits(tt.limit))
				tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
				for i, st := range tt.steps {
					time.Sleep(st.wait) // fake clock
					r := do(t, s, "GET", queuesPath, tok, nil)
					if r.Status != st.status {
						t.Fatalf("step %d: status %d, want %d; body %s", i, r.Status, st.status, r.Body)
					}
					if got := r.Header.Get("inin-ratelimit-count"); got != st.count {
						t.Errorf("step %d: inin-ratelimit-count = %q, want %q", i, got, st.count)
					}
					if got := r.Header.Get("Retry-After"); got != st.retry {
						t.Errorf("step %d: Retry-After = %q, want %q", i, got, st.retry)
					}
				}
			})
		})
	}
}

// TestGrantScopedLimits: password-grant tokens count against
// token.rate.per.minute, client-credentials tokens against
// client.credentials.token.rate.per.minute.
func TestGrantScopedLimits(t *testing.T) {
	p := gcsim.DefaultProfile()
	for i := range p.Limits {
		switch p.Limits[i].Key {
		case genesys.KeyToken:
			p.Limits[i].Allowed = 2
		case genesys.KeyClientCredentialsToken:
			p.Limits[i].Allowed = 4
		}
	}
	s := newServer(t, p)
	for _, tc := range []struct {
		name  string
		tok   string
		limit int
		key   string
	}{
		{"user token", userToken(t, s, 0), 2, genesys.KeyToken},
		{"client token", token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret), 4, genesys.KeyClientCredentialsToken},
	} {
		for i := 0; i < tc.limit; i++ {
			if r := do(t, s, "GET", queuesPath, tc.tok, nil); r.Status != 200 {
				t.Fatalf("%s request %d: status %d", tc.name, i+1, r.Status)
			}
		}
		r := do(t, s, "GET", queuesPath, tc.tok, nil)
		if r.Status != 429 {
			t.Fatalf("%s request %d: status %d, want 429", tc.name, tc.limit+1, r.Status)
		}
		if key := r.json(t)["limit"].(map[string]any)["key"]; key != tc.key {
			t.Errorf("%s: limit.key = %v, want %s", tc.name, key, tc.key)
		}
	}
}

// TestOrgLimit: an organization-wide limit (not in the defaults: Genesys
// documents none) spans clients.
func TestOrgLimit(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Limits = append(p.Limits, gcsim.Limit{Key: genesys.KeyOrg, Namespace: genesys.NamespacePlatformAPI, Scope: genesys.ScopeOrg,
		Allowed: 5, Window: gcsim.Duration(time.Minute), Hypothetical: true})
	s := newServer(t, p)
	a := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	b := token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2)
	for i := 0; i < 5; i++ {
		tok := []string{a, b}[i%2]
		if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 200 {
			t.Fatalf("request %d: status %d", i+1, r.Status)
		}
	}
	r := do(t, s, "GET", queuesPath, b, nil)
	if r.Status != 429 || r.json(t)["limit"].(map[string]any)["key"] != genesys.KeyOrg {
		t.Fatalf("request 6: status %d body %s, want 429 naming %s", r.Status, r.Body, genesys.KeyOrg)
	}
}

// TestTokenCreationLimit: token creation is not limited by default (Genesys
// documents no such limit); the unconfirmed switch limits it per client.
func TestTokenCreationLimit(t *testing.T) {
	s := newServer(t, gcsim.DefaultProfile())
	for i := 0; i < 400; i++ { // more than any per-minute figure ever assumed
		if r := tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, map[string][]string{"grant_type": {"client_credentials"}}); r.Status != 200 {
			t.Fatalf("default profile: token %d: status %d %s, want 200", i+1, r.Status, r.Body)
		}
	}

	p := gcsim.DefaultProfile()
	p.Unconfirmed.TokenCreationPerMinute = 3
	s = newServer(t, p)
	for i := 0; i < 3; i++ {
		token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	}
	r := tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, map[string][]string{"grant_type": {"client_credentials"}})
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th token: status %d, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	lim := r.json(t)["limit"].(map[string]any)
	if lim["key"] != gcsim.KeyTokenCreate || lim["namespace"] != "auth.api" {
		t.Errorf("limit = %v, want key %s, namespace auth.api", lim, gcsim.KeyTokenCreate)
	}
	token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2) // other client unaffected
}

// TestOrgAppUserSwitch: with unconfirmed.orgAppUserClientCredentials off,
// org.app.user.rate.per.minute no longer counts client-credentials tokens,
// so eleven tokens of one client get 3300 requests through in one window
// (TestClientUserLimit shows the default stopping them at 3000); a user
// token still counts against it.
func TestOrgAppUserSwitch(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Unconfirmed.OrgAppUserClientCredentials = false
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.Now = func() time.Time { return now }
	s := newServer(t, p)
	n := 0
	for range 11 {
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		for range 300 {
			n++
			if code := direct(s, "GET", queuesPath, tok); code != http.StatusOK {
				t.Fatalf("request %d: status %d, want 200 (only the per-token limit applies)", n, code)
			}
		}
	}
	var orgAppUser gcsim.Limit
	for _, l := range s.Profile().Limits {
		if l.Key == genesys.KeyOrgAppUser {
			orgAppUser = l
		}
	}
	if orgAppUser.Grant != "password" {
		t.Errorf("%s grant = %q, want \"password\" (user tokens only)", genesys.KeyOrgAppUser, orgAppUser.Grant)
	}
}

// TestNotFoundIsNot429: an unknown path answers 404 even when the token is
// over its limit.
func TestNotFoundIsNot429(t *testing.T) {
	s := newServer(t, withLimits(gcsim.Limit{Key: "tiny", Namespace: "platform.api", Scope: genesys.ScopeToken, Allowed: 1, Window: gcsim.Duration(time.Minute)}))
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	do(t, s, "GET", queuesPath, tok, nil)
	for i := 0; i < 3; i++ {
		r := do(t, s, "POST", "/api/v2/analytics/screenrecordings/"+fmt.Sprint(i)+"/start", tok, "{}")
		if r.Status != 404 {
			t.Fatalf("status %d, want 404", r.Status)
		}
	}
}

// TestRateLimitMessageForms: the default 429 is the documented form
// (code too.many.requests.retry.after, no window in the message);
// rateLimitMessage "window" picks the older form.
func TestRateLimitMessageForms(t *testing.T) {
	for _, tc := range []struct {
		form, code, msg, withParams string
	}{
		// The default profile's form, set explicitly and left empty.
		{"retryAfter", "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [60] seconds",
			"Rate limit exceeded the maximum. Retry the request in [{retryAfter}] seconds"},
		{"", "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [60] seconds",
			"Rate limit exceeded the maximum. Retry the request in [{retryAfter}] seconds"},
		{"window", "too.many.requests", "Rate limit exceeded the maximum [1] requests within [60] seconds",
			"Rate limit exceeded the maximum [{limit}] requests within [{window}] seconds"},
	} {
		p := gcsim.DefaultProfile()
		if tc.form != "retryAfter" {
			p.RateLimitMessage = tc.form
		}
		p.Limits = []gcsim.Limit{{Key: "one", Namespace: "platform.api", Scope: genesys.ScopeToken, Allowed: 1, Window: gcsim.Duration(time.Minute)}}
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		p.Now = func() time.Time { return now }
		s := newServer(t, p)
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		do(t, s, "GET", queuesPath, tok, nil)
		m := do(t, s, "GET", queuesPath, tok, nil).json(t)
		if m["code"] != tc.code || m["message"] != tc.msg || m["messageWithParams"] != tc.withParams {
			t.Errorf("form %q: code %v message %q messageWithParams %q, want %s %q %q", tc.form, m["code"], m["message"], m["messageWithParams"], tc.code, tc.msg, tc.withParams)
		}
		if params, _ := m["messageParams"].(map[string]any); params["retryAfter"] != "60" {
			t.Errorf("form %q: messageParams = %v, want retryAfter 60", tc.form, m["messageParams"])
		}
	}
}

// TestClientUserLimitTwoUserTokens: two user tokens of one client and one
// user (per-token limit raised to 2000) together hit the 3000 bucket at
// exactly its figure; the same user through another client is not affected.
func TestClientUserLimitTwoUserTokens(t *testing.T) {
	p := gcsim.DefaultProfile()
	for i := range p.Limits {
		if p.Limits[i].Key == genesys.KeyToken {
			p.Limits[i].Allowed = 2000
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.Now = func() time.Time { return now }
	s := newServer(t, p)
	toks := []string{userToken(t, s, 0), userToken(t, s, 0)}
	for n := 1; n <= 3000; n++ {
		if code := direct(s, "GET", queuesPath, toks[n%2]); code != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200", n, code)
		}
	}
	r := do(t, s, "GET", queuesPath, toks[0], nil)
	if r.Status != http.StatusTooManyRequests || r.json(t)["limit"].(map[string]any)["key"] != genesys.KeyOrgAppUser {
		t.Fatalf("request 3001: %d %s, want 429 naming %s", r.Status, r.Body, genesys.KeyOrgAppUser)
	}
	// Agent 1 has its own client-user bucket.
	if code := direct(s, "GET", queuesPath, userToken(t, s, 1)); code != http.StatusOK {
		t.Errorf("another user: status %d, want 200", code)
	}
}

// TestConcurrentRequestsOneToken: concurrent requests on one token are
// admitted exactly up to the limit.
func TestConcurrentRequestsOneToken(t *testing.T) {
	p := gcsim.DefaultProfile()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.Now = func() time.Time { return now }
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	var wg sync.WaitGroup
	codes := make(chan int, 400)
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				codes <- direct(s, "GET", queuesPath, tok)
			}
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != 300 || count[429] != 100 {
		t.Errorf("statuses %v, want 300 x 200 and 100 x 429", count)
	}
}
