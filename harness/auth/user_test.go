package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
)

// simInBubble starts a simulator on an in-memory pipe (for synctest) whose
// tokens live tokenLife seconds.
func simInBubble(t *testing.T, tokenLife int) *gcsim.Server {
	t.Helper()
	p := gcsim.DefaultProfile()
	p.Directory.Agents = 4
	for i := range p.Clients {
		p.Clients[i].AccessTokenValiditySeconds = tokenLife
	}
	s := gcsim.NewUnstartedServer(p)
	s.Listener.Close()
	s.Listener = gcsim.NewPipeListener()
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// samlLogin gets user u's first tokens from the simulator, as an org's SSO
// would, and returns them as a user tokens file entry.
func samlLogin(t *testing.T, s *gcsim.Server, u gcsim.User) auth.UserToken {
	t.Helper()
	form := url.Values{"grant_type": {auth.GrantSAML2Bearer}, "assertion": {gcsim.SAMLAssertion(u.Email)}}
	req, _ := http.NewRequest("POST", s.URL()+"/oauth/token", strings.NewReader(form.Encode()))
	req.SetBasicAuth(gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.RefreshToken == "" {
		t.Fatalf("SAML2 login of %s: status %d, err %v", u.Email, resp.StatusCode, err)
	}
	return auth.UserToken{UserID: u.ID, Email: u.Email, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		ExpiresAt: time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)}
}

// whoAmI returns the user id GET /api/v2/users/me answers for tok, or the status.
func whoAmI(t *testing.T, s *gcsim.Server, tok *auth.Token) (string, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+"/api/v2/users/me", nil)
	req.Header.Set("Authorization", tok.AuthorizationHeader())
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	return me.ID, resp.StatusCode
}

func perUserPool(t *testing.T, s *gcsim.Server, users []auth.UserToken, assertion auth.AssertionSource) *auth.Pool {
	t.Helper()
	p, err := auth.NewPool(auth.Config{
		TokenURL: s.URL() + "/oauth/token", Policy: auth.PerUser, Users: users, Assertion: assertion,
		Clients:       []auth.Credentials{{ClientID: gcsim.DefaultClientID, Secret: gcsim.DefaultClientSecret}},
		HTTPClient:    s.Client(),
		RefreshMargin: time.Minute, RefreshJitter: -1, CreateLimit: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPerUserRefreshBeforeExpiry: agent k gets user k's token from the file,
// and a minute before it expires a new one from the refresh_token grant,
// again and again (the simulator rotates refresh tokens, so the pool must
// keep the newest).
func TestPerUserRefreshBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := simInBubble(t, 300)
		users := s.Users()[:2]
		file := []auth.UserToken{samlLogin(t, s, users[0]), samlLogin(t, s, users[1])}
		pool := perUserPool(t, s, file, nil)
		ctx := context.Background()
		for k := range 2 {
			tok, err := pool.Token(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if tok.ID != auth.HashID("t", file[k].AccessToken) {
				t.Errorf("agent %d's first token = %v, want the file's", k, tok)
			}
			if id, _ := whoAmI(t, s, tok); id != users[k].ID {
				t.Errorf("agent %d acts as %q, want user %d %q", k, id, k, users[k].ID)
			}
		}
		prev, _ := pool.Token(ctx, 0)
		for round := range 3 {
			time.Sleep(239 * time.Second) // just before the refresh point: the same token
			if tok, _ := pool.Token(ctx, 0); tok != prev {
				t.Fatalf("round %d: token replaced %v before its refresh point", round, time.Until(prev.Expiry))
			}
			time.Sleep(2 * time.Second) // within a minute of expiry: a new token
			tok, err := pool.Token(ctx, 0)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if tok == prev || !tok.Expiry.After(prev.Expiry) {
				t.Fatalf("round %d: token not refreshed ahead of expiry: %v after %v", round, tok, prev)
			}
			if id, st := whoAmI(t, s, tok); id != users[0].ID {
				t.Fatalf("round %d: refreshed token acts as %q (status %d), want %q", round, id, st, users[0].ID)
			}
			prev = tok
		}
		if st := pool.Stats(); st.Created != 3 || st.Failures != 0 {
			t.Errorf("Stats = %+v, want 3 created, 0 failures", st)
		}
	})
}

// TestPerUserRefreshOn401: a user token the server revoked gets 401; after
// Invalidate the pool refreshes it at once.
func TestPerUserRefreshOn401(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := simInBubble(t, 3600)
		u := s.Users()[1]
		pool := perUserPool(t, s, []auth.UserToken{samlLogin(t, s, u)}, nil)
		tok, err := pool.Token(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		s.RevokeToken(tok.Value())
		if _, st := whoAmI(t, s, tok); st != http.StatusUnauthorized {
			t.Fatalf("revoked token: status %d, want 401", st)
		}
		pool.Invalidate(tok)
		fresh, err := pool.Token(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if id, st := whoAmI(t, s, fresh); fresh == tok || id != u.ID {
			t.Errorf("after 401: token %v acts as %q (status %d), want a new token of %q", fresh, id, st, u.ID)
		}
	})
}

// TestPerUserSAML2: users without tokens get them with the SAML2 bearer
// grant; a refused refresh token falls back to it; without an assertion
// source the error says what to do and shows no token.
func TestPerUserSAML2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := simInBubble(t, 3600)
		us := s.Users()
		var asked []string
		assert := func(_ context.Context, u auth.UserToken) (string, error) {
			asked = append(asked, u.Name())
			return gcsim.SAMLAssertion(u.Email), nil
		}
		users := []auth.UserToken{
			{UserID: us[0].ID, Email: us[0].Email},
			{UserID: us[1].ID, Email: us[1].Email, RefreshToken: "rt-REFUSED-by-the-server"},
		}
		pool := perUserPool(t, s, users, assert)
		for k := range users {
			tok, err := pool.Token(context.Background(), k)
			if err != nil {
				t.Fatalf("agent %d: %v", k, err)
			}
			if id, st := whoAmI(t, s, tok); id != us[k].ID {
				t.Errorf("agent %d acts as %q (status %d), want %q", k, id, st, us[k].ID)
			}
		}
		if len(asked) != 2 {
			t.Errorf("assertions asked for %q, want both users", asked)
		}
		if _, err := pool.Token(context.Background(), 2); err == nil || !strings.Contains(err.Error(), "agent 2 has no user token") {
			t.Errorf("Token(agent 2) of a 2-user pool = %v, want an error naming the agent", err)
		}

		noSource := perUserPool(t, s, users[1:], nil)
		_, err := noSource.Token(context.Background(), 0)
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), us[1].ID) ||
			strings.Contains(err.Error(), "rt-REFUSED") {
			t.Errorf("refused refresh without assertion source: %v; want invalid_grant naming the user, no token", err)
		}
	})
}

