package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
)

// Target is what a scenario runs against: the embedded simulator or a real
// tenant. Get one with NewTarget.
type Target struct {
	// Config is the resolved configuration (String redacts secrets).
	Config Config
	// Sim is the embedded simulator, nil for a tenant.
	Sim *gcsim.Server
	// Guard is the production guard, nil for the simulator.
	Guard *Guard

	t       testing.TB
	now     func() time.Time
	profile *gcsim.Profile
	started bool
	dial    *gcsim.Server // where connections go: Sim, or a tenant's stand-in
}

// Option configures NewTarget.
type Option func(*options)

type options struct {
	getenv  func(string) string
	now     func() time.Time
	profile *gcsim.Profile
	pipe    bool
	standIn *gcsim.Server
	agents  int
}

// WithGetenv replaces os.Getenv (tests of the configuration use it).
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// WithNow sets the guard's clock (default time.Now).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithProfile makes the embedded simulator use p (it wins over CXLOAD_PROFILE).
func WithProfile(p *gcsim.Profile) Option { return func(o *options) { o.profile = p } }

// WithAgents says how many agents the scenario needs from the embedded
// simulator's directory. The default profile grows to hold them (it has
// gcsim.DefaultAgents users otherwise); a profile from CXLOAD_PROFILE or
// WithProfile that holds fewer fails the test, naming directory.agents and
// the value needed. A tenant's directory is what it is: the option does
// nothing there.
func WithAgents(n int) Option { return func(o *options) { o.agents = n } }

// WithPipe serves the embedded simulator over in-memory pipes instead of a
// loopback port, so a scenario can run inside a testing/synctest bubble.
func WithPipe() Option { return func(o *options) { o.pipe = true } }

// WithTenantStandIn makes a tenant configuration talk to sim instead of the
// region's hosts: the guard, the plan, the budget and the limits API all
// work as for a tenant, and no real host is reached. Tests of the guarded
// path use it.
func WithTenantStandIn(sim *gcsim.Server) Option { return func(o *options) { o.standIn = sim } }

