package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/internal/helperproc"
)

// envSim makes the test binary run TestHelperSim: gcsim for the benchmark.
const envSim = "CXLOAD_NOTIFY_BENCH_SIM"

// BenchmarkIdleClients opens idle notification clients against gcsim
// running in a child process (this test binary as TestHelperSim, on
// 127.0.0.1 TCP, channel and rate limits raised so that one token can open
// them all) and reports the harness memory per client: live heap plus
// goroutine stacks after a GC, divided by the clients. Each iteration opens
// the whole population once: run with -benchtime=1x. 10,000 clients (1,000
// with -short) need that many file descriptors in each process: ulimit -n
// above about 10,100 (Go raises the soft limit to the hard one).
//
//	B/client           harness memory per idle client (target: <= 16 KiB)
//	stackB/client      the goroutine stack part of it
//	goroutines/client
func BenchmarkIdleClients(b *testing.B) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for range b.N {
		benchIdleClients(b, n)
	}
}

func benchIdleClients(b *testing.B, n int) {
	b.Helper()
	url, stop := helperproc.Start(b, "TestHelperSim", envSim+"=1", "url ", "")
	defer stop()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer hc.CloseIdleConnections()
	tokSrc := benchToken(b, hc, url)
	col := NewCollector()
	o := Options{API: newAPI(b, url, hc, tokSrc), Collector: col, PingInterval: -1}

	// Warm up shared state (pools, transport, collector) with one client.
	warm, err := Open(context.Background(), withTopic(o, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer warm.Close()
	m0, s0 := helperproc.LiveBytes()
	g0 := runtime.NumGoroutine()

	b.StartTimer()
	clients := make([]*Client, n)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() != nil {
					return
				}
				c, err := Open(context.Background(), withTopic(o, i+1))
				if err != nil {
					failed.Store(fmt.Sprintf("client %d of %d: %v (ulimit -n?)", i+1, n, err))
					return
				}
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	hc.CloseIdleConnections()
	m1, s1 := helperproc.LiveBytes()
	g1 := runtime.NumGoroutine()
	b.ReportMetric(float64(m1-m0)/float64(n), "B/client")
	b.ReportMetric(float64(s1-s0)/float64(n), "stackB/client")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/client")
	b.ReportMetric(float64(n), "clients")
}

func withTopic(o Options, i int) Options {
	o.Topics = []string{"v2.users." + gcsim.UserID(i%1000) + ".presence"}
	return o
}

func benchToken(b *testing.B, hc *http.Client, url string) func(context.Context) (string, error) {
	req, _ := http.NewRequest("POST", url+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth(gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonDecode(resp, &body); err != nil {
		b.Fatal(err)
	}
	return func(context.Context) (string, error) { return body.AccessToken, nil }
}

// TestHelperSim is BenchmarkIdleClients' gcsim process: it serves on
// 127.0.0.1 with channel and rate limits raised, prints "url <URL>", and
// serves until stdin closes.
func TestHelperSim(t *testing.T) {
	if os.Getenv(envSim) == "" {
		t.Skip("run by BenchmarkIdleClients only")
	}
	p := gcsim.DefaultProfile()
	p.Notifications.MaxChannelsPerOwner = 1 << 20
	for i := range p.Limits {
		p.Limits[i].Allowed = 1 << 30
	}
	s := gcsim.NewServer(p)
	defer s.Close()
	fmt.Printf("url %s\n", s.URL())
	bufio.NewReader(os.Stdin).ReadString(0)
}

func jsonDecode(resp *http.Response, v any) error {
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
