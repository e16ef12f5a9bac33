package harness_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/result"
)

// CXLOAD_PROFILE loads a profile for the embedded simulator; a broken one
// fails with the variable and the JSON path.
func TestNewTargetProfileVariable(t *testing.T) {
	good := writeFile(t, "p.json", `{"limits":[{"key":"client.credentials.token.rate.per.minute","namespace":"platform.api","scope":"token","allowed":50,"window":"10s"}]}`)
	bad := writeFile(t, "bad.json", `{"limits":[{"key":"x","namespace":"n","scope":"token","allowed":0,"window":"60s"}]}`)

	var buckets []api.Bucket
	out, fatal := capture(t, func(tb testing.TB) {
		tg := harness.NewTarget(tb, harness.WithGetenv(env(map[string]string{"CXLOAD_PROFILE": good})))
		buckets = tg.Buckets()
	})
	if fatal || len(buckets) != 1 || buckets[0].Allowed != 50 || buckets[0].Window != 10*time.Second || !strings.Contains(out, "profile "+good) {
		t.Errorf("fatal=%v buckets=%+v\n%s", fatal, buckets, out)
	}
	out, fatal = capture(t, func(tb testing.TB) {
		harness.NewTarget(tb, harness.WithGetenv(env(map[string]string{"CXLOAD_PROFILE": bad})))
	})
	if !fatal || !strings.Contains(out, "CXLOAD_PROFILE=") || !strings.Contains(out, "limits[0].allowed") {
		t.Errorf("bad profile: fatal=%v\n%s", fatal, out)
	}
}

// WithAgents grows the default profile's directory to the agents asked
// for; a profile too small for them fails, naming the field and the value.
func TestNewTargetWithAgents(t *testing.T) {
	n := gcsim.DefaultAgents + 1000
	var users int
	out, fatal := capture(t, func(tb testing.TB) {
		users = len(harness.NewTarget(tb, harness.WithGetenv(noEnv), harness.WithAgents(n)).Sim.Users())
	})
	if fatal || users != n {
		t.Errorf("default profile, WithAgents(%d): fatal=%v, %d users\n%s", n, fatal, users, out)
	}
	small := writeFile(t, "small.json", `{"directory":{"agents":30}}`)
	out, fatal = capture(t, func(tb testing.TB) {
		harness.NewTarget(tb, harness.WithGetenv(env(map[string]string{"CXLOAD_PROFILE": small})), harness.WithAgents(40))
	})
	if want := `directory.agents is 30, fewer than the 40 agents the run needs: set "directory": {"agents": 40}`; !fatal || !strings.Contains(out, want) || !strings.Contains(out, small) {
		t.Errorf("profile with 30 agents, WithAgents(40): fatal=%v, want the message to name %s and contain %s\n%s", fatal, small, want, out)
	}
	out, fatal = capture(t, func(tb testing.TB) {
		harness.NewTarget(tb, harness.WithGetenv(env(map[string]string{"CXLOAD_PROFILE": small})), harness.WithAgents(30))
	})
	if fatal {
		t.Errorf("profile with 30 agents, WithAgents(30): fatal\n%s", out)
	}
}

// The seeded buckets are the profile's visible request limits for
// client-credentials tokens: not hidden ones, not password-grant ones, not
// token creation.
func TestTargetBuckets(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Limits = append(p.Limits, gcsim.Limit{Key: "hidden.rate.per.minute", Namespace: "x", Scope: genesys.ScopeEndpointUser,
		Allowed: 5, Window: gcsim.Duration(time.Minute), Families: []string{genesys.FamilyQueues}, Hidden: true})
	var keys []string
	capture(t, func(tb testing.TB) {
		tg := harness.NewTarget(tb, harness.WithGetenv(noEnv), harness.WithProfile(p))
		for _, b := range tg.Buckets() {
			keys = append(keys, b.Key+"/"+string(b.Scope))
		}
	})
	want := "client.credentials.token.rate.per.minute/token org.app.user.rate.per.minute/client-user"
	if strings.Join(keys, " ") != want {
		t.Errorf("Buckets = %v\nwant %s", keys, want)
	}
}

