// Package discover finds the rate limits an organization enforces on the
// route families a load uses: for each limit its key, allowed count, window,
// scope and route families, whether the organization's limits API lists it,
// and the evidence for each answer.
//
// Headers come first: the limits the organization declares (Config.Declared,
// e.g. from api.FetchLimits) and what the first response of each family's
// probe says in its inin-ratelimit-* headers. Experiments come second: one
// fresh token per family sends the family's probe until the first 429, or
// until the headers say a visible bucket already established is full. Each
// 429 names its limit (limit.key) and gives its figure (limit.value); its
// window comes as described below. One request
// per question then settles the scope: another token of the same OAuth
// client (passes: per token), a token of another client (passes: per
// client; rejected: organization), and the exhausted token on every other
// family (which families share the limit).
//
// Genesys' documented 429 message ("Retry the request in [N] seconds")
// carries no window, so a window comes, in this order, from the older
// message form when a target uses it, from inin-ratelimit-reset at the
// first request of the fresh bucket, from inin-ratelimit-reset or
// Retry-After on the 429, or from timing (Config.WindowWait: re-probe until
// the count restarts); Limit.WindowSource says which.
//
// The findings read as a summary (Result.Summary) and as a simulator
// profile (Result.Profile), so that later runs on harness/gcsim meet the
// same limits.
package discover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// DefaultMaxRequests is the default of Config.MaxRequests: more than any
// documented per-token limit allows in one window.
const DefaultMaxRequests = 1000

// A Probe is the cheapest request of one route family.
type Probe struct {
	Family string // genesys.Family of the request's route
	// Write marks a request with side effects (placing a call, changing a
	// recording): it is not sent when Config.SkipWrites is set.
	Write bool
	// Request returns a new request each time it is called.
	Request func() *api.Request
}

// Config says what to probe and with what.
type Config struct {
	// Client sends the probes, each experiment with a token never used
	// before. Its token pool must give every agent its own token, agent i
	// using OAuth client i mod Clients (auth.PerAgent), with at least
	// Clients·(1+3·len(Probes)) agents; agents 0 to Clients−1 are left to the
	// caller. It should neither delay requests (api.ObserveLimits) nor retry
	// them (api.RetryPolicy{MaxAttempts: 1}): a delay or a retry hides the
	// 429 being looked for.
	Client *api.Client
	// Clients is how many OAuth clients the pool spreads its tokens over.
	// With one, client and organization scopes look the same, and a limit
	// takes its key's documented scope (genesys.ScopeOfKey).
	Clients int
	// Probes are the route families to probe, one request each.
	Probes []Probe
	// Declared are the limits the organization lists (api.FetchLimits); a
	// limit found by experiment that is not among them is hidden.
	Declared []api.Bucket
	// MaxRequests caps the requests one family's fresh token sends looking
	// for a 429; default DefaultMaxRequests.
	MaxRequests int
	// SkipWrites leaves out the probes marked Write (on a tenant).
	SkipWrites bool
	// WindowWait bounds how long the discovery may wait to time a window
	// that neither the 429 nor the headers give: it re-probes the exhausted
	// token every WindowStep until a request passes again. 0 (the default)
	// waits not at all, and such a window is assumed to be a minute, as
	// WindowSource then says.
	WindowWait time.Duration
	// WindowStep is the interval of those re-probes; default one second.
	WindowStep time.Duration
}

// A WindowSource says where a limit's window comes from.
type WindowSource string