// NewTarget resolves the target from the environment (see ResolveTarget),
// prints the choice in one line and returns it. The simulator is started
// now and closed by t.Cleanup. A broken or half-set configuration, or a
// tenant outside its load-test window, fails the test with t.Fatal naming
// the variable and the fix. On a tenant, a run the guard stopped fails the
// test at cleanup with the guard's verdict.
func NewTarget(t testing.TB, opts ...Option) *Target {
	t.Helper()
	o := options{getenv: os.Getenv, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	cfg, err := ResolveTarget(o.getenv)
	if err != nil {
		t.Fatalf("cxload target: configuration refused:\n%v", err)
	}
	tg := &Target{Config: cfg, t: t, now: o.now}
	if cfg.Kind == KindTenant {
		tg.Guard = NewGuard(cfg.Guard, o.now, t.Logf)
		t.Cleanup(func() {
			if v := tg.Guard.Verdict(); v != "" {
				t.Errorf("cxload guard stopped the run: %s", v)
			}
			tg.Guard.Close()
		})
		if err := tg.Guard.Check(); err != nil {
			t.Fatalf("cxload target: tenant %s refused:\n%v", cfg.Region.Name, err)
		}
		if o.standIn != nil {
			cfg.APIBase, cfg.LoginBase = o.standIn.URL(), o.standIn.URL()
			cfg.Why += ", stand-in simulator"
			tg.Config, tg.dial = cfg, o.standIn
		}
		t.Logf("cxload target: tenant %s (%s), %d OAuth client(s), approval %s, budget %d requests, window %02d:00–%02d:00 %s (%s)",
			cfg.Region.Name, cfg.APIBase, len(cfg.Clients), cfg.Guard.Approval, cfg.Guard.Budget, WindowStart, WindowEnd, cfg.Guard.Location, cfg.Why)
		return tg
	}

	p := o.profile
	src := "default profile"
	if p == nil && cfg.Profile != "" {
		p, err = gcsim.LoadProfile(cfg.Profile)
		if err != nil {
			t.Fatalf("cxload target: %s=%q: %v", EnvProfile, cfg.Profile, err)
		}
		src = "profile " + cfg.Profile
	} else if p != nil {
		src = "profile from WithProfile"
	}
	if p == nil {
		p = gcsim.DefaultProfile()
		p.Directory.Agents = max(p.Directory.Agents, o.agents)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("cxload target: simulator %s: %v", src, err)
	}
	if err := p.Directory.CheckAgents(o.agents); err != nil {
		t.Fatalf("cxload target: simulator %s: %v", src, err)
	}
	cfg.Clients = nil
	for _, c := range p.Clients {
		cfg.Clients = append(cfg.Clients, auth.Credentials{ClientID: c.ID, Secret: string(c.Secret)})
	}
	tg.profile = p
	sim := gcsim.NewUnstartedServer(p)
	if o.pipe {
		sim.Listener.Close()
		sim.Listener = gcsim.NewPipeListener()
	}
	sim.Start()
	t.Cleanup(sim.Close)
	tg.Sim, tg.dial = sim, sim
	cfg.APIBase, cfg.LoginBase = sim.URL(), sim.URL()
	tg.Config = cfg
	ids := make([]string, len(cfg.Clients))
	for i, c := range cfg.Clients {
		ids[i] = c.ClientID
	}
	t.Logf("cxload target: simulator at %s, %s, clients %s (%s)", sim.URL(), src, strings.Join(ids, ", "), cfg.Why)
	return tg
}

// Kind returns KindSimulator or KindTenant.
func (tg *Target) Kind() string { return tg.Config.Kind }

// Region returns the tenant's region name, "" for the simulator.
func (tg *Target) Region() string { return tg.Config.Region.Name }

// APIBase returns the API base URL.
func (tg *Target) APIBase() string { return tg.Config.APIBase }

// TokenURL returns the OAuth token endpoint.
func (tg *Target) TokenURL() string { return tg.Config.LoginBase + "/oauth/token" }

// Profile returns the simulator's profile, nil for a tenant.
func (tg *Target) Profile() *gcsim.Profile { return tg.profile }

// Context returns a context that ends when the test ends or the guard stops
// the run. Scenarios pass it to their request loops.
func (tg *Target) Context() context.Context {
	ctx := tg.t.Context()
	if tg.Guard == nil {
		return ctx
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(tg.Guard.Context(), func() { cancel(context.Cause(tg.Guard.Context())) })
	tg.t.Cleanup(func() { stop(); cancel(nil) })
	return ctx
}

// Start prints the plan and, for a tenant, has the guard check it against
// the budget and the window; a refusal fails the test. Call it before the
// first request. For the simulator it only prints the plan.
func (tg *Target) Start(p Plan) {
	tg.t.Helper()
	tg.started = true
	if tg.Guard == nil {
		tg.t.Logf("cxload %s", p)
		return
	}
	if err := tg.Guard.Start(p); err != nil {
		tg.t.Fatalf("cxload guard refused to start:\n%v", err)
	}
}

// transport returns a transport sized for agents that reaches the target
// (through the simulator's pipe when it uses one).
func (tg *Target) transport(agents int) *http.Transport {
	tr := api.NewTransport(agents)
	if tg.dial != nil {
		tr.DialContext = api.TimedDial(tg.dial.DialContext)
		tr.Proxy = nil
	}
	return tr
}

// NewPool returns a token pool for the target's OAuth clients. Zero fields
// of cfg are filled in: TokenURL, Clients, HTTPClient, OnRefresh (failed
// token requests are logged with t.Logf, redacted) and, on the simulator,
// CreateLimit from the profile's token-creation limit.
func (tg *Target) NewPool(cfg auth.Config) *auth.Pool {
	tg.t.Helper()
	if cfg.TokenURL == "" {
		cfg.TokenURL = tg.TokenURL()
	}
	if cfg.Clients == nil {
		cfg.Clients = tg.Config.Clients
	}
	if cfg.HTTPClient == nil {
		tr := tg.transport(4)
		tg.t.Cleanup(tr.CloseIdleConnections)
		cfg.HTTPClient = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	if cfg.CreateLimit == 0 && tg.profile != nil {
		for _, l := range tg.profile.Limits {
			if l.Scope == genesys.ScopeClient && !l.Disabled && l.Allowed > 1 {
				cfg.CreateLimit = rate.Limit(float64(l.Allowed-1) / l.Window.Std().Seconds())
			}
		}
	}
	if cfg.OnRefresh == nil {
		t := tg.t
		cfg.OnRefresh = func(e auth.RefreshEvent) {
			if e.Err != nil {
				t.Logf("cxload auth: token %d (client %s), attempt %d failed: %v", e.Slot, e.ClientID, e.Attempt, e.Err)
			}
		}
	}
	p, err := auth.NewPool(cfg)
	if err != nil {
		tg.t.Fatalf("cxload target: %v", err)
	}
	return p
}

// Buckets returns the rate limits known in advance: the simulator profile's
// visible request limits for client-credentials tokens, or Genesys'
// documented defaults for a tenant (NewClient then updates them from the
// organization's limits API).
func (tg *Target) Buckets() []api.Bucket {
	if tg.profile == nil {
		return api.DefaultBuckets()
	}
	var out []api.Bucket
	for _, l := range tg.profile.Limits {
		if l.Disabled || l.Hidden || l.Scope == genesys.ScopeClient || l.Grant == "password" {
			continue
		}
		out = append(out, api.Bucket{Key: l.Key, Namespace: l.Namespace, Scope: l.Scope, Allowed: l.Allowed,
			Window: l.Window.Std(), Families: append([]string(nil), l.Families...), Source: "profile"})
	}
	return out
}

// KnownLimits returns Buckets for metrics.WithKnownLimits.
func (tg *Target) KnownLimits() []metrics.KnownLimit {
	var out []metrics.KnownLimit
	for _, b := range tg.Buckets() {
		out = append(out, metrics.KnownLimit{Key: b.Key, Namespace: b.Namespace, Scope: string(b.Scope), Allowed: b.Allowed, Window: b.Window})
	}
	return out
}

// NewLimits returns a client-side limiter seeded with Buckets.
func (tg *Target) NewLimits() *api.Limits {
	return api.NewLimits(genesys.Family, tg.Buckets()...)
}

// ObserveLimits returns api.ObserveLimits seeded with Buckets: no
// client-side limiting, 429s attributed to the target's limits.
func (tg *Target) ObserveLimits() *api.Limits {
	return api.ObserveLimits(genesys.Family, tg.Buckets()...)
}

// NewRecorder returns a metrics recorder labelled with the test's name and
// the target, knowing the target's limits.
func (tg *Target) NewRecorder(opts ...metrics.Option) *metrics.Recorder {
	base := []metrics.Option{metrics.WithScenario(tg.t.Name()), metrics.WithTarget(tg.Kind(), tg.Region()),
		metrics.WithKnownLimits(tg.KnownLimits()...)}
	return metrics.NewRecorder(append(base, opts...)...)
}

// NewClient returns an API client for the target. Zero fields of cfg are
// filled in: BaseURL; Dial (to the simulator's listener, unless HTTPClient
// is set: the client's own connections, at most cfg.Agents); Limits
// (tg.NewLimits(); pass tg.ObserveLimits() to send at full rate); Scrub
// (the pool's, when Tokens is an *auth.Pool). On a tenant the guard is
// always the Gate, Start must have been called, and the seeded limits are
// updated from the organization's limits API.
func (tg *Target) NewClient(cfg api.Config) *api.Client {
	tg.t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = tg.APIBase()
	}
	if cfg.HTTPClient == nil && cfg.Dial == nil && tg.dial != nil {
		cfg.Dial = tg.dial.DialContext // the simulator's listener (a pipe under synctest)
	}
	if p, ok := cfg.Tokens.(*auth.Pool); ok && cfg.Scrub == nil {
		cfg.Scrub = p.Scrub
	}
	seed := cfg.Limits == nil
	if seed {
		cfg.Limits = tg.NewLimits()
	}
	if tg.Guard != nil {
		if !tg.started {
			tg.t.Fatalf("cxload target: call Target.Start(plan) before NewClient on a tenant: the guard prints and checks the plan first")
		}
		cfg.Gate = tg.Guard
	}
	c, err := api.New(cfg)
	if err != nil {
		tg.t.Fatalf("cxload target: %v", err)
	}
	tg.t.Cleanup(c.Close)
	if tg.Guard != nil && seed {
		ctx, cancel := context.WithTimeout(tg.t.Context(), time.Minute)
		defer cancel()
		if got, err := api.FetchLimits(ctx, c); err != nil {
			tg.t.Logf("cxload target: could not read the organization's limits (%v); using Genesys' documented defaults", err)
		} else {
			cfg.Limits = api.NewLimits(genesys.Family, api.MergeBuckets(api.DefaultBuckets(), got)...)
			if c, err = api.New(cfg); err != nil {
				tg.t.Fatalf("cxload target: %v", err)
			}
			tg.t.Cleanup(c.Close)
		}
	}
	return c
}

// String describes the target without secrets.
func (tg *Target) String() string {
	if tg.Sim != nil {
		return fmt.Sprintf("harness.Target{simulator %s}", tg.Sim.URL())
	}
	return fmt.Sprintf("harness.Target{tenant %s %s}", tg.Config.Region.Name, tg.Config.APIBase)
}
