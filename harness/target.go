package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/telemetry"
)

// Target is what a run is assembled on: the embedded simulator, an external
// simulator on this machine, or a real tenant behind the guard. It hands out
// token pools, API clients and recorders wired to the target's known rate
// limits (this shard's part of them), and an HTTP client whose requests the
// guard counts. Get one with [Open], or [NewTarget] in a test.
type Target struct {
	// Config is the resolved configuration (String redacts secrets).
	Config Config
	// Sim is the embedded simulator, nil for an external one or a tenant.
	Sim *gcsim.Server
	// Guard is the production guard, nil for a simulator.
	Guard *Guard

	t       testing.TB // set by NewTarget: the Must-style methods fail it
	ctx     context.Context
	cancel  context.CancelCauseFunc
	logf    func(format string, args ...any)
	name    string
	now     func() time.Time
	profile *gcsim.Profile // as served (windows scaled); nil for a tenant
	real    *gcsim.Profile // the same before the windows were scaled
	scale   float64
	dial    *gcsim.Server // where connections go: Sim, or a tenant's stand-in
	reh     *rehearsal    // CXLOAD_REHEARSE=1: the stand-in and its fixture

	hcOnce sync.Once
	hc     *http.Client

	rec *recorder // what the run changes, restored at Close; nil when not recording
	// refused: Open refused the target, before any request; its Close
	// says nothing of a restore, so the refusal is the run's first word.
	refused bool

	otel *telemetry.Exporter // live export of its recorders (OTEL_*); nil when not configured

	mu      sync.Mutex
	started bool
	closers []func()
	closed  bool
}

// Option configures Open and NewTarget.
type Option func(*options)

type options struct {
	getenv  func(string) string
	now     func() time.Time
	logf    func(format string, args ...any)
	name    string
	profile *gcsim.Profile
	edit    func(*gcsim.Profile)
	pipe    bool
	wrap    func(http.Handler) http.Handler
	standIn *gcsim.Server
	agents  int
	scale   float64
	clients func(bs []api.Bucket) (n int, why string)
	// readOnly: the scenario sends no write (WithReadOnly).
	readOnly bool
}

// WithGetenv replaces os.Getenv (tests of the configuration use it).
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// WithNow sets the guard's clock (default time.Now).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogf sends the target's log lines (its choice, the guard's plan and
// verdict, failed token requests) to logf. Open's default is log.Printf;
// NewTarget's is t.Logf.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) { o.logf = logf }
}

// WithName names the run: NewRecorder's scenario. NewTarget's default is
// the test's name.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithProfile makes the embedded simulator use p (it wins over CXLOAD_PROFILE).
func WithProfile(p *gcsim.Profile) Option { return func(o *options) { o.profile = p } }

// WithProfileEdit adjusts the embedded simulator's profile (default,
// CXLOAD_PROFILE's or WithProfile's) before it starts, e.g. shorter
// heartbeats. An external simulator serves its own profile: edit is not
// applied there.
func WithProfileEdit(edit func(p *gcsim.Profile)) Option { return func(o *options) { o.edit = edit } }

// WithAgents says how many agents the scenario needs from the embedded
// simulator's directory. The default profile grows to hold them (it has
// gcsim.DefaultAgents users otherwise); a profile from CXLOAD_PROFILE or
// WithProfile that holds fewer is refused, naming directory.agents and the
// value needed. A tenant's or an external simulator's directory is what it
// is: the option does nothing there.
func WithAgents(n int) Option { return func(o *options) { o.agents = n } }

// WithTimeScale divides the embedded simulator's rate-limit windows by
// factor (from 1 to MaxTimeScale), so a scenario meets its windows in
// seconds instead of minutes; CXLOAD_TIME_SCALE, when set, wins. Buckets
// and NewRecorder's known limits are the windows as served; ProfileUnscaled
// has the real ones. An external simulator or a tenant is not scaled.
func WithTimeScale(factor float64) Option { return func(o *options) { o.scale = factor } }

// WithClients says how many OAuth clients the scenario needs, given this
// shard's part of the embedded simulator's limits as served, and why. The
// default profile gets that many clients; a profile from CXLOAD_PROFILE or
// WithProfile with fewer is refused with why and how many to add. It does
// nothing on a tenant or an external simulator.
func WithClients(need func(bs []api.Bucket) (n int, why string)) Option {
	return func(o *options) { o.clients = need }
}

