package gcsim_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// highLimits is the default profile with every limit on but set too high to
// reject: the benchmark pays for the bucket checks without 429s.
func highLimits() *gcsim.Profile {
	p := gcsim.DefaultProfile()
	for i := range p.Limits {
		p.Limits[i].Allowed = 1 << 40
	}
	return p
}

// BenchmarkAuthenticatedGET measures authenticated GET routingstatus
// requests per second, client and server in one process over loopback TCP,
// with keep-alive connections. Run it on one core with -cpu 1.
func BenchmarkAuthenticatedGET(b *testing.B) {
	s := newServer(b, highLimits())
	tok := token(b, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	url := s.URL() + routingStatusPath(0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true}}
	defer client.CloseIdleConnections()
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0, _ := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	reportRate(b, start, cpu0)
}

// discardWriter is a reusable http.ResponseWriter for handler benchmarks.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkHandler measures the server's own cost per authenticated GET
// (routing, token lookup, three bucket checks, headers, body), no network.
func BenchmarkHandler(b *testing.B) {
	s := newServer(b, highLimits())
	tok := token(b, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	h := s.Handler()
	req, _ := http.NewRequest("GET", s.URL()+routingStatusPath(0), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		r := req.Clone(req.Context())
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkServerCapacity measures what the server sustains when the
// client is cheap, like wrk or vegeta's raw mode: 8 keep-alive loopback
// connections, each sending a fixed HTTP/1.1 request and reading the answer
// with a minimal parser (status line, headers, Content-Length body). Client
// and server share the process and, with -cpu 1, one core.
func BenchmarkServerCapacity(b *testing.B) {
	s := newServer(b, highLimits())
	tok := token(b, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	host := strings.TrimPrefix(s.URL(), "http://")
	req := []byte("GET " + routingStatusPath(0) + " HTTP/1.1\r\nHost: " + host +
		"\r\nAuthorization: Bearer " + tok + "\r\nUser-Agent: bench\r\n\r\n")
	const conns = 8
	var mu sync.Mutex
	pool := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range pool {
			c.Close()
		}
	}()
	b.SetParallelism(conns)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0, _ := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", host)
		if err != nil {
			b.Error(err)
			return
		}
		mu.Lock()
		pool = append(pool, c)
		mu.Unlock()
		br := bufio.NewReaderSize(c, 4096)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if err := readResponse(br); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, start, cpu0)
}

// readResponse reads one HTTP/1.1 response with a Content-Length body and
// fails unless its status is 200.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200")) {
		return io.ErrUnexpectedEOF
	}
	n := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err = br.Discard(n)
	return err
}

// reportRate reports req/s (wall clock) and req/cpu-s: requests per second
// of CPU the process (client and server) used. On a shared machine other
// processes steal wall time but not this process's CPU time, so with
// -cpu 1 req/cpu-s is the rate one dedicated core would sustain.
func reportRate(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if cpu1, ok := cpuTime(); ok && cpu1 > cpu0 {
		b.ReportMetric(float64(b.N)/(cpu1-cpu0).Seconds(), "req/cpu-s")
	}
}

// BenchmarkHandler429 measures the refusal path: a token far over its
// limit, every request answered 429 with headers and an genesys.ErrorBody.
func BenchmarkHandler429(b *testing.B) {
	p := gcsim.DefaultProfile()
	for i := range p.Limits {
		if p.Limits[i].Key == genesys.KeyClientCredentialsToken {
			p.Limits[i].Allowed = 1
		}
	}
	s := newServer(b, p)
	tok := token(b, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	h := s.Handler()
	req, _ := http.NewRequest("GET", s.URL()+routingStatusPath(0), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		r := req.Clone(req.Context())
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}
