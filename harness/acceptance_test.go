package harness_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/notify"
	"github.com/cxload/cxload/harness/result"
)

// noEnv is a getenv with nothing set: the simulator.
func noEnv(string) string { return "" }

// captureTB records what a target prints and turns Fatal into a panic that
// capture recovers, so tests can check refusals.
type captureTB struct {
	testing.TB
	mu       sync.Mutex
	out      strings.Builder
	cleanups []func()
}

// Cleanup collects f; capture runs the functions when f returns.
func (c *captureTB) Cleanup(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleanups = append(c.cleanups, f)
}

type fatalPanic struct{}

func (c *captureTB) Helper() {}
func (c *captureTB) Logf(f string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(&c.out, f+"\n", a...)
}
func (c *captureTB) Log(a ...any) { c.Logf("%s", fmt.Sprint(a...)) }
func (c *captureTB) Fatalf(f string, a ...any) {
	c.Logf("FATAL: "+f, a...)
	panic(fatalPanic{})
}
func (c *captureTB) Fatal(a ...any)            { c.Fatalf("%s", fmt.Sprint(a...)) }
func (c *captureTB) Errorf(f string, a ...any) { c.Logf("ERROR: "+f, a...) }
func (c *captureTB) Error(a ...any)            { c.Errorf("%s", fmt.Sprint(a...)) }
func (c *captureTB) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// capture runs f with a captureTB, then the cleanups f registered, and
// reports the output (errors prefixed "ERROR: ") and whether f called Fatal.
func capture(t testing.TB, f func(tb testing.TB)) (out string, fatal bool) {
	c := &captureTB{TB: t}
	defer func() {
		for i := len(c.cleanups) - 1; i >= 0; i-- {
			c.cleanups[i]()
		}
		out = c.String()
	}()
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatalPanic); !ok {
					panic(r)
				}
				fatal = true
			}
		}()
		f(c)
	}()
	return c.String(), fatal
}

// simulator starts a pipe-served simulator inside a synctest bubble.
func simulator(t *testing.T, p *gcsim.Profile) *harness.Target {
	t.Helper()
	opts := []harness.Option{harness.WithGetenv(noEnv), harness.WithPipe()}
	if p != nil {
		opts = append(opts, harness.WithProfile(p))
	}
	return harness.NewTarget(t, opts...)
}

func TestNewTargetSimulator(t *testing.T) {
	var status int
	out, fatal := capture(t, func(tb testing.TB) {
		tg := harness.NewTarget(tb, harness.WithGetenv(noEnv))
		pool := tg.NewPool(auth.Config{})
		c := tg.NewClient(api.Config{Tokens: pool})
		resp, err := c.GetJSON(tb.Context(), "/api/v2/routing/queues", nil)
		if err != nil {
			tb.Fatalf("GET queues: %v", err)
		}
		status = resp.Status
	})
	if fatal || status != 200 || strings.Contains(out, "ERROR:") {
		t.Fatalf("fatal=%v status=%d\n%s", fatal, status, out)
	}
	if lines := strings.Count(out, "cxload target:"); lines != 1 || !strings.Contains(out, "cxload target: simulator at http://127.0.0.1:") ||
		!strings.Contains(out, "no GENESYSCLOUD_REGION set") {
		t.Errorf("target line missing or repeated:\n%s", out)
	}
}

