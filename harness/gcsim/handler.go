package gcsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// reqCtx is the state of one request, pooled.
type reqCtx struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	route    *route
	params   [maxParams]string
	tok      *token
	corr     string
	clientID string
	status   int
	nowTime  time.Time
	now      int64
	verdicts [8]verdict
	buckets  [8]*bucket
	buf      bytes.Buffer
}

var ctxPool = sync.Pool{New: func() any { return new(reqCtx) }}

const hdrContentType = "Content-Type"

// ServeHTTP serves the simulator: /oauth/token, /api/v2/..., /channels/{id}
// and the admin paths /admin/....
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/admin/") {
		s.serveAdmin(w, r)
		return
	}
	c := ctxPool.Get().(*reqCtx)
	c.s, c.w, c.r = s, w, r
	c.nowTime = s.now()
	c.now = c.nowTime.UnixNano()
	c.corr = r.Header.Get(genesys.HeaderCorrelationID)
	if c.corr == "" || len(c.corr) > 128 {
		c.corr = newCorrelationID()
	}
	w.Header()[genesys.HeaderCorrelationID] = []string{c.corr}
	c.route = s.router.match(r.Method, r.URL.Path, &c.params)
	s.serve(c)
	if s.RequestLog != nil {
		s.logRequest(c)
	}
	buf := c.buf
	if buf.Cap() > 64<<10 {
		buf = bytes.Buffer{} // do not pin a large listing's buffer in the pool
	}
	*c = reqCtx{buf: buf}
	c.buf.Reset()
	ctxPool.Put(c)
}

func (s *Server) serve(c *reqCtx) {
	rt := c.route
	if rt == nil {
		s.stats.unknown.add(1)
		s.writeError(c, http.StatusNotFound, "not.found", "HTTP 404 Not Found", nil)
		return
	}
	if !s.injectFaults(c) {
		return
	}
	switch rt.kind {
	case kindOAuth:
		s.serveToken(c)
		return
	case kindWS:
		s.serveWS(c)
		return
	}
	t, why := s.authenticate(c.r, c.now)
	switch why {
	case authMissing:
		s.writeError(c, http.StatusUnauthorized, "authentication.required",
			"No authentication bearer token specified in authorization header.", nil)
		return
	case authUnknown, authExpired, authRevoked:
		s.stats.authRejected[why].add(1)
		s.writeError(c, http.StatusUnauthorized, "bad.credentials", "Invalid login credentials.", nil)
		return
	}
	c.tok = t
	c.clientID = t.client.ID
	if n := len(rt.rules); n > 0 {
		bs := c.buckets[:0]
		rules := rt.rules
		if n > len(c.buckets) {
			bs = make([]*bucket, 0, n)
		}
		var matched [8]*limitRule
		ms := matched[:0]
		if n > len(matched) {
			ms = make([]*limitRule, 0, n)
		}
		for _, l := range rules {
			if l.Grant != "" && l.Grant != t.grant {
				continue
			}
			bs = append(bs, t.buckets[l.idx])
			ms = append(ms, l)
		}
		if !s.applyLimits(c, ms, bs, c.now) {
			return
		}
	}
	// A client-credentials token on a user-context endpoint is refused after
	// it has counted: the request did reach the API.
	if rt.userContext && t.user == nil {
		s.writeError(c, http.StatusBadRequest, "bad.request",
			"This request requires a user context. Client credentials cannot be used for requests to this resource.", nil)
		return
	}
	if cl := c.r.ContentLength; cl > s.profile.RequestBytesMax {
		s.writeTooLarge(c)
		return
	}
	rt.handle(s, c)
}

// applyLimits counts the request in its buckets, sets the inin-ratelimit-*
// headers from the visible bucket nearest its limit and, if a bucket is
// full, answers 429 and returns false.
func (s *Server) applyLimits(c *reqCtx, rules []*limitRule, bs []*bucket, now int64) bool {
	var vs []verdict
	if len(bs) <= len(c.verdicts) {
		vs = c.verdicts[:len(bs)]
	} else {
		vs = make([]verdict, len(bs))
	}
	ok := admit(rules, bs, now, vs)
	var near, reject *verdict
	for i := range vs {
		v := &vs[i]
		if !v.allowed && (reject == nil || v.retry > reject.retry) {
			reject = v
		}
		if v.limit.Hidden {
			continue
		}
		if near == nil || v.count*near.limit.spec.allowed > near.count*v.limit.spec.allowed {
			near = v
		}
	}
	h := c.w.Header()
	if ok {
		if near != nil {
			setLimitHeaders(h, near.count, near.limit.spec.allowed, near.reset)
		}
		return true
	}
	if !reject.limit.Hidden {
		near = reject
	}
	if near != nil {
		setLimitHeaders(h, near.count, near.limit.spec.allowed, near.reset)
	}
	retry := ceilSeconds(reject.retry)
	h[genesys.HeaderRetryAfter] = []string{strconv.FormatInt(retry, 10)}
	l := reject.limit
	win := ceilSeconds(l.spec.length)
	s.write429(c, l, win, retry)
	return false
}

