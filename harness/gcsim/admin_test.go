package gcsim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
)

// queuesFault is a faults body that makes every queue request fail.
const queuesFault = `{"families":{"routing.queues":{"errorRate":1}}}`

// adminRequest builds an admin request to s; set is applied to it before
// it is sent.
func adminRequest(tb testing.TB, s *gcsim.Server, method, path, body string, set func(*http.Request)) response {
	tb.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, nil)
	if rd != nil {
		req, err = http.NewRequest(method, s.URL()+path, rd)
	}
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if set != nil {
		set(req)
	}
	return send(tb, s, req)
}

// TestAdminRefusesOtherSites: a browser page on another origin, or one that
// reached the simulator through a DNS name it controls (DNS rebinding),
// cannot change faults, revoke tokens, reset counters or read stats; the
// refusal says why. The same requests from loopback names, with or without
// the server's own Origin, are served.
func TestAdminRefusesOtherSites(t *testing.T) {
	s := newServer(t, nil)
	port := s.URL()[strings.LastIndex(s.URL(), ":")+1:]
	refused := []struct {
		name, method, path, body string
		host, origin             string
		want                     string
	}{
		// A page on another site posting a form-like body.
		{"cross-origin PUT faults", "PUT", "/admin/faults", queuesFault, "", "http://evil.example", "Origin"},
		{"cross-origin POST revoke", "POST", "/admin/revoke", `{"clientId":"sim-client"}`, "", "https://evil.example", "Origin"},
		{"cross-origin reset", "POST", "/admin/reset", "", "", "http://evil.example", "Origin"},
		{"cross-origin stats", "GET", "/admin/stats", "", "", "http://evil.example", "Origin"},
		// Sandboxed frames and file:// pages send Origin: null.
		{"null origin", "PUT", "/admin/faults", queuesFault, "", "null", "Origin"},
		// Same host, another port: another origin.
		{"other port", "PUT", "/admin/faults", queuesFault, "", "http://127.0.0.1:1", "Origin"},
		// DNS rebinding: the browser sends the attacker's name as Host.
		{"rebound name", "PUT", "/admin/faults", queuesFault, "evil.example:" + port, "", "Host"},
		{"rebound name, own origin", "PUT", "/admin/faults", queuesFault, "evil.example:" + port, "http://evil.example:" + port, "Host"},
		{"non-loopback IP", "POST", "/admin/reset", "", "192.0.2.1:" + port, "", "Host"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := adminRequest(t, s, tt.method, tt.path, tt.body, func(req *http.Request) {
				if tt.host != "" {
					req.Host = tt.host
				}
				if tt.origin != "" {
					req.Header.Set("Origin", tt.origin)
				}
			})
			if r.Status != http.StatusForbidden {
				t.Fatalf("%s %s (Host %q, Origin %q) = %d %s, want 403", tt.method, tt.path, tt.host, tt.origin, r.Status, r.Body)
			}
			if msg, _ := r.json(t)["message"].(string); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not name the %s", msg, tt.want)
			}
		})
	}
	if f := s.Faults(); len(f.Families) != 0 {
		t.Errorf("after refused requests Faults() = %+v, want none", f)
	}
	served := []struct {
		name, host, origin string
	}{
		{"loopback IP", "", ""},
		{"own origin", "", s.URL()},
		{"localhost", "localhost:" + port, ""},
		{"localhost, own origin", "LocalHost:" + port, "http://localhost:" + port},
		{"127.0.0.0/8", "127.1.2.3:" + port, ""},
		{"IPv6 loopback", "[::1]:" + port, ""},
		{"no port", "localhost", ""},
	}
	for _, tt := range served {
		t.Run(tt.name, func(t *testing.T) {
			r := adminRequest(t, s, "PUT", "/admin/faults", queuesFault, func(req *http.Request) {
				if tt.host != "" {
					req.Host = tt.host
				}
				if tt.origin != "" {
					req.Header.Set("Origin", tt.origin)
				}
			})
			if r.Status != http.StatusOK {
				t.Errorf("PUT /admin/faults (Host %q, Origin %q) = %d %s, want 200", tt.host, tt.origin, r.Status, r.Body)
			}
		})
	}
}