// TestParseUserTokensErrors: each mistake is named with the file, the
// line of the entry and the field; no token is shown.
func TestParseUserTokensErrors(t *testing.T) {
	const ok = `{"userId": "u1", "accessToken": "AT-SECRET-1", "refreshToken": "RT-SECRET-1", "expiresAt": "2030-01-02T15:04:05Z"}`
	tests := []struct {
		name, data, want string
	}{
		{"not an array", `{}`, "tokens.json:1: want a JSON array"},
		{"empty", `[]`, "tokens.json:1: no entries"},
		{"no user", "[\n" + ok + ",\n{\"accessToken\": \"AT-SECRET-2\", \"expiresAt\": \"2030-01-01T00:00:00Z\"}]", "tokens.json:3: entry 1: userId: missing"},
		{"no token", "[\n\n" + `{"email": "a@b.example"}]`, "tokens.json:3: entry 0 (a@b.example): accessToken: missing"},
		{"no expiry", "[" + ok + ",\n" + `{"userId": "u2", "accessToken": "AT-SECRET-2"}]`, "tokens.json:2: entry 1 (u2): expiresAt: missing"},
		{"bad expiry", "[\n" + `{"userId": "u2", "accessToken": "AT-SECRET-2", "expiresAt": "tomorrow"}]`, "tokens.json:2: entry 0: expiresAt: not an RFC 3339 time"},
		{"wrong type", "[\n" + `{"userId": "u2", "accessToken": 12345}]`, "tokens.json:2: entry 0: accessToken: want a string"},
		{"unknown field", "[\n" + `{"userId": "u2", "acessToken": "AT-SECRET-2"}]`, `tokens.json:2: entry 0: unknown field "acessToken"`},
		{"duplicate", "[" + ok + ",\n" + ok + "]", "tokens.json:2: entry 1 (u1): userId: u1 is also entry 0"},
		{"syntax", "[" + ok + ",\n{\"userId\": \"u2\",, }]", "tokens.json:2: entry 1: invalid character ','"},
		{"not closed", "[" + ok, "tokens.json:1: after entry 0: unexpected end of file"},
	}
	for _, tt := range tests {
		_, err := auth.ParseUserTokens("tokens.json", []byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParseUserTokens = %v, want an error containing %q", tt.name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error %q shows a token", tt.name, err)
		}
	}
	us, err := auth.ParseUserTokens("tokens.json", []byte("["+ok+`, {"email": "b@x.example", "clientId": "c2", "refreshToken": "RT-SECRET-2"}]`))
	if err != nil || len(us) != 2 || us[0].UserID != "u1" || us[0].AccessToken != "AT-SECRET-1" ||
		!us[0].ExpiresAt.Equal(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)) || us[1].ClientID != "c2" || us[1].Name() != "b@x.example" {
		t.Errorf("ParseUserTokens = %v, %v", us, err)
	}
	if _, err := auth.ReadUserTokens(t.TempDir() + "/missing.json"); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("ReadUserTokens(missing) = %v, want an error naming the file", err)
	}
}

// TestUserTokenRedaction: a user token, its pool and its tokens print no
// access or refresh token however they are printed.
func TestUserTokenRedaction(t *testing.T) {
	u := auth.UserToken{UserID: "u1", AccessToken: "AT-SECRET-1", RefreshToken: "RT-SECRET-1", ExpiresAt: time.Now().Add(time.Hour)}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s %q\n", u, u, u, u, u)
	fmt.Fprintf(&out, "%v %+v\n", []auth.UserToken{u}, struct{ U auth.UserToken }{u})
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "user", u)
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "user", u)
	js, _ := json.Marshal(u)
	out.Write(js)
	pool, err := auth.NewPool(auth.Config{TokenURL: "http://127.0.0.1:1/oauth/token", Policy: auth.PerUser,
		Users: []auth.UserToken{u}, Clients: []auth.Credentials{{ClientID: "c", Secret: "CLIENT-SECRET"}}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pool.Token(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&out, "%v %#v %v %#v\n", pool, pool, tok, tok)
	for _, secret := range []string{"AT-SECRET-1", "RT-SECRET-1", "CLIENT-SECRET"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("output shows %s:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "u1") || !strings.Contains(out.String(), auth.Redacted) {
		t.Errorf("output does not name the user or the redaction:\n%s", out.String())
	}
}
