//go:build load

package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// probe is the cheapest request of one route family that the scenarios use.
type probe struct {
	Family string
	// Write marks requests with side effects on a tenant (placing calls,
	// changing recordings): they are not sent to a tenant.
	Write bool
	Req   func() *api.Request
}

// probes lists the route families the load scenarios use, each with a
// harmless request (GET where the family has one).
func probes(userID string) []probe {
	get := func(family, route string, q url.Values, params ...string) probe {
		return probe{Family: family, Req: func() *api.Request {
			return &api.Request{Op: "probe " + family, Method: http.MethodGet, Route: route, Query: q, Params: params}
		}}
	}
	page1 := url.Values{"pageSize": {"1"}}
	details, _ := json.Marshal(map[string]any{"interval": "2026-01-01T00:00:00.000Z/2026-01-02T00:00:00.000Z", "paging": map[string]int{"pageSize": 1}})
	recording, _ := json.Marshal(map[string]string{"recordingState": "active"})
	call, _ := json.Marshal(map[string]string{"callUserId": userID})
	return []probe{
		get(genesys.FamilyQueues, routeQueues, page1),
		get(genesys.FamilyUsers, "/api/v2/users", page1),
		get(genesys.FamilyPresenceDefinitions, "/api/v2/presencedefinitions", page1),
		get(genesys.FamilyPresence, "/api/v2/users/{id}/presences/{source}", nil, userID, "purecloud"),
		get(genesys.FamilyRoutingStatus, "/api/v2/users/{id}/routingstatus", nil, userID),
		get(genesys.FamilyNotifications, routeChannels, nil),
		{Family: genesys.FamilyAnalytics, Req: func() *api.Request {
			return &api.Request{Op: "probe " + genesys.FamilyAnalytics, Method: http.MethodPost, Route: routeDetails, Body: details}
		}},
		{Family: genesys.FamilyRecordingState, Write: true, Req: func() *api.Request {
			return &api.Request{Op: "probe " + genesys.FamilyRecordingState, Method: http.MethodPatch, Route: routeRecording,
				Params: []string{"00000000-0000-4000-c000-0000000fffff"}, Body: recording}
		}},
		{Family: genesys.FamilyCalls, Write: true, Req: func() *api.Request {
			return &api.Request{Op: "probe " + genesys.FamilyCalls, Method: http.MethodPost, Route: routeCalls, Body: call}
		}},
	}
}

// foundLimit is one limit the discovery established, with its evidence.
type foundLimit struct {
	Key, Namespace string
	Scope          string   // token, client-user, endpoint-user, org (profile terms)
	Families       []string // nil: every route family probed
	Allowed        int
	Window         time.Duration
	WindowSource   string // "429 message", "Retry-After", "limits API (assumed 60s)"
	Hidden         bool   // not listed by the organization's limits API
	Triggered      bool   // reached by experiment (else: declared only)
	Evidence       []string
	filled         []string // families whose fresh token filled this (visible) bucket first
}

// discovery is the state of one discovery run.
type discovery struct {
	t        testing.TB
	r        *rig
	c        *api.Client
	clients  int
	nextSlot []int // per client: the next unused pool slot
	probeMax int
	requests int64
	declared map[string]api.Bucket
	limits   map[string]*foundLimit
	order    []string
	headers  map[string]string // family → what its first response's headers said
	skipped  []string
}

// token returns a fresh pool slot (a token never used) of client ci.
func (d *discovery) token(ci int) int {
	s := d.nextSlot[ci]
	d.nextSlot[ci] += d.clients
	return s
}

