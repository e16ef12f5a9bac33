package main

// -calls: the population takes inbound calls. The simulator's traffic
// model offers calls over its queues; each agent, On Queue with its
// channel, answers an offer after a ring delay, talks, hangs up and wraps
// up. A supervisor channel on every queue's call topic sees each call from
// the simulator's side: offered, answered (and how long it waited),
// abandoned, or offered to an agent who never answered.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/notify"
)

// Defaults of the -calls flags.
const (
	DefaultCallHandle   = 60 * time.Second  // mean talk time
	DefaultCallRing     = time.Second       // from the offer to the answer
	DefaultCallPatience = 120 * time.Second // a caller's mean wait before hanging up
)

// callWrapupCode is the wrap-up code every call ends with.
var callWrapupCode = gcsim.WrapupCodeID(0)

// callFigures is what a calls run counts.
type callFigures struct {
	// The supervisor's view (every queue's call topic), by when a call
	// entered its queue: before every agent was On Queue, during the
	// load, or after it (agents going off queue).
	Before callCounts `json:"before"`
	During callCounts `json:"during"`
	After  callCounts `json:"after"`

	// The agents' view.
	Offers       int64  `json:"offers"`   // offers the agents took from their channels
	Answered     int64  `json:"answered"` // answers accepted
	Gone         int64  `json:"gone"`     // answers refused because the caller hung up while it rang
	Handled      int64  `json:"handled"`  // calls hung up and wrapped up by the agent
	Failed       int64  `json:"failed"`   // calls an agent could not handle (another error)
	FirstErr     string `json:"firstError,omitempty"`
	OffQueueErrs int64  `json:"offQueueErrors"`  // agents that failed to go on or off queue
	Busy         int64  `json:"busyAtEnd"`       // agents still on a call when the drain ended
	NotResp      int64  `json:"notResponding"`   // routing status events NOT_RESPONDING seen by the agents
	Duplicates   int64  `json:"duplicateOffers"` // alerting events of an offer already taken
	Unparsable   int64  `json:"unparsable"`      // supervisor events it could not read

	// The supervisor's channels: a drop may lose the events of a call.
	SupChannels   int   `json:"supervisorChannels"`
	SupEvents     int64 `json:"supervisorEvents"`
	SupDrops      int64 `json:"supervisorDrops"`
	SupReconnects int64 `json:"supervisorReconnects"`
	SupFailures   int64 `json:"supervisorFailures"`
	// SimOverflows are the simulator's sockets (agents' or supervisor's)
	// closed because their send buffer was full; -1 unknown.
	SimOverflows int64 `json:"simOverflows"`

	OnQueueTime time.Duration `json:"onQueueNs"` // to put every agent On Queue
	DrainTime   time.Duration `json:"drainNs"`   // from the end of the load to the last wrap-up
}

// callCounts are the supervisor's counts of calls by their fate.
type callCounts struct {
	Offered   int64         `json:"offered"`   // calls that entered a queue
	Answered  int64         `json:"answered"`  // an agent connected
	Abandoned int64         `json:"abandoned"` // the caller hung up before an agent connected
	TimedOut  int64         `json:"timedOut"`  // offers that rang out (the agent never answered)
	Open      int64         `json:"open"`      // not answered nor abandoned when the supervisor stopped
	ASA       time.Duration `json:"asaNs"`     // mean wait from entering the queue to the answer
	MaxWait   time.Duration `json:"maxWaitNs"` // longest such wait
	Talk      time.Duration `json:"talkNs"`    // mean talk time of the calls the agent hung up
	ACW       time.Duration `json:"acwNs"`     // mean after-call work
	ended     int64         // calls with a talk time
	waitSum   time.Duration
	talkSum   time.Duration
	acwSum    time.Duration
	acwN      int64
}

// supervisor follows every call on the queues' call topics.
type supervisor struct {
	mu       sync.Mutex
	calls    map[string]*supCall
	onQueue  time.Time // every agent On Queue: the load starts
	loadEnd  time.Time // the load ends: agents go off queue
	counts   [3]callCounts
	unparsed int64
}

type supCall struct {
	start     time.Time
	answered  bool
	abandoned bool
	timeouts  int
	talkDone  bool
	acwDone   bool
}

