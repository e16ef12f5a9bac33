package gcsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness/gcsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newServer starts a server on a loopback port and closes it at cleanup.
func newServer(tb testing.TB, p *gcsim.Profile) *gcsim.Server {
	tb.Helper()
	s := gcsim.NewServer(p)
	tb.Cleanup(s.Close)
	return s
}

// newPipeServer starts a server on an in-memory pipe, for testing/synctest bubbles.
func newPipeServer(tb testing.TB, p *gcsim.Profile) *gcsim.Server {
	tb.Helper()
	s := gcsim.NewUnstartedServer(p)
	s.Listener.Close()
	s.Listener = gcsim.NewPipeListener()
	s.Start()
	tb.Cleanup(s.Close)
	return s
}

// response is a read answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// do sends one request; token may be empty; body is JSON-encoded unless it
// is a string or nil.
func do(tb testing.TB, s *gcsim.Server, method, path, token string, body any) response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(tb, s, req)
}

func send(tb testing.TB, s *gcsim.Server, req *http.Request) response {
	tb.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// tokenRequest posts to /oauth/token with Basic auth (skipped if id is
// empty) and the form.
func tokenRequest(tb testing.TB, s *gcsim.Server, id, secret string, form url.Values) response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return send(tb, s, req)
}

// token gets a client-credentials token.
func token(tb testing.TB, s *gcsim.Server, id, secret string) string {
	tb.Helper()
	r := tokenRequest(tb, s, id, secret, url.Values{"grant_type": {"client_credentials"}})
	if r.Status != http.StatusOK {
		tb.Fatalf("token for %s: status %d, body %s", id, r.Status, r.Body)
	}
	tok, _ := r.json(tb)["access_token"].(string)
	if tok == "" {
		tb.Fatalf("token for %s: no access_token in %s", id, r.Body)
	}
	return tok
}

// userToken gets a password-grant (user-context) token for agent i.
func userToken(tb testing.TB, s *gcsim.Server, i int) string {
	tb.Helper()
	r := tokenRequest(tb, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret, url.Values{
		"grant_type": {"password"}, "username": {s.Users()[i].Email}, "password": {gcsim.DefaultAgentPassword}})
	if r.Status != http.StatusOK {
		tb.Fatalf("user token for agent %d: status %d, body %s", i, r.Status, r.Body)
	}
	return r.json(tb)["access_token"].(string)
}

// limits returns a profile whose limits are replaced by ls.
func withLimits(ls ...gcsim.Limit) *gcsim.Profile {
	p := gcsim.DefaultProfile()
	p.Limits = ls
	return p
}
