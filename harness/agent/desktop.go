package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cxload/cxload/harness/backoff"
	"github.com/cxload/cxload/harness/notify"
)

// Defaults of a [Desktop].
const (
	// DefaultRingMin and DefaultRingMax bound the ring delay, well under
	// the simulator's alert timeout (gcsim.DefaultAlertTimeout, 8 s).
	DefaultRingMin = 300 * time.Millisecond
	DefaultRingMax = 2 * time.Second
	// DefaultTalk is the mean talk time.
	DefaultTalk = 10 * time.Second
	// DefaultWrapupMin and DefaultWrapupMax bound the after-call work.
	DefaultWrapupMin = 200 * time.Millisecond
	DefaultWrapupMax = time.Second
)

const (
	// offerCheck is how long an agent waits for an offer before it looks
	// whether the system marked it NOT_RESPONDING (then it goes On Queue
	// again).
	offerCheck = time.Second
	// drainWait is how long an agent off queue at the end of its shift
	// waits for an offer made before it left and still on its way.
	drainWait = 500 * time.Millisecond
	// presenceBreak is the system presence of an agent on a break.
	presenceBreak = "Break"
)

// A Desktop is a call-handling agent's loop: on queue, it waits for the
// calls offered on its notification channel ([Agent.NextOffer]), lets each
// ring a while, answers it, talks, sometimes holds it once or
// blind-transfers it back to its queue, hangs up, does its after-call work
// and wraps up with a code; now and then it takes a break after a call. An
// agent the system marked NOT_RESPONDING (it let an offer ring out) goes On
// Queue again. At the end of its shift it goes off queue and still answers
// the offers made before it left.
//
// Times are drawn per call from a generator seeded with Seed and the
// agent's ID, so a run repeats: ring delay and after-call work uniform in
// their bounds, talk, hold and break times exponential with their mean
// (capped at four times it). A zero field takes its DefaultXxx; a zero
// share means never.
//
// The desktop learns how its calls go from the agents' events: route every
// event of their channels to [Desktop.HandleEvent] (e.g. as
// notify.Options.OnEvent) besides [Agent.HandleEvent]. What it measured is
// [Desktop.Stats]. One Desktop serves any number of agents, each in its own
// [Desktop.Run]; set its fields before the first Run and do not copy it.
type Desktop struct {
	RingMin, RingMax     time.Duration // ring delay before answering
	Talk                 time.Duration // mean talk time
	Hold                 time.Duration // mean hold time; 0: Talk/4
	WrapupMin, WrapupMax time.Duration // after-call work before the wrap-up
	Break                time.Duration // mean break; 0: 2×Talk

	HoldShare     float64 // share of calls put on hold once, halfway through the talk
	TransferShare float64 // share of calls blind-transferred back to their queue
	BreakShare    float64 // share of calls after which the agent takes a break

	// WrapupCodes are the wrap-up code ids to choose from; required.
	WrapupCodes []string
	// Seed seeds each agent's draws together with its ID.
	Seed uint64

	// A shift ends after Calls calls or at Until; set one of them. With
	// Calls, transferred calls come back to the agent and do not count.
	Calls int
	Until time.Time
	// Queue, if set, queues one call for the agent whenever it is ready
	// for its next one (with Calls: calls that come exactly when the agent
	// can take them, whatever the timing).
	Queue func(ctx context.Context, a *Agent) error
	// WhileTalking, if set, sends what the agent does on its desktop during
	// a call (a queue list, a details query); its time counts as talk time.
	WhileTalking func(ctx context.Context, a *Agent, rng *rand.Rand) error

	mu          sync.Mutex
	stats       DesktopStats
	queuedAt    map[string]time.Time // conversation → when its caller came in (server clock)
	queueOf     map[string]string    // conversation → its queue
	ended       map[string]bool      // participants no longer on their call
	seenOffer   map[string]bool      // agent participants seen alerting
	firstAnswer map[string]bool      // conversations answered at least once
	lastStatus  map[string]string    // user → routing status
}

// DesktopStats is what a [Desktop] measured over all its agents.
type DesktopStats struct {
	Queued        int // calls Desktop.Queue queued
	Answered      int // offers answered; a transferred call answered again counts twice
	Conversations int // distinct conversations answered
	Missed        int // offers let go: the caller hung up while the call rang
	// Refused are the offers of Missed whose answer the platform refused
	// because the call had just ended, before its event arrived: each is a
	// failed call.answer request in the recorder, and not the agent's fault.
	Refused     int
	Held        int // calls put on hold
	Transferred int // calls transferred back to their queue
	Breaks      int // breaks taken
	Requeues    int // times an agent went On Queue again after NOT_RESPONDING

	// SpeedOfAnswer is, per conversation's first answer, the time from its
	// caller coming in (the customer's startTime, server clock) to the
	// answer; conversations whose customer was not seen are left out.
	SpeedOfAnswer []time.Duration
	// HandleTime is, per wrapped-up call, the time from the answer to the
	// end of the wrap-up: talk, hold and after-call work.
	HandleTime []time.Duration
	// OfferLatency is, per offer, the time from the offer (the agent
	// participant's startTime, server clock) to its event's arrival.
	OfferLatency []time.Duration
	// Transitions counts routing-status changes seen in the agents'
	// events, by "FROM→TO" (e.g. "IDLE→INTERACTING"; an agent's first
	// status comes from "(start)").
	Transitions map[string]int
}

