//go:build load

package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
)

// quietTB drops log lines unless the run is verbose (-v, or -json which
// implies it): without -v a failing scenario prints only its failed
// thresholds, one paragraph each, not its progress lines.
type quietTB struct{ testing.TB }

func (q quietTB) Log(args ...any) {
	if testing.Verbose() {
		q.TB.Helper()
		q.TB.Log(args...)
	}
}

func (q quietTB) Logf(format string, args ...any) {
	if testing.Verbose() {
		q.TB.Helper()
		q.TB.Logf(format, args...)
	}
}

// logf logs under -v only.
func logf(t testing.TB, format string, args ...any) {
	t.Helper()
	if testing.Verbose() {
		t.Logf(format, args...)
	}
}

// rigOptions shape the simulator a scenario runs on. They do nothing on a
// tenant; with an external simulator (CXLOAD_SIM_URL) the server's own
// profile applies and tweak is only checked for what the scenario needs.
type rigOptions struct {
	// tweak adjusts the simulator's profile (e.g. shorter heartbeats).
	tweak func(p *gcsim.Profile)
	// scale divides rate-limit windows by this factor (≥ 1); 0 = 1.
	scale float64
	// profile replaces the base profile (tests of the scenarios).
	profile *gcsim.Profile
	// clients, if set, says how many OAuth clients the scenario needs under
	// the given limits (as served, windows scaled; this shard's part), and
	// why. The default profile gets that many; a given profile with fewer
	// fails the test.
	clients func(bs []api.Bucket) (n int, why string)
}

// rig is what a scenario runs against: a harness.Target (embedded
// simulator or tenant behind the guard) or an external simulator. It hands
// out token pools, API clients and recorders wired to the target's limits,
// with the rate budgets of shared scopes split across shards.
type rig struct {
	t     testing.TB
	k     knobs
	tg    *harness.Target
	ext   string         // external simulator base URL
	prof  *gcsim.Profile // the simulator's profile as served; nil on a tenant
	real  *gcsim.Profile // the same before the window scaling
	scale float64
	hc    *http.Client // admin requests to an external simulator
	ctx   context.Context
}

// newRig resolves the target from the environment. A tenant goes through
// harness.NewTarget, whose guard refuses to start without approval, outside
// the load-test window or without a budget.
func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	k := loadKnobs(t)
	r := &rig{t: t, k: k, scale: 1}
	cfg, err := harness.ResolveTarget(os.Getenv)
	if err != nil {
		t.Fatalf("cxload target: configuration refused:\n%v", err)
	}
	if cfg.Kind == harness.KindTenant && k.SimURL != "" {
		t.Fatalf("loadtest: %s is set but the target is a tenant (%s): unset one of them", EnvSimURL, cfg.Why)
	}
	if cfg.Kind == harness.KindTenant {
		r.tg = harness.NewTarget(quietTB{t})
		r.ctx = r.tg.Context()
		return r
	}
	// The simulator's directory must hold CXLOAD_AGENTS users: the default
	// profile grows to them, a given profile must already hold them.
	base := o.profile
	defaulted := false
	if base == nil {
		if path := os.Getenv(harness.EnvProfile); path != "" {
			if base, err = gcsim.LoadProfile(path); err != nil {
				t.Fatalf("loadtest: %s=%q: %v", harness.EnvProfile, path, err)
			}
			if err := base.Directory.CheckAgents(k.Agents); err != nil && k.SimURL == "" {
				t.Fatalf("loadtest: %s=%q with %s=%d: %v", harness.EnvProfile, path, EnvAgents, k.Agents, err)
			}
		} else {
			base = gcsim.DefaultProfile()
			base.Directory.Agents = max(base.Directory.Agents, k.Agents)
			defaulted = true
		}
	}
	if o.tweak != nil && k.SimURL == "" {
		o.tweak(base)
	}
	r.scale = max(o.scale, 1)
	if k.TimeScale > 0 {
		r.scale = k.TimeScale
	}
	if k.SimURL != "" {
		r.scale = 1 // the external server's profile is what it is
	}
	if o.clients != nil && k.SimURL == "" {
		bs := profileBuckets(base)
		for i := range bs {
			bs[i].Window = time.Duration(float64(bs[i].Window) / r.scale).Round(time.Millisecond) // as served
		}
		if !k.Shard.Whole() {
			bs = api.ShardBuckets(k.Shard, bs)
		}
		switch n, why := o.clients(bs); {
		case n <= len(base.Clients):
		case defaulted:
			for i := len(base.Clients); i < n; i++ {
				c := base.Clients[0]
				c.ID, c.Secret, c.Name = fmt.Sprintf("sim-client-%d", i+1), gcsim.Secret(fmt.Sprintf("sim-secret-%d", i+1)), fmt.Sprintf("Simulator client %d", i+1)
				base.Clients = append(base.Clients, c)
			}
		default:
			t.Fatalf("loadtest: the simulator's profile has %d OAuth client(s) in \"clients\", the scenario needs %d: %s; add %d client(s) to the profile, or run fewer agents",
				len(base.Clients), n, why, n-len(base.Clients))
		}
	}
	r.real = cloneProfile(t, base)
	served := cloneProfile(t, base)
	if r.scale > 1 {
		for i := range served.Limits {
			served.Limits[i].Window = gcsim.Duration(time.Duration(float64(served.Limits[i].Window) / r.scale).Round(time.Millisecond))
		}
	}
	r.prof = served
	if k.SimURL != "" {
		r.ext = k.SimURL
		r.hc = &http.Client{Timeout: 10 * time.Second}
		t.Cleanup(r.hc.CloseIdleConnections)
		r.ctx = t.Context()
		if _, err := gcsim.FetchStats(r.ctx, r.hc, r.ext); err != nil {
			t.Fatalf("loadtest: %s=%s: the simulator does not answer GET /admin/stats: %v; start it with go run ./scripts/gcsim -addr 127.0.0.1:PORT", EnvSimURL, r.ext, err)
		}
		logf(t, "cxload target: external simulator at %s (%s), profile %s", r.ext, EnvSimURL, profileSource())
		return r
	}
	r.tg = harness.NewTarget(quietTB{t}, harness.WithProfile(served))
	r.ctx = r.tg.Context()
	return r
}

