package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/cxload/cxload/harness/result"
)

// DefaultProgressInterval is the progress interval used when Progress is
// given a non-positive one.
const DefaultProgressInterval = 5 * time.Second

// ProgressStats is what a progress line reports.
type ProgressStats struct {
	Elapsed   time.Duration // since the recorder started
	Requests  int64         // results recorded so far
	Status429 int64         // of which status 429
	Errors    int64         // http_error + server_error + transport_error
	P99       time.Duration // service time over all operations so far
}

// ProgressStats returns the totals a progress line reports, as of now.
func (r *Recorder) ProgressStats() ProgressStats {
	p := ProgressStats{Elapsed: r.cfg.now().Sub(r.start)}
	h := result.NewHDR()
	for _, e := range r.entries() {
		e.mu.Lock()
		for o := range e.agg.outcomes {
			oa := &e.agg.outcomes[o]
			if oa.latency == nil {
				continue
			}
			p.Requests += oa.count
			switch result.Outcome(o) {
			case result.HTTPError, result.ServerError, result.TransportError:
				p.Errors += oa.count
			}
			h.Merge(oa.latency)
		}
		p.Status429 += e.agg.status429
		e.mu.Unlock()
	}
	if h.TotalCount() > 0 {
		p.P99 = time.Duration(h.ValueAtPercentile(99)) * time.Microsecond
	}
	return p
}

// Progress logs one line every interval until ctx ends, then returns; run it
// in its own goroutine and wait for it before the test returns (t.Logf after
// a test ends panics). A line reads:
//
//	cxload-progress: elapsed=12s agents=100 rps=812 429s=23 errors=0 p99=45ms
//
// rps is the rate over the last interval; 429s, errors and p99 are totals so
// far. activeAgents may be nil (agents=- is printed). Under -v, or with
// go test -json, the lines are visible while the run goes on.
func (r *Recorder) Progress(ctx context.Context, interval time.Duration, logf func(format string, args ...any), activeAgents func() int) {
	if interval <= 0 {
		interval = DefaultProgressInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := r.ProgressStats()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p := r.ProgressStats()
		logf("%s", r.progressLine(p, last, activeAgents))
		last = p
	}
}

func (r *Recorder) progressLine(p, last ProgressStats, activeAgents func() int) string {
	agents := "-"
	if activeAgents != nil {
		agents = strconv.Itoa(activeAgents())
	}
	rps := 0.0
	if dt := p.Elapsed - last.Elapsed; dt > 0 {
		rps = float64(p.Requests-last.Requests) / dt.Seconds()
	}
	return result.ProgressPrefix + "elapsed=" + p.Elapsed.Round(time.Second).String() +
		" agents=" + agents +
		" rps=" + strconv.FormatFloat(rps, 'f', 0, 64) +
		" 429s=" + strconv.FormatInt(p.Status429, 10) +
		" errors=" + strconv.FormatInt(p.Errors, 10) +
		" p99=" + result.FormatDuration(p.P99)
}