// TestAdminBodies: an admin body must be JSON, declared as such, an
// object, and within the 1 MiB limit; every refusal leaves the faults as
// they were and says what to send instead, in the API's words.
func TestAdminBodies(t *testing.T) {
	s := newServer(t, nil)
	if r := adminRequest(t, s, "PUT", "/admin/faults", queuesFault, nil); r.Status != http.StatusOK {
		t.Fatalf("PUT /admin/faults: %d %s", r.Status, r.Body)
	}
	big := `{"families":{"*":{"errorRate":0` + strings.Repeat(" ", 1<<20) + `}}}`
	tests := []struct {
		name, path, body, contentType string
		status                        int
		want                          string
	}{
		// A cross-origin form or fetch can send text/plain without a preflight.
		{"text/plain", "/admin/faults", `{}`, "text/plain", http.StatusUnsupportedMediaType, "Content-Type: application/json"},
		// curl -d sends application/x-www-form-urlencoded.
		{"form", "/admin/faults", `{}`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "Content-Type: application/json"},
		{"no Content-Type", "/admin/revoke", `{"clientId":"sim-client"}`, "-", http.StatusUnsupportedMediaType, "Content-Type: application/json"},
		{"body on reset", "/admin/reset", `x`, "text/plain", http.StatusUnsupportedMediaType, "Content-Type: application/json"},
		// null decoded into Faults would clear them all.
		{"null", "/admin/faults", `null`, "", http.StatusBadRequest, "want a JSON object, got null"},
		{"top-level string", "/admin/faults", `"x"`, "", http.StatusBadRequest, "want a JSON object, got a string"},
		{"top-level array", "/admin/revoke", `[]`, "", http.StatusBadRequest, "want a JSON object, got an array"},
		{"empty", "/admin/faults", ``, "", http.StatusBadRequest, "the body is empty"},
		{"too large", "/admin/faults", big, "", http.StatusRequestEntityTooLarge, "1 MiB"},
		{"two values", "/admin/faults", `{} {}`, "", http.StatusBadRequest, "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := adminRequest(t, s, "POST", tt.path, tt.body, func(req *http.Request) {
				switch tt.contentType {
				case "":
					req.Header.Set("Content-Type", "application/json")
				case "-":
					req.Header.Del("Content-Type")
				default:
					req.Header.Set("Content-Type", tt.contentType)
				}
			})
			if r.Status != tt.status {
				t.Fatalf("POST %s %.40q = %d %s, want %d", tt.path, tt.body, r.Status, r.Body, tt.status)
			}
			msg, _ := r.json(t)["message"].(string)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want it to contain %q", msg, tt.want)
			}
			for _, internal := range []string{"Go value", "Go type", "gcsim.", "struct", "json:"} {
				if strings.Contains(msg, internal) {
					t.Errorf("message %q shows Go internals (%q)", msg, internal)
				}
			}
		})
	}
	if f := s.Faults(); f.Families["routing.queues"].ErrorRate != 1 {
		t.Errorf("after refused bodies Faults() = %+v, want the queues fault kept", f)
	}
	// A charset parameter is fine, and {} still clears the faults.
	r := adminRequest(t, s, "PUT", "/admin/faults", `{}`, func(req *http.Request) {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	})
	if r.Status != http.StatusOK || len(s.Faults().Families) != 0 {
		t.Errorf("PUT {} with charset: %d %s, Faults() = %+v; want 200 and no faults", r.Status, r.Body, s.Faults())
	}
	// A bodyless POST needs no Content-Type (curl -X POST .../admin/reset).
	if r := adminRequest(t, s, "POST", "/admin/reset", "", nil); r.Status != http.StatusNoContent {
		t.Errorf("POST /admin/reset without a body: %d %s, want 204", r.Status, r.Body)
	}
}

// TestAdminOverPipe: on the in-memory pipe, which only the process itself
// can dial, the Host is whatever the client sends (gcsim.pipe) and is
// accepted; a foreign Origin is still refused.
func TestAdminOverPipe(t *testing.T) {
	s := newPipeServer(t, nil)
	if r := adminRequest(t, s, "PUT", "/admin/faults", queuesFault, nil); r.Status != http.StatusOK {
		t.Errorf("PUT /admin/faults over the pipe (Host %s) = %d %s, want 200", strings.TrimPrefix(s.URL(), "http://"), r.Status, r.Body)
	}
	r := adminRequest(t, s, "POST", "/admin/reset", "", func(req *http.Request) { req.Header.Set("Origin", "http://evil.example") })
	if r.Status != http.StatusForbidden {
		t.Errorf("POST /admin/reset over the pipe with a foreign Origin = %d, want 403", r.Status)
	}
}
