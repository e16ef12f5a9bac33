package api_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// connCounter counts the connections a test server accepted.
type connCounter struct{ n atomic.Int64 }

func (c *connCounter) state(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.n.Add(1)
	}
}

// loopServer starts a loopback server for h and a Client on its own
// Transport (no HTTPClient) for it.
func loopServer(t testing.TB, h http.HandlerFunc, cfg api.Config) (*api.Client, *connCounter) {
	t.Helper()
	var cc connCounter
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = cc.state
	srv.Start()
	t.Cleanup(srv.Close)
	if cfg.BaseURL == "" {
		cfg.BaseURL = srv.URL
	} else {
		cfg.BaseURL = srv.URL + cfg.BaseURL // a path prefix
	}
	if cfg.Tokens == nil {
		cfg.Tokens = &tokens{}
	}
	c, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, &cc
}

// seen is what the server saw of one request.
type seen struct {
	method, path, rawQuery, host string
	header                       http.Header
	body                         string
	contentLength                int64
}

// The client sends what net/http's server reads back as the request asked
// for, and reads every kind of answer net/http can send, on one kept-alive
// connection.
func TestRequestsAndAnswers(t *testing.T) {
	var (
		mu   sync.Mutex
		last seen
	)
	c, conns := loopServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Host, r.Header.Clone(), string(b), r.ContentLength}
		mu.Unlock()
		switch r.URL.Query().Get("answer") {
		case "chunked":
			w.Write([]byte(`{"part":1,`))
			w.(http.Flusher).Flush()
			w.Write([]byte(`"end":true}`))
		case "nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "early":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Write([]byte(`{"after":"103"}`))
		case "head":
			w.Header().Set("Content-Length", "1000")
		default:
			w.Header().Set("ININ-Correlation-Id", "corr-1")
			fmt.Fprintf(w, `{"len":%d}`, len(b))
		}
	}, api.Config{BaseURL: "/gw/", UserAgent: "cxload-test/1"})
	big := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name      string
		req       api.Request
		want      seen
		status    int
		body      string
		checkHead func(h http.Header) error
	}{
		{"GET escaped params and query",
			api.Request{Route: "/api/v2/users/{id}/presences/{src}", Params: []string{"a b/c", "PURECLOUD"}, Query: url.Values{"expand": {"presence,routingStatus"}}},
			seen{method: "GET", path: "/gw/api/v2/users/a%20b%2Fc/presences/PURECLOUD", rawQuery: "expand=presence%2CroutingStatus", contentLength: 0},
			200, `{"len":0}`, nil},
		{"POST JSON body",
			api.Request{Method: "POST", Route: "/api/v2/conversations", Body: []byte(`{"a":1}`)},
			seen{method: "POST", path: "/gw/api/v2/conversations", body: `{"a":1}`, contentLength: 7},
			200, `{"len":7}`, nil},
		{"POST without body says Content-Length 0",
			api.Request{Method: "POST", Route: "/api/v2/x"},
			seen{method: "POST", path: "/gw/api/v2/x", contentLength: 0},
			200, `{"len":0}`, nil},
		{"PUT body larger than the connection buffer",
			api.Request{Method: "PUT", Route: "/api/v2/big", Body: []byte(big), ContentType: "text/plain"},
			seen{method: "PUT", path: "/gw/api/v2/big", body: big, contentLength: int64(len(big))},
			200, fmt.Sprintf(`{"len":%d}`, len(big)), nil},
		{"extra headers; Host and Content-Length not overridable",
			api.Request{Route: "/api/v2/h", Header: http.Header{"X-Test": {"one", "two"}, "Host": {"evil"}, "Content-Length": {"99"}}},
			seen{method: "GET", path: "/gw/api/v2/h", contentLength: 0},
			200, `{"len":0}`, nil},
		{"chunked answer", api.Request{Route: "/api/v2/c", Query: url.Values{"answer": {"chunked"}}},
			seen{method: "GET", path: "/gw/api/v2/c", rawQuery: "answer=chunked"}, 200, `{"part":1,"end":true}`, nil},
		{"204 without body", api.Request{Route: "/api/v2/n", Query: url.Values{"answer": {"nocontent"}}},
			seen{method: "GET", path: "/gw/api/v2/n", rawQuery: "answer=nocontent"}, 204, ``, nil},
		{"103 Early Hints before the answer", api.Request{Route: "/api/v2/e", Query: url.Values{"answer": {"early"}}},
			seen{method: "GET", path: "/gw/api/v2/e", rawQuery: "answer=early"}, 200, `{"after":"103"}`, nil},
		{"HEAD reads no body though Content-Length says 1000", api.Request{Method: "HEAD", Route: "/api/v2/h", Query: url.Values{"answer": {"head"}}},
			seen{method: "HEAD", path: "/gw/api/v2/h", rawQuery: "answer=head"}, 200, ``,
			func(h http.Header) error {
				if h.Get("Content-Length") != "1000" {
					return fmt.Errorf("Content-Length %q, want 1000", h.Get("Content-Length"))
				}
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			resp, err := c.Do(t.Context(), &req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.status || string(resp.Body) != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.Status, resp.Body, tc.status, tc.body)
			}
			if tc.checkHead != nil {
				if err := tc.checkHead(resp.Header); err != nil {
					t.Error(err)
				}
			}
			mu.Lock()
			got := last
			mu.Unlock()
			if got.method != tc.want.method || got.path != tc.want.path || got.rawQuery != tc.want.rawQuery ||
				got.body != tc.want.body || got.contentLength != tc.want.contentLength {
				t.Errorf("server saw %s %s ?%s body %d bytes, Content-Length %d; want %s %s ?%s body %d bytes, Content-Length %d",
					got.method, got.path, got.rawQuery, len(got.body), got.contentLength,
					tc.want.method, tc.want.path, tc.want.rawQuery, len(tc.want.body), tc.want.contentLength)
			}
			if got.header.Get("Authorization") != "Bearer tok-0-0" || got.header.Get("User-Agent") != "cxload-test/1" {
				t.Errorf("Authorization %q, User-Agent %q", got.header.Get("Authorization"), got.header.Get("User-Agent"))
			}
			if !strings.HasPrefix(got.host, "127.0.0.1:") {
				t.Errorf("Host %q, want the server's", got.host)
			}
			if req.Body != nil {
				ct := req.ContentType
				if ct == "" {
					ct = "application/json"
				}
				if got.header.Get("Content-Type") != ct {
					t.Errorf("Content-Type %q, want %q", got.header.Get("Content-Type"), ct)
				}
			}
			if x := req.Header["X-Test"]; x != nil && strings.Join(got.header["X-Test"], ",") != "one,two" {
				t.Errorf("X-Test %q, want one,two", got.header["X-Test"])
			}
			if r := resp.Result; r.Attempts != 1 || r.Outcome != result.OK && tc.status < 300 {
				t.Errorf("Result: %d attempts, outcome %v", r.Attempts, r.Outcome)
			}
		})
	}
	if n := conns.n.Load(); n != 1 {
		t.Errorf("the server accepted %d connections; want 1, kept alive through every answer", n)
	}
}