// AverageSpeedOfAnswer is the mean of SpeedOfAnswer, 0 for none.
func (s DesktopStats) AverageSpeedOfAnswer() time.Duration { return meanDuration(s.SpeedOfAnswer) }

// AverageHandleTime is the mean of HandleTime, 0 for none.
func (s DesktopStats) AverageHandleTime() time.Duration { return meanDuration(s.HandleTime) }

func meanDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// Stats returns a copy of what the desktop measured so far.
func (d *Desktop) Stats() DesktopStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.SpeedOfAnswer = slices.Clone(s.SpeedOfAnswer)
	s.HandleTime = slices.Clone(s.HandleTime)
	s.OfferLatency = slices.Clone(s.OfferLatency)
	s.Transitions = maps.Clone(s.Transitions)
	if s.Transitions == nil {
		s.Transitions = map[string]int{}
	}
	return s
}

// desktopCallEvent is the part of a call event (the SDK's
// ConversationCallEventTopicCallConversation) the desktop reads.
type desktopCallEvent struct {
	ID           string `json:"id"`
	Participants []struct {
		ID        string `json:"id"`
		Purpose   string `json:"purpose"`
		State     string `json:"state"`
		StartTime string `json:"startTime"`
		User      *struct {
			ID string `json:"id"`
		} `json:"user"`
		Queue *struct {
			ID string `json:"id"`
		} `json:"queue"`
	} `json:"participants"`
}

// HandleEvent reads an agent's notification, telling whose by its topic:
// routing-status changes from v2.users.{id}.routingStatus; from
// v2.users.{id}.conversations.calls when each caller came in, the call's
// queue, offers (with their latency) and participants that left. Other
// topics are ignored. It is safe for concurrent use.
func (d *Desktop) HandleEvent(ev notify.Event) {
	rest, ok := strings.CutPrefix(ev.TopicName, "v2.users.")
	if !ok {
		return
	}
	if user, ok := strings.CutSuffix(rest, ".routingStatus"); ok {
		var b struct {
			RoutingStatus struct {
				Status string `json:"status"`
			} `json:"routingStatus"`
		}
		if json.Unmarshal(ev.EventBody, &b) != nil || b.RoutingStatus.Status == "" {
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.init()
		if from := d.lastStatus[user]; from != b.RoutingStatus.Status {
			d.stats.Transitions[cmp.Or(from, "(start)")+"→"+b.RoutingStatus.Status]++
			d.lastStatus[user] = b.RoutingStatus.Status
		}
		return
	}
	user, ok := strings.CutSuffix(rest, ".conversations.calls")
	if !ok {
		return
	}
	var c desktopCallEvent
	if json.Unmarshal(ev.EventBody, &c) != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	for _, p := range c.Participants {
		switch {
		case p.Purpose == "customer":
			if t, err := time.Parse(time.RFC3339Nano, p.StartTime); err == nil {
				if _, ok := d.queuedAt[c.ID]; !ok {
					d.queuedAt[c.ID] = t
				}
			}
		case p.Purpose == "agent" && p.User != nil && p.User.ID == user:
			if p.Queue != nil {
				d.queueOf[c.ID] = p.Queue.ID
			}
			if p.State == "alerting" && !d.seenOffer[p.ID] {
				d.seenOffer[p.ID] = true
				if t, err := time.Parse(time.RFC3339Nano, p.StartTime); err == nil && !ev.Received.IsZero() {
					d.stats.OfferLatency = append(d.stats.OfferLatency, ev.Received.Sub(t))
				}
			}
		}
		if p.State == "disconnected" || p.State == "terminated" {
			d.ended[p.ID] = true
		}
	}
}

// init makes the desktop's maps; d.mu is held.
func (d *Desktop) init() {
	if d.ended != nil {
		return
	}
	d.queuedAt, d.queueOf, d.ended = map[string]time.Time{}, map[string]string{}, map[string]bool{}
	d.seenOffer, d.firstAnswer, d.lastStatus = map[string]bool{}, map[string]bool{}, map[string]string{}
	d.stats.Transitions = map[string]int{}
}

// count adds to the desktop's counters under its lock.
func (d *Desktop) count(f func(s *DesktopStats)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	f(&d.stats)
}

// isEnded reports whether the offer's participant left its call (or its
// caller hung up).
func (d *Desktop) isEnded(o Offer) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ended[o.ParticipantID]
}