// phase says which count a call entering its queue at t belongs to; s.mu is held.
func (s *supervisor) phase(t time.Time) int {
	switch {
	case s.onQueue.IsZero() || t.Before(s.onQueue):
		return 0
	case s.loadEnd.IsZero() || t.Before(s.loadEnd):
		return 1
	}
	return 2
}

// callEventBody is the part of a call event the supervisor reads.
type callEventBody struct {
	ID           string `json:"id"`
	Participants []struct {
		ID             string `json:"id"`
		Purpose        string `json:"purpose"`
		State          string `json:"state"`
		DisconnectType string `json:"disconnectType"`
		StartTime      string `json:"startTime"`
		ConnectedTime  string `json:"connectedTime"`
		EndTime        string `json:"endTime"`
		StartAcwTime   string `json:"startAcwTime"`
		EndAcwTime     string `json:"endAcwTime"`
		User           *struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"participants"`
}

func parseISO(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05.000Z", s)
	return t
}

// event reads one call event of a queue.
func (s *supervisor) event(ev notify.Event) {
	var body callEventBody
	if err := json.Unmarshal(ev.EventBody, &body); err != nil || body.ID == "" {
		s.mu.Lock()
		s.unparsed++
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[body.ID]
	if c == nil {
		c = &supCall{}
		for _, p := range body.Participants {
			if p.Purpose == "customer" {
				c.start = parseISO(p.StartTime)
			}
		}
		if c.start.IsZero() {
			c.start = ev.Received
		}
		s.calls[body.ID] = c
		s.counts[s.phase(c.start)].Offered++
	}
	n := &s.counts[s.phase(c.start)]
	timeouts := 0
	for _, p := range body.Participants {
		switch {
		case p.Purpose == "customer" && p.State == "disconnected" && !c.answered && !c.abandoned:
			c.abandoned = true
			n.Abandoned++
		case p.Purpose != "agent":
		case p.DisconnectType == "timeout":
			timeouts++
		case p.ConnectedTime != "" && !c.answered:
			c.answered = true
			n.Answered++
			w := parseISO(p.ConnectedTime).Sub(c.start)
			n.waitSum += w
			n.MaxWait = max(n.MaxWait, w)
		}
		if p.Purpose == "agent" && p.ConnectedTime != "" && p.EndTime != "" && !c.talkDone {
			c.talkDone = true
			n.ended++
			n.talkSum += parseISO(p.EndTime).Sub(parseISO(p.ConnectedTime))
		}
		if p.Purpose == "agent" && p.StartAcwTime != "" && p.EndAcwTime != "" && !c.acwDone {
			c.acwDone = true
			n.acwN++
			n.acwSum += parseISO(p.EndAcwTime).Sub(parseISO(p.StartAcwTime))
		}
	}
	if timeouts > c.timeouts {
		n.TimedOut += int64(timeouts - c.timeouts)
		c.timeouts = timeouts
	}
}

// figures returns the counts so far.
func (s *supervisor) figures(f *callFigures) {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := [3]int64{}
	for _, c := range s.calls {
		if !c.answered && !c.abandoned {
			open[s.phase(c.start)]++
		}
	}
	out := []*callCounts{&f.Before, &f.During, &f.After}
	for i, n := range s.counts {
		n.Open = open[i]
		if n.Answered > 0 {
			n.ASA = n.waitSum / time.Duration(n.Answered)
		}
		if n.ended > 0 {
			n.Talk = n.talkSum / time.Duration(n.ended)
		}
		if n.acwN > 0 {
			n.ACW = n.acwSum / time.Duration(n.acwN)
		}
		*out[i] = n
	}
	f.Unparsable = s.unparsed
}

// callAgent is one agent's part in the call handling.
type callAgent struct {
	a         *agent.Agent
	mu        sync.Mutex
	calls     int    // offers taken and not yet wrapped up
	lastOffer string // participant id of the last offer
	offQueue  bool   // sent off queue at the end of the load
}

// callDriver answers, talks, hangs up and wraps up each offered call,
// without a goroutine per agent: an offer event schedules the answer, the
// answer schedules the hang-up.
type callDriver struct {
	ctx      context.Context
	c        popConfig
	byUser   map[string]*callAgent
	wg       sync.WaitGroup
	ended    atomic.Bool // the load is over: agents go off queue once idle
	rngMu    sync.Mutex
	rng      *rand.Rand
	f        callFigures
	counters struct {
		offers, answered, gone, handled, failed, offq, notResp, dups atomic.Int64
	}
	firstErr atomic.Value
}

func newCallDriver(ctx context.Context, c popConfig, agents []*agent.Agent) *callDriver {
	d := &callDriver{ctx: ctx, c: c, byUser: make(map[string]*callAgent, len(agents)), rng: rand.New(rand.NewPCG(1, 2))}
	for _, a := range agents {
		d.byUser[a.User.ID] = &callAgent{a: a}
	}
	return d
}

// talkTime draws a talk time, uniform within ±50% of the mean.
func (d *callDriver) talkTime() time.Duration {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return time.Duration((0.5 + d.rng.Float64()) * float64(d.c.Handle))
}

func (d *callDriver) fail(err error) {
	d.counters.failed.Add(1)
	d.firstErr.CompareAndSwap(nil, err.Error())
}

// onEvent is the agents' channels' OnEvent: it runs after the agent's
// HandleEvent (which queued the offer) and must not block.
func (d *callDriver) onEvent(ev notify.Event) {
	id, kind, ok := strings.Cut(strings.TrimPrefix(ev.TopicName, "v2.users."), ".")
	if !ok {
		return
	}
	ca := d.byUser[id]
	if ca == nil {
		return
	}
	switch kind {
	case "routingStatus":
		if strings.Contains(string(ev.EventBody), `"NOT_RESPONDING"`) {
			d.counters.notResp.Add(1)
		}
		return
	case "conversations.calls":
	default:
		return
	}
	var body callEventBody
	if json.Unmarshal(ev.EventBody, &body) != nil {
		return
	}
	for _, p := range body.Participants {
		if p.Purpose != "agent" || p.State != "alerting" || p.User == nil || p.User.ID != id {
			continue
		}
		// The agent's HandleEvent queued this offer (an offer is never
		// the current call); one answer per offer.
		ca.mu.Lock()
		dup := ca.lastOffer == p.ID
		if !dup {
			ca.lastOffer = p.ID
			ca.calls++
		}
		ca.mu.Unlock()
		if dup {
			d.counters.dups.Add(1)
			continue
		}
		d.wg.Add(1)
		time.AfterFunc(d.c.Ring, func() { d.answer(ca) })
	}
}

// answer takes the agent's next offer and answers it; then the talk.
func (d *callDriver) answer(ca *callAgent) {
	a := ca.a
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	o, err := a.NextOffer(ctx)
	if err == nil {
		d.counters.offers.Add(1)
		err = a.Answer(ctx, o)
		if callerGone(err) {
			// The caller hung up while it rang: the supervisor counts
			// the abandon; the offer is gone.
			d.counters.gone.Add(1)
			d.done(ca)
			return
		}
	}
	if err != nil {
		d.fail(err)
		d.done(ca)
		return
	}
	d.counters.answered.Add(1)
	time.AfterFunc(d.talkTime(), func() { d.hangUp(ca) })
}

// callerGone reports whether an answer was refused because the offer had
// ended: the simulator answers 400 (Genesys' answer is unconfirmed) or 409
// that the participant is disconnected.
func callerGone(err error) bool {
	se, ok := errors.AsType[*api.StatusError](err)
	return ok && (se.Response.Status == http.StatusBadRequest || se.Response.Status == http.StatusConflict) &&
		bytes.Contains(se.Response.Body, []byte(" is disconnected"))
}

// hangUp ends the call and its after-call work. Once the load is over the
// agent goes off queue before its wrap-up: a wrap-up makes it IDLE, and an
// IDLE agent on queue is offered the next waiting call at once.
func (d *callDriver) hangUp(ca *callAgent) {
	a := ca.a
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	err := a.Disconnect(ctx)
	if err == nil && d.ended.Load() {
		ca.mu.Lock()
		leave := !ca.offQueue
		ca.offQueue = true
		ca.mu.Unlock()
		if leave {
			d.goOffQueue(ca)
		}
	}
	if err == nil {
		err = a.Wrapup(ctx, callWrapupCode)
	}
	if err != nil {
		a.EndCall()
		d.fail(err)
	} else {
		d.counters.handled.Add(1)
	}
	d.done(ca)
}

// done closes one taken offer; an idle agent goes off queue once the load
// is over.
func (d *callDriver) done(ca *callAgent) {
	defer d.wg.Done()
	ca.mu.Lock()
	ca.calls--
	leave := d.ended.Load() && ca.calls == 0 && !ca.offQueue
	if leave {
		ca.offQueue = true
	}
	ca.mu.Unlock()
	if leave {
		d.goOffQueue(ca)
	}
}

func (d *callDriver) goOffQueue(ca *callAgent) {
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	if err := ca.a.GoOffQueue(ctx); err != nil {
		d.counters.offq.Add(1)
		d.firstErr.CompareAndSwap(nil, err.Error())
	}
}

// endLoad sends the idle agents off queue, par at a time; the busy ones
// go after their wrap-up.
func (d *callDriver) endLoad(par int) {
	d.ended.Store(true)
	var idle []*callAgent
	for _, ca := range d.byUser {
		ca.mu.Lock()
		if ca.calls == 0 && !ca.offQueue {
			ca.offQueue = true
			idle = append(idle, ca)
		}
		ca.mu.Unlock()
	}
	forEach(len(idle), par, func(i int) { d.goOffQueue(idle[i]) })
}

// forEach runs fn(0..n-1), par at a time.
func forEach(n, par int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(par, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// busy counts the agents with a call not yet wrapped up.
func (d *callDriver) busy() int64 {
	var n int64
	for _, ca := range d.byUser {
		ca.mu.Lock()
		if ca.calls > 0 {
			n++
		}
		ca.mu.Unlock()
	}
	return n
}

// openSupervisor opens the supervisor's channels, one per queue on its
// call topic (one channel for every queue would receive every call's
// events in bursts beyond a socket's send buffer, and be dropped), with a
// collector of their own: their events are not the agents'. A notify
// client lives as long as the ctx it was opened with: the channels live
// until Close, whatever ctx (which may bound only the opening).
func openSupervisor(ctx context.Context, client *api.Client, c popConfig, sup *supervisor) (*supChannels, error) {
	sc := &supChannels{col: notify.NewCollector()}
	life := context.WithoutCancel(ctx)
	for q := range gcsim.DefaultQueues {
		topic := "v2.routing.queues." + gcsim.QueueID(q) + ".conversations.calls"
		ch, err := notify.Open(life, notify.Options{API: client, Topics: []string{topic}, HeartbeatInterval: c.Heartbeat,
			PingInterval: -1, Collector: sc.col, OnEvent: sup.event})
		if err != nil {
			sc.Close()
			return nil, fmt.Errorf("peers: calls: opening the supervisor's channel on %s: %w", topic, err)
		}
		sc.chans = append(sc.chans, ch)
	}
	return sc, nil
}

// supChannels are the supervisor's channels.
type supChannels struct {
	chans []*notify.Client
	col   *notify.Collector
}

// Close closes the channels and returns the first error.
func (sc *supChannels) Close() error {
	var first error
	for _, ch := range sc.chans {
		if err := ch.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// stats fills the supervisor's socket figures of f.
func (sc *supChannels) stats(f *callFigures) {
	st := sc.col.Stats()
	f.SupChannels, f.SupEvents = len(sc.chans), st.Events
	f.SupDrops, f.SupReconnects, f.SupFailures = st.Drops, st.Reconnects, st.Failures
}

// runCalls is the load of a calls run: every agent On Queue, the
// simulator's traffic offered to them for c.Duration, then each agent off
// queue once idle, until every call taken is wrapped up.
func runCalls(ctx context.Context, c popConfig, pop *agent.Population, d *callDriver, sup *supervisor) (*callFigures, error) {
	t0 := time.Now()
	var onQueueErr atomic.Value
	forEach(len(pop.Agents()), popOpenWorkers, func(i int) {
		a := pop.Agents()[i]
		if err := a.GoOnQueue(ctx); err != nil {
			d.counters.offq.Add(1)
			onQueueErr.CompareAndSwap(nil, err)
		}
	})
	d.f.OnQueueTime = time.Since(t0)
	if err, _ := onQueueErr.Load().(error); err != nil {
		return nil, fmt.Errorf("peers: calls: going On Queue: %w", err)
	}
	sup.mu.Lock()
	sup.onQueue = time.Now()
	sup.mu.Unlock()

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(c.Duration):
	}
	sup.mu.Lock()
	sup.loadEnd = time.Now()
	sup.mu.Unlock()
	t1 := time.Now()
	d.endLoad(popOpenWorkers)
	// Every call taken ends within its ring, longest talk and wrap-up.
	drained := make(chan struct{})
	go func() { d.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(c.drainTimeout()):
	case <-ctx.Done():
	}
	d.f.DrainTime = time.Since(t1)
	d.f.Busy = d.busy()
	d.f.Offers, d.f.Answered, d.f.Gone = d.counters.offers.Load(), d.counters.answered.Load(), d.counters.gone.Load()
	d.f.Handled, d.f.Failed, d.f.OffQueueErrs = d.counters.handled.Load(), d.counters.failed.Load(), d.counters.offq.Load()
	d.f.NotResp, d.f.Duplicates = d.counters.notResp.Load(), d.counters.dups.Load()
	if s, ok := d.firstErr.Load().(string); ok {
		d.f.FirstErr = s
	}
	return &d.f, nil
}

// drainTimeout bounds the end of a calls run: the longest talk time, the
// ring, and the requests of the hang-up.
func (c popConfig) drainTimeout() time.Duration {
	return c.Ring + c.Handle*3/2 + 30*time.Second
}

// callErrors counts what went wrong in a calls run: failed calls and
// queue changes, agents still busy, offers that rang out, NOT_RESPONDING
// agents, unreadable events, the supervisor's dropped sockets, and answers refused beyond the calls the
// supervisor saw abandoned (a refused answer is an abandon only if the
// caller did hang up).
func callErrors(f *callFigures) int64 {
	abandoned := f.Before.Abandoned + f.During.Abandoned + f.After.Abandoned
	n := f.Failed + f.OffQueueErrs + f.Busy + f.NotResp + f.Unparsable + f.SupDrops + f.SupFailures +
		f.Before.TimedOut + f.During.TimedOut + f.After.TimedOut + max(0, f.Gone-abandoned)
	return n
}

// writeCalls prints a calls run's rows.
func writeCalls(row func(k, format string, args ...any), f *callFigures) {
	for _, p := range []struct {
		name string
		n    callCounts
	}{{"calls before On Queue", f.Before}, {"calls during the load", f.During}, {"calls after the load", f.After}} {
		n := p.n
		row(p.name, "%s offered, %s answered, %s abandoned, %s rang out, %s still waiting at the end",
			formatInt(n.Offered), formatInt(n.Answered), formatInt(n.Abandoned), formatInt(n.TimedOut), formatInt(n.Open))
		if n.Answered > 0 {
			row("", "ASA %s (longest wait %s); talk %s, after-call work %s on average",
				formatDuration(n.ASA), formatDuration(n.MaxWait), formatDuration(n.Talk), formatDuration(n.ACW))
		}
	}
	row("agents", "every agent On Queue in %v; %s offers taken, %s answered, %s gone before the answer (caller hung up), %s handled, %s failed",
		f.OnQueueTime.Round(10*time.Millisecond), formatInt(f.Offers), formatInt(f.Answered), formatInt(f.Gone), formatInt(f.Handled), formatInt(f.Failed))
	row("", "%s busy at the end (drained in %v), %s failed queue changes, %s NOT_RESPONDING, %s duplicate offer events, %s unreadable call events",
		formatInt(f.Busy), f.DrainTime.Round(10*time.Millisecond), formatInt(f.OffQueueErrs), formatInt(f.NotResp), formatInt(f.Duplicates), formatInt(f.Unparsable))
	row("supervisor", "%d channels (one per queue's call topic): %s events, %s drops, %s reconnects, %s gave up; the simulator closed %s sockets whose send buffer was full",
		f.SupChannels, formatInt(f.SupEvents), formatInt(f.SupDrops), formatInt(f.SupReconnects), formatInt(f.SupFailures), formatCount(f.SimOverflows))
	if f.FirstErr != "" {
		row("first error", "%s", f.FirstErr)
	}
}
