package workload

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultGracefulStop is how long an executor lets in-flight iterations
// finish after it stops starting new ones, when GracefulStop is zero
// (k6's default). After it, their context is canceled.
const DefaultGracefulStop = 30 * time.Second

// An Iteration is one unit of work an executor hands to an [IterFunc].
type Iteration struct {
	// Agent is the id (0-based, over the whole population) of the agent
	// running the iteration; with shards, an agent the shard owns.
	Agent int
	// N numbers the iteration: the arrival number of this shard's pacer
	// (open), or the agent's own iteration count from 0 (closed).
	N uint64
	// Intended is when the iteration should have started: the pacer's due
	// time (open), or the end of the agent's think time (closed). Latency
	// measured from Intended includes any delay the harness added, so it is
	// free of coordinated omission; set metrics.Result.Intended from it.
	Intended time.Time
	// Start is when the iteration actually started.
	Start time.Time
}

// An IterFunc does one iteration. It must return soon after ctx is
// canceled: the executor waits for it. An error is counted in
// [Stats].Errors and does not stop the run (the outcome of a request is
// data; only a fault of the harness itself should stop a run).
type IterFunc func(ctx context.Context, it Iteration) error

// StopReason says why an executor stopped starting iterations.
type StopReason string

// The reasons an executor stops.
const (
	StopPacer      StopReason = "pacer"      // the pacer or the ramp ended
	StopDuration   StopReason = "duration"   // MaxDuration elapsed
	StopIterations StopReason = "iterations" // MaxIterations were started (or issued, open)
	StopCanceled   StopReason = "canceled"   // the context was canceled
	StopAgents     StopReason = "agents"     // every agent finished (closed, no agents or all inactive for good)
)

// Stats counts what an executor did in one run.
type Stats struct {
	Arrivals    uint64        // open: arrivals the pacer issued (Started + Dropped); closed: Started
	Started     uint64        // iterations started
	Dropped     uint64        // open: arrivals that found every agent busy and were not run
	Completed   uint64        // iterations that returned before being interrupted (errors included)
	Errors      uint64        // iterations that returned an error
	Interrupted uint64        // iterations still running when the graceful stop ended or the context was canceled
	Reason      StopReason    // why it stopped starting iterations
	Issuing     time.Duration // from the start to when it stopped starting iterations
	Elapsed     time.Duration // from the start to when the last iteration returned
}

// String summarizes s in one line.
func (s Stats) String() string {
	return fmt.Sprintf("arrivals=%d started=%d dropped=%d completed=%d errors=%d interrupted=%d reason=%s issuing=%v elapsed=%v",
		s.Arrivals, s.Started, s.Dropped, s.Completed, s.Errors, s.Interrupted, s.Reason, s.Issuing, s.Elapsed)
}

// runState is what the iterations of one run share.
type runState struct {
	fn          IterFunc
	iterCtx     context.Context // canceled when the graceful stop ends or ctx is canceled
	cancelIters context.CancelFunc
	wg          sync.WaitGroup

	started, completed, errors, interrupted atomic.Uint64
	inFlight                                atomic.Int64
}

func newRunState(ctx context.Context, fn IterFunc) *runState {
	rs := &runState{fn: fn}
	rs.iterCtx, rs.cancelIters = context.WithCancel(ctx)
	return rs
}

// run runs one iteration with ctx (rs.iterCtx or one derived from it) and
// counts it.
func (rs *runState) run(ctx context.Context, it Iteration) {
	rs.inFlight.Add(1)
	err := rs.fn(ctx, it)
	rs.inFlight.Add(-1)
	if ctx.Err() != nil {
		rs.interrupted.Add(1)
	} else {
		rs.completed.Add(1)
	}
	if err != nil {
		rs.errors.Add(1)
	}
}

// finish lets in-flight work end within grace (at once if the context is
// already canceled), then cancels what is left and waits for it. timer is
// the executor's one timer, stopped.
func (rs *runState) finish(ctx context.Context, timer *time.Timer, grace time.Duration) {
	done := make(chan struct{})
	go func() { rs.wg.Wait(); close(done) }()
	if ctx.Err() == nil && grace > 0 {
		timer.Reset(grace)
		select {
		case <-done:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	rs.cancelIters()
	<-done
}

func (rs *runState) stats(s *Stats, start time.Time) {
	s.Started = rs.started.Load()
	s.Completed = rs.completed.Load()
	s.Errors = rs.errors.Load()
	s.Interrupted = rs.interrupted.Load()
	s.Elapsed = time.Since(start)
}

func gracePeriod(g time.Duration) time.Duration {
	switch {
	case g == 0:
		return DefaultGracefulStop
	case g < 0:
		return 0
	}
	return g
}

// stoppedTimer returns a timer that is not running, for Reset.
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// gaugeAdd adds d to g, if g is not nil.
func gaugeAdd(g *atomic.Int64, d int64) {
	if g != nil {
		g.Add(d)
	}
}
