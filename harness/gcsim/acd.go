package gcsim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// ACD is the profile's call routing: how long an offer alerts, how long
// after-call work lasts, and the inbound traffic model. The zero value is
// Genesys-like defaults with no traffic.
//
//	"acd": {"alertTimeout": "8s", "wrapupTimeout": "30s",
//	        "traffic": {"callsPerSecond": 0.5, "patience": "60s"}}
type ACD struct {
	// AlertTimeout is how long an offered call alerts before the agent is
	// marked NOT_RESPONDING and the call goes back to its queue. 0 means
	// [DefaultAlertTimeout].
	AlertTimeout Duration `json:"alertTimeout,omitzero"`
	// WrapupTimeout ends after-call work that the agent does not end with a
	// wrap-up code. 0 means [DefaultWrapupTimeout].
	WrapupTimeout Duration `json:"wrapupTimeout,omitzero"`
	// Traffic offers inbound calls; off when CallsPerSecond is 0.
	Traffic Traffic `json:"traffic,omitzero"`
}

// DefaultAlertTimeout is the alert timeout of a queue without one. Genesys'
// default is not in docs/genesys.md: unconfirmed.
const DefaultAlertTimeout = 8 * time.Second

// DefaultWrapupTimeout is the after-call work limit, the queues' acwSettings.timeoutMs.
const DefaultWrapupTimeout = 30 * time.Second

// Traffic is the inbound call model: Poisson arrivals at CallsPerSecond on
// each of Queues (all queues when empty), each caller waiting an
// exponentially distributed time of mean Patience before abandoning.
// Arrivals are drawn from the profile's seed.
type Traffic struct {
	// CallsPerSecond is the mean arrival rate per queue; 0 turns traffic off.
	CallsPerSecond float64 `json:"callsPerSecond,omitzero"`
	// Patience is a caller's mean wait in queue before hanging up; 0 means
	// callers never abandon.
	Patience Duration `json:"patience,omitzero"`
	// Queues are the queue ids that get calls; empty means every queue.
	Queues []string `json:"queues,omitempty"`
}

func (a ACD) validate(path string, queues int) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("gcsim: profile: %s.%s: %s", path, field, fmt.Sprintf(format, args...))
	}
	switch {
	case a.AlertTimeout < 0:
		return bad("alertTimeout", "must be >= 0 (0 means %v)", DefaultAlertTimeout)
	case a.WrapupTimeout < 0:
		return bad("wrapupTimeout", "must be >= 0 (0 means %v)", DefaultWrapupTimeout)
	case a.Traffic.CallsPerSecond < 0 || math.IsNaN(a.Traffic.CallsPerSecond) || math.IsInf(a.Traffic.CallsPerSecond, 0):
		return bad("traffic.callsPerSecond", "%v: must be a rate >= 0 per queue (0 turns traffic off)", a.Traffic.CallsPerSecond)
	case a.Traffic.Patience < 0:
		return bad("traffic.patience", "must be >= 0 (0: callers never abandon)")
	}
	for i, id := range a.Traffic.Queues {
		known := false
		for q := range queues {
			known = known || id == QueueID(q)
		}
		if !known {
			return bad(fmt.Sprintf("traffic.queues[%d]", i), "%q is not a queue of the directory (ids gcsim.QueueID(0..%d), e.g. %q)", id, queues-1, QueueID(0))
		}
	}
	return nil
}

func (a ACD) alertTimeout() time.Duration {
	if a.AlertTimeout == 0 {
		return DefaultAlertTimeout
	}
	return a.AlertTimeout.Std()
}

func (a ACD) wrapupTimeout() time.Duration {
	if a.WrapupTimeout == 0 {
		return DefaultWrapupTimeout
	}
	return a.WrapupTimeout.Std()
}

// agentACD is what routing knows of an agent; guarded by orgState.convMu.
type agentACD struct {
	onQueue       bool // presence On Queue
	joined        bool // joined its queue
	notResponding bool // an offer timed out; cleared by going On Queue again
	acd           int  // ACD participants it holds: alerting, connected or in after-call work
	alerting      int  // of those, the offers alerting
	direct        int  // non-ACD calls it is connected to
	// lastHandled is when its last handled ACD call ended (after-call work
	// included); zero if it handled none.
	lastHandled time.Time
}

