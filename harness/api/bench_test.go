//go:build unix

package api_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/internal/helperproc"
)

// The client-overhead benchmarks hit a loopback server running in a child
// process, so that the CPU time measured in this process is the client's
// alone. Run:
//
//	go test -run '^$' -bench 'BareNetHTTP|Client$|ClientOverhead' -benchtime 2000x ./harness/api
//
// BenchmarkClientOverhead runs both loops in one run, interleaved in
// rounds, and reports cpu-ratio = client CPU / bare CPU per request.

const envBenchServer = "CXLOAD_API_BENCH_SERVER"

// TestBenchServer is the child process's server; skipped unless run by
// benchServer. It serves until its stdin closes.
func TestBenchServer(t *testing.T) {
	if os.Getenv(envBenchServer) == "" {
		t.Skip("child process of the client benchmarks")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"u-1","name":"Agent 0001","state":"active","version":1,"selfUri":"/api/v2/users/u-1"}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"bench-token","token_type":"bearer","expires_in":86399}`)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Inin-Ratelimit-Count"] = []string{"1"}
		h["Inin-Ratelimit-Allowed"] = []string{"1000000000"}
		h["Inin-Ratelimit-Reset"] = []string{"60"}
		h["Inin-Correlation-Id"] = []string{"0d9e5c1e-7f6a-4a53-9c1e-2b1c8f0e9a11"}
		w.Write(body)
	})}
	go srv.Serve(ln)
	fmt.Printf("ADDR %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// benchServer starts the child server and returns its base URL.
func benchServer(b *testing.B) string {
	b.Helper()
	addr, stop := helperproc.Start(b, "TestBenchServer", envBenchServer+"=1", "ADDR ", "")
	b.Cleanup(stop)
	return "http://" + addr
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bareLoop is what a hand-written load loop does with net/http: build the
// request, set the bearer token, send, read the whole body, close.
type bareLoop struct {
	hc  *http.Client
	url string
}

// newBare uses what http.Get uses: http.DefaultTransport's settings.
func newBare(base string) *bareLoop {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &bareLoop{hc: &http.Client{Transport: tr}, url: base + "/api/v2/users/u-1"}
}

func (l *bareLoop) do(b *testing.B) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, l.url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header["Authorization"] = []string{"Bearer bench-token"}
	req.Header["Accept"] = []string{"application/json"}
	resp, err := l.hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("bare: %d %v", resp.StatusCode, err)
	}
}

// clientLoop is the same request through api.Client: token pool, client-side
// limiter (limits set high), result recorded.
type clientLoop struct {
	c   *api.Client
	req api.Request
}

func newClientLoop(b *testing.B, base string) *clientLoop {
	pool, err := auth.NewPool(auth.Config{TokenURL: base + "/oauth/token", Clients: []auth.Credentials{{ClientID: "bench", Secret: "bench-secret"}}})
	if err != nil {
		b.Fatal(err)
	}
	lim := api.NewLimits(nil,
		api.Bucket{Key: "client.credentials.token.rate.per.minute", Scope: genesys.ScopeToken, Allowed: 1e9, Window: time.Minute},
		api.Bucket{Key: "org.app.user.rate.per.minute", Scope: genesys.ScopeClientUser, Allowed: 1e9, Window: time.Minute})
	c, err := api.New(api.Config{BaseURL: base, Tokens: pool, Recorder: metrics.NewRecorder(), Agents: 4, Limits: lim})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return &clientLoop{c: c, req: api.Request{Op: "users.get", Route: "/api/v2/users/{id}", Params: []string{"u-1"}}}
}

func (l *clientLoop) do(b *testing.B) {
	r := l.req
	resp, err := l.c.Do(context.Background(), &r)
	if err != nil || resp.Status != 200 {
		b.Fatalf("client: %v %v", resp, err)
	}
}

func BenchmarkBareNetHTTP(b *testing.B) {
	l := newBare(benchServer(b))
	l.do(b) // warm the connection
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		l.do(b)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkClient is BenchmarkBareNetHTTP's request through api.Client.
func BenchmarkClient(b *testing.B) {
	l := newClientLoop(b, benchServer(b))
	l.do(b) // warm the connection
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		l.do(b)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkClientOverhead runs the bare loop and the client loop against the
// same server in one run, alternating rounds of 100 requests so that drift
// (other load on the machine, CPU frequency) hits both alike, and reports
// their CPU per request and the ratio.
func BenchmarkClientOverhead(b *testing.B) {
	base := benchServer(b)
	bare, client := newBare(base), newClientLoop(b, base)
	bare.do(b)
	client.do(b)
	const round = 100
	var bareCPU, clientCPU, bareWall, clientWall time.Duration
	var n int
	b.ResetTimer()
	for b.Loop() {
		c0, w0 := cpuTime(), time.Now()
		for range round {
			bare.do(b)
		}
		c1, w1 := cpuTime(), time.Now()
		for range round {
			client.do(b)
		}
		c2, w2 := cpuTime(), time.Now()
		bareCPU += c1 - c0
		clientCPU += c2 - c1
		bareWall += w1.Sub(w0)
		clientWall += w2.Sub(w1)
		n += round
	}
	b.ReportMetric(float64(bareCPU)/float64(n), "bare-cpu-ns/req")
	b.ReportMetric(float64(clientCPU)/float64(n), "client-cpu-ns/req")
	b.ReportMetric(float64(bareWall)/float64(n), "bare-ns/req")
	b.ReportMetric(float64(clientWall)/float64(n), "client-ns/req")
	if bareCPU > 0 {
		b.ReportMetric(float64(clientCPU)/float64(bareCPU), "cpu-ratio")
	}
}
