package workload

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/shard"
)

// Closed is a closed-model executor: each active agent loops, running one
// iteration and then pausing for a think time, so the load it offers falls
// when the target slows down (unlike [Open]).
//
// The number of active agents may follow a Ramp (k6's ramping-vus): agent k
// (0-based, over the whole population) is active while the ramp's value is
// at least k+1. Ramping up starts agents 0, 1, 2, …; ramping down stops the
// highest ones first, each after its current iteration (canceled if it runs
// longer than GracefulRampDown past the agent's end). The run ends with
// the ramp, at MaxDuration, after MaxIterations, or when ctx is canceled.
//
// The executor has one timer for all the agents' think times, activation
// waits and ramp-down bounds (a heap of wake-ups, see waker), and one for
// its end and graceful stop, whatever the number of agents.
//
// Set the fields, then call Run. A Closed runs one Run at a time; its
// fields must not change during a run.
type Closed struct {
	// Agents is the size of the whole population (all shards). Required > 0.
	Agents int
	// Ramp, if set, gives the number of active agents over time (capped at
	// Agents); the run ends with it. Nil: every agent is active throughout.
	Ramp *Ramp
	// Think is the pause after each iteration; nil means none.
	Think Think
	// Seed seeds each agent's think-time generator, with the agent's id,
	// so a run is reproducible.
	Seed uint64
	// Shard is this machine's part of the run; the zero Shard is the whole.
	// It runs the agents it owns, and its part of MaxIterations.
	Shard shard.Shard
	// MaxDuration ends the run after this long (0: no limit).
	MaxDuration time.Duration
	// MaxIterations ends the run after this many iterations of the whole
	// run were started (0: no limit).
	MaxIterations uint64
	// GracefulStop bounds how long in-flight iterations may run after the
	// run ends, before their context is canceled; 0 means
	// DefaultGracefulStop, negative means cancel at once. A canceled ctx
	// cancels in-flight iterations at once.
	GracefulStop time.Duration
	// GracefulRampDown bounds how long an agent that the Ramp deactivates
	// may go on with its current iteration before its context is canceled;
	// 0 means DefaultGracefulStop, negative means cancel at once.
	GracefulRampDown time.Duration

	// Active, if not nil, holds the agents active now, running an
	// iteration or thinking (for progress lines, e.g. metrics.Recorder.Progress's
	// activeAgents). Run adds to it and leaves it as it found it.
	Active *atomic.Int64
}

// Run runs the agents this shard owns until the run ends (see [Closed]),
// lets in-flight iterations finish within GracefulStop, and returns when
// every goroutine it started has ended. The error is non-nil only when the
// configuration is invalid.
func (c *Closed) Run(ctx context.Context, fn IterFunc) (Stats, error) {
	if c.Agents <= 0 {
		return Stats{}, fmt.Errorf("workload: Closed.Agents = %d: want the population size, > 0", c.Agents)
	}
	if fn == nil {
		return Stats{}, errors.New("workload: Closed.Run: nil IterFunc")
	}
	if err := c.Shard.Validate(); err != nil {
		return Stats{}, fmt.Errorf("workload: Closed.Shard: %w", err)
	}
	var ramp *Ramp
	if c.Ramp != nil {
		if err := c.Ramp.Validate(); err != nil {
			return Stats{}, fmt.Errorf("workload: Closed.Ramp: %w", err)
		}
		r := Ramp{Start: c.Ramp.Start, Stages: append([]Stage(nil), c.Ramp.Stages...)}
		ramp = &r
	}
	end := c.MaxDuration
	if ramp != nil && len(ramp.Stages) > 0 {
		if d := ramp.Duration(); end <= 0 || d < end {
			end = d
		}
	}
	maxIter := c.MaxIterations
	if maxIter > 0 {
		maxIter = c.Shard.Split64(maxIter)
	}

	rs := newRunState(ctx, fn)
	defer rs.cancelIters()
	stop := make(chan struct{}) // closed when no new iteration may start
	var (
		reason    StopReason
		reserved  atomic.Uint64
		itersDone = make(chan struct{})
		doneOnce  sync.Once
	)
	start := time.Now()
	wk := newWaker(stoppedTimer())
	for _, id := range c.Shard.Agents(c.Agents) {
		a := &closedAgent{
			c: c, rs: rs, id: id, ramp: ramp, start: start, stop: stop,
			waker: wk, wake: make(chan struct{}, 1),
			rampDown: gracePeriod(c.GracefulRampDown),
			rng:      rand.New(rand.NewPCG(c.Seed, uint64(id))),
			take: func() bool {
				if maxIter == 0 {
					return true
				}
				n := reserved.Add(1)
				if n >= maxIter {
					// The last one is taken: the run ends now, not when an
					// agent comes back from its think time to find none.
					doneOnce.Do(func() { close(itersDone) })
				}
				return n <= maxIter
			},
		}
		rs.wg.Go(a.loop)
	}
	agentsDone := make(chan struct{})
	go func() { rs.wg.Wait(); close(agentsDone) }()
	wakerDone := make(chan struct{})
	go func() { wk.run(agentsDone); close(wakerDone) }()

	timer := stoppedTimer()
	var endC <-chan time.Time
	if end > 0 {
		timer.Reset(end)
		endC = timer.C
	}
	select {
	case <-ctx.Done():
		reason = StopCanceled
	case <-endC:
		reason = StopDuration
		if ramp != nil && len(ramp.Stages) > 0 && end == ramp.Duration() {
			reason = StopPacer
		}
	case <-itersDone:
		reason = StopIterations
	case <-agentsDone:
		reason = StopAgents
	}
	timer.Stop()
	close(stop)
	var st Stats
	st.Reason = reason
	st.Issuing = time.Since(start)
	rs.finish(ctx, timer, gracePeriod(c.GracefulStop))
	<-agentsDone
	<-wakerDone
	rs.stats(&st, start)
	st.Arrivals = st.Started
	return st, nil
}

