package api

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pipeServer serves connections made by its dial over net.Pipe: the n-th
// connection (from 0) is served by serve(n, ...).
type pipeServer struct {
	serve func(n int, c net.Conn, br *bufio.Reader)
	conns atomic.Int64
	wg    sync.WaitGroup
}

func (s *pipeServer) dial(context.Context, string, string) (net.Conn, error) {
	cli, srv := net.Pipe()
	n := int(s.conns.Add(1) - 1)
	s.wg.Go(func() {
		defer srv.Close()
		s.serve(n, srv, bufio.NewReader(srv))
	})
	return cli, nil
}

// readRequest reads one request (head and body) or fails.
func readRequest(br *bufio.Reader) bool {
	r, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, r.Body)
	return err == nil
}

func answer(c net.Conn) {
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
}

type countingGate struct{ admitted, done atomic.Int64 }

func (g *countingGate) Admit() error { g.admitted.Add(1); return nil }
func (g *countingGate) Done(int)     { g.done.Add(1) }

// A connection the server closed while it was idle: looked at before reuse
// (probeAfter) it is never written to; written to, the request goes again
// on a new connection when that is safe, as net/http does, and the re-send
// is counted and charged to the Gate.
func TestWireStaleConnection(t *testing.T) {
	const (
		closeAfterAnswer = iota // answers one request, then closes (idle timeout)
		closeUnanswered         // reads one request, closes without answering
	)
	for _, tc := range []struct {
		name       string
		probe      bool
		server     int // what the first connection does with the second request
		method     string
		wantErr    bool
		wantSent   int
		wantConns  int64
		wantAdmits int64
	}{
		{"probed GET", true, closeAfterAnswer, "GET", false, 1, 2, 2},
		{"probed POST", true, closeAfterAnswer, "POST", false, 1, 2, 2},
		{"unprobed GET, nothing written", false, closeAfterAnswer, "GET", false, 1, 2, 2},
		{"unprobed POST, nothing written", false, closeAfterAnswer, "POST", false, 1, 2, 2},
		{"unprobed GET, written, unanswered: sent again", false, closeUnanswered, "GET", false, 2, 2, 3},
		{"unprobed POST, written, unanswered: not sent again", false, closeUnanswered, "POST", true, 1, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := make(chan struct{})
			s := &pipeServer{serve: func(n int, c net.Conn, br *bufio.Reader) {
				if n > 0 {
					for readRequest(br) {
						answer(c)
					}
					return
				}
				if !readRequest(br) {
					return
				}
				answer(c)
				if tc.server == closeAfterAnswer {
					c.Close()
					close(first)
					return
				}
				close(first)
				readRequest(br) // and close unanswered
			}}
			g := &countingGate{}
			cl, err := New(Config{BaseURL: "http://api.invalid", Dial: s.dial, Gate: g, Retry: RetryPolicy{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.probe {
				cl.wire.probeAfter = 0
			} else {
				cl.wire.probeAfter = time.Hour
			}
			if _, err := cl.Do(t.Context(), &Request{Route: "/one"}); err != nil {
				t.Fatal(err)
			}
			<-first // the first connection is now closed, or waiting for the second request
			resp, err := cl.Do(t.Context(), &Request{Method: tc.method, Route: "/two"})
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v; want error: %v", err, tc.wantErr)
			}
			if !tc.wantErr && resp.Status != 200 {
				t.Errorf("status %d", resp.Status)
			}
			if resp.Result.Attempts != tc.wantSent {
				t.Errorf("Attempts %d; want %d", resp.Result.Attempts, tc.wantSent)
			}
			cl.Close()
			s.wg.Wait()
			if n := s.conns.Load(); n != tc.wantConns {
				t.Errorf("%d connections; want %d", n, tc.wantConns)
			}
			if a, d := g.admitted.Load(), g.done.Load(); a != tc.wantAdmits || d != a {
				t.Errorf("gate: %d admitted, %d done; want %d each (re-sends are charged)", a, d, tc.wantAdmits)
			}
		})
	}
}

// The request head is what net/http's server parses back; headers the
// wire sets itself are not repeated from Request.Header.
func TestAppendRequestHead(t *testing.T) {
	r := &wireRequest{method: "PATCH", target: "/a/b?x=1", header: http.Header{"X-One": {"1"}, "Authorization": {"other"}, "Content-Type": {"text/plain"}, "Host": {"evil"}},
		auth: []string{"Bearer t"}, body: []byte(`{"k":"v"}`)}
	head := appendRequestHead(nil, "api.example:8080", r)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(head) + string(r.body))))
	if err != nil {
		t.Fatalf("%v in\n%s", err, head)
	}
	if req.Method != "PATCH" || req.RequestURI != "/a/b?x=1" || req.Host != "api.example:8080" || req.ContentLength != 9 {
		t.Errorf("parsed %s %s Host %s Content-Length %d", req.Method, req.RequestURI, req.Host, req.ContentLength)
	}
	for k, want := range map[string]string{"Authorization": "Bearer t", "Content-Type": "application/json", "X-One": "1", "User-Agent": "Go-http-client/1.1"} {
		if got := req.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q; want exactly %q", k, got, want)
		}
	}
}

// Building a request head allocates nothing once the buffer has grown.
func TestAppendRequestHeadAllocs(t *testing.T) {
	r := &wireRequest{method: "GET", target: "/api/v2/users/u-1", auth: []string{"Bearer token"}}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = appendRequestHead(buf[:0], "127.0.0.1:8080", r) }); n != 0 {
		t.Errorf("%v allocations per head; want 0", n)
	}
}
