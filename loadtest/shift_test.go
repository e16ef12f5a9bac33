//go:build load

package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
	"github.com/cxload/cxload/harness/result"
)

// What an agent does with a call, and how often. Talk time is the think
// knob (exponential mean); the rest is fixed here.
const (
	shiftOccupancy = 0.8  // share of the agents' time the offered calls fill
	shiftHold      = 0.20 // calls put on hold once
	shiftTransfer  = 0.05 // calls blind-transferred back to their queue
	shiftBreak     = 0.05 // calls after which the agent takes a break
	shiftQueues    = 0.25 // calls during which the agent lists the queues
	shiftDetails   = 0.25 // calls during which the agent queries conversation details
	shiftRingMin   = 300 * time.Millisecond
	shiftRingMax   = 2 * time.Second // well under the alert timeout (8 s)
	shiftACWMin    = 200 * time.Millisecond
	shiftACWMax    = time.Second
	// shiftPatience is the callers' mean wait before they hang up.
	shiftPatience = 2 * time.Minute
	// shiftPerQueue is how many agents share a queue on the embedded
	// simulator: a pool large enough that 80% occupancy queues calls for
	// seconds, not minutes.
	shiftPerQueue = 25
	// shiftAnswered is the share of the calls that did not abandon that the
	// agents must answer.
	shiftAnswered = 0.9
)

// busyTime is the mean time an agent spends on one call, from the offer to
// the end of the wrap-up: ring, talk, hold and after-call work.
func busyTime(think time.Duration) time.Duration {
	return (shiftRingMin+shiftRingMax)/2 + think + time.Duration(shiftHold*float64(think)/4) + (shiftACWMin+shiftACWMax)/2
}

// callPlan is what an agent will do with one call, drawn when it is offered.
type callPlan struct {
	ring, talk, hold, acw, breakFor time.Duration
	queues, details, held, transfer bool
	brk                             bool
	code                            int
}

func drawCall(rng *rand.Rand, think time.Duration) callPlan {
	exp := func(mean time.Duration) time.Duration {
		return min(time.Duration(rng.ExpFloat64()*float64(mean)), 4*mean)
	}
	uni := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	return callPlan{
		ring: uni(shiftRingMin, shiftRingMax), talk: exp(think), hold: exp(think / 4), acw: uni(shiftACWMin, shiftACWMax),
		breakFor: exp(2 * think),
		queues:   rng.Float64() < shiftQueues, details: rng.Float64() < shiftDetails,
		held: rng.Float64() < shiftHold, transfer: rng.Float64() < shiftTransfer, brk: rng.Float64() < shiftBreak,
		code: rng.IntN(1 << 20),
	}
}

// shiftCallEvent is the part of a call event (the SDK's
// ConversationCallEventTopicCallConversation) the shift reads.
type shiftCallEvent struct {
	ID           string `json:"id"`
	Participants []struct {
		ID             string `json:"id"`
		Purpose        string `json:"purpose"`
		State          string `json:"state"`
		StartTime      string `json:"startTime"`
		DisconnectType string `json:"disconnectType"`
		User           *struct {
			ID string `json:"id"`
		} `json:"user"`
		Queue *struct {
			ID string `json:"id"`
		} `json:"queue"`
	} `json:"participants"`
}

// shiftStats is what the agents and their events measured; safe for
// concurrent use.
type shiftStats struct {
	mu          sync.Mutex
	queuedAt    map[string]time.Time // conversation → when its caller came in (server clock)
	queueOf     map[string]string    // conversation → its queue
	ended       map[string]bool      // participants no longer on their call
	seenOffer   map[string]bool      // agent participants seen alerting
	firstAnswer map[string]bool      // conversations answered at least once
	lastStatus  map[string]string    // user → routing status
	transitions map[string]int       // "IDLE→INTERACTING" → count
	offerLat    []time.Duration      // offer made (server) → its event received
	asa, aht    []time.Duration

	injected, answers, missed, transfers, holds, breaks, requeues atomic.Int64
}

func newShiftStats() *shiftStats {
	return &shiftStats{queuedAt: map[string]time.Time{}, queueOf: map[string]string{}, ended: map[string]bool{},
		seenOffer: map[string]bool{}, firstAnswer: map[string]bool{}, lastStatus: map[string]string{}, transitions: map[string]int{}}
}