// At most Config.Agents connections are open, however many goroutines send.
func TestConnectionLimit(t *testing.T) {
	var inFlight, peak atomic.Int64
	c, conns := loopServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		fmt.Fprint(w, `{}`)
	}, api.Config{Agents: 3})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := range 20 {
		wg.Go(func() {
			a := c.Agent(g)
			for range 10 {
				if resp, err := a.Do(t.Context(), &api.Request{Route: "/api/v2/x"}); err != nil || resp.Status != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 200 requests failed", failed.Load())
	}
	if n, p := conns.n.Load(), peak.Load(); n > 3 || p > 3 {
		t.Errorf("server saw %d connections and %d requests at once; want at most Config.Agents = 3", n, p)
	}
}

// A server that closes the connection after its answer (Connection: close,
// or a body delimited by the end of the connection) gets a new connection
// for the next request.
func TestServerClosesConnection(t *testing.T) {
	t.Run("Connection: close", func(t *testing.T) {
		c, conns := loopServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, `{"ok":true}`)
		}, api.Config{})
		for i := range 3 {
			resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/x"})
			if err != nil || string(resp.Body) != `{"ok":true}` || resp.Result.Connect <= 0 {
				t.Fatalf("request %d: %v %q Connect %v", i, err, resp.Body, resp.Result.Connect)
			}
		}
		if n := conns.n.Load(); n != 3 {
			t.Errorf("%d connections; want 3", n)
		}
	})
	t.Run("body until the end of the connection", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader) bool {
			readHead(br)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"until\":\"eof\"}")
			return false
		})
		c, err := api.New(api.Config{BaseURL: "http://" + addr})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range 2 {
			resp, err := c.Do(t.Context(), &api.Request{Route: "/x"})
			if err != nil || resp.Status != 200 || string(resp.Body) != `{"until":"eof"}` {
				t.Fatalf("request %d: %v %d %q", i, err, resp.Status, resp.Body)
			}
		}
	})
}

