package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/workload"
)

// TestYourOwnScenario is the scenario the README's "Writing your own
// scenario" shows, line for line between the markers: 20 agents change their
// presence 10 times a second for 3 seconds, and the run must keep the p99
// service time under 1 s with no 429. It runs on the embedded simulator.
func TestYourOwnScenario(t *testing.T) {
	// README begin
	tg := harness.NewTarget(t) // the simulator, or a tenant behind the guard
	tg.Start(harness.Plan{Agents: 20, Rate: 10, Duration: 3 * time.Second})
	pool := tg.NewPool(auth.Config{Policy: auth.PerClient, TokensPerClient: 2})
	rec := tg.NewRecorder(metrics.WithScenario(t.Name()))
	client := tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: 20})

	users, err := tg.Users(tg.Context(), client, 20) // on a tenant: the test users of CXLOAD_USERS
	if err != nil {
		t.Fatal(err)
	}
	pop, err := agent.NewPopulation(agent.Config{API: client, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	run := workload.Open{Pacer: workload.ConstantPacer{Freq: 10}, Agents: len(users), MaxDuration: 3 * time.Second}
	presences := []string{"Available", "Busy"}
	if _, err := run.Run(tg.Context(), pop.Iter(func(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
		return a.SetPresence(ctx, presences[it.N%2])
	})); err != nil {
		t.Fatal(err)
	}

	doc := rec.Snapshot()
	metrics.Emit(t, doc) // the result document, for scripts/report
	metrics.AssertThresholds(t, doc, "p99(presence.set) < 1s", "rate(429) == 0")
	// README end
	var sets int64
	for _, op := range doc.Operations {
		if op.Op == "presence.set" {
			sets += op.Count
		}
	}
	if sets < 25 {
		t.Errorf("presence.set count = %d, want about 30 (10/s for 3 s)", sets)
	}
}
