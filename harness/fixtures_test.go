package harness_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
)

// syncBuffer is a request log the simulator may write from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// standIn starts a simulator on loopback with agents users, logging its
// requests, to stand in for a tenant.
func standIn(t *testing.T, agents int) (*gcsim.Server, *syncBuffer) {
	t.Helper()
	p := gcsim.DefaultProfile()
	p.Directory.Agents = agents
	sim := gcsim.NewUnstartedServer(p)
	log := &syncBuffer{}
	sim.RequestLog = log
	sim.Start()
	t.Cleanup(sim.Close)
	return sim, log
}

// standInEnv is a tenant configuration for the stand-in: its client,
// outside-window runs allowed (the clock is the machine's), changes applied.
func standInEnv(changes map[string]string) map[string]string {
	base := map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": "sim-client", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "sim-secret",
		harness.EnvAllowOutsideWindow: "1"}
	for k, v := range changes {
		base[k] = v
	}
	return tenantEnv(base)
}

func requests(sim *gcsim.Server) int64 {
	var n int64
	for _, r := range sim.Stats().Requests {
		n += r.Count
	}
	return n
}

// On a tenant, a scenario that acts on users refuses to open without
// CXLOAD_USERS, naming it and how to write it, before any request: the
// stand-in tenant sees none. A read-only scenario opens.
func TestTenantRefusesWithoutUsers(t *testing.T) {
	sim, _ := standIn(t, 5)
	e := standInEnv(map[string]string{harness.EnvUsers: "<unset>"})
	var refused logLines
	tg, err := harness.Open(t.Context(), harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim), harness.WithLogf(refused.logf))
	if err == nil {
		tg.Close()
		t.Fatal("Open on a tenant without CXLOAD_USERS: no error, want a refusal")
	}
	// A refused Open sent nothing and has nothing to restore: no restore
	// line, which would print before the refusal the caller reports.
	if strings.Contains(refused.String(), "cxload restore:") {
		t.Errorf("log of a refused Open:\n%s\nwant no restore line", refused.String())
	}
	for _, want := range []string{harness.EnvUsers + " is not set", "one per line", "group:<groupId>"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open without %s: %v; want it to contain %q", harness.EnvUsers, err, want)
		}
	}
	if n := requests(sim); n != 0 {
		t.Errorf("the stand-in tenant got %d requests before the refusal, want 0", n)
	}
	// Without a stand-in: the refusal comes from Open itself, which has
	// opened no connection (it has no simulator to dial).
	if _, err := harness.Open(t.Context(), harness.WithGetenv(env(e)), harness.WithLogf(t.Logf)); err == nil || !strings.Contains(err.Error(), harness.EnvUsers) {
		t.Errorf("Open on eu-west-1 without %s = %v, want a refusal naming it", harness.EnvUsers, err)
	}
	var lines logLines
	ro := harness.NewTarget(t, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim), harness.WithReadOnly(), harness.WithLogf(lines.logf))
	if ro.Guard == nil {
		t.Fatal("read-only target on a tenant has no guard")
	}
	// A tenant run ends with a line saying what was restored, a read-only one too.
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "cxload restore: a read-only scenario: nothing recorded, nothing to restore"; !strings.Contains(lines.String(), want) {
		t.Errorf("log of a read-only tenant run:\n%s\nwant the line %q", lines.String(), want)
	}
}

// openStandIn opens a tenant target on sim, starts it and returns it with
// an API client whose pool and client go through the guard.
func openStandIn(t *testing.T, sim *gcsim.Server, e map[string]string, opts ...harness.Option) (*harness.Target, *api.Client) {
	t.Helper()
	tg := harness.NewTarget(t, append([]harness.Option{harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim)}, opts...)...)
	tg.Start(harness.Plan{Agents: 2, Rate: 1, Duration: 10 * time.Second})
	return tg, tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{}), Limits: tg.ObserveLimits()})
}

func setPresence(ctx context.Context, c *api.Client, sim *gcsim.Server, user string) error {
	_, err := c.SendJSON(ctx, http.MethodPatch, "/api/v2/users/{id}/presences/{source}",
		map[string]any{"presenceDefinition": map[string]string{"id": sim.PresenceDefinitions()[0].ID}}, nil, user, "PURECLOUD")
	return err
}

