package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// The wire is the Client's own HTTP/1.1 connections to the API host, used
// unless Config asks for net/http (see Config.NetHTTP). A load harness
// spends most of its CPU in the HTTP client, and net/http's Transport, made
// for every use, hands each request between three goroutines (the caller,
// the connection's writer and its reader) and allocates a Request, a URL
// and a header map on the way out. On the wire the goroutine that calls Do
// takes an idle connection, writes the request head (built in the
// connection's buffer) and body with one write, reads the answer on the
// same goroutine with net/http's own parser (http.ReadResponse: chunked
// bodies, 1xx answers, Connection: close and HTTP/1.0 as net/http reads
// them) and puts the connection back. One goroutine switch less per hop,
// fewer allocations, and every figure of an attempt (connection time, first
// byte, bytes written) known without httptrace.
//
// Like net/http, the wire keeps at most Config.Agents connections to the
// host, idle ones for up to wireIdleTimeout, and sends an attempt once more
// on a new connection when a reused one turns out to be closed by the
// server (nothing written, or an idempotent request written and answered by
// nothing); those re-sends are counted as net/http's are (see Gate).

// wireIdleTimeout is how long an idle connection is kept (as
// NewTransport's IdleConnTimeout).
const wireIdleTimeout = 90 * time.Second

// wireDialTimeout bounds a dial and a TLS handshake each (as NewTransport).
const wireDialTimeout = 10 * time.Second

// wireBigBody: bodies at least this long are written apart from the head
// instead of being copied after it into the connection's buffer.
const wireBigBody = 32 << 10

// wire is the connections to one host.
type wire struct {
	addr string      // host:port to dial
	host string      // Host header
	tls  *tls.Config // nil: plain http
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	slots chan struct{} // one per connection open or being dialled
	idle  chan *wconn   // idle connections, at most cap(slots)

	// probeAfter: a connection idle this long is checked before reuse
	// (see alive). Under load connections are never idle that long.
	probeAfter time.Duration
}

// wconn is one connection of the wire.
type wconn struct {
	nc       net.Conn
	br       *bufio.Reader
	buf      []byte        // the request being written
	setup    time.Duration // dial (and TLS handshake) time, until first used
	used     bool          // a request was sent on it before the current one
	lastUsed time.Time
	stop     func() // interrupts a blocked read or write: sets a past deadline
}

