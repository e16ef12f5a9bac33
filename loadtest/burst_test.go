//go:build load

package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/workload"
)

// burstConfig is the load of TestRecordingBurst, from the knobs.
type burstConfig struct {
	Agents      int           // population (all shards)
	Concurrency int           // agents active after the ramp
	Ramp        time.Duration // 0 → Concurrency
	Think       time.Duration // constant, between toggles
	Storm       time.Duration // phase (a)
	Phase       time.Duration // phases (b) and (c)
	Rate        float64       // requested rate for the sized pool of (c)
}

func burstFromKnobs(k knobs) burstConfig {
	c := burstConfig{
		Agents:      pick(k.Agents, 500, 200),
		Concurrency: pick(k.Concurrency, 100, 50),
		Ramp:        pick(k.Ramp, 5*time.Second, time.Second),
		Think:       pick(k.Think, 500*time.Millisecond, 250*time.Millisecond),
		Storm:       pick(k.Duration, 10*time.Second, 2*time.Second),
		Phase:       pick(k.Duration, 20*time.Second, 4*time.Second),
		Rate:        pick(k.Rate, 10.0, 10.0),
	}
	if k.RampSet {
		c.Ramp = k.Ramp
	}
	if k.ThinkSet {
		c.Think = k.Think
	}
	c.Concurrency = min(c.Concurrency, c.Agents)
	return c
}

// burstFinding is what phase (a) found: the limit behind the 429 storm.
type burstFinding struct {
	Key, Namespace string
	Scope          string   // as the limit declares it (profile, or the key's documented scope)
	Families       []string // route families it covers (simulator)
	Allowed        int
	Window         time.Duration // the real window (before any -short scaling)
	WindowFrom     string        // where Window comes from
	Inferred       string        // scope inferred from who was rejected
	Reason         string
	Rejected       int64
	Requests       int64
	// Hypothetical: the simulator's profile marks the limit as one no
	// Genesys source documents (a what-if, e.g. the example profile
	// hypothetical-recordingstate-limit.json).
	Hypothetical bool
}

// burstResult is one phase's outcome, for the scenario summary.
type burstResult struct {
	Doc       *result.Document
	OK        int64
	Throttled int64
	Waiting   int64   // still waiting for the client-side limiter at the end (canceled)
	Rate      float64 // ok per second over the phase
}

// TestRecordingBurst answers: why does a burst of recording-state changes
// get 429s at once, which limit is it, and how fast can this load go?
// 500 agents ramp to 100 concurrent in seconds, each toggling the recording
// state of its call as a JMeter plan does, three ways: (a) one shared
// client-credentials token without client-side limiting (the 429 storm), (b)
// the same load through the rate-aware client, (c) a token pool sized for
// CXLOAD_RATE, up to the next limit in line. On the default profile (the
// documented limits only) the storm comes from
// client.credentials.token.rate.per.minute: 300 per minute for the one token
// all threads share.
func TestRecordingBurst(t *testing.T) {
	shortParallel(t)
	runRecordingBurst(t, rigOptions{}, nil, false)
}

