package gcsim

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/gcsim/internal/streaming"
)

// A Server is a Genesys Cloud simulator listening on a loopback port (or an
// in-memory pipe). One server plays the API host, the login host and the
// streaming host. It is shaped like net/http/httptest.Server:
//
//	srv := gcsim.NewServer(nil) // default profile
//	defer srv.Close()
//	// POST srv.URL()+"/oauth/token", then call srv.URL()+"/api/v2/..."
//
// A Server is safe for concurrent use.
type Server struct {
	// Listener is where the server accepts connections. NewUnstartedServer
	// sets it to a 127.0.0.1:0 listener; replace it (closing the old one),
	// e.g. with NewPipeListener(), before Start.
	Listener net.Listener
	// Config is the underlying http.Server, with timeouts for slow, stalled
	// and idle clients; adjust it before Start.
	Config *http.Server
	// RequestLog, when set before Start, gets one line per request
	// (time, method, path, status, duration, correlation id, client);
	// tokens and secrets are never written. A value the client chose is
	// quoted, with escapes, when it holds a space, quote or control byte.
	RequestLog io.Writer

	profile *Profile
	now     func() time.Time
	dir     *directory
	rules   []*limitRule
	router  *router
	hub     *streaming.Hub

	tenant *tenantState // nil unless NewTenantStandIn
	auth   *authState
	state  *orgState
	faults faultState
	stats  *statsState
	logMu  sync.Mutex

	client   *http.Client
	url      string
	wsURL    string
	started  bool
	closed   atomic.Bool
	wsWG     sync.WaitGroup
	wsMu     sync.Mutex
	closeMu  sync.Mutex
	serveErr chan error
}

// NewServer starts and returns a server using profile p (nil means
// [DefaultProfile]) on a 127.0.0.1 port. The caller calls Close.
func NewServer(p *Profile) *Server {
	s := NewUnstartedServer(p)
	s.Start()
	return s
}

// NewUnstartedServer returns a server that is not started yet: set
// Listener, Config or RequestLog, then call Start. It panics if p is not
// valid (see Profile.Validate): a bad profile in a test is a bug in the test.
func NewUnstartedServer(p *Profile) *Server {
	if p == nil {
		p = DefaultProfile()
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	p = p.clone()
	p.applyUnconfirmed()
	now := p.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{profile: p, now: now}
	s.dir = newDirectory(p)
	for i, l := range p.Limits {
		s.rules = append(s.rules, newRule(i, l))
	}
	s.router = newRouter(s.rules)
	s.auth = newAuthState(s)
	s.state = newOrgState(s.dir, p.Seed, now())
	s.stats = newStatsState(s.router, s.rules)
	s.faults.set(p.Faults, p.Seed)
	n := p.Notifications
	s.hub = streaming.NewHub(streaming.Config{
		HeartbeatInterval:   n.HeartbeatInterval.Std(),
		MaxChannelsPerOwner: n.MaxChannelsPerOwner,
		MaxTopicsPerChannel: n.MaxTopicsPerChannel,
		ChannelTTL:          n.ChannelTTL.Std(),
		SendBuffer:          n.SendBuffer,
		SocketClosingGrace:  closingGrace(n.SocketClosingGrace.Std()),
		TopicTakeover:       p.Unconfirmed.TopicTakeover,
		Now:                 s.now,
	})
	s.Config = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
	s.Listener = newLocalListener()
	return s
}

// The server's timeouts bound what a stalled or hostile client can hold: a
// connection and its handler. Its clients are on the same machine, so an
// honest request takes milliseconds. A notification socket is not bound by
// them: it is hijacked, and the upgrade clears the deadlines they set.
const (
	// readHeaderTimeout bounds reading a request's headers.
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request, body included (the
	// largest, request.bytes.max, crosses loopback in milliseconds).
	readTimeout = 30 * time.Second
	// writeTimeout bounds a request from its headers to the end of its
	// answer; an injected latency fault extends it by the latency.
	writeTimeout = 30 * time.Second
	// idleTimeout closes a kept-alive connection with no request. It is
	// longer than the 90 s after which net/http clients (k6, vegeta, Go)
	// drop an idle connection themselves: when the server closes first, a
	// request the client sends at that moment fails.
	idleTimeout = 2 * time.Minute
)

func newLocalListener() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("gcsim: failed to listen on a loopback port: %v", err))
	}
	return l
}

