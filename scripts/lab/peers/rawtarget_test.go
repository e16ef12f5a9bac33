package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRaw serves the raw target on 127.0.0.1 until cleanup and returns
// its address.
func startRaw(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := newRawServer(ln)
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// dialRaw connects to the raw target at addr until cleanup. Its deadline
// is a bound, not a timing assertion: a broken target fails the test
// instead of hanging it.
func dialRaw(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		tb.Fatal(err)
	}
	return c
}

// checkAnswer fails unless resp is the target's 200 answer (read to the
// end): the headers of targetHandler's answer and, unless for HEAD, its body.
func checkAnswer(tb testing.TB, resp *http.Response, head bool) {
	tb.Helper()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		tb.Fatalf("reading the body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Errorf("status = %q, want 200 OK", resp.Status)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		tb.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := resp.Header.Get("Content-Length"); got != "82" {
		tb.Errorf("Content-Length = %q, want 82", got)
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Hour || time.Until(d) > time.Hour {
		tb.Errorf("Date = %q (%v), want the time now in http.TimeFormat", resp.Header.Get("Date"), err)
	}
	want := targetBody
	if head {
		want = ""
	}
	if string(body) != want {
		tb.Errorf("body = %q, want %q", body, want)
	}
}

// TestRawTargetHTTPClient has net/http's client talk to the raw target:
// GET, POST with a body, HEAD, several on one kept-alive connection.
func TestRawTargetHTTPClient(t *testing.T) {
	addr := startRaw(t)
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var conns, reused int
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		conns++
		if info.Reused {
			reused++
		}
	}}
	tests := []struct {
		method string
		body   string
	}{
		{method: http.MethodGet},
		{method: http.MethodPost, body: strings.Repeat("x", 10000)},
		{method: http.MethodHead},
		{method: http.MethodPut, body: `{"a":1}`},
		{method: http.MethodPost, body: "chunked"}, // an io.Reader of unknown length: sent chunked
		{method: http.MethodGet},
	}
	for _, tt := range tests {
		var body io.Reader
		switch tt.body {
		case "":
		case "chunked":
			body = io.MultiReader(strings.NewReader(strings.Repeat("c", 5000)), strings.NewReader("end"))
		default:
			body = strings.NewReader(tt.body)
		}
		req, err := http.NewRequest(tt.method, "http://"+addr+"/api/v2/users/1", body)
		if err != nil {
			t.Fatal(err)
		}
		if tt.body == "chunked" && req.ContentLength != 0 {
			t.Fatalf("the chunked case has ContentLength %d, want 0 (unknown)", req.ContentLength)
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		checkAnswer(t, resp, tt.method == http.MethodHead)
	}
	if conns != len(tests) || reused != len(tests)-1 {
		t.Errorf("%d requests took %d connections, %d reused; want one connection kept alive", len(tests), conns-reused, reused)
	}
}

