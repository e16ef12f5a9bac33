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
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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
// net/http's Transport may send an attempt again by itself, on a fresh
// connection, when the reused keep-alive connection it was written on fails
// (for idempotent or replayable requests). Those re-sends reach the server
// but are not seen before they happen, so the client charges the Gate for
// them after the fact: one Admit and one Done(0) each (they got no
// response). Admit's error is then ignored, since the attempt is already
// sent; the Gate still counts it, so its request budget stays true, and a
// Gate that has stopped refuses the next attempts. Conversely an admitted
// attempt that reached no server (the dial failed, the context ended first)
// stays counted by the Gate, though not in Result.Attempts: the budget errs
// on the safe side.
type Gate interface {
	Admit() error
	Done(status int)
}

// RetryPolicy says when and how long to wait before sending a request again.
// Zero fields take the values of DefaultRetry.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts the client makes per request, the
	// first included; 1 means no retries. A 401 adds one attempt of its own
	// (after a token refresh). Result.Attempts counts what reached the
	// server instead: re-sends that net/http's Transport makes by itself
	// (see Gate) are counted there, not against this bound.
	MaxAttempts int
	// MaxRetryAfter: a 429 or 503 asking to wait longer than this is not
	// retried; the response is returned as is. (Genesys' Go SDK: 180 s.)
	MaxRetryAfter time.Duration
	// Backoff is the first wait for a 5xx or transport error without
	// Retry-After, doubled per attempt up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Jitter adds up to this fraction of each wait (never less than asked),
	// so that throttled agents do not come back in lockstep. Negative: none.
	Jitter float64
	// RetryUnsafe retries 5xx and transport errors of POST and PATCH too.
	// By default only idempotent methods are retried after a 5xx; 429s are
	// always retried (the server refused the request before acting on it).
	RetryUnsafe bool
}

// DefaultRetry is the retry policy used for zero fields of Config.Retry.
var DefaultRetry = RetryPolicy{
	MaxAttempts:   4,
	MaxRetryAfter: time.Minute,
	Backoff:       500 * time.Millisecond,
	MaxBackoff:    30 * time.Second,
	Jitter:        0.2,
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
	// Limits is the client-side limiter; nil disables client-side limiting.
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
	r, d := cfg.Retry, DefaultRetry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = d.MaxAttempts
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = d.MaxRetryAfter
	}
	if r.Backoff <= 0 {
		r.Backoff = d.Backoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = d.MaxBackoff
	}
	if r.Jitter == 0 {
		r.Jitter = d.Jitter
	} else if r.Jitter < 0 {
		r.Jitter = 0
	}
	c.retry = r
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