func (d *Desktop) queue(conv string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queueOf[conv]
}

// answered records an answered offer; the speed of answer counts a
// conversation's first answer only.
func (d *Desktop) answered(conv string, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	d.stats.Answered++
	if d.firstAnswer[conv] {
		return
	}
	d.firstAnswer[conv] = true
	d.stats.Conversations++
	if q, ok := d.queuedAt[conv]; ok {
		d.stats.SpeedOfAnswer = append(d.stats.SpeedOfAnswer, max(0, at.Sub(q)))
	}
}

// check returns an error naming the first field that is wrong.
func (d *Desktop) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("agent: Desktop: "+format, args...)
	}
	ringMin, ringMax := cmp.Or(d.RingMin, DefaultRingMin), cmp.Or(d.RingMax, DefaultRingMax)
	acwMin, acwMax := cmp.Or(d.WrapupMin, DefaultWrapupMin), cmp.Or(d.WrapupMax, DefaultWrapupMax)
	switch {
	case len(d.WrapupCodes) == 0:
		return bad("WrapupCodes is empty: the agents need a wrap-up code id (GET /api/v2/routing/wrapupcodes lists them)")
	case (d.Calls > 0) == !d.Until.IsZero():
		return bad("Calls %d and Until %v: set exactly one (calls per agent, or when the shift ends)", d.Calls, d.Until)
	case d.Calls < 0:
		return bad("Calls %d: want at least 1", d.Calls)
	case ringMin < 0 || ringMin > ringMax:
		return bad("ring delay %v–%v (RingMin–RingMax): want 0 ≤ RingMin ≤ RingMax", ringMin, ringMax)
	case acwMin < 0 || acwMin > acwMax:
		return bad("after-call work %v–%v (WrapupMin–WrapupMax): want 0 ≤ WrapupMin ≤ WrapupMax", acwMin, acwMax)
	case d.Talk < 0 || d.Hold < 0 || d.Break < 0:
		return bad("Talk %v, Hold %v, Break %v: want means ≥ 0 (0 takes the default)", d.Talk, d.Hold, d.Break)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"HoldShare", d.HoldShare}, {"TransferShare", d.TransferShare}, {"BreakShare", d.BreakShare}} {
		if !(s.v >= 0 && s.v <= 1) {
			return bad("%s %g: want a share from 0 to 1", s.name, s.v)
		}
	}
	return nil
}

// callPlan is what an agent will do with one call, drawn when it is offered.
type callPlan struct {
	ring, talk, hold, acw, breakFor time.Duration
	held, transfer, brk             bool
	code                            string
}

func (d *Desktop) draw(rng *rand.Rand) callPlan {
	talk := cmp.Or(d.Talk, DefaultTalk)
	exp := func(mean time.Duration) time.Duration {
		return min(time.Duration(rng.ExpFloat64()*float64(mean)), 4*mean)
	}
	uni := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	return callPlan{
		ring:     uni(cmp.Or(d.RingMin, DefaultRingMin), cmp.Or(d.RingMax, DefaultRingMax)),
		talk:     exp(talk),
		hold:     exp(cmp.Or(d.Hold, talk/4)),
		acw:      uni(cmp.Or(d.WrapupMin, DefaultWrapupMin), cmp.Or(d.WrapupMax, DefaultWrapupMax)),
		breakFor: exp(cmp.Or(d.Break, 2*talk)),
		held:     rng.Float64() < d.HoldShare,
		transfer: rng.Float64() < d.TransferShare,
		brk:      rng.Float64() < d.BreakShare,
		code:     d.WrapupCodes[rng.IntN(len(d.WrapupCodes))],
	}
}

// Run is agent a's shift: it subscribes the agent's topics, goes On Queue,
// takes calls until it has taken Calls or Until has passed, goes off
// queue, answers the offers still on their way, and returns nil. An error
// of the agent's requests ends its shift with that error; so does the end
// of ctx, with ctx's error, wherever the shift was.
func (d *Desktop) Run(ctx context.Context, a *Agent) error {
	if err := d.check(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(d.Seed, uint64(a.ID)^0x5eed))
	seen := map[string]bool{}
	if err := a.SubscribeTopics(ctx); err != nil {
		return err
	}
	if err := a.GoOnQueue(ctx); err != nil {
		return err
	}
	if d.Calls > 0 {
		back := false // the last call was transferred and comes back
		for done := 0; done < d.Calls; {
			if !back && d.Queue != nil {
				if err := d.Queue(ctx, a); err != nil {
					return err
				}
				d.count(func(s *DesktopStats) { s.Queued++ })
			}
			o, err := d.nextOffer(ctx, a, seen)
			if err != nil {
				return err
			}
			if back, err = d.handle(ctx, ctx, a, rng, o, d.draw(rng)); err != nil {
				return err
			}
			if !back {
				done++
			}
		}
		return a.GoOffQueue(ctx)
	}
	shift, cancel := context.WithDeadline(ctx, d.Until)
	defer cancel()
	for shift.Err() == nil {
		o, err := d.nextOffer(shift, a, seen)
		if err != nil {
			break
		}
		if _, err := d.handle(ctx, shift, a, rng, o, d.draw(rng)); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.GoOffQueue(ctx); err != nil {
		return err
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, drainWait)
		o, err := d.nextOffer(wctx, a, seen)
		cancel()
		if err != nil {
			return ctx.Err()
		}
		p := d.draw(rng)
		p.brk = false // off queue already
		if _, err := d.handle(ctx, ctx, a, rng, o, p); err != nil {
			return err
		}
	}
}

