// Package api is cxload's client for the Genesys Cloud Platform API: net/http's
// Transport (HTTP/2 when the server offers it), JSON helpers, client-side rate
// limiting per scope ([Limits]), a 429/5xx policy that honours Retry-After
// and never loses the last response, one token refresh and retry on 401, and
// one [metrics.Result] per request, recorded with the route template rather
// than the concrete path.
//
// A Client is shared by all agents of a run; [Client.Agent] returns a view
// that uses the token of one agent.
package api

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/metrics"
)

// TokenSource gives the access token of an agent. *auth.Pool implements it.
type TokenSource interface {
	Token(ctx context.Context, agent int) (*auth.Token, error)
	Invalidate(tok *auth.Token)
}

// Gate admits or refuses every attempt before it is sent and is told each
// attempt's status (0: no response). The production guard implements it to
// enforce a request budget and abort rules.
//
// A request net/http's Transport sends again by itself (on a fresh
// connection, when a reused one failed) is charged after the fact: one
// Admit, its error ignored, and one Done(0). An admitted attempt that
// reached no server stays counted: the budget errs on the safe side.
type Gate interface {
	Admit() error
	Done(status int)
}

// A RequestGate is a Gate that also judges each request once, before its
// first attempt, by method, route (the template) and body: the production
// guard refuses writes the run has no consent for. Its refusal is returned
// by Do and nothing is sent or recorded.
type RequestGate interface {
	Gate
	AdmitRequest(method, route string, body []byte) error
}

// A ChangeGate is a RequestGate that is also shown each request that may
// change something (any method but GET, HEAD and OPTIONS): once before its
// first attempt, after AdmitRequest, with its path (the route expanded,
// without the query) and the client sending it, so it can read what the
// request will change; and once at the end with the final status and body.
// BeforeWrite's error is returned by Do and nothing is sent or recorded.
// The harness records what a run changes this way, to restore it.
type ChangeGate interface {
	RequestGate
	BeforeWrite(ctx context.Context, c *Client, method, path string, body []byte) error
	AfterWrite(method, path string, status int, body []byte)
}

// Defaults for Config fields left zero.
const (
	DefaultAttemptTimeout   = 30 * time.Second
	DefaultMaxResponseBytes = 16 << 20
)

// Config configures a Client. BaseURL is required.
type Config struct {
	BaseURL  string            // API base, e.g. "https://api.mypurecloud.com" or gcsim's URL()
	Tokens   TokenSource       // nil: requests carry no Authorization header
	Recorder *metrics.Recorder // nil: results are only returned
	// Agents sizes the connections to the API host (see NewTransport): at
	// most this many are open at once (default 1).
	Agents int
	// HTTPClient, when set, sends every attempt through its Transport (used
	// directly: its Timeout, redirects and cookies are not; Dial and
	// TLSConfig are ignored) instead of the Client's own NewTransport.
	// Tests use it to serve requests in memory.
	HTTPClient *http.Client
	// Dial makes the connections (default: NewTransport's dialer, proxies
	// from the environment); set, it becomes the Transport's DialContext
	// and no proxy is used.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig for an https BaseURL (default: TLS 1.2 or later, the
	// system's roots). A copy is used: ALPN offers h2 and http/1.1.
	TLSConfig *tls.Config
	// Limits is the client-side limiter: NewLimits to pace requests within
	// known limits, ObserveLimits to send at full rate and only attribute
	// 429s. nil, like every zero field, means "not chosen": New uses no
	// limiter, harness.Target.NewClient fills in the target's NewLimits.
	Limits *Limits
	Retry  RetryPolicy
	// AttemptTimeout bounds each attempt (default DefaultAttemptTimeout). If
	// the transport is an *http.Transport whose ResponseHeaderTimeout is set
	// and not longer, that bounds the wait for the response instead, and no
	// per-attempt context is made.
	AttemptTimeout   time.Duration
	MaxResponseBytes int64  // default DefaultMaxResponseBytes
	UserAgent        string // "" = Go's default
	Gate             Gate   // nil: every attempt admitted
	Now              func() time.Time
	Rand             func() float64      // jitter source in [0,1)
	Scrub            func(string) string // redacts error texts, e.g. (*auth.Pool).Scrub
}