// WithPipe serves the embedded simulator over in-memory pipes instead of a
// loopback port, so a scenario can run inside a testing/synctest bubble.
func WithPipe() Option { return func(o *options) { o.pipe = true } }

// WithSimHandler wraps the embedded simulator's handler, for faults the
// simulator does not model (tests of the harness's fault handling).
func WithSimHandler(wrap func(next http.Handler) http.Handler) Option {
	return func(o *options) { o.wrap = wrap }
}

// WithReadOnly declares a scenario that changes nothing on the target
// (discovery): on a tenant it needs no CXLOAD_USERS, and its guard refuses
// every write whatever CXLOAD_ALLOW_WRITES says. Without it, Open refuses a
// tenant whose CXLOAD_USERS is not set.
func WithReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithTenantStandIn makes a tenant configuration talk to sim instead of the
// region's hosts: the guard, the plan, the budget and the limits API all
// work as for a tenant, and no real host is reached. Tests of the guarded
// path use it.
func WithTenantStandIn(sim *gcsim.Server) Option { return func(o *options) { o.standIn = sim } }

// Open assembles a run: it resolves the configuration from the environment
// (see ResolveTarget), then starts the embedded simulator, checks that the
// external simulator answers, or sets up the tenant's guard (which refuses a
// tenant outside its load-test window), and logs its choice in one line.
// ctx bounds the run: Context ends with it, with Close, or when the guard
// stops the run. Close releases everything.
//
//	tg, err := harness.Open(ctx, harness.WithName("nightly-shift"), harness.WithAgents(200))
//	if err != nil {
//		return err // names the variable and the fix
//	}
//	defer tg.Close()
//	if err := tg.Begin(harness.Plan{Agents: 200, Rate: 20, Duration: 10 * time.Minute}); err != nil {
//		return err
//	}
//	pool, err := tg.Pool(auth.Config{Policy: auth.PerClient, TokensPerClient: 4})
//	...
//	client, err := tg.Client(api.Config{Tokens: pool, Recorder: tg.NewRecorder(), Agents: 200})
func Open(ctx context.Context, opts ...Option) (*Target, error) {
	o := options{getenv: os.Getenv, now: time.Now, logf: log.Printf}
	for _, f := range opts {
		f(&o)
	}
	var reh *rehearsal
	if on, err := rehearsing(o.getenv); err != nil {
		return nil, fmt.Errorf("cxload target: configuration refused:\n%w", err)
	} else if on {
		if reh, err = openRehearsal(o.getenv, o.agents); err != nil {
			return nil, err
		}
		o.getenv, o.standIn = reh.getenv, reh.sim
	}
	cfg, err := ResolveTarget(o.getenv)
	if err != nil {
		if reh != nil {
			reh.close()
		}
		return nil, fmt.Errorf("cxload target: configuration refused:\n%w", err)
	}
	tg := &Target{Config: cfg, logf: o.logf, name: o.name, now: o.now, scale: 1, reh: reh}
	if reh != nil {
		reh.apply(&tg.Config)
		tg.onClose(reh.close) // last: after the clients and the guard's users
		tg.logf("cxload rehearsal: on the tenant stand-in (TLS with a test CA, HTTP/2, login./api./streaming. hosts); it sets %s", reh.consent)
	}
	tg.ctx, tg.cancel = context.WithCancelCause(ctx)
	switch cfg.Kind {
	case KindTenant:
		err = tg.openTenant(o)
	default:
		err = tg.openSimulator(o)
	}
	if err == nil {
		err = tg.startRecording(o)
	}
	if err == nil {
		tg.otel, err = telemetry.FromEnv(o.getenv, tg.logf) // nil unless an OTLP endpoint is set
		tg.onClose(tg.otel.Close)                           // runs after the clients' closers: the last export holds their last results
	}
	if err != nil {
		tg.refused = true
		tg.Close()
		return nil, err
	}
	return tg, nil
}

