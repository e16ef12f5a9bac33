package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// Plan is what a run intends to do, printed before it starts and checked
// against the request budget.
type Plan struct {
	Agents   int
	Rate     float64       // target requests per second, all agents together
	Duration time.Duration // planned length
	// Requests is the estimated total; zero means Rate × Duration.
	Requests int64
	// Sizing names the knobs that size Requests, and what each costs, for a
	// plan not sized by its rate and duration (e.g. "CXLOAD_PROBE_MAX=1000:
	// up to 1002 requests per route family, 9 families"). An over-budget
	// refusal offers it instead of "lower the rate or duration".
	Sizing string
}

// Estimate returns Requests, or Rate × Duration (rounded) when Requests is
// not positive. The product saturates at math.MaxInt64 instead of
// overflowing, and a negative or NaN rate or a negative duration counts as
// zero, so an absurd plan estimates huge, never negative.
func (p Plan) Estimate() int64 {
	if p.Requests > 0 {
		return p.Requests
	}
	return RequestsAt(p.Rate, p.Duration)
}

// RequestsAt is rate requests per second for d, rounded to the nearest
// request, saturated to [0, math.MaxInt64]: NaN, negative rates and
// negative durations give 0, a product beyond int64 gives math.MaxInt64.
func RequestsAt(rate float64, d time.Duration) int64 {
	if !(rate > 0) || d <= 0 { // !(rate > 0): NaN too
		return 0
	}
	n := rate * d.Seconds()
	if n >= math.MaxInt64 { // float64(math.MaxInt64) is 2⁶³: converting it would overflow
		return math.MaxInt64
	}
	return int64(n + 0.5)
}

// check refuses a plan no run can mean: a negative or non-finite number,
// or one over the bounds of a run (MaxAgents, MaxRate, MaxDuration).
func (p Plan) check() error {
	var errs []error
	if p.Agents < 0 || p.Agents > MaxAgents {
		errs = append(errs, fmt.Errorf("%d agents: want 0 to %d (harness.MaxAgents)", p.Agents, MaxAgents))
	}
	if !(p.Rate >= 0 && p.Rate <= MaxRate) {
		errs = append(errs, fmt.Errorf("rate %g req/s: want 0 to %d (harness.MaxRate)", p.Rate, MaxRate))
	}
	if p.Duration < 0 || p.Duration > MaxDuration {
		errs = append(errs, fmt.Errorf("duration %v: want 0 to %v (harness.MaxDuration)", p.Duration, MaxDuration))
	}
	if p.Requests < 0 {
		errs = append(errs, fmt.Errorf("%d requests: want 0 (Rate × Duration) or more", p.Requests))
	}
	if len(errs) > 0 {
		return fmt.Errorf("harness: guard: refusing the plan: %w", errors.Join(errs...))
	}
	return nil
}

// String is the one-line plan the guard prints.
func (p Plan) String() string {
	rate := fmt.Sprintf("%.1f", p.Rate)
	if !(math.Abs(p.Rate) < 1e9) { // an absurd rate (refused by Start) in 7 characters, not 300
		rate = fmt.Sprintf("%g", p.Rate)
	}
	agents := "agents"
	if p.Agents == 1 {
		agents = "agent"
	}
	return fmt.Sprintf("plan: %d %s, target %s req/s for %v, about %d requests", p.Agents, agents, rate, p.Duration, p.Estimate())
}

// ErrStopped is wrapped by the errors of a stopped guard; the message says why.
var ErrStopped = errors.New("harness: guard stopped the run")

// Guard is the production guard of a tenant run: it refuses to start
// without approval, outside the load-test window or over budget, admits each
// request attempt against the budget, and stops the run when 429s or 5xx
// stay above their thresholds for AbortAfter. Once stopped, Admit refuses
// every attempt and Context is canceled with the verdict as its cause.
//
// A Guard implements api.Gate. It is safe for concurrent use.
type Guard struct {
	cfg    GuardConfig
	now    func() time.Time
	logf   func(format string, args ...any)
	ctx    context.Context
	cancel context.CancelCauseFunc

	used     *atomic.Int64 // shared by every guard of the run (see runBudget)
	readOnly bool          // the scenario declared no write (WithReadOnly)
	stopped  atomic.Pointer[string]
	closes   atomic.Int64 // unix ns when the load-test window closes; 0 = not checked

	mu            sync.Mutex
	binStart      time.Time // start of the current 1 s bin
	last          time.Time // the bin's latest attempt
	n, n429, n5xx int64     // attempts in the current bin
	above429      time.Time // since when the 429 share has been above its threshold
	above5xx      time.Time
	callees       map[string]bool // users and numbers calls may reach
	queues        map[string]bool // CXLOAD_QUEUES' entries and the ids they resolved to
}

