package api

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

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