// Where a window can come from.
const (
	// WindowFromMessage: the older 429 message form, "... [300] requests
	// within [60] seconds". Genesys' documented form has no window.
	WindowFromMessage WindowSource = "429 message"
	// WindowFromFirstReset: inin-ratelimit-reset on the first response of a
	// fresh bucket (count 1) describing this limit: the whole window.
	WindowFromFirstReset WindowSource = "inin-ratelimit-reset at the first request"
	// WindowFromReset: inin-ratelimit-reset on the 429, when it describes
	// this limit, plus the time since the bucket's first request.
	WindowFromReset WindowSource = "inin-ratelimit-reset on the 429"
	// WindowFromRetryAfter: Retry-After on the 429 plus the time since the
	// bucket's first request.
	WindowFromRetryAfter WindowSource = "Retry-After on the 429"
	// WindowFromTiming: re-probes of the exhausted token until one passed
	// (Config.WindowWait).
	WindowFromTiming WindowSource = "timing (re-probed until the count restarted)"
	// WindowAssumed: nothing gave the window; a minute is assumed.
	WindowAssumed WindowSource = "assumed (no window in the 429 message, no headers, not timed)"
	// WindowDeclaredOnly: a declared limit no probe reached; a minute is assumed.
	WindowDeclaredOnly WindowSource = "limits API (window assumed 60s: not reached)"
	// WindowDeclaredReset: a declared limit no probe reached, whose bucket
	// a probe's first headers described (not fresh): the window is at least
	// their largest inin-ratelimit-reset, and a minute if that is less.
	WindowDeclaredReset WindowSource = "limits API and inin-ratelimit-reset (at least the reset seen; 60s assumed: not reached)"
)

// UnnamedNote says what a Limit without Key is, for a report that shows it
// next to the Genesys limits: the 429s named no limit, so they most likely
// come from an edge, CDN or gateway in front of the API.
const UnnamedNote = "a 429 without limit.key, probably from an edge or gateway in front of the API, not a Genesys platform limit key; counted, never fatal, not written to the profile"

// A Limit is one limit the discovery established, with its evidence.
type Limit struct {
	// Key is the 429 body's limit.key; "" for a 429 that named no limit
	// (see UnnamedNote), whose scope is unknown.
	Key       string
	Namespace string
	Scope     genesys.Scope // "" when not established
	Families  []string      // nil: every route family probed
	Allowed   int           // requests per Window
	Window    time.Duration
	// WindowSource says where Window comes from.
	WindowSource WindowSource
	Hidden       bool // a Genesys limit key not listed by the organization's limits API (never an unnamed limit)
	Triggered    bool // reached by experiment (else: declared only)
	Evidence     []string
	// Filled lists the families whose fresh tokens filled this visible
	// bucket (headers count = allowed) before any other limit answered.
	Filled []string
}

// FilledEvidence is the evidence sentence for Filled, "" when it is empty.
func (l *Limit) FilledEvidence() string {
	if len(l.Filled) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: their fresh tokens filled this limit's bucket before any other limit answered (their inin-ratelimit-* headers, then describing this bucket, reached count = allowed %d)",
		strings.Join(l.Filled, ", "), l.Allowed)
}

// Result is what a discovery found.
type Result struct {
	// Limits in the order established: by experiment, then the declared
	// limits no experiment reached.
	Limits []*Limit
	// Headers says, by family, what the first response's
	// inin-ratelimit-* headers said and which limit's bucket they describe
	// (the headers do not name it: the limit of the same figure).
	Headers map[string]string
	// Skipped lists the families not established, each with the reason.
	Skipped []string
	// Requests counts the requests the discovery sent.
	Requests int64
}

// Limit returns the finding of key, if any.
func (r *Result) Limit(key string) (*Limit, bool) {
	for _, l := range r.Limits {
		if l.Key == key && key != "" {
			return l, true
		}
	}
	return nil, false
}