// minBinSamples: a second with fewer attempts says too little to judge, so
// the bin grows (up to maxBin) until it has this many.
const (
	minBinSamples = 5
	maxBin        = 10 * time.Second
)

// NewGuard returns a guard for cfg; zero abort thresholds and AbortAfter
// take their defaults (DefaultAbort429Rate, DefaultAbort5xxRate,
// DefaultAbortAfter). now is the clock (nil: time.Now); logf receives the
// plan and the verdict (nil: discard).
func NewGuard(cfg GuardConfig, now func() time.Time, logf func(format string, args ...any)) *Guard {
	if now == nil {
		now = time.Now
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if cfg.AbortAfter <= 0 {
		cfg.AbortAfter = DefaultAbortAfter
	}
	if cfg.Abort429Rate <= 0 {
		cfg.Abort429Rate = DefaultAbort429Rate
	}
	if cfg.Abort5xxRate <= 0 {
		cfg.Abort5xxRate = DefaultAbort5xxRate
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	g := &Guard{cfg: cfg, now: now, logf: logf, ctx: ctx, cancel: cancel, used: new(atomic.Int64), callees: map[string]bool{}, queues: map[string]bool{}}
	for _, c := range cfg.Fixtures.CallTargets {
		g.callees[c] = true
	}
	for _, q := range cfg.Fixtures.Queues {
		g.queues[q] = true
	}
	return g
}

// Check refuses a run without approval or budget, or outside the load-test
// window (23:00–05:00 in the region's zone) unless AllowOutsideWindow.
func (g *Guard) Check() error {
	var errs []error
	if g.cfg.Approval == "" {
		errs = append(errs, fmt.Errorf("harness: guard: no approval reference: set %s to the Genesys ticket that approved this load test", EnvApproval))
	}
	if g.cfg.Budget <= 0 {
		errs = append(errs, fmt.Errorf("harness: guard: no request budget: set %s", EnvRequestBudget))
	}
	now := g.now()
	if err := InWindow(now, g.cfg.Location); err != nil && !g.cfg.AllowOutsideWindow {
		errs = append(errs, fmt.Errorf("%w; wait for the window or set %s=1 if Genesys approved another time", err, EnvAllowOutsideWindow))
	} else if !g.cfg.AllowOutsideWindow {
		g.closes.Store(WindowCloses(now, g.cfg.Location).UnixNano())
	}
	return errors.Join(errs...)
}

// WindowCloses returns when the load-test window that contains now closes
// (05:00 local time in loc); now must be inside the window.
func WindowCloses(now time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	l := now.In(loc)
	end := time.Date(l.Year(), l.Month(), l.Day(), WindowEnd, 0, 0, 0, loc)
	if l.Hour() >= WindowEnd {
		end = time.Date(l.Year(), l.Month(), l.Day()+1, WindowEnd, 0, 0, 0, loc)
	}
	return end
}

// InWindow reports nil if now, in loc, lies in Genesys' load-test window
// [23:00, 05:00), else an error with the local time and when the window opens.
func InWindow(now time.Time, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	l := now.In(loc)
	h := l.Hour()
	if h >= WindowStart || h < WindowEnd {
		return nil
	}
	open := time.Date(l.Year(), l.Month(), l.Day(), WindowStart, 0, 0, 0, loc)
	return fmt.Errorf("harness: guard: it is %s in %s, outside the load-test window %02d:00–%02d:00 (opens in %v)",
		l.Format("15:04"), loc, WindowStart, WindowEnd, open.Sub(l).Round(time.Minute))
}

// Start checks the plan against the budget and prints it. It returns an
// error if the estimate exceeds the budget or Check fails.
func (g *Guard) Start(p Plan) error {
	used := min(g.used.Load(), g.cfg.Budget)
	spent := ""
	if used > 0 {
		spent = fmt.Sprintf(" for the whole run, %d used by earlier scenarios", used)
	}
	g.logf("cxload guard: approval %s; budget %s%s; abort if 429 > %.1f%% or 5xx > %.1f%% for %v; %s; %s",
		g.cfg.Approval, g.cfg.budgetWords(), spent, 100*g.cfg.Abort429Rate, 100*g.cfg.Abort5xxRate, g.cfg.AbortAfter, p, g.touches())
	if err := g.Check(); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	if est := p.Estimate(); est > g.cfg.Budget-used {
		left := ""
		if used > 0 {
			left = fmt.Sprintf("; %d of it used by earlier scenarios of this run, %d left", used, g.cfg.Budget-used)
		}
		lower := "lower the rate or duration"
		if p.Sizing != "" {
			lower = "lower " + p.Sizing
		}
		return fmt.Errorf("harness: guard: the plan needs about %d requests, over the budget of %d (%s%s): %s, run fewer scenarios, or raise the budget",
			est, g.cfg.Budget, EnvRequestBudget, left, lower)
	}
	return nil
}

// budgetWords says the budget this guard enforces: with shards, this
// shard's share of the whole run's.
func (c GuardConfig) budgetWords() string {
	if c.Shard == "" || c.BudgetTotal == c.Budget {
		return fmt.Sprintf("%d requests", c.Budget)
	}
	return fmt.Sprintf("%d requests (shard %s's share of %s=%d)", c.Budget, c.Shard, EnvRequestBudget, c.BudgetTotal)
}

// touches describes what the run may touch: the fixture users and queues
// (the first few and the count) and the write kinds allowed.
func (g *Guard) touches() string {
	fx := g.cfg.Fixtures
	var b strings.Builder
	switch {
	case fx.Group != "":
		fmt.Fprintf(&b, "users: members of group %s (%s)", fx.Group, EnvUsers)
	case len(fx.Users) > 0:
		fmt.Fprintf(&b, "users: %s (%s)", firstFew(fx.Users), EnvUsers)
	default:
		fmt.Fprintf(&b, "users: none (%s not set)", EnvUsers)
	}
	if len(fx.Queues) > 0 {
		fmt.Fprintf(&b, "; queues: %s (%s), no other", firstFew(fx.Queues), EnvQueues)
	} else {
		fmt.Fprintf(&b, "; queues: none (%s not set)", EnvQueues)
	}
	switch {
	case g.readOnly:
		b.WriteString("; writes: none (read-only scenario)")
	case len(fx.Writes) == 0:
		fmt.Fprintf(&b, "; writes: none allowed (%s)", EnvAllowWrites)
	default:
		fmt.Fprintf(&b, "; writes allowed: %s", strings.Join(fx.Writes, ","))
	}
	if fx.Storm {
		fmt.Fprintf(&b, "; 429 storm allowed (%s)", EnvAllowStorm)
	}
	return b.String()
}

// firstFew lists up to three items and the count.
func firstFew(items []string) string {
	const few = 3
	if len(items) <= few {
		return fmt.Sprintf("%s (%d)", strings.Join(items, ", "), len(items))
	}
	return fmt.Sprintf("%s, … (%d)", strings.Join(items[:few], ", "), len(items))
}

// AdmitRequest refuses, before its first attempt, a request that changes
// something the run has no consent for: a write kind CXLOAD_ALLOW_WRITES
// does not name (any write, in a read-only scenario), a write cxload has no
// kind for, or a call to someone who is neither a fixture user nor in
// CXLOAD_CALL_TARGETS. route is the template or the path; body is the
// request's. It implements api.RequestGate.
func (g *Guard) AdmitRequest(method, route string, body []byte) error {
	if err := g.checkQueues(method, route, body); err != nil {
		return err
	}
	kind, err := WriteKind(method, route)
	if err != nil || kind == "" {
		return err
	}
	if g.readOnly {
		return fmt.Errorf("harness: guard: %s %s is a write (%s) in a read-only scenario: it is not sent", method, route, kind)
	}
	if !slices.Contains(g.cfg.Fixtures.Writes, kind) {
		want := strings.Join(append(slices.Clone(g.cfg.Fixtures.Writes), kind), ",")
		return fmt.Errorf("harness: guard: %s %s writes %s, which %s does not allow: set %s=%s to let this run change %s on the tenant",
			method, route, kind, EnvAllowWrites, EnvAllowWrites, want, kind)
	}
	if kind == WriteCalls && strings.EqualFold(method, http.MethodPost) && familyOfPath(route) == genesys.FamilyCalls {
		return g.checkCallee(method, route, body)
	}
	return nil
}

// checkCallee refuses a call placed to anyone but a fixture user or a
// CXLOAD_CALL_TARGETS entry.
func (g *Guard) checkCallee(method, route string, body []byte) error {
	var in struct {
		CallUserID  string `json:"callUserId"`
		PhoneNumber string `json:"phoneNumber"`
		CallQueueID string `json:"callQueueId"`
	}
	_ = json.Unmarshal(body, &in)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, who := range []string{in.CallUserID, in.PhoneNumber, in.CallQueueID} {
		if who == "" {
			continue
		}
		if g.callees[who] || g.queues[who] {
			return nil
		}
		return fmt.Errorf("harness: guard: %s %s calls %q, neither a fixture user (%s, loaded with Target.Users) nor in %s: add it to %s if it is a test line",
			method, route, who, EnvUsers, EnvCallTargets, EnvCallTargets)
	}
	return fmt.Errorf("harness: guard: %s %s names no callee (callUserId, phoneNumber or callQueueId): it is not sent", method, route)
}

// checkQueues refuses a request whose body names a queue outside
// CXLOAD_QUEUES (any queue, when it is not set): a membership change, a
// subscription to a queue's topics (its calls, its members), a call placed
// or transferred to a queue, a query filtered on a queue. It sees bodies:
// a queue's id in a path reaches it only as the route's {id}.
func (g *Guard) checkQueues(method, route string, body []byte) error {
	named := queuesNamed(route, body)
	if len(named) == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, q := range named {
		if g.queues[q] {
			continue
		}
		if len(g.cfg.Fixtures.Queues) == 0 {
			return fmt.Errorf("harness: guard: %s %s names queue %s and %s is not set: on a tenant a run touches only the test queues it names; set %s to them",
				method, route, q, EnvQueues, EnvQueues)
		}
		return fmt.Errorf("harness: guard: %s %s names queue %s, not one of %s (%s): it is not sent; add it to %s if it is a test queue",
			method, route, q, EnvQueues, firstFew(g.cfg.Fixtures.Queues), EnvQueues)
	}
	return nil
}

// queuesNamed returns the queue ids a request body names: the entries of
// a membership change (PATCH /api/v2/users/{id}/queues), queue topics
// (v2.routing.queues.{id}...), queueId, callQueueId and callFromQueueId
// fields, and analytics predicates on the queueId dimension.
func queuesNamed(route string, body []byte) []string {
	if len(body) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	membership := familyOfPath(route) == genesys.FamilyUserQueues
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if m, ok := e.(map[string]any); ok && top && membership {
					id, _ := m["id"].(string)
					add(id)
				}
				walk(e, false)
			}
		case map[string]any:
			for k, e := range v {
				switch s, _ := e.(string); k {
				case "queueId", "callQueueId", "callFromQueueId":
					add(s)
				case "value":
					if d, _ := v["dimension"].(string); d == "queueId" {
						add(s)
					}
				}
				walk(e, false)
			}
		case string:
			if rest, ok := strings.CutPrefix(v, "v2.routing.queues."); ok {
				id, _, _ := strings.Cut(rest, ".")
				add(id)
			}
		}
	}
	walk(v, true)
	return out
}

