package gcsim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults of a tenant stand-in (see TenantMode).
const (
	// DefaultTenantDomain is the stand-in's fake region domain: its hosts
	// are login., api. and streaming. of it. The .test top-level domain is
	// reserved, so no resolver answers for it: only a dialer that maps the
	// names to the stand-in (Server.DialContext) reaches it.
	DefaultTenantDomain = "rehearse.cxload.test"
	// DefaultTenantIdleTimeout is how long the stand-in keeps an idle
	// connection: well under a client's own idle timeout (net/http's 90 s,
	// harness/api's 45 s), so a client meets connections the server closed,
	// as behind a production load balancer.
	DefaultTenantIdleTimeout = 2 * time.Second
	// DefaultEdge429Every: every 200th API request is answered 429 by the
	// "edge", with no limit in its body, as a CDN or WAF in front of the API
	// may do.
	DefaultEdge429Every = 200
	// maxTenantLog bounds the stand-in's request log.
	maxTenantLog = 1 << 20
)

// TenantMode makes a simulator strict where it is otherwise lenient, as a
// production organization is: TLS with a test CA (trust it with
// Server.Roots, never by skipping verification), separate login., api. and
// streaming. hosts (a path on the wrong host is 404), HTTP/2 by ALPN, idle
// connections closed after a short time, no password grant, at most 20
// notification channels per owner, the client's correlation ids not echoed
// (switchable), the limits listing in another shape, and some 429s from an
// edge with no limit in their body. Client-credentials tokens cannot place
// calls there, as everywhere in the simulator.
type TenantMode struct {
	// Domain is the region domain ("" = DefaultTenantDomain).
	Domain string
	// IdleTimeout closes a kept-alive connection with no request (0 =
	// DefaultTenantIdleTimeout).
	IdleTimeout time.Duration
	// EchoCorrelationIDs, when true, puts a request's ININ-Correlation-Id
	// in its events' metadata as the plain simulator does; by default the
	// stand-in does not (Profile.Notifications.EchoCorrelationID false),
	// since a tenant's echo is unconfirmed.
	EchoCorrelationIDs bool
	// Edge429Every answers every n-th API request 429 from the edge (0 =
	// DefaultEdge429Every, negative = never).
	Edge429Every int
}

// A TenantRequest is one request the stand-in received, for tests that
// check what a run touched.
type TenantRequest struct {
	Host   string // login., api. or streaming. host, without the port
	Method string
	Path   string
	Proto  string // "HTTP/2.0" or "HTTP/1.1"
	Body   string // a write's body (first 64 KiB), "" otherwise
}

type tenantState struct {
	mode       TenantMode
	login, api string // host names
	stream     string
	ca         *testCA
	mu         sync.Mutex
	n          int // API requests, for the edge's 429s
	edge429s   int
	log        []TenantRequest
}

// NewTenantStandIn starts a simulator in tenant mode on a 127.0.0.1 port,
// with profile p (nil means DefaultProfile) made strict: password grant
// off, 20 channels per owner. Its URL is https://api.<domain>, LoginURL
// https://login.<domain>, and connectUris point at wss://streaming.<domain>;
// reach them with DialContext, which maps those names (any port) to the
// listener, and trust Roots. The caller calls Close.
func NewTenantStandIn(p *Profile, m TenantMode) *Server {
	if p == nil {
		p = DefaultProfile()
	}
	p = p.clone()
	p.PasswordGrant = false
	for i := range p.Clients {
		var gs []string
		for _, g := range p.Clients[i].GrantTypes {
			if g != grantPassword {
				gs = append(gs, g)
			}
		}
		p.Clients[i].GrantTypes = gs
	}
	p.Notifications.MaxChannelsPerOwner = 20
	p.Notifications.EchoCorrelationID = m.EchoCorrelationIDs
	if m.Domain == "" {
		m.Domain = DefaultTenantDomain
	}
	if m.IdleTimeout <= 0 {
		m.IdleTimeout = DefaultTenantIdleTimeout
	}
	if m.Edge429Every == 0 {
		m.Edge429Every = DefaultEdge429Every
	}
	s := NewUnstartedServer(p)
	ts := &tenantState{mode: m, login: "login." + m.Domain, api: "api." + m.Domain, stream: "streaming." + m.Domain}
	ts.ca = mustTestCA([]string{ts.api, ts.login, ts.stream})
	s.tenant = ts
	s.Config.Handler = tenantHandler{s}
	s.Config.IdleTimeout = m.IdleTimeout
	s.Config.TLSConfig = ts.ca.serverConfig()
	s.Start()
	return s
}