// Run discovers the limits behind cfg.Probes (see the package doc). It
// returns what it found so far along with an error when a probe is answered
// with something other than 2xx or 429 after its first request, or a request
// fails; a probe whose first request is refused with 4xx (e.g. a permission
// the OAuth client lacks) is skipped with the reason.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Client == nil {
		return nil, errors.New("discover: Config.Client is nil")
	}
	if cfg.Clients < 1 {
		return nil, fmt.Errorf("discover: Config.Clients = %d: want the number of OAuth clients of the pool, at least 1", cfg.Clients)
	}
	for i, p := range cfg.Probes {
		if p.Family == "" || p.Request == nil {
			return nil, fmt.Errorf("discover: Config.Probes[%d]: want a Family and a Request", i)
		}
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.WindowStep <= 0 {
		cfg.WindowStep = time.Second
	}
	d := &discovery{cfg: cfg, declared: map[string]api.Bucket{}, seen: map[string]seenHeaders{}, res: &Result{Headers: map[string]string{}}}
	for i := range cfg.Clients {
		d.nextSlot = append(d.nextSlot, i+cfg.Clients) // slots 0..Clients-1 are the caller's
	}
	for _, b := range cfg.Declared {
		d.declared[b.Key] = b
	}
	var probes []Probe
	for _, p := range cfg.Probes {
		if p.Write && cfg.SkipWrites {
			d.res.Skipped = append(d.res.Skipped, p.Family)
			continue
		}
		probes = append(probes, p)
	}
	d.probes = probes
	visibleFull := map[int]string{} // allowed figure → key already established for it
	for i, p := range probes {
		rj, full, err := d.exhaust(ctx, i%cfg.Clients, p, visibleFull)
		if err != nil {
			return d.res, err
		}
		switch {
		case rj != nil && rj.body.Key == "":
			if err := d.unnamed(ctx, *rj); err != nil {
				return d.res, err
			}
		case rj != nil:
			// Settle it at once, before another family's probe touches
			// the buckets the experiments rely on.
			if err := d.settle(ctx, *rj); err != nil {
				return d.res, err
			}
			if _, ok := d.declared[rj.body.Key]; ok && rj.body.Value > 0 {
				visibleFull[rj.body.Value] = rj.body.Key
			}
		case full != "":
			d.addFamily(full, p.Family)
		}
	}
	d.declaredOnly()
	d.labelHeaders()
	return d.res, nil
}

// seenHeaders are the inin-ratelimit-* headers of a family's first response.
type seenHeaders struct {
	allowed, count int
	reset          time.Duration
}

// bucketOf returns the limits whose bucket headers of allowed on family can
// describe (the headers do not name it): a limit found by experiment on
// family with that figure, else every limit with it.
func (d *discovery) bucketOf(family string, allowed int) []*Limit {
	var found, all []*Limit
	for _, l := range d.res.Limits {
		if l.Key == "" || l.Allowed != allowed {
			continue
		}
		all = append(all, l)
		if l.Triggered && (l.Families == nil || slices.Contains(l.Families, family)) {
			found = append(found, l)
		}
	}
	if len(found) > 0 {
		return found
	}
	return all
}