func profileSource() string {
	if p := os.Getenv(harness.EnvProfile); p != "" {
		return p
	}
	return "default"
}

func cloneProfile(t testing.TB, p *gcsim.Profile) *gcsim.Profile {
	t.Helper()
	data, err := p.MarshalJSON()
	if err != nil {
		t.Fatalf("loadtest: profile: %v", err)
	}
	c, err := gcsim.ParseProfile(data)
	if err != nil {
		t.Fatalf("loadtest: profile: %v", err)
	}
	c.Now = p.Now
	return c
}

func (r *rig) tenant() bool { return r.tg != nil && r.tg.Guard != nil }

func (r *rig) kind() string {
	if r.tenant() {
		return harness.KindTenant
	}
	return harness.KindSimulator
}

func (r *rig) region() string {
	if r.tg != nil {
		return r.tg.Region()
	}
	return ""
}

// where says in words what the run is pointed at.
func (r *rig) where() string {
	switch {
	case r.tenant():
		return "tenant " + r.tg.Region()
	case r.ext != "":
		return "the external simulator at " + r.ext
	}
	return "the embedded simulator"
}

// clients returns the OAuth clients of the target.
func (r *rig) clients() []auth.Credentials {
	if r.tg != nil {
		return r.tg.Config.Clients
	}
	var out []auth.Credentials
	for _, c := range r.prof.Clients {
		out = append(out, auth.Credentials{ClientID: c.ID, Secret: string(c.Secret)})
	}
	return out
}

// loadUsers loads n users of the target's directory. The embedded
// simulator's directory holds them (see newRig); an external simulator's
// is its own profile's, which the error then says how to grow.
func (r *rig) loadUsers(c *api.Client, n int) ([]agent.User, error) {
	users, err := agent.LoadUsers(r.ctx, c, n)
	if err != nil && r.ext != "" {
		err = fmt.Errorf("%w (%s=%s serves its own profile: restart it with go run ./scripts/gcsim -profile FILE, FILE setting \"directory\": {\"agents\": %d} or more)", err, EnvSimURL, r.ext, n)
	}
	return users, err
}

// pool returns a token pool for the target's clients.
func (r *rig) pool(cfg auth.Config) *auth.Pool {
	r.t.Helper()
	if r.tg != nil {
		return r.tg.NewPool(cfg)
	}
	cfg.TokenURL = r.ext + "/oauth/token"
	if cfg.Clients == nil {
		cfg.Clients = r.clients()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = r.hc
	}
	for _, l := range r.prof.Limits {
		if cfg.CreateLimit == 0 && l.Scope == genesys.ScopeClient && !l.Disabled && l.Allowed > 1 {
			cfg.CreateLimit = rate.Limit(float64(l.Allowed-1) / l.Window.Std().Seconds())
		}
	}
	p, err := auth.NewPool(cfg)
	if err != nil {
		r.t.Fatalf("loadtest: %v", err)
	}
	return p
}

