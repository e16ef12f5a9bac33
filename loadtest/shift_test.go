//go:build load

package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/backoff"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
	"github.com/cxload/cxload/harness/result"
)

// What an agent does with a call, and how often. Talk time is the think
// knob (exponential mean); ring delay and after-call work are the
// Desktop's defaults (agent.DefaultRingMin and the like); the rest is
// fixed here.
const (
	shiftOccupancy = 0.8  // share of the agents' time the offered calls fill
	shiftHold      = 0.20 // calls put on hold once
	shiftTransfer  = 0.05 // calls blind-transferred back to their queue
	shiftBreak     = 0.05 // calls after which the agent takes a break
	shiftQueues    = 0.25 // calls during which the agent lists the queues
	shiftDetails   = 0.25 // calls during which the agent queries conversation details
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
	return (agent.DefaultRingMin+agent.DefaultRingMax)/2 + think + time.Duration(shiftHold*float64(think)/4) + (agent.DefaultWrapupMin+agent.DefaultWrapupMax)/2
}

// queueCallEvent is the part of a call event (the SDK's
// ConversationCallEventTopicCallConversation) the queue supervisor reads.
type queueCallEvent struct {
	ID           string `json:"id"`
	Participants []struct {
		Purpose        string `json:"purpose"`
		State          string `json:"state"`
		DisconnectType string `json:"disconnectType"`
	} `json:"participants"`
}

// whileTalking is what the agents do on their desktop during a call: list
// the queues on a share of the calls, query conversation details on another.
func whileTalking(ctx context.Context, a *agent.Agent, rng *rand.Rand) error {
	queues, details := rng.Float64() < shiftQueues, rng.Float64() < shiftDetails
	if queues {
		req := &api.Request{Op: opQueuesList, Method: http.MethodGet, Route: routeQueues,
			Query: url.Values{"pageSize": {"25"}, "pageNumber": {"1"}}}
		if _, err := a.API().DoJSON(ctx, req, nil, nil); err != nil {
			return err
		}
	}
	if details {
		return queryDetails(ctx, a)
	}
	return nil
}