// do is Do that, when out is not nil, decodes a final 2xx JSON body into out
// before the Result is recorded: a body that cannot be decoded makes the
// request a failure (Outcome ServerError, the status kept, Err the decoding
// error) in the Result and the document alike, and do returns that error.
func (c *Client) do(ctx context.Context, req *Request, out any) (*Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	target, err := c.url(req)
	if err != nil {
		return nil, err
	}
	// net/http would refuse these too, but per attempt: each retried,
	// admitted by the Gate and recorded as a transport error.
	if !validHeaderName(method) {
		return nil, fmt.Errorf("api: Request.Method %q is not a valid HTTP method token", method)
	}
	if err := checkHeader(req.Header); err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", method, req.Route, err)
	}
	called := c.cfg.Now()
	resp := &Response{}
	res := &resp.Result
	*res = metrics.Result{Op: req.Op, Method: method, Route: req.Route, Intended: req.Intended, BytesOut: int64(len(req.Body))}
	if res.Intended.IsZero() {
		res.Intended = called
	}
	var (
		failure     error
		retried401  bool
		lastEnd     time.Time
		waitedAfter bool // time passed since lastEnd (a wait, a refused retry)
		refused     bool // the gate refused an attempt: the run is stopping
		tok         *auth.Token
		id          identity
	)
	maxAttempts := c.retry.MaxAttempts
	for attempt := 1; ; attempt++ {
		if c.cfg.Tokens != nil {
			tok, err = c.cfg.Tokens.Token(ctx, c.agent)
			if err != nil {
				failure, waitedAfter = err, true
				break
			}
			id = identity{token: tok.ID, client: tok.ClientID}
			res.TokenID, res.ClientID = tok.ID, tok.ClientID
		}
		waited, err := c.cfg.Limits.wait(ctx, req.Route, id)
		res.RetryWait += waited
		if err != nil {
			waitedAfter = true
			var rf *refusal
			if errors.As(err, &rf) {
				res.ThrottledBy, res.Scope = rf.key, "client-side:"+rf.scope
			}
			failure = err
			break
		}
		if g := c.cfg.Gate; g != nil {
			if err := g.Admit(); err != nil {
				failure, waitedAfter, refused = err, true, true
				break
			}
		}
		a := c.attempt(ctx, method, target, req, tok)
		lastEnd, waitedAfter = a.end, false
		if g := c.cfg.Gate; g != nil {
			// Re-sends by the Transport were admitted by nobody: charge
			// them now (see Gate); they failed without a response.
			for range a.resent {
				_ = g.Admit()
				g.Done(0)
			}
			g.Done(a.status)
		}
		if attempt == 1 {
			res.Start = a.start
		}
		res.Attempts += a.sent
		res.Latency, res.Connect, res.FirstByte = a.latency, a.connect, a.firstByte
		if a.status != 0 {
			resp.Status, resp.Header, resp.Body = a.status, a.header, a.body
			res.Status = a.status
			res.BytesIn = int64(len(a.body))
		}
		wait, again := c.assess(ctx, req, method, resp, &a, attempt, maxAttempts, id)
		failure = a.err
		if a.status == http.StatusUnauthorized && !retried401 && tok != nil {
			c.cfg.Tokens.Invalidate(tok)
			retried401 = true
			maxAttempts++
			continue
		}
		if !again {
			break
		}
		if wait > 0 {
			waitedAfter = true
			waitStart := c.cfg.Now()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				res.RetryWait += wait
			case <-ctx.Done():
				t.Stop()
				res.RetryWait += c.cfg.Now().Sub(waitStart)
				failure = fmt.Errorf("api: %s %s: %w while waiting %v to retry", method, req.Route, ctx.Err(), wait)
			}
			if failure != nil && ctx.Err() != nil {
				break
			}
		}
	}
	end := lastEnd
	if end.IsZero() || waitedAfter {
		end = c.cfg.Now()
	}
	res.Total = end.Sub(res.Intended)
	if res.Start.IsZero() {
		res.Start = end
	}
	switch {
	case (ctx.Err() != nil || refused) && (res.Status == 0 || failure != nil):
		res.Outcome = metrics.Canceled
	case res.Status != 0:
		res.Outcome = metrics.OutcomeFor(res.Status)
	case res.ThrottledBy != "":
		res.Outcome = metrics.Throttled
	case failure != nil:
		res.Outcome = metrics.TransportError
	}
	// An answer the caller cannot use is not ok: the server (or something
	// on the way) sent a 2xx whose body is not the JSON asked for.
	var decodeErr error
	if out != nil && res.Outcome == metrics.OK && res.Status >= 200 && res.Status <= 299 && len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			res.Outcome = metrics.ServerError
			msg := fmt.Sprintf("api: %s %s: decoding %d response into %T: %v", method, req.Route, res.Status, out, err)
			if failure != nil { // e.g. the body was cut: say so too
				msg += " (" + failure.Error() + ")"
			}
			failure = errors.New(msg)
			decodeErr = failure
		}
	}
	if failure != nil {
		msg := failure.Error()
		if c.cfg.Scrub != nil {
			msg = c.cfg.Scrub(msg)
		}
		res.Err = msg
		if res.Status == 0 || ctx.Err() != nil || refused {
			if msg != failure.Error() {
				failure = errors.New(msg) // scrubbed: the chain held a secret
			}
			if ctx.Err() != nil && !errors.Is(failure, ctx.Err()) {
				failure = fmt.Errorf("%w (%w)", failure, ctx.Err())
			}
		} else {
			failure = nil // we have a response; Do reports it, not the error
			if decodeErr != nil {
				failure = errors.New(msg) // the caller has no usable answer
			}
		}
	}
	if r := c.cfg.Recorder; r != nil {
		r.Record(res)
	}
	if res.Status == 0 || res.Outcome == metrics.Canceled || decodeErr != nil {
		return resp, failure
	}
	return resp, nil
}

