package faultsuite

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/workload"
)

// TestOpenModelUnderFaults: a paced open-model run (harness/agent's Open
// executor, 20 arrivals/s for 30 s over 40 agents) against gcsim answering
// slowly (0–3 s), with 503s and resets. Every arrival is either dropped
// (all agents busy) or started; every started iteration's request is in
// the document once, those cut by the graceful stop as canceled; the run
// ends by MaxDuration + GracefulStop; and the document's attempts match
// gcsim's answers (resets aside: net/http may re-send those unseen).
func TestOpenModelUnderFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			agents   = 40
			maxDur   = 30 * time.Second
			graceful = 2 * time.Second
		)
		r := newRig(t, rigConfig{
			profile: faultOn(genesys.FamilyQueues, gcsim.FaultSpec{
				Latency:   gcsim.Latency{Distribution: "uniform", Min: 0, Max: gcsim.Duration(3 * time.Second)},
				ErrorRate: 0.2, RetryAfter: gcsim.Duration(2 * time.Second), ResetRate: 0.1,
			}),
			api: api.Config{Retry: api.RetryPolicy{MaxAttempts: 3, Backoff: time.Second, Jitter: -1}, Agents: agents},
		})
		r.warm(t, agents)
		var (
			mu      sync.Mutex
			results []metrics.Result
		)
		ex := &workload.Open{Pacer: workload.ConstantPacer{Freq: 20}, Agents: agents, MaxDuration: maxDur, GracefulStop: graceful}
		start := time.Now()
		st, err := ex.Run(t.Context(), func(ctx context.Context, it workload.Iteration) error {
			req := getQueues(it.Agent, int(it.N))
			req.Intended = it.Intended
			resp, err := r.api.Agent(it.Agent).Do(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if resp == nil {
				t.Errorf("iteration %d: no response (err %v): unaccounted", it.N, err)
				return err
			}
			results = append(results, resp.Result)
			return err
		})
		elapsed := time.Since(start)
		synctest.Wait()
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if elapsed > maxDur+graceful || st.Elapsed > maxDur+graceful {
			t.Errorf("the run took %v (stats %v), past MaxDuration %v + GracefulStop %v", elapsed, st.Elapsed, maxDur, graceful)
		}
		if st.Arrivals != st.Started+st.Dropped || st.Started != st.Completed+st.Interrupted {
			t.Errorf("executor stats do not add up: %v", st)
		}
		if st.Dropped == 0 || st.Interrupted == 0 {
			t.Errorf("stats %v: want some arrivals dropped (agents busy with slow answers) and some iterations cut by the graceful stop", st)
		}
		l := &load{issued: int64(st.Started), results: results, elapsed: elapsed}
		doc := checkAccounted(t, r, l, http.MethodGet, queuesRoute)
		op := doc.Op("queues.list")
		if got := op.Outcome(result.Canceled); got != int64(st.Interrupted) {
			t.Errorf("document: %d canceled, executor: %d interrupted", got, st.Interrupted)
		}
		// Latency is measured from the intended start: the total of a
		// request includes the time its arrival waited for nothing (open
		// model: none), never less than its service time.
		for _, res := range results {
			if res.Total < res.Latency || !res.Intended.Equal(res.Intended.Truncate(time.Millisecond)) {
				t.Errorf("result %+v: total below service time or intended time off the pacer's grid", res)
			}
		}
		t.Logf("%v; document outcomes %v, %d attempts", st, op.Outcomes, op.Attempts)
	})
}
