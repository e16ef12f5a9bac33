package harness_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/notify"
)

// logLines collects a target's log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// With CXLOAD_REHEARSE=1 a scenario runs as on a tenant against the strict
// stand-in: guarded, over TLS and HTTP/2 by its host names, fixture users
// with SAML2-bearer user tokens, the limits listing read in its other
// shape, edge 429s survived, a notification channel on the streaming host,
// and no request naming a user outside the fixture.
func TestRehearsal(t *testing.T) {
	for _, v := range harness.Variables() {
		t.Setenv(v, "")
	}
	t.Setenv(harness.EnvRehearse, "1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:9") // an escape would fail here, not leave the machine
	var log logLines
	tg, err := harness.Open(t.Context(), harness.WithAgents(3), harness.WithLogf(log.logf), harness.WithName("rehearsal"))
	if err != nil {
		t.Fatalf("Open with %s=1: %v", harness.EnvRehearse, err)
	}
	defer func() {
		if err := tg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	sim := tg.Rehearsal()
	if tg.Kind() != harness.KindTenant || tg.Guard == nil || sim == nil {
		t.Fatalf("rehearsal target: kind %s, guard %v, stand-in %v; want a guarded tenant on the stand-in", tg.Kind(), tg.Guard != nil, sim != nil)
	}
	if got, want := tg.APIBase(), "https://api."+gcsim.DefaultTenantDomain; got != want {
		t.Errorf("APIBase() = %q, want %q", got, want)
	}
	if err := tg.Begin(harness.Plan{Agents: 3, Rate: 50, Duration: 10 * time.Second}); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	pool, err := tg.Pool(auth.Config{Policy: auth.PerAgent})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tg.Client(api.Config{Tokens: pool, Agents: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s := log.String(); strings.Contains(s, "could not read the organization's limits") {
		t.Errorf("the limits listing in the stand-in's shape was not read:\n%s", s)
	}
	ctx := tg.Context()
	users, err := tg.Users(ctx, c, 3)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	fixture := tg.FixtureUsers()
	for i, u := range users {
		if u.ID != fixture[i] {
			t.Errorf("Users()[%d] = %s, want fixture user %s", i, u.ID, fixture[i])
		}
	}
	// Agent k's token is user k's (SAML2 bearer): users/me answers them.
	for k := range 3 {
		var me struct{ ID string }
		if _, err := c.Agent(k).GetJSON(ctx, "/api/v2/users/me", &me); err != nil || me.ID != fixture[k] {
			t.Errorf("agent %d: users/me = %q, %v; want %s", k, me.ID, err, fixture[k])
		}
	}
	// Past the edge's 429s: every request ends 200, none is fatal, and the
	// 429s are a limit with no name (no client-side pacing here: the three
	// user tokens' 900 a minute hold the loop).
	rec := tg.NewRecorder()
	fast, err := tg.Client(api.Config{Tokens: pool, Agents: 3, Limits: tg.ObserveLimits(), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2*gcsim.DefaultEdge429Every + 10 {
		var page struct{}
		if _, err := fast.Agent(i%3).GetJSON(ctx, "/api/v2/users/{id}", &page, fixture[i%3]); err != nil {
			t.Fatalf("request %d after %d edge 429s: %v", i, sim.Edge429s(), err)
		}
	}
	if n := sim.Edge429s(); n < 2 {
		t.Errorf("Edge429s() = %d, want at least 2", n)
	}
	var edge int64
	for _, o := range rec.Snapshot().RateLimits {
		if o.Key == api.UnnamedLimit {
			edge += o.Rejected
		}
	}
	if edge < 2 {
		t.Errorf("edge 429s counted under an unnamed limit = %d, want at least 2", edge)
	}
	// A notification channel: created on the api host, dialled on the
	// streaming host through the same dialer and roots.
	cl, err := notify.Open(ctx, notify.Options{API: c.Agent(0), Gate: tg.Guard, Topics: []string{"v2.users." + fixture[0] + ".presence"}})
	if err != nil {
		t.Fatalf("notify.Open on the stand-in: %v", err)
	}
	cl.Close()

	reqs := sim.TenantRequests()
	hosts := map[string]bool{}
	protos := map[string]int{}
	for _, r := range reqs {
		hosts[r.Host] = true
		if r.Host == "api."+gcsim.DefaultTenantDomain {
			protos[r.Proto]++
		}
		for _, o := range sim.Users()[:harness.RehearsalOutsiders] {
			if strings.Contains(r.Path, o.ID) || strings.Contains(r.Body, o.ID) {
				t.Errorf("%s %s %s names %s, a user outside the fixture", r.Method, r.Path, r.Body, o.ID)
			}
		}
	}
	for _, h := range []string{"login.", "api.", "streaming."} {
		if !hosts[h+gcsim.DefaultTenantDomain] {
			t.Errorf("the stand-in saw no request on %s%s; hosts seen %v", h, gcsim.DefaultTenantDomain, hosts)
		}
	}
	if protos["HTTP/2.0"] == 0 || protos["HTTP/1.1"] > 0 {
		t.Errorf("api host protocols = %v, want HTTP/2.0 only", protos)
	}
	if !slices.ContainsFunc(strings.Split(log.String(), "\n"), func(l string) bool {
		return strings.Contains(l, "cxload rehearsal:") && strings.Contains(l, harness.EnvAllowWrites+"="+harness.RehearsalWrites)
	}) {
		t.Errorf("the rehearsal did not print the consent it sets:\n%s", log.String())
	}
}