// onEvent reads an agent's notification: routing-status transitions, and on
// its calls topic when each call came in, its queue, offers (with the
// push latency of the offer event) and participants that left.
func (s *shiftStats) onEvent(a *agent.Agent, ev notify.Event) {
	switch ev.TopicName {
	case "v2.users." + a.User.ID + ".routingStatus":
		var b struct {
			RoutingStatus struct {
				Status string `json:"status"`
			} `json:"routingStatus"`
		}
		if json.Unmarshal(ev.EventBody, &b) != nil || b.RoutingStatus.Status == "" {
			return
		}
		s.mu.Lock()
		from := s.lastStatus[a.User.ID]
		if from != b.RoutingStatus.Status {
			s.transitions[cmp.Or(from, "(start)")+"→"+b.RoutingStatus.Status]++
			s.lastStatus[a.User.ID] = b.RoutingStatus.Status
		}
		s.mu.Unlock()
	case "v2.users." + a.User.ID + ".conversations.calls":
		var c shiftCallEvent
		if json.Unmarshal(ev.EventBody, &c) != nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range c.Participants {
			switch {
			case p.Purpose == "customer":
				if t, err := time.Parse(time.RFC3339Nano, p.StartTime); err == nil {
					if _, ok := s.queuedAt[c.ID]; !ok {
						s.queuedAt[c.ID] = t
					}
				}
			case p.Purpose == "agent" && p.User != nil && p.User.ID == a.User.ID:
				if p.Queue != nil {
					s.queueOf[c.ID] = p.Queue.ID
				}
				if p.State == "alerting" && !s.seenOffer[p.ID] {
					s.seenOffer[p.ID] = true
					if t, err := time.Parse(time.RFC3339Nano, p.StartTime); err == nil {
						s.offerLat = append(s.offerLat, ev.Received.Sub(t))
					}
				}
			}
			if p.State == "disconnected" || p.State == "terminated" {
				s.ended[p.ID] = true
			}
		}
	}
}

// isEnded reports whether the participant left its call (or its caller hung up).
func (s *shiftStats) isEnded(o agent.Offer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended[o.ParticipantID]
}

// answered records an answered offer; the speed of answer counts a
// conversation's first answer only (a transferred call is answered again).
func (s *shiftStats) answered(conv string, at time.Time) {
	s.answers.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstAnswer[conv] {
		return
	}
	s.firstAnswer[conv] = true
	if q, ok := s.queuedAt[conv]; ok {
		s.asa = append(s.asa, max(0, at.Sub(q)))
	}
}

func (s *shiftStats) handled(d time.Duration) {
	s.mu.Lock()
	s.aht = append(s.aht, d)
	s.mu.Unlock()
}

func (s *shiftStats) queue(conv string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queueOf[conv]
}