// closedAgent is one agent's loop in a closed run.
type closedAgent struct {
	c     *Closed
	rs    *runState
	id    int
	ramp  *Ramp
	start time.Time
	stop  <-chan struct{}
	rng   *rand.Rand
	take  func() bool // reserves one iteration of the budget

	// Sleeping: the agent registers a wake-up with the run's waker and
	// waits on wake; sleepSeq tells a current wake-up from a stale one.
	waker    *waker
	wake     chan struct{}
	sleepSeq atomic.Uint64

	// The ramp-down bound: while an iteration runs inside a window that
	// ends, a waker entry cancels it rampDown after the window's end.
	rampDown time.Duration
	mu       sync.Mutex
	cancel   context.CancelFunc // of the running iteration, nil between iterations
	iterSeq  uint64             // numbers the iterations that have a bound
}

// fire is called by the waker, with its lock held, when e is due.
func (a *closedAgent) fire(e wakeEntry) {
	switch e.kind {
	case wakeSleep:
		if a.sleepSeq.Load() == e.seq {
			select {
			case a.wake <- struct{}{}:
			default:
			}
		}
	case wakeCutoff:
		a.mu.Lock()
		if a.cancel != nil && a.iterSeq == e.seq {
			a.cancel()
		}
		a.mu.Unlock()
	}
}

// runIteration runs one iteration; if the agent's window ends at winEnd
// (not the end of the run), the iteration is canceled rampDown after it.
func (a *closedAgent) runIteration(it Iteration, winEnd time.Duration) {
	if winEnd == math.MaxInt64 || (a.ramp != nil && winEnd >= a.ramp.Duration()) {
		a.rs.run(a.rs.iterCtx, it)
		return
	}
	ctx, cancel := context.WithCancel(a.rs.iterCtx)
	a.mu.Lock()
	a.iterSeq++
	seq := a.iterSeq
	a.cancel = cancel
	a.mu.Unlock()
	a.waker.add(wakeEntry{at: a.start.Add(winEnd + a.rampDown), a: a, seq: seq, kind: wakeCutoff})
	a.rs.run(ctx, it)
	a.mu.Lock()
	a.cancel = nil
	a.mu.Unlock()
	cancel()
}

// sleepUntil waits until t or the end of the run, and reports whether the
// run goes on.
func (a *closedAgent) sleepUntil(t time.Time) bool {
	if !time.Now().Before(t) {
		select {
		case <-a.stop:
			return false
		default:
			return true
		}
	}
	seq := a.sleepSeq.Add(1)
	a.waker.add(wakeEntry{at: t, a: a, seq: seq, kind: wakeSleep})
	select {
	case <-a.stop:
		return false
	case <-a.wake:
		return true
	}
}

func (a *closedAgent) loop() {
	level := float64(a.id + 1)
	var n uint64
	for {
		// The next interval in which this agent is active.
		winEnd := time.Duration(math.MaxInt64)
		if a.ramp != nil {
			from := time.Since(a.start)
			s, e, ok := a.ramp.Above(level, from)
			if len(a.ramp.Stages) == 0 {
				s, e, ok = 0, winEnd, a.ramp.Start >= level
			}
			if !ok {
				return
			}
			if !a.sleepUntil(a.start.Add(s)) {
				return
			}
			winEnd = e
		}
		gaugeAdd(a.c.Active, 1)
		intended := time.Now()
		for time.Since(a.start) < winEnd {
			select {
			case <-a.stop:
				gaugeAdd(a.c.Active, -1)
				return
			default:
			}
			if !a.take() {
				gaugeAdd(a.c.Active, -1)
				return
			}
			a.rs.started.Add(1)
			a.runIteration(Iteration{Agent: a.id, N: n, Intended: intended, Start: time.Now()}, winEnd)
			n++
			var pause time.Duration
			if a.c.Think != nil {
				pause = a.c.Think.Think(a.rng)
			}
			intended = time.Now().Add(pause)
			if !a.sleepUntil(intended) {
				gaugeAdd(a.c.Active, -1)
				return
			}
		}
		gaugeAdd(a.c.Active, -1)
	}
}
