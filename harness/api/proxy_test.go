package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/cxload/cxload/harness/api"
)

// envProxyChild names the variable that makes TestProxyFromEnvironment,
// re-run as a child process, send one request to the BaseURL it holds.
const envProxyChild = "CXLOAD_TEST_PROXY_CHILD_BASEURL"

// A proxy in the environment (HTTP_PROXY, ...) takes the request to a
// remote host: the Transport sends it to the proxy in absolute form. A
// loopback BaseURL is never proxied (as net/http decides) and goes
// straight to its server.
//
// net/http reads the proxy variables once per process, so each case runs
// in a child process (this test binary) with its own environment. Nothing
// is dialed but 127.0.0.1: the remote host (.invalid, RFC 2606) is only
// named to the proxy, never resolved.
func TestProxyFromEnvironment(t *testing.T) {
	if base := os.Getenv(envProxyChild); base != "" {
		// Should the client ever dial the remote host itself, the lookup
		// fails here instead of asking a DNS server.
		net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("test: no DNS: the request should have gone to the proxy")
		}}
		c, err := api.New(api.Config{BaseURL: base, Tokens: &tokens{}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		resp, err := c.Do(context.Background(), &api.Request{Route: "/api/v2/users/me"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.Status)
		}
		return
	}

	type hit struct{ requestURI, host string }
	serve := func(name string) (*httptest.Server, func() []hit) {
		var (
			mu   sync.Mutex
			hits []hit
		)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits = append(hits, hit{r.RequestURI, r.Host})
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"` + name + `"}`))
		}))
		t.Cleanup(srv.Close)
		return srv, func() []hit {
			mu.Lock()
			defer mu.Unlock()
			return append([]hit(nil), hits...)
		}
	}
	child := func(t *testing.T, base, proxy string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.count=1")
		cmd.Env = append(os.Environ(), envProxyChild+"="+base,
			"HTTP_PROXY="+proxy, "HTTPS_PROXY="+proxy, "NO_PROXY=", "http_proxy=", "https_proxy=", "no_proxy=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child with HTTP_PROXY=%s BaseURL=%s: %v\n%s", proxy, base, err, out)
		}
	}

	t.Run("remote host goes through the proxy", func(t *testing.T) {
		proxy, proxied := serve("proxy")
		child(t, "http://api.example.invalid", proxy.URL)
		got := proxied()
		if len(got) != 1 || got[0].requestURI != "http://api.example.invalid/api/v2/users/me" || got[0].host != "api.example.invalid" {
			t.Fatalf("proxy saw %+v, want one request for http://api.example.invalid/api/v2/users/me", got)
		}
	})
	t.Run("loopback goes direct", func(t *testing.T) {
		proxy, proxied := serve("proxy")
		direct, seen := serve("direct")
		child(t, direct.URL, proxy.URL)
		if got := proxied(); len(got) != 0 {
			t.Fatalf("proxy saw %+v, want nothing: loopback is never proxied", got)
		}
		if got := seen(); len(got) != 1 || got[0].requestURI != "/api/v2/users/me" {
			t.Fatalf("server saw %+v, want one request for /api/v2/users/me", got)
		}
	})
}