// runRecordingBurst runs the scenario; found, if not nil, receives phase
// (a)'s finding, and stormOnly stops after phase (a) (tests of the
// scenario use both).
func runRecordingBurst(t *testing.T, o rigOptions, found *burstFinding, stormOnly bool) {
	k := loadKnobs(t)
	cfg := burstFromKnobs(k)
	if testing.Short() && o.scale == 0 {
		o.scale = 10
	}
	r := newRig(t, o)
	rec := r.recorder(t)

	// Setup: the agents' identities and one call per agent that will be
	// active (on this shard), placed with tokens of their own so that the
	// setup does not spend the phases' token budgets.
	perPhase := int64(float64(cfg.Concurrency) * (cfg.Storm + 2*cfg.Phase).Seconds() / max(cfg.Think.Seconds(), 0.05))
	r.tg.Start(plan(cfg.Agents, float64(cfg.Concurrency)/max(cfg.Think.Seconds(), 0.05), cfg.Storm+2*cfg.Phase,
		int64(cfg.Agents/100+1+cfg.Concurrency+1)+perPhase))
	clients := r.tg.Config.Clients
	// At most 20 calls per setup token: far below any token limit.
	setupPool := r.tg.NewPool(auth.Config{Policy: auth.PerClient, TokensPerClient: max(1, (cfg.Concurrency+20*len(clients)-1)/(20*len(clients)))})
	setup := r.tg.NewClient(api.Config{Tokens: setupPool, Recorder: rec, Agents: 8, Limits: r.limits(false)})
	ctx := r.ctx
	users, err := r.tg.Users(r.ctx, setup, cfg.Agents)
	if err != nil {
		t.Fatalf("loading %d agents: %v", cfg.Agents, err)
	}
	var active []int
	for k := range cfg.Concurrency {
		if r.k.Shard.Owns(k) {
			active = append(active, k)
		}
	}
	calls, err := r.placeCalls(ctx, setup, users, active)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	logf(t, "setup: %d agents, %d calls placed for the agents this shard runs (%v)", len(users), len(calls), r.k.Shard)

	// The endpoint that does not exist: hit it once, show the 404.
	screen := "Note: POST /api/v2/analytics/screenrecordings/{id}/start was not sent: on a tenant the guard sends no write cxload has no kind for, and the endpoint does not exist on Genesys Cloud (on the simulator this run shows its 404)."
	var screenHead string // the headline's line for the 404, when sent
	if !r.tenant() {
		screen, screenHead = screenRecordingStart(t, ctx, setup)
	}

	var a, b, c burstResult
	var finding burstFinding
	var stormWait time.Duration
	t.Run("shared-token", func(t *testing.T) {
		rr := r.withT(t)
		stormCap, err := rr.stormCap()
		if err != nil {
			t.Skip(err.Error())
		}
		pool := rr.tg.NewPool(auth.Config{Policy: auth.Shared})
		a = runBurstPhase(t, rr, cfg, cfg.Storm, pool, rr.limits(false), api.RetryPolicy{MaxAttempts: 1}, calls, stormCap)
		f, ok := topFinding(a.Doc)
		if ok {
			finding = rr.describeFinding(f, a.Doc)
			stormWait = time.Duration(f.WindowSeconds * float64(time.Second))
		}
		head := []string{fmt.Sprintf("One shared client-credentials token, no client-side limiting, %d agents, %d active at once after a %v ramp, toggling every %v: %d requests, %d answered 429 (%.0f%%).",
			cfg.Agents, cfg.Concurrency, cfg.Ramp, cfg.Think, a.Doc.All().Count, a.Throttled, 100*float64(a.Throttled)/math.Max(1, float64(a.Doc.All().Count)))}
		var summary []string
		if ok {
			a.Doc.Findings = []result.Finding{finding.result(burstAdvice(finding, rr.real), rr.scale)}
			summary = append(summary, finding.sentence())
		} else {
			head = append(head, "No request was answered 429: this load stays within the target's limits.")
		}
		finish(t, a.Doc, head, summary,
			bound{"count(429, recording.set) > 0", "this phase exists to reproduce the storm; without a 429 it found nothing"},
			bound{"count(errors) == 0", "a 429 is the expected answer here; any other error is a fault of the target or the harness"})
		if !ok {
			t.Errorf("phase (a) reproduced no 429 storm: %d recording-state requests in %v were all accepted; raise %s or %s, or lower %s",
				a.Doc.All().Count, cfg.Storm, EnvConcurrency, EnvDuration, EnvThink)
		}
	})
	if found != nil {
		*found = finding
	}
	if stormOnly {
		return
	}

	buckets := r.tg.Buckets()
	single := capacity.Of(r.tg.SplitBuckets(r.realBuckets()), genesys.FamilyRecordingState, 1, 1)
	r.reset(stormWait)
	t.Run("rate-aware", func(t *testing.T) {
		rr := r.withT(t)
		pool := rr.tg.NewPool(auth.Config{Policy: auth.Shared})
		b = runBurstPhase(t, rr, cfg, cfg.Phase, pool, nil, api.RetryPolicy{}, calls, 0)
		head := []string{fmt.Sprintf("The same load through the rate-aware client (one shared token): %d accepted, %d answered 429; %s. The limits allow %s with one token of one OAuth client, set by %s (%s): the total time includes the wait for the client-side limiter.",
			b.OK, b.Throttled, rr.measured(b.Rate), capacity.RateWords(single.Rate), single.Bottleneck.Key, capacity.PerWindow(single.Bottleneck))}
		summary := []string{fmt.Sprintf("Client-side limits %s. The phase took %v; %d requests were still waiting for the client-side limiter when it ended.",
			bucketList(buckets), b.Doc.Duration().Round(time.Second), b.Waiting)}
		finish(t, b.Doc, head, summary,
			bound{"count(429) == 0", "the client paces below every known limit, so the server never refuses"},
			bound{"count(errors) == 0", "no request may fail"},
			bound{"count(ok, recording.set) >= 1", "the pacing must let requests through, not only hold them"})
	})

	sized := sizePool(t, r.tg.SplitBuckets(r.realBuckets()), genesys.FamilyRecordingState, r.k.Shard.SplitRate(cfg.Rate), len(clients))
	r.reset(stormWait)
	t.Run("token-pool", func(t *testing.T) {
		rr := r.withT(t)
		pool := rr.tg.NewPool(auth.Config{Policy: auth.PerClient, Clients: clients[:sized.Clients], TokensPerClient: sized.TokensPerClient})
		c = runBurstPhase(t, rr, cfg, cfg.Phase, pool, nil, api.RetryPolicy{}, calls, 0)
		head := []string{fmt.Sprintf("A pool sized for %s (%s=%g): %d token(s) over %d OAuth client(s); %d accepted, %d answered 429; %s.",
			capacity.RateWords(cfg.Rate), EnvRate, cfg.Rate, sized.Tokens(), sized.Clients, c.OK, c.Throttled, rr.measured(c.Rate)),
			fmt.Sprintf("The next limit in line is %s (%s, %s): this pool can reach %s.",
				sized.Reach.Bottleneck.Key, capacity.PerWindow(sized.Reach.Bottleneck), sized.Reach.Bottleneck.Scope, capacity.RateWords(sized.Reach.Rate))}
		summary := []string{fmt.Sprintf("%d requests were still waiting for the client-side limiter when the phase ended.", c.Waiting)}
		summary = append(summary, rr.settingsNote()...)
		finish(t, c.Doc, head, summary,
			bound{"count(429) == 0", "the pool is sized for the rate and paces below every known limit, so the server never refuses"},
			bound{"count(errors) == 0", "no request may fail"},
			bound{"count(ok, recording.set) >= 1", "the pool must let requests through, not only hold them"})
	})

	// The scenario's answer, in plain words: the finding itself is
	// recorded once, in the shared-token phase's document.
	var head, sum []string
	if finding.Key != "" {
		head = append(head, fmt.Sprintf("The 429 storm comes from %s%s (recorded as the finding of shared-token): it allows %d requests per %s, scope %s: %s.",
			finding.Key, finding.marker(), finding.Allowed, capacity.WindowWords(finding.Window), finding.Scope, capacity.ScopeWords(genesys.Scope(finding.Scope), finding.Families)))
	}
	if note := r.scaleNote(); note != "" {
		sum = append(sum, note)
	}
	most := capacity.Of(r.realBuckets(), genesys.FamilyRecordingState, math.MaxInt32, len(clients))
	sum = append(sum, fmt.Sprintf("The largest rate this load can reach on %s is %s with %d OAuth client(s) (one shared token: %s); it is set by %s.",
		r.where(), capacity.RateWords(most.Rate), len(clients),
		capacity.RateWords(capacity.Of(r.realBuckets(), genesys.FamilyRecordingState, 1, 1).Rate), most.Bottleneck.Key))
	if sized.NeedClients > 0 {
		sum = append(sum, fmt.Sprintf("%s would need %d OAuth clients (or user tokens) under %s.", capacity.RateWords(cfg.Rate), sized.NeedClients, sized.Reach.Bottleneck.Key))
	}
	head = append(head, "What to change: "+burstAdvice(finding, r.real)+".")
	if screenHead != "" {
		head = append(head, screenHead)
	}
	sum = append(sum, r.settingsNote()...)
	sum = append(sum, screen)
	doc := rec.Snapshot()
	finish(t, doc, head, sum, bound{"count(429) == 0", "the setup paces itself with tokens of its own, far below any limit"})
}