// Start starts serving on s.Listener. It panics if called twice.
func (s *Server) Start() {
	if s.started {
		panic("gcsim: Server.Start called twice")
	}
	s.started = true
	host := s.Listener.Addr().String()
	if _, ok := s.Listener.(*PipeListener); ok {
		host = pipeHost
	}
	s.url = "http://" + host
	s.wsURL = "ws://" + host
	tr := &http.Transport{
		DialContext:         s.DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	s.client = &http.Client{Transport: tr}
	s.serveErr = make(chan error, 1)
	if s.tenant != nil {
		s.url, s.wsURL = "https://"+s.tenant.api, "wss://"+s.tenant.stream
		s.client = s.tenantClient()
		go func() { s.serveErr <- s.Config.ServeTLS(s.Listener, "", "") }()
		s.startTraffic()
		return
	}
	go func() { s.serveErr <- s.Config.Serve(s.Listener) }()
	s.startTraffic()
}

// URL returns the base URL of the API and login hosts, e.g.
// "http://127.0.0.1:PORT" (or "http://gcsim.pipe" on a pipe listener).
func (s *Server) URL() string { return s.url }

// WSURL returns the base URL of the streaming host, e.g. "ws://127.0.0.1:PORT".
// A channel's connectUri is WSURL()+"/channels/<id>".
func (s *Server) WSURL() string { return s.wsURL }

// Client returns an HTTP client that reaches the server (through the pipe
// when the listener is a PipeListener), or nil before Start. Close closes
// its idle connections.
func (s *Server) Client() *http.Client { return s.client }

// DialContext dials the server whatever the address: through the pipe for
// a PipeListener, over TCP to the listener's address otherwise (a tenant
// stand-in's only for its own host names). Use it as
// websocket.Dialer.NetDialContext to reach a pipe server.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if pl, ok := s.Listener.(*PipeListener); ok {
		return pl.DialContext(ctx, network, addr)
	}
	if s.tenant != nil {
		return s.tenantDial(ctx, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.Listener.Addr().String())
}

// Profile returns the server's profile (a copy: changing it has no effect).
func (s *Server) Profile() *Profile { return s.profile.clone() }

// Handler returns the server's handler, to mount it in another server (it
// works without Start; Close still stops its notification hub).
func (s *Server) Handler() http.Handler { return s }

// closeWait is how long Close waits for in-flight requests before it cuts them.
const closeWait = 30 * time.Second

// Close stops accepting connections, closes every notification socket,
// waits for in-flight requests to finish (at most 30 s, then cuts them) and
// closes the Client's idle connections. It is safe to call more than once.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	_ = s.Shutdown(ctx)
}

// Shutdown is Close with a bound chosen by the caller: it waits for
// in-flight requests and for notification sockets to close gracefully
// until ctx is done, then closes the remaining connections and returns
// ctx.Err(). It returns nil if nothing had to be cut, or if the server was
// already closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.stopACD()
	if !s.started {
		if !s.closed.Swap(true) {
			s.Listener.Close()
			s.hub.Close()
		}
		return nil
	}
	s.wsMu.Lock()
	already := s.closed.Swap(true)
	s.wsMu.Unlock()
	if already {
		return nil
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.Config.Shutdown(ctx) }()
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		s.hub.Close()
		s.wsWG.Wait()
	}()
	cut := false
	select {
	case <-hubDone:
	case <-ctx.Done():
		cut = true
		s.hub.Drop("") // sockets that did not answer the close frame
		<-hubDone
	}
	if err := <-httpDone; err != nil {
		cut = true
		_ = s.Config.Close() // requests still in flight
	}
	<-s.serveErr
	if t, ok := s.client.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	if cut {
		return ctx.Err()
	}
	return nil
}

// closingGrace maps the profile's grace to the hub's: 0 means "close at
// once", which the hub spells as a negative duration.
func closingGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

const pipeHost = "gcsim.pipe"

// A PipeListener is an in-memory net.Listener whose connections are
// net.Pipe pairs. Inside a testing/synctest bubble, network waits on a pipe
// are durably blocking, so token expiry, rate-limit windows and heartbeats
// can be tested with the bubble's fake clock. Server.Client and
// Server.DialContext dial it.
type PipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewPipeListener returns an open PipeListener.
func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next DialContext.
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; pending and later dials fail.
func (l *PipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns a placeholder address.
func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

// DialContext returns the client end of a new pipe whose server end Accept returns.
func (l *PipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	c, srv := net.Pipe()
	select {
	case l.conns <- srv:
		return c, nil
	case <-l.done:
	case <-ctx.Done():
	}
	c.Close()
	srv.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("gcsim: dial %s: %w", pipeHost, net.ErrClosed)
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return pipeHost }