// A tenant is refused without approval, budget or window, with the fix.
// None of these cases reaches the network: refusals come first, and the
// accepted case makes no request.
func TestNewTargetTenantGuard(t *testing.T) {
	dublin := mustZone(t, "Europe/Dublin")
	nightTime := time.Date(2026, 11, 26, 23, 30, 0, 0, dublin)
	dayTime := time.Date(2026, 11, 26, 14, 0, 0, 0, dublin)
	for _, tc := range []struct {
		name  string
		env   map[string]string
		now   time.Time
		fatal bool
		want  string
	}{
		{"no approval", tenantEnv(map[string]string{"CXLOAD_APPROVAL": "<unset>"}), nightTime, true, "CXLOAD_APPROVAL is not set"},
		{"no budget", tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "<unset>"}), nightTime, true, "CXLOAD_REQUEST_BUDGET is not set"},
		{"daytime", tenantEnv(nil), dayTime, true, "outside the load-test window 23:00–05:00 (opens in 9h0m0s)"},
		{"daytime allowed", tenantEnv(map[string]string{"CXLOAD_ALLOW_OUTSIDE_WINDOW": "1"}), dayTime, false, "cxload target: tenant eu-west-1 (https://api.mypurecloud.ie)"},
		{"night", tenantEnv(nil), nightTime, false, "approval CS-123456, budget 20000 requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, fatal := capture(t, func(tb testing.TB) {
				tg := harness.NewTarget(tb, harness.WithGetenv(env(tc.env)), harness.WithNow(func() time.Time { return tc.now }))
				if tg.Kind() != "tenant" || tg.Sim != nil || tg.Guard == nil {
					tb.Errorf("target = %v", tg)
				}
				// A client before the plan is printed is refused.
				tg.NewClient(api.Config{})
			})
			if !fatal || !strings.Contains(out, tc.want) {
				t.Errorf("fatal=%v, output lacks %q:\n%s", fatal, tc.want, out)
			}
			if !tc.fatal && !strings.Contains(out, "call Target.Start(plan) before NewClient") {
				t.Errorf("NewClient before Start not refused:\n%s", out)
			}
			if strings.Contains(out, "secret-a-XYZ") {
				t.Errorf("output leaks the secret:\n%s", out)
			}
			if strings.Contains(out, "ERROR:") {
				t.Errorf("unexpected error:\n%s", out)
			}
		})
	}
}

// burst sends n GET requests from agents goroutines sharing one token and
// returns every response.
func burst(t *testing.T, c *api.Client, agents, n int, req func(i int) *api.Request) []*api.Response {
	t.Helper()
	out := make([]*api.Response, n)
	var wg sync.WaitGroup
	for a := range agents {
		wg.Go(func() {
			for i := a; i < n; i += agents {
				resp, err := c.Agent(a).Do(t.Context(), req(i))
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				out[i] = resp
			}
		})
	}
	wg.Wait()
	return out
}

func queues(int) *api.Request {
	return &api.Request{Op: "queues.list", Route: "/api/v2/routing/queues", Query: map[string][]string{"pageSize": {"1"}}}
}

func count429(resps []*api.Response, key string, scope genesys.Scope) (n429, attributed int) {
	for _, r := range resps {
		if r != nil && r.Status == 429 {
			n429++
			if r.Result.ThrottledBy == key && r.Result.Scope == string(scope) && r.Result.Outcome == result.Throttled {
				attributed++
			}
		}
	}
	return
}

// A burst of 500 requests on one token (limit 300 per minute): with
// client-side limiting, no 429 at all; without it, exactly the 200 the
// profile predicts (rejected requests do not count, so 300 pass), each
// attributed to the token bucket.
func TestAcceptanceTokenBurst(t *testing.T) {
	const n = 500
	for _, tc := range []struct {
		name    string
		limits  bool
		want429 int
	}{
		{"limiting on", true, 0},
		{"limiting off", false, n - 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tg := simulator(t, nil)
				pool := tg.NewPool(auth.Config{Policy: auth.Shared})
				rec := tg.NewRecorder()
				c := tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: 20, Limits: limitsOf(tg, tc.limits),
					Retry: api.RetryPolicy{MaxAttempts: 1}})
				start := time.Now()
				resps := burst(t, c, 20, n, queues)
				n429, attributed := count429(resps, genesys.KeyClientCredentialsToken, genesys.ScopeToken)
				if n429 != tc.want429 || attributed != tc.want429 {
					t.Errorf("429s = %d (%d attributed to %s/token), want %d", n429, attributed, genesys.KeyClientCredentialsToken, tc.want429)
				}
				var rejected int64
				for _, b := range tg.Sim.Stats().Buckets {
					rejected += b.Rejected
				}
				if rejected != int64(tc.want429) {
					t.Errorf("simulator rejected %d, want %d", rejected, tc.want429)
				}
				if tc.limits && time.Since(start) < time.Minute {
					t.Errorf("500 requests at 300/min took only %v", time.Since(start))
				}
				doc := rec.Snapshot()
				var obs *result.RateLimitObservation
				for i := range doc.RateLimits {
					if doc.RateLimits[i].Key == genesys.KeyClientCredentialsToken && doc.RateLimits[i].Source == "server" {
						obs = &doc.RateLimits[i]
					}
				}
				if tc.want429 > 0 && (obs == nil || obs.Rejected != int64(tc.want429) || obs.Allowed != 300) {
					t.Errorf("recorder observation = %+v; want %d rejected by %s (allowed 300)", obs, tc.want429, genesys.KeyClientCredentialsToken)
				}
			})
		})
	}
}

