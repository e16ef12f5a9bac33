package faultsuite

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/result"
)

// faultOn returns a profile mutation that sets spec on one route family.
func faultOn(family string, spec gcsim.FaultSpec) func(p *gcsim.Profile) {
	return func(p *gcsim.Profile) {
		p.Faults.Families = map[string]gcsim.FaultSpec{family: spec}
	}
}

// TestRequestFaults runs bounded request loops against gcsim's per-route
// faults and checks, for each, that every request is accounted for once,
// that the run ends by its deadline and that the document says what
// happened.
func TestRequestFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		profile  func(p *gcsim.Profile)
		during   func(r *rig) // runs in its own goroutine while the load runs
		retry    api.RetryPolicy
		timeout  time.Duration // api.Config.AttemptTimeout
		agents   int
		per      int
		deadline time.Duration
		req      func(agent, i int) *api.Request
		method   string
		route    string
		check    func(t *testing.T, r *rig, l *load, doc *result.Document)
	}{
		{
			name:    "connection resets",
			profile: faultOn(genesys.FamilyQueues, gcsim.FaultSpec{ResetRate: 0.3}),
			retry:   api.RetryPolicy{MaxAttempts: 3, Backoff: time.Second, Jitter: -1},
			agents:  8, per: 25, deadline: 5 * time.Minute,
			req: getQueues, method: http.MethodGet, route: queuesRoute,
			check: func(t *testing.T, r *rig, l *load, doc *result.Document) {
				st := r.sim.Stats()
				resets := st.Faults.Resets
				if resets == 0 {
					t.Fatal("gcsim reset no connection: the fault did not fire")
				}
				if got := routeStatus(st, "GET", queuesRoute, 0); got != resets {
					t.Errorf("gcsim counts %d status-0 answers, %d resets", got, resets)
				}
				op := doc.Op("queues.list")
				if op.Attempts == op.Count {
					t.Errorf("attempts %d for %d requests: no reset was retried", op.Attempts, op.Count)
				}
				for _, res := range l.results {
					if res.Outcome == result.TransportError && !strings.Contains(res.Err, "api: GET "+queuesRoute) {
						t.Errorf("a reset request's reason does not name the request: %q", res.Err)
					}
				}
				// 30% resets, 3 attempts: about 2.7% fail all three.
				if ok := op.Outcome(result.OK); ok < op.Count*9/10 {
					t.Errorf("only %d of %d succeeded after retries", ok, op.Count)
				}
			},
		},
		{
			name:    "5xx burst with Retry-After, then settled",
			profile: faultOn(genesys.FamilyQueues, gcsim.FaultSpec{ErrorRate: 1, RetryAfter: gcsim.Duration(3 * time.Second)}),
			during: func(r *rig) {
				time.Sleep(10 * time.Second) // the burst lasts 10 s
				r.sim.SetFaults(gcsim.Faults{})
			},
			retry:  api.RetryPolicy{MaxAttempts: 8, Jitter: -1},
			agents: 6, per: 4, deadline: 5 * time.Minute,
			req: getQueues, method: http.MethodGet, route: queuesRoute,
			check: func(t *testing.T, r *rig, l *load, doc *result.Document) {
				st := r.sim.Stats()
				n503 := routeStatus(st, "GET", queuesRoute, 503)
				if n503 == 0 || st.Faults.ServiceUnavailable != n503 {
					t.Fatalf("gcsim answered %d 503s, injected %d", n503, st.Faults.ServiceUnavailable)
				}
				var retries int64
				for _, res := range l.results {
					if res.Outcome != result.OK {
						t.Errorf("request not settled after the burst: %+v", res)
					}
					retries += int64(res.Attempts - 1)
					// Retry-After 3 s honoured on every retry, no jitter.
					if want := time.Duration(res.Attempts-1) * 3 * time.Second; res.RetryWait != want {
						t.Errorf("%d attempts waited %v, want %v (Retry-After 3s each)", res.Attempts, res.RetryWait, want)
					}
				}
				if retries != n503 {
					t.Errorf("%d retries for %d 503s", retries, n503)
				}
				op := doc.Op("queues.list")
				if op.Outcome(result.OK) != op.Count || op.Attempts != op.Count+n503 || op.RetryWaitMs != float64(n503*3000) {
					t.Errorf("document: count %d, outcomes %v, attempts %d, retryWaitMs %v; want all ok, %d attempts, %d ms waited",
						op.Count, op.Outcomes, op.Attempts, op.RetryWaitMs, op.Count+n503, n503*3000)
				}
			},
		},
		{
			name:    "5xx asking to wait longer than the policy allows",
			profile: faultOn(genesys.FamilyPresence, gcsim.FaultSpec{ErrorRate: 1, RetryAfter: gcsim.Duration(5 * time.Minute)}),
			retry:   api.RetryPolicy{MaxAttempts: 4, MaxRetryAfter: time.Minute, RetryUnsafe: true},
			agents:  3, per: 3, deadline: time.Minute,
			req: patchPresence, method: http.MethodPatch, route: "/api/v2/users/{id}/presences/{source}",
			check: func(t *testing.T, r *rig, l *load, doc *result.Document) {
				for _, res := range l.results {
					if res.Outcome != result.ServerError || res.Status != 503 || res.Attempts != 1 ||
						!strings.Contains(res.Err, "more than RetryPolicy.MaxRetryAfter") {
						t.Errorf("result %+v; want one attempt, 503, a reason naming MaxRetryAfter", res)
					}
				}
				if op := doc.Op("presence.set"); op.Outcome(result.ServerError) != l.issued {
					t.Errorf("document outcomes %v, want %d server_error", op.Outcomes, l.issued)
				}
			},
		},
		{
			name:    "answers slower than the attempt timeout",
			profile: faultOn(genesys.FamilyQueues, gcsim.FaultSpec{Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(45 * time.Second)}}),
			retry:   api.RetryPolicy{MaxAttempts: 2, Backoff: time.Second, Jitter: -1},
			timeout: 5 * time.Second,
			agents:  4, per: 3, deadline: 2 * time.Minute,
			req: getQueues, method: http.MethodGet, route: queuesRoute,
			check: func(t *testing.T, r *rig, l *load, doc *result.Document) {
				for _, res := range l.results {
					if res.Outcome != result.TransportError || res.Attempts != 2 || res.Latency != 5*time.Second ||
						res.Total != 11*time.Second || !(strings.Contains(res.Err, "deadline exceeded") || strings.Contains(res.Err, "AttemptTimeout (5s)")) {
						t.Errorf("result %+v; want 2 attempts of 5s + 1s backoff, a transport error naming the deadline", res)
					}
				}
				// 3 requests of 11 s each per agent.
				if l.elapsed != 33*time.Second {
					t.Errorf("run took %v, want 33s", l.elapsed)
				}
				if op := doc.Op("queues.list"); op.Outcome(result.TransportError) != l.issued {
					t.Errorf("document outcomes %v, want %d transport_error", op.Outcomes, l.issued)
				}
			},
		},
		{
			name:    "answers slower than the run deadline",
			profile: faultOn(genesys.FamilyQueues, gcsim.FaultSpec{Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(time.Hour)}}),
			retry:   api.RetryPolicy{MaxAttempts: 3},
			timeout: 10 * time.Minute,
			agents:  5, per: 100, deadline: 20 * time.Second,
			req: getQueues, method: http.MethodGet, route: queuesRoute,
			check: func(t *testing.T, r *rig, l *load, doc *result.Document) {
				if l.issued != 5 {
					t.Errorf("issued %d, want one per agent (each hangs until the deadline)", l.issued)
				}
				if l.elapsed != 20*time.Second {
					t.Errorf("run took %v, want exactly the 20s deadline", l.elapsed)
				}
				for _, res := range l.results {
					if res.Outcome != result.Canceled || !strings.Contains(res.Err, "context deadline exceeded") {
						t.Errorf("result %+v; want canceled with the deadline as reason", res)
					}
				}
				if op := doc.Op("queues.list"); op.Outcome(result.Canceled) != l.issued {
					t.Errorf("document outcomes %v, want %d canceled", op.Outcomes, l.issued)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, rigConfig{profile: tc.profile, api: api.Config{Retry: tc.retry, AttemptTimeout: tc.timeout, Agents: tc.agents}})
				r.warm(t, tc.agents)
				done := make(chan struct{})
				if tc.during != nil {
					go func() { defer close(done); tc.during(r) }()
				} else {
					close(done)
				}
				l := r.run(t, tc.agents, tc.per, tc.deadline, tc.req)
				<-done
				synctest.Wait() // handlers of abandoned attempts finish and are counted
				checkDeadline(t, l, tc.deadline)
				doc := checkAccounted(t, r, l, tc.method, tc.route)
				tc.check(t, r, l, doc)
				if t.Failed() {
					t.Logf("document summary: %s", doc.Summary)
				}
			})
		})
	}
}