// acdState is the routing part of orgState, guarded by orgState.convMu.
type acdState struct {
	agents  []agentACD
	waiting [][]*conversation // by queue index, oldest first
	seed    uint64
	traffic *time.Timer
	// afterFunc schedules the traffic model's timer: time.AfterFunc, or in
	// tests one that fires late.
	afterFunc func(time.Duration, func()) *time.Timer
	closed    bool
	seq       uint64 // entries into queues, in order
	obs       observationsState
}

func newACDState(d *directory, seed uint64) acdState {
	a := acdState{agents: make([]agentACD, len(d.users)), waiting: make([][]*conversation, len(d.queues)),
		seed: seed, afterFunc: time.AfterFunc}
	for i := range a.agents {
		a.agents[i].joined = true
	}
	return a
}

// event is a notification to publish once the lock is released.
type event struct {
	topic string
	body  any
}

// events collects the notifications of one change.
type events struct {
	list []event
	corr string
}

func (e *events) add(topic string, body any) { e.list = append(e.list, event{topic, body}) }

func (s *Server) publish(e *events) {
	for _, ev := range e.list {
		s.hub.Publish(ev.topic, ev.body, s.eventCorr(e.corr))
	}
}

// eventCorr is the correlation id an event of a request with id corr
// carries: corr, or one of its own if the profile does not echo ids.
func (s *Server) eventCorr(corr string) string {
	if s.profile.Notifications.EchoCorrelationID {
		return corr
	}
	return newCorrelationID()
}

// routingStatusOf derives an agent's routing status as Genesys' system
// does; atConnect is [Unconfirmed.InteractingAtConnect]: an alerting offer
// leaves the agent IDLE.
func routingStatusOf(a *agentACD, atConnect bool) string {
	handling := a.acd
	if atConnect {
		handling -= a.alerting
	}
	switch {
	case !a.onQueue:
		return "OFF_QUEUE"
	case a.notResponding:
		return "NOT_RESPONDING"
	case handling > 0:
		return "INTERACTING"
	case a.direct > 0:
		return "COMMUNICATING"
	}
	return "IDLE"
}

// routingStatus is routingStatusOf with the profile's switch.
func (s *Server) routingStatus(a *agentACD) string {
	return routingStatusOf(a, s.profile.Unconfirmed.InteractingAtConnect)
}

// routable reports whether routing may offer the agent a call: On Queue,
// responding, and with no call, alerting ones included, whatever its
// routing status says while an offer alerts.
func routable(a *agentACD) bool {
	return a.onQueue && !a.notResponding && a.acd == 0 && a.direct == 0
}

// refreshLocked sets user i's routing status from its ACD state and queues
// the v2.users.{id}.routingStatus event when it changed. It reports whether
// the agent may take a call (see routable); with
// [Unconfirmed.InteractingAtConnect] an agent freed from an offer may be
// IDLE all along.
func (s *Server) refreshLocked(i int, now time.Time, ev *events) bool {
	a := &s.state.acd.agents[i]
	status := s.routingStatus(a)
	st := &s.state.users[i]
	st.mu.Lock()
	changed := st.routingStatus != status
	if changed {
		st.routingStatus, st.routingSince, st.routingSinceText = status, now, now.UTC().Format(isoMillis)
	}
	since := st.routingSinceText
	st.mu.Unlock()
	if !changed {
		return routable(a)
	}
	id := s.dir.users[i].ID
	if q := s.queueIndexOf(i); q >= 0 {
		s.observeLocked(s.dir.queues[q].ID)
	}
	ev.add("v2.users."+id+".routingStatus", routingStatusEvent{ID: id, RoutingStatus: routingStatusBody{Status: status, StartTime: since}})
	return routable(a)
}

// routingStatusEvent is the SDK's UserRoutingStatusUserRoutingStatus.
type routingStatusEvent struct {
	ID            string            `json:"id"`
	RoutingStatus routingStatusBody `json:"routingStatus"`
}

type routingStatusBody struct {
	Status    string `json:"status"`
	StartTime string `json:"startTime"`
}

// queueIndexOf returns the index of user i's queue, or -1 without queues.
func (s *Server) queueIndexOf(i int) int {
	if len(s.dir.queues) == 0 {
		return -1
	}
	return i % len(s.dir.queues)
}

