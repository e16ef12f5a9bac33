package gcsim_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
)

const samlGrant = "urn:ietf:params:oauth:grant-type:saml2-bearer"

// TestUserGrants: the SAML2 bearer grant gives the NameID's user a token
// and a refresh token; refresh_token gives a new pair and retires the used
// refresh token; both tokens act as the user.
func TestUserGrants(t *testing.T) {
	s := newServer(t, nil)
	u := s.Users()[3]
	r := tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{
		"grant_type": {samlGrant}, "assertion": {gcsim.SAMLAssertion(u.Email)}})
	if r.Status != http.StatusOK {
		t.Fatalf("SAML2 bearer: status %d, body %s", r.Status, r.Body)
	}
	m := r.json(t)
	access, refresh := m["access_token"].(string), m["refresh_token"].(string)
	if access == "" || refresh == "" {
		t.Fatalf("SAML2 bearer body %s: want access_token and refresh_token", r.Body)
	}
	me := func(tok string) string {
		t.Helper()
		r := do(t, s, "GET", "/api/v2/users/me", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET users/me: status %d, body %s", r.Status, r.Body)
		}
		id, _ := r.json(t)["id"].(string)
		return id
	}
	if got := me(access); got != u.ID {
		t.Errorf("SAML2 token's users/me = %q, want %q", got, u.ID)
	}

	r = tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh_token: status %d, body %s", r.Status, r.Body)
	}
	m = r.json(t)
	access2, refresh2 := m["access_token"].(string), m["refresh_token"].(string)
	if access2 == "" || access2 == access || refresh2 == "" || refresh2 == refresh {
		t.Fatalf("refresh_token body %s: want a new access_token and a new refresh_token", r.Body)
	}
	if got := me(access2); got != u.ID {
		t.Errorf("refreshed token's users/me = %q, want %q", got, u.ID)
	}
	// The used refresh token is retired; the new one belongs to its client.
	for _, tc := range []struct {
		name, id, secret, rt string
	}{
		{"used refresh token", gcsim.DefaultClientID, gcsim.DefaultClientSecret, refresh},
		{"another client's refresh token", gcsim.DefaultClientID2, gcsim.DefaultClientSecret2, refresh2},
		{"unknown refresh token", gcsim.DefaultClientID, gcsim.DefaultClientSecret, "rt-nope"},
	} {
		r := tokenRequest(t, s, tc.id, tc.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tc.rt}})
		if m := r.json(t); r.Status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Errorf("%s: status %d, body %s; want 400 invalid_grant", tc.name, r.Status, r.Body)
		}
	}

	// Client credentials get no refresh token.
	r = tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{"grant_type": {"client_credentials"}})
	if _, ok := r.json(t)["refresh_token"]; ok {
		t.Errorf("client_credentials body %s has a refresh_token", r.Body)
	}
}

// TestUserGrantErrors: bad assertions, grants a client may not use, and the
// password grant switched off answer Genesys' OAuth error shape.
func TestUserGrantErrors(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Clients[1].GrantTypes = []string{"client_credentials"}
	p.PasswordGrant = false
	s := newServer(t, p)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name     string
		client   int
		form     url.Values
		status   int
		code     string
		descFrag string
	}{
		{"unknown user", 0, url.Values{"grant_type": {samlGrant}, "assertion": {gcsim.SAMLAssertion("nobody@sim-org.example")}}, 400, "invalid_grant", "not a user"},
		{"no NameID", 0, url.Values{"grant_type": {samlGrant}, "assertion": {b64("<saml:Assertion></saml:Assertion>")}}, 400, "invalid_grant", "no NameID"},
		{"not base64", 0, url.Values{"grant_type": {samlGrant}, "assertion": {"%%%"}}, 400, "invalid_grant", "not base64"},
		{"no assertion", 0, url.Values{"grant_type": {samlGrant}}, 400, "invalid_grant", "missing assertion"},
		{"client without SAML2", 1, url.Values{"grant_type": {samlGrant}, "assertion": {gcsim.SAMLAssertion(s.Users()[0].Email)}}, 400, "unauthorized_client", samlGrant},
		{"password grant off", 0, url.Values{"grant_type": {"password"}, "username": {s.Users()[0].Email}, "password": {gcsim.DefaultAgentPassword}}, 400, "unsupported_grant_type", "passwordGrant"},
	}
	ids := []string{gcsim.DefaultClientID, gcsim.DefaultClientID2}
	secrets := []string{gcsim.DefaultClientSecret, gcsim.DefaultClientSecret2}
	for _, tt := range tests {
		r := tokenRequest(t, s, ids[tt.client], secrets[tt.client], tt.form)
		m := r.json(t)
		desc, _ := m["description"].(string)
		if r.Status != tt.status || m["error"] != tt.code || !strings.Contains(desc, tt.descFrag) || m["error_description"] != desc {
			t.Errorf("%s: status %d, body %s; want %d %s with a description containing %q", tt.name, r.Status, r.Body, tt.status, tt.code, tt.descFrag)
		}
	}
}