func TestFamily(t *testing.T) {
	for route, want := range map[string]string{
		"/api/v2/conversations/screenshares/{id}/recordingstate": genesys.FamilyRecordingState,
		"/api/v2/notifications/channels/{id}/subscriptions":      genesys.FamilyNotifications,
		"/api/v2/users/{id}/presences/{source}":                  genesys.FamilyPresence,
		"/api/v2/users/me":                                       genesys.FamilyUsers,
		"/api/v2/routing/queues":                                 genesys.FamilyQueues,
		"/api/v2/architect/ivrs/{id}":                            "architect.ivrs",
	} {
		if got := genesys.Family(route); got != want {
			t.Errorf("Family(%q) = %q, want %q", route, got, want)
		}
	}
}

// A hidden resource limit is not known in advance: its first 429 is
// attributed to it from the body, the limiter learns it, and later requests
// wait instead of drawing more 429s.
func TestAcceptanceHiddenLimitLearned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.Limits = append(p.Limits, gcsim.Limit{Key: "routing.queues.rate.per.minute", Namespace: "routing", Scope: genesys.ScopeEndpointUser,
			Allowed: 20, Window: gcsim.Duration(time.Minute), Families: []string{genesys.FamilyQueues}, Hidden: true})
		tg := simulator(t, p)
		lim := tg.NewLimits()
		c := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{}), Limits: lim, Retry: api.RetryPolicy{MaxAttempts: 1}})
		var n429 int
		for i := range 60 {
			resp, err := c.Do(t.Context(), queues(i))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status == 429 {
				n429++
				if resp.Result.ThrottledBy != "routing.queues.rate.per.minute" || resp.Result.Scope != string(genesys.ScopeEndpointUser) {
					t.Errorf("429 attributed to %q/%q", resp.Result.ThrottledBy, resp.Result.Scope)
				}
			}
		}
		if n429 != 1 {
			t.Errorf("429s = %d, want 1 (then learned)", n429)
		}
		var learned *api.Bucket
		for _, b := range lim.Buckets() {
			if b.Key == "routing.queues.rate.per.minute" {
				learned = &b
			}
		}
		if learned == nil || learned.Allowed != 20 || learned.Window != time.Minute || learned.Source != "learned" || learned.Families[0] != genesys.FamilyQueues {
			t.Errorf("learned bucket = %+v", learned)
		}
	})
}

// The guard as the client's Gate against the simulator: the budget stops
// the run with a verdict, and so does a sustained 429 storm.
func TestGuardStopsRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		budget  int64
		limits  bool
		verdict string
	}{
		{"budget", 50, true, "request budget spent: 50 requests of 50"},
		{"429 storm", 100000, false, "aborted: 429 Too Many Requests above 5.0% of requests for 10s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tg := simulator(t, nil)
				var logs []string
				var mu sync.Mutex
				g := harness.NewGuard(harness.GuardConfig{Approval: "CS-1", Budget: tc.budget, AbortAfter: 10 * time.Second, AllowOutsideWindow: true},
					nil, func(f string, a ...any) { mu.Lock(); logs = append(logs, f); mu.Unlock() })
				defer g.Close()
				c := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{}), Gate: g, Limits: limitsOf(tg, tc.limits),
					Retry: api.RetryPolicy{MaxAttempts: 1}})
				var sent, refused int
				var lastErr error
				for i := 0; i < 5000 && g.Context().Err() == nil; i++ {
					resp, err := c.Do(g.Context(), queues(i))
					if err != nil {
						refused++
						lastErr = err
						if resp.Result.Err == "" {
							t.Errorf("refused result has no Err")
						}
						break
					}
					sent++
					time.Sleep(50 * time.Millisecond) // 20 req/s: 300/min is hit after 15 s
				}
				if !strings.Contains(g.Verdict(), tc.verdict) {
					t.Errorf("verdict = %q, want %q", g.Verdict(), tc.verdict)
				}
				if g.Context().Err() == nil || !errors.Is(context.Cause(g.Context()), harness.ErrStopped) {
					t.Errorf("guard context not canceled with ErrStopped")
				}
				if tc.name == "budget" && (sent != 50 || refused != 1 || !errors.Is(lastErr, harness.ErrStopped)) {
					t.Errorf("sent %d, refused %d (%v); want 50 sent, then refused", sent, refused, lastErr)
				}
			})
		})
	}
}