// write429 writes the 429 genesys.ErrorBody by hand: throttled load makes this a
// hot path. It produces exactly what writeError would (a test checks).
func (s *Server) write429(c *reqCtx, l *limitRule, win, retry int64) {
	code, msg, withParams := "too.many.requests", "Rate limit exceeded the maximum [", "Rate limit exceeded the maximum [{limit}] requests within [{window}] seconds"
	retryForm := s.profile.RateLimitMessage != "window"
	if retryForm {
		code, msg, withParams = "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [", "Rate limit exceeded the maximum. Retry the request in [{retryAfter}] seconds"
	}
	c.buf.Reset()
	c.buf.Grow(1024) // keeps the pooled buffer's capacity: no allocation below
	b := c.buf.AvailableBuffer()
	b = append(b, `{"message":"`...)
	b = append(b, msg...)
	if retryForm {
		b = strconv.AppendInt(b, retry, 10)
	} else {
		b = strconv.AppendInt(b, int64(l.Allowed), 10)
		b = append(b, "] requests within ["...)
		b = strconv.AppendInt(b, win, 10)
	}
	b = append(b, `] seconds","code":"`...)
	b = append(b, code...)
	b = append(b, `","status":429,"messageWithParams":"`...)
	b = append(b, withParams...)
	b = append(b, `","messageParams":{"limit":"`...)
	b = strconv.AppendInt(b, int64(l.Allowed), 10)
	b = append(b, `","retryAfter":"`...)
	b = strconv.AppendInt(b, retry, 10)
	b = append(b, `","window":"`...)
	b = strconv.AppendInt(b, win, 10)
	b = append(b, `"},"contextId":`...)
	b = appendJSONString(b, c.corr)
	b = append(b, `,"details":[],"errors":[],"limit":{"key":`...)
	b = appendJSONString(b, l.Key)
	b = append(b, `,"namespace":`...)
	b = appendJSONString(b, l.Namespace)
	b = append(b, `,"value":`...)
	b = strconv.AppendInt(b, int64(l.Allowed), 10)
	b = append(b, "}}\n"...)
	s.writeRaw(c, http.StatusTooManyRequests, b)
}

// appendJSONString appends s as a JSON string, as encoding/json without
// HTML escaping writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // rare: let encoding/json escape it
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// setLimitHeaders sets the three inin-ratelimit-* headers with two
// allocations: one string holding the three numbers, one backing array for
// the three header value slices.
func setLimitHeaders(h http.Header, count, allowed, reset int64) {
	var buf [64]byte
	b := strconv.AppendInt(buf[:0], count, 10)
	i := len(b)
	b = strconv.AppendInt(b, allowed, 10)
	j := len(b)
	b = strconv.AppendInt(b, ceilSeconds(reset), 10)
	all := string(b)
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = all[:i], all[i:j], all[j:]
	h[genesys.HeaderRateLimitCount], h[genesys.HeaderRateLimitAllowed], h[genesys.HeaderRateLimitReset] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
}

func ceilSeconds(ns int64) int64 {
	s := (ns + int64(time.Second) - 1) / int64(time.Second)
	if s < 1 {
		return 1
	}
	return s
}

type errorExtra struct {
	withParams string
	params     map[string]string
	limit      *genesys.ErrorLimit
	details    []genesys.ErrorDetail
}

func (s *Server) writeError(c *reqCtx, status int, code, msg string, x *errorExtra) {
	b := genesys.ErrorBody{Message: msg, Code: code, Status: status, MessageParams: map[string]string{},
		ContextID: c.corr, Details: []genesys.ErrorDetail{}, Errors: []genesys.ErrorBody{}}
	if x != nil {
		b.MessageWithParams = x.withParams
		if x.params != nil {
			b.MessageParams = x.params
		}
		b.Limit = x.limit
		if x.details != nil {
			b.Details = x.details
		}
	}
	s.writeJSON(c, status, &b)
}