// dispatchLocked offers the waiting calls of queue q, oldest first, to its
// routable, joined members, the longest since handling a call first.
func (s *Server) dispatchLocked(q int, now time.Time, ev *events) {
	o := s.state
	for len(o.acd.waiting[q]) > 0 {
		// Genesys offers to the agent that has gone the longest since
		// handling an ACD interaction; status changes do not count. Among
		// agents equal on that, the one IDLE the longest.
		best, bestHandled, bestSince := -1, time.Time{}, time.Time{}
		for i := q; i < len(s.dir.users); i += len(s.dir.queues) {
			a := &o.acd.agents[i]
			if !a.joined || !routable(a) {
				continue
			}
			st := &o.users[i]
			st.mu.Lock()
			since := st.routingSince
			st.mu.Unlock()
			if c := a.lastHandled.Compare(bestHandled); best < 0 || c < 0 || c == 0 && since.Before(bestSince) {
				best, bestHandled, bestSince = i, a.lastHandled, since
			}
		}
		if best < 0 {
			return
		}
		conv := o.acd.waiting[q][0]
		o.acd.waiting[q] = o.acd.waiting[q][1:]
		conv.queued = false
		s.offerLocked(conv, best, now, ev)
	}
}

// enqueueLocked puts conv in its queue, in the order of when it first
// entered it (a call back from an unanswered offer keeps its place), and
// offers it if a member is idle.
func (s *Server) enqueueLocked(conv *conversation, now time.Time, ev *events) {
	q := s.dir.queueByID[conv.QueueID].index
	if conv.queuedIn != conv.QueueID {
		s.state.acd.seq++
		conv.queuedIn, conv.queueSeq = conv.QueueID, s.state.acd.seq
	}
	conv.queued = true
	s.observeLocked(conv.QueueID)
	w := s.state.acd.waiting[q]
	i, _ := slices.BinarySearchFunc(w, conv.queueSeq, func(c *conversation, seq uint64) int { return cmp.Compare(c.queueSeq, seq) })
	s.state.acd.waiting[q] = slices.Insert(w, i, conv)
	s.dispatchLocked(q, now, ev)
}

// dequeueLocked removes conv from its queue's waiting list.
func (s *Server) dequeueLocked(conv *conversation) {
	if !conv.queued {
		return
	}
	conv.queued = false
	s.observeLocked(conv.QueueID)
	q := s.dir.queueByID[conv.QueueID].index
	s.state.acd.waiting[q] = slices.DeleteFunc(s.state.acd.waiting[q], func(c *conversation) bool { return c == conv })
}

// offerLocked adds an alerting agent participant for user i to conv.
func (s *Server) offerLocked(conv *conversation, i int, now time.Time, ev *events) {
	u := &s.dir.users[i]
	p := s.addParticipant(conv, "agent", now)
	p.UserID, p.QueueID, p.Name, p.State, p.Initial = u.ID, conv.QueueID, u.Name, "alerting", "alerting"
	p.Direction, p.Alerting, p.AlertingTimeout = "inbound", now, s.profile.ACD.alertTimeout()
	p.segment("alert", now)
	s.state.acd.agents[i].acd++
	s.state.acd.agents[i].alerting++
	s.refreshLocked(i, now, ev)
	id, pid := conv.ID, p.ID
	p.timer = time.AfterFunc(p.AlertingTimeout, func() { s.alertTimedOut(id, pid) })
	s.conversationEventsLocked(conv, ev)
}

// alertTimedOut marks the agent of an unanswered offer NOT_RESPONDING and
// puts the call back in its queue.
func (s *Server) alertTimedOut(convID, partID string) {
	ev := &events{corr: newCorrelationID()}
	s.state.convMu.Lock()
	conv := s.state.convs[convID]
	p := conv.participant(partID)
	if s.state.acd.closed || p == nil || p.State != "alerting" {
		s.state.convMu.Unlock()
		return
	}
	now := s.now()
	p.disconnect(now, "timeout")
	if i := s.userIndex(p.UserID); i >= 0 {
		a := &s.state.acd.agents[i]
		a.acd--
		a.alerting--
		a.notResponding = true
		s.refreshLocked(i, now, ev)
	}
	s.conversationEventsLocked(conv, ev)
	s.enqueueLocked(conv, now, ev)
	s.state.convMu.Unlock()
	s.publish(ev)
}