// NewTarget is Open for a test, as httptest.NewServer is for a server: the
// target is closed by t.Cleanup, its name is the test's, it logs with
// t.Logf, and a refused configuration fails the test with t.Fatal naming the
// variable and the fix. Its NewPool, NewClient and Start fail the test
// instead of returning an error. A run the guard stopped fails the test at
// cleanup with the guard's verdict.
func NewTarget(t testing.TB, opts ...Option) *Target {
	t.Helper()
	base := []Option{WithLogf(t.Logf), WithName(t.Name())}
	tg, err := Open(t.Context(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	tg.t = t
	stop := tg.stopBeforeTimeout(t)
	t.Cleanup(func() {
		stop()
		err := tg.Close()
		if ts, ok := context.Cause(tg.ctx).(*timeoutStop); ok {
			t.Errorf("%v", ts)
		}
		if err != nil {
			t.Errorf("%v", err)
		}
	})
	return tg
}

// testDeadline is t's deadline (go test -timeout), if t has one. Inside a
// synctest bubble, where time is the bubble's and t.Deadline panics, there
// is none to keep.
func testDeadline(t testing.TB) (dl time.Time, ok bool) {
	d, has := t.(interface{ Deadline() (time.Time, bool) })
	if !has {
		return time.Time{}, false
	}
	defer func() {
		if recover() != nil {
			dl, ok = time.Time{}, false
		}
	}()
	return d.Deadline()
}

// timeoutStop is the cause of a run ended before go test's -timeout.
type timeoutStop struct{ deadline, at time.Time }

func (e *timeoutStop) Error() string {
	return fmt.Sprintf("cxload target: go test -timeout ends the test at %s: the run was stopped %v before it, so that what it changed is restored before the test binary is killed; raise -timeout (e.g. -timeout 30m) for a run this long",
		e.deadline.Format(time.TimeOnly), e.deadline.Sub(e.at).Round(time.Second))
}

// stopBeforeTimeout ends the run (the target's context, with a timeoutStop
// cause) a reserve before t's deadline (go test -timeout), when t has one:
// at the deadline the test binary panics and no cleanup runs, so a tenant
// run would leave its users as it changed them. The reserve is the
// restore's bound plus 5 s, or a quarter of the time left if that is less.
// It returns what stops the timer.
func (tg *Target) stopBeforeTimeout(t testing.TB) func() bool {
	dl, ok := testDeadline(t)
	if !ok {
		return func() bool { return false }
	}
	left := time.Until(dl)
	reserve := min(CleanupTimeout+5*time.Second, left/4)
	timer := time.AfterFunc(left-reserve, func() {
		ts := &timeoutStop{deadline: dl, at: time.Now()}
		tg.logf("cxload: go test -timeout is %v away: ending the run to restore what it changed", dl.Sub(ts.at).Round(time.Second))
		tg.cancel(ts)
	})
	return timer.Stop
}

func (tg *Target) openTenant(o options) error {
	cfg := tg.Config
	if !o.readOnly && cfg.Guard.Fixtures.UsersFrom == "" {
		return fmt.Errorf("cxload target: tenant %s refused: %s is not set: this scenario acts on users (presence, routing, calls) and on a tenant it acts only on named test users; %s, or run a read-only scenario",
			cfg.Region.Name, EnvUsers, usersHowTo)
	}
	tg.Guard = NewGuard(cfg.Guard, o.now, tg.logf)
	tg.Guard.readOnly = o.readOnly
	tg.Guard.used = runBudget(cfg, o.standIn)
	stop := context.AfterFunc(tg.Guard.Context(), func() { tg.cancel(context.Cause(tg.Guard.Context())) })
	tg.onClose(func() { stop() })
	if err := tg.Guard.Check(); err != nil {
		return fmt.Errorf("cxload target: tenant %s refused:\n%w", cfg.Region.Name, err)
	}
	if o.standIn != nil {
		cfg.APIBase, cfg.LoginBase = o.standIn.URL(), o.standIn.LoginURL()
		if tg.reh == nil {
			cfg.Why += ", stand-in simulator"
		}
		tg.Config, tg.dial = cfg, o.standIn
	}
	tg.logf("cxload target: tenant %s (%s), %d OAuth client(s), approval %s, budget %s, window %02d:00–%02d:00 %s (%s)",
		cfg.Region.Name, cfg.APIBase, len(cfg.Clients), cfg.Guard.Approval, cfg.Guard.budgetWords(), WindowStart, WindowEnd, cfg.Guard.Location, cfg.Why)
	return nil
}

func (tg *Target) openSimulator(o options) error {
	cfg := tg.Config
	external := cfg.Kind == KindExternal
	p, src, defaulted := o.profile, "profile from WithProfile", false
	if p == nil && cfg.Profile != "" {
		var err error
		if p, err = gcsim.LoadProfile(cfg.Profile); err != nil {
			return fmt.Errorf("cxload target: %s=%q: %v", EnvProfile, cfg.Profile, err)
		}
		src = "profile " + cfg.Profile
	}
	if p == nil {
		p, src, defaulted = gcsim.DefaultProfile(), "default profile", true
		if !external {
			p.Directory.Agents = max(p.Directory.Agents, o.agents)
		}
	} else {
		p = cloneProfile(p)
	}
	if !external {
		if o.edit != nil {
			o.edit(p)
		}
		if err := p.Directory.CheckAgents(o.agents); err != nil {
			return fmt.Errorf("cxload target: simulator %s: %v", src, err)
		}
		tg.scale = max(o.scale, 1)
		if cfg.TimeScale > 0 {
			tg.scale = cfg.TimeScale
		}
		if tg.scale > MaxTimeScale {
			return fmt.Errorf("cxload target: WithTimeScale(%g): over the bound of %d (harness.MaxTimeScale)", tg.scale, MaxTimeScale)
		}
	}
	if o.clients != nil && !external {
		bs := tg.SplitBuckets(scaleBuckets(profileBuckets(p), tg.scale))
		switch n, why := o.clients(bs); {
		case n <= len(p.Clients):
		case defaulted:
			for i := len(p.Clients); i < n; i++ {
				c := p.Clients[0]
				c.ID, c.Secret, c.Name = fmt.Sprintf("sim-client-%d", i+1), gcsim.Secret(fmt.Sprintf("sim-secret-%d", i+1)), fmt.Sprintf("Simulator client %d", i+1)
				p.Clients = append(p.Clients, c)
			}
		default:
			return fmt.Errorf("cxload target: the simulator's %s has %d OAuth client(s) in \"clients\", the scenario needs %d: %s; add %d client(s) to the profile, or run fewer agents",
				src, len(p.Clients), n, why, n-len(p.Clients))
		}
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("cxload target: simulator %s: %v", src, err)
	}
	tg.real = p
	tg.profile = cloneProfile(p)
	for i := range tg.profile.Limits {
		w := &tg.profile.Limits[i].Window
		*w = gcsim.Duration(time.Duration(float64(*w) / tg.scale).Round(time.Millisecond))
	}
	cfg.Clients = nil
	for _, c := range tg.profile.Clients {
		cfg.Clients = append(cfg.Clients, auth.Credentials{ClientID: c.ID, Secret: string(c.Secret)})
	}
	ids := make([]string, len(cfg.Clients))
	for i, c := range cfg.Clients {
		ids[i] = c.ClientID
	}
	if external {
		tg.Config = cfg
		hc := tg.HTTPClient()
		ctx, cancel := context.WithTimeout(tg.ctx, 10*time.Second)
		defer cancel()
		if _, err := gcsim.FetchStats(ctx, hc, cfg.SimURL); err != nil {
			return fmt.Errorf("cxload target: %s=%s: the simulator does not answer GET /admin/stats: %v; start it with go run ./scripts/gcsim -addr 127.0.0.1:PORT", EnvSimURL, cfg.SimURL, err)
		}
		tg.logf("cxload target: external simulator at %s, %s as its profile, clients %s (%s)", cfg.SimURL, src, strings.Join(ids, ", "), cfg.Why)
		return nil
	}
	sim := gcsim.NewUnstartedServer(tg.profile)
	if o.pipe {
		sim.Listener.Close()
		sim.Listener = gcsim.NewPipeListener()
	}
	if o.wrap != nil {
		sim.Config.Handler = o.wrap(sim)
	}
	sim.Start()
	tg.onClose(sim.Close)
	tg.Sim, tg.dial = sim, sim
	cfg.APIBase, cfg.LoginBase = sim.URL(), sim.URL()
	tg.Config = cfg
	note := ""
	if tg.scale > 1 {
		note = fmt.Sprintf(", rate-limit windows ÷%g", tg.scale)
	}
	tg.logf("cxload target: simulator at %s, %s%s, clients %s (%s)", sim.URL(), src, note, strings.Join(ids, ", "), cfg.Why)
	return nil
}

// cloneProfile returns a deep copy of p (its JSON form and clock).
func cloneProfile(p *gcsim.Profile) *gcsim.Profile {
	data, err := p.MarshalJSON()
	if err != nil {
		panic("harness: a profile that does not marshal: " + err.Error())
	}
	c, err := gcsim.ParseProfile(data)
	if err != nil {
		panic("harness: a profile that does not parse back: " + err.Error())
	}
	c.Now = p.Now
	return c
}

// onClose registers f to run at Close, after the ones registered later.
func (tg *Target) onClose(f func()) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.closers = append(tg.closers, f)
}

// Close ends Context, restores what the run changed (see Restore in
// docs/harness.md: presence, queue memberships, calls hung up, with the
// cleanup reserve, even after a guard stop), and releases what the target
// holds (the embedded simulator, idle connections, the guard). It returns
// the guard's verdict and a failed restore as an error. Calling it again
// does nothing.
func (tg *Target) Close() error {
	tg.mu.Lock()
	if tg.closed {
		tg.mu.Unlock()
		return nil
	}
	tg.closed = true
	closers := tg.closers
	tg.closers = nil
	tg.mu.Unlock()
	tg.cancel(errors.New("cxload target closed"))
	rerr := tg.restore() // before the closers: the simulator and the dial are still there
	if tg.rec != nil {
		close(tg.rec.closed)
	}
	for _, f := range slices.Backward(closers) {
		f()
	}
	if tg.Guard != nil {
		v := tg.Guard.Verdict()
		tg.Guard.Close()
		if v != "" {
			return errors.Join(fmt.Errorf("cxload guard stopped the run: %s", v), rerr)
		}
	}
	return rerr
}

// must fails the test of a NewTarget, or panics with err on an Open target
// (whose callers use the methods that return the error).
func (tg *Target) must(err error) {
	if err == nil {
		return
	}
	if tg.t != nil {
		tg.t.Helper()
		tg.t.Fatalf("%v", err)
	}
	panic(err)
}

// Kind returns KindSimulator, KindExternal or KindTenant.
func (tg *Target) Kind() string { return tg.Config.Kind }

// Region returns the tenant's region name, "" for a simulator.
func (tg *Target) Region() string { return tg.Config.Region.Name }

// APIBase returns the API base URL.
func (tg *Target) APIBase() string { return tg.Config.APIBase }

// TokenURL returns the OAuth token endpoint.
func (tg *Target) TokenURL() string { return tg.Config.LoginBase + "/oauth/token" }

// Profile returns the simulator's profile as served (windows divided by
// TimeScale), nil for a tenant. For an external simulator it is the profile
// the server was started with, as CXLOAD_PROFILE says (default otherwise).
func (tg *Target) Profile() *gcsim.Profile { return tg.profile }

// ProfileUnscaled returns Profile with the real windows, nil for a tenant.
func (tg *Target) ProfileUnscaled() *gcsim.Profile { return tg.real }

// TimeScale returns the factor the simulator's windows are divided by (1:
// none).
func (tg *Target) TimeScale() float64 { return tg.scale }

// Context returns a context that ends when the run's context (the test's,
// for NewTarget) ends, at Close, or when the guard stops the run, with the
// verdict as its cause. Scenarios pass it to their request loops.
func (tg *Target) Context() context.Context { return tg.ctx }

// Begin prints the plan and, for a tenant, has the guard check it against
// the budget and the window, returning its refusal. Call it before the first
// request. For a simulator it only prints the plan.
func (tg *Target) Begin(p Plan) error {
	tg.mu.Lock()
	tg.started = true
	tg.mu.Unlock()
	if tg.Guard == nil {
		tg.logf("cxload %s", p)
		return nil
	}
	if err := tg.Guard.Start(p); err != nil {
		return fmt.Errorf("cxload guard refused to start:\n%w", err)
	}
	return nil
}

// Start is Begin that fails the test (of NewTarget) on a refusal.
func (tg *Target) Start(p Plan) {
	if tg.t != nil {
		tg.t.Helper()
	}
	tg.must(tg.Begin(p))
}

// transport returns a transport sized for agents that reaches the target
// (through the simulator's pipe when it uses one; never through a proxy
// when it is on this machine). Close closes its idle connections.
func (tg *Target) transport(agents int) *http.Transport {
	tr := api.NewTransport(agents)
	if tg.dial != nil {
		tr.DialContext = api.TimedDial(tg.dial.DialContext)
	}
	if tg.dial != nil || tg.Kind() == KindExternal {
		tr.Proxy = nil
	}
	if c := tg.tlsConfig(); c != nil {
		tr.TLSClientConfig = c
	}
	tg.onClose(tr.CloseIdleConnections)
	return tr
}

// HTTPClient returns the HTTP client for requests a scenario makes outside
// api.Client: it reaches the target like the target's clients do, and on a
// tenant the guard admits every attempt and counts it against the budget.
func (tg *Target) HTTPClient() *http.Client {
	tg.hcOnce.Do(func() {
		tg.hc = tg.gatedClient(16)
	})
	return tg.hc
}

// gatedClient returns an HTTP client over a transport sized for agents
// whose requests, on a tenant, the guard admits and counts.
func (tg *Target) gatedClient(agents int) *http.Client {
	var rt http.RoundTripper = tg.transport(agents)
	if tg.Guard != nil {
		rt = gatedTransport{base: rt, gate: tg.Guard}
	}
	return &http.Client{Transport: rt, Timeout: 30 * time.Second}
}

// gatedTransport admits every request through a gate and reports its status.
type gatedTransport struct {
	base http.RoundTripper
	gate api.Gate
}

func (g gatedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rg, ok := g.gate.(api.RequestGate); ok {
		var body []byte
		if req.GetBody != nil {
			if rc, err := req.GetBody(); err == nil {
				body, _ = io.ReadAll(io.LimitReader(rc, 1<<20))
				rc.Close()
			}
		}
		if err := rg.AdmitRequest(req.Method, req.URL.Path, body); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	if err := g.gate.Admit(); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		g.gate.Done(0)
		return nil, err
	}
	g.gate.Done(resp.StatusCode)
	return resp, nil
}

// Pool returns a token pool for the target's OAuth clients. Zero fields of
// cfg are filled in: TokenURL, Clients, HTTPClient, OnRefresh (failed token
// requests are logged, redacted) and, on a simulator, CreateLimit from the
// profile's token-creation limit. On a tenant the default HTTPClient's
// token requests are admitted and counted by the guard, like every other.
func (tg *Target) Pool(cfg auth.Config) (*auth.Pool, error) {
	if cfg.TokenURL == "" {
		cfg.TokenURL = tg.TokenURL()
	}
	if cfg.Clients == nil {
		cfg.Clients = tg.Config.Clients
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = tg.gatedClient(4)
	}
	if cfg.Policy == auth.PerAgent && len(tg.Config.UserTokens) > 0 && cfg.Users == nil {
		// CXLOAD_USER_TOKENS: agent k sends with user k's own token.
		cfg.Policy, cfg.Users = auth.PerUser, tg.Config.UserTokens
	}
	if cfg.Policy == auth.PerUser && cfg.Assertion == nil && tg.Config.SAMLAssertions != "" {
		cfg.Assertion = auth.AssertionsFromDir(tg.Config.SAMLAssertions) // CXLOAD_SAML_ASSERTIONS
	}
	if cfg.CreateLimit == 0 && tg.profile != nil {
		for _, l := range tg.profile.Limits {
			if l.Scope == genesys.ScopeClient && !l.Disabled && l.Allowed > 1 {
				cfg.CreateLimit = rate.Limit(float64(l.Allowed-1) / l.Window.Std().Seconds())
			}
		}
	}
	if cfg.OnRefresh == nil {
		logf := tg.logf
		cfg.OnRefresh = func(e auth.RefreshEvent) {
			if e.Err != nil {
				logf("cxload auth: token %d (client %s), attempt %d failed: %v", e.Slot, e.ClientID, e.Attempt, e.Err)
			}
		}
	}
	p, err := auth.NewPool(cfg)
	if err != nil {
		return nil, fmt.Errorf("cxload target: %w", err)
	}
	return p, nil
}

// NewPool is Pool that fails the test (of NewTarget) on error.
func (tg *Target) NewPool(cfg auth.Config) *auth.Pool {
	if tg.t != nil {
		tg.t.Helper()
	}
	p, err := tg.Pool(cfg)
	tg.must(err)
	return p
}

// Buckets returns the rate limits known in advance, whole: the simulator
// profile's visible request limits for client-credentials tokens (windows as
// served), or Genesys' documented defaults for a tenant (Client then
// updates them from the organization's limits API).
func (tg *Target) Buckets() []api.Bucket {
	if tg.profile == nil {
		return api.DefaultBuckets()
	}
	return profileBuckets(tg.profile)
}

// profileBuckets returns the request limits of p known in advance.
func profileBuckets(p *gcsim.Profile) []api.Bucket {
	var out []api.Bucket
	for _, l := range p.Limits {
		if l.Disabled || l.Hidden || l.Scope == genesys.ScopeClient || l.Grant == "password" {
			continue
		}
		out = append(out, api.Bucket{Key: l.Key, Namespace: l.Namespace, Scope: l.Scope, Allowed: l.Allowed,
			Window: l.Window.Std(), Families: append([]string(nil), l.Families...), Source: "profile"})
	}
	return out
}

// scaleBuckets divides the windows of bs by scale, as the simulator serves them.
func scaleBuckets(bs []api.Bucket, scale float64) []api.Bucket {
	for i := range bs {
		bs[i].Window = time.Duration(float64(bs[i].Window) / scale).Round(time.Millisecond)
	}
	return bs
}

// SplitBuckets returns this shard's part (Config.Shard) of bs: every budget
// the shards share (per-client, per-user, organization) is split, token
// buckets stay whole (see api.ShardBuckets), and no part is below one
// request. Unsharded, it returns bs.
func (tg *Target) SplitBuckets(bs []api.Bucket) []api.Bucket {
	if tg.Config.Shard.Whole() {
		return bs
	}
	out := api.ShardBuckets(tg.Config.Shard, bs)
	for i := range out {
		// A part of 0 would read as "no limit": keep at least one request.
		out[i].Allowed = max(1, out[i].Allowed)
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

// NewLimits returns a client-side limiter seeded with this shard's part of
// Buckets.
func (tg *Target) NewLimits() *api.Limits {
	return api.NewLimits(genesys.Family, tg.SplitBuckets(tg.Buckets())...)
}

// ObserveLimits returns api.ObserveLimits seeded with this shard's part of
// Buckets: no client-side limiting, 429s attributed to the target's limits.
func (tg *Target) ObserveLimits() *api.Limits {
	return api.ObserveLimits(genesys.Family, tg.SplitBuckets(tg.Buckets())...)
}

// NewRecorder returns a metrics recorder for the run: its scenario is the
// target's name (the test's, for NewTarget), its target the kind ("simulator"
// for an external one too) and region, its shard and labels the
// configuration's (CXLOAD_SHARD, CXLOAD_LABELS), and it knows the target's
// limits. opts are applied after, so they win.
func (tg *Target) NewRecorder(opts ...metrics.Option) *metrics.Recorder {
	kind := tg.Kind()
	if kind == KindExternal {
		kind = KindSimulator
	}
	base := []metrics.Option{metrics.WithScenario(tg.name), metrics.WithTarget(kind, tg.Region()),
		metrics.WithKnownLimits(tg.KnownLimits()...)}
	if sh := tg.Config.Shard; !sh.Whole() {
		base = append(base, metrics.WithShard(sh.String()))
	}
	if tg.Config.RunID != "" {
		base = append(base, metrics.WithRun(tg.Config.RunID))
	}
	if len(tg.Config.Labels) > 0 {
		base = append(base, metrics.WithLabels(tg.Config.Labels))
	}
	if tg.otel != nil {
		base = append(base, metrics.WithObserver(tg.otel.ObserverFor(tg.Config.RunID)))
	}
	return metrics.NewRecorder(append(base, opts...)...)
}

// Client returns an API client for the target. Zero fields of cfg are
// filled in: BaseURL; Dial (to the simulator's listener, unless HTTPClient
// is set: the client's own connections, at most cfg.Agents); Limits (nil
// means the default limiter, as for api.Config: here NewLimits, this shard's
// part of the target's limits; pass ObserveLimits for no client-side
// limiting); Scrub (the pool's, when Tokens is an *auth.Pool). On a tenant
// the guard is always the Gate, Begin must have been called, and the seeded
// limits are updated from the organization's limits API (then split).
func (tg *Target) Client(cfg api.Config) (*api.Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = tg.APIBase()
	}
	if cfg.HTTPClient == nil && cfg.Dial == nil && tg.dial != nil {
		cfg.Dial = tg.dial.DialContext // the simulator's listener (a pipe under synctest)
	}
	if cfg.TLSConfig == nil {
		cfg.TLSConfig = tg.tlsConfig()
	}
	if p, ok := cfg.Tokens.(*auth.Pool); ok && cfg.Scrub == nil {
		cfg.Scrub = p.Scrub
	}
	seed := cfg.Limits == nil
	if seed {
		cfg.Limits = tg.NewLimits()
	}
	if tg.Guard != nil {
		tg.mu.Lock()
		started := tg.started
		tg.mu.Unlock()
		if !started {
			return nil, errors.New("cxload target: call Target.Start(plan) before NewClient on a tenant: the guard prints and checks the plan first")
		}
		cfg.Gate = tg.Guard
	}
	if tg.rec != nil {
		cfg.Gate = changeGate{inner: cfg.Gate, recorder: tg.rec}
	}
	c, err := api.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cxload target: %w", err)
	}
	tg.onClose(c.Close)
	if tg.Guard != nil && seed {
		ctx, cancel := context.WithTimeout(tg.ctx, time.Minute)
		defer cancel()
		if got, err := api.FetchLimits(ctx, c); err != nil {
			tg.logf("cxload target: could not read the organization's limits (%v); using Genesys' documented defaults", err)
		} else {
			cfg.Limits = api.NewLimits(genesys.Family, tg.SplitBuckets(api.MergeBuckets(api.DefaultBuckets(), got))...)
			if c, err = api.New(cfg); err != nil {
				return nil, fmt.Errorf("cxload target: %w", err)
			}
			tg.onClose(c.Close)
		}
	}
	return c, nil
}

// NewClient is Client that fails the test (of NewTarget) on error.
func (tg *Target) NewClient(cfg api.Config) *api.Client {
	if tg.t != nil {
		tg.t.Helper()
	}
	c, err := tg.Client(cfg)
	tg.must(err)
	return c
}

// SetFaults switches the simulator's faults (and performs their actions):
// the embedded one's directly, an external one's with PUT /admin/faults.
func (tg *Target) SetFaults(f gcsim.Faults) error {
	switch {
	case tg.Sim != nil:
		tg.Sim.SetFaults(f)
		return nil
	case tg.Kind() == KindExternal:
		return tg.admin(http.MethodPut, "/admin/faults", f)
	}
	return errors.New("cxload target: faults need a simulator, the target is a tenant")
}

// Reset empties the simulator's rate-limit windows and zeroes its counters.
func (tg *Target) Reset() error {
	switch {
	case tg.Sim != nil:
		tg.Sim.Reset()
		return nil
	case tg.Kind() == KindExternal:
		return tg.admin(http.MethodPost, "/admin/reset", nil)
	}
	return errors.New("cxload target: reset needs a simulator, the target is a tenant")
}

// admin sends an admin request to the external simulator.
func (tg *Target) admin(method, path string, body any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return fmt.Errorf("cxload target: %s %s: %v", method, path, err)
		}
	}
	req, err := http.NewRequestWithContext(tg.ctx, method, tg.Config.SimURL+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := tg.HTTPClient().Do(req)
	if err != nil {
		return fmt.Errorf("cxload target: %s %s%s: %v", method, tg.Config.SimURL, path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cxload target: %s %s%s: status %d", method, tg.Config.SimURL, path, resp.StatusCode)
	}
	return nil
}

// String describes the target without secrets.
func (tg *Target) String() string {
	switch {
	case tg.Sim != nil:
		return fmt.Sprintf("harness.Target{simulator %s}", tg.Sim.URL())
	case tg.Kind() == KindExternal:
		return fmt.Sprintf("harness.Target{external simulator %s}", tg.Config.SimURL)
	}
	return fmt.Sprintf("harness.Target{tenant %s %s}", tg.Config.Region.Name, tg.Config.APIBase)
}
