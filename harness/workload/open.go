package workload

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/shard"
)

// Open is an open-model executor: iterations start when its [Pacer] says,
// whether or not the target keeps up. Each of its agents runs at most one
// iteration at a time; an arrival that finds every agent busy is dropped and
// counted (in [Stats].Dropped, and through OnDrop), never queued and never
// delayed, so that an overloaded target shows up as drops and as latency
// measured from each iteration's intended start. Arrivals go round the
// agents in order, skipping busy ones, so the load spreads over all of
// them and a run is reproducible.
//
// The scheduler uses one timer for the whole run, whatever the rate.
// Arrivals due at the same instant (or already late) are dispatched at once.
//
// Set the fields, then call Run. An Open runs one Run at a time; its fields
// must not change during a run.
type Open struct {
	// Pacer decides when arrivals happen. Required. To run a shard, it must
	// be a [Schedule] (every pacer of this package is).
	Pacer Pacer
	// Agents is the size of the whole population (all shards); this shard
	// runs the agents it owns, each as one worker. Required > 0.
	Agents int
	// Shard is this machine's part of the run; the zero Shard is the whole.
	// It takes every n-th arrival of Pacer, its agents, and its part of
	// MaxIterations.
	Shard shard.Shard
	// MaxDuration stops arrivals after this long (0: no limit).
	MaxDuration time.Duration
	// MaxIterations stops after this many arrivals of the whole run, dropped
	// ones included (0: no limit).
	MaxIterations uint64
	// GracefulStop bounds how long in-flight iterations may run after
	// arrivals stop, before their context is canceled; 0 means
	// DefaultGracefulStop, negative means cancel at once. A canceled ctx
	// cancels in-flight iterations at once.
	GracefulStop time.Duration
	// OnDrop, if set, is called from the scheduler for every dropped arrival;
	// it must not block.
	OnDrop func(Iteration)

	// Active, if not nil, holds the iterations running now (for progress lines,
	// e.g. metrics.Recorder.Progress's
	// activeAgents). Run adds to it and leaves it as it found it.
	Active *atomic.Int64
}

// Run starts the agents and issues arrivals until the pacer stops,
// MaxDuration elapses, MaxIterations arrivals were issued, or ctx is
// canceled; then it lets in-flight iterations finish (see GracefulStop)
// and returns when every goroutine it started has ended. The error is
// non-nil only when the configuration is invalid.
func (o *Open) Run(ctx context.Context, fn IterFunc) (Stats, error) {
	if o.Pacer == nil {
		return Stats{}, errors.New("workload: Open.Pacer is nil: set a pacer, e.g. workload.ConstantPacer{Freq: 10}")
	}
	if o.Agents <= 0 {
		return Stats{}, fmt.Errorf("workload: Open.Agents = %d: want the population size, > 0", o.Agents)
	}
	if fn == nil {
		return Stats{}, errors.New("workload: Open.Run: nil IterFunc")
	}
	if err := o.Shard.Validate(); err != nil {
		return Stats{}, fmt.Errorf("workload: Open.Shard: %w", err)
	}
	pacer := o.Pacer
	sched, isSched := pacer.(Schedule)
	if !o.Shard.Whole() {
		if !isSched {
			return Stats{}, fmt.Errorf("workload: Open.Pacer %T cannot be sharded (shard %v): it does not implement workload.Schedule", pacer, o.Shard)
		}
		sched = ShardSchedule(o.Shard, sched)
		pacer = sched
	}
	maxIter := o.MaxIterations
	if maxIter > 0 {
		maxIter = o.Shard.Split64(maxIter)
	}
	agents := o.Shard.Agents(o.Agents)

	rs := newRunState(ctx, fn)
	defer rs.cancelIters()
	// Each agent has its own hand-off channel and a busy bit, set by the
	// scheduler at dispatch and cleared by the agent when its iteration
	// returns. Arrivals go round the idle agents in order (see idleSet).
	idle := newIdleSet(len(agents))
	jobs := make([]chan Iteration, len(agents))
	for w, id := range agents {
		ch := make(chan Iteration, 1)
		jobs[w] = ch
		rs.wg.Go(func() {
			for it := range ch {
				it.Agent = id
				it.Start = time.Now()
				gaugeAdd(o.Active, 1)
				rs.run(rs.iterCtx, it)
				gaugeAdd(o.Active, -1)
				idle.release(w)
			}
		})
	}

	var st Stats
	timer := stoppedTimer()
	start := time.Now()
	var hits uint64
	st.Reason = func() StopReason {
		if len(agents) == 0 {
			return StopAgents
		}
		for {
			if ctx.Err() != nil {
				return StopCanceled
			}
			if maxIter > 0 && hits >= maxIter {
				return StopIterations
			}
			elapsed := time.Since(start)
			if o.MaxDuration > 0 && elapsed >= o.MaxDuration {
				return StopDuration
			}
			var (
				wait, due time.Duration
				stop      bool
			)
			if isSched { // one computation of the due time, not two
				var ok bool
				due, ok = sched.Due(hits)
				stop, wait = !ok, max(due-elapsed, 0)
			} else {
				wait, stop = pacer.Pace(elapsed, hits)
				due = elapsed
			}
			if stop {
				return StopPacer
			}
			if wait > 0 {
				if o.MaxDuration > 0 && elapsed+wait > o.MaxDuration {
					wait = o.MaxDuration - elapsed
				}
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					timer.Stop()
					return StopCanceled
				case <-timer.C:
				}
				continue
			}
			// Intended: the pacer's due time, which may be earlier than now
			// when the scheduler runs late.
			it := Iteration{N: hits, Agent: -1, Intended: start.Add(due)}
			hits++
			if w := idle.acquire(); w >= 0 {
				rs.started.Add(1)
				jobs[w] <- it
			} else {
				st.Dropped++
				if o.OnDrop != nil {
					o.OnDrop(it)
				}
			}
		}
	}()
	st.Issuing = time.Since(start)
	st.Arrivals = hits
	for _, ch := range jobs {
		close(ch)
	}
	rs.finish(ctx, timer, gracePeriod(o.GracefulStop))
	rs.stats(&st, start)
	return st, nil
}