// abandoned ends a call whose caller hung up before an agent answered:
// waiting in queue or alerting an agent.
func (s *Server) abandoned(convID string) {
	ev := &events{corr: newCorrelationID()}
	s.state.convMu.Lock()
	conv := s.state.convs[convID]
	if s.state.acd.closed || conv == nil || conv.answered || conv.ended() {
		s.state.convMu.Unlock()
		return
	}
	now := s.now()
	s.dequeueLocked(conv)
	s.endLocked(conv, now, "endpoint", ev)
	s.state.convMu.Unlock()
	s.publish(ev)
}

// userIndex returns the directory index of a user id, or -1.
func (s *Server) userIndex(id string) int {
	if u := s.dir.byID[id]; u != nil {
		return u.index
	}
	return -1
}

// setOnQueue records a presence change: On Queue or not. Going On Queue
// clears NOT_RESPONDING.
func (s *Server) setOnQueue(i int, on bool, now time.Time, ev *events) {
	s.state.convMu.Lock()
	defer s.state.convMu.Unlock()
	a := &s.state.acd.agents[i]
	a.onQueue = on
	if on {
		a.notResponding = false
	}
	if s.refreshLocked(i, now, ev) {
		if q := s.queueIndexOf(i); q >= 0 {
			s.dispatchLocked(q, now, ev)
		}
	}
}

// InjectCalls queues n inbound calls on the queue with id queueID, as
// telephony would, and returns their conversation ids. Calls are offered
// to the queue's members at once if any is idle.
func (s *Server) InjectCalls(queueID string, n int) ([]string, error) {
	qu := s.dir.queueByID[queueID]
	if qu == nil {
		return nil, fmt.Errorf("gcsim: queue %q does not exist: use one of the directory's queue ids (gcsim.QueueID(i), GET /api/v2/routing/queues)", queueID)
	}
	if n < 1 || n > maxInjectedCalls {
		return nil, fmt.Errorf("gcsim: count %d: inject 1 to %d calls at once", n, maxInjectedCalls)
	}
	ev := &events{corr: newCorrelationID()}
	ids := make([]string, n)
	s.state.convMu.Lock()
	now := s.now()
	for k := range ids {
		ids[k] = s.inboundLocked(qu, now, 0, ev)
	}
	s.state.convMu.Unlock()
	s.publish(ev)
	return ids, nil
}

// InjectUserCall delivers an inbound call to the user with id userID, as
// telephony does for a call to the user's own number (not through a queue):
// the user's participant alerts until answered or hung up, with no alert
// timeout, and answering makes an On Queue user COMMUNICATING.
func (s *Server) InjectUserCall(userID string) (string, error) {
	u := s.dir.byID[userID]
	if u == nil {
		return "", fmt.Errorf("gcsim: user %q does not exist: use one of the directory's user ids (gcsim.UserID(i), GET /api/v2/users)", userID)
	}
	ev := &events{corr: newCorrelationID()}
	s.state.convMu.Lock()
	now := s.now()
	conv := s.inboundCallLocked("", now)
	p := s.addParticipant(conv, "user", now)
	p.UserID, p.Name, p.State, p.Initial, p.Direction, p.Alerting = u.ID, u.Name, "alerting", "alerting", "inbound", now
	p.segment("alert", now)
	s.addConversationLocked(conv, now, ev)
	s.conversationEventsLocked(conv, ev)
	s.state.convMu.Unlock()
	s.publish(ev)
	return conv.ID, nil
}

// inboundCallLocked starts an inbound call, of queue queueID ("" for a
// call to a user's number), with its customer connected.
func (s *Server) inboundCallLocked(queueID string, now time.Time) *conversation {
	conv := &conversation{ID: s.newConversationID(), QueueID: queueID, Direction: "inbound", RecordingState: "active", Start: now}
	cust := s.addParticipant(conv, "customer", now)
	cust.State, cust.Initial, cust.Direction, cust.Connected = "connected", "connected", "inbound", now
	cust.Address, cust.Name = "tel:+15550100", "Customer"
	cust.segment("interact", now)
	return conv
}

// maxInjectedCalls bounds one InjectCalls.
const maxInjectedCalls = 10_000