// shift is the agents' desktop: each owned agent runs its own loop, driven
// by the offers on its notification channel.
type shift struct {
	stats *shiftStats
	seed  uint64
	think time.Duration
	codes []string // wrap-up code ids
	// inject queues one call on an agent's own queue (exact mode), nil otherwise.
	inject func(ctx context.Context, a *agent.Agent) error
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nextOffer waits for the next live offer until ctx ends; an agent marked
// NOT_RESPONDING goes On Queue again.
func (s *shift) nextOffer(ctx context.Context, a *agent.Agent, seen map[string]bool) (agent.Offer, error) {
	for {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		o, err := a.NextOffer(wctx)
		cancel()
		if err == nil {
			if seen[o.ParticipantID] || s.stats.isEnded(o) {
				continue
			}
			seen[o.ParticipantID] = true
			return o, nil
		}
		if ctx.Err() != nil {
			return agent.Offer{}, ctx.Err()
		}
		if a.State().RoutingStatus == agent.RoutingNotResponding {
			s.stats.requeues.Add(1)
			if err := a.SetPresence(ctx, agent.PresenceOnQueue); err != nil {
				return agent.Offer{}, err
			}
		}
	}
}

// handle rings, answers, talks (with desktop requests, maybe a hold),
// hangs up or transfers, wraps up one offered call, and takes the break
// planned after it (until hold ends); it reports whether the call was
// transferred. A call whose caller hung up while it rang is
// let go.
func (s *shift) handle(ctx, hold context.Context, a *agent.Agent, o agent.Offer, p callPlan) (transferred bool, err error) {
	if err := sleep(ctx, p.ring); err != nil {
		return false, err
	}
	if s.stats.isEnded(o) {
		s.stats.missed.Add(1)
		return false, nil
	}
	if err := a.Answer(ctx, o); err != nil {
		if s.stats.isEnded(o) {
			s.stats.missed.Add(1)
			return false, nil
		}
		return false, err
	}
	answered := time.Now()
	s.stats.answered(o.ConversationID, answered)
	talkStart := time.Now()
	if p.queues {
		req := &api.Request{Op: opQueuesList, Method: http.MethodGet, Route: routeQueues,
			Query: url.Values{"pageSize": {"25"}, "pageNumber": {"1"}}}
		if _, err := a.API().DoJSON(ctx, req, nil, nil); err != nil {
			return false, err
		}
	}
	if p.details {
		if err := s.details(ctx, a); err != nil {
			return false, err
		}
	}
	talk := max(0, p.talk-time.Since(talkStart))
	if p.held {
		s.stats.holds.Add(1)
		if err := sleep(ctx, talk/2); err != nil {
			return false, err
		}
		if err := a.Hold(ctx, true); err != nil {
			return false, err
		}
		if err := sleep(ctx, p.hold); err != nil {
			return false, err
		}
		if err := a.Hold(ctx, false); err != nil {
			return false, err
		}
		talk -= talk / 2
	}
	if err := sleep(ctx, talk); err != nil {
		return false, err
	}
	if q := s.stats.queue(o.ConversationID); p.transfer && q != "" {
		if err := a.Transfer(ctx, agent.Transfer{QueueID: q}); err != nil {
			return false, err
		}
		s.stats.transfers.Add(1)
		transferred = true
	} else if err := a.Disconnect(ctx); err != nil {
		return false, err
	}
	if err := sleep(ctx, p.acw); err != nil {
		return transferred, err
	}
	if p.brk { // the break starts in after-call work: no call is offered after the wrap-up
		s.stats.breaks.Add(1)
		if err := a.SetPresence(ctx, "Break"); err != nil {
			return transferred, err
		}
	}
	if err := a.Wrapup(ctx, s.codes[p.code%len(s.codes)]); err != nil {
		return transferred, err
	}
	s.stats.handled(time.Since(answered))
	if p.brk {
		// A break ends early when the shift does: the agent then goes off
		// queue from it.
		if sleep(hold, p.breakFor) != nil {
			return transferred, ctx.Err()
		}
		if err := a.SetPresence(ctx, agent.PresenceOnQueue); err != nil {
			return transferred, err
		}
	}
	return transferred, nil
}

// run is one agent's shift: on queue, then calls until the hold ends
// (ctx's deadline, hard ends at hard's), then off queue, answering what was
// still offered. With calls > 0 it takes exactly that many calls, each
// injected on its own queue when it is ready for it (a transferred call
// comes back to it and is taken again), whatever the timing.
func (s *shift) run(hard, hold context.Context, a *agent.Agent, calls int) error {
	rng := rand.New(rand.NewPCG(s.seed, uint64(a.ID)^0x5eed))
	seen := map[string]bool{}
	if err := a.SubscribeTopics(hard); err != nil {
		return err
	}
	if err := a.GoOnQueue(hard); err != nil {
		return err
	}
	if calls > 0 {
		back := false // the last call was transferred and comes back
		for done := 0; done < calls; {
			if !back {
				if err := s.inject(hard, a); err != nil {
					return err
				}
				s.stats.injected.Add(1)
			}
			o, err := s.nextOffer(hard, a, seen)
			if err != nil {
				return err
			}
			back, err = s.handle(hard, hard, a, o, drawCall(rng, s.think))
			if err != nil {
				return err
			}
			if !back {
				done++
			}
		}
		return a.GoOffQueue(hard)
	}
	for hold.Err() == nil {
		o, err := s.nextOffer(hold, a, seen)
		if err != nil {
			break
		}
		if _, err := s.handle(hard, hold, a, o, drawCall(rng, s.think)); err != nil {
			return err
		}
	}
	if err := a.GoOffQueue(hard); err != nil {
		return err
	}
	// Offers made before the agent went off queue may still be on the way.
	for {
		wctx, cancel := context.WithTimeout(hard, 500*time.Millisecond)
		o, err := s.nextOffer(wctx, a, seen)
		cancel()
		if err != nil {
			return hard.Err()
		}
		p := drawCall(rng, s.think)
		p.brk = false // off queue already
		if _, err := s.handle(hard, hard, a, o, p); err != nil {
			return err
		}
	}
}

// details queries the last hour's conversation details (one page of 25).
func (s *shift) details(ctx context.Context, a *agent.Agent) error {
	now := time.Now().UTC()
	body, _ := json.Marshal(map[string]any{
		"interval": now.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z") + "/" + now.Add(time.Minute).Format("2006-01-02T15:04:05.000Z"),
		"paging":   map[string]int{"pageSize": 25, "pageNumber": 1},
		"order":    "desc", "orderBy": "conversationStart"})
	req := &api.Request{Op: opDetailsQuery, Method: http.MethodPost, Route: routeDetails, Body: body}
	_, err := a.API().DoJSON(ctx, req, nil, nil)
	return err
}

// Operation and route of the wrap-up codes, read once per process.
const (
	opWrapupCodes    = "wrapupcodes.list"
	routeWrapupCodes = "/api/v2/routing/wrapupcodes"
)

// wrapupCodes reads the organization's wrap-up code ids (one page of 25).
func wrapupCodes(ctx context.Context, c *api.Client) ([]string, error) {
	var page struct {
		Entities []struct {
			ID string `json:"id"`
		} `json:"entities"`
	}
	req := &api.Request{Op: opWrapupCodes, Method: http.MethodGet, Route: routeWrapupCodes, Query: url.Values{"pageSize": {"25"}}}
	if _, err := c.DoJSON(ctx, req, nil, &page); err != nil {
		return nil, fmt.Errorf("reading the wrap-up codes: %w", err)
	}
	var ids []string
	for _, e := range page.Entities {
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("reading the wrap-up codes: GET %s lists none; the agents need one to wrap up their calls", routeWrapupCodes)
	}
	return ids, nil
}

// queueCalls queues n inbound calls on queue: the embedded simulator's
// InjectCalls, or POST /admin/calls on an external one (telephony's part).
func (r *rig) queueCalls(ctx context.Context, queue string, n int) error {
	if r.tg.Sim != nil {
		_, err := r.tg.Sim.InjectCalls(queue, n)
		return err
	}
	body, _ := json.Marshal(map[string]any{"queueId": queue, "count": n})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.ext+"/admin/calls", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s/admin/calls: %w", r.ext, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("POST %s/admin/calls (queue %s): status %d: %s", r.ext, queue, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// queueWatch is a supervisor's view of the queues (one notification
// channel subscribed to v2.routing.queues.{id}.conversations.calls): every
// call that came in, and whether an agent answered it or its caller hung up
// first.
type queueWatch struct {
	mu        sync.Mutex
	firstSeen map[string]time.Time
	answered  map[string]bool
	abandoned map[string]bool
}

func (w *queueWatch) onEvent(ev notify.Event) {
	var c shiftCallEvent
	if json.Unmarshal(ev.EventBody, &c) != nil || c.ID == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.firstSeen[c.ID]; !ok {
		w.firstSeen[c.ID] = ev.Received
	}
	for _, p := range c.Participants {
		switch {
		case p.Purpose == "agent" && p.State == "connected":
			w.answered[c.ID] = true
		case p.Purpose == "customer" && p.State == "disconnected" && p.DisconnectType == "endpoint" && !w.answered[c.ID]:
			w.abandoned[c.ID] = true
		}
	}
}

// counts returns the calls first seen before cutoff, of those the answered
// and abandoned ones, and the calls first seen from cutoff to end.
func (w *queueWatch) counts(cutoff, end time.Time) (offered, answered, abandoned, late int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, t := range w.firstSeen {
		switch {
		case t.After(end):
			continue
		case t.After(cutoff):
			late++
			continue
		}
		offered++
		if w.answered[id] {
			answered++
		} else if w.abandoned[id] {
			abandoned++
		}
	}
	return
}

// watchQueues opens the supervisor's channel on the given queues.
func (r *rig) watchQueues(ctx context.Context, c *api.Client, queues []string) (*queueWatch, *notify.Client, error) {
	w := &queueWatch{firstSeen: map[string]time.Time{}, answered: map[string]bool{}, abandoned: map[string]bool{}}
	var topics []string
	for _, q := range queues {
		topics = append(topics, "v2.routing.queues."+q+".conversations.calls")
	}
	cl, err := notify.Open(ctx, notify.Options{API: c, Gate: r.gate(), Topics: topics, HeartbeatInterval: r.heartbeat(),
		DeadAfter: max(3*r.heartbeat(), 10*time.Second), PingInterval: 2 * r.heartbeat(), OnEvent: w.onEvent})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the queue supervisor's channel: %w", err)
	}
	return w, cl, nil
}

// shiftPopulation is rig.population with each agent's events also read by
// the agent (offers, its state) and by the shift's statistics.
func (r *rig) shiftPopulation(t testing.TB, pool *auth.Pool, rec *metrics.Recorder, agents, owned int, st *shiftStats) (*agent.Population, *channels) {
	t.Helper()
	c := r.client(api.Config{Tokens: pool, Recorder: rec, Agents: owned})
	users, err := r.loadUsers(c, agents)
	if err != nil {
		t.Fatalf("loading %d agents: %v", agents, err)
	}
	chans := newChannels(r, c, rec, agents)
	open := func(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error) {
		cl, err := notify.Open(ctx, notify.Options{
			API: c.Agent(a.ID), Gate: r.gate(), Topics: topics, HeartbeatInterval: chans.hb,
			DeadAfter: max(3*chans.hb, 10*time.Second), PingInterval: 2 * chans.hb, ExpectTimeout: max(10*time.Second, 4*chans.hb),
			Collector: chans.col, Recorder: rec,
			OnEvent: func(ev notify.Event) {
				a.HandleEvent(ev.TopicName, ev.EventBody)
				st.onEvent(a, ev)
			},
		})
		if err != nil {
			return nil, err
		}
		return expecting{Client: cl, forgotten: &chans.forgotten}, nil
	}
	pop, err := agent.NewPopulation(agent.Config{API: c, Users: users, Shard: r.k.Shard, Channel: open, PushLatency: true})
	if err != nil {
		t.Fatal(err)
	}
	return pop, chans
}

// TestAgentShift answers: does a call-handling shift run within its latency
// and 429 budgets, with the calls answered? Agents ramp up, open their
// notification channel and go On Queue by presence; the calls offered on
// their channel they answer after a ring delay, talk (mean CXLOAD_THINK),
// sometimes hold or blind-transfer back to the queue, hang up and wrap up
// with a code; during calls they list queues and query conversation
// details, and now and then take a break. At the end every agent goes off
// queue. The embedded simulator offers calls with its traffic model at a
// rate that keeps the agents 80% busy; an external one (CXLOAD_SIM_URL) gets
// them with POST /admin/calls. CXLOAD_ITERATIONS makes every agent take
// exactly that many calls, each queued on its own queue when it is ready,
// so that the counts do not depend on timing or sharding (scripts/matrix.sh).
func TestAgentShift(t *testing.T) {
	shortParallel(t)
	k := loadKnobs(t)
	agents := pick(k.Agents, 500, 12)
	dur := pick(k.Duration, time.Minute, 10*time.Second)
	ramp := pick(k.Ramp, 5*time.Second, time.Second)
	if k.RampSet {
		ramp = k.Ramp
	}
	think := pick(k.Think, 10*time.Second, time.Second)
	if k.ThinkSet {
		think = k.Think
	}
	p99 := pick(k.P99, time.Second, 3*time.Second)
	hb := pick(time.Duration(0), 5*time.Second, time.Second)
	exact := k.Iterations > 0
	busy := busyTime(think)
	callRate := shiftOccupancy * float64(agents) / busy.Seconds() // calls per second, all shards
	queues := max(1, agents/shiftPerQueue)
	if exact {
		queues = agents // one queue per agent: its calls are its own
	}
	var trafficQueues []string
	chTweak := channelTweak(hb, hb, agents)
	o := rigOptions{tweak: func(p *gcsim.Profile) {
		chTweak(p)
		p.Directory.Queues = queues
		p.ACD.Traffic = gcsim.Traffic{}
		if !exact {
			trafficQueues = nil
			for q := range queues {
				trafficQueues = append(trafficQueues, gcsim.QueueID(q))
			}
			p.ACD.Traffic = gcsim.Traffic{CallsPerSecond: callRate / float64(queues), Patience: gcsim.Duration(shiftPatience), Queues: trafficQueues}
		}
	}}
	// Requests per call: answer, hang up or transfer, the wrap-up's call.get
	// and wrap-up, holds, desktop requests and breaks.
	perCall := 4 + 2*shiftHold + shiftQueues + shiftDetails + 2*shiftBreak
	offered := callRate * perCall
	// The pool is sized for twice the offered rate: calls come in bursts
	// and each agent's requests go through one token's bucket, so a pool
	// sized at the mean would keep requests waiting on the client-side
	// limiter.
	sizeFor := 2 * offered
	o.clients = func(bs []api.Bucket) (int, string) {
		p := sizePool(t, bs, genesys.FamilyPresence, k.Shard.SplitRate(sizeFor), math.MaxInt)
		return p.Clients, fmt.Sprintf("%d agents taking %.1f calls/s offer %s", agents, callRate, capacity.RateWords(k.Shard.SplitRate(offered)))
	}
	r := newRig(t, o)
	rec := r.recorder(t)
	owned := len(r.k.Shard.Agents(agents))
	traffic := r.tg.Sim != nil && !exact // the embedded simulator's traffic model offers the calls

	sized := sizePool(t, r.splitBuckets(r.rawBuckets()), genesys.FamilyPresence, r.k.Shard.SplitRate(sizeFor), len(r.clients()))
	sized.Clients = len(r.clients())
	sized.TokensPerClient = max(1, (sized.Tokens()+sized.Clients-1)/sized.Clients)
	perClient := max(sized.TokensPerClient, ceilDiv(2*owned, 250*sized.Clients)) // channel create + subscribe
	est := int64(offered*(dur+ramp).Seconds()) + int64(8*agents)
	if exact {
		est = int64(float64(agents*k.Iterations)*perCall*1.2) + int64(8*agents)
	}
	r.start(plan(agents, offered, dur, est))
	pool := r.pool(auth.Config{Policy: auth.PerClient, Clients: r.clients()[:sized.Clients], TokensPerClient: perClient})
	ctx := r.ctx
	st := newShiftStats()
	pop, chans := r.shiftPopulation(t, pool, rec, agents, owned, st)
	defer pop.Close()
	as := pop.Agents()
	codes, err := wrapupCodes(ctx, as[0].API())
	if err != nil {
		t.Fatal(err)
	}
	sh := &shift{stats: st, seed: r.k.Seed, think: think, codes: codes}

	// Who brings the calls.
	queueOfAgent := func(a *agent.Agent) string { return gcsim.QueueID(a.ID % queues) }
	var injectDone func()
	switch {
	case r.tenant():
		if exact {
			t.Fatalf("loadtest: %s on a tenant: the harness cannot place calls there (telephony brings them); unset it, the shift then takes the tenant's own calls for %s", EnvIterations, EnvDuration)
		}
	case exact:
		if r.prof == nil || r.prof.Directory.Queues < agents {
			n := 0
			if r.prof != nil {
				n = r.prof.Directory.Queues
			}
			t.Fatalf("loadtest: %s with %s=%s: each agent needs a queue of its own (the calls each shard takes are then exact), the profile has directory.queues %d: restart the simulator with a profile setting \"directory\": {\"queues\": %d} or more (scripts/matrix.sh does)",
				EnvIterations, EnvSimURL, r.ext, n, agents)
		}
		sh.inject = func(ctx context.Context, a *agent.Agent) error { return r.queueCalls(ctx, queueOfAgent(a), 1) }
	case r.ext != "":
		// Poisson arrivals of this shard's part on the queues of its agents.
		qs := map[string]bool{}
		for _, a := range as {
			qs[queueOfAgent(a)] = true
		}
		list := sortedKeys(qs)
		rate := r.k.Shard.SplitRate(callRate)
		ictx, cancel := context.WithTimeout(ctx, ramp+dur)
		var wg sync.WaitGroup
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(r.k.Seed, 0xca11))
			for {
				if sleep(ictx, time.Duration(rng.ExpFloat64()/rate*float64(time.Second))) != nil {
					return
				}
				if err := r.queueCalls(ictx, list[rng.IntN(len(list))], 1); err != nil {
					if ictx.Err() == nil {
						t.Errorf("loadtest: queuing a call: %v", err)
					}
					return
				}
				st.injected.Add(1)
			}
		})
		injectDone = func() { cancel(); wg.Wait() }
	}
	var watch *queueWatch
	if traffic {
		w, cl, err := r.watchQueues(ctx, r.client(api.Config{Tokens: pool, Agents: 1}).Agent(0), trafficQueues)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		watch = w
	}

	// The shift: agent j of this shard starts at j/owned of the ramp.
	start := time.Now()
	until := start.Add(ramp + dur)
	hard, cancelHard := context.WithTimeout(ctx, ramp+dur+time.Minute+time.Duration(max(k.Iterations, 1))*4*busy)
	defer cancelHard()
	hold, cancelHold := context.WithDeadline(hard, until)
	defer cancelHold()
	var active atomic.Int64
	var agentErrs sync.Map
	stop := progress(t, rec, func() int { return int(active.Load()) })
	var wg sync.WaitGroup
	for j, a := range as {
		wg.Go(func() {
			if sleep(hard, ramp*time.Duration(j)/time.Duration(len(as))) != nil {
				return
			}
			active.Add(1)
			defer active.Add(-1)
			if err := sh.run(hard, hold, a, k.Iterations); err != nil && !(hard.Err() != nil && !exact) {
				agentErrs.Store(a.ID, err)
			}
		})
	}
	wg.Wait()
	stop()
	if injectDone != nil {
		injectDone()
	}
	chans.settled(max(5*time.Second, 4*r.heartbeat()))
	if err := pop.Close(); err != nil {
		t.Errorf("closing the channels: %v", err)
	}
	var ids []int
	agentErrs.Range(func(k, v any) bool { ids = append(ids, k.(int)); return true })
	slices.Sort(ids)
	for i, id := range ids {
		if i == 10 {
			t.Errorf("… and %d more agents", len(ids)-10)
			break
		}
		v, _ := agentErrs.Load(id)
		t.Errorf("agent %d: %v", id, v)
	}

	doc := rec.Snapshot()
	ns := chans.col.Stats()
	st.mu.Lock()
	asa, aht, offerLat := mean(st.asa), mean(st.aht), percentiles(st.offerLat)
	tr := maps.Clone(st.transitions)
	distinct := len(st.firstAnswer)
	st.mu.Unlock()

	mode := fmt.Sprintf("hold %v", dur)
	if exact {
		mode = fmt.Sprintf("%d calls per agent", k.Iterations)
	}
	summary := []string{fmt.Sprintf("A call-handling shift of %d agents on %s: ramp %v, %s; talk time exponential with mean %v, ring %v–%v, after-call work %v–%v; %.0f%% of calls held, %.0f%% transferred, breaks after %.0f%%. The agents offer about %.1f req/s; the pool of %d token(s) over %d OAuth client(s) is sized for twice that.",
		owned, r.where(), ramp, mode, think, shiftRingMin, shiftRingMax, shiftACWMin, shiftACWMax, 100*shiftHold, 100*shiftTransfer, 100*shiftBreak,
		r.k.Shard.SplitRate(offered), sized.TokensPerClient*sized.Clients, sized.Clients)}
	if reach := capacity.Of(r.splitBuckets(r.realBuckets()), genesys.FamilyPresence, sized.Tokens(), sized.Clients); reach.Rate < r.k.Shard.SplitRate(offered) {
		summary = append(summary, fmt.Sprintf("The agents offer about %.1f req/s; this pool reaches %s, set by %s (%s): %s.",
			r.k.Shard.SplitRate(offered), capacity.RateWords(reach.Rate), reach.Bottleneck.Key, capacity.PerWindow(reach.Bottleneck), capacity.Advice(reach.Bottleneck, len(r.clients()))))
	}

	// Calls: who offered them, and the answered share.
	var callTh *result.ThresholdResult
	answers := st.answers.Load()
	judge := func(offered, abandoned, answered int) {
		want := int(math.Ceil(shiftAnswered * float64(offered-abandoned)))
		ratio := 1.0
		if offered-abandoned > 0 {
			ratio = float64(answered) / float64(offered-abandoned)
		}
		callTh = &result.ThresholdResult{Expr: fmt.Sprintf("answered >= %g%% of the calls that did not abandon", 100*shiftAnswered),
			Value: fmt.Sprintf("%.1f%%", 100*ratio), OK: answered >= want,
			Detail: fmt.Sprintf("%d calls offered, %d abandoned, %d answered (want at least %d)", offered, abandoned, answered, want)}
	}
	switch {
	case traffic:
		closing := 2 * busy
		off, ans, ab, late := watch.counts(until.Add(-closing), until)
		summary = append(summary, fmt.Sprintf("Calls: the simulator's traffic model offered %.2f calls/s (callers' patience exponential, mean %v); a supervisor's channel on the queues saw %d calls come in until %v before the end, of which %d were answered and %d abandoned (%d more came in during those last %v, not judged).",
			callRate, shiftPatience, off, closing, ans, ab, late, closing))
		judge(off, ab, ans)
	case exact || r.ext != "":
		inj := int(st.injected.Load())
		summary = append(summary, fmt.Sprintf("Calls: %d queued with POST /admin/calls (callers do not hang up), %d answered (a transferred call answered again counts twice).", inj, answers))
		if exact || r.k.Shard.Whole() {
			judge(inj, 0, distinct)
		} else {
			summary = append(summary, "Sharded: a call queued by one shard may be answered by another's agent, so the answered share is not judged per shard.")
		}
	default:
		summary = append(summary, fmt.Sprintf("Calls: the tenant's own traffic; %d answered. The harness places no call on a tenant, so the answered share is not judged.", answers))
	}
	summary = append(summary, fmt.Sprintf("Agents answered %d offers (%d let go: the caller hung up while ringing), held %d, transferred %d, took %d breaks, went On Queue again after NOT_RESPONDING %d times. Average speed of answer %v (caller in queue to answer, first answers); average handle time %v (answer to wrap-up: talk, hold, after-call work).",
		answers, st.missed.Load(), st.holds.Load(), st.transfers.Load(), st.breaks.Load(), st.requeues.Load(), asa.Round(time.Millisecond), aht.Round(time.Millisecond)))

	all := doc.All()
	summary = append(summary, fmt.Sprintf("%d requests, %d answered 429 (%.2f%%), %d errors.", all.Count, all.Status429,
		100*float64(all.Status429)/float64(max(all.Count, 1)), all.Errors()))
	var th []string
	for _, op := range doc.OpNames() {
		o := doc.Op(op)
		if op == agent.OpUsersList || op == agent.OpPresenceDefinitions || op == opWrapupCodes {
			continue
		}
		line := fmt.Sprintf("%s: %d, p50 %v, p99 %v (service time)", op, o.Count, o.Latency.Percentile(50), o.Latency.Percentile(99))
		if wait := time.Duration(o.RetryWaitMs * float64(time.Millisecond)).Round(time.Millisecond); wait > 0 {
			capa := capacity.Of(r.splitBuckets(r.realBuckets()), genesys.Family(o.Route), sized.Tokens(), sized.Clients)
			line += fmt.Sprintf("; waited %v in all on client-side limits: %s allows this pool %s", wait, capa.Bottleneck.Key, capacity.RateWords(capa.Rate))
		}
		summary = append(summary, line+".")
		th = append(th, fmt.Sprintf("p99(%s) < %v", op, p99))
	}
	summary = append(summary, fmt.Sprintf("Routing status from the agents' events: %s.", transitionWords(tr)))
	offerWords := "no offer event carried its offer time"
	if offerLat[0] > 0 || offerLat[1] > 0 {
		offerWords = fmt.Sprintf("offer events arrived p50 %v, p99 %v after the offer (the event's startTime, server clock)", offerLat[0].Round(time.Microsecond), offerLat[1].Round(time.Microsecond))
	}
	summary = append(summary, fmt.Sprintf("Notifications: %d channels, heartbeats %d, longest gap %v, drops %d, reconnects %d; %s; events of the agents' own requests %d expected, %d arrived, %d lost (%d for requests that failed), push latency p50 %v, p99 %v.",
		owned, ns.Heartbeats, ns.MaxHeartbeatGap.Round(time.Millisecond), ns.Drops, ns.Reconnects, offerWords, ns.Expected, ns.Matched, ns.Lost, chans.forgotten.Load(), ns.PushLatency.P50, ns.PushLatency.P99))
	sort.Strings(th)
	th = append(th,
		fmt.Sprintf("rate(429) <= %g%%", 100*r.k.Max429Rate),
		"rate(errors) < 1%",
		fmt.Sprintf("ws_lost <= %d", chans.forgotten.Load()),
		"ws_drops == 0",
		fmt.Sprintf("max_heartbeat_gap < %v", gapLimit(r.heartbeat())))
	summary = append(summary, fmt.Sprintf("Thresholds: p99 < %v per operation (%s); 429s at most %g%% (the pool is sized for twice the offered rate, so throttling means the sizing or the limits are wrong); errors under 1%% (a desktop that fails its requests drops calls); no event lost but those of failed requests and no socket dropped (an agent that misses an offer lets the caller ring out); heartbeat gaps under %v (a silent socket is a dead desktop); answered at least %g%% of the calls whose caller did not hang up (the agents keep up with the traffic).",
		p99, map[bool]string{true: "CXLOAD_P99", false: "the default; CXLOAD_P99 sets it"}[k.P99 != 0], 100*r.k.Max429Rate, gapLimit(r.heartbeat()), 100*shiftAnswered))
	if callTh != nil {
		if !callTh.OK {
			t.Errorf("threshold %s: measured %s (%s)", callTh.Expr, callTh.Value, callTh.Detail)
		}
		doc.Thresholds = append(doc.Thresholds, *callTh)
	}
	finish(t, doc, summary, th...)
}

// mean is the average of ds, 0 for none.
func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}

// percentiles returns the p50 and p99 of ds (nearest rank), zeros for none.
func percentiles(ds []time.Duration) [2]time.Duration {
	if len(ds) == 0 {
		return [2]time.Duration{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[max(0, int(math.Ceil(p/100*float64(len(s))))-1)] }
	return [2]time.Duration{at(50), at(99)}
}

// transitionWords lists the routing-status transitions, the call cycle first.
func transitionWords(tr map[string]int) string {
	first := []string{"IDLE→INTERACTING", "INTERACTING→IDLE"}
	var parts []string
	for _, k := range first {
		parts = append(parts, fmt.Sprintf("%s %d", k, tr[k]))
	}
	nr := 0
	for k, v := range tr {
		if strings.HasSuffix(k, "→"+agent.RoutingNotResponding) {
			nr += v
		}
	}
	parts = append(parts, fmt.Sprintf("→NOT_RESPONDING %d", nr))
	for _, k := range sortedKeys(tr) {
		if !slices.Contains(first, k) && !strings.HasSuffix(k, "→"+agent.RoutingNotResponding) {
			parts = append(parts, fmt.Sprintf("%s %d", k, tr[k]))
		}
	}
	return strings.Join(parts, ", ")
}