func newWire(scheme, host, port string, conns int, tlsCfg *tls.Config, dial func(context.Context, string, string) (net.Conn, error)) *wire {
	if conns <= 0 {
		conns = 1
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	w := &wire{
		addr:       net.JoinHostPort(hostOnly(host), port),
		host:       host,
		dial:       dial,
		slots:      make(chan struct{}, conns),
		idle:       make(chan *wconn, conns),
		probeAfter: time.Second,
	}
	if scheme == "https" {
		if tlsCfg == nil {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			tlsCfg = tlsCfg.Clone()
		}
		if tlsCfg.ServerName == "" {
			tlsCfg.ServerName = hostOnly(host)
		}
		tlsCfg.NextProtos = []string{"http/1.1"}
		if tlsCfg.ClientSessionCache == nil {
			tlsCfg.ClientSessionCache = tls.NewLRUClientSessionCache(conns)
		}
		w.tls = tlsCfg
	}
	if w.dial == nil {
		w.dial = (&net.Dialer{Timeout: wireDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	return w
}

// hostOnly strips the port of a URL's host, and IPv6 brackets.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		return host[1 : len(host)-1]
	}
	return host
}

// get returns an idle connection, or a new one when fewer than the limit
// are open, or waits for one to be put back.
func (w *wire) get(ctx context.Context, now time.Time) (*wconn, error) {
	for {
		var c *wconn
		select {
		case c = <-w.idle:
		default:
			select {
			case c = <-w.idle:
			case w.slots <- struct{}{}:
				c, err := w.connect(ctx)
				if err != nil {
					<-w.slots
					return nil, err
				}
				return c, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		idle := now.Sub(c.lastUsed)
		if idle < w.probeAfter || (idle < wireIdleTimeout && c.alive()) {
			return c, nil
		}
		w.discard(c) // idle too long, or closed by the server
	}
}

// alive reports whether the server has not closed c nor sent anything
// since the last answer. net/http learns that from the reader goroutine
// each connection has; the wire has none, so it looks before reusing a
// connection that was idle a while: a read that must time out at once.
// Then a request is not written to a connection the server closed when
// its idle timeout ran out (a POST could not be sent again).
func (c *wconn) alive() bool {
	if c.br.Buffered() > 0 {
		return false // bytes no request asked for
	}
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
	_, err := c.br.Peek(1)
	return errors.Is(err, os.ErrDeadlineExceeded)
}

func (w *wire) connect(ctx context.Context) (*wconn, error) {
	start := time.Now()
	nc, err := w.dial(ctx, "tcp", w.addr)
	if err != nil {
		return nil, err
	}
	if w.tls != nil {
		tc := tls.Client(nc, w.tls)
		hctx, cancel := context.WithTimeout(ctx, wireDialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	c := &wconn{nc: nc, br: bufio.NewReaderSize(nc, 4096), buf: make([]byte, 0, 1024), setup: time.Since(start)}
	c.stop = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	return c, nil
}

var aLongTimeAgo = time.Unix(1, 0)

// put gives c back for the next request.
func (w *wire) put(c *wconn, now time.Time) {
	c.used, c.lastUsed, c.setup = true, now, 0
	select {
	case w.idle <- c:
	default: // cannot happen: idle holds as many as there are slots
		w.discard(c)
	}
}

// discard closes c and frees its slot.
func (w *wire) discard(c *wconn) {
	_ = c.nc.Close()
	<-w.slots
}

// closeIdle closes the idle connections.
func (w *wire) closeIdle() {
	for {
		select {
		case c := <-w.idle:
			w.discard(c)
		default:
			return
		}
	}
}

// wireRequest is what one attempt sends.
type wireRequest struct {
	method string
	target string // request target: the base URL's path, the route's and the query, escaped
	header http.Header
	auth   []string // Authorization values
	ua     string   // "" = Go's default, as net/http
	ctype  string
	body   []byte
}

// methodRequests tell http.ReadResponse the method an answer is for (it
// reads no body for HEAD). ReadResponse only reads them.
var (
	headRequest  = &http.Request{Method: http.MethodHead}
	otherRequest = &http.Request{Method: http.MethodGet}
)

// roundTrip sends r and fills a's status, header, body, connect, firstByte,
// sent, resent and err (end and latency are the caller's). now is the
// attempt's start on the real clock, for deadlines and firstByte.
func (w *wire) roundTrip(ctx context.Context, r *wireRequest, timeout time.Duration, limit int64, now time.Time, a *attemptResult) {
	if err := ctx.Err(); err != nil {
		a.err = err
		return
	}
	for try := 0; ; try++ {
		c, err := w.get(ctx, now)
		if err != nil {
			a.err = err
			return
		}
		if c.setup > 0 {
			a.connect = c.setup
		}
		reused := c.used
		written, gotByte, keep, err := w.exchange(ctx, c, r, timeout, limit, now, a)
		if keep {
			w.put(c, time.Now())
		} else {
			w.discard(c)
		}
		if err == nil {
			a.sent++
			return
		}
		reached := written > 0
		// A reused connection the server had closed before reading our
		// request: send it again on a new one, as net/http does. The
		// earlier try counts as sent if its bytes left (the server may
		// have read them); then only an idempotent request goes again.
		if reused && !gotByte && ctx.Err() == nil && try < cap(w.slots) && (!reached || idempotent(r.method)) {
			if reached {
				a.sent++
				a.resent++
			}
			continue
		}
		if reached { // an answer byte implies the request was written
			a.sent++
		}
		a.err = err
		return
	}
}

// exchange writes r on c and reads the answer. keep says whether c can
// carry another request.
func (w *wire) exchange(ctx context.Context, c *wconn, r *wireRequest, timeout time.Duration, limit int64, now time.Time, a *attemptResult) (written int, gotByte, keep bool, err error) {
	var dl time.Time // none
	if timeout > 0 {
		dl = now.Add(timeout)
	}
	_ = c.nc.SetDeadline(dl)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, c.stop)
		defer func() {
			if !stop() {
				// The context ended during the exchange (c.stop ran,
				// so ctx.Err() is set): the deadline is in the past,
				// the connection unusable, and the error the context's.
				keep = false
				if err == nil {
					err = ctx.Err()
				} else {
					err = fmt.Errorf("%w (%v)", ctx.Err(), err)
				}
			}
		}()
	}
	buf := appendRequestHead(c.buf[:0], w.host, r)
	big := len(r.body) >= wireBigBody
	if !big {
		buf = append(buf, r.body...)
	}
	c.buf = buf
	n, err := c.nc.Write(buf)
	written += n
	if err == nil && big {
		n, err = c.nc.Write(r.body)
		written += n
	}
	if err != nil {
		return written, false, false, timeoutErr(err, timeout)
	}
	if _, err := c.br.Peek(1); err != nil {
		return written, false, false, timeoutErr(err, timeout)
	}
	gotByte = true
	a.firstByte = time.Since(now)
	mreq := otherRequest
	if r.method == http.MethodHead {
		mreq = headRequest
	}
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(c.br, mreq)
		if err != nil {
			return written, true, false, timeoutErr(err, timeout)
		}
		// 1xx answers (103 Early Hints) come before the real one; 101
		// would switch protocols, which the wire never asks for.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return written, true, false, errors.New("server switched protocols (101) though the request did not ask to")
	}
	a.status, a.header = resp.StatusCode, resp.Header
	keep = !resp.Close
	a.body, err = readBody(resp, limit)
	if err != nil {
		// The answer is known but its body is not whole: the connection
		// is not at a request boundary.
		return written, true, false, fmt.Errorf("reading %d response: %w", resp.StatusCode, timeoutErr(err, timeout))
	}
	return written, true, keep, nil
}

// timeoutErr names Config.AttemptTimeout when err is the deadline it set.
func timeoutErr(err error, timeout time.Duration) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no answer within Config.AttemptTimeout (%v): %w", timeout, err)
	}
	return err
}

// appendRequestHead appends r's request line and headers to b. r.header
// has passed checkHeader.
func appendRequestHead(b []byte, host string, r *wireRequest) []byte {
	b = append(b, r.method...)
	b = append(b, ' ')
	b = append(b, r.target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: "...)
	if r.ua != "" {
		b = append(b, r.ua...)
	} else {
		b = append(b, "Go-http-client/1.1"...)
	}
	b = append(b, "\r\n"...)
	for _, v := range r.auth {
		b = appendHeader(b, "Authorization", v)
	}
	if r.body != nil || r.method == http.MethodPost || r.method == http.MethodPut || r.method == http.MethodPatch {
		if r.body != nil {
			ct := r.ctype
			if ct == "" {
				ct = "application/json"
			}
			b = appendHeader(b, "Content-Type", ct)
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	for k, vs := range r.header {
		if ck := http.CanonicalHeaderKey(k); reservedHeader(ck) || (ck == "Authorization" && r.auth != nil) || (ck == "Content-Type" && r.body != nil) {
			continue // the wire writes these itself
		}
		for _, v := range vs {
			b = appendHeader(b, k, v)
		}
	}
	return append(b, "\r\n"...)
}

// checkHeader refuses header names and values that would break the request
// head (the wire writes them as they are; see appendRequestHead).
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

func appendHeader(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// reservedHeader: headers the wire sets from the request and the
// connection, which Request.Header cannot override (net/http ignores them
// in Header too, or sets them from Request fields).
func reservedHeader(k string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Trailer", "Upgrade", "User-Agent":
		return true
	}
	return false
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