// placeCalls puts one call on each of the given agents and returns the
// conversation ids by agent. On a simulator the call comes in to the agent's
// own number (gcsim's InjectUserCall, or POST /admin/calls on an external
// one), as telephony would deliver it: placing a call through the API needs
// a user token. On a tenant it places the calls with POST
// /api/v2/conversations/calls (createCalls).
func (r *rig) placeCalls(ctx context.Context, setup *api.Client, users []agent.User, ids []int) (map[int]string, error) {
	out := make(map[int]string, len(ids))
	switch {
	case r.tg.Sim != nil:
		for _, k := range ids {
			id, err := r.tg.Sim.InjectUserCall(users[k].ID)
			if err != nil {
				return nil, fmt.Errorf("a call to agent %d: %w", k, err)
			}
			out[k] = id
		}
		return out, nil
	case r.ext != "":
		for _, k := range ids {
			body, _ := json.Marshal(map[string]any{"userId": users[k].ID, "count": 1})
			resp, err := r.hc.Post(r.ext+"/admin/calls", "application/json", bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("POST %s/admin/calls for agent %d: %w", r.ext, k, err)
			}
			var got struct {
				ConversationIDs []string `json:"conversationIds"`
			}
			err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&got)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || len(got.ConversationIDs) != 1 {
				return nil, fmt.Errorf("POST %s/admin/calls for agent %d: status %d, %d conversation ids (%v)", r.ext, k, resp.StatusCode, len(got.ConversationIDs), err)
			}
			out[k] = got.ConversationIDs[0]
		}
		return out, nil
	}
	if len(r.tg.Config.UserTokens) > 0 {
		// A call is placed from the user's own station: on a tenant only
		// the user's token can (a client-credentials token gets 400).
		pool := r.tg.NewPool(auth.Config{Policy: auth.PerAgent})
		setup = r.tg.NewClient(api.Config{Tokens: pool, Agents: 8, Limits: r.limits(false)})
	}
	return createCalls(ctx, setup, users, ids)
}