// A resource limit (a hypothetical one, as Genesys publishes none: recording
// state, 100 per minute per user) rejects on its own figure and is attributed to its endpoint bucket; the client-side
// limiter, knowing the profile's families, avoids it.
func TestAcceptanceResourceLimit(t *testing.T) {
	const n = 130
	patch := func(i int) *api.Request {
		return &api.Request{Op: "recording.set", Method: "PATCH", Route: "/api/v2/conversations/{id}/recordingstate",
			Params: []string{fmt.Sprintf("conv-%d", i)}, Body: []byte(`{"recordingState":"active"}`)}
	}
	for _, tc := range []struct {
		name    string
		limits  bool
		want429 int
	}{
		{"limiting off", false, n - 100},
		{"limiting on", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := gcsim.DefaultProfile()
				p.Limits = append(p.Limits, gcsim.Limit{Key: gcsim.KeyRecordingState, Namespace: "conversation", Scope: genesys.ScopeEndpointUser,
					Allowed: 100, Window: gcsim.Duration(time.Minute), Families: []string{genesys.FamilyRecordingState}, Hypothetical: true})
				tg := simulator(t, p)
				pool := tg.NewPool(auth.Config{Policy: auth.Shared})
				c := tg.NewClient(api.Config{Tokens: pool, Agents: 10, Limits: limitsOf(tg, tc.limits), Retry: api.RetryPolicy{MaxAttempts: 1}})
				resps := burst(t, c, 10, n, patch)
				n429, attributed := count429(resps, gcsim.KeyRecordingState, genesys.ScopeEndpointUser)
				if n429 != tc.want429 || attributed != tc.want429 {
					t.Errorf("429s = %d (%d attributed to %s/endpoint-user), want %d", n429, attributed, gcsim.KeyRecordingState, tc.want429)
				}
				for _, r := range resps {
					if r.Status == 429 && (r.Result.RateLimit.Value != 100 || r.Result.RateLimit.Key != gcsim.KeyRecordingState) {
						t.Fatalf("429 result RateLimit = %+v", r.Result.RateLimit)
					}
				}
			})
		})
	}
}

// Retry-After from the simulator is honoured: the 301st request in a
// window waits exactly until the window resets, then succeeds.
func TestAcceptanceRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := simulator(t, nil)
		pool := tg.NewPool(auth.Config{})
		c := tg.NewClient(api.Config{Tokens: pool, Limits: tg.ObserveLimits(), Rand: func() float64 { return 0 },
			Retry: api.RetryPolicy{MaxAttempts: 2, Jitter: -1}})
		for i := range 300 {
			if resp, err := c.Do(t.Context(), queues(i)); err != nil || resp.Status != 200 {
				t.Fatalf("request %d: %v %v", i, resp.Status, err)
			}
		}
		time.Sleep(20 * time.Second)
		start := time.Now()
		resp, err := c.Do(t.Context(), queues(0))
		if err != nil || resp.Status != 200 {
			t.Fatalf("301st: %d %v", resp.Status, err)
		}
		r := resp.Result
		if d := time.Since(start); d != 40*time.Second || r.RetryWait != 40*time.Second || r.Attempts != 2 || r.Total != 40*time.Second {
			t.Errorf("waited %v, Result %+v; want a 40s wait (Retry-After to the window's end) and 2 attempts", d, r)
		}
		if r.ThrottledBy != genesys.KeyClientCredentialsToken {
			t.Errorf("ThrottledBy = %q", r.ThrottledBy)
		}
	})
}

