//go:build load

package loadtest

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/workload"
)

// TestNotificationStability answers: do N agents' notification channels
// stay up, with what heartbeat gaps, drops, reconnects and push latency?
// The agents' own topics are on channels as Genesys allows them: with
// client-credentials tokens multiplexed on at most 20 channels per OAuth
// client, with user tokens (CXLOAD_USER_TOKENS) one channel per agent; a
// preflight refuses a population that does not fit. Presence changes
// (CXLOAD_RATE per second) cause events on them; each event is matched to
// its request by correlation id, or by content where the id is not echoed.
// On the simulator, a socket_closing storm a third of the way in (every
// channel must switch to a new one, with all its agents' topics, while
// events keep flowing) and an abrupt drop of every socket at two thirds
// (every channel must reconnect) may not lose a single agent's event.
func TestNotificationStability(t *testing.T) {
	k := loadKnobs(t)
	agents := pick(k.Agents, 50, 20)
	dur := pick(k.Duration, 30*time.Second, 8*time.Second)
	rateR := pick(k.Rate, 20.0, 10.0)
	hb := pick(time.Duration(0), 5*time.Second, time.Second)
	if k.SimURL != "" && !k.Shard.Whole() {
		t.Skipf("%s with %s=%v: the faults of one shard would hit every shard's sockets of the shared simulator; run this scenario unsharded there", EnvSimURL, EnvShard, k.Shard)
	}
	owned := len(k.Shard.Agents(agents))
	// Under -short the scenarios run in parallel. The faults of more agents
	// than switch channels in a second take the machine for seconds and
	// would show in the other scenarios' latencies: then this one runs alone.
	if switchTime(owned) < time.Second {
		shortParallel(t)
	}
	shardRate := k.Shard.SplitRate(rateR)
	// The pool is sized for the presence changes and the channels' own
	// requests, which the notification client sends without client-side
	// limiting, counted as if every agent had its own channel (shared
	// channels need fewer): two per agent (create, subscribe) when a channel
	// opens, two more at the socket_closing switchover, two more if the drop
	// loses the channel. They come in bursts within one minute, so against limits
	// counted per minute they weigh as channelRequests·owned per minute.
	// Client-scoped limits (Genesys: 3000 per OAuth client per minute, all
	// of its tokens together) need enough OAuth clients: the simulator's
	// default profile gets them.
	const channelRequests = 6
	offered := shardRate + float64(channelRequests*owned)/time.Minute.Seconds()
	size := func(bs []api.Bucket, available int) capacity.Pool {
		return sizePool(t, bs, genesys.FamilyNotifications, offered, available)
	}
	r := newRig(t, rigOptions{tweak: timingTweak(hb, closingGrace(hb, owned)), clients: func(bs []api.Bucket) (int, string) {
		p := size(bs, math.MaxInt)
		return p.Clients, fmt.Sprintf("%d agents' channels (about %d requests each) and %.1f presence changes per second need %s", owned, channelRequests, shardRate, capacity.RateWords(offered))
	}})
	hb = r.heartbeat()
	grace := r.closingGrace()
	sim := !r.tenant()
	// On the simulator each third of the run must hold every client's
	// switchover (or reconnect) and a heartbeat.
	if need := 3*switchTime(owned) + hb; sim && k.Duration == 0 {
		dur = max(dur, need)
	} else if sim && dur < need {
		t.Fatalf("loadtest: %s=%v is too short for the socket_closing and drop faults of %d agents on the simulator: each third of the run must hold %d switchovers at %d per second; set %s=%v or more, or run fewer agents",
			EnvDuration, dur, owned, owned, switchoversPerSecond, EnvDuration, need.Round(time.Second))
	}
	rec := r.recorder(t)

	sized := size(r.tg.SplitBuckets(r.tg.Buckets()), len(r.tg.Config.Clients))
	tokens := sized.Tokens()
	sized.Clients = len(r.tg.Config.Clients) // spread over every OAuth client
	sized.TokensPerClient = max(1, ceilDiv(tokens, sized.Clients))
	if sized.NeedClients > 0 {
		logf(t, "the agents' channels and presence changes need %s; this pool reaches %s, set by %s (%s): %s",
			capacity.RateWords(offered), capacity.RateWords(sized.Reach.Rate), sized.Reach.Bottleneck.Key, capacity.PerWindow(sized.Reach.Bottleneck), capacity.Advice(sized.Reach.Bottleneck, len(r.tg.Config.Clients)))
	}
	// With CXLOAD_USER_TOKENS agent k sends as user k (auth.PerUser) and
	// holds its own channel; otherwise the agents of one OAuth client share
	// its channels.
	perUser := len(r.tg.Config.UserTokens) > 0
	r.checkChannels(t, agents, sized.Clients, perUser)
	r.tg.Start(plan(agents, rateR, dur, int64(rateR*dur.Seconds())+int64(channelRequests*agents)+10))
	policy := auth.PerClient
	if perUser {
		policy = auth.PerAgent // the target makes it auth.PerUser
	}
	pool := r.tg.NewPool(auth.Config{Policy: policy, Clients: r.tg.Config.Clients[:sized.Clients], TokensPerClient: sized.TokensPerClient})
	ctx := r.ctx
	pop, chans := r.population(t, pool, rec, agents, owned)
	defer pop.Close()
	if err := openAll(ctx, pop); err != nil {
		t.Fatalf("opening the agents' channels: %v", err)
	}
	nch, layout := chans.set.Count(), chans.describe()
	logf(t, "%s (heartbeat every %v); events at %.1f/s for %v", layout, hb, shardRate, dur)

	var paused atomic.Bool
	var inflight, skipped atomic.Int64
	var active atomic.Int64
	open := workload.Open{Pacer: workload.ConstantPacer{Freq: rateR, Per: time.Second, Duration: dur}, Agents: agents, Shard: r.k.Shard,
		GracefulStop: 5 * time.Second, Active: &active}
	faults := make(chan string, 4)
	var switchedOK, reconnectedOK atomic.Bool
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if sim {
		go func() {
			defer close(faults)
			select {
			case <-time.After(dur / 3):
			case <-runCtx.Done():
				return
			}
			// socket_closing with events flowing: the switchover must lose nothing.
			base := chans.col.Stats().Switchovers
			sent := time.Now()
			r.setFaults(gcsim.Faults{SocketClosing: true})
			ok := chans.reconnected(base, int64(nch), true, max(10*hb, grace)+5*time.Second)
			switchedOK.Store(ok)
			faults <- fmt.Sprintf("socket_closing sent to every socket at %v; each of the %d channels switched to a new one, with its agents' topics, before the old one closed: %v (in %v)", (dur / 3).Round(time.Second), nch, ok, time.Since(sent).Round(time.Millisecond))
			select {
			case <-time.After(dur / 3):
			case <-runCtx.Done():
				return
			}
			// An abrupt drop: events published while a socket is down are
			// lost on Genesys Cloud too, so requests pause around it.
			paused.Store(true)
			for inflight.Load() > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			chans.settled(5 * time.Second)
			base = chans.col.Stats().Reconnects
			r.setFaults(gcsim.Faults{DropSockets: true})
			ok = chans.reconnected(base, int64(nch), false, 10*hb+5*time.Second)
			reconnectedOK.Store(ok)
			paused.Store(false)
			faults <- fmt.Sprintf("every socket dropped abruptly at %v; each of the %d channels reconnected: %v (requests paused meanwhile)", (2 * dur / 3).Round(time.Second), nch, ok)
		}()
	} else {
		faults <- "Faults: none injected. The socket_closing switchover and the abrupt drop of every socket are simulator-only (a tenant cannot be told to send them), so this run checks channels, heartbeats and events only."
		close(faults)
	}
	stop := progress(t, rec, func() int { return owned })
	st, err := open.Run(runCtx, pop.Iter(func(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
		if paused.Load() {
			skipped.Add(1)
			return nil
		}
		inflight.Add(1)
		defer inflight.Add(-1)
		next := "Away"
		if a.State().PresenceName == "Away" {
			next = agent.PresenceAvailable
		}
		return a.SetPresence(ctx, next)
	}))
	stop()
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var faultLines []string
	for f := range faults {
		faultLines = append(faultLines, f)
	}
	if !chans.settled(max(10*time.Second, 4*hb)) {
		logf(t, "some expected events were still outstanding after the run; they count as lost")
	}
	if err := pop.Close(); err != nil {
		t.Errorf("closing the channels: %v", err)
	}
	logf(t, "executor: %v; %d arrivals skipped while requests were paused around the drop", st, skipped.Load())

	doc := rec.Snapshot()
	ns := chans.col.Stats()
	withdrawn := chans.withdrawn.Load()
	head := []string{fmt.Sprintf("%d agents held notification channels for %v on %s (heartbeat every %v%s); %d presence changes caused events: %d arrived, %d lost; longest heartbeat gap %v; push latency p99 %v.",
		owned, dur, r.where(), hb, map[bool]string{true: ", shortened on the simulator from Genesys' 30s", false: ""}[sim && hb < 30*time.Second],
		ns.Expected, ns.Matched, ns.Lost, ns.MaxHeartbeatGap.Round(time.Millisecond), ns.PushLatency.P99)}
	summary := []string{"Channels: " + layout + "."}
	summary = append(summary, faultLines...)
	summary = append(summary, fmt.Sprintf("Heartbeats %d, longest gap %v (%d gaps over 1.5 intervals, %d heartbeats missed); drops %d; reconnects %d (of which %d switchovers on socket_closing); evictions %d.",
		ns.Heartbeats, ns.MaxHeartbeatGap.Round(time.Millisecond), len(ns.Gaps), ns.MissedHeartbeats, ns.Drops, ns.Reconnects, ns.Switchovers, ns.Evictions))
	summary = append(summary, fmt.Sprintf("Events: %d expected, %d arrived, %d lost (%d more withdrawn for requests that failed), %d duplicates removed during switchovers; push latency p50 %v, p99 %v, max %v.",
		ns.Expected, ns.Matched, ns.Lost, withdrawn, ns.Duplicates, ns.PushLatency.P50, ns.PushLatency.P99, ns.PushLatency.Max))
	summary = append(summary, "Matching: "+matching(ns)+".")
	if len(ns.Closes) > 0 {
		summary = append(summary, fmt.Sprintf("How sockets ended: %v.", ns.Closes))
	}
	th := []bound{
		{"ws_lost == 0", "an agent that misses an event misses an offer; events of requests that failed are withdrawn, not lost"},
		{fmt.Sprintf("max_heartbeat_gap < %v", gapLimit(hb)), "a silent socket is a dead desktop: " + gapWords},
		{"count(errors) == 0", "no presence change or channel request may fail"},
		{fmt.Sprintf("rate(429) <= %g%%", 100*r.k.Max429Rate), "the pool is sized for the offered rate; " + max429Words},
		{"ws_events >= 1", "events must flow at all; that each expected one arrived is ws_lost's"},
	}
	if sim {
		th = append(th,
			bound{fmt.Sprintf("ws_reconnects >= %d", 2*nch), fmt.Sprintf("the socket_closing storm and the drop each make every one of the %d channels opened at the start connect again", nch)},
			bound{fmt.Sprintf("ws_drops >= %d", nch), fmt.Sprintf("the drop cuts every one of the %d channels", nch)})
	}
	finish(t, doc, head, summary, th...)
	if sim && !switchedOK.Load() {
		t.Errorf("socket_closing: not every channel switched to a new one within the grace of %v: %d switchovers for %d channels (the others were dropped and reconnected)", grace, ns.Switchovers, nch)
	}
	if late := ns.Closes["1001 streaming: socket closing"]; sim && late > 0 {
		t.Errorf("socket_closing: %d of %d old sockets were closed by the simulator at the end of the grace of %v, before their client had switched and closed them", late, nch, grace)
	}
	if sim && !reconnectedOK.Load() {
		t.Errorf("drop: not every channel reconnected within %v after every socket was dropped (%d reconnects in all for %d channels)", 10*hb+5*time.Second, ns.Reconnects, nch)
	}
}