// queryDetails queries the details of the agent's own conversations of
// the last hour (one page of 25), as an agent's desktop does: on a tenant
// it reads no call of a queue outside the fixture, since the agent takes
// calls from those queues only.
func queryDetails(ctx context.Context, a *agent.Agent) error {
	now := time.Now().UTC()
	body, _ := json.Marshal(map[string]any{
		"interval": now.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z") + "/" + now.Add(time.Minute).Format("2006-01-02T15:04:05.000Z"),
		"paging":   map[string]int{"pageSize": 25, "pageNumber": 1},
		"order":    "desc", "orderBy": "conversationStart",
		"segmentFilters": []map[string]any{{"type": "and", "predicates": []map[string]string{{"dimension": "userId", "value": a.User.ID}}}}})
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
	var c queueCallEvent
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

// shiftPopulation is rig.population with each event also read by the
// desktop (the agents read theirs: offers, their state).
func (r *rig) shiftPopulation(t testing.TB, pool *auth.Pool, rec *metrics.Recorder, agents, owned int, desk *agent.Desktop) (*agent.Population, *channels) {
	t.Helper()
	c := r.tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: owned})
	users, err := r.tg.Users(r.ctx, c, agents)
	if err != nil {
		t.Fatalf("loading %d agents: %v", agents, err)
	}
	var mine []agent.User
	for i, u := range users {
		if r.k.Shard.Owns(i) {
			mine = append(mine, u)
		}
	}
	// On a tenant, the agents go On Queue on the queues of CXLOAD_QUEUES only.
	if _, err := r.tg.Queues(r.ctx, c, mine); err != nil {
		t.Fatalf("readying %d agents' queues: %v", len(mine), err)
	}
	// Channels as Genesys allows them: one per agent with user tokens,
	// else the agents' topics multiplexed on their OAuth client's channels.
	chans := newChannels(r, c, rec, agents)
	chans.perUser = pool.Policy() == auth.PerUser
	opts := chans.options()
	opts.OnEvent = desk.HandleEvent // after the agent's own HandleEvent (agent.Channels)
	chans.set = &agent.Channels{Options: opts, Tokens: pool}
	pop, err := agent.NewPopulation(agent.Config{API: c, Users: users, Shard: r.k.Shard, Channel: chans.open, PushLatency: true})
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
	chTweak := timingTweak(hb, hb) // Genesys' channel limits as they are
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

	sized := sizePool(t, r.tg.SplitBuckets(r.tg.Buckets()), genesys.FamilyPresence, r.k.Shard.SplitRate(sizeFor), len(r.tg.Config.Clients))
	sized.Clients = len(r.tg.Config.Clients)
	sized.TokensPerClient = max(1, (sized.Tokens()+sized.Clients-1)/sized.Clients)
	perClient := max(sized.TokensPerClient, ceilDiv(2*owned, 250*sized.Clients)) // channel create + subscribe
	est := int64(offered*(dur+ramp).Seconds()) + int64(8*agents)
	if exact {
		est = int64(float64(agents*k.Iterations)*perCall*1.2) + int64(8*agents)
	}
	// With CXLOAD_USER_TOKENS agent k sends as user k and holds its own
	// channel; otherwise the agents of one OAuth client share its channels.
	perUser := len(r.tg.Config.UserTokens) > 0
	r.checkChannels(t, agents, sized.Clients, perUser)
	r.tg.Start(plan(agents, offered, dur, est))
	policy := auth.PerClient
	if perUser {
		policy = auth.PerAgent // the target makes it auth.PerUser
	}
	pool := r.tg.NewPool(auth.Config{Policy: policy, Clients: r.tg.Config.Clients[:sized.Clients], TokensPerClient: perClient})
	ctx := r.ctx
	desk := &agent.Desktop{Talk: think, HoldShare: shiftHold, TransferShare: shiftTransfer, BreakShare: shiftBreak,
		Seed: r.k.Seed, Calls: k.Iterations, WhileTalking: whileTalking}
	pop, chans := r.shiftPopulation(t, pool, rec, agents, owned, desk)
	defer pop.Close()
	as := pop.Agents()
	codes, err := wrapupCodes(ctx, as[0].API())
	if err != nil {
		t.Fatal(err)
	}
	desk.WrapupCodes = codes
	var injected atomic.Int64 // calls queued by the Poisson arrivals below

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
		desk.Queue = func(ctx context.Context, a *agent.Agent) error { return r.queueCalls(ctx, queueOfAgent(a), 1) }
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
				if backoff.Sleep(ictx, time.Duration(rng.ExpFloat64()/rate*float64(time.Second))) != nil {
					return
				}
				if err := r.queueCalls(ictx, list[rng.IntN(len(list))], 1); err != nil {
					if ictx.Err() == nil {
						t.Errorf("loadtest: queuing a call: %v", err)
					}
					return
				}
				injected.Add(1)
			}
		})
		injectDone = func() { cancel(); wg.Wait() }
	}
	var watch *queueWatch
	if traffic {
		w, cl, err := r.watchQueues(ctx, r.tg.NewClient(api.Config{Tokens: pool, Agents: 1}).Agent(0), trafficQueues)
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
	if !exact {
		desk.Until = until
	}
	var active atomic.Int64
	var agentErrs sync.Map
	stop := progress(t, rec, func() int { return int(active.Load()) })
	var wg sync.WaitGroup
	for j, a := range as {
		wg.Go(func() {
			if backoff.Sleep(hard, ramp*time.Duration(j)/time.Duration(len(as))) != nil {
				return
			}
			active.Add(1)
			defer active.Add(-1)
			if err := desk.Run(hard, a); err != nil && !(hard.Err() != nil && !exact) {
				agentErrs.Store(a.ID, err)
			}
		})
	}
	wg.Wait()
	layout := chans.describe() // before the agents leave their channels
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
	ds := desk.Stats()
	asa, aht, offerLat := ds.AverageSpeedOfAnswer(), ds.AverageHandleTime(), percentiles(ds.OfferLatency)
	tr, distinct := ds.Transitions, ds.Conversations

	mode := fmt.Sprintf("hold %v", dur)
	if exact {
		mode = fmt.Sprintf("%d calls per agent", k.Iterations)
	}
	summary := []string{fmt.Sprintf("A call-handling shift of %d agents on %s: ramp %v, %s; talk time exponential with mean %v, ring %v–%v, after-call work %v–%v; %.0f%% of calls held, %.0f%% transferred, breaks after %.0f%%. The agents offer about %.1f req/s; the pool of %d token(s) over %d OAuth client(s) is sized for twice that.",
		owned, r.where(), ramp, mode, think, agent.DefaultRingMin, agent.DefaultRingMax, agent.DefaultWrapupMin, agent.DefaultWrapupMax, 100*shiftHold, 100*shiftTransfer, 100*shiftBreak,
		r.k.Shard.SplitRate(offered), sized.TokensPerClient*sized.Clients, sized.Clients)}
	var head []string
	if reach := capacity.Of(r.tg.SplitBuckets(r.realBuckets()), genesys.FamilyPresence, sized.Tokens(), sized.Clients); reach.Rate < r.k.Shard.SplitRate(offered) {
		head = append(head, fmt.Sprintf("The agents offer about %.1f req/s; this pool reaches %s, set by %s (%s): %s.",
			r.k.Shard.SplitRate(offered), capacity.RateWords(reach.Rate), reach.Bottleneck.Key, capacity.PerWindow(reach.Bottleneck), capacity.Advice(reach.Bottleneck, len(r.tg.Config.Clients))))
	}

	// Calls: who offered them, and the answered share.
	var callTh *result.ThresholdResult
	answers := ds.Answered
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
		inj := ds.Queued + int(injected.Load())
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
		answers, ds.Missed, ds.Held, ds.Transferred, ds.Breaks, ds.Requeues, asa.Round(time.Millisecond), aht.Round(time.Millisecond)))

	all := doc.All()
	errWords := fmt.Sprintf("%d errors", all.Errors())
	if ds.Refused > 0 {
		errWords += fmt.Sprintf(" (%d of them answers refused because the caller had just hung up, before the event said so: offers let go, not failures)", ds.Refused)
	}
	head = append([]string{fmt.Sprintf("%d agents answered %d offers; average speed of answer %v, average handle time %v; %d requests, %d answered 429 (%.2f%%), %s.",
		owned, answers, asa.Round(time.Millisecond), aht.Round(time.Millisecond), all.Count, all.Status429,
		100*float64(all.Status429)/float64(max(all.Count, 1)), errWords)}, head...)
	p99Words := "the default; CXLOAD_P99 sets it"
	if k.P99 != 0 {
		p99Words = "CXLOAD_P99"
	}
	var th []bound
	for _, op := range doc.OpNames() {
		o := doc.Op(op)
		if op == agent.OpUsersList || op == agent.OpPresenceDefinitions || op == opWrapupCodes {
			continue
		}
		line := fmt.Sprintf("%s: %d, p50 %v, p99 %v (service time)", op, o.Count, o.Latency.Percentile(50), o.Latency.Percentile(99))
		if wait := time.Duration(o.RetryWaitMs * float64(time.Millisecond)).Round(time.Millisecond); wait > 0 {
			capa := capacity.Of(r.tg.SplitBuckets(r.realBuckets()), genesys.Family(o.Route), sized.Tokens(), sized.Clients)
			line += fmt.Sprintf("; waited %v in all on client-side limits: %s allows this pool %s", wait, capa.Bottleneck.Key, capacity.RateWords(capa.Rate))
		}
		summary = append(summary, line+".")
		th = append(th, bound{fmt.Sprintf("p99(%s, service) < %v", op, p99), fmt.Sprintf("the platform's answer time as a desktop waits for it (%s); the client-side waits are the total time's, in the table", p99Words)})
	}
	summary = append(summary, "Channels: "+layout+"; "+matching(ns)+".")
	summary = append(summary, fmt.Sprintf("Routing status from the agents' events: %s.", transitionWords(tr)))
	offerWords := "no offer event carried its offer time"
	if offerLat[0] > 0 || offerLat[1] > 0 {
		offerWords = fmt.Sprintf("offer events arrived p50 %v, p99 %v after the offer (the event's startTime, server clock)", offerLat[0].Round(time.Microsecond), offerLat[1].Round(time.Microsecond))
	}
	summary = append(summary, fmt.Sprintf("Notifications: %d channels, heartbeats %d, longest gap %v, drops %d, reconnects %d; %s; events of the agents' own requests %d expected, %d arrived, %d lost (%d for requests that failed), push latency p50 %v, p99 %v.",
		chans.set.Count(), ns.Heartbeats, ns.MaxHeartbeatGap.Round(time.Millisecond), ns.Drops, ns.Reconnects, offerWords, ns.Expected, ns.Matched, ns.Lost, chans.withdrawn.Load(), ns.PushLatency.P50, ns.PushLatency.P99))
	slices.SortFunc(th, func(a, b bound) int { return strings.Compare(a.expr, b.expr) })
	th = append(th,
		bound{fmt.Sprintf("rate(429) <= %g%%", 100*r.k.Max429Rate), "the pool is sized for twice the offered rate, so throttling means the sizing or the limits are wrong; " + max429Words},
		bound{"rate(errors) < 1%", "a desktop that fails its requests drops calls"},
		bound{"ws_lost == 0", "an agent that misses an offer lets the caller ring out; events of requests that failed are withdrawn, not lost"},
		bound{"ws_drops == 0", "a dropped socket is a desktop that misses offers"},
		bound{fmt.Sprintf("max_heartbeat_gap < %v", gapLimit(r.heartbeat())), "a silent socket is a dead desktop: " + gapWords})
	summary = append(summary, fmt.Sprintf("Calls answered: at least %g%% of the calls whose caller did not hang up (the agents keep up with the traffic).", 100*shiftAnswered))
	if callTh != nil {
		if !callTh.OK {
			t.Errorf("threshold %s: measured %s (%s)", callTh.Expr, callTh.Value, callTh.Detail)
		}
		doc.Thresholds = append(doc.Thresholds, *callTh)
	}
	finish(t, doc, head, summary, th...)
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