// runBurstPhase runs the closed load (ramp to the concurrency, hold) with
// the given pool and limiter, each iteration toggling the agent's recording
// state, and returns what it recorded.
// stormWindows bounds the deliberate 429 storm on a tenant: at most this
// many windows' worth of the per-token limit, enough to show the limit and
// its 429s without spending the organization's allocation on rejections.
const stormWindows = 2

// stormCap returns how many requests phase (a)'s storm may send: no bound
// on a simulator; on a tenant an error unless CXLOAD_ALLOW_STORM=1, then
// stormWindows times the per-token limit.
func (r *rig) stormCap() (int64, error) {
	if !r.tenant() {
		return 0, nil
	}
	if !r.tg.Config.Guard.Fixtures.Storm {
		return 0, fmt.Errorf("phase (a) drives one token into 429s on purpose: on a tenant it needs %s=1 (capped at %d windows of the per-token limit)", harness.EnvAllowStorm, stormWindows)
	}
	for _, b := range r.tg.Buckets() {
		if b.Scope == genesys.ScopeToken && b.Allowed > 0 {
			return int64(stormWindows * b.Allowed), nil
		}
	}
	return 0, fmt.Errorf("phase (a): no per-token limit is known for this tenant, so the storm cannot be capped; it is not run")
}

// runBurstPhase runs one phase; maxRequests > 0 bounds the requests sent
// (the iterations past it send nothing).
func runBurstPhase(t *testing.T, r *rig, cfg burstConfig, hold time.Duration, pool *auth.Pool, lim *api.Limits, retry api.RetryPolicy, calls map[int]string, maxRequests int64) burstResult {
	rec := r.recorder(t)
	var sent atomic.Int64
	c := r.tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: cfg.Concurrency, Limits: lim, Retry: retry})
	var active atomic.Int64
	closed := workload.Closed{
		Agents:       cfg.Agents,
		Ramp:         &workload.Ramp{Stages: []workload.Stage{{Duration: cfg.Ramp, Target: float64(cfg.Concurrency)}, {Duration: hold, Target: float64(cfg.Concurrency)}}},
		Think:        workload.ConstantThink(cfg.Think),
		Seed:         r.k.Seed,
		Shard:        r.k.Shard,
		GracefulStop: time.Second,
		Active:       &active,
	}
	stop := progress(t, rec, func() int { return int(active.Load()) })
	st, err := closed.Run(r.ctx, func(ctx context.Context, it workload.Iteration) error {
		conv, ok := calls[it.Agent]
		if !ok {
			return fmt.Errorf("agent %d has no call", it.Agent)
		}
		if maxRequests > 0 && sent.Add(1) > maxRequests {
			return nil
		}
		_, err := c.Agent(it.Agent).Do(ctx, recordingToggle(conv, it.N, it.Intended))
		return err
	})
	stop()
	if err != nil {
		t.Fatalf("running the load: %v", err)
	}
	logf(t, "executor: %v", st)
	doc := rec.Snapshot()
	op := doc.Op(opRecordingSet)
	res := burstResult{Doc: doc}
	if op != nil {
		res.OK = op.Outcome(result.OK)
		res.Throttled = op.Status429
		res.Waiting = op.Outcome(result.Canceled)
	}
	if d := doc.Duration(); d > 0 {
		res.Rate = float64(res.OK) / d.Seconds()
	}
	return res
}