// allowQueues adds the ids CXLOAD_QUEUES' entries resolved to.
func (g *Guard) allowQueues(ids ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		g.queues[id] = true
	}
}

// allowCallees adds users calls may reach (the fixture users once loaded).
func (g *Guard) allowCallees(ids ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range ids {
		g.callees[id] = true
	}
}

// Admit counts one attempt against the budget. It refuses (wrapping
// ErrStopped) once the guard has stopped, the budget is spent, or (after a
// Check inside the window, unless AllowOutsideWindow) the load-test window
// has closed.
func (g *Guard) Admit() error {
	if v := g.stopped.Load(); v != nil {
		return fmt.Errorf("%w: %s", ErrStopped, *v)
	}
	if c := g.closes.Load(); c != 0 && g.now().UnixNano() >= c {
		g.stop(fmt.Sprintf("the load-test window closed at %02d:00 %s (%s=1 allows running outside it)", WindowEnd, g.cfg.Location, EnvAllowOutsideWindow))
		return fmt.Errorf("%w: %s", ErrStopped, *g.stopped.Load())
	}
	if n := g.used.Add(1); n > g.cfg.Budget {
		g.stop(fmt.Sprintf("request budget spent: %d requests of %d (%s), by all scenarios of the run together, token requests and WebSocket connects included", g.cfg.Budget, g.cfg.Budget, EnvRequestBudget))
		v := g.stopped.Load()
		return fmt.Errorf("%w: %s", ErrStopped, *v)
	}
	return nil
}

