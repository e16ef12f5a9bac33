package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// call is the state of one Do across its attempts.
type call struct {
	ctx         context.Context
	req         *Request
	method      string
	target      string // the URL
	resp        *Response
	maxAttempts int
	tok         *auth.Token
	id          identity
	failure     error     // the last attempt's error, or what ended the attempts
	retried401  bool      // the one refresh after a 401 is spent
	lastEnd     time.Time // when the last attempt ended
	waitedAfter bool      // time passed since lastEnd (a wait, a refused attempt)
	refused     bool      // the Gate refused an attempt: the run is stopping
}

// do is Do that, when out is not nil, decodes a final 2xx JSON body into out
// before the Result is recorded: a body that cannot be decoded makes the
// request a failure (Outcome ServerError, the status kept, Err the decoding
// error) in the Result and the document alike, and do returns that error.
func (c *Client) do(ctx context.Context, req *Request, out any) (*Response, error) {
	k, err := c.newCall(ctx, req)
	if err != nil {
		return nil, err
	}
	cg, watch := c.cfg.Gate.(ChangeGate)
	watch = watch && changes(k.method)
	var path string
	if watch {
		path, _, _ = strings.Cut(strings.TrimPrefix(k.target, c.base), "?")
		if err := cg.BeforeWrite(ctx, c, k.method, path, req.Body); err != nil {
			return nil, err
		}
	}
	for n := 1; c.step(k, n); n++ {
	}
	c.settle(k)
	if watch {
		cg.AfterWrite(k.method, path, k.resp.Status, k.resp.Body)
	}
	decodeErr := c.decode(k, out)
	err = c.reconcile(k, decodeErr)
	if r := c.cfg.Recorder; r != nil {
		r.Record(&k.resp.Result)
	}
	return k.resp, err
}

// changes reports whether a request with method may change something.
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// newCall checks req and starts its Result.
func (c *Client) newCall(ctx context.Context, req *Request) (*call, error) {
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
	if g, ok := c.cfg.Gate.(RequestGate); ok {
		if err := g.AdmitRequest(method, req.Route, req.Body); err != nil {
			return nil, err
		}
	}
	k := &call{ctx: ctx, req: req, method: method, target: target, resp: &Response{}, maxAttempts: c.retry.MaxAttempts}
	k.resp.Result = metrics.Result{Op: req.Op, Method: method, Route: req.Route, Intended: req.Intended, BytesOut: int64(len(req.Body))}
	if k.resp.Result.Intended.IsZero() {
		k.resp.Result.Intended = c.cfg.Now()
	}
	return k, nil
}

// step makes attempt n of k: a token, the client-side limiter and the Gate,
// the exchange, and the wait before the next attempt. It reports whether
// one follows.
func (c *Client) step(k *call, n int) bool {
	if !c.admit(k) {
		return false
	}
	a := c.attempt(k.ctx, k.method, k.target, k.req, k.tok)
	c.account(k, &a, n)
	wait, again := c.assess(k, &a, n)
	k.failure = a.err
	if a.status == http.StatusUnauthorized && !k.retried401 && k.tok != nil {
		c.cfg.Tokens.Invalidate(k.tok)
		k.retried401 = true
		k.maxAttempts++
		return true
	}
	return again && c.pause(k, wait)
}

// admit readies an attempt: the agent's token, room in the client-side
// limiter, the Gate's consent. When one fails it records why in k and
// returns false.
func (c *Client) admit(k *call) bool {
	res := &k.resp.Result
	if c.cfg.Tokens != nil {
		tok, err := c.cfg.Tokens.Token(k.ctx, c.agent)
		if err != nil {
			k.failure, k.waitedAfter = err, true
			return false
		}
		k.tok, k.id = tok, identity{token: tok.ID, client: tok.ClientID}
		res.TokenID, res.ClientID = tok.ID, tok.ClientID
	}
	waited, err := c.cfg.Limits.wait(k.ctx, k.req.Route, k.id)
	res.RetryWait += waited
	if err != nil {
		var rf *refusal
		if errors.As(err, &rf) {
			res.ThrottledBy, res.Scope = rf.key, "client-side:"+string(rf.scope)
		}
		k.failure, k.waitedAfter = err, true
		return false
	}
	if g := c.cfg.Gate; g != nil {
		if err := g.Admit(); err != nil {
			k.failure, k.waitedAfter, k.refused = err, true, true
			return false
		}
	}
	return true
}

