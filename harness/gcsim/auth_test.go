package gcsim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

func TestTokenEndpointErrors(t *testing.T) {
	s := newServer(t, nil)
	cc := url.Values{"grant_type": {"client_credentials"}}
	tests := []struct {
		name       string
		id, secret string
		form       url.Values
		ctype      string // "" = form
		wantStatus int
		wantError  string
		wantDesc   string // "": any description
	}{
		{"ok", gcsim.DefaultClientID, gcsim.DefaultClientSecret, cc, "", 200, "", ""},
		{"second client", gcsim.DefaultClientID2, gcsim.DefaultClientSecret2, cc, "", 200, "", ""},
		// The descriptions Genesys was observed to give.
		{"unknown client", "nobody", "x", cc, "", 401, "invalid_client", "client not found"},
		{"wrong secret", gcsim.DefaultClientID, "wrong", cc, "", 401, "invalid_client", "authentication failed"},
		{"no client auth", "", "", cc, "", 401, "invalid_client", ""},
		{"missing grant type", gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{}, "", 400, "invalid_request", ""},
		{"wrong grant type", gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{"grant_type": {"authorization_code"}}, "", 400, "unsupported_grant_type", ""},
		{"JSON body", gcsim.DefaultClientID, gcsim.DefaultClientSecret, cc, "application/json", 400, "invalid_request", ""},
		{"malformed form", gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{"%zz": {"1"}}, "", 400, "invalid_request", ""},
		{"password grant bad password", gcsim.DefaultClientID, gcsim.DefaultClientSecret,
			url.Values{"grant_type": {"password"}, "username": {"agent0001@sim-org.example"}, "password": {"nope"}}, "", 400, "invalid_grant", ""},
		{"password grant", gcsim.DefaultClientID, gcsim.DefaultClientSecret,
			url.Values{"grant_type": {"password"}, "username": {"agent0001@sim-org.example"}, "password": {gcsim.DefaultAgentPassword}}, "", 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.form.Encode()
			if tt.name == "malformed form" {
				body = "grant_type=client_credentials&%zz"
			}
			req, _ := http.NewRequest("POST", s.URL()+"/oauth/token", strings.NewReader(body))
			if tt.id != "" {
				req.SetBasicAuth(tt.id, tt.secret)
			}
			ct := tt.ctype
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			r := send(t, s, req)
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", r.Status, tt.wantStatus, r.Body)
			}
			m := r.json(t)
			if tt.wantError == "" {
				if m["token_type"] != "bearer" || m["expires_in"] != 86399.0 || m["access_token"] == "" {
					t.Errorf("token body = %s", r.Body)
				}
				return
			}
			if m["error"] != tt.wantError || m["description"] == "" || m["error_description"] != m["description"] {
				t.Errorf("error body = %s, want error %q with description and error_description", r.Body, tt.wantError)
			}
			if tt.wantDesc != "" && m["description"] != tt.wantDesc {
				t.Errorf("description %q, want %q", m["description"], tt.wantDesc)
			}
			if strings.Contains(string(r.Body), gcsim.DefaultClientSecret) {
				t.Errorf("error body leaks the secret: %s", r.Body)
			}
		})
	}
}

func TestBearerErrors(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	revoked := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	if !s.RevokeToken(revoked) {
		t.Fatal("RevokeToken(known token) = false")
	}
	tests := []struct {
		name, auth string
		status     int
		code       string
	}{
		{"valid", "Bearer " + tok, 200, ""},
		{"lower-case scheme", "bearer " + tok, 200, ""},
		{"missing", "", 401, "authentication.required"},
		{"basic scheme", "Basic abc", 401, "authentication.required"},
		{"unknown token", "Bearer nope", 401, "bad.credentials"},
		{"revoked token", "Bearer " + revoked, 401, "bad.credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL()+queuesPath, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			r := send(t, s, req)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, tt.status, r.Body)
			}
			if tt.code != "" {
				if m := r.json(t); m["code"] != tt.code || m["status"] != 401.0 {
					t.Errorf("body %s, want code %s", r.Body, tt.code)
				}
			}
		})
	}
	if st := s.Stats(); st.Auth.Unknown != 1 || st.Auth.Revoked != 1 {
		t.Errorf("Stats().Auth = %+v, want 1 unknown, 1 revoked", st.Auth)
	}
}