// Token creation is paced to the profile's token-creation limit: a pool of
// 400 per-agent tokens never draws a 429 from the token endpoint.
func TestAcceptanceTokenCreationPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.Clients = p.Clients[:1]
		tg := simulator(t, p)
		pool := tg.NewPool(auth.Config{Policy: auth.PerAgent, Agents: 400})
		start := time.Now()
		var wg sync.WaitGroup
		for a := range 400 {
			wg.Go(func() {
				if _, err := pool.Token(t.Context(), a); err != nil {
					t.Errorf("agent %d: %v", a, err)
				}
			})
		}
		wg.Wait()
		st := tg.Sim.Stats()
		for _, b := range st.Buckets {
			if b.Key == gcsim.KeyTokenCreate && b.Rejected != 0 {
				t.Errorf("token endpoint rejected %d creations", b.Rejected)
			}
		}
		if st.Tokens[gcsim.DefaultClientID] != 400 || time.Since(start) < time.Minute {
			t.Errorf("created %d tokens in %v; want 400 paced over more than a minute", st.Tokens[gcsim.DefaultClientID], time.Since(start))
		}
	})
}

var _ = result.OK

// The whole guarded path of a tenant, with the simulator standing in for
// the region's hosts: plan printed and checked, limits read from the
// organization's limits API, every attempt counted, the run stopped when
// the budget is spent.
func TestTenantGuardedRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := gcsim.NewUnstartedServer(nil)
		sim.Listener.Close()
		sim.Listener = gcsim.NewPipeListener()
		sim.Start()
		defer sim.Close()
		e := tenantEnv(map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": "sim-client", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "sim-secret",
			"CXLOAD_REQUEST_BUDGET": "40"})
		// synctest's clock starts at midnight UTC: inside Dublin's window.
		out, fatal := capture(t, func(tb testing.TB) {
			tg := harness.NewTarget(tb, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim))
			tg.Start(harness.Plan{Agents: 2, Rate: 1, Duration: 30 * time.Second})
			pool := tg.NewPool(auth.Config{})
			c := tg.NewClient(api.Config{Tokens: pool})
			var sources []string
			for _, b := range c.Limits().Buckets() {
				sources = append(sources, b.Key+"="+b.Source)
			}
			tb.Logf("buckets: %s", strings.Join(sources, " "))
			ctx := tg.Context()
			for i := 0; ctx.Err() == nil && i < 100; i++ {
				if _, err := c.Do(ctx, queues(i)); err != nil {
					tb.Logf("stopped: %v", err)
					break
				}
			}
			tb.Logf("verdict: %s; used %d", tg.Guard.Verdict(), tg.Guard.Used())
			tg.Start(harness.Plan{Agents: 2, Rate: 10, Duration: time.Minute}) // over budget: refused
		})
		for _, want := range []string{
			"cxload target: tenant eu-west-1 (http://gcsim.pipe)",
			"plan: 2 agents, target 1.0 req/s for 30s, about 30 requests",
			"client.credentials.token.rate.per.minute=tenant", // read from the limits API
			"verdict: request budget spent: 40 requests of 40 (CXLOAD_REQUEST_BUDGET), by all scenarios of the run together",
			"; used 40",
			"cxload guard refused to start:",
			"about 600 requests, over the budget of 40",
			"ERROR: cxload guard stopped the run: request budget spent",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if !fatal || t.Failed() {
			t.Logf("fatal=%v output:\n%s", fatal, out)
		}
		if strings.Contains(out, "sim-secret") {
			t.Errorf("output leaks the secret")
		}
	})
}

// limitsOf returns the target's client-side limiter, enforcing or observe-only.
func limitsOf(tg *harness.Target, enforce bool) *api.Limits {
	if enforce {
		return tg.NewLimits()
	}
	return tg.ObserveLimits()
}