// rawBuckets returns the limits known in advance, unsplit.
func (r *rig) rawBuckets() []api.Bucket {
	if r.tg != nil {
		return r.tg.Buckets()
	}
	return profileBuckets(r.prof)
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

// splitBuckets gives this shard its part of every budget that the shards
// share: per-client, per-user and organization buckets (a token is never
// shared between processes, so token buckets stay whole). n shards together
// then never exceed one bucket.
func (r *rig) splitBuckets(bs []api.Bucket) []api.Bucket {
	if r.k.Shard.Whole() {
		return bs
	}
	out := api.ShardBuckets(r.k.Shard, bs)
	for i := range out {
		// A shard's part of a small bucket may round to 0, which the
		// limiter would take as "no limit": keep at least one request.
		out[i].Allowed = max(1, out[i].Allowed)
	}
	return out
}

// limits returns a client-side limiter seeded with this shard's part of the
// known limits, on or off.
func (r *rig) limits(enabled bool) *api.Limits {
	if !enabled {
		return api.ObserveLimits(genesys.Family, r.splitBuckets(r.rawBuckets())...)
	}
	return api.NewLimits(genesys.Family, r.splitBuckets(r.rawBuckets())...)
}

// client returns an API client. cfg.Limits nil means the target's known
// limits, split across shards, client-side limiting on.
func (r *rig) client(cfg api.Config) *api.Client {
	r.t.Helper()
	if r.tg != nil {
		if cfg.Limits == nil && r.tenant() && !r.k.Shard.Whole() {
			// Let the harness read the organization's limits, then split them.
			c := r.tg.NewClient(cfg)
			cfg.Limits = api.NewLimits(genesys.Family, r.splitBuckets(c.Limits().Buckets())...)
		} else if cfg.Limits == nil && !r.tenant() {
			cfg.Limits = r.limits(true)
		}
		return r.tg.NewClient(cfg)
	}
	cfg.BaseURL = r.ext
	if cfg.Limits == nil {
		cfg.Limits = r.limits(true)
	}
	if p, ok := cfg.Tokens.(*auth.Pool); ok && cfg.Scrub == nil {
		cfg.Scrub = p.Scrub
	}
	c, err := api.New(cfg) // the client's own connections to the simulator (loopback: never proxied)
	if err != nil {
		r.t.Fatalf("loadtest: %v", err)
	}
	r.t.Cleanup(c.Close)
	return c
}

// recorder returns a recorder for the scenario t, labelled with the shard
// and CXLOAD_LABELS, knowing the target's limits (as served).
func (r *rig) recorder(t testing.TB, opts ...metrics.Option) *metrics.Recorder {
	base := []metrics.Option{metrics.WithScenario(t.Name()), metrics.WithTarget(r.kind(), r.region())}
	var known []metrics.KnownLimit
	for _, b := range r.rawBuckets() {
		known = append(known, metrics.KnownLimit{Key: b.Key, Namespace: b.Namespace, Scope: string(b.Scope), Allowed: b.Allowed, Window: b.Window})
	}
	base = append(base, metrics.WithKnownLimits(known...))
	if !r.k.Shard.Whole() {
		base = append(base, metrics.WithShard(r.k.Shard.String()))
	}
	if len(r.k.Labels) > 0 {
		base = append(base, metrics.WithLabels(r.k.Labels))
	}
	return metrics.NewRecorder(append(base, opts...)...)
}

// start prints the plan and, on a tenant, has the guard check it.
func (r *rig) start(p harness.Plan) {
	r.t.Helper()
	if r.tg != nil {
		r.tg.Start(p)
		return
	}
	logf(r.t, "cxload %s", p)
}

// gate is the production guard as an api.Gate, nil off a tenant.
func (r *rig) gate() api.Gate {
	if r.tenant() {
		return r.tg.Guard
	}
	return nil
}

// httpClient is for requests made outside api.Client (the notification
// client's REST calls): on a tenant every attempt goes through the guard.
func (r *rig) httpClient(agents int) *http.Client {
	tr := api.NewTransport(agents)
	tr.Proxy = nil
	r.t.Cleanup(tr.CloseIdleConnections)
	var rt http.RoundTripper = tr
	if g := r.gate(); g != nil {
		rt = guardTransport{base: tr, gate: g}
	}
	return &http.Client{Transport: rt, Timeout: 30 * time.Second}
}

// guardTransport admits every request through a gate and reports its status.
type guardTransport struct {
	base http.RoundTripper
	gate api.Gate
}

func (g guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
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

// setFaults switches the simulator's faults (and performs their actions).
func (r *rig) setFaults(f gcsim.Faults) {
	r.t.Helper()
	switch {
	case r.tg != nil && r.tg.Sim != nil:
		r.tg.Sim.SetFaults(f)
	case r.ext != "":
		data, _ := json.Marshal(f)
		req, _ := http.NewRequest(http.MethodPut, r.ext+"/admin/faults", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.hc.Do(req)
		if err != nil {
			r.t.Fatalf("loadtest: PUT %s/admin/faults: %v", r.ext, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			r.t.Fatalf("loadtest: PUT %s/admin/faults: status %d", r.ext, resp.StatusCode)
		}
	default:
		r.t.Fatalf("loadtest: faults need a simulator")
	}
}

// progress logs a progress line every few seconds (under -v) until the
// returned stop is called.
func progress(t testing.TB, rec *metrics.Recorder, active func() int) (stop func()) {
	if !testing.Verbose() {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	iv := 5 * time.Second
	if testing.Short() {
		iv = 2 * time.Second
	}
	wg.Go(func() { rec.Progress(ctx, iv, t.Logf, active) })
	return func() { cancel(); wg.Wait() }
}

// finish checks the thresholds on doc (one error paragraph per failed one),
// sets the summary, prints it under -v and emits the document.
func finish(t testing.TB, doc *metrics.Document, summary []string, thresholds ...string) {
	t.Helper()
	metrics.AssertThresholds(t, doc, thresholds...)
	doc.Summary = strings.Join(summary, " ")
	if testing.Verbose() {
		var b strings.Builder
		b.WriteString("summary of " + t.Name() + ":\n")
		for _, l := range summary {
			b.WriteString("  " + l + "\n")
		}
		for _, th := range doc.Thresholds {
			mark := "ok  "
			if !th.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(&b, "  threshold %s %s (measured %s)\n", mark, th.Expr, th.Value)
		}
		t.Log(strings.TrimRight(b.String(), "\n"))
		metrics.Emit(t, doc)
	}
}

// newRigOrFatal runs newRig and returns the rig, or what it refused with.
func newRigOrFatal(t *testing.T, o rigOptions) (r *rig, msg string) {
	t.Helper()
	f := &fatalTB{TB: t}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(fatalStop); !ok {
				panic(p)
			}
			msg = strings.Join(f.msgs, "\n")
		}
	}()
	return newRig(f, o), ""
}

// The embedded simulator's default profile grows to CXLOAD_AGENTS users and
// to the OAuth clients a scenario asks for; a CXLOAD_PROFILE with fewer
// fails, naming the field to set and the value it needs.
func TestRigSizesSimulator(t *testing.T) {
	four := func([]api.Bucket) (int, string) { return 4, "the test needs four" }

	t.Setenv(EnvAgents, "1500")
	r, msg := newRigOrFatal(t, rigOptions{clients: four})
	if msg != "" {
		t.Fatalf("default profile, %s=1500: %s", EnvAgents, msg)
	}
	if n := len(r.tg.Sim.Users()); n != 1500 {
		t.Errorf("default profile, %s=1500: the simulator serves %d users, want 1500", EnvAgents, n)
	}
	if n := len(r.clients()); n != 4 {
		t.Errorf("default profile, 4 clients needed: %d clients, want 4", n)
	}

	p := gcsim.DefaultProfile()
	p.Directory.Agents = 30
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := writeProfile(path, p); err != nil {
		t.Fatal(err)
	}
	t.Setenv(harness.EnvProfile, path)
	t.Setenv(EnvAgents, "40")
	_, msg = newRigOrFatal(t, rigOptions{})
	for _, want := range []string{path, `directory.agents is 30`, `set "directory": {"agents": 40}`} {
		if !strings.Contains(msg, want) {
			t.Errorf("profile with 30 agents, %s=40: failure %q, want it to contain %q", EnvAgents, msg, want)
		}
	}
	t.Setenv(EnvAgents, "30")
	_, msg = newRigOrFatal(t, rigOptions{clients: four})
	if want := `has 2 OAuth client(s) in "clients", the scenario needs 4: the test needs four; add 2 client(s)`; !strings.Contains(msg, want) {
		t.Errorf("profile with 2 clients, 4 needed: failure %q, want it to contain %q", msg, want)
	}
}
