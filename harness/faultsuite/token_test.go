package faultsuite

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/result"
)

// TestTokenOutageDuringRefresh: the token endpoint answers 503 from the
// moment the pool's tokens enter their refresh margin until after they have
// expired. While the old tokens are still valid, requests go on with them;
// once expired, requests fail fast with the token error as their reason
// (not reaching the API); when the endpoint is back, the pool recovers. Every
// request of the three phases is in the document once, and gcsim's token
// endpoint count equals the pool's successes and failures.
func TestTokenOutageDuringRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const agents = 4
		r := newRig(t, rigConfig{
			profile: func(p *gcsim.Profile) {
				for i := range p.Clients {
					p.Clients[i].AccessTokenValiditySeconds = 600
				}
			},
			auth: auth.Config{Policy: auth.PerClient, TokensPerClient: 2, RefreshMargin: 2 * time.Minute,
				RefreshJitter: -1, MaxAttempts: 3, Backoff: time.Second, MaxBackoff: 2 * time.Second,
				Rand: func() float64 { return 0.5 }},
			api: api.Config{Retry: api.RetryPolicy{MaxAttempts: 2, Jitter: -1}, Agents: agents},
		})
		r.warm(t, agents)
		created0 := r.pool.Stats().Created
		if created0 != agents {
			t.Fatalf("pool created %d tokens for %d agents (2 clients x 2)", created0, agents)
		}
		r.sim.SetFaults(gcsim.Faults{TokenOutage: true})
		var all []*load

		// Phase 1: 9 minutes in, the tokens (valid 10 min) are in their
		// 2-minute refresh margin; refreshing fails, the old tokens work.
		time.Sleep(9 * time.Minute)
		l1 := r.run(t, agents, 5, time.Minute, getQueues)
		all = append(all, l1)
		for _, res := range l1.results {
			if res.Outcome != result.OK {
				t.Errorf("phase 1 (refresh failing, token still valid): %+v; want ok with the old token", res)
			}
		}

		// Phase 2: past expiry, no token: requests fail with the reason.
		time.Sleep(2 * time.Minute)
		l2 := r.run(t, agents, 3, 5*time.Minute, getQueues)
		all = append(all, l2)
		for _, res := range l2.results {
			if res.Outcome != result.TransportError || res.Attempts != 0 || res.Err == "" {
				t.Errorf("phase 2 (token expired, endpoint down): %+v; want a transport error with 0 attempts and a reason", res)
			}
			if strings.Contains(res.Err, gcsim.DefaultClientSecret) {
				t.Errorf("reason leaks the client secret: %q", res.Err)
			}
		}
		if !errsContain(l2.errs, l2.results, "503") {
			t.Errorf("no phase 2 error names the token endpoint's 503: %v", l2.errs)
		}
		checkDeadline(t, l2, 5*time.Minute)

		// Phase 3: the endpoint is back; the pool recovers.
		r.sim.SetFaults(gcsim.Faults{})
		l3 := r.run(t, agents, 5, time.Minute, getQueues)
		all = append(all, l3)
		for _, res := range l3.results {
			if res.Outcome != result.OK {
				t.Errorf("phase 3 (endpoint back): %+v; want ok", res)
			}
		}
		synctest.Wait()

		merged := &load{}
		for _, l := range all {
			merged.issued += l.issued
			merged.results = append(merged.results, l.results...)
			merged.errs = append(merged.errs, l.errs...)
		}
		doc := checkAccounted(t, r, merged, http.MethodGet, queuesRoute)
		st := r.sim.Stats()
		ps := r.pool.Stats()
		if tok := routeCount(st, http.MethodPost, "/oauth/token"); tok != ps.Created+ps.Failures {
			t.Errorf("gcsim answered %d token requests; the pool counts %d created + %d failed", tok, ps.Created, ps.Failures)
		}
		if ps.Failures == 0 || st.Faults.TokenOutage != ps.Failures {
			t.Errorf("gcsim refused %d token requests in the outage, the pool counts %d failures", st.Faults.TokenOutage, ps.Failures)
		}
		if op := doc.Op("queues.list"); op.Outcome(result.TransportError) != l2.issued || op.Outcome(result.OK) != l1.issued+l3.issued {
			t.Errorf("document outcomes %v; want %d ok and %d transport_error", op.Outcomes, l1.issued+l3.issued, l2.issued)
		}
	})
}
