package streaming

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/internal/helperproc"
)

// envIdleClients names the file of connectUris that TestHelperIdleClients
// dials when the benchmark runs the test binary as its client process.
const envIdleClients = "CXLOAD_STREAMING_IDLE_CLIENTS"

// BenchmarkIdleSockets holds idle notification sockets over real loopback
// TCP and reports the hub's memory per socket. The clients run in a child
// process (this test binary again, as TestHelperIdleClients), so the
// measured process holds only the server side: 10,000 sockets need about
// 10,050 file descriptors here (the default ulimit -n of 1024 is too small;
// Go raises the soft limit to the hard one at start-up) and as many in the
// child. Kernel socket buffers are not in the figure.
//
// Each iteration connects the whole population once; run it with
// -benchtime=1x. -short uses 1,000 sockets. Metrics:
//
//	B/socket     live heap + goroutine stacks per connected socket (channel excluded)
//	stackB/socket  the goroutine stack part of B/socket
//	B/channel    live heap per channel with one topic, before any socket
//	goroutines/socket
func BenchmarkIdleSockets(b *testing.B) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for range b.N {
		benchIdleSockets(b, n)
	}
}

func benchIdleSockets(b *testing.B, n int) {
	b.Helper()
	b.StopTimer()
	hub := NewHub(Config{HeartbeatInterval: time.Hour})
	defer hub.Close()
	addr, stop := serveHub(b, hub)
	defer stop()

	base := "ws://" + addr
	m0, _ := helperproc.LiveBytes()
	uris := make([]string, n)
	for i := range uris {
		ch, err := hub.CreateChannel("owner-"+strconv.Itoa(i), base)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := hub.Subscribe(ch.ID, []string{"v2.users.user-" + strconv.Itoa(i) + ".presence"}, false); err != nil {
			b.Fatal(err)
		}
		uris[i] = ch.ConnectURI
	}
	f, err := os.CreateTemp(b.TempDir(), "uris")
	if err != nil {
		b.Fatal(err)
	}
	f.WriteString(strings.Join(uris, "\n"))
	f.Close()
	uris = nil
	m1, s1 := helperproc.LiveBytes()
	g1 := runtime.NumGoroutine()

	b.StartTimer()
	_, stopClients := helperproc.Start(b, "TestHelperIdleClients", envIdleClients+"="+f.Name(), "ready",
		fmt.Sprintf("(check ulimit -n: %d sockets need about %d file descriptors)", n, n+50))
	defer stopClients()
	deadline := time.Now().Add(30 * time.Second)
	for hub.Stats().Sockets < int64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // benchmark setup, not a test of time
	}
	if got := hub.Stats().Sockets; got != int64(n) {
		b.Fatalf("hub holds %d sockets, want %d", got, n)
	}
	b.StopTimer()
	m2, s2 := helperproc.LiveBytes()
	g2 := runtime.NumGoroutine()
	b.ReportMetric(float64(m1-m0)/float64(n), "B/channel")
	b.ReportMetric(float64(m2-m1)/float64(n), "B/socket")
	b.ReportMetric(float64(s2-s1)/float64(n), "stackB/socket")
	b.ReportMetric(float64(g2-g1)/float64(n), "goroutines/socket")
	b.ReportMetric(float64(n), "sockets")
}

// serveHub serves hub's sockets at GET /channels/{id} on 127.0.0.1 TCP and
// returns the address and a func that stops the server.
func serveHub(b *testing.B, hub *Hub) (addr string, stop func()) {
	b.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /channels/{id}", func(w http.ResponseWriter, r *http.Request) {
		hub.ServeWS(w, r, r.PathValue("id"))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(l) }()
	return l.Addr().String(), func() { srv.Close(); <-served }
}

// TestHelperIdleClients is BenchmarkIdleSockets' client process: it dials
// every connectUri in the file named by CXLOAD_STREAMING_IDLE_CLIENTS, prints
// "ready", and holds the sockets, without reading, until stdin closes.
func TestHelperIdleClients(t *testing.T) {
	file := os.Getenv(envIdleClients)
	if file == "" {
		t.Skip("run by BenchmarkIdleSockets only")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return
	}
	uris := strings.Split(string(data), "\n")
	conns := make([]*websocket.Conn, len(uris))
	d := websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256, HandshakeTimeout: 10 * time.Second}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(uris) || failed.Load() != nil {
					return
				}
				c, resp, err := d.DialContext(context.Background(), uris[i], nil)
				if err != nil {
					failed.Store(fmt.Sprintf("dial %d of %d: %v", i+1, len(uris), err))
					return
				}
				resp.Body.Close()
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		fmt.Printf("error: %s\n", f)
	} else {
		fmt.Println("ready")
	}
	bufio.NewReader(os.Stdin).ReadString(0) // until the benchmark closes stdin
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// BenchmarkPublishFanout publishes events to a topic that 100 sockets
// subscribe, over loopback TCP with in-process gorilla clients draining
// them, and measures until every socket has every event. deliveries/s is
// messages written to sockets per second.
func BenchmarkPublishFanout(b *testing.B) {
	const subscribers = 100
	hub := NewHub(Config{HeartbeatInterval: time.Hour, SendBuffer: 1 << 20})
	defer hub.Close()
	addr, stop := serveHub(b, hub)
	defer stop()

	var received atomic.Int64
	var readers sync.WaitGroup
	var conns []*websocket.Conn
	for i := range subscribers {
		ch, _ := hub.CreateChannel("o"+strconv.Itoa(i), "ws://"+addr)
		hub.Subscribe(ch.ID, []string{"v2.routing.queues.q1.conversations"}, false)
		c, resp, err := websocket.DefaultDialer.Dial(ch.ConnectURI, nil)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		conns = append(conns, c)
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}()
	for hub.Stats().Sockets < subscribers {
		time.Sleep(time.Millisecond)
	}
	body := map[string]any{"id": "conv-1", "participants": []any{map[string]string{"purpose": "agent"}}}
	b.ResetTimer()
	for range b.N {
		hub.Publish("v2.routing.queues.q1.conversations", body, "corr")
	}
	want := int64(b.N) * subscribers
	for received.Load() < want {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
}
