//go:build load

package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
)

// benchParallelism × GOMAXPROCS goroutines send at once, each as its own agent.
const benchParallelism = 4

// benchLimits raises every request limit of the default profile a
// thousandfold, so that a benchmark measures the request path (client,
// transport, simulator) rather than the 429 fast path. A profile given with
// CXLOAD_PROFILE is used as is.
func benchLimits(p *gcsim.Profile) {
	if os.Getenv(harness.EnvProfile) != "" {
		return
	}
	for i := range p.Limits {
		if p.Limits[i].Scope != genesys.ScopeClient {
			p.Limits[i].Allowed *= 1000
		}
	}
	p.Notifications.MaxChannelsPerOwner = max(p.Notifications.MaxChannelsPerOwner, 1000)
}

// benchOp runs op b.N times over parallel agents and reports req/s, p50-ms,
// p99-ms, 429s/op and errors/op (metrics.ReportBenchmark). Operations that
// fail otherwise than with a 429 fail the benchmark.
func benchOp(b *testing.B, op func(ctx context.Context, a *agent.Agent, i int) error) {
	benchRigOp(b, func(*rig) func(ctx context.Context, a *agent.Agent, i int) error { return op })
}

// benchRigOp is benchOp for an op that needs the rig (e.g. to have the
// simulator deliver a call).
func benchRigOp(b *testing.B, mk func(r *rig) func(ctx context.Context, a *agent.Agent, i int) error) {
	r := newRig(b, rigOptions{tweak: benchLimits})
	op := mk(r)
	agents := benchParallelism * runtime.GOMAXPROCS(0)
	r.tg.Start(plan(agents, 0, 0, int64(4*b.N+agents+10)))
	clients := r.tg.Config.Clients
	pool := r.tg.NewPool(auth.Config{Policy: auth.PerClient, TokensPerClient: max(1, agents/len(clients))})
	setup := r.tg.NewClient(api.Config{Tokens: pool, Agents: agents})
	ctx := r.ctx
	users, err := r.tg.Users(ctx, setup, agents) // on a tenant: the fixture users only
	if err != nil {
		b.Fatal(err)
	}
	// Presence definitions are read once, outside the timed requests.
	tmp, err := agent.NewPopulation(agent.Config{API: setup, Users: users})
	if err != nil {
		b.Fatal(err)
	}
	pres := map[string]string{}
	for _, n := range []string{agent.PresenceAvailable, "Away", agent.PresenceOnQueue} {
		id, err := tmp.PresenceID(ctx, n)
		if err != nil {
			b.Fatal(err)
		}
		pres[n] = id
	}
	rec := r.recorder(b) // only the timed requests
	c := r.tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: agents, Retry: api.RetryPolicy{MaxAttempts: 1}})
	pop, err := agent.NewPopulation(agent.Config{API: c, Users: users, Presences: pres})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var failed atomic.Int64
	var (
		firstOnce sync.Once
		firstErr  error
	)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		a := pop.Agent(int(next.Add(1)-1) % agents)
		i := 0
		for pb.Next() {
			if err := op(ctx, a, i); err != nil {
				failed.Add(1)
				firstOnce.Do(func() { firstErr = err })
			}
			i++
		}
	})
	b.StopTimer()
	doc := rec.Snapshot()
	metrics.ReportBenchmark(b, doc)
	if n := failed.Load(); n > 0 && doc.All().Status429 == 0 {
		b.Errorf("%d of %d operations failed (first: %v): %s", n, b.N, firstErr, doc.Summary)
	}
}

// BenchmarkQueueList: GET /api/v2/routing/queues (25 per page).
func BenchmarkQueueList(b *testing.B) {
	q := url.Values{"pageSize": {"25"}, "pageNumber": {"1"}}
	benchOp(b, func(ctx context.Context, a *agent.Agent, i int) error {
		_, err := a.API().DoJSON(ctx, &api.Request{Op: opQueuesList, Method: http.MethodGet, Route: routeQueues, Query: q}, nil, nil)
		return err
	})
}

// BenchmarkPresenceSet: PATCH /api/v2/users/{id}/presences/purecloud,
// alternating Away and Available.
func BenchmarkPresenceSet(b *testing.B) {
	benchOp(b, func(ctx context.Context, a *agent.Agent, i int) error {
		if i%2 == 0 {
			return a.SetPresence(ctx, "Away")
		}
		return a.SetPresence(ctx, agent.PresenceAvailable)
	})
}

// BenchmarkCallCreate: a call comes in to the agent's own number (the
// simulator delivers it: placing one through the API needs a user token,
// which the harness does not have), and the agent finds it (call.get),
// answers it (call.answer) and hangs up (call.disconnect): three requests
// per op.
func BenchmarkCallCreate(b *testing.B) {
	benchRigOp(b, func(r *rig) func(ctx context.Context, a *agent.Agent, i int) error {
		return func(ctx context.Context, a *agent.Agent, i int) error {
			us := make([]agent.User, a.ID+1)
			us[a.ID] = a.User
			calls, err := r.placeCalls(ctx, a.API(), us, []int{a.ID})
			if err != nil {
				return err
			}
			o, err := a.FindOffer(ctx, calls[a.ID])
			if err != nil {
				return err
			}
			if err := a.Answer(ctx, o); err != nil {
				return err
			}
			defer a.EndCall()
			return a.Disconnect(ctx)
		}
	})
}

// BenchmarkDetailsQuery: POST /api/v2/analytics/conversations/details/query
// over the last hour, one page of 25.
func BenchmarkDetailsQuery(b *testing.B) {
	benchOp(b, func(ctx context.Context, a *agent.Agent, i int) error { return queryDetails(ctx, a) })
}

// BenchmarkChannelSubscribe: POST /api/v2/notifications/channels, then PUT
// its subscriptions with the agent's three topics (two requests per op).
func BenchmarkChannelSubscribe(b *testing.B) {
	benchOp(b, func(ctx context.Context, a *agent.Agent, i int) error {
		var ch struct {
			ID string `json:"id"`
		}
		if _, err := a.API().DoJSON(ctx, &api.Request{Op: opChannelCreate, Method: http.MethodPost, Route: routeChannels}, nil, &ch); err != nil {
			return err
		}
		var topics []map[string]string
		for _, t := range a.Topics() {
			topics = append(topics, map[string]string{"id": t})
		}
		body, _ := json.Marshal(topics)
		_, err := a.API().DoJSON(ctx, &api.Request{Op: opChannelSub, Method: http.MethodPut, Route: routeChannelSubs, Params: []string{ch.ID}, Body: body}, nil, nil)
		return err
	})
}
