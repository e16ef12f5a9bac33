package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// sendFunc sends one request and returns nil when the target answered 2xx.
// Each worker goroutine has its own sendFunc and calls it sequentially.
type sendFunc func() error

// loadReport is what a loader child process writes on its stdout, one JSON
// line. The parent adds the CPU time and peak RSS from the process's rusage.
type loadReport struct {
	Requests  int64         `json:"requests"`
	Errors    int64         `json:"errors"`
	ErrSample string        `json:"errSample,omitempty"` // the first error, for the footnote
	Elapsed   time.Duration `json:"elapsedNs"`           // from the first send to the last completion
	Rate      float64       `json:"rate"`                // achieved requests per second
	P50       time.Duration `json:"p50Ns"`
	P99       time.Duration `json:"p99Ns"`
	COP99     time.Duration `json:"coP99Ns,omitempty"` // paced only
	Note      string        `json:"note,omitempty"`
	Dropped   int64         `json:"dropped,omitempty"` // paced: arrivals never sent (counted in Requests and Errors)
	// Heap allocations per request in the whole process (setup included),
	// from runtime.MemStats; in-process loaders only.
	AllocsPerReq float64 `json:"allocsPerReq,omitempty"`
	BytesPerReq  float64 `json:"bytesPerReq,omitempty"`
}

// Histogram range: 1µs to 60s with 3 significant figures, in microseconds.
const (
	histMinUS  = 1
	histMaxUS  = 60_000_000
	histSigFig = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinUS, histMaxUS, histSigFig)
}

func recordDur(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	// Values beyond the range are clamped rather than dropped, so that a
	// stalled request still counts in the tail.
	_ = h.RecordValue(min(max(us, histMinUS), histMaxUS))
}

func quantile(h *hdrhistogram.Histogram, q float64) time.Duration {
	if h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
}

// workerStats is one worker goroutine's share; merged after the run so
// that workers share nothing while they run.
type workerStats struct {
	requests, errors      int64
	firstErr              error
	service, co           *hdrhistogram.Histogram
	firstStart, lastStart time.Time
}

func newWorkerStats(paced bool) *workerStats {
	ws := &workerStats{service: newHist()}
	if paced {
		ws.co = newHist()
	}
	return ws
}

func (ws *workerStats) add(err error) {
	ws.requests++
	if err != nil {
		ws.errors++
		if ws.firstErr == nil {
			ws.firstErr = err
		}
	}
}

// closedLoop runs conns workers, each sending requests back to back with
// its own sendFunc until duration has passed, and reports what they did
// together.
func closedLoop(ctx context.Context, conns int, duration time.Duration, newSend func() sendFunc) loadReport {
	stats := make([]*workerStats, conns)
	sends := make([]sendFunc, conns)
	for i := range stats {
		stats[i] = newWorkerStats(false)
		sends[i] = newSend()
	}
	start := time.Now()
	end := start.Add(duration)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			ws, send := stats[i], sends[i]
			for ctx.Err() == nil {
				t := time.Now()
				if !t.Before(end) {
					return
				}
				err := send()
				recordDur(ws.service, time.Since(t))
				ws.add(err)
			}
		})
	}
	wg.Wait()
	return merge(stats, time.Since(start), 0)
}

// pacedLoop sends round(duration×rate) requests at a constant rate with conns
// workers: request i is due at start + i/rate. A worker takes the next due
// request, sleeps until it is due (if it is not late already) and sends it.
// Latency is measured both from the actual send (service time) and from
// the due time (CO-corrected): when every worker is busy, a request waits
// and that wait counts.
func pacedLoop(ctx context.Context, conns int, duration time.Duration, rate float64, newSend func() sendFunc) loadReport {
	total := int64(duration.Seconds()*rate + 0.5)
	stats := make([]*workerStats, conns)
	sends := make([]sendFunc, conns)
	for i := range stats {
		stats[i] = newWorkerStats(true)
		sends[i] = newSend()
	}
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			ws, send := stats[i], sends[i]
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if n >= total {
					return
				}
				due := start.Add(time.Duration(float64(n) * float64(time.Second) / rate))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				t := time.Now()
				if ws.firstStart.IsZero() {
					ws.firstStart = t
				}
				ws.lastStart = t
				err := send()
				done := time.Now()
				recordDur(ws.service, done.Sub(t))
				recordDur(ws.co, done.Sub(due))
				ws.add(err)
			}
		})
	}
	wg.Wait()
	return merge(stats, time.Since(start), rate)
}

// merge adds up the workers' stats. For paced load (rate > 0) the achieved
// rate is the arrival rate of the actual sends, (n-1)/(last-first); for a
// closed loop it is completions over elapsed time.
func merge(stats []*workerStats, elapsed time.Duration, rate float64) loadReport {
	var r loadReport
	service := newHist()
	var co *hdrhistogram.Histogram
	if rate > 0 {
		co = newHist()
	}
	var first, last time.Time
	for _, ws := range stats {
		r.Requests += ws.requests
		r.Errors += ws.errors
		if ws.firstErr != nil && r.ErrSample == "" {
			r.ErrSample = ws.firstErr.Error()
		}
		service.Merge(ws.service)
		if co != nil {
			co.Merge(ws.co)
		}
		if !ws.firstStart.IsZero() && (first.IsZero() || ws.firstStart.Before(first)) {
			first = ws.firstStart
		}
		if ws.lastStart.After(last) {
			last = ws.lastStart
		}
	}
	r.Elapsed = elapsed
	r.P50 = quantile(service, 50)
	r.P99 = quantile(service, 99)
	switch {
	case rate > 0:
		r.COP99 = quantile(co, 99)
		if span := last.Sub(first); r.Requests > 1 && span > 0 {
			r.Rate = float64(r.Requests-1) / span.Seconds()
		}
	case elapsed > 0:
		r.Rate = float64(r.Requests) / elapsed.Seconds()
	}
	return r
}

// newBareClient returns the baseline's client: net/http with keep-alive
// and exactly conns connections to the target, no proxy, no compression,
// no HTTP/2.
func newBareClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}}
}

// bareSend returns a sendFunc for the bare loop: what client.Get(url) does
// (a new request per call), the body read to the end and closed so that the
// connection is reused.
func bareSend(client *http.Client, url string) (func() sendFunc, error) {
	if _, err := http.NewRequest(http.MethodGet, url, nil); err != nil {
		return nil, fmt.Errorf("peers: target URL %q: %w", url, err)
	}
	return func() sendFunc {
		return func() error {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}, nil
}