// labelHeaders says in Result.Headers which limit's bucket each family's
// first headers describe, and gives a declared-only limit identified by
// them the window their inin-ratelimit-reset shows: whole when the bucket
// was fresh (count 1), else at least the largest reset seen.
func (d *discovery) labelHeaders() {
	fams := make([]string, 0, len(d.seen))
	for f := range d.seen {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	type seen struct {
		family string
		seenHeaders
	}
	var order []*Limit
	best := map[*Limit]seen{} // per declared-only limit identified: the headers that say most of its window
	for _, fam := range fams {
		h := d.seen[fam]
		ls := d.bucketOf(fam, h.allowed)
		var keys []string
		for _, l := range ls {
			keys = append(keys, l.Key)
		}
		label := fmt.Sprintf("a bucket of %d that no limit found or declared has", h.allowed)
		switch {
		case len(ls) == 1:
			label = "the bucket of " + keys[0]
		case len(ls) > 1:
			label = fmt.Sprintf("the bucket of one of %s (each allows %d)", strings.Join(keys, ", "), h.allowed)
		}
		d.res.Headers[fam] = fmt.Sprintf("inin-ratelimit-allowed %d, count %d, reset %v, describing %s", h.allowed, h.count, h.reset, label)
		if len(ls) != 1 || ls[0].Triggered || h.reset <= 0 {
			continue
		}
		b, ok := best[ls[0]]
		if !ok {
			order = append(order, ls[0])
		}
		if !ok || h.count == 1 && b.count != 1 || b.count != 1 && h.reset > b.reset {
			best[ls[0]] = seen{fam, h}
		}
	}
	for _, l := range order {
		b := best[l]
		h := b.seenHeaders
		switch {
		case h.count == 1:
			l.Window, l.WindowSource = h.reset.Round(time.Second), WindowFromFirstReset
			l.Evidence = append(l.Evidence, fmt.Sprintf("window: the first headers of %s showed this bucket fresh (count 1 of %d) with inin-ratelimit-reset %v", b.family, h.allowed, h.reset))
		case l.WindowSource == WindowDeclaredOnly:
			at := h.reset.Round(time.Second)
			l.Window, l.WindowSource = max(l.Window, at), WindowDeclaredReset
			l.Evidence = append(l.Evidence, fmt.Sprintf("window at least %v: the first headers of %s described this bucket (count %d of %d) with inin-ratelimit-reset %v, the largest reset seen for it", at, b.family, h.count, h.allowed, h.reset))
		}
	}
}

// discovery is the state of one run.
type discovery struct {
	cfg      Config
	probes   []Probe
	nextSlot []int // per client: the next unused pool slot
	declared map[string]api.Bucket
	seen     map[string]seenHeaders // by family: its first response's headers
	res      *Result
}

// token returns a fresh pool slot (a token never used) of client ci.
func (d *discovery) token(ci int) int {
	s := d.nextSlot[ci]
	d.nextSlot[ci] += d.cfg.Clients
	return s
}

func (d *discovery) send(ctx context.Context, slot int, p Probe) (*api.Response, error) {
	d.res.Requests++
	resp, err := d.cfg.Client.Agent(slot).Do(ctx, p.Request())
	if err != nil {
		return resp, fmt.Errorf("discover: probe of %s: %w", p.Family, err)
	}
	if resp.Status != http.StatusTooManyRequests && (resp.Status < 200 || resp.Status > 299) {
		return resp, &probeError{family: p.Family, status: resp.Status,
			msg: fmt.Sprintf("discover: probe of %s: %s %s answered %d: %s", p.Family, resp.Result.Method, resp.Result.Route, resp.Status, truncate(resp.Body))}
	}
	return resp, nil
}

// probeError is a probe answered with a status other than 2xx or 429.
type probeError struct {
	family string
	status int
	msg    string
}

func (e *probeError) Error() string { return e.msg }

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// rejection is a 429 seen on a family, with what it said.
type rejection struct {
	family string
	slot   int
	client int
	ok     int       // requests this fresh token got through on the family before it
	first  time.Time // the first of them (the bucket's window opened then, if it was fresh)
	at     time.Time
	body   genesys.LimitBody
	raw    string
	// From the 429's headers:
	allowed           int           // inin-ratelimit-allowed
	reset, retryAfter time.Duration // inin-ratelimit-reset, Retry-After
	// From the first response's headers (the bucket they describe, fresh
	// if its count is 1):
	firstAllowed, firstCount int
	firstReset               time.Duration
}

// exhaust sends p's request on a fresh token of client ci until the first
// 429, or until the headers say the visible bucket is full and that bucket's
// figure is already established (visibleFull), or MaxRequests requests.
func (d *discovery) exhaust(ctx context.Context, ci int, p Probe, visibleFull map[int]string) (*rejection, string, error) {
	slot := d.token(ci)
	var first time.Time
	var firstAllowed, firstCount int
	var firstReset time.Duration
	ok := 0
	for n := 0; n < d.cfg.MaxRequests; n++ {
		resp, err := d.send(ctx, slot, p)
		var pe *probeError
		if n == 0 && errors.As(err, &pe) && pe.status >= 400 && pe.status < 500 {
			// E.g. a tenant's OAuth client without the permission: say so, go on.
			d.res.Skipped = append(d.res.Skipped, fmt.Sprintf("%s (its probe was answered %d: %s)", p.Family, pe.status, truncate(resp.Body)))
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		rl := resp.Result.RateLimit
		if n == 0 {
			first, firstAllowed, firstCount, firstReset = resp.Result.Start, rl.Allowed, rl.Count, rl.Reset
			if rl.Allowed > 0 {
				// Labelled with the bucket they describe once the limits are known.
				d.seen[p.Family] = seenHeaders{rl.Allowed, rl.Count, rl.Reset}
				d.res.Headers[p.Family] = fmt.Sprintf("inin-ratelimit-allowed %d, count %d, reset %v", rl.Allowed, rl.Count, rl.Reset)
			} else {
				d.res.Headers[p.Family] = "no inin-ratelimit headers"
			}
		}
		if resp.Status == http.StatusTooManyRequests {
			lb, _ := genesys.ParseLimitBody(resp.Body)
			return &rejection{family: p.Family, slot: slot, client: ci, ok: ok, first: first, at: resp.Result.Start,
				body: lb, raw: truncate(resp.Body), allowed: rl.Allowed, reset: rl.Reset, retryAfter: rl.RetryAfter,
				firstAllowed: firstAllowed, firstCount: firstCount, firstReset: firstReset}, "", nil
		}
		ok++
		if rl.Allowed > 0 && rl.Count >= rl.Allowed {
			if key, known := visibleFull[rl.Allowed]; known {
				return nil, key, nil
			}
		}
	}
	d.res.Skipped = append(d.res.Skipped, fmt.Sprintf("%s (no 429 within %d requests, Config.MaxRequests)", p.Family, d.cfg.MaxRequests))
	return nil, "", nil
}

func (d *discovery) addFamily(key, family string) {
	l, ok := d.res.Limit(key)
	if !ok {
		return
	}
	if l.Families != nil && !slices.Contains(l.Families, family) {
		l.Families = append(l.Families, family)
		sort.Strings(l.Families)
	}
	l.Filled = append(l.Filled, family)
}

// window establishes the window of the limit behind rj from what the
// responses said (see WindowSource for the order); a window none of them
// gives is WindowAssumed, for timeWindow to measure.
func window(rj rejection, allowed int) (w time.Duration, source WindowSource, evidence string) {
	// The bucket opened at the token's first request, if it was fresh.
	since := rj.at.Sub(rj.first)
	switch {
	case rj.body.MsgWindow > 0:
		return rj.body.MsgWindow, WindowFromMessage, fmt.Sprintf("window: the 429 message says %q", rj.body.Message)
	case rj.firstReset > 0 && rj.firstCount == 1 && rj.firstAllowed == allowed && allowed > 0:
		w := rj.firstReset.Round(time.Second)
		return w, WindowFromFirstReset, fmt.Sprintf("window: the first request's headers showed this bucket fresh (count 1 of %d) with inin-ratelimit-reset %v",
			allowed, rj.firstReset)
	case rj.reset > 0 && rj.allowed == allowed && allowed > 0:
		w := (since + rj.reset).Round(time.Second)
		return w, WindowFromReset, fmt.Sprintf("window: the bucket opened at the token's first request; inin-ratelimit-reset %v at %v later gives about %v",
			rj.reset, since.Round(time.Millisecond), w)
	case rj.retryAfter > 0:
		w := (since + rj.retryAfter).Round(time.Second)
		return w, WindowFromRetryAfter, fmt.Sprintf("window: the bucket opened at the token's first request; Retry-After %v at %v later gives about %v",
			rj.retryAfter, since.Round(time.Millisecond), w)
	}
	return api.DefaultWindow, WindowAssumed, ""
}

// timeWindow measures a window nothing stated: it re-probes rj's exhausted
// token every Config.WindowStep, up to Config.WindowWait, until a request
// is no longer refused by the same limit; the window is then the time from
// the token's first request to that request. It leaves l alone when
// WindowWait is 0 or the wait ends first.
func (d *discovery) timeWindow(ctx context.Context, rj rejection, l *Limit) error {
	if l.WindowSource != WindowAssumed || d.cfg.WindowWait <= 0 {
		return nil
	}
	var p Probe
	for _, q := range d.probes {
		if q.Family == rj.family {
			p = q
		}
	}
	deadline := rj.at.Add(d.cfg.WindowWait)
	t := time.NewTimer(d.cfg.WindowStep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		resp, err := d.send(ctx, rj.slot, p)
		if err != nil {
			return err
		}
		if lb, _ := genesys.ParseLimitBody(resp.Body); resp.Status != http.StatusTooManyRequests || lb.Key != rj.body.Key {
			at := resp.Result.Start
			l.Window, l.WindowSource = at.Sub(rj.first).Round(d.cfg.WindowStep), WindowFromTiming
			l.Evidence = append(l.Evidence, fmt.Sprintf("window: re-probed every %v after the 429, the exhausted token passed again %v after its first request (to within %v)",
				d.cfg.WindowStep, at.Sub(rj.first).Round(time.Millisecond), d.cfg.WindowStep))
			return nil
		}
		if !time.Now().Before(deadline) {
			l.Evidence = append(l.Evidence, fmt.Sprintf("window: still refused %v after the 429 (Config.WindowWait); a minute is assumed", d.cfg.WindowWait))
			return nil
		}
		t.Reset(d.cfg.WindowStep)
	}
}

// unnamed records a 429 without limit.key (see UnnamedNote): its figure
// and window as far as they show, its scope unknown. It is not a hidden
// Genesys limit: nothing says it is one.
func (d *discovery) unnamed(ctx context.Context, rj rejection) error {
	l := &Limit{Triggered: true, Allowed: rj.ok, Families: []string{rj.family}}
	l.Evidence = append(l.Evidence, fmt.Sprintf("%s: a fresh token got %d requests through, then a 429 without limit.key in its body (%s): no Genesys limit named, so most likely an edge or gateway in front of the API", rj.family, rj.ok, rj.raw))
	var ev string
	l.Window, l.WindowSource, ev = window(rj, 0)
	if ev != "" {
		l.Evidence = append(l.Evidence, ev)
	}
	l.Evidence = append(l.Evidence, "scope and families not established: a 429 that names no limit cannot be told from another")
	d.res.Limits = append(d.res.Limits, l)
	return d.timeWindow(ctx, rj, l)
}

// settle establishes the limit behind one 429: figure and window from the
// 429 itself, scope by experiment, families by one request per family.
func (d *discovery) settle(ctx context.Context, rj rejection) error {
	key := rj.body.Key
	if l, ok := d.res.Limit(key); ok {
		if l.Families != nil && !slices.Contains(l.Families, rj.family) {
			l.Families = append(l.Families, rj.family)
			sort.Strings(l.Families)
		}
		l.Evidence = append(l.Evidence, fmt.Sprintf("%s: its fresh token was rejected by it after %d requests", rj.family, rj.ok))
		return nil
	}
	l := &Limit{Key: key, Namespace: rj.body.Namespace, Triggered: true}
	_, declared := d.declared[key]
	l.Hidden = !declared
	l.Allowed = rj.body.Value
	src := "429 body limit.value"
	if l.Allowed == 0 {
		l.Allowed, src = rj.ok, "requests accepted on a fresh bucket before the 429"
	}
	l.Evidence = append(l.Evidence, fmt.Sprintf("%s: a fresh token got %d requests through, then 429 with limit.key %s (allowed %d, from the %s)",
		rj.family, rj.ok, key, l.Allowed, src))
	var ev string
	l.Window, l.WindowSource, ev = window(rj, l.Allowed)
	if ev != "" {
		l.Evidence = append(l.Evidence, ev)
	}
	var p Probe
	for _, q := range d.probes {
		if q.Family == rj.family {
			p = q
		}
	}
	is429 := func(resp *api.Response) bool {
		if resp.Status != http.StatusTooManyRequests {
			return false
		}
		lb, _ := genesys.ParseLimitBody(resp.Body)
		return lb.Key == key
	}
	// Another token of the same client, same family.
	same := d.token(rj.client)
	resp, err := d.send(ctx, same, p)
	if err != nil {
		return err
	}
	perClient := false
	exhausted := same // a token whose bucket of this limit is full
	switch {
	case !is429(resp):
		l.Scope, exhausted = genesys.ScopeToken, rj.slot
		l.Evidence = append(l.Evidence, "scope: another token of the same OAuth client passed (status "+strconv.Itoa(resp.Status)+") → per token")
	case d.cfg.Clients < 2:
		l.Scope = genesys.ScopeOfKey(key)
		l.Evidence = append(l.Evidence, "scope: another token of the same OAuth client was rejected too; with one OAuth client, client and organization scopes look the same: taking the key's documented scope "+string(l.Scope))
	default:
		other := d.token((rj.client + 1) % d.cfg.Clients)
		resp, err := d.send(ctx, other, p)
		if err != nil {
			return err
		}
		if is429(resp) {
			l.Scope = genesys.ScopeOrg
			l.Evidence = append(l.Evidence, "scope: a token of another OAuth client was rejected too → organization")
		} else {
			perClient = true
			l.Evidence = append(l.Evidence, "scope: another token of the same OAuth client was rejected, a token of another client passed → per OAuth client (client credentials: the client is the user)")
		}
	}
	// Families: one request per other family with the exhausted identity.
	fams := []string{rj.family}
	var passed []string
	for _, q := range d.probes {
		if q.Family == rj.family {
			continue
		}
		resp, err := d.send(ctx, exhausted, q)
		if err != nil {
			return err
		}
		if is429(resp) {
			fams = append(fams, q.Family)
		} else {
			passed = append(passed, q.Family)
		}
	}
	sort.Strings(fams)
	all := len(passed) == 0
	if all {
		l.Evidence = append(l.Evidence, "families: every other probed family was rejected by it too → every route")
	} else {
		l.Families = fams
		l.Evidence = append(l.Evidence, fmt.Sprintf("families: rejected on %s; %s passed", strings.Join(fams, ", "), strings.Join(passed, ", ")))
	}
	if perClient {
		// Per client on every route is the organization × client × user
		// limit; on some routes only, a resource limit per user.
		l.Scope = genesys.ScopeEndpointUser
		if all {
			l.Scope = genesys.ScopeClientUser
		}
	}
	d.res.Limits = append(d.res.Limits, l)
	// Last: while its window is timed, the exhausted buckets empty.
	return d.timeWindow(ctx, rj, l)
}

// declaredOnly adds the declared limits that no experiment reached.
func (d *discovery) declaredOnly() {
	keys := make([]string, 0, len(d.declared))
	for k := range d.declared {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if _, ok := d.res.Limit(key); ok || key == genesys.KeyRequestBytesMax {
			continue
		}
		b := d.declared[key]
		l := &Limit{Key: key, Namespace: b.Namespace, Scope: genesys.ScopeOfKey(key), Allowed: b.Allowed, Window: api.DefaultWindow,
			WindowSource: WindowDeclaredOnly, Evidence: []string{"listed by the organization's limits API; not reached by the probes"}}
		switch {
		case b.Scope == genesys.ScopeClient || slices.Contains(b.Families, genesys.FamilyOAuth) || b.Namespace == gcsim.NamespaceAuthAPI:
			l.Scope, l.Families = genesys.ScopeClient, []string{genesys.FamilyOAuth}
			l.Evidence = append(l.Evidence, "token creation per OAuth client; the token pool paces itself below it")
		case key == genesys.KeyToken:
			l.Evidence = append(l.Evidence, "counts user tokens; the probes use client-credentials tokens, which count under "+genesys.KeyClientCredentialsToken)
		}
		d.res.Limits = append(d.res.Limits, l)
	}
}

// Summary reports what each family's headers said, each limit with its
// evidence, and what was not established, one sentence a line.
func (r *Result) Summary() []string {
	var out []string
	fams := make([]string, 0, len(r.Headers))
	for f := range r.Headers {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	for _, fam := range fams {
		out = append(out, fmt.Sprintf("Headers of %s: %s.", fam, r.Headers[fam]))
	}
	for _, l := range r.Limits {
		fams := "every route"
		if l.Families != nil {
			fams = strings.Join(l.Families, ", ")
		}
		state := "found by experiment"
		if !l.Triggered {
			state = "declared only"
		}
		ev := l.Evidence
		if f := l.FilledEvidence(); f != "" {
			ev = append(ev[:len(ev):len(ev)], f)
		}
		if l.Key == "" {
			out = append(out, fmt.Sprintf("Unnamed limit (%s): %d per %s (window from %s), scope unknown, on %s; %s. Evidence: %s.",
				UnnamedNote, l.Allowed, secs(l.Window), l.WindowSource, fams, state, strings.Join(ev, "; ")))
			continue
		}
		hidden := ""
		if l.Hidden {
			hidden = " HIDDEN (not in the limits API nor in the headers)"
		}
		out = append(out, fmt.Sprintf("Limit %s%s: %d per %s (window from %s), scope %s, on %s; %s. Evidence: %s.",
			l.Key, hidden, l.Allowed, secs(l.Window), l.WindowSource, l.Scope, fams, state, strings.Join(ev, "; ")))
	}
	if len(r.Skipped) > 0 {
		out = append(out, "Not established: "+strings.Join(r.Skipped, ", ")+" (on a tenant, families whose requests have side effects are not probed).")
	}
	return out
}

// secs formats a window in seconds when it is whole milliseconds: "60s", "1.5s".
func secs(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	return d.String()
}

// Profile returns base (nil: gcsim.DefaultProfile()) with its request
// limits replaced by the findings, so that runs on the simulator meet the
// limits found. The base's token-creation limits (scope client) and
// user-token limits (grant password) stay, as the probes do not reach them;
// a finding without key, scope, window or figure is left out.
func (r *Result) Profile(base *gcsim.Profile) *gcsim.Profile {
	p := base
	if p == nil {
		p = gcsim.DefaultProfile()
	}
	var limits []gcsim.Limit
	for _, l := range p.Limits {
		if l.Scope == genesys.ScopeClient || l.Grant == "password" {
			limits = append(limits, l)
		}
	}
	for _, f := range r.Limits {
		if f.Key == "" || f.Scope == "" || f.Window <= 0 || f.Allowed <= 0 ||
			slices.ContainsFunc(limits, func(l gcsim.Limit) bool { return l.Key == f.Key }) {
			continue
		}
		ns := f.Namespace
		if ns == "" {
			ns = genesys.NamespacePlatformAPI
		}
		l := gcsim.Limit{Key: f.Key, Namespace: ns, Scope: f.Scope, Allowed: f.Allowed, Window: gcsim.Duration(f.Window),
			Families: f.Families, Hidden: f.Hidden}
		if l.Scope == genesys.ScopeToken && len(l.Families) == 0 {
			l.Grant = "client_credentials"
		}
		limits = append(limits, l)
	}
	p.Limits = limits
	return p
}

// WriteProfile writes p to path as indented JSON, after checking that gcsim
// reads it back.
func WriteProfile(path string, p *gcsim.Profile) error {
	data, err := p.MarshalJSON()
	if err != nil {
		return fmt.Errorf("discover: encoding the profile: %w", err)
	}
	if _, err := gcsim.ParseProfile(data); err != nil {
		return fmt.Errorf("discover: the profile does not read back: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	out.WriteByte('\n')
	return os.WriteFile(path, out.Bytes(), 0o644)
}