// TestRawMatchesNetHTTP compares the raw target's answer with
// targetHandler's through net/http: the same status, fields and body.
func TestRawMatchesNetHTTP(t *testing.T) {
	srv := httptest.NewServer(targetHandler())
	defer srv.Close()
	addr := startRaw(t)
	get := func(url string) *http.Response {
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp
	}
	want, got := get(srv.URL+"/x"), get("http://"+addr+"/x")
	if got.Status != want.Status || got.Proto != want.Proto {
		t.Errorf("status line %s %s, want %s %s", got.Proto, got.Status, want.Proto, want.Status)
	}
	for _, h := range []http.Header{want.Header, got.Header} {
		if _, err := http.ParseTime(h.Get("Date")); err != nil {
			t.Errorf("Date %q: %v", h.Get("Date"), err)
		}
		h.Del("Date")
	}
	if !equalHeaders(got.Header, want.Header) {
		t.Errorf("fields %v, want %v (Date aside)", got.Header, want.Header)
	}
	gb, _ := io.ReadAll(got.Body)
	wb, _ := io.ReadAll(want.Body)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body %q, want %q", gb, wb)
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// answer is one expected answer on a raw connection.
type answer struct {
	method string // of the request it answers: HEAD answers have no body
	status int
	proto  string // "" = HTTP/1.1
	conn   string // the Connection field, "" = none
}

// TestRawTargetExchanges writes each input in one write to a fresh
// connection and reads the answers in order. When the connection should
// stay open, one more GET must be answered on it; otherwise the target
// must close it (EOF, not a reset, so that the answer was not lost).
func TestRawTargetExchanges(t *testing.T) {
	const get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
	ok := answer{method: "GET", status: 200}
	closed := func(status int) answer { return answer{method: "GET", status: status, conn: "close"} }
	tests := []struct {
		name    string
		input   string
		answers []answer
		open    bool // the connection stays open
	}{
		{name: "one GET", input: get, answers: []answer{ok}, open: true},
		{name: "pipelined GET HEAD POST",
			input: get + "HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
			// Read in order: a HEAD answer out of place would shift every body after it.
			answers: []answer{ok, {method: "HEAD", status: 200}, ok}, open: true},
		{name: "POST body then GET", input: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\n\r\n" + strings.Repeat("b", 3000) + get,
			answers: []answer{ok, ok}, open: true},
		{name: "Connection: close", input: "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", answers: []answer{closed(200)}},
		{name: "Connection: close after a pipelined GET", input: get + "GET / HTTP/1.1\r\nHost: t\r\nconnection: Keep-Alive, CLOSE\r\n\r\n" + get,
			answers: []answer{ok, closed(200)}},
		{name: "HTTP/1.0", input: "GET / HTTP/1.0\r\n\r\n", answers: []answer{{method: "GET", status: 200, proto: "HTTP/1.0", conn: "close"}}},
		{name: "HTTP/1.0 keep-alive", input: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			answers: []answer{{method: "GET", status: 200, proto: "HTTP/1.0", conn: "keep-alive"}}, open: true},
		{name: "HTTP/1.2 as 1.1", input: "GET / HTTP/1.2\r\nHost: t\r\n\r\n", answers: []answer{ok}, open: true},
		{name: "empty lines before the request line", input: "\r\n\r\n" + get, answers: []answer{ok}, open: true},
		{name: "bare LF line ends", input: "GET / HTTP/1.1\nHost: t\n\n", answers: []answer{ok}, open: true},
		{name: "malformed request line", input: "BAD\r\n\r\n", answers: []answer{closed(400)}},
		{name: "no version", input: "GET /\r\nHost: t\r\n\r\n", answers: []answer{closed(400)}},
		{name: "space in the target", input: "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", answers: []answer{closed(400)}},
		{name: "lower-case version", input: "GET / http/1.1\r\nHost: t\r\n\r\n", answers: []answer{closed(400)}},
		{name: "HTTP/2.0", input: "GET / HTTP/2.0\r\nHost: t\r\n\r\n", answers: []answer{closed(505)}},
		{name: "no Host", input: "GET / HTTP/1.1\r\n\r\n", answers: []answer{closed(400)}},
		{name: "two Hosts", input: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", answers: []answer{closed(400)}},
		{name: "field without colon", input: "GET / HTTP/1.1\r\nHost: t\r\nnocolon\r\n\r\n", answers: []answer{closed(400)}},
		{name: "space before colon", input: "GET / HTTP/1.1\r\nHost : t\r\n\r\n", answers: []answer{closed(400)}},
		{name: "obsolete folding", input: "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", answers: []answer{closed(400)}},
		{name: "bare CR", input: "GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", answers: []answer{closed(400)}},
		{name: "bad Content-Length", input: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n", answers: []answer{closed(400)}},
		{name: "two Content-Lengths", input: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", answers: []answer{closed(400)}},
		{name: "equal Content-Lengths", input: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", answers: []answer{ok}, open: true},
		{name: "chunked body then GET", input: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get,
			answers: []answer{ok, ok}, open: true},
		{name: "chunked body, extensions and trailer", input: "POST / HTTP/1.1\r\nHost: t\r\ntransfer-encoding: Chunked\r\n\r\n" +
			"A;name=value\r\n0123456789\r\n1a ; x\r\n" + strings.Repeat("z", 26) + "\r\n0\r\nX-Trailer: 1\r\n\r\n",
			answers: []answer{ok}, open: true},
		{name: "chunked body, bare LF", input: "POST / HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", answers: []answer{ok}, open: true},
		{name: "chunked body, bad size", input: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", answers: []answer{closed(400)}},
		{name: "chunked body, data longer than its size", input: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", answers: []answer{closed(400)}},
		{name: "chunked body, size beyond 15 digits", input: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", answers: []answer{closed(400)}},
		{name: "chunked body, oversized trailer", input: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" +
			strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 20) + "\r\n", answers: []answer{closed(400)}},
		{name: "gzip transfer coding", input: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", answers: []answer{closed(501)}},
		{name: "two Transfer-Encodings", input: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", answers: []answer{closed(400)}},
		{name: "Transfer-Encoding and Content-Length", input: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", answers: []answer{closed(400)}},
		{name: "Transfer-Encoding in HTTP/1.0", input: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", answers: []answer{closed(400)}},
		{name: "oversized head", input: "GET / HTTP/1.1\r\nHost: t\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 20) + "\r\n",
			answers: []answer{closed(431)}},
		{name: "oversized field", input: "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: " + strings.Repeat("p", rawLineMax) + "\r\n\r\n", answers: []answer{closed(431)}},
		{name: "oversized request line", input: "GET /" + strings.Repeat("u", rawLineMax) + " HTTP/1.1\r\nHost: t\r\n\r\n", answers: []answer{closed(414)}},
	}
	addr := startRaw(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			if _, err := io.WriteString(c, tt.input); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			for i, want := range tt.answers {
				readAnswer(t, br, i, want)
			}
			if tt.open {
				if _, err := io.WriteString(c, get); err != nil {
					t.Fatal(err)
				}
				readAnswer(t, br, len(tt.answers), ok)
				return
			}
			if b, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the last answer: read %q, %v; want EOF (the target closes)", b, err)
			}
		})
	}
}

// readAnswer reads the i-th answer from br and checks it against want.
func readAnswer(tb testing.TB, br *bufio.Reader, i int, want answer) {
	tb.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: want.method})
	if err != nil {
		tb.Fatalf("answer %d: %v", i, err)
	}
	proto := cmpOr(want.proto, "HTTP/1.1")
	// ReadResponse turns Connection: close into resp.Close.
	conn := resp.Header.Get("Connection")
	if resp.Close {
		conn = "close"
	}
	if resp.Proto != proto || conn != want.conn {
		tb.Errorf("answer %d: %s, Connection %q; want %s, Connection %q", i, resp.Proto, conn, proto, want.conn)
	}
	if want.status == http.StatusOK {
		checkAnswer(tb, resp, want.method == http.MethodHead)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want.status || err != nil || len(body) != 0 {
		tb.Errorf("answer %d: %s, body %q (%v); want %d with an empty body", i, resp.Status, body, err, want.status)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestRawExpectContinue sends a head with Expect: 100-continue, waits for
// the interim 100 answer, then sends the body.
func TestRawExpectContinue(t *testing.T) {
	c := dialRaw(t, startRaw(t))
	if _, err := io.WriteString(c, "PUT / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("first answer %v, %v; want 100 Continue", resp, err)
	}
	if _, err := io.WriteString(c, "body"); err != nil {
		t.Fatal(err)
	}
	readAnswer(t, br, 1, answer{method: "PUT", status: 200})
}

// TestRawCloseWithOpenConnections closes the server while clients hold
// connections, idle and mid-request: Close must end every goroutine
// (goleak checks in TestMain).
func TestRawCloseWithOpenConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newRawServer(ln)
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	var conns []net.Conn
	for _, input := range []string{"", "GET / HTTP/1.1\r\nHo", "GET / HTTP/1.1\r\nHost: t\r\n\r\n"} {
		c := dialRaw(t, ln.Addr().String())
		if _, err := io.WriteString(c, input); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// The last connection's answer proves the server accepted them all
	// before Close.
	readAnswer(t, bufio.NewReader(conns[2]), 0, answer{method: "GET", status: 200})
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after Close", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts after Close")
	}
}

// TestServeOneAllocs checks that answering a request allocates nothing.
func TestServeOneAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	req := []byte("POST /api/v2/users/1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 2\r\nAuthorization: Bearer x\r\nConnection: keep-alive\r\n\r\n{}")
	in := bytes.NewReader(nil)
	br := bufio.NewReaderSize(in, rawLineMax)
	bw := bufio.NewWriterSize(io.Discard, rawWriteBuf)
	var d rawDate
	d.set(time.Now())
	var h reqHead
	allocs := testing.AllocsPerRun(1000, func() {
		in.Reset(req)
		br.Reset(in)
		if keep, err := serveOne(br, bw, &h, &d); !keep || err != nil {
			t.Fatalf("serveOne = %v, %v", keep, err)
		}
	})
	if allocs != 0 {
		t.Errorf("serveOne allocates %v times per request, want 0", allocs)
	}
}

// BenchmarkServeOne measures the raw target's work per request, without
// the network: parse a typical head, answer into a buffer.
func BenchmarkServeOne(b *testing.B) {
	req := []byte("GET /api/v2/users/3f2c6a1e-8b7d-4c2a-9e1f-5d6b7a8c9d0e HTTP/1.1\r\nHost: 127.0.0.1:40000\r\nUser-Agent: Go-http-client/1.1\r\nAuthorization: Bearer peers-not-a-secret\r\n\r\n")
	in := bytes.NewReader(nil)
	br := bufio.NewReaderSize(in, rawLineMax)
	bw := bufio.NewWriterSize(io.Discard, rawWriteBuf)
	var d rawDate
	d.set(time.Now())
	var h reqHead
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		in.Reset(req)
		br.Reset(in)
		if _, err := serveOne(br, bw, &h, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzServe feeds any bytes to a connection's request loop: it must not
// panic, and whatever it writes must be a sequence of well-formed answers,
// one per request it read, each the target's answer or a refusal that
// closes the connection.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\n\r\nHEAD / HTTP/1.1\r\nHost: t\r\n\r\nPOST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
		"\r\nGET / HTTP/1.1\nHost: t\nConnection: close\n\n",
		"GET / HTTP/9.9\r\n\r\n",
		"BAD\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(input), rawLineMax)
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, rawWriteBuf)
		var d rawDate
		d.set(time.Now())
		var h reqHead
		var methods []string // "HEAD" or "GET" per answered request
		var refused bool
		for range 1000 {
			keep, err := serveOne(br, bw, &h, &d)
			var he *httpError
			switch {
			case err == nil:
				if h.size > rawHeadMax {
					t.Fatalf("accepted a head of %d bytes, limit %d", h.size, rawHeadMax)
				}
				methods = append(methods, map[bool]string{true: "HEAD", false: "GET"}[h.head])
			case errors.As(err, &he):
				refused = true
				methods = append(methods, "GET")
			}
			if !keep || err != nil {
				break
			}
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		rr := bufio.NewReader(&out)
		for i, m := range methods {
			resp, err := http.ReadResponse(rr, &http.Request{Method: m})
			for err == nil && resp.StatusCode == http.StatusContinue {
				resp, err = http.ReadResponse(rr, &http.Request{Method: m})
			}
			if err != nil {
				t.Fatalf("answer %d of %d: %v\noutput:\n%q", i, len(methods), err, out.Bytes())
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("answer %d body: %v", i, err)
			}
			last := i == len(methods)-1
			switch {
			case resp.StatusCode == http.StatusOK:
				if want := map[bool]string{true: "", false: targetBody}[m == "HEAD"]; string(body) != want {
					t.Fatalf("answer %d body %q, want %q", i, body, want)
				}
			case last && refused && resp.StatusCode >= 400 && resp.Close && len(body) == 0:
			default:
				t.Fatalf("answer %d: %s %v %q", i, resp.Status, resp.Header, body)
			}
		}
		// A request whose body never came may leave its interim answer.
		if rest, _ := io.ReadAll(rr); len(rest) > 0 && string(rest) != "HTTP/1.1 100 Continue\r\n\r\n" {
			t.Fatalf("output after the %d answers: %q", len(methods), rest)
		}
	})
}

// TestServeTarget runs the target child's code in this process for each
// kind: it prints its URL, answers, and returns once its stdin closes.
func TestServeTarget(t *testing.T) {
	for _, kind := range targetKinds {
		t.Run(kind, func(t *testing.T) {
			stdinR, stdinW := io.Pipe()
			stdoutR, stdoutW := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- serveTarget(context.Background(), kind, stdinR, stdoutW)
				stdoutW.Close()
			}()
			line, err := bufio.NewReader(stdoutR).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "http://127.0.0.1:") {
				t.Fatalf("first line %q, %v; want the target's URL", line, err)
			}
			go io.Copy(io.Discard, stdoutR)
			tr := &http.Transport{DisableCompression: true}
			resp, err := (&http.Client{Transport: tr}).Get(strings.TrimSpace(line) + "api/v2/users/1")
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, resp, false)
			tr.CloseIdleConnections()
			stdinW.Close()
			if err := <-done; err != nil {
				t.Errorf("serveTarget = %v after stdin closed, want nil", err)
			}
		})
	}
	if err := serveTarget(context.Background(), "nginx", strings.NewReader(""), io.Discard); err == nil || !strings.Contains(err.Error(), `unknown kind "nginx"`) {
		t.Errorf("serveTarget(nginx) = %v, want an error naming the kind", err)
	}
}

// TestTargetChildProfile runs the target child with a profile prefix (as
// -pprof passes it) and a stdin that is already closed: it serves, stops
// at once and leaves its profiles.
func TestTargetChildProfile(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "target-raw")
	var stdout bytes.Buffer
	if err := runChild(context.Background(), []string{"target", targetRaw, prefix}, strings.NewReader(""), &stdout, io.Discard); err != nil {
		t.Fatalf("target child: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "http://127.0.0.1:") {
		t.Errorf("target child printed %q, want its URL", stdout.String())
	}
	for _, suffix := range []string{".cpu.pprof", ".allocs.pprof", ".mutex.pprof"} {
		if fi, err := os.Stat(prefix + suffix); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v, want a profile", prefix+suffix, err)
		}
	}
}
