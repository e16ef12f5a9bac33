package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"time"

	"github.com/cxload/cxload/harness/auth"
)

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