// rawServer accepts connections on loopback and runs serve for each
// until it returns false; it returns the address.
func rawServer(t testing.TB, serve func(c net.Conn, br *bufio.Reader) (again bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for serve(c, br) {
				}
			})
		}
	})
	return ln.Addr().String()
}

// readHead reads one request head (requests here have no body).
func readHead(br *bufio.Reader) string {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}

// The context ending while the server has not answered ends the attempt at
// once; the connection is not reused.
func TestContextEndsAttempt(t *testing.T) {
	got, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	c, conns := loopServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(got)
			<-release
		}
		fmt.Fprint(w, `{}`)
	}, api.Config{})
	defer close(release)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-got; cancel() }()
	resp, err := c.Do(ctx, &api.Request{Route: "/api/v2/slow"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	if resp.Result.Outcome != result.Canceled || resp.Result.Attempts != 1 {
		t.Errorf("Result: outcome %v, attempts %d; want Canceled, 1", resp.Result.Outcome, resp.Result.Attempts)
	}
	resp, err = c.Do(t.Context(), &api.Request{Route: "/api/v2/next"})
	if err != nil || resp.Status != 200 {
		t.Fatalf("next request: %v", err)
	}
	if n := conns.n.Load(); n != 2 {
		t.Errorf("%d connections; want 2 (the interrupted one is not reused)", n)
	}
}

// Config.AttemptTimeout bounds an attempt, on the clock of the caller's
// context (here the bubble's), and the error names it.
func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := gcsim.NewPipeListener()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers; done when the client hangs up
		})}
		go srv.Serve(ln)
		defer srv.Close()
		c, err := api.New(api.Config{BaseURL: "http://api.invalid", Dial: ln.DialContext, AttemptTimeout: 5 * time.Second,
			Retry: api.RetryPolicy{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/slow"})
		if err == nil || !strings.Contains(err.Error(), "AttemptTimeout (5s)") {
			t.Fatalf("err = %v; want one naming Config.AttemptTimeout (5s)", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("gave up after %v; want 5s", d)
		}
		if resp.Result.Outcome != result.TransportError || resp.Result.Attempts != 1 {
			t.Errorf("Result: outcome %v, attempts %d; want TransportError, 1", resp.Result.Outcome, resp.Result.Attempts)
		}
	})
}

// A body over Config.MaxResponseBytes is cut and reported; the connection,
// left mid-body, is not reused.
func TestMaxResponseBytes(t *testing.T) {
	c, conns := loopServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write([]byte(strings.Repeat("b", 2048)))
			return
		}
		fmt.Fprint(w, `{}`)
	}, api.Config{MaxResponseBytes: 1024, Retry: api.RetryPolicy{MaxAttempts: 1}})
	resp, _ := c.Do(t.Context(), &api.Request{Route: "/big"})
	if resp.Status != 200 || len(resp.Body) != 1024 || !strings.Contains(resp.Result.Err, "MaxResponseBytes") {
		t.Fatalf("got %d, %d bytes, Err %q; want 200, 1024 bytes and an error naming MaxResponseBytes", resp.Status, len(resp.Body), resp.Result.Err)
	}
	if resp, err := c.Do(t.Context(), &api.Request{Route: "/small"}); err != nil || string(resp.Body) != `{}` {
		t.Fatalf("next request: %v %q", err, resp.Body)
	}
	if n := conns.n.Load(); n != 2 {
		t.Errorf("%d connections; want 2", n)
	}
}