// assess records what a response says about limits and decides whether to
// retry and after how long.
func (c *Client) assess(ctx context.Context, req *Request, method string, resp *Response, a *attemptResult, attempt, maxAttempts int, id identity) (time.Duration, bool) {
	res := &resp.Result
	now := a.end
	var ra time.Duration
	var hasRA bool
	if a.status != 0 {
		h := a.header
		rl := ParseRateLimitHeaders(first(h["Inin-Ratelimit-Count"]), first(h["Inin-Ratelimit-Allowed"]), first(h["Inin-Ratelimit-Reset"]))
		ra, hasRA = ParseRetryAfter(first(h["Retry-After"]), now)
		res.RateLimit = metrics.RateLimitInfo{Count: rl.Count, Allowed: rl.Allowed, Reset: rl.Reset, RetryAfter: ra}
		res.CorrelationID = first(h["Inin-Correlation-Id"])
		obs := observation{route: req.Route, id: id, status: a.status, headers: rl, retryAfter: ra, now: now}
		if a.status == http.StatusTooManyRequests {
			// Allocated here only: obs.body escapes, and a LimitBody
			// declared for every response would be moved to the heap.
			if v, ok := ParseLimitBody(a.body); ok {
				lb := new(LimitBody)
				*lb = v
				obs.body = lb
				res.RateLimit.Key, res.RateLimit.Namespace, res.RateLimit.Value = lb.Key, lb.Namespace, lb.Value
				if !hasRA && lb.MsgRetry > 0 {
					ra, hasRA = lb.MsgRetry, true
				}
			}
		}
		if key, scope := c.cfg.Limits.observeOrKey(obs); key != "" {
			res.ThrottledBy, res.Scope = key, scope
		}
		if a.status == http.StatusTooManyRequests && !hasRA && rl.Reset > 0 {
			ra, hasRA = rl.Reset, true
		}
	}
	if attempt >= maxAttempts || ctx.Err() != nil {
		return 0, false
	}
	retryable := false
	switch {
	case a.status == http.StatusTooManyRequests:
		retryable = true
	case a.status >= 500 && a.status != http.StatusNotImplemented:
		retryable = c.retry.RetryUnsafe || idempotent(method)
	case a.status == 0 && a.err != nil:
		retryable = c.retry.RetryUnsafe || idempotent(method)
	}
	if !retryable {
		return 0, false
	}
	var wait time.Duration
	if hasRA {
		if ra > c.retry.MaxRetryAfter {
			a.err = fmt.Errorf("api: %s %s: %d asks to wait %v, more than RetryPolicy.MaxRetryAfter %v: not retried",
				method, req.Route, a.status, ra, c.retry.MaxRetryAfter)
			return 0, false
		}
		wait = ra
	} else {
		wait = c.retry.Backoff
		for i := 1; i < attempt && wait < c.retry.MaxBackoff; i++ {
			wait *= 2
		}
		wait = min(wait, c.retry.MaxBackoff)
	}
	if c.retry.Jitter > 0 {
		wait += time.Duration(c.retry.Jitter * c.cfg.Rand() * float64(wait))
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(wait).After(dl) {
		a.err = fmt.Errorf("api: %s %s: %d: retrying in %v would pass the context deadline: not retried",
			method, req.Route, a.status, wait.Round(time.Millisecond))
		return 0, false
	}
	return wait, true
}

// observeOrKey is observe on a possibly nil Limits: without a limiter a 429
// is still attributed to the bucket its body names.
func (l *Limits) observeOrKey(o observation) (string, string) {
	if l != nil {
		return l.observe(o)
	}
	if o.status == http.StatusTooManyRequests && o.body != nil && o.body.Key != "" {
		return o.body.Key, ScopeOfKey(o.body.Key)
	}
	return "", ""
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// attemptResult is one HTTP exchange.
type attemptResult struct {
	start, end         time.Time
	status             int
	header             http.Header
	body               []byte
	latency            time.Duration
	connect, firstByte time.Duration
	err                error
	// sent counts the requests of this attempt that reached the server
	// (see sentCount); resent those of them the Transport sent again, on
	// another connection, after the one it had sent on failed.
	sent, resent int
}

// timing collects the httptrace events of one attempt. Its trace's hooks
// are built once per pooled timing and only touch atomics: a hook firing
// late (httptrace allows it) cannot race. GotConn and GotFirstResponseByte
// fire before the round trip returns; WroteRequest may fire after it (a
// response can come before the write ends), so a timing with a write still
// outstanding is not put back in the pool (see done).
type timing struct {
	trace    httptrace.ClientTrace
	start    int64        // unix ns of the attempt's start
	connect  atomic.Int64 // setup time of a new connection (see TimedDial), ns
	firstRsp atomic.Int64 // unix ns of the first response byte
	conns    atomic.Int32 // GotConn events: tries of the Transport that got a connection
	writes   atomic.Int32 // WroteRequest events, failed writes included
	wrote    atomic.Bool  // the current try's WroteRequest reported no error
	cur      atomic.Pointer[timedConn]
	curBase  atomic.Int64 // cur's bytes written when the current try got it
	resent   atomic.Int32 // earlier tries that reached the network
}

// gotConn starts a try of the Transport. If an earlier try of the same
// round trip exists, the Transport is re-sending: the earlier try counts as
// sent to the server if its request was written without error and (for a
// connection made by TimedDial, which counts the bytes flushed to it) bytes
// left for the network; a write that only filled the Transport's buffer and
// failed to flush (the server had closed the connection) did not.
func (t *timing) gotConn(info httptrace.GotConnInfo) {
	if t.conns.Add(1) > 1 && t.tryReached() {
		t.resent.Add(1)
	}
	t.wrote.Store(false)
	tc := timedOf(info.Conn)
	t.cur.Store(tc)
	if tc != nil {
		t.curBase.Store(tc.written.Load())
	}
	if !info.Reused {
		t.connect.Store(int64(setupTime(info.Conn)))
	}
}

// tryReached reports whether the current try's request reached the network:
// WroteRequest reported no error and, on a connection made by TimedDial,
// bytes were flushed to it since the try got it.
func (t *timing) tryReached() bool {
	if !t.wrote.Load() {
		return false
	}
	cur := t.cur.Load()
	return cur == nil || cur.written.Load() > t.curBase.Load()
}

var timingPool = sync.Pool{New: func() any {
	t := &timing{}
	t.trace = httptrace.ClientTrace{
		GotConn: t.gotConn,
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				t.wrote.Store(true)
			}
			t.writes.Add(1)
		},
		GotFirstResponseByte: func() { t.firstRsp.Store(time.Now().UnixNano()) },
	}
	return t
}}

