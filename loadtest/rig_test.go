//go:build load

package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// quietTB drops log lines unless the run is verbose (-v, or -json which
// implies it): without -v a failing scenario prints only its failed
// thresholds, one paragraph each, not its progress lines.
type quietTB struct{ testing.TB }

// Deadline is the test's (go test -timeout), which the target keeps: it
// ends the run in time to restore what it changed.
func (q quietTB) Deadline() (time.Time, bool) {
	if d, ok := q.TB.(interface{ Deadline() (time.Time, bool) }); ok {
		return d.Deadline()
	}
	return time.Time{}, false
}

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

// rigOptions shape the simulator a scenario runs on (see the harness
// options they become). They do nothing on a tenant; an external simulator
// (CXLOAD_SIM_URL) serves its own profile.
type rigOptions struct {
	// tweak adjusts the simulator's profile (e.g. shorter heartbeats):
	// harness.WithProfileEdit.
	tweak func(p *gcsim.Profile)
	// scale divides rate-limit windows by this factor (≥ 1); 0 = 1:
	// harness.WithTimeScale (CXLOAD_TIME_SCALE wins).
	scale float64
	// profile replaces the base profile (tests of the scenarios).
	profile *gcsim.Profile
	// clients says how many OAuth clients the scenario needs under the
	// given limits, and why: harness.WithClients.
	clients func(bs []api.Bucket) (n int, why string)
	// readOnly declares a scenario that changes nothing (discovery): on a
	// tenant it needs no CXLOAD_USERS and sends no write
	// (harness.WithReadOnly).
	readOnly bool
}

// rig is a scenario's glue over its harness.Target: the knobs, quiet
// logging, and the shorthands the scenarios share.
type rig struct {
	t     testing.TB
	k     knobs
	tg    *harness.Target
	ext   string         // the external simulator's URL, "" otherwise
	hc    *http.Client   // the target's HTTP client (counted by the guard)
	prof  *gcsim.Profile // the simulator's profile as served; nil on a tenant
	real  *gcsim.Profile // the same before the window scaling
	scale float64
	ctx   context.Context
}

// newRig opens the target the environment names (harness.NewTarget: the
// embedded simulator, an external one, or a tenant behind the guard, which
// refuses to start without approval, outside the load-test window or
// without a budget).
func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	if o.profile != nil {
		skipRehearsal(t, "it runs the scenario on a gcsim profile of its own, and a rehearsal runs on the tenant stand-in's")
	}
	k := loadKnobs(t)
	opts := []harness.Option{harness.WithAgents(k.Agents), harness.WithTimeScale(o.scale)}
	if o.profile != nil {
		opts = append(opts, harness.WithProfile(o.profile))
	}
	if o.tweak != nil {
		opts = append(opts, harness.WithProfileEdit(o.tweak))
	}
	if o.clients != nil {
		opts = append(opts, harness.WithClients(o.clients))
	}
	if o.readOnly {
		opts = append(opts, harness.WithReadOnly())
	}
	tg := harness.NewTarget(quietTB{t}, opts...)
	if sim := tg.Rehearsal(); sim != nil {
		t.Cleanup(func() { checkRehearsal(t, sim, o.readOnly) })
	}
	k.Shard = tg.Config.Shard
	return &rig{t: t, k: k, tg: tg, ext: tg.Config.SimURL, hc: tg.HTTPClient(), prof: tg.Profile(), real: tg.ProfileUnscaled(),
		scale: tg.TimeScale(), ctx: tg.Context()}
}

func (r *rig) tenant() bool { return r.tg.Guard != nil }