// https: Config.TLSConfig's roots are used, and Connect is reported for the
// request that opened the connection only.
func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "want TLS", 400)
			return
		}
		fmt.Fprint(w, `{"tls":true}`)
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c, err := api.New(api.Config{BaseURL: srv.URL, Retry: api.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(t.Context(), &api.Request{Route: "/x"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown certificate: err = %v; want a certificate error", err)
	}
	c.Close()
	c, err = api.New(api.Config{BaseURL: srv.URL, TLSConfig: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2 {
		resp, err := c.Do(t.Context(), &api.Request{Route: "/x"})
		if err != nil || string(resp.Body) != `{"tls":true}` {
			t.Fatalf("request %d: %v %q", i, err, resp.Body)
		}
		if (i == 0) != (resp.Result.Connect > 0) {
			t.Errorf("request %d: Connect %v", i, resp.Result.Connect)
		}
	}
}

// A header that would break the request head is refused before anything is
// sent or recorded, and so is a method that is not a token.
func TestRefusesBadHeaders(t *testing.T) {
	var calls atomic.Int64
	rec := metrics.NewRecorder()
	c, _ := loopServer(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }, api.Config{Recorder: rec})
	for _, tc := range []struct {
		req  api.Request
		want string
	}{
		{api.Request{Route: "/x", Header: http.Header{"X-A": {"ok\r\nEvil: 1"}}}, "X-A: value holds control byte 0x0d at offset 2"},
		{api.Request{Route: "/x", Header: http.Header{"Authorization": {"Bearer secret-token\n"}}}, "Authorization: value holds control byte 0x0a at offset 19"},
		{api.Request{Route: "/x", Header: http.Header{"Bad Name": {"v"}}}, `"Bad Name"`},
		{api.Request{Route: "/x", Header: http.Header{"X-Nul": {"a\x00b"}}}, "X-Nul"},
		{api.Request{Method: "GET /x HTTP/1.1\r\n", Route: "/x"}, "Method"},
	} {
		_, err := c.Do(t.Context(), &tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v; want an error naming %s", tc.req, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-token") {
			t.Errorf("the error shows the header's value: %v", err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("the server got %d requests; want 0", calls.Load())
	}
	if n := len(rec.Snapshot().Operations); n != 0 {
		t.Errorf("%d operations recorded; want none", n)
	}
}

// closeSignalConn tells closed when the client closes it.
type closeSignalConn struct {
	net.Conn
	once   sync.Once
	closed chan<- struct{}
}

func (c *closeSignalConn) Close() error {
	c.once.Do(func() { c.closed <- struct{}{} })
	return c.Conn.Close()
}

// waitFor fails t unless ch delivers within a bound (a failure bound, not
// a pause: the event is expected within milliseconds).
func waitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10s", what)
	}
}

// A connection the server closes when its idle timeout runs out is noticed
// by the client (it closes its end) and not reused: a POST, which the
// client never sends twice, sent after that succeeds on a new connection,
// over TCP, TLS and HTTP/2 alike, and counts one attempt in its Result, in
// the recorder and at the Gate. The test waits for the client's close, not
// only the server's: an HTTP/1.1 POST written in the instant between the
// two fails with EOF and is not sent again (net/http's rule for requests
// that are not idempotent; HTTP/2 servers announce the close with GOAWAY).
func TestPostAfterServerClosedIdleConnection(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tls, http2 bool
	}{
		{name: "tcp"},
		{name: "tls", tls: true},
		{name: "http2", tls: true, http2: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var posts atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					posts.Add(1)
				}
				fmt.Fprintf(w, `{"proto":%q}`, r.Proto)
			}))
			srv.Config.IdleTimeout = 50 * time.Millisecond
			var conns connCounter
			serverClosed := make(chan struct{}, 4)
			srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
				conns.state(c, s)
				if s == http.StateClosed {
					serverClosed <- struct{}{}
				}
			}
			var tlsCfg *tls.Config
			if tc.tls {
				srv.EnableHTTP2 = tc.http2
				srv.StartTLS()
				roots := x509.NewCertPool()
				roots.AddCert(srv.Certificate())
				tlsCfg = &tls.Config{RootCAs: roots}
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			clientClosed := make(chan struct{}, 4)
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &closeSignalConn{Conn: c, closed: clientClosed}, nil
			}
			g := &countingGate{}
			rec := metrics.NewRecorder()
			c, err := api.New(api.Config{BaseURL: srv.URL, Tokens: &tokens{}, Recorder: rec, Gate: g, Dial: dial, TLSConfig: tlsCfg,
				Retry: api.RetryPolicy{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)

			if resp, err := c.Do(t.Context(), &api.Request{Op: "first", Route: "/api/v2/users/me"}); err != nil || resp.Status != 200 {
				t.Fatalf("first request: %v", err)
			}
			waitFor(t, serverClosed, "the server closing the idle connection")
			waitFor(t, clientClosed, "the client closing its end of the connection the server closed")

			resp, err := c.Do(t.Context(), &api.Request{Op: "post", Method: http.MethodPost, Route: "/api/v2/conversations", Body: []byte(`{}`)})
			if err != nil || resp.Status != 200 {
				t.Fatalf("POST after the idle close: %v (status %d); want 200", err, resp.Status)
			}
			wantProto := "HTTP/1.1"
			if tc.http2 {
				wantProto = "HTTP/2.0"
			}
			if want := fmt.Sprintf(`{"proto":%q}`, wantProto); string(resp.Body) != want {
				t.Errorf("body %s; want %s", resp.Body, want)
			}
			if r := resp.Result; r.Attempts != 1 || r.Outcome != result.OK || r.Connect <= 0 {
				t.Errorf("Result: %d attempts, outcome %v, Connect %v; want 1, ok, > 0 (a new connection)", r.Attempts, r.Outcome, r.Connect)
			}
			if n := posts.Load(); n != 1 {
				t.Errorf("the server got %d POSTs; want 1", n)
			}
			if n := conns.n.Load(); n != 2 {
				t.Errorf("the server accepted %d connections; want 2", n)
			}
			if op := rec.Snapshot().Op("post"); op.Count != 1 || op.Attempts != 1 || op.Outcome(result.OK) != 1 {
				t.Errorf("document: %d requests, %d attempts, outcomes %v; want 1 ok in 1 attempt", op.Count, op.Attempts, op.Outcomes)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.admits != 2 || fmt.Sprint(g.statuses) != "[200 200]" {
				t.Errorf("Gate: %d admits, statuses %v; want 2, [200 200]", g.admits, g.statuses)
			}
		})
	}
}