// A scenario-like run with 2 fixture users (one by id, one by email) in a
// 50-user directory loads exactly those 2 and changes only them; asking for
// 3 is refused, naming CXLOAD_USERS.
func TestTenantFixtureUsersOnly(t *testing.T) {
	sim, log := standIn(t, 50)
	byID, byEmail := gcsim.UserID(17), sim.Users()[31]
	file := writeFile(t, "users.txt", "# test users\n"+byID+"\n\n"+strings.ToUpper(byEmail.Email)+"\n")
	e := standInEnv(map[string]string{harness.EnvUsers: file, harness.EnvAllowWrites: "presence"})
	tg, c := openStandIn(t, sim, e)
	ctx := t.Context()

	if _, err := tg.Users(ctx, c, 3); err == nil || !strings.Contains(err.Error(), harness.EnvUsers+"="+file+" holds 2 test user(s), the scenario needs 3") {
		t.Errorf("Users(3) with 2 fixture users = %v, want a refusal naming %s", err, harness.EnvUsers)
	}
	users, err := tg.Users(ctx, c, 2)
	if err != nil {
		t.Fatalf("Users(2): %v", err)
	}
	if got := []string{users[0].ID, users[1].ID}; !slices.Equal(got, []string{byID, byEmail.ID}) {
		t.Fatalf("Users(2) = %v, want the fixture users [%s %s]", got, byID, byEmail.ID)
	}
	for _, u := range users {
		if err := setPresence(ctx, c, sim, u.ID); err != nil {
			t.Fatalf("presence of fixture user %s: %v", u.ID, err)
		}
	}
	var touched []string
	for _, l := range log.lines() {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] != http.MethodGet && strings.HasPrefix(f[2], "/api/v2/users/") {
			touched = append(touched, strings.Split(f[2], "/")[4])
		}
	}
	if want := []string{byID, byEmail.ID}; !slices.Equal(touched, want) {
		t.Errorf("users written on the stand-in: %v, want only the fixture users %v", touched, want)
	}
}

// Writes need consent: without CXLOAD_ALLOW_WRITES a presence change is
// refused before it is sent, naming the variable and the value to set;
// with it, it is sent. Calls go only to fixture users or call targets; a
// write cxload has no kind for is never sent; a read-only scenario sends no
// write whatever is allowed.
func TestTenantWriteConsent(t *testing.T) {
	sim, _ := standIn(t, 5)
	ctx := t.Context()
	patches := func() int64 {
		var n int64
		for _, r := range sim.Stats().Requests {
			if r.Method != http.MethodGet {
				n += r.Count
			}
		}
		return n
	}

	_, c := openStandIn(t, sim, standInEnv(nil))
	err := setPresence(ctx, c, sim, gcsim.UserID(0))
	if err == nil || !strings.Contains(err.Error(), harness.EnvAllowWrites+"=presence to let this run change presence") {
		t.Errorf("presence without consent: %v, want a refusal naming %s=presence", err, harness.EnvAllowWrites)
	}
	if n := patches(); n != 0 {
		t.Errorf("refused writes: the stand-in got %d non-GET requests, want 0", n)
	}
	// The HTTP client the target hands out refuses it too.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, "http://x/api/v2/users/"+gcsim.UserID(0)+"/presences/PURECLOUD", strings.NewReader("{}"))
	if resp, err := harness.NewTarget(t, harness.WithGetenv(env(standInEnv(nil))), harness.WithTenantStandIn(sim)).HTTPClient().Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("presence through Target.HTTPClient without consent: sent (%d), want a refusal", resp.StatusCode)
	} else if !strings.Contains(err.Error(), harness.EnvAllowWrites) {
		t.Errorf("presence through Target.HTTPClient without consent: %v, want it to name %s", err, harness.EnvAllowWrites)
	}

	_, c = openStandIn(t, sim, standInEnv(map[string]string{harness.EnvAllowWrites: "routing,presence", harness.EnvCallTargets: "+15550100"}))
	if err := setPresence(ctx, c, sim, gcsim.UserID(0)); err != nil {
		t.Errorf("presence with %s=routing,presence: %v", harness.EnvAllowWrites, err)
	}
	if _, err := c.SendJSON(ctx, http.MethodPost, "/api/v2/conversations/calls", map[string]string{"phoneNumber": "+15550100"}, nil); err == nil ||
		!strings.Contains(err.Error(), harness.EnvAllowWrites+"=presence,routing,calls") {
		t.Errorf("a call without calls allowed: %v, want a refusal naming %s=presence,routing,calls", err, harness.EnvAllowWrites)
	}
	if _, err := c.Do(ctx, &api.Request{Method: http.MethodDelete, Route: "/api/v2/users/{id}", Params: []string{gcsim.UserID(1)}}); err == nil ||
		!strings.Contains(err.Error(), "no write kind") {
		t.Errorf("DELETE of a user: %v, want a refusal (no write kind)", err)
	}

	tg, c := openStandIn(t, sim, standInEnv(map[string]string{harness.EnvAllowWrites: "calls", harness.EnvUsers: writeFile(t, "u", gcsim.UserID(2)),
		harness.EnvCallTargets: "+15550100"}))
	if _, err := c.SendJSON(ctx, http.MethodPost, "/api/v2/conversations/calls", map[string]string{"callUserId": gcsim.UserID(2)}, nil); err == nil ||
		!strings.Contains(err.Error(), harness.EnvCallTargets) {
		t.Errorf("a call to a user before Users loaded them: %v, want a refusal naming %s", err, harness.EnvCallTargets)
	}
	if _, err := tg.Users(ctx, c, 1); err != nil {
		t.Fatal(err)
	}
	for _, body := range []map[string]string{{"callUserId": gcsim.UserID(3)}, {"phoneNumber": "+15550199"}} {
		if _, err := c.SendJSON(ctx, http.MethodPost, "/api/v2/conversations/calls", body, nil); err == nil || !strings.Contains(err.Error(), "neither a fixture user") {
			t.Errorf("a call to %v (not a fixture): %v, want a refusal", body, err)
		}
	}
	before := patches()
	if _, err := c.SendJSON(ctx, http.MethodPost, "/api/v2/conversations/calls", map[string]string{"phoneNumber": "+15550100"}, nil); err != nil && strings.Contains(err.Error(), "guard") {
		t.Errorf("a call to a call target: refused by the guard: %v", err)
	}
	if patches() == before {
		t.Errorf("a call to a call target was not sent")
	}

	_, c = openStandIn(t, sim, standInEnv(map[string]string{harness.EnvAllowWrites: "presence"}), harness.WithReadOnly())
	if err := setPresence(ctx, c, sim, gcsim.UserID(0)); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("presence in a read-only scenario: %v, want a refusal", err)
	}
}

