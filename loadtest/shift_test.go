//go:build load

package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/workload"
)

// shiftMix is the share of each activity an agent without a call picks.
// A call (delivered to the agent's own number, then answered) takes three
// more iterations: pause the recording, resume it, hang up and query the
// details.
var shiftMix = []struct {
	name   string
	weight int
}{
	{"call", 35},
	{"break", 15},
	{"queues", 20},
	{"details", 15},
	{"routing", 15},
}

// shiftAgent is one agent's shift state; only its own iterations touch it.
type shiftAgent struct {
	rng       *rand.Rand
	callStep  int // 0: no call; 1..3: the next step of the current call
	onQueue   bool
	done      bool
	onBreak   bool
	callCount int
}

// shift runs the activities of the shift.
type shift struct {
	mu    sync.Mutex
	state map[int]*shiftAgent
	seed  uint64
	// place delivers a call to the agent and returns its conversation id
	// (telephony's part: placing a call through the API needs a user token).
	place func(ctx context.Context, a *agent.Agent) (string, error)
}

func (s *shift) agentState(id int) *shiftAgent {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[id]
	if st == nil {
		st = &shiftAgent{rng: rand.New(rand.NewPCG(s.seed, uint64(id)^0x5eed))}
		s.state[id] = st
	}
	return st
}