// inboundLocked creates an inbound call on queue qu: a connected customer
// and an acd participant, then queues it. patience > 0 makes the caller
// abandon after that wait.
func (s *Server) inboundLocked(qu *Queue, now time.Time, patience time.Duration, ev *events) string {
	conv := s.inboundCallLocked(qu.ID, now)
	acd := s.addParticipant(conv, "acd", now)
	acd.QueueID, acd.Name, acd.State, acd.Initial, acd.Direction, acd.Connected = qu.ID, qu.Name, "connected", "connected", "inbound", now
	acd.segment("interact", now)
	s.addConversationLocked(conv, now, ev)
	s.conversationEventsLocked(conv, ev)
	s.enqueueLocked(conv, now, ev)
	if patience > 0 {
		id := conv.ID
		conv.patience = time.AfterFunc(patience, func() { s.abandoned(id) })
	}
	return conv.ID
}

// arrivals is the traffic model's timeline of calls: Poisson arrivals at
// rate calls per second over queues, each caller with an exponential
// patience of mean patience, all drawn from the profile's seed. Each
// arrival is due an exponential gap after the previous one's due time (not
// after the moment it was handled), so a timer that fires late, or a
// callback that waits for a lock, delays calls without lowering the rate.
type arrivals struct {
	rng      *rand.Rand
	rate     float64
	queues   int
	patience time.Duration
	due      time.Time // when the next call arrives
}

func newArrivals(seed uint64, rate float64, queues int, patience time.Duration, start time.Time) *arrivals {
	a := &arrivals{rng: rand.New(rand.NewPCG(seed, 0xacd)), rate: rate, queues: queues, patience: patience}
	a.due = start.Add(a.gap())
	return a
}

func (a *arrivals) gap() time.Duration {
	return time.Duration(a.rng.ExpFloat64() / a.rate * float64(time.Second))
}

// take returns the next call (the index of its queue and its caller's
// patience) if it is due by now, and moves due to the call after it.
func (a *arrivals) take(now time.Time) (queue int, patience time.Duration, ok bool) {
	if a.due.After(now) {
		return 0, 0, false
	}
	queue = a.rng.IntN(a.queues)
	if a.patience > 0 {
		patience = time.Duration(a.rng.ExpFloat64() * float64(a.patience))
	}
	a.due = a.due.Add(a.gap())
	return queue, patience, true
}

// startTraffic starts the profile's traffic model, if any. Each firing of
// its timer offers every call due by then, so arrivals keep the profile's
// rate on a loaded machine.
func (s *Server) startTraffic() {
	t := s.profile.ACD.Traffic
	if t.CallsPerSecond == 0 || len(s.dir.queues) == 0 {
		return
	}
	queues := make([]*Queue, 0, len(s.dir.queues))
	for _, id := range t.Queues {
		if q := s.dir.queueByID[id]; q != nil {
			queues = append(queues, q)
		}
	}
	if len(t.Queues) == 0 {
		for i := range s.dir.queues {
			queues = append(queues, &s.dir.queues[i])
		}
	}
	if len(queues) == 0 {
		return
	}
	o := s.state
	rate := t.CallsPerSecond * float64(len(queues)) // superposed Poisson processes
	a := newArrivals(o.acd.seed, rate, len(queues), t.Patience.Std(), time.Now())
	var next func()
	next = func() {
		ev := &events{corr: newCorrelationID()}
		o.convMu.Lock()
		if o.acd.closed {
			o.convMu.Unlock()
			return
		}
		now := time.Now()
		for {
			q, patience, ok := a.take(now)
			if !ok {
				break
			}
			s.inboundLocked(queues[q], s.now(), patience, ev)
		}
		o.acd.traffic = o.acd.afterFunc(a.due.Sub(now), next)
		o.convMu.Unlock()
		s.publish(ev)
	}
	o.convMu.Lock()
	o.acd.traffic = o.acd.afterFunc(time.Until(a.due), next)
	o.convMu.Unlock()
}

// stopACD stops the traffic model and every pending timer.
func (s *Server) stopACD() {
	o := s.state
	o.convMu.Lock()
	defer o.convMu.Unlock()
	o.acd.closed = true
	if o.acd.traffic != nil {
		o.acd.traffic.Stop()
	}
	if o.acd.obs.timer != nil {
		o.acd.obs.timer.Stop()
	}
	for _, c := range o.convs {
		c.stopTimers()
	}
}