// account charges the Gate for attempt n and keeps its figures and
// response in k.
func (c *Client) account(k *call, a *attemptResult, n int) {
	k.lastEnd, k.waitedAfter = a.end, false
	if g := c.cfg.Gate; g != nil {
		// Re-sends by the Transport were admitted by nobody: charge
		// them now (see Gate); they failed without a response.
		for range a.resent {
			_ = g.Admit()
			g.Done(0)
		}
		g.Done(a.status)
	}
	res := &k.resp.Result
	if n == 1 {
		res.Start = a.start
	}
	res.Attempts += a.sent
	res.Latency, res.Connect, res.FirstByte = a.latency, a.connect, a.firstByte
	if a.status != 0 {
		k.resp.Status, k.resp.Header, k.resp.Body = a.status, a.header, a.body
		res.Status = a.status
		res.BytesIn = int64(len(a.body))
	}
}

// assess records what attempt n's response says about limits and decides
// whether to retry and after how long. A retry that is not made for its
// wait (longer than MaxRetryAfter, past the deadline) sets a.err to say so.
func (c *Client) assess(k *call, a *attemptResult, n int) (time.Duration, bool) {
	ra, asked := c.observe(k, a)
	if n >= k.maxAttempts || k.ctx.Err() != nil || !c.retry.retryable(k.method, a) {
		return 0, false
	}
	if asked && ra > c.retry.MaxRetryAfter {
		a.err = fmt.Errorf("api: %s %s: %d asks to wait %v, more than RetryPolicy.MaxRetryAfter %v: not retried",
			k.method, k.req.Route, a.status, ra, c.retry.MaxRetryAfter)
		return 0, false
	}
	rnd := 0.0
	if c.retry.Jitter > 0 {
		rnd = c.cfg.Rand()
	}
	wait := c.retry.wait(n, ra, asked, rnd)
	if dl, ok := k.ctx.Deadline(); ok && a.end.Add(wait).After(dl) {
		a.err = fmt.Errorf("api: %s %s: %d: retrying in %v would pass the context deadline: not retried",
			k.method, k.req.Route, a.status, wait.Round(time.Millisecond))
		return 0, false
	}
	return wait, true
}

// observe reads a response's rate-limit headers and 429 body into the
// Result and the client-side limiter, and returns the wait the server asked
// for: Retry-After, else the 429 message's, else (on a 429) the window's
// reset.
func (c *Client) observe(k *call, a *attemptResult) (ra time.Duration, asked bool) {
	if a.status == 0 {
		return 0, false
	}
	res := &k.resp.Result
	h := a.header
	rl := genesys.ParseRateLimitHeaders(first(h[genesys.HeaderRateLimitCount]), first(h[genesys.HeaderRateLimitAllowed]), first(h[genesys.HeaderRateLimitReset]))
	ra, asked = genesys.ParseRetryAfter(first(h[genesys.HeaderRetryAfter]), a.end)
	res.RateLimit = metrics.RateLimitInfo{Count: rl.Count, Allowed: rl.Allowed, Reset: rl.Reset, RetryAfter: ra}
	res.CorrelationID = first(h[genesys.HeaderCorrelationID])
	obs := observation{route: k.req.Route, id: k.id, status: a.status, headers: rl, retryAfter: ra, now: a.end}
	if a.status == http.StatusTooManyRequests {
		if lb, ok := genesys.ParseLimitBody(a.body); ok {
			obs.body = &lb
			res.RateLimit.Key, res.RateLimit.Namespace, res.RateLimit.Value = lb.Key, lb.Namespace, lb.Value
			if !asked && lb.MsgRetry > 0 {
				ra, asked = lb.MsgRetry, true
			}
		}
	}
	if key, scope := c.cfg.Limits.observeOrKey(obs); key != "" {
		res.ThrottledBy, res.Scope = key, string(scope)
	} else if a.status == http.StatusTooManyRequests && res.ThrottledBy == "" {
		// A 429 that names no limit (an edge or proxy in front of the API):
		// retried like any 429, and counted under UnnamedLimit.
		res.ThrottledBy = UnnamedLimit
	}
	if a.status == http.StatusTooManyRequests && !asked && rl.Reset > 0 {
		ra, asked = rl.Reset, true
	}
	return ra, asked
}