// Done records the status of an admitted attempt (0: no response) and
// stops the run when the 429 or 5xx share has stayed above its threshold
// for AbortAfter, judged per second (or per longer span, up to 10 s, when a
// second holds fewer than 5 attempts).
func (g *Guard) Done(status int) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.binStart.IsZero() {
		g.binStart = now.Truncate(time.Second)
	}
	// A bin is judged once it spans at least a second and holds enough
	// attempts to say something, or once it spans maxBin whatever it holds:
	// a slow run that only gets 429s is stopped too.
	if span := now.Sub(g.binStart); span >= time.Second && (g.n >= minBinSamples || span >= maxBin) {
		end := now.Truncate(time.Second)
		if g.n > 0 {
			// The bin's evidence ends with its latest attempt: a silence
			// after a burst of 429s (a client waiting out Retry-After) is
			// not time spent above the threshold.
			through := g.last.Truncate(time.Second).Add(time.Second)
			if through.After(end) {
				through = end
			}
			g.judge(&g.above429, float64(g.n429)/float64(g.n), g.cfg.Abort429Rate, "429 Too Many Requests", EnvAbort429Rate, through)
			g.judge(&g.above5xx, float64(g.n5xx)/float64(g.n), g.cfg.Abort5xxRate, "5xx server errors", EnvAbort5xxRate, through)
		}
		g.binStart, g.n, g.n429, g.n5xx = end, 0, 0, 0
	}
	g.last = now
	g.n++
	switch {
	case status == 429:
		g.n429++
	case status >= 500:
		g.n5xx++
	}
}