// Roots returns the pool that trusts a tenant stand-in's certificate (nil
// for a plain simulator): set it as tls.Config.RootCAs.
func (s *Server) Roots() *x509.CertPool {
	if s.tenant == nil {
		return nil
	}
	return s.tenant.ca.roots
}

// LoginURL returns the base URL of the login host: URL() for a plain
// simulator, https://login.<domain> for a tenant stand-in.
func (s *Server) LoginURL() string {
	if s.tenant != nil {
		return "https://" + s.tenant.login
	}
	return s.url
}

// TenantDomain returns a tenant stand-in's region domain, "" for a plain
// simulator.
func (s *Server) TenantDomain() string {
	if s.tenant == nil {
		return ""
	}
	return s.tenant.mode.Domain
}

// TenantRequests returns the requests a tenant stand-in received, in order
// (nil for a plain simulator; the first 2^20 are kept).
func (s *Server) TenantRequests() []TenantRequest {
	if s.tenant == nil {
		return nil
	}
	s.tenant.mu.Lock()
	defer s.tenant.mu.Unlock()
	return append([]TenantRequest(nil), s.tenant.log...)
}

// Edge429s returns how many requests a tenant stand-in's edge answered 429.
func (s *Server) Edge429s() int {
	if s.tenant == nil {
		return 0
	}
	s.tenant.mu.Lock()
	defer s.tenant.mu.Unlock()
	return s.tenant.edge429s
}

// tenantDial maps the stand-in's host names to its listener and refuses
// every other address, so nothing leaves the machine.
func (s *Server) tenantDial(ctx context.Context, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ts := s.tenant
	if host != ts.login && host != ts.api && host != ts.stream {
		return nil, fmt.Errorf("gcsim: dial %s: not a host of the tenant stand-in (%s, %s, %s)", addr, ts.login, ts.api, ts.stream)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.Listener.Addr().String())
}

// tenantClient is the Client of a tenant stand-in: its dialer, its roots, HTTP/2.
func (s *Server) tenantClient() *http.Client {
	tr := &http.Transport{
		DialContext:         s.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: s.tenant.ca.roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr}
}

// tenantHandler is the stand-in's front: hosts, edge and shapes, then the
// simulator.
type tenantHandler struct{ s *Server }

func (h tenantHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ts := h.s.tenant
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	rec := TenantRequest{Host: host, Method: r.Method, Path: r.URL.Path, Proto: r.Proto}
	if r.Method != http.MethodGet && r.Body != nil {
		data, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		r.Body.Close()
		rec.Body = string(data)
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	ts.mu.Lock()
	if len(ts.log) < maxTenantLog {
		ts.log = append(ts.log, rec)
	}
	ts.mu.Unlock()

	p := r.URL.Path
	var ok bool
	switch host {
	case ts.login:
		ok = strings.HasPrefix(p, "/oauth/")
	case ts.api:
		ok = strings.HasPrefix(p, "/api/")
	case ts.stream:
		ok = strings.HasPrefix(p, "/channels/")
	}
	if !ok {
		writeTenantJSON(w, http.StatusNotFound, map[string]any{"message": "HTTP 404 Not Found", "code": "not.found", "status": 404})
		return
	}
	if host == ts.api {
		ts.mu.Lock()
		ts.n++
		edge := ts.mode.Edge429Every > 0 && ts.n%ts.mode.Edge429Every == 0
		if edge {
			ts.edge429s++
		}
		ts.mu.Unlock()
		if edge {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "<html><body><h1>429 Too Many Requests</h1></body></html>\n")
			return
		}
		if r.Method == http.MethodGet && p == "/api/v2/organizations/limits/namespaces" {
			// An untyped object (the SDK types it interface{}): names as
			// plain strings, no paging fields.
			writeTenantJSON(w, http.StatusOK, map[string]any{"entities": namespaces(h.s.profile)})
			return
		}
	}
	h.s.ServeHTTP(w, r)
}

func writeTenantJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