// The 5xx policy gives up after its attempts and returns the last response
// whole: status, headers (Retry-After, correlation id) and ErrorBody.
func TestAcceptanceServerErrorGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.Faults.Families = map[string]gcsim.FaultSpec{genesys.FamilyQueues: {ErrorRate: 1, RetryAfter: gcsim.Duration(2 * time.Second)}}
		tg := simulator(t, p)
		pool := tg.NewPool(auth.Config{})
		c := tg.NewClient(api.Config{Tokens: pool, Rand: func() float64 { return 0 }, Retry: api.RetryPolicy{MaxAttempts: 3, Jitter: -1}})
		start := time.Now()
		resp, err := c.GetJSON(t.Context(), "/api/v2/routing/queues", nil)
		var se *api.StatusError
		if !errorsAs(err, &se) {
			t.Fatalf("err = %v, want *api.StatusError", err)
		}
		r := resp.Result
		if resp.Status != 503 || r.Attempts != 3 || r.Outcome != result.ServerError || time.Since(start) != 4*time.Second {
			t.Errorf("status %d, Result %+v after %v; want 503 after 3 attempts and 2×2s", resp.Status, r, time.Since(start))
		}
		if resp.Header.Get("Retry-After") != "2" || resp.Header.Get("ININ-Correlation-Id") == "" || resp.Header.Get("ININ-Correlation-Id") != r.CorrelationID {
			t.Errorf("headers %v, CorrelationID %q", resp.Header, r.CorrelationID)
		}
		if !strings.Contains(string(resp.Body), `"status":503`) || !strings.Contains(string(resp.Body), `"code"`) {
			t.Errorf("body = %s; want the ErrorBody", resp.Body)
		}
		var n503 int64
		for _, s := range tg.Sim.Stats().Requests {
			if s.Status == 503 && s.Route == "/api/v2/routing/queues" {
				n503 += s.Count
			}
		}
		if n503 != 3 {
			t.Errorf("simulator served %d 503s, want 3", n503)
		}
	})
}

// Concurrent use of a pool creates each token once at the simulator, and
// refreshes each once ahead of expiry.
func TestAcceptancePoolRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		for i := range p.Clients {
			p.Clients[i].AccessTokenValiditySeconds = 600
		}
		tg := simulator(t, p)
		pool := tg.NewPool(auth.Config{Policy: auth.PerClient, TokensPerClient: 3, RefreshMargin: time.Minute, RefreshJitter: -1})
		c := tg.NewClient(api.Config{Tokens: pool, Agents: 30, Limits: tg.ObserveLimits()})
		tokens := func() (n int64) {
			for _, v := range tg.Sim.Stats().Tokens {
				n += v
			}
			return n
		}
		run := func() {
			var wg sync.WaitGroup
			for a := range 30 {
				wg.Go(func() {
					for range 5 {
						if resp, err := c.Agent(a).Do(t.Context(), queues(0)); err != nil || resp.Status != 200 {
							t.Errorf("agent %d: %v", a, err)
						}
					}
				})
			}
			wg.Wait()
		}
		run()
		if got := tokens(); got != 6 {
			t.Errorf("tokens created = %d, want 6 (2 clients × 3)", got)
		}
		time.Sleep(545 * time.Second) // past expiry − margin
		run()
		if got := tokens(); got != 12 {
			t.Errorf("tokens created after refresh = %d, want 12", got)
		}
		if s := pool.Stats(); s.Created != 12 || s.Failures != 0 {
			t.Errorf("pool Stats = %+v", s)
		}
	})
}

// A revoked token gets a 401; the client refreshes it once and retries.
func TestAcceptanceUnauthorizedRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := simulator(t, nil)
		pool := tg.NewPool(auth.Config{})
		c := tg.NewClient(api.Config{Tokens: pool})
		if resp, err := c.Do(t.Context(), &api.Request{Method: "DELETE", Route: "/api/v2/tokens/me"}); err != nil || resp.Status/100 != 2 {
			t.Fatalf("revoke: %v %v", resp.Status, err)
		}
		resp, err := c.Do(t.Context(), queues(0))
		if err != nil || resp.Status != 200 || resp.Result.Attempts != 2 {
			t.Errorf("after revocation: status %d, attempts %d, %v; want 200 after 2", resp.Status, resp.Result.Attempts, err)
		}
		if s := pool.Stats(); s.Created != 2 {
			t.Errorf("tokens created = %d, want 2", s.Created)
		}
	})
}

func errorsAs(err error, target **api.StatusError) bool {
	se, ok := err.(*api.StatusError)
	if ok {
		*target = se
	}
	return ok
}

var _ = context.Background
var _ = http.StatusOK