// TestTokenExpiry runs on the fake clock of a synctest bubble.
func TestTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.Clients[0].AccessTokenValiditySeconds = 300
		s := newPipeServer(t, p)
		r := tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{"grant_type": {"client_credentials"}})
		if got := r.json(t)["expires_in"]; got != 300.0 {
			t.Fatalf("expires_in = %v, want 300", got)
		}
		tok := r.json(t)["access_token"].(string)
		time.Sleep(299 * time.Second)
		if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 200 {
			t.Fatalf("at 299 s: status %d, want 200", r.Status)
		}
		time.Sleep(time.Second)
		r = do(t, s, "GET", queuesPath, tok, nil)
		if r.Status != 401 || r.json(t)["code"] != "bad.credentials" {
			t.Fatalf("at 300 s: status %d body %s, want 401 bad.credentials", r.Status, r.Body)
		}
		if st := s.Stats(); st.Auth.Expired != 1 {
			t.Errorf("Stats().Auth.Expired = %d, want 1", st.Auth.Expired)
		}
	})
}

func TestRevocation(t *testing.T) {
	s := newServer(t, nil)
	// DELETE /api/v2/tokens/me revokes the caller's token.
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	if r := do(t, s, "DELETE", "/api/v2/tokens/me", tok, nil); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE tokens/me: status %d", r.Status)
	}
	if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 401 {
		t.Errorf("after DELETE tokens/me: status %d, want 401", r.Status)
	}
	// The admin path revokes by token and by client.
	a := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	b := token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2)
	c := token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2)
	if r := do(t, s, "POST", "/admin/revoke", "", map[string]string{"token": a}); r.Status != 200 || r.json(t)["revoked"] != 1.0 {
		t.Errorf("admin revoke token: %d %s", r.Status, r.Body)
	}
	if r := do(t, s, "POST", "/admin/revoke", "", map[string]string{"clientId": gcsim.DefaultClientID2}); r.Status != 200 || r.json(t)["revoked"] != 2.0 {
		t.Errorf("admin revoke client: %d %s", r.Status, r.Body)
	}
	for _, tk := range []string{a, b, c} {
		if r := do(t, s, "GET", queuesPath, tk, nil); r.Status != 401 {
			t.Errorf("revoked token: status %d, want 401", r.Status)
		}
	}
	if r := do(t, s, "POST", "/admin/revoke", "", `{"tokn":"x"}`); r.Status != 400 || !strings.Contains(string(r.Body), "tokn") {
		t.Errorf("admin revoke with unknown field: %d %s, want 400 naming tokn", r.Status, r.Body)
	}
}

// TestUserContext: client-credentials tokens get 400 on user-context
// endpoints; password-grant tokens get the user.
func TestUserContext(t *testing.T) {
	s := newServer(t, nil)
	cc := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	ut := userToken(t, s, 4)
	for _, path := range []string{"/api/v2/users/me", "/api/v2/conversations"} {
		r := do(t, s, "GET", path, cc, nil)
		if r.Status != 400 || !strings.Contains(r.json(t)["message"].(string), "requires a user context") {
			t.Errorf("GET %s with client credentials: %d %s, want 400 requires a user context", path, r.Status, r.Body)
		}
		if r.Header.Get("inin-ratelimit-allowed") == "" {
			t.Errorf("GET %s with client credentials: no inin-ratelimit-* headers on the 400", path)
		}
		if r := do(t, s, "GET", path, ut, nil); r.Status != 200 {
			t.Errorf("GET %s with a user token: %d %s", path, r.Status, r.Body)
		}
	}
	if r := do(t, s, "GET", "/api/v2/users/me", ut, nil); r.json(t)["id"] != gcsim.UserID(4) {
		t.Errorf("users/me = %s, want id %s", r.Body, gcsim.UserID(4))
	}
	r := do(t, s, "GET", "/api/v2/tokens/me", cc, nil)
	if m := r.json(t); m["authenticatedUser"] != nil || m["OAuthClient"].(map[string]any)["id"] != gcsim.DefaultClientID {
		t.Errorf("tokens/me (client credentials) = %s", r.Body)
	}
}

func TestTokenOutageFault(t *testing.T) {
	s := newServer(t, nil)
	s.SetFaults(gcsim.Faults{TokenOutage: true})
	r := tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{"grant_type": {"client_credentials"}})
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("outage: status %d Retry-After %q, want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	s.SetFaults(gcsim.Faults{})
	token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	if st := s.Stats(); st.Faults.TokenOutage != 1 || st.Tokens[gcsim.DefaultClientID] != 1 {
		t.Errorf("stats faults %+v tokens %v", st.Faults, st.Tokens)
	}
}