// nextOffer waits for the next live offer until ctx ends; an agent marked
// NOT_RESPONDING goes On Queue again.
func (d *Desktop) nextOffer(ctx context.Context, a *Agent, seen map[string]bool) (Offer, error) {
	for {
		wctx, cancel := context.WithTimeout(ctx, offerCheck)
		o, err := a.NextOffer(wctx)
		cancel()
		if err == nil {
			if seen[o.ParticipantID] || d.isEnded(o) {
				continue
			}
			seen[o.ParticipantID] = true
			return o, nil
		}
		if ctx.Err() != nil {
			return Offer{}, ctx.Err()
		}
		if a.State().RoutingStatus == RoutingNotResponding {
			d.count(func(s *DesktopStats) { s.Requeues++ })
			if err := a.SetPresence(ctx, PresenceOnQueue); err != nil {
				return Offer{}, err
			}
		}
	}
}

// handle rings, answers, talks (with the desktop's requests, maybe a
// hold), hangs up or transfers, wraps up one offered call, and takes the
// break planned after it, cut short when shift ends; it reports whether
// the call was transferred. A call whose caller hung up while it rang is
// let go.
func (d *Desktop) handle(ctx, shift context.Context, a *Agent, rng *rand.Rand, o Offer, p callPlan) (transferred bool, err error) {
	if err := backoff.Sleep(ctx, p.ring); err != nil {
		return false, err
	}
	if d.isEnded(o) {
		d.count(func(s *DesktopStats) { s.Missed++ })
		return false, nil
	}
	if err := a.Answer(ctx, o); err != nil {
		if d.isEnded(o) || a.offerGone(ctx, o) {
			d.count(func(s *DesktopStats) { s.Missed++; s.Refused++ })
			return false, nil
		}
		return false, err
	}
	answered := time.Now()
	d.answered(o.ConversationID, answered)
	if d.WhileTalking != nil {
		if err := d.WhileTalking(ctx, a, rng); err != nil {
			return false, err
		}
	}
	talk := max(0, p.talk-time.Since(answered))
	if p.held {
		d.count(func(s *DesktopStats) { s.Held++ })
		if err := backoff.Sleep(ctx, talk/2); err != nil {
			return false, err
		}
		if err := a.Hold(ctx, true); err != nil {
			return false, err
		}
		if err := backoff.Sleep(ctx, p.hold); err != nil {
			return false, err
		}
		if err := a.Hold(ctx, false); err != nil {
			return false, err
		}
		talk -= talk / 2
	}
	if err := backoff.Sleep(ctx, talk); err != nil {
		return false, err
	}
	if q := d.queue(o.ConversationID); p.transfer && q != "" {
		if err := a.Transfer(ctx, Transfer{QueueID: q}); err != nil {
			return false, err
		}
		d.count(func(s *DesktopStats) { s.Transferred++ })
		transferred = true
	} else if err := a.Disconnect(ctx); err != nil {
		return false, err
	}
	if err := backoff.Sleep(ctx, p.acw); err != nil {
		return transferred, err
	}
	if p.brk { // the break starts in after-call work: no call is offered after the wrap-up
		d.count(func(s *DesktopStats) { s.Breaks++ })
		if err := a.SetPresence(ctx, presenceBreak); err != nil {
			return transferred, err
		}
	}
	if err := a.Wrapup(ctx, p.code); err != nil {
		return transferred, err
	}
	handled := time.Since(answered)
	d.count(func(s *DesktopStats) { s.HandleTime = append(s.HandleTime, handled) })
	if p.brk {
		// A break ends early when the shift does: the agent then goes off
		// queue from it.
		if backoff.Sleep(shift, p.breakFor) != nil {
			return transferred, ctx.Err()
		}
		if err := a.SetPresence(ctx, PresenceOnQueue); err != nil {
			return transferred, err
		}
	}
	return transferred, nil
}