func (t *timing) reset() {
	t.connect.Store(0)
	t.firstRsp.Store(0)
	t.conns.Store(0)
	t.writes.Store(0)
	t.wrote.Store(false)
	t.cur.Store(nil)
	t.curBase.Store(0)
	t.resent.Store(0)
}

// done returns t to the pool unless a WroteRequest may still fire for the
// round trip just ended (a connection was got but not every write has
// reported): a late hook must not count for another request's attempt.
// That costs an allocation, only then.
func (t *timing) done() {
	if t.writes.Load() < t.conns.Load() {
		return
	}
	timingPool.Put(t)
}

// sentCount says how many requests of one attempt reached the server, and
// how many of them the Transport re-sent on its own (see Gate): earlier
// tries that reached the network, plus the last one if it got a response or
// was written (and, on a TimedDial connection, flushed). An attempt that
// failed before that (dial error, context ended while waiting for a
// connection, a write to a connection the server had closed) reached no
// server and counts 0. Only an *http.Transport reports its tries through
// httptrace; with any other RoundTripper each attempt counts 1.
func (c *Client) sentCount(t *timing, status int) (sent, resent int) {
	if !c.traced {
		return 1, 0
	}
	resent = int(t.resent.Load())
	sent = resent
	if status != 0 {
		sent++
	} else if t.conns.Load() > 0 && t.tryReached() {
		sent++
	}
	return sent, resent
}

// TimedDial wraps a DialContext function so that the connections it makes
// remember how long their setup took: the dial and what they carried before
// their first request (the TLS handshake). Result.Connect reports it for the
// request that opened the connection. NewTransport uses it.
func TimedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &timedConn{Conn: c, start: start, dial: time.Since(start)}, nil
	}
}

type timedConn struct {
	net.Conn
	start    time.Time
	dial     time.Duration
	setupEnd atomic.Int64 // unix ns of the last read or write before the first request, 0: none
	used     atomic.Bool  // a request got the connection: its setup is over
	written  atomic.Int64 // bytes written to the connection
}