// checkRehearsal checks the stand-in's request log after a rehearsed
// scenario (before its restore): no request names a directory user outside
// the fixture (a read-only scenario, which needs no fixture, may read
// them), and the API host was reached over HTTP/2 only.
func checkRehearsal(t testing.TB, sim *gcsim.Server, readOnly bool) {
	t.Helper()
	outside := sim.Users()[:harness.RehearsalOutsiders]
	fixtureQueue := map[string]bool{}
	for _, u := range sim.Users()[harness.RehearsalOutsiders:] {
		fixtureQueue[u.QueueID] = true
	}
	reqs := sim.TenantRequests()
	protos := map[string]int{}
	reads := 0
	for _, rq := range reqs {
		if strings.HasPrefix(rq.Host, "api.") {
			protos[rq.Proto]++
		}
		for _, u := range outside {
			if !strings.Contains(rq.Path, u.ID) && !strings.Contains(rq.Body, u.ID) && !strings.Contains(rq.Body, u.Email) {
				continue
			}
			if readOnly && rq.Method == http.MethodGet {
				reads++
				continue
			}
			t.Errorf("rehearsal: %s %s%s touches %s, a user outside the fixture", rq.Method, rq.Host, rq.Path, u.ID)
		}
		for _, u := range outside {
			if q := u.QueueID; !fixtureQueue[q] && (strings.Contains(rq.Path, q) || strings.Contains(rq.Body, q)) && !(readOnly && rq.Method == http.MethodGet) {
				t.Errorf("rehearsal: %s %s%s names queue %s, outside %s", rq.Method, rq.Host, rq.Path, q, harness.EnvQueues)
			}
		}
	}
	if reads > 0 {
		logf(t, "rehearsal: this read-only scenario read users outside the fixture %d time(s) (it needs no %s)", reads, harness.EnvUsers)
	}
	if len(protos) > 1 || (len(protos) == 1 && protos["HTTP/2.0"] == 0) {
		t.Errorf("rehearsal: the API host was reached over %v, want HTTP/2.0 only", protos)
	}
	logf(t, "rehearsal: %d requests on the stand-in (API host by protocol %v), no change to a user or queue outside the fixture; %d answered 429 by its edge",
		len(reqs), protos, sim.Edge429s())
}

// skipRehearsal skips, with the reason, a test that can only run on the
// simulator when the run is a rehearsal or the environment configures a
// tenant: a rehearsal is what a tenant would do, and a tenant cannot do this.
func skipRehearsal(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(harness.EnvRehearse) == "1" {
		t.Skipf("simulator only, not rehearsed (%s=1): %s", harness.EnvRehearse, why)
	}
	if cfg, err := harness.ResolveTarget(os.Getenv); err == nil && cfg.Kind == harness.KindTenant {
		t.Skipf("simulator only, and the environment configures tenant %s: %s", cfg.Region.Name, why)
	}
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

// limits returns a client-side limiter seeded with this shard's part of the
// known limits, enforcing or observe-only.
func (r *rig) limits(enforce bool) *api.Limits {
	if !enforce {
		return r.tg.ObserveLimits()
	}
	return r.tg.NewLimits()
}

// recorder returns a recorder for the scenario t (a subtest may differ
// from the rig's test), labelled with the shard and CXLOAD_LABELS, knowing
// the target's limits (as served).
func (r *rig) recorder(t testing.TB, opts ...metrics.Option) *metrics.Recorder {
	return r.tg.NewRecorder(append([]metrics.Option{metrics.WithScenario(t.Name())}, opts...)...)
}

// gate is the production guard as an api.Gate, nil off a tenant.
func (r *rig) gate() api.Gate {
	if r.tenant() {
		return r.tg.Guard
	}
	return nil
}

// setFaults switches the simulator's faults (and performs their actions).
func (r *rig) setFaults(f gcsim.Faults) {
	r.t.Helper()
	if err := r.tg.SetFaults(f); err != nil {
		r.t.Fatalf("loadtest: %v", err)
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

// bound is a threshold and the reason for its bound. A bound is fixed from
// the scenario's parameters (knobs, profile, plan) before the load runs,
// never from the run's outcome: TestBoundsFixedInAdvance (internal/repocheck) checks the
// scenarios' sources for that.
type bound struct{ expr, why string }

// finish checks the thresholds on doc (one error paragraph per failed one),
// records the scenario's answer as a short list (head: the finding, the
// figure, what to change) and its evidence, which ends with every threshold
// and the reason for its bound; prints them under -v and emits the document.
func finish(t testing.TB, doc *result.Document, head, evidence []string, bounds ...bound) {
	t.Helper()
	exprs := make([]string, len(bounds))
	why := make([]string, len(bounds))
	for i, b := range bounds {
		exprs[i] = b.expr
		why[i] = fmt.Sprintf("%s (%s)", b.expr, b.why)
	}
	metrics.AssertThresholds(t, doc, exprs...)
	if len(why) > 0 {
		evidence = append(evidence[:len(evidence):len(evidence)], "Thresholds, fixed before the run: "+strings.Join(why, "; ")+".")
	}
	doc.Headline = head
	doc.Summary = strings.Join(evidence, " ")
	if testing.Verbose() {
		var b strings.Builder
		b.WriteString("summary of " + t.Name() + ":\n")
		for _, f := range doc.Findings {
			b.WriteString("  - " + f.String() + "\n")
		}
		for _, l := range head {
			b.WriteString("  - " + l + "\n")
		}
		for _, l := range evidence {
			b.WriteString("    " + l + "\n")
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