// NewTransport returns an http.Transport sized for agents concurrent
// agents: that many idle and total connections per host (so a burst neither
// queues behind a small idle pool nor opens sockets without bound), HTTP/2
// when the server offers it, dial, TLS, idle and response-header timeouts
// (the latter DefaultAttemptTimeout), and dials timed for Result.Connect
// (see TimedDial; keep it when replacing DialContext).
//
// Compression is off: with it on, net/http adds "Accept-Encoding: gzip" to
// every request and wraps every gzip answer in a decompressing reader, costs
// paid per request for Platform API JSON answers that are mostly a few
// hundred bytes. A load test measures the API, not gzip; set
// DisableCompression false on the returned Transport to test compressed
// answers.
func NewTransport(agents int) *http.Transport {
	// idleConnTimeout closes an idle connection before a server or load
	// balancer does (AWS load balancers close idle connections after 60 s by
	// default): a POST written on a connection the server has just closed fails
	// with EOF and, not being idempotent, is not sent again.
	const idleConnTimeout = 45 * time.Second
	if agents <= 0 {
		agents = 1
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           TimedDial((&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext),
		ResponseHeaderTimeout: DefaultAttemptTimeout,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		MaxIdleConns:          agents + 16,
		MaxIdleConnsPerHost:   agents,
		MaxConnsPerHost:       agents,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Client sends requests to the Platform API. It is safe for concurrent use.
type Client struct {
	*core
	agent int
}

type core struct {
	cfg        Config
	base       string
	rt         http.RoundTripper // own, or HTTPClient's transport, used directly
	own        *http.Transport   // closed by Close, nil if the caller gave HTTPClient
	retry      RetryPolicy
	userAgent  []string
	attemptCtx bool // bound each attempt with a context (the transport does not)
	traced     bool // rt is an *http.Transport: its httptrace events count the requests sent
	realClock  bool // Config.Now was nil: time.Now, whose readings can be shared
}

// New checks cfg and returns a Client for agent 0.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := cfg.BaseURL
		if err == nil {
			shown = u.Redacted()
		}
		return nil, fmt.Errorf("api: Config.BaseURL %q: want an absolute http(s) URL such as https://api.mypurecloud.com", shown)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api: Config.BaseURL %q: want scheme, host and path only (no user, query or fragment)", u.Redacted())
	}
	c := &core{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/")}
	if cfg.HTTPClient != nil {
		c.rt = cfg.HTTPClient.Transport
		if c.rt == nil {
			c.rt = http.DefaultTransport
		}
	} else {
		c.own = NewTransport(cfg.Agents)
		if cfg.Dial != nil {
			c.own.DialContext, c.own.Proxy = TimedDial(cfg.Dial), nil
		}
		if cfg.TLSConfig != nil {
			// The Transport adds h2 to the config's NextProtos: not to
			// the caller's.
			c.own.TLSClientConfig = cfg.TLSConfig.Clone()
		}
		c.rt = c.own
	}
	if c.cfg.AttemptTimeout == 0 {
		c.cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.cfg.MaxResponseBytes <= 0 {
		c.cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.cfg.UserAgent != "" {
		c.userAgent = []string{c.cfg.UserAgent}
	}
	// A transport with ResponseHeaderTimeout bounds the wait for a response
	// itself; a context per attempt would cost a timer and allocations.
	c.attemptCtx = c.cfg.AttemptTimeout > 0
	tr, ok := c.rt.(*http.Transport)
	if ok && tr.ResponseHeaderTimeout > 0 && tr.ResponseHeaderTimeout <= c.cfg.AttemptTimeout {
		c.attemptCtx = false
	}
	c.traced = ok
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
		c.realClock = true
	}
	if c.cfg.Rand == nil {
		c.cfg.Rand = rand.Float64
	}
	c.retry = cfg.Retry.withDefaults()
	return &Client{core: c}, nil
}

// Agent returns a view of c that sends with agent i's token (see
// auth.Policy). Views share everything else.
func (c *Client) Agent(i int) *Client { return &Client{core: c.core, agent: i} }

// Limits returns the client-side limiter, nil if there is none.
func (c *Client) Limits() *Limits { return c.cfg.Limits }

// Close closes the idle connections of the client's own Transport; a
// request sent after Close opens new ones.
func (c *Client) Close() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

// Request is one logical API request.
type Request struct {
	Op     string   // operation name for metrics; "" = Method + " " + Route
	Method string   // default GET
	Route  string   // template, e.g. "/api/v2/users/{id}/presences/{source}"
	Params []string // values of the template's {parameters}, in order; path-escaped
	Query  url.Values
	Body   []byte // sent as is on every attempt
	// ContentType of Body; default "application/json" when Body is set.
	ContentType string
	Header      http.Header // extra headers
	// Intended is when the request should have been sent (paced load); the
	// result's Total counts from it, so queueing is not hidden (coordinated
	// omission). Zero: when Do was called.
	Intended time.Time
}

// Response is the final response of a request, whole, and its Result.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Result metrics.Result
}

// Do sends req, waiting for client-side limits, retrying per the policy and
// refreshing the token once on 401, records one Result and returns the last
// response. The error is non-nil only when there is no HTTP response
// (transport error, token failure, refused by the limiter or the gate,
// context ended) or req is malformed; resp is then still returned, with its
// Result, except for a malformed req, which records nothing. A request the
// Gate refused (or whose context ended) has Outcome Canceled and returns the
// Gate's (or context's) error even if an earlier attempt got a response. A
// 429 or 5xx is not an error for Do: check resp.Status (JSON helpers return
// *StatusError).
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	return c.do(ctx, req, nil)
}