// judge updates since (when the share went above threshold) with the bin
// [g.binStart, end) and stops the run once it has stayed above for
// AbortAfter; g.mu held.
func (g *Guard) judge(since *time.Time, share, threshold float64, what, knob string, end time.Time) {
	if share <= threshold {
		*since = time.Time{}
		return
	}
	if since.IsZero() {
		*since = g.binStart
	}
	if d := end.Sub(*since); d >= g.cfg.AbortAfter {
		g.stop(fmt.Sprintf("aborted: %s above %.1f%% of requests for %v (last %v: %.1f%%): the platform is pushing back (thresholds: %s, %s)",
			what, 100*threshold, d, end.Sub(g.binStart), 100*share, knob, EnvAbortAfter))
	}
}

func (g *Guard) stop(verdict string) {
	if g.stopped.CompareAndSwap(nil, &verdict) {
		g.logf("cxload guard: STOP: %s", verdict)
		g.cancel(fmt.Errorf("%w: %s", ErrStopped, verdict))
	}
}

// Stop stops the run with verdict (e.g. from a threshold check).
func (g *Guard) Stop(verdict string) { g.stop(verdict) }

// Context is canceled, with the verdict as its cause, when the guard stops.
func (g *Guard) Context() context.Context { return g.ctx }

// Verdict returns why the guard stopped the run, "" while it runs.
func (g *Guard) Verdict() string {
	if v := g.stopped.Load(); v != nil {
		return *v
	}
	return ""
}

// Used returns the attempts admitted so far against the budget: by every
// guard sharing it (all scenarios of the run, see Open), token requests and
// WebSocket connects included.
func (g *Guard) Used() int64 { return min(g.used.Load(), g.cfg.Budget) }

// Close releases the guard's context.
func (g *Guard) Close() { g.cancel(context.Canceled) }

// The cleanup reserve: what the restore of a run (see Target.Close and
// RestoreState) may spend, outside the run's budget, window and stop, so that
// a run the guard stopped is still put back as it was.
const (
	// CleanupTimeout bounds the restore, whatever ended the run.
	CleanupTimeout = 30 * time.Second
	// CleanupRequests is the restore's allowance of request attempts
	// (token requests included) besides CleanupPerChange per change to
	// put back.
	CleanupRequests  = 20
	CleanupPerChange = 2
)

// cleanupGate admits the restore's attempts, up to its allowance, and
// ignores the run's guard: a stopped run must still be restored.
type cleanupGate struct{ left atomic.Int64 }

// newCleanupGate returns the reserve for a restore of changes changes.
func newCleanupGate(changes int) *cleanupGate {
	g := &cleanupGate{}
	g.left.Store(CleanupRequests + CleanupPerChange*int64(changes))
	return g
}

func (g *cleanupGate) Admit() error {
	if g.left.Add(-1) < 0 {
		return errors.New("harness: restore: the cleanup reserve of requests is spent (harness.CleanupRequests + harness.CleanupPerChange per change)")
	}
	return nil
}

func (g *cleanupGate) Done(int) {}