// A notification channel's REST calls (create, subscribe) go through the
// target's API client: on a tenant the guard's budget counts them, with the
// WebSocket dial, and the recorder records them as operations.
func TestAcceptanceChannelCountedByGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := gcsim.NewUnstartedServer(nil)
		sim.Listener.Close()
		sim.Listener = gcsim.NewPipeListener()
		sim.Start()
		defer sim.Close()
		e := tenantEnv(map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": "sim-client", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "sim-secret"})
		tg := harness.NewTarget(t, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim))
		tg.Start(harness.Plan{Agents: 1, Rate: 1, Duration: 10 * time.Second})
		rec := tg.NewRecorder()
		client := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{}), Recorder: rec})
		before := tg.Guard.Used() // the limits API read by NewClient
		c, err := notify.Open(tg.Context(), notify.Options{
			API: client, Gate: tg.Guard, Topics: []string{"v2.users." + gcsim.UserID(0) + ".presence"},
			Dialer: &websocket.Dialer{NetDialContext: sim.DialContext}, PingInterval: -1,
		})
		if err != nil {
			t.Fatalf("notify.Open: %v", err)
		}
		c.Close()
		if got := tg.Guard.Used() - before; got != 3 {
			t.Errorf("the guard counted %d requests for one channel, want 3 (create, subscribe, WebSocket dial)", got)
		}
		doc := rec.Snapshot()
		for _, op := range []string{notify.OpChannelCreate, notify.OpChannelSubscribe} {
			if o := doc.Op(op); o == nil || o.Count != 1 || o.Outcome(result.OK) != 1 {
				t.Errorf("recorded %s: %+v, want 1 ok", op, o)
			}
		}
	})
}

// Open assembles a run without a testing.TB: the embedded simulator is
// started and Close stops it; the recorder is named by WithName.
func TestOpenWithoutTest(t *testing.T) {
	var logs []string
	tg, err := harness.Open(context.Background(), harness.WithGetenv(noEnv), harness.WithName("soak"),
		harness.WithLogf(func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	url := tg.APIBase()
	if err := tg.Begin(harness.Plan{Agents: 1, Rate: 1, Duration: time.Second}); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	pool, err := tg.Pool(auth.Config{})
	if err != nil {
		t.Fatalf("Pool: %v", err)
	}
	rec := tg.NewRecorder()
	c, err := tg.Client(api.Config{Tokens: pool, Recorder: rec})
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	if _, err := c.Do(tg.Context(), queues(0)); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if doc := rec.Snapshot(); doc.Scenario != "soak" || doc.Target.Kind != harness.KindSimulator {
		t.Errorf("document scenario %q target %+v, want soak on the simulator", doc.Scenario, doc.Target)
	}
	if err := tg.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if tg.Context().Err() == nil {
		t.Errorf("Context not ended by Close")
	}
	if _, err := http.Get(url + "/api/v2/routing/queues"); err == nil {
		t.Errorf("the simulator at %s still answers after Close", url)
	}
	if len(logs) == 0 || !strings.Contains(logs[0], "cxload target: simulator at") {
		t.Errorf("logs %q, want the target's choice first", logs)
	}

	// A refused configuration is an error, not a panic or an exit.
	_, err = harness.Open(context.Background(), harness.WithGetenv(env(map[string]string{"CXLOAD_TARGET": "bogus"})))
	if err == nil || !strings.Contains(err.Error(), "CXLOAD_TARGET") {
		t.Errorf("Open(CXLOAD_TARGET=bogus) = %v, want the variable named", err)
	}
}

// CXLOAD_SIM_URL targets a simulator already running on this machine: its
// clients, limits and faults are reached at that URL; the recorder's target
// is "simulator".
func TestOpenExternalSimulator(t *testing.T) {
	sim := gcsim.NewServer(nil)
	defer sim.Close()
	tg := harness.NewTarget(t, harness.WithGetenv(env(map[string]string{"CXLOAD_SIM_URL": sim.URL() + "/"})))
	if tg.Kind() != harness.KindExternal || tg.Sim != nil || tg.APIBase() != sim.URL() {
		t.Fatalf("target %v kind %s API %s, want the external simulator at %s", tg, tg.Kind(), tg.APIBase(), sim.URL())
	}
	rec := tg.NewRecorder()
	c := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{}), Recorder: rec, Retry: api.RetryPolicy{MaxAttempts: 1}})
	if _, err := c.Do(tg.Context(), queues(0)); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if got := sim.Stats().Requests; len(got) == 0 {
		t.Errorf("the external simulator saw no request")
	}
	if err := tg.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{genesys.FamilyQueues: {ErrorRate: 1}}}); err != nil {
		t.Fatalf("SetFaults: %v", err)
	}
	resp, _ := c.Do(tg.Context(), &api.Request{Op: "queues.list", Route: "/api/v2/routing/queues"})
	if resp == nil || resp.Status < 500 {
		t.Errorf("after SetFaults: %v, want a 5xx from the external simulator", resp)
	}
	if doc := rec.Snapshot(); doc.Target.Kind != harness.KindSimulator {
		t.Errorf("document target %+v, want simulator", doc.Target)
	}

	// Nothing but loopback.
	_, err := harness.Open(context.Background(), harness.WithGetenv(env(map[string]string{"CXLOAD_SIM_URL": "http://192.0.2.1:8080"})))
	if err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("Open(CXLOAD_SIM_URL off this machine) = %v, want refused as not loopback", err)
	}
}