func (c *timedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.used.Load() {
		c.setupEnd.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *timedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	if n > 0 && !c.used.Load() {
		c.setupEnd.Store(time.Now().UnixNano())
	}
	return n, err
}

// setup ends c's setup (its first request got it) and returns how long it
// took: from the dial's start to the last byte the setup exchanged.
func (c *timedConn) setup() time.Duration {
	c.used.Store(true)
	if end := c.setupEnd.Load(); end > 0 {
		return max(c.dial, time.Duration(end-c.start.UnixNano()))
	}
	return c.dial
}

// timedOf returns the timedConn under c (possibly TLS), or nil.
func timedOf(c net.Conn) *timedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tc, _ := c.(*timedConn)
	return tc
}

func setupTime(c net.Conn) time.Duration {
	if tc := timedOf(c); tc != nil {
		return tc.setup()
	}
	return 0
}

func (c *Client) attempt(ctx context.Context, method, target string, req *Request, tok *auth.Token) (a attemptResult) {
	parent := ctx
	if c.attemptCtx {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.AttemptTimeout)
		defer cancel()
	}
	a.start = c.cfg.Now()
	tm := timingPool.Get().(*timing)
	tm.reset()
	if c.realClock {
		tm.start = a.start.UnixNano() // one clock read less on the hot path
	} else {
		tm.start = time.Now().UnixNano()
	}
	ctx = httptrace.WithClientTrace(ctx, &tm.trace)
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		tm.done()
		a.err = fmt.Errorf("api: %s %s: %v", method, req.Route, err)
		return a
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	if tok != nil {
		hr.Header["Authorization"] = tok.AuthorizationValues()
	}
	if c.userAgent != nil {
		hr.Header["User-Agent"] = c.userAgent
	}
	if req.Body != nil {
		if req.ContentType != "" {
			hr.Header["Content-Type"] = []string{req.ContentType}
		} else {
			hr.Header["Content-Type"] = acceptJSON
		}
	}
	hresp, err := c.rt.RoundTrip(hr)
	if err != nil {
		a.end = c.cfg.Now()
		a.latency = a.end.Sub(a.start)
		a.err = fmt.Errorf("api: %s %s: %v", method, req.Route, c.timeoutErr(parent, ctx, stripURL(err)))
	} else {
		a.body, err = readBody(hresp, c.cfg.MaxResponseBytes)
		hresp.Body.Close()
		a.end = c.cfg.Now()
		a.latency = a.end.Sub(a.start)
		a.status, a.header = hresp.StatusCode, hresp.Header
		if err != nil {
			a.err = fmt.Errorf("api: %s %s: reading %d response: %v", method, req.Route, hresp.StatusCode, c.timeoutErr(parent, ctx, err))
		}
	}
	a.connect = time.Duration(tm.connect.Load())
	if fb := tm.firstRsp.Load(); fb > 0 {
		a.firstByte = time.Duration(fb - tm.start)
	}
	a.sent, a.resent = c.sentCount(tm, a.status)
	tm.done()
	return a
}

var acceptJSON = []string{"application/json"}

// timeoutErr names Config.AttemptTimeout when it is what ended the attempt:
// actx, the attempt's context, passed its deadline while parent, the
// caller's, had not ended.
func (c *Client) timeoutErr(parent, actx context.Context, err error) error {
	if parent.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within Config.AttemptTimeout (%v): %w", c.cfg.AttemptTimeout, err)
	}
	return err
}

// stripURL drops the *url.Error wrapper, which repeats the URL (the route
// template says which request it was).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func readBody(r *http.Response, limit int64) ([]byte, error) {
	if r.ContentLength == 0 || r.Body == http.NoBody { // NoBody: HEAD, 204, 304
		return nil, nil
	}
	if r.ContentLength > 0 && r.ContentLength <= limit {
		b := make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, b)
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("body larger than Config.MaxResponseBytes (%d)", limit)
	}
	return b, err
}

// checkHeader refuses header names and values net/http would not send.
func checkHeader(h http.Header) error {
	for k, vs := range h {
		if !validHeaderName(k) {
			return fmt.Errorf("Request.Header: name %q is not a valid HTTP token (letters, digits and !#$%%&'*+-.^_`|~ only)", k)
		}
		for _, v := range vs {
			if i := invalidHeaderByte(v); i >= 0 {
				// The value itself is not shown: it may be a credential.
				return fmt.Errorf("Request.Header %s: value holds control byte %#02x at offset %d (CR, LF, NUL... would break the request): remove it", k, v[i], i)
			}
		}
	}
	return nil
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}

