package gcsim_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// The tests below run on the pipe listener inside a synctest bubble: the
// server's deadlines run on the bubble's fake clock, so minutes pass at once.

// dialRaw opens a raw connection to a pipe server, closed at cleanup.
func dialRaw(tb testing.TB, s *gcsim.Server) net.Conn {
	tb.Helper()
	conn, err := s.DialContext(context.Background(), "tcp", "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// closedWithin reads conn until the server closes it and returns how long
// that took, or fails the test if it is still open after limit.
func closedWithin(tb testing.TB, conn net.Conn, limit time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("the connection is still open after %v, want it closed by the server", limit)
	}
	return time.Since(start)
}

// TestIdleConnectionClosed: an idle keep-alive connection is closed, but
// only after net/http clients (90 s) would have dropped it themselves.
func TestIdleConnectionClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		conn := dialRaw(t, s)
		io.WriteString(conn, "GET /admin/stats HTTP/1.1\r\nHost: localhost\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("GET /admin/stats: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		if d := closedWithin(t, conn, 10*time.Minute); d <= 90*time.Second || d > 3*time.Minute {
			t.Errorf("idle connection closed after %v, want after 90s and within 3m", d)
		}
	})
}

// TestSlowClientsCut: a client that sends its headers or its body a byte
// a second does not hold a connection (and a handler) for long.
func TestSlowClientsCut(t *testing.T) {
	body := strings.Repeat(" ", 998) + "{}"
	tests := []struct {
		name  string
		head  string // sent at once
		slow  string // then one byte a second
		limit time.Duration
	}{
		{"slow headers", "", "GET /admin/stats HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + strings.Repeat("a", 600) + "\r\n\r\n", 15 * time.Second},
		{"slow body", "PUT /admin/faults HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", body, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newPipeServer(t, nil)
				conn := dialRaw(t, s)
				start := time.Now()
				answered := make(chan *http.Response, 1)
				go func() {
					resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
					if err != nil {
						resp = nil
					} else {
						resp.Body.Close()
					}
					answered <- resp
				}()
				io.WriteString(conn, tt.head)
				for i := 0; i < len(tt.slow); i++ {
					time.Sleep(time.Second)
					if _, err := io.WriteString(conn, tt.slow[i:i+1]); err != nil {
						break // the server closed the connection
					}
					if len(answered) > 0 {
						break
					}
				}
				resp := <-answered
				if d := time.Since(start); d > tt.limit {
					t.Errorf("the server cut the slow client after %v, want within %v", d, tt.limit)
				}
				if resp != nil && resp.StatusCode == 200 {
					t.Errorf("slow request answered 200, want it refused or cut")
				}
			})
		})
	}
}

// TestSlowReaderCut: a client that sends a request and never reads the
// answer does not hold the connection (and the handler) for long.
func TestSlowReaderCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		conn := dialRaw(t, s)
		io.WriteString(conn, "GET /admin/stats HTTP/1.1\r\nHost: localhost\r\n\r\n")
		time.Sleep(5 * time.Minute) // not reading: the server's write waits
		if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
			resp.Body.Close()
			t.Fatalf("after 5 minutes the answer (%d) was still waiting to be read, want the connection cut", resp.StatusCode)
		}
	})
}

// TestLatencyFaultOutlastsTimeouts: an injected latency longer than the
// server's read and write timeouts still ends in a full answer, for a
// request without a body and for one whose body is read after the latency.
func TestLatencyFaultOutlastsTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		s.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{
			"*": {Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(5 * time.Minute)}}}})
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", queuesPath, nil},
			// A body larger than the server's read buffer: most of it is read after the latency.
			{"PATCH", "/api/v2/users/" + gcsim.UserID(0) + "/presences/purecloud", `{"presenceDefinition":{"id":"` + gcsim.PresenceID(0) + `"}}` + strings.Repeat(" ", 100<<10)},
		} {
			start := time.Now()
			if r := do(t, s, req.method, req.path, tok, req.body); r.Status != 200 {
				t.Errorf("%s %s with a 5 minute latency: %d %s, want 200", req.method, req.path, r.Status, r.Body)
			}
			if d := time.Since(start); d != 5*time.Minute {
				t.Errorf("%s %s answered after %v, want 5m (the injected latency)", req.method, req.path, d)
			}
		}
	})
}

// TestWebSocketOutlastsTimeouts: a notification socket is a hijacked
// connection: the HTTP server's read, write and idle timeouts do not apply
// to it, and its heartbeats keep coming.
func TestWebSocketOutlastsTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		tok := userToken(t, s, 0)
		_, ws := openChannel(t, s, tok)
		start := time.Now()
		beats := 0
		for time.Since(start) < 10*time.Minute {
			ws.SetReadDeadline(time.Now().Add(time.Minute))
			var e event
			if err := ws.ReadJSON(&e); err != nil {
				t.Fatalf("socket ended after %v (%d heartbeats): %v", time.Since(start), beats, err)
			}
			beats++
		}
		if beats < 19 { // one every 30 s
			t.Errorf("%d heartbeats in 10 minutes, want one every 30s", beats)
		}
	})
}