// iteration does the agent's next activity of its shift.
func (s *shift) iteration(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
	st := s.agentState(a.ID)
	if it.N == 0 {
		if err := a.SubscribeTopics(ctx); err != nil {
			return err
		}
		if err := a.GoOnQueue(ctx); err != nil {
			return err
		}
		st.onQueue = true
		return nil
	}
	switch st.callStep {
	case 1:
		st.callStep = 2
		return a.SetRecordingState(ctx, "paused")
	case 2:
		st.callStep = 3
		return a.SetRecordingState(ctx, "active")
	case 3:
		st.callStep = 0
		if err := a.Disconnect(ctx); err != nil {
			return err
		}
		a.EndCall()
		return s.details(ctx, a)
	}
	if st.onBreak {
		st.onBreak = false
		return a.SetPresence(ctx, agent.PresenceOnQueue)
	}
	n := st.rng.IntN(100)
	for _, m := range shiftMix {
		if n -= m.weight; n >= 0 {
			continue
		}
		switch m.name {
		case "call":
			conv, err := s.place(ctx, a)
			if err != nil {
				return err
			}
			o, err := a.FindOffer(ctx, conv)
			if err != nil {
				return err
			}
			if err := a.Answer(ctx, o); err != nil {
				return err
			}
			st.callStep = 1
			st.callCount++
			return nil
		case "break":
			st.onBreak = true
			return a.SetPresence(ctx, "Break")
		case "queues":
			req := &api.Request{Op: opQueuesList, Method: http.MethodGet, Route: routeQueues,
				Query: url.Values{"pageSize": {"25"}, "pageNumber": {"1"}}}
			_, err := a.API().DoJSON(ctx, req, nil, nil)
			return err
		case "details":
			return s.details(ctx, a)
		case "routing":
			return a.SetRoutingStatus(ctx, agent.RoutingIdle)
		}
	}
	return nil
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

// TestAgentShift answers: does a realistic agent shift run within its
// latency and 429 budgets? Agents ramp up, go on queue (presence On Queue,
// routing status IDLE) with their notification channel open, then, with
// think times, take calls (pausing and resuming the recording, then a
// details query), take breaks, list queues, query conversation details and
// set their routing status; at the end every agent goes off queue. The
// client is rate-aware with a token pool sized for the offered rate.
// CXLOAD_ITERATIONS makes every agent do exactly that many iterations (the
// counts then do not depend on timing or sharding: scripts/matrix.sh uses it).
func TestAgentShift(t *testing.T) {
	shortParallel(t)
	k := loadKnobs(t)
	agents := pick(k.Agents, 40, 12)
	dur := pick(k.Duration, 45*time.Second, 10*time.Second)
	ramp := pick(k.Ramp, 5*time.Second, time.Second)
	if k.RampSet {
		ramp = k.Ramp
	}
	think := pick(k.Think, 2*time.Second, 500*time.Millisecond)
	if k.ThinkSet {
		think = k.Think
	}
	p99 := pick(k.P99, time.Second, 3*time.Second)
	hb := pick(time.Duration(0), 5*time.Second, time.Second)
	o := rigOptions{tweak: channelTweak(hb, hb, agents)}
	if testing.Short() {
		o.scale = 10 // recording-state changes at 100 per minute would starve a 10 s shift
	}
	// Offered rate: one request per iteration, about one iteration per
	// think time and agent. The simulator's default profile gets the OAuth
	// clients that rate needs under the per-client limits.
	offered := float64(agents) / max(think.Seconds(), 0.05)
	o.clients = func(bs []api.Bucket) (int, string) {
		p := sizePool(t, bs, genesys.FamilyPresence, k.Shard.SplitRate(offered), math.MaxInt)
		return p.Clients, fmt.Sprintf("%d agents thinking %v on average offer %s", agents, think, rateWords(k.Shard.SplitRate(offered)))
	}
	r := newRig(t, o)
	rec := r.recorder(t)
	owned := len(r.k.Shard.Agents(agents))

	// Size the pool for the offered rate, over every OAuth client
	// (recording-state changes are limited per client).
	sized := sizePool(t, r.splitBuckets(r.rawBuckets()), genesys.FamilyPresence, r.k.Shard.SplitRate(offered), len(r.clients()))
	sized.Clients = len(r.clients())
	sized.TokensPerClient = max(1, (sized.Tokens()+sized.Clients-1)/sized.Clients)
	perClient := max(sized.TokensPerClient, ceilDiv(2*owned, 250*sized.Clients)) // channel create + subscribe
	est := int64(offered*dur.Seconds()) + int64(6*agents)
	if k.Iterations > 0 {
		est = int64(agents*(k.Iterations+4)) + 10
	}
	r.start(plan(agents, offered, dur, est))
	pool := r.pool(auth.Config{Policy: auth.PerClient, Clients: r.clients()[:sized.Clients], TokensPerClient: perClient})
	ctx := r.ctx
	pop, chans := r.population(t, pool, rec, agents, owned)
	defer pop.Close()
	sh := &shift{state: map[int]*shiftAgent{}, seed: r.k.Seed, place: func(ctx context.Context, a *agent.Agent) (string, error) {
		us := make([]agent.User, a.ID+1)
		us[a.ID] = a.User
		calls, err := r.placeCalls(ctx, a.API(), us, []int{a.ID})
		return calls[a.ID], err
	}}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var active atomic.Int64
	closed := workload.Closed{
		Agents:       agents,
		Ramp:         &workload.Ramp{Stages: []workload.Stage{{Duration: ramp, Target: float64(agents)}, {Duration: dur, Target: float64(agents)}}},
		Think:        workload.ExponentialThink{Mean: think, Max: 4 * think},
		Seed:         r.k.Seed,
		Shard:        r.k.Shard,
		GracefulStop: 2 * time.Second,
		Active:       &active,
	}
	var finished atomic.Int64
	iter := sh.iteration
	if k.Iterations > 0 {
		// Exactly k.Iterations per agent, then wait for the others.
		closed.Ramp = &workload.Ramp{Stages: []workload.Stage{{Duration: ramp, Target: float64(agents)}, {Duration: 10 * time.Minute, Target: float64(agents)}}}
		iter = func(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
			if it.N < uint64(k.Iterations) {
				return sh.iteration(ctx, a, it)
			}
			if st := sh.agentState(a.ID); !st.done {
				st.done = true
				if finished.Add(1) == int64(owned) {
					cancel()
				}
			}
			<-ctx.Done()
			return nil
		}
	}
	var iterErrs sync.Map
	stop := progress(t, rec, func() int { return int(active.Load()) })
	st, err := closed.Run(runCtx, pop.Iter(func(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
		err := iter(ctx, a, it)
		if err != nil && ctx.Err() == nil {
			iterErrs.LoadOrStore(a.ID, err)
		}
		return err
	}))
	stop()
	if err != nil {
		t.Fatal(err)
	}
	// End of shift: everyone who went on queue goes off queue.
	var offQueue []*agent.Agent
	for _, a := range pop.Agents() {
		if st := sh.agentState(a.ID); st.onQueue {
			offQueue = append(offQueue, a)
		}
	}
	if err := parallel(ctx, len(offQueue), 8, func(ctx context.Context, i int) error { return offQueue[i].GoOffQueue(ctx) }); err != nil {
		t.Errorf("going off queue at the end of the shift: %v", err)
	}
	chans.settled(max(5*time.Second, 4*r.heartbeat()))
	if err := pop.Close(); err != nil {
		t.Errorf("closing the channels: %v", err)
	}
	logf(t, "executor: %v", st)
	iterErrs.Range(func(k, v any) bool {
		logf(t, "agent %v: %v", k, v)
		return true
	})

	doc := rec.Snapshot()
	ns := chans.col.Stats()
	calls := 0
	for _, a := range sh.state {
		calls += a.callCount
	}
	summary := []string{fmt.Sprintf("A shift of %d agents on %s: ramp %v, %s, think time exponential with mean %v; pool of %d token(s) over %d OAuth client(s) sized for about %.1f req/s.",
		owned, r.where(), ramp, map[bool]string{true: fmt.Sprintf("%d iterations per agent", k.Iterations), false: fmt.Sprintf("hold %v", dur)}[k.Iterations > 0],
		think, sized.TokensPerClient*sized.Clients, sized.Clients, r.k.Shard.SplitRate(offered))}
	if reach := capacity.Of(r.splitBuckets(r.realBuckets()), genesys.FamilyPresence, sized.Tokens(), sized.Clients); reach.Rate < r.k.Shard.SplitRate(offered) {
		summary = append(summary, fmt.Sprintf("The agents offer about %.1f req/s; this pool reaches %s, set by %s (%s): %s.",
			r.k.Shard.SplitRate(offered), rateWords(reach.Rate), reach.Bottleneck.Key, perWindow(reach.Bottleneck), advice(reach.Bottleneck, len(r.clients()))))
	}
	all := doc.All()
	summary = append(summary, fmt.Sprintf("%d requests, %d answered 429 (%.2f%%), %d errors; %d calls taken.", all.Count, all.Status429,
		100*float64(all.Status429)/float64(max(all.Count, 1)), all.Errors(), calls))
	var th []string
	for _, op := range doc.OpNames() {
		o := doc.Op(op)
		if op == "users.list" || op == agent.OpPresenceDefinitions {
			continue
		}
		line := fmt.Sprintf("%s: %d, p50 %v, p99 %v (service time)", op, o.Count, o.Latency.Percentile(50), o.Latency.Percentile(99))
		if wait := time.Duration(o.RetryWaitMs * float64(time.Millisecond)).Round(time.Millisecond); wait > 0 {
			capa := capacity.Of(r.splitBuckets(r.realBuckets()), genesys.Family(o.Route), sized.Tokens(), sized.Clients)
			line += fmt.Sprintf("; waited %v in all on client-side limits: %s allows this pool %s", wait, capa.Bottleneck.Key, rateWords(capa.Rate))
		}
		summary = append(summary, line+".")
		th = append(th, fmt.Sprintf("p99(%s) < %v", op, p99))
	}
	summary = append(summary, fmt.Sprintf("Notifications: %d channels, heartbeats %d, longest gap %v, drops %d, reconnects %d; events %d expected, %d arrived, %d lost (%d for requests canceled at the end of the shift); push latency p50 %v, p99 %v (measured from before the client-side limiter: waits count).",
		owned, ns.Heartbeats, ns.MaxHeartbeatGap.Round(time.Millisecond), ns.Drops, ns.Reconnects, ns.Expected, ns.Matched, ns.Lost, chans.forgotten.Load(), ns.PushLatency.P50, ns.PushLatency.P99))
	if r.scaleNote() != "" {
		summary = append(summary, r.scaleNote())
	}
	sort.Strings(th)
	th = append(th,
		fmt.Sprintf("rate(429) <= %g%%", 100*r.k.Max429Rate),
		"rate(errors) < 1%",
		fmt.Sprintf("ws_lost <= %d", chans.forgotten.Load()),
		"ws_drops == 0",
		fmt.Sprintf("max_heartbeat_gap < %v", gapLimit(r.heartbeat())))
	finish(t, doc, summary, th...)
}