// describeFinding turns the observation behind the storm into a finding,
// with the limit's definition from the profile when the target is the
// simulator.
func (r *rig) describeFinding(f result.RateLimitObservation, doc *result.Document) burstFinding {
	bf := burstFinding{Key: f.Key, Namespace: f.Namespace, Allowed: f.Allowed, Inferred: f.Scope, Reason: f.ScopeReason,
		Rejected: f.Rejected, Requests: doc.All().Count, Scope: string(genesys.ScopeOfKey(f.Key)),
		Window: time.Duration(f.WindowSeconds * float64(time.Second)), WindowFrom: f.WindowSource}
	if l, ok := profileLimit(r.real, f.Key); ok {
		bf.Scope, bf.Families, bf.Allowed, bf.Window, bf.Namespace = string(l.Scope), l.Families, l.Allowed, l.Window.Std(), l.Namespace
		bf.WindowFrom = "the simulator's profile"
		bf.Hypothetical = l.Hypothetical
	} else if r.scale > 1 {
		bf.Window = time.Duration(float64(bf.Window) * r.scale)
	}
	return bf
}

// result is the finding as the result document records it. With scale > 1
// (the simulator's windows shortened for -short) the window is the one in
// force during the run, and the evidence says so.
func (f burstFinding) result(advice string, scale float64) result.Finding {
	window := f.Window
	ev := []string{fmt.Sprintf("it rejected %d of %d requests of one shared token", f.Rejected, f.Requests),
		fmt.Sprintf("the rejected requests suggest scope %q (%s)", f.Inferred, f.Reason)}
	from := f.WindowFrom
	if scale > 1 {
		window = time.Duration(float64(window) / scale)
		from += fmt.Sprintf(", ÷%g for -short", scale)
		ev = append(ev, fmt.Sprintf("the simulator's windows were shortened ÷%g for this run: the real window is %s", scale, capacity.WindowWords(f.Window)))
	}
	return result.Finding{Key: f.Key, Namespace: f.Namespace, Allowed: f.Allowed, WindowSeconds: window.Seconds(), WindowSource: from,
		Scope: f.Scope, Families: f.Families, Method: "the bucket named by the storm's 429s", Evidence: ev, Advice: advice}
}

// sentence says which limit caused the storm, with its evidence.
func (f burstFinding) sentence() string {
	return fmt.Sprintf("The limit that caused it: bucket %s%s (namespace %s), %d allowed per %s, scope %s; it rejected %d of %d requests; from the evidence the scope looks like %q (%s).",
		f.Key, f.marker(), f.Namespace, f.Allowed, capacity.WindowWords(f.Window), f.Scope, f.Rejected, f.Requests, f.Inferred, f.Reason)
}

// marker flags a hypothetical limit wherever the finding is named.
func (f burstFinding) marker() string {
	if f.Hypothetical {
		return " (HYPOTHETICAL: a limit of this simulator profile that no Genesys source documents)"
	}
	return ""
}