// TestResetRetriesAreCounted: an idempotent request whose reused keep-alive
// connection is reset is sent again by net/http's Transport itself, below
// the retry policy, on a fresh connection (reset too, and not re-sent: it
// is fresh). gcsim answers two attempts; Result.Attempts, the document and
// api.Gate (the production guard's request budget) must count two as well.
func TestResetRetriesAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &countGate{}
		r := newRig(t, rigConfig{api: api.Config{Retry: api.RetryPolicy{MaxAttempts: 1}, Gate: g}})
		r.warm(t, 1)
		// One request on another route leaves a keep-alive connection to reuse.
		warm, err := r.api.Do(t.Context(), &api.Request{Op: "users.me", Route: "/api/v2/users/me"})
		if err != nil || warm.Status == 0 { // any answer leaves the connection open (users/me wants a user: 4xx)
			t.Fatalf("warming the connection: %v", err)
		}
		r.sim.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{genesys.FamilyQueues: {ResetRate: 1}}})
		l := r.run(t, 1, 1, time.Minute, getQueues)
		synctest.Wait()
		res := l.results[0]
		answered := routeCount(r.sim.Stats(), http.MethodGet, queuesRoute)
		if resets := r.sim.Stats().Faults.Resets; answered != 2 || resets != 2 {
			t.Fatalf("gcsim answered %d attempts with %d resets; want 2 and 2 (the reused connection, then a fresh one)", answered, resets)
		}
		if res.Outcome != result.TransportError || int64(res.Attempts) != answered || res.Err == "" {
			t.Errorf("result: outcome %v, %d attempts, reason %q; want transport_error, the %d attempts gcsim answered, a reason",
				res.Outcome, res.Attempts, res.Err, answered)
		}
		l.issued++
		l.results = append(l.results, warm.Result)
		doc := checkAccounted(t, r, l, http.MethodGet, queuesRoute)
		if attempts := doc.Op("queues.list").Attempts; attempts != answered {
			t.Errorf("gcsim answered %d attempts, the document counts %d", answered, attempts)
		}
		if admits, dones := g.admits.Load(), g.dones.Load(); admits != answered+1 || dones != answered+1 {
			t.Errorf("gcsim answered %d attempts and the warming request, the Gate admitted %d and was told of %d", answered, admits, dones)
		}
	})
}

// countGate is an api.Gate that admits everything and counts.
type countGate struct{ admits, dones atomic.Int64 }

func (g *countGate) Admit() error { g.admits.Add(1); return nil }
func (g *countGate) Done(int)     { g.dones.Add(1) }