// invalidHeaderByte returns the offset of the first CR, LF, NUL or other
// control byte but tab in v, or -1.
func invalidHeaderByte(v string) int {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return i
		}
	}
	return -1
}

// url expands req's route template with its params and query.
func (c *Client) url(req *Request) (string, error) {
	var b strings.Builder
	b.Grow(len(c.base) + len(req.Route) + 32)
	b.WriteString(c.base)
	if err := ExpandRoute(&b, req.Route, req.Params); err != nil {
		return "", err
	}
	if len(req.Query) > 0 {
		b.WriteByte('?')
		b.WriteString(req.Query.Encode())
	}
	return b.String(), nil
}

// ExpandRoute writes route with each {name} replaced by the next of params,
// path-escaped. It fails when the counts differ or a brace is unclosed.
func ExpandRoute(b *strings.Builder, route string, params []string) error {
	if !strings.HasPrefix(route, "/") {
		return fmt.Errorf("api: route %q: must start with /", route)
	}
	n := 0
	for {
		i := strings.IndexByte(route, '{')
		if i < 0 {
			b.WriteString(route)
			break
		}
		j := strings.IndexByte(route[i:], '}')
		if j < 0 {
			return fmt.Errorf("api: route %q: unclosed {", route)
		}
		if n >= len(params) {
			return fmt.Errorf("api: route %q: no value for %s (got %d params)", route, route[i:i+j+1], len(params))
		}
		b.WriteString(route[:i])
		b.WriteString(url.PathEscape(params[n]))
		n++
		route = route[i+j+1:]
	}
	if n != len(params) {
		return fmt.Errorf("api: route has %d parameters, got %d values", n, len(params))
	}
	return nil
}

// StatusError is returned by the JSON helpers for a final status outside
// 2xx. It holds the whole response.
type StatusError struct {
	Response *Response
}

// Error says which request, the status, the attempts and the limit that
// throttled it, and the start of the server's message.
func (e *StatusError) Error() string {
	r := &e.Response.Result
	s := fmt.Sprintf("api: %s %s: %d %s after %d attempt(s)", r.Method, r.Route, r.Status, http.StatusText(r.Status), r.Attempts)
	if r.ThrottledBy != "" {
		s += fmt.Sprintf(" (limit %s, scope %s)", r.ThrottledBy, r.Scope)
	}
	var eb struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(e.Response.Body, &eb) == nil && (eb.Message != "" || eb.Code != "") {
		s += ": " + truncate(strings.TrimSpace(eb.Code+" "+eb.Message), 200)
	}
	if r.Err != "" {
		s += ": " + r.Err
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// GetJSON sends GET route (its {parameters} filled from params) and decodes a
// 2xx JSON answer into out (nil: ignore the body).
func (c *Client) GetJSON(ctx context.Context, route string, out any, params ...string) (*Response, error) {
	return c.DoJSON(ctx, &Request{Method: http.MethodGet, Route: route, Params: params}, nil, out)
}

// SendJSON sends method route with in encoded as JSON (nil: no body) and
// decodes a 2xx JSON answer into out (nil: ignore the body).
func (c *Client) SendJSON(ctx context.Context, method, route string, in, out any, params ...string) (*Response, error) {
	return c.DoJSON(ctx, &Request{Method: method, Route: route, Params: params}, in, out)
}

// DoJSON is Do with in encoded as req.Body (unless nil) and a 2xx answer
// decoded into out (unless nil). A final status outside 2xx gives a
// *StatusError holding the whole response. A 2xx whose body cannot be
// decoded into out is a failed request: DoJSON returns the decoding error
// (naming the request and out's type), and resp.Result, as recorded, has
// Outcome metrics.ServerError, the 2xx status and that error as Err.
func (c *Client) DoJSON(ctx context.Context, req *Request, in, out any) (*Response, error) {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("api: %s %s: encoding request body: %v", req.Method, req.Route, err)
		}
		req.Body = b
	}
	resp, err := c.do(ctx, req, out)
	if err != nil {
		return resp, err // no response, or a 2xx that could not be decoded
	}
	if resp.Status < 200 || resp.Status > 299 {
		return resp, &StatusError{Response: resp}
	}
	return resp, nil
}