func (d *discovery) send(ctx context.Context, slot int, p probe) (*api.Response, error) {
	d.requests++
	resp, err := d.c.Agent(slot).Do(ctx, p.Req())
	if err != nil {
		return resp, err
	}
	if resp.Status != http.StatusTooManyRequests && (resp.Status < 200 || resp.Status > 299) {
		return resp, &probeError{family: p.Family, status: resp.Status,
			msg: fmt.Sprintf("probe of %s: %s %s answered %d: %s", p.Family, resp.Result.Method, resp.Result.Route, resp.Status, truncateBody(resp.Body))}
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

func truncateBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// rejection is a 429 seen on a family, with what it said.
type rejection struct {
	family  string
	slot    int
	client  int
	ok      int       // requests this fresh token got through on the family before it
	first   time.Time // the first of them (the bucket's window opened then, if it was fresh)
	at      time.Time
	body    genesys.LimitBody
	retryIn time.Duration
}

// TestRateLimitDiscovery answers: for each route family the scenarios use,
// what limit applies, with which window and scope? Headers first (the
// organization's limits API and one request per family), experiments
// second: one fresh token per family sends until the first 429 or until the
// headers say the visible bucket is full; each 429 names its limit, and one
// request per question settles its scope (another token of the same client,
// a token of another client, another family). On the simulator it checks
// that it recovered the profile exactly; on a tenant it writes its findings
// as a gcsim profile (CXLOAD_PROFILE_OUT).
func TestRateLimitDiscovery(t *testing.T) {
	shortParallel(t)
	runDiscovery(t, rigOptions{}, true)
}

func runDiscovery(t *testing.T, o rigOptions, check bool) map[string]*foundLimit {
	k := loadKnobs(t)
	if !k.Shard.Whole() && k.Shard.Index != 1 {
		t.Skipf("discovery runs on shard 1 only (this is %v): its experiments depend on fresh buckets, which shards would share", k.Shard)
	}
	r := newRig(t, o)
	rec := r.recorder(t)
	clients := r.clients()
	probeMax := pick(k.ProbeMax, 1000, 1000)
	d := &discovery{t: t, r: r, clients: len(clients), probeMax: probeMax, limits: map[string]*foundLimit{},
		headers: map[string]string{}, declared: map[string]api.Bucket{}}
	for i := range clients {
		d.nextSlot = append(d.nextSlot, i+len(clients)) // slots 0..clients-1 serve the setup requests
	}
	r.start(plan(1, 50, time.Minute, int64(len(probes(""))*(probeMax+2)+50)))
	pool := r.pool(auth.Config{Policy: auth.PerAgent, Agents: 4096, CreateLimit: 0})
	d.c = r.client(api.Config{Tokens: pool, Recorder: rec, Agents: 4, Limits: r.limits(false), Retry: api.RetryPolicy{MaxAttempts: 1}})
	ctx := r.ctx

	// Headers first: what the organization declares.
	if got, err := api.FetchLimits(ctx, d.c); err != nil {
		t.Fatalf("reading the organization's limits: %v", err)
	} else {
		d.requests += int64(1 + len(namespacesOf(got)))
		for _, b := range got {
			d.declared[b.Key] = b
		}
	}
	userID := gcsim.UserID(0)
	if r.tenant() {
		var body struct {
			Entities []struct {
				ID string `json:"id"`
			} `json:"entities"`
		}
		if _, err := d.c.DoJSON(ctx, &api.Request{Op: "users.list", Route: "/api/v2/users", Query: url.Values{"pageSize": {"1"}}}, nil, &body); err != nil || len(body.Entities) == 0 {
			t.Fatalf("reading one user of the organization: %v", err)
		}
		d.requests++
		userID = body.Entities[0].ID
	}
	ps := probes(userID)
	visibleFull := map[int]string{} // allowed figure → key already established for it
	for i, p := range ps {
		if p.Write && r.tenant() {
			d.skipped = append(d.skipped, p.Family)
			continue
		}
		rj, full, err := d.exhaust(ctx, i%d.clients, p, visibleFull)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if rj != nil {
			// Settle it at once, before another family's probe touches
			// the buckets the experiments rely on.
			if err := d.settle(ctx, *rj, ps); err != nil {
				t.Fatalf("%v", err)
			}
			if _, ok := d.declared[rj.body.Key]; ok && rj.body.Value > 0 {
				visibleFull[rj.body.Value] = rj.body.Key
			}
		} else if full != "" {
			d.addFamily(full, p.Family)
		}
	}
	// Declared limits that no experiment reached.
	for _, key := range sortedKeys(d.declared) {
		if _, ok := d.limits[key]; ok || key == genesys.KeyRequestBytesMax {
			continue
		}
		b := d.declared[key]
		l := &foundLimit{Key: key, Namespace: b.Namespace, Scope: string(genesys.ScopeOfKey(key)), Allowed: b.Allowed, Window: api.DefaultWindow,
			WindowSource: "limits API (window assumed 60s: not reached)", Evidence: []string{"listed by the organization's limits API; not reached by the probes"}}
		switch {
		case b.Namespace == "oauth" || strings.HasPrefix(key, "oauth."):
			l.Scope, l.Families = "client", []string{genesys.FamilyOAuth}
			l.Evidence = append(l.Evidence, "token creation per OAuth client (namespace oauth); the token pool paces itself below it")
		case key == genesys.KeyToken:
			l.Evidence = append(l.Evidence, "counts user tokens; the probes use client-credentials tokens, which count under "+genesys.KeyClientCredentialsToken)
		}
		d.limits[key] = l
		d.order = append(d.order, key)
	}

	doc := rec.Snapshot()
	summary := d.summary()
	if check && r.prof != nil && r.ext == "" {
		d.checkProfile(t, r.real)
	}
	out := k.ProfileOut
	if out == "" && r.tenant() {
		out = filepath.Join(os.TempDir(), "cxload-discovered-"+r.region()+".json")
	}
	if out != "" {
		if err := writeProfile(out, d.profile(r)); err != nil {
			t.Errorf("writing the discovered profile to %s (%s): %v", out, EnvProfileOut, err)
		} else {
			summary = append(summary, fmt.Sprintf("Wrote the findings as a simulator profile to %s: run the scenarios on it with %s=%s.", out, "CXLOAD_PROFILE", out))
		}
	}
	finish(t, doc, summary, "count(errors) == 0", "count(transport errors) == 0")
	return d.limits
}

func namespacesOf(bs []api.Bucket) map[string]bool {
	m := map[string]bool{}
	for _, b := range bs {
		m[b.Namespace] = true
	}
	return m
}

// exhaust sends p's request on a fresh token of client ci until the first
// 429, or until the headers say the visible bucket is full and that bucket's
// figure is already established (visibleFull), or probeMax requests.
func (d *discovery) exhaust(ctx context.Context, ci int, p probe, visibleFull map[int]string) (*rejection, string, error) {
	slot := d.token(ci)
	var first time.Time
	ok := 0
	for n := 0; n < d.probeMax; n++ {
		resp, err := d.send(ctx, slot, p)
		var pe *probeError
		if n == 0 && errors.As(err, &pe) && pe.status >= 400 && pe.status < 500 {
			// E.g. a tenant's OAuth client without the permission: say so, go on.
			d.skipped = append(d.skipped, fmt.Sprintf("%s (its probe was answered %d: %s)", p.Family, pe.status, truncateBody(resp.Body)))
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		rl := resp.Result.RateLimit
		if n == 0 {
			first = resp.Result.Start
			if rl.Allowed > 0 {
				d.headers[p.Family] = fmt.Sprintf("inin-ratelimit-allowed %d, count %d, reset %v", rl.Allowed, rl.Count, rl.Reset)
			} else {
				d.headers[p.Family] = "no inin-ratelimit headers"
			}
		}
		if resp.Status == http.StatusTooManyRequests {
			lb, _ := genesys.ParseLimitBody(resp.Body)
			if lb.Key == "" {
				return nil, "", fmt.Errorf("probe of %s: a 429 without limit.key in its body: %s", p.Family, truncateBody(resp.Body))
			}
			return &rejection{family: p.Family, slot: slot, client: ci, ok: ok, first: first, at: resp.Result.Start,
				body: lb, retryIn: rl.RetryAfter}, "", nil
		}
		ok++
		if rl.Allowed > 0 && rl.Count >= rl.Allowed {
			if key, known := visibleFull[rl.Allowed]; known {
				return nil, key, nil
			}
		}
	}
	d.skipped = append(d.skipped, fmt.Sprintf("%s (no 429 within %d requests, %s)", p.Family, d.probeMax, EnvProbeMax))
	return nil, "", nil
}

func (d *discovery) addFamily(key, family string) {
	l := d.limits[key]
	if l == nil {
		return
	}
	if l.Families != nil && !contains(l.Families, family) {
		l.Families = append(l.Families, family)
		sort.Strings(l.Families)
	}
	l.filled = append(l.filled, family)
}

// settle establishes the limit behind one 429: figure and window from the
// 429 itself, scope by experiment, families by one request per family.
func (d *discovery) settle(ctx context.Context, rj rejection, ps []probe) error {
	key := rj.body.Key
	if l := d.limits[key]; l != nil {
		if l.Families != nil && !contains(l.Families, rj.family) {
			l.Families = append(l.Families, rj.family)
			sort.Strings(l.Families)
		}
		l.Evidence = append(l.Evidence, fmt.Sprintf("%s: its fresh token was rejected by it after %d requests", rj.family, rj.ok))
		return nil
	}
	byFamily := map[string]probe{}
	for _, p := range ps {
		byFamily[p.Family] = p
	}
	l := &foundLimit{Key: key, Namespace: rj.body.Namespace, Triggered: true}
	_, l.Hidden = d.declared[key]
	l.Hidden = !l.Hidden
	l.Allowed = rj.body.Value
	src := "429 body limit.value"
	if l.Allowed == 0 {
		l.Allowed, src = rj.ok, "requests accepted on a fresh bucket before the 429"
	}
	l.Evidence = append(l.Evidence, fmt.Sprintf("%s: a fresh token got %d requests through, then 429 with limit.key %s (allowed %d, from the %s)",
		rj.family, rj.ok, key, l.Allowed, src))
	switch {
	case rj.body.MsgWindow > 0:
		l.Window, l.WindowSource = rj.body.MsgWindow, "429 message"
		l.Evidence = append(l.Evidence, fmt.Sprintf("window: the 429 message says %q", rj.body.Message))
	case rj.retryIn > 0:
		w := rj.at.Add(rj.retryIn).Sub(rj.first).Round(time.Second)
		l.Window, l.WindowSource = w, "Retry-After"
		l.Evidence = append(l.Evidence, fmt.Sprintf("window: the bucket opened at the token's first request; Retry-After %v at %v later gives about %v",
			rj.retryIn, rj.at.Sub(rj.first).Round(time.Millisecond), w))
	default:
		l.Window, l.WindowSource = api.DefaultWindow, "assumed (no message, no Retry-After)"
	}
	p := byFamily[rj.family]
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
	perToken := !is429(resp)
	exhausted := same // a token whose bucket of this limit is full
	scope := ""
	switch {
	case perToken:
		scope, exhausted = string(genesys.ScopeToken), rj.slot
		l.Evidence = append(l.Evidence, "scope: another token of the same OAuth client passed (status "+fmt.Sprint(resp.Status)+") → per token")
	case d.clients < 2:
		scope = string(genesys.ScopeOfKey(key))
		l.Evidence = append(l.Evidence, "scope: another token of the same OAuth client was rejected too; with one OAuth client, client and organization scopes look the same: taking the key's documented scope "+scope)
	default:
		other := d.token((rj.client + 1) % d.clients)
		resp, err := d.send(ctx, other, p)
		if err != nil {
			return err
		}
		if is429(resp) {
			scope = string(genesys.ScopeOrg)
			l.Evidence = append(l.Evidence, "scope: a token of another OAuth client was rejected too → organization")
		} else {
			scope = "client"
			l.Evidence = append(l.Evidence, "scope: another token of the same OAuth client was rejected, a token of another client passed → per OAuth client (client credentials: the client is the user)")
		}
	}
	// Families: one request per other family with the exhausted identity.
	fams := []string{rj.family}
	var passed []string
	for _, q := range ps {
		if q.Family == rj.family || (q.Write && d.r.tenant()) {
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
	switch scope {
	case "client":
		if all {
			scope = string(genesys.ScopeClientUser)
		} else {
			scope = string(genesys.ScopeEndpointUser)
		}
	}
	l.Scope = scope
	d.limits[key] = l
	d.order = append(d.order, key)
	return nil
}

// summary reports each finding with its evidence.
func (d *discovery) summary() []string {
	out := []string{fmt.Sprintf("Discovery on %s: %d requests in all (limits API, then one fresh token per route family, then one request per scope question).",
		d.r.where(), d.requests)}
	for _, fam := range sortedKeys(d.headers) {
		out = append(out, fmt.Sprintf("Headers of %s: %s.", fam, d.headers[fam]))
	}
	for _, key := range d.order {
		l := d.limits[key]
		fams := "every route"
		if l.Families != nil {
			fams = strings.Join(l.Families, ", ")
		}
		state := "found by experiment"
		if !l.Triggered {
			state = "declared only"
		}
		hidden := ""
		if l.Hidden {
			hidden = " HIDDEN (not in the limits API nor in the headers)"
		}
		ev := l.Evidence
		if len(l.filled) > 0 {
			ev = append(ev, fmt.Sprintf("%s: their fresh tokens filled this visible bucket (headers count = allowed) before any other limit", strings.Join(l.filled, ", ")))
		}
		out = append(out, fmt.Sprintf("Limit %s%s: %d per %s (window from %s), scope %s, on %s; %s. Evidence: %s.",
			key, hidden, l.Allowed, secs(l.Window), l.WindowSource, l.Scope, fams, state, strings.Join(ev, "; ")))
	}
	if len(d.skipped) > 0 {
		out = append(out, "Not established: "+strings.Join(d.skipped, ", ")+" (on a tenant, families whose requests have side effects are not probed).")
	}
	return out
}

// checkProfile compares the findings with the simulator's profile: every
// limit a probe can reach before the token limit (hidden ones included) must
// be recovered exactly: key, allowed, window, scope and families.
func (d *discovery) checkProfile(t testing.TB, p *gcsim.Profile) {
	t.Helper()
	probed := map[string]bool{}
	for _, pr := range probes("") {
		probed[pr.Family] = true
	}
	tokenAllowed := 0
	for _, l := range p.Limits {
		if l.Scope == genesys.ScopeToken && !l.Disabled && len(l.Families) == 0 && l.Grant != "password" {
			tokenAllowed = l.Allowed
		}
	}
	for _, l := range p.Limits {
		if l.Disabled || l.Scope == genesys.ScopeClient || l.Grant == "password" {
			continue
		}
		var fams []string
		for _, f := range l.Families {
			if probed[f] {
				fams = append(fams, f)
			}
		}
		if len(l.Families) > 0 && len(fams) == 0 {
			continue
		}
		reachable := l.Allowed <= tokenAllowed || l.Scope == genesys.ScopeToken
		got := d.limits[l.Key]
		if !reachable {
			if !l.Hidden && (got == nil || got.Allowed != l.Allowed) {
				t.Errorf("discovery: limit %s (%d per %v) is declared by the simulator but was not reported from the limits API", l.Key, l.Allowed, l.Window.Std())
			}
			continue
		}
		if got == nil {
			t.Errorf("discovery: the profile's limit %s (%d per %v, scope %s, families %v, hidden %v) was not found; a probe should reach it before the token limit of %d",
				l.Key, l.Allowed, l.Window.Std(), l.Scope, l.Families, l.Hidden, tokenAllowed)
			continue
		}
		sort.Strings(fams)
		var problems []string
		if got.Allowed != l.Allowed {
			problems = append(problems, fmt.Sprintf("allowed %d, want %d", got.Allowed, l.Allowed))
		}
		if got.Window != l.Window.Std() {
			problems = append(problems, fmt.Sprintf("window %v, want %v", got.Window, l.Window.Std()))
		}
		if got.Scope != string(l.Scope) {
			problems = append(problems, fmt.Sprintf("scope %s, want %s", got.Scope, l.Scope))
		}
		if strings.Join(got.Families, ",") != strings.Join(fams, ",") {
			problems = append(problems, fmt.Sprintf("families %v, want %v", got.Families, fams))
		}
		if got.Hidden != l.Hidden {
			problems = append(problems, fmt.Sprintf("hidden %v, want %v", got.Hidden, l.Hidden))
		}
		if len(problems) > 0 {
			t.Errorf("discovery: limit %s was not recovered exactly: %s (evidence: %s)", l.Key, strings.Join(problems, "; "), strings.Join(got.Evidence, "; "))
		}
	}
}

// profile turns the findings into a simulator profile: the default
// organization (clients, directory, notifications) with the discovered
// limits, so that later runs on the simulator meet the tenant's limits.
func (d *discovery) profile(r *rig) *gcsim.Profile {
	p := gcsim.DefaultProfile()
	if r.tenant() {
		p.Org = gcsim.Org{ID: "tenant-" + r.region(), Name: "limits discovered on " + r.region()}
	}
	var limits []gcsim.Limit
	for _, l := range p.Limits {
		if l.Scope == genesys.ScopeClient || l.Grant == "password" {
			limits = append(limits, l) // token creation and user tokens: not probed
		}
	}
	for _, key := range d.order {
		f := d.limits[key]
		ns := f.Namespace
		if ns == "" {
			ns = genesys.NamespacePlatformAPI
		}
		l := gcsim.Limit{Key: key, Namespace: ns, Scope: genesys.Scope(f.Scope), Allowed: f.Allowed, Window: gcsim.Duration(f.Window),
			Families: f.Families, Hidden: f.Hidden}
		if l.Scope == genesys.ScopeToken && len(l.Families) == 0 {
			l.Grant = "client_credentials"
		}
		if have(limits, key) {
			continue // kept from the default profile (token creation, user tokens)
		}
		if l.Scope == "" || l.Window <= 0 || l.Allowed <= 0 {
			continue
		}
		limits = append(limits, l)
	}
	p.Limits = limits
	return p
}

func have(ls []gcsim.Limit, key string) bool {
	for _, l := range ls {
		if l.Key == key {
			return true
		}
	}
	return false
}

// writeProfile writes p as indented JSON after checking that gcsim reads it back.
func writeProfile(path string, p *gcsim.Profile) error {
	data, err := p.MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := gcsim.ParseProfile(data); err != nil {
		return fmt.Errorf("the profile does not read back: %v", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	return os.WriteFile(path, out.Bytes(), 0o644)
}