// The client's own Transport speaks HTTP/2 to a server that offers it,
// with Config.TLSConfig's roots, and leaves that config as it was given.
func TestHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"proto":%q}`, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	tlsCfg := &tls.Config{RootCAs: roots}
	c, err := api.New(api.Config{BaseURL: srv.URL, TLSConfig: tlsCfg, Agents: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2 {
		resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users/me"})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != `{"proto":"HTTP/2.0"}` {
			t.Fatalf("request %d: body %s; want HTTP/2.0", i, resp.Body)
		}
		if r := resp.Result; r.Attempts != 1 || (i == 0) != (r.Connect > 0) || r.FirstByte <= 0 {
			t.Errorf("request %d: %d attempts, Connect %v, FirstByte %v; want 1, Connect > 0 for the first only, FirstByte > 0", i, r.Attempts, r.Connect, r.FirstByte)
		}
	}
	if tlsCfg.NextProtos != nil {
		t.Errorf("Config.TLSConfig.NextProtos = %q after use; want it left nil (the client uses a copy)", tlsCfg.NextProtos)
	}
}

// Result.Connect is the whole setup of a new connection: the dial and, for
// https, the TLS handshake (here the server takes 2 s of the bubble's clock
// to answer the ClientHello), for the request that opened it only.
func TestConnectCountsTLSHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const handshake = 2 * time.Second
		ln := gcsim.NewPipeListener()
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
		srv.Listener.Close()
		srv.Listener = ln
		srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			time.Sleep(handshake)
			return nil, nil
		}}
		srv.StartTLS()
		defer srv.Close()
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		c, err := api.New(api.Config{BaseURL: "https://127.0.0.1", Dial: ln.DialContext, TLSConfig: &tls.Config{RootCAs: roots}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i, want := range []time.Duration{handshake, 0} {
			resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users/me"})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Result.Connect; got != want {
				t.Errorf("request %d: Connect %v; want %v", i, got, want)
			}
		}
	})
}