// One budget covers the whole run: two targets opened in one process on
// the same tenant configuration share it, and token requests count.
func TestTenantOneBudgetPerRun(t *testing.T) {
	sim, _ := standIn(t, 5)
	ctx := t.Context()
	e := standInEnv(map[string]string{harness.EnvRequestBudget: "6"})
	var lines []string
	logf := func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	open := func() *harness.Target {
		// Open, not NewTarget: a guard stopped by the spent budget is the
		// point here, not a failure at cleanup.
		tg, err := harness.Open(ctx, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim), harness.WithLogf(logf))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tg.Close() })
		if err := tg.Begin(harness.Plan{Agents: 1, Requests: 1}); err != nil {
			t.Fatal(err)
		}
		return tg
	}
	a := open()
	pool, err := a.Pool(auth.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Token(ctx, 0); err != nil {
		t.Fatalf("token: %v", err)
	}
	if got := a.Guard.Used(); got != 1 {
		t.Errorf("after one token request the guard counted %d, want 1", got)
	}
	client, err := a.Client(api.Config{Tokens: pool, Limits: a.ObserveLimits()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetJSON(ctx, "/api/v2/routing/queues", nil); err != nil {
		t.Fatalf("GET queues: %v", err)
	}
	used := a.Guard.Used()
	b := open()
	if got := b.Guard.Used(); got != used {
		t.Errorf("a second target of the run starts at %d used, want the first's %d", got, used)
	}
	if !strings.Contains(lines[len(lines)-1], fmt.Sprintf("budget 6 requests for the whole run, %d used by earlier scenarios", used)) {
		t.Errorf("second plan line %q, want it to say %d of the budget are used", lines[len(lines)-1], used)
	}
	hc := b.HTTPClient()
	sent := 0
	for range 10 {
		resp, err := hc.Get(b.APIBase() + "/api/v2/routing/queues")
		if err != nil {
			break
		}
		resp.Body.Close()
		sent++
	}
	if want := 6 - int(used); sent != want {
		t.Errorf("the second target sent %d requests, want the %d left of the run's budget of 6", sent, want)
	}
	sim.Close() // waits for its handlers: a request's count lands after its answer
	if got := requests(sim); got != 6 {
		t.Errorf("the stand-in got %d requests, want 6 (the run's budget)", got)
	}
	third, err := harness.Open(ctx, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim), harness.WithLogf(logf))
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if err := third.Begin(harness.Plan{Requests: 1}); err == nil || !strings.Contains(err.Error(), "used by earlier scenarios of this run, 0 left") {
		t.Errorf("a third scenario's plan once the run's budget is spent: %v, want a refusal", err)
	}
}

// The fixture variables are read by ResolveTarget; each problem names the
// variable and the fix.
func TestResolveFixtures(t *testing.T) {
	list := writeFile(t, "users.txt", "# ids or emails\nu-1\n\nagent@example.com\n")
	array := writeFile(t, "users.json", `["u-1", {"email": "agent@example.com"}, {"id": "u-3"}]`)
	queues := writeFile(t, "queues.txt", "Queue A\nq-2\n")
	for _, c := range []struct {
		name  string
		env   map[string]string
		users []string
		errs  []string
		check func(harness.Fixtures) string
	}{
		// One per line, comments and blank lines skipped.
		{name: "users list", env: map[string]string{harness.EnvUsers: list}, users: []string{"u-1", "agent@example.com"}},
		// A JSON array of strings or objects.
		{name: "users array", env: map[string]string{harness.EnvUsers: array}, users: []string{"u-1", "agent@example.com", "u-3"}},
		{name: "users missing", env: map[string]string{harness.EnvUsers: "/nonexistent/users.txt"}, errs: []string{`CXLOAD_USERS="/nonexistent/users.txt": cannot read`}},
		{name: "users two per line", env: map[string]string{harness.EnvUsers: writeFile(t, "bad.txt", "u-1 u-2\n")}, errs: []string{"bad.txt:1", "one user id or email per line"}},
		{name: "users empty", env: map[string]string{harness.EnvUsers: writeFile(t, "empty.txt", "# none\n")}, errs: []string{"the file lists no user"}},
		{name: "users bad group", env: map[string]string{harness.EnvUsers: "group:"}, errs: []string{"want group:<groupId>"}},
		{name: "writes all", env: map[string]string{harness.EnvAllowWrites: "all"}, errs: []string{`CXLOAD_ALLOW_WRITES="all": name each write kind`}},
		{name: "writes typo", env: map[string]string{harness.EnvAllowWrites: "presense"}, errs: []string{`unknown write kind "presense"`}},
		{name: "storm bad", env: map[string]string{harness.EnvAllowStorm: "maybe"}, errs: []string{`CXLOAD_ALLOW_STORM="maybe": want 1`}},
		{name: "writes, queues, targets, storm", env: map[string]string{harness.EnvAllowWrites: "calls, Presence,calls", harness.EnvQueues: queues,
			harness.EnvCallTargets: "+15550100, u-9", harness.EnvAllowStorm: "1"}, check: func(f harness.Fixtures) string {
			if want := "{[presence calls] [Queue A q-2] [+15550100 u-9] true}"; fmt.Sprint("{", f.Writes, " ", f.Queues, " ", f.CallTargets, " ", f.Storm, "}") != want {
				return fmt.Sprintf("%+v, want %s", f, want)
			}
			return ""
		}},
		{name: "queues inline", env: map[string]string{harness.EnvQueues: "q-1,,Queue B"}, check: func(f harness.Fixtures) string {
			if !slices.Equal(f.Queues, []string{"q-1", "Queue B"}) {
				return fmt.Sprintf("queues %q, want [q-1 Queue B]", f.Queues)
			}
			return ""
		}},
		// Tenant-only: refused on the simulator like the approval.
		{name: "users on simulator", env: map[string]string{harness.EnvTarget: "simulator", harness.EnvApproval: "<unset>", harness.EnvRequestBudget: "<unset>",
			harness.EnvUsers: list}, errs: []string{"CXLOAD_USERS is set but the target is the simulator"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := harness.ResolveTarget(env(tenantEnv(c.env)))
			if len(c.errs) == 0 && err != nil {
				t.Fatalf("ResolveTarget: %v", err)
			}
			for _, want := range c.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("ResolveTarget error %v, want it to contain %q", err, want)
				}
			}
			if c.users != nil && !slices.Equal(cfg.Guard.Fixtures.Users, c.users) {
				t.Errorf("Fixtures.Users = %q, want %q", cfg.Guard.Fixtures.Users, c.users)
			}
			if c.check != nil {
				if msg := c.check(cfg.Guard.Fixtures); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

// A run that acts on users is refused on a tenant without CXLOAD_USERS,
// naming it; a simulator, a rehearsal or a tenant with test users is not.
func TestUsersRequired(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	err := harness.UsersRequired(get(usersEnv(false)))
	if err == nil || !strings.Contains(err.Error(), "CXLOAD_USERS is not set") {
		t.Errorf("tenant without CXLOAD_USERS: %v, want a refusal naming CXLOAD_USERS", err)
	}
	for name, env := range map[string]map[string]string{
		"tenant with users": usersEnv(true),
		"simulator":         {},
		"rehearsal":         {harness.EnvRehearse: "1"},
	} {
		if err := harness.UsersRequired(get(env)); err != nil {
			t.Errorf("%s: %v, want nil", name, err)
		}
	}
}

func usersEnv(users bool) map[string]string {
	m := map[string]string{
		harness.EnvRegion: "eu-west-1", harness.EnvClientID: "client-a", harness.EnvClientSecret: "secret-a",
		harness.EnvApproval: "CS-1", harness.EnvRequestBudget: "100",
	}
	if users {
		m[harness.EnvUsers] = "group:test-users"
	}
	return m
}