// burstAdvice says what to change to go past the limit behind the storm,
// from Genesys' documented limits: pace each token below its 300 per
// minute; spread over more tokens of the OAuth client, up to
// org.app.user.rate.per.minute (3000 per minute per client, if it counts
// client-credentials tokens, which Genesys does not say); then over more
// OAuth clients. p is the simulator's profile (nil on a tenant): its
// unconfirmed setting is named.
func burstAdvice(f burstFinding, p *gcsim.Profile) string {
	orgAppUser := fmt.Sprintf("up to %s, 3000 per minute per OAuth client, if it counts client-credentials tokens (Genesys does not say", genesys.KeyOrgAppUser)
	switch {
	case p != nil && p.Unconfirmed.OrgAppUserClientCredentials:
		orgAppUser += "; this simulator assumes it does: unconfirmed.orgAppUserClientCredentials=true)"
	case p != nil:
		orgAppUser += "; this simulator assumes it does not: unconfirmed.orgAppUserClientCredentials=false)"
	default:
		orgAppUser += ")"
	}
	tokens := "spread the load over more tokens of the OAuth client (a token pool: each token has its own 300 per minute) " + orgAppUser +
		", then over more OAuth clients; and pace each token below 300 per minute (the rate-aware client does)"
	switch {
	case f.Key == "":
		return "no 429 named its limit; " + tokens
	case f.Hypothetical:
		return fmt.Sprintf("%s is hypothetical (this profile's what-if, not a documented Genesys limit): under it, %s; pace below %d per %s. On a tenant, find the real limits with TestRateLimitDiscovery",
			f.Key, capacity.ScopeWords(genesys.Scope(f.Scope), f.Families), f.Allowed, capacity.WindowWords(f.Window))
	case f.Scope == string(genesys.ScopeToken):
		return fmt.Sprintf("the storm is %d requests per %s per token exceeded: %s", f.Allowed, capacity.WindowWords(f.Window), tokens)
	case f.Key == genesys.KeyOrgAppUser:
		return fmt.Sprintf("%s bounds one OAuth client (%d per %s): spread the load over more OAuth clients, or send with the agents' own user tokens, and pace each client below it",
			f.Key, f.Allowed, capacity.WindowWords(f.Window))
	}
	return fmt.Sprintf("%s is not a documented Genesys limit: pace below %d per %s, and find its scope with TestRateLimitDiscovery", f.Key, f.Allowed, capacity.WindowWords(f.Window))
}

// settingsNote names, on the simulator, the profile's choices where
// Genesys' documentation is silent, so that every figure says what it
// assumes.
func (r *rig) settingsNote() []string {
	if r.real == nil {
		return nil
	}
	return []string{"Simulator settings that Genesys does not document: " + strings.Join(r.real.Settings(), "; ") + "."}
}

// measured says how many requests per second were accepted, converted to
// the real windows when the simulator's were shortened.
func (r *rig) measured(rate float64) string {
	if r.scale <= 1 {
		return fmt.Sprintf("%.2f accepted per second", rate)
	}
	return fmt.Sprintf("%.2f accepted per second with windows ÷%g, i.e. %.2f per second at the real windows", rate, r.scale, rate/r.scale)
}

// bucketList names buckets with their figures.
func bucketList(bs []api.Bucket) string {
	s := ""
	for i, b := range bs {
		if i > 0 {
			s += ", "
		}
		s += b.Key + " " + capacity.PerWindow(b)
	}
	return s
}

// screenRecordingStart sends POST /api/v2/analytics/screenrecordings/{id}/start
// once: it does not exist on Genesys Cloud (nor on the simulator), so the
// answer is 404, not 429. It returns the sentence for the summary and a
// short line for the headline, which explains the error it records.
func screenRecordingStart(t *testing.T, ctx context.Context, c *api.Client) (note, head string) {
	t.Helper()
	req := &api.Request{Op: opScreenStart, Method: http.MethodPost, Route: routeScreenStart,
		Params: []string{"00000000-0000-4000-8000-000000000001"}, Body: []byte("{}")}
	resp, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("POST %s: %v", routeScreenStart, err)
	}
	var eb struct {
		Code, Message string
	}
	_ = json.Unmarshal(resp.Body, &eb)
	if resp.Status != http.StatusNotFound {
		t.Errorf("POST %s answered %d (%s), want 404: this endpoint does not exist on Genesys Cloud; the target is not behaving like the platform",
			routeScreenStart, resp.Status, eb.Code)
	}
	note = fmt.Sprintf("Note: POST /api/v2/analytics/screenrecordings/{id}/start does not exist (this target answered %d %s %q, not 429). Recording is controlled by PATCH /api/v2/conversations/{id}/recordingstate (used here) and PUT /api/v2/conversations/screenshares/{id}/recordingstate; GET /api/v2/recordings/screensessions/details counts active screen recordings.",
		resp.Status, http.StatusText(resp.Status), eb.Code)
	head = fmt.Sprintf("The seed's endpoint POST /api/v2/analytics/screenrecordings/{id}/start does not exist: it answered %d, sent once on purpose (the 1 error in the table).", resp.Status)
	return note, head
}