// observeOrKey is observe on a possibly nil Limits: without a limiter a 429
// is still attributed to the bucket its body names.
func (l *Limits) observeOrKey(o observation) (string, genesys.Scope) {
	if l != nil {
		return l.observe(o)
	}
	if o.status == http.StatusTooManyRequests && o.body != nil && o.body.Key != "" {
		return o.body.Key, genesys.ScopeOfKey(o.body.Key)
	}
	return "", ""
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// pause waits before the next attempt; false: k's context ended first.
func (c *Client) pause(k *call, wait time.Duration) bool {
	if wait <= 0 {
		return true
	}
	k.waitedAfter = true
	start := c.cfg.Now()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		k.resp.Result.RetryWait += wait
		return true
	case <-k.ctx.Done():
		k.resp.Result.RetryWait += c.cfg.Now().Sub(start)
		k.failure = fmt.Errorf("api: %s %s: %w while waiting %v to retry", k.method, k.req.Route, k.ctx.Err(), wait)
		return false
	}
}

// settle sets the Result's Total, Start and Outcome once the attempts are
// over.
func (c *Client) settle(k *call) {
	res := &k.resp.Result
	end := k.lastEnd
	if end.IsZero() || k.waitedAfter {
		end = c.cfg.Now()
	}
	res.Total = end.Sub(res.Intended)
	if res.Start.IsZero() {
		res.Start = end
	}
	switch {
	case (k.ctx.Err() != nil || k.refused) && (res.Status == 0 || k.failure != nil):
		res.Outcome = result.Canceled
	case res.Status != 0:
		res.Outcome = result.OutcomeFor(res.Status)
	case res.ThrottledBy != "":
		res.Outcome = result.Throttled
	case k.failure != nil:
		res.Outcome = result.TransportError
	}
}

// decode decodes an OK answer into out (when not nil). An answer the caller
// cannot use is not ok: the server (or something on the way) sent a 2xx
// whose body is not the JSON asked for. The error is then k's failure too.
func (c *Client) decode(k *call, out any) error {
	res, body := &k.resp.Result, k.resp.Body
	if out == nil || res.Outcome != result.OK || res.Status < 200 || res.Status > 299 || len(body) == 0 {
		return nil
	}
	err := json.Unmarshal(body, out)
	if err == nil {
		return nil
	}
	res.Outcome = result.ServerError
	msg := fmt.Sprintf("api: %s %s: decoding %d response into %T: %v", k.method, k.req.Route, res.Status, out, err)
	if k.failure != nil { // e.g. the body was cut: say so too
		msg += " (" + k.failure.Error() + ")"
	}
	k.failure = errors.New(msg)
	return k.failure
}

// reconcile sets the Result's Err (scrubbed) and returns Do's error: the
// failure when there is no usable response (none at all, a canceled
// request, a 2xx that could not be decoded), else nil: Do reports the
// response, not the error of an earlier attempt.
func (c *Client) reconcile(k *call, decodeErr error) error {
	f := k.failure
	if f == nil {
		return nil
	}
	res := &k.resp.Result
	msg := f.Error()
	if c.cfg.Scrub != nil {
		msg = c.cfg.Scrub(msg)
	}
	res.Err = msg
	ctxErr := k.ctx.Err()
	if res.Status != 0 && ctxErr == nil && !k.refused {
		if decodeErr != nil {
			return errors.New(msg) // scrubbed
		}
		return nil
	}
	if msg != f.Error() {
		f = errors.New(msg) // scrubbed: the chain held a secret
	}
	if ctxErr != nil && !errors.Is(f, ctxErr) {
		f = fmt.Errorf("%w (%w)", f, ctxErr)
	}
	return f
}