// With CXLOAD_SHARD the target's limiter holds this shard's part of the
// shared limits, and the recorder carries the shard and CXLOAD_LABELS (less
// a "shard" label); WithTimeScale divides the simulator's windows.
func TestTargetShardLabelsTimeScale(t *testing.T) {
	tg := harness.NewTarget(t, harness.WithGetenv(env(map[string]string{"CXLOAD_SHARD": "2/4", "CXLOAD_LABELS": "cell=a,shard=9", "CXLOAD_RUN_ID": "run-7"})),
		harness.WithPipe(), harness.WithTimeScale(10))
	whole := map[string]api.Bucket{}
	for _, b := range tg.Buckets() {
		whole[b.Key] = b
	}
	for _, b := range tg.NewLimits().Buckets() {
		w, ok := whole[b.Key]
		if !ok {
			continue
		}
		want := w.Allowed
		if b.Scope != genesys.ScopeToken {
			want = max(1, (w.Allowed+2)/4) // shard 2 of 4 gets ⌊A/4⌋, plus one if 2 ≤ A mod 4
			if w.Allowed%4 < 2 {
				want = max(1, w.Allowed/4)
			}
		}
		if b.Allowed != want {
			t.Errorf("bucket %s (%s): shard 2/4 gets %d of %d, want %d", b.Key, b.Scope, b.Allowed, w.Allowed, want)
		}
	}
	for _, l := range tg.Profile().Limits {
		real := findLimit(tg.ProfileUnscaled(), l.Key)
		if want := (real / 10).Round(time.Millisecond); l.Window.Std() != want {
			t.Errorf("limit %s: served window %v, want %v ÷ 10", l.Key, l.Window.Std(), real)
		}
	}
	doc := tg.NewRecorder().Snapshot()
	if doc.Shard != "2/4" || doc.Run != "run-7" || doc.Labels["cell"] != "a" || doc.Labels["shard"] != "" {
		t.Errorf("document shard %q run %q labels %v, want 2/4, run-7 and cell=a without shard", doc.Shard, doc.Run, doc.Labels)
	}
}

func findLimit(p *gcsim.Profile, key string) time.Duration {
	for _, l := range p.Limits {
		if l.Key == key {
			return l.Window.Std()
		}
	}
	return 0
}

// HTTPClient is for requests made outside api.Client: on a tenant the guard
// admits and counts every attempt, and refuses them once the budget is spent.
func TestHTTPClientChargesGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := gcsim.NewUnstartedServer(nil)
		sim.Listener.Close()
		sim.Listener = gcsim.NewPipeListener()
		sim.Start()
		defer sim.Close()
		e := tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "2"})
		out, _ := capture(t, func(tb testing.TB) {
			tg := harness.NewTarget(tb, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim))
			hc := tg.HTTPClient()
			for i := range 3 {
				resp, err := hc.Get(tg.APIBase() + "/api/v2/routing/queues")
				if err == nil {
					resp.Body.Close()
				}
				if i < 2 && (err != nil || resp.StatusCode != http.StatusUnauthorized) {
					t.Errorf("request %d: %v, %v; want the server's 401 (no token)", i+1, resp, err)
				}
				if i == 2 && err == nil {
					t.Errorf("request 3 over a budget of 2 was sent")
				}
			}
			if got := tg.Guard.Used(); got != 2 {
				t.Errorf("the guard counted %d requests, want 2", got)
			}
		})
		_ = out
	})
}