func (s *Server) writeTooLarge(c *reqCtx) {
	s.writeError(c, http.StatusRequestEntityTooLarge, "request.entity.too.large",
		fmt.Sprintf("The request is over the size limit. Maximum bytes: %d", s.profile.RequestBytesMax), nil)
}

// writeJSON encodes v as the response body.
func (s *Server) writeJSON(c *reqCtx, status int, v any) {
	c.buf.Reset()
	enc := json.NewEncoder(&c.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		c.buf.Reset()
		c.buf.WriteString(`{"message":"gcsim: encoding failed","code":"internal.server.error","status":500}`)
	}
	s.writeRaw(c, status, c.buf.Bytes())
}

var jsonCT = []string{"application/json"}

func (s *Server) writeRaw(c *reqCtx, status int, body []byte) {
	h := c.w.Header()
	h[hdrContentType] = jsonCT
	if c.r.Method != http.MethodHead {
		// Small bodies: net/http sets Content-Length itself when the
		// handler writes less than its buffer and returns.
		if len(body) > 2048 {
			h["Content-Length"] = []string{strconv.Itoa(len(body))}
		}
	}
	c.w.WriteHeader(status)
	c.status = status
	if c.r.Method != http.MethodHead {
		_, _ = c.w.Write(body)
	}
	s.stats.count(c)
}

func (s *Server) writeStatus(c *reqCtx, status int) {
	c.w.WriteHeader(status)
	c.status = status
	s.stats.count(c)
}

// readJSON reads the request body into v. On failure it answers 400 (or
// 413) naming the problem and returns false. An empty body is allowed when
// optional is set.
func (s *Server) readJSON(c *reqCtx, v any, optional bool) bool {
	max := s.profile.RequestBytesMax
	data, err := io.ReadAll(io.LimitReader(c.r.Body, max+1))
	if err != nil {
		s.writeError(c, http.StatusBadRequest, "bad.request", "The request body could not be read: "+err.Error(), nil)
		return false
	}
	if int64(len(data)) > max {
		s.writeTooLarge(c)
		return false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return true
		}
		s.writeError(c, http.StatusBadRequest, "bad.request", "The request body is empty; this endpoint needs a JSON body.", nil)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		s.writeError(c, http.StatusBadRequest, "bad.request", "The request could not be understood by the server due to malformed syntax: "+describeJSONError(data, err), nil)
		return false
	}
	if dec.More() {
		s.writeError(c, http.StatusBadRequest, "bad.request", "The request could not be understood by the server due to malformed syntax: extra data after the JSON value", nil)
		return false
	}
	return true
}

func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at line %d, byte %d: %v", lineOf(data, se.Offset), se.Offset, se)
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "(top level)"
		}
		return fmt.Sprintf("field %s: expected %v, got JSON %s", f, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of JSON input (truncated body?)"
	}
	return err.Error()
}

// newCorrelationID returns a random UUID-shaped id.
func newCorrelationID() string {
	const hexd = "0123456789abcdef"
	var b [36]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	j := 0
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
			continue
		case 14:
			b[i] = '4' // version 4 (random)
			continue
		case 19:
			b[i] = "89ab"[lo>>62] // RFC 4122 variant
			continue
		}
		var nib uint64
		if j < 16 {
			nib = hi >> (uint(j) * 4)
		} else {
			nib = lo >> (uint(j-16) * 4)
		}
		b[i] = hexd[nib&0xf]
		j++
	}
	return string(b[:])
}

func (s *Server) logRequest(c *reqCtx) {
	tmpl := "(unknown)"
	if c.route != nil {
		tmpl = c.route.template
	}
	cl := c.clientID
	if cl == "" {
		cl = "-"
	}
	line := fmt.Sprintf("%s %s %s route=%q status=%d dur=%s corr=%s client=%s\n",
		c.nowTime.UTC().Format(time.RFC3339Nano), logValue(c.r.Method), logValue(c.r.URL.Path), tmpl, c.status,
		s.now().Sub(c.nowTime), logValue(c.corr), logValue(cl))
	s.logMu.Lock()
	_, _ = io.WriteString(s.RequestLog, line)
	s.logMu.Unlock()
}

// logValue returns a client-supplied value for the request log: bare when
// it is printable ASCII without spaces, quotes or backslashes, else quoted
// with Go escapes, so that a client cannot forge a line or a field.
func logValue(v string) string {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b <= ' ' || b >= 0x7f || b == '"' || b == '\\' {
			return strconv.QuoteToASCII(v)
		}
	}
	if v == "" {
		return `""`
	}
	return v
}
