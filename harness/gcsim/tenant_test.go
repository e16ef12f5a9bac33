package gcsim_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

func newTenant(tb testing.TB, m gcsim.TenantMode) *gcsim.Server {
	tb.Helper()
	s := gcsim.NewTenantStandIn(nil, m)
	tb.Cleanup(s.Close)
	return s
}

// tenantToken gets a token from the stand-in's login host with form.
func tenantToken(tb testing.TB, s *gcsim.Server, form url.Values) response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.LoginURL()+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.SetBasicAuth(gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(tb, s, req)
}

// The stand-in serves TLS that only its Roots trust, HTTP/2 by ALPN, and
// each path on its own host only.
func TestTenantStandInHostsTLSAndHTTP2(t *testing.T) {
	s := newTenant(t, gcsim.TenantMode{Edge429Every: -1})
	if got, want := s.URL(), "https://api."+gcsim.DefaultTenantDomain; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	r := tenantToken(t, s, url.Values{"grant_type": {"client_credentials"}})
	if r.Status != http.StatusOK {
		t.Fatalf("client credentials on the login host: %d %s", r.Status, r.Body)
	}
	tok := r.json(t)["access_token"].(string)
	if got := do(t, s, http.MethodGet, "/api/v2/users", tok, nil); got.Status != http.StatusOK {
		t.Errorf("GET /api/v2/users on the api host: %d %s", got.Status, got.Body)
	}
	reqs := s.TenantRequests()
	if n := len(reqs); n != 2 || reqs[0].Proto != "HTTP/2.0" || reqs[1].Proto != "HTTP/2.0" {
		t.Errorf("requests seen = %+v, want 2 over HTTP/2.0", reqs)
	}

	// Wrong host for the path: 404, as Genesys.
	for _, u := range []string{s.URL() + "/oauth/token", s.LoginURL() + "/api/v2/users",
		"https://streaming." + gcsim.DefaultTenantDomain + "/api/v2/users", s.URL() + "/admin/stats"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if got := send(t, s, req); got.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", u, got.Status)
		}
	}

	// Another host is never dialled; an untrusting client fails the handshake.
	if _, err := s.DialContext(t.Context(), "tcp", "api.mypurecloud.ie:443"); err == nil || !strings.Contains(err.Error(), "not a host of the tenant stand-in") {
		t.Errorf("DialContext(api.mypurecloud.ie:443) = %v, want a refusal", err)
	}
	plain := &http.Client{Transport: &http.Transport{DialContext: s.DialContext}}
	if resp, err := plain.Get(s.URL() + "/api/v2/users"); err == nil {
		resp.Body.Close()
		t.Errorf("a client without Roots reached the stand-in: %s", resp.Status)
	}
	plain.CloseIdleConnections()
}

// No password grant; the limits listing comes in another shape; the
// client's correlation id is not echoed unless switched on.
func TestTenantStandInStrictness(t *testing.T) {
	s := newTenant(t, gcsim.TenantMode{Edge429Every: -1})
	r := tenantToken(t, s, url.Values{"grant_type": {"password"}, "username": {s.Users()[0].Email}, "password": {gcsim.DefaultAgentPassword}})
	if r.Status == http.StatusOK {
		t.Errorf("password grant on the stand-in = 200, want a refusal")
	}
	tok := tenantToken(t, s, url.Values{"grant_type": {"client_credentials"}}).json(t)["access_token"].(string)
	got := do(t, s, http.MethodGet, "/api/v2/organizations/limits/namespaces", tok, nil)
	var shape struct {
		Entities []string `json:"entities"`
	}
	if err := json.Unmarshal(got.Body, &shape); err != nil || len(shape.Entities) == 0 {
		t.Errorf("limits namespaces = %s (%v), want entities as plain names", got.Body, err)
	}
	if s.Profile().Notifications.EchoCorrelationID {
		t.Errorf("stand-in: notifications.echoCorrelationId = true, want false")
	}
	if echo := newTenant(t, gcsim.TenantMode{Edge429Every: -1, EchoCorrelationIDs: true}); !echo.Profile().Notifications.EchoCorrelationID {
		t.Errorf("EchoCorrelationIDs: notifications.echoCorrelationId = false, want true")
	}
}

// Every n-th API request gets the edge's 429: Retry-After, no limit body.
func TestTenantStandInEdge429(t *testing.T) {
	s := newTenant(t, gcsim.TenantMode{Edge429Every: 3})
	tok := tenantToken(t, s, url.Values{"grant_type": {"client_credentials"}}).json(t)["access_token"].(string)
	var statuses []int
	for range 6 {
		r := do(t, s, http.MethodGet, "/api/v2/users", tok, nil)
		statuses = append(statuses, r.Status)
		if r.Status == http.StatusTooManyRequests && (r.Header.Get("Retry-After") == "" || strings.Contains(string(r.Body), "limit")) {
			t.Errorf("edge 429: Retry-After %q, body %q; want a Retry-After and no limit", r.Header.Get("Retry-After"), r.Body)
		}
	}
	if want := []int{200, 200, 429, 200, 200, 429}; !equalInts(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}
	if n := s.Edge429s(); n != 2 {
		t.Errorf("Edge429s() = %d, want 2", n)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The server closes an idle connection after IdleTimeout: a raw TLS
// connection sees EOF with no request sent (bounded by a read deadline).
func TestTenantStandInClosesIdleConnections(t *testing.T) {
	s := newTenant(t, gcsim.TenantMode{Edge429Every: -1, IdleTimeout: 50 * time.Millisecond})
	raw, err := s.DialContext(t.Context(), "tcp", "api."+gcsim.DefaultTenantDomain+":443")
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{RootCAs: s.Roots(), ServerName: "api." + gcsim.DefaultTenantDomain, NextProtos: []string{"http/1.1"}})
	defer c.Close()
	io.WriteString(c, "GET /api/v2/users/me HTTP/1.1\r\nHost: api."+gcsim.DefaultTenantDomain+"\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.Copy(io.Discard, c) // the 401 answer, then EOF when the server closes
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection was still open after %v, want it closed after the 50ms idle timeout", time.Since(start))
	}
}
