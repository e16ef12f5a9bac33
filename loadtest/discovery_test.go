//go:build load

package loadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/discover"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/result"
)

// probes lists the route families the load scenarios use, each with a
// harmless request (GET where the family has one); the call and recording
// probes act on conversation conv.
func probes(userID, conv string) []discover.Probe {
	get := func(family, route string, q url.Values, params ...string) discover.Probe {
		return discover.Probe{Family: family, Request: func() *api.Request {
			return &api.Request{Op: "probe " + family, Method: http.MethodGet, Route: route, Query: q, Params: params}
		}}
	}
	page1 := url.Values{"pageSize": {"1"}}
	details, _ := json.Marshal(map[string]any{"interval": "2026-01-01T00:00:00.000Z/2026-01-02T00:00:00.000Z", "paging": map[string]int{"pageSize": 1}})
	recording, _ := json.Marshal(map[string]string{"recordingState": "active"})
	return []discover.Probe{
		get(genesys.FamilyQueues, routeQueues, page1),
		get(genesys.FamilyUsers, "/api/v2/users", page1),
		get(genesys.FamilyPresenceDefinitions, "/api/v2/presence/definitions", nil), // unpaged
		get(genesys.FamilyPresence, "/api/v2/users/{id}/presences/{source}", nil, userID, "purecloud"),
		get(genesys.FamilyRoutingStatus, "/api/v2/users/{id}/routingstatus", nil, userID),
		get(genesys.FamilyNotifications, routeChannels, nil),
		{Family: genesys.FamilyAnalytics, Request: func() *api.Request {
			return &api.Request{Op: "probe " + genesys.FamilyAnalytics, Method: http.MethodPost, Route: routeDetails, Body: details}
		}},
		{Family: genesys.FamilyRecordingState, Write: true, Request: func() *api.Request {
			return &api.Request{Op: "probe " + genesys.FamilyRecordingState, Method: http.MethodPatch, Route: routeRecording,
				Params: []string{conv}, Body: recording}
		}},
		// Placing calls needs a user token; reading one does not.
		{Family: genesys.FamilyCalls, Write: true, Request: func() *api.Request {
			return &api.Request{Op: "probe " + genesys.FamilyCalls, Method: http.MethodGet, Route: "/api/v2/conversations/calls/{id}", Params: []string{conv}}
		}},
	}
}

// TestRateLimitDiscovery answers: for each route family the scenarios use,
// what limit applies, with which window and scope? It probes them with
// harness/discover: the organization's limits API and one request per
// family first, then one fresh token per family until the first 429, and
// one request per scope question. On the simulator it checks that it
// recovered the profile exactly; on a tenant it writes its findings as a
// gcsim profile (CXLOAD_PROFILE_OUT).
func TestRateLimitDiscovery(t *testing.T) {
	shortParallel(t)
	runDiscovery(t, rigOptions{}, true)
}

// runDiscovery runs the discovery on the rig's target and returns its
// findings by key.
func runDiscovery(t *testing.T, o rigOptions, check bool) map[string]*discover.Limit {
	k := loadKnobs(t)
	if !k.Shard.Whole() && k.Shard.Index != 1 {
		t.Skipf("discovery runs on shard 1 only (this is %v): its experiments depend on fresh buckets, which shards would share", k.Shard)
	}
	o.readOnly = true
	r := newRig(t, o)
	rec := r.recorder(t)
	clients := r.tg.Config.Clients
	probeMax := pick(k.ProbeMax, 1000, 1000)
	families := len(probes("", ""))
	p := plan(1, 50, time.Minute, int64(families*(probeMax+2)+50))
	// Discovery's size is its probes', not its rate's or duration's.
	p.Sizing = fmt.Sprintf("%s=%d (each of the %d route families' probes costs up to %s+2 requests, a fresh token's requests until its first 429)",
		EnvProbeMax, probeMax, families, EnvProbeMax)
	r.tg.Start(p)
	// A token per experiment: the discovery takes fresh agents' tokens
	// from len(clients) on; agent 0 serves the setup requests below.
	pool := r.tg.NewPool(auth.Config{Policy: auth.PerAgent, Agents: 4096, CreateLimit: 0})
	c := r.tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: 4, Limits: r.limits(false), Retry: api.RetryPolicy{MaxAttempts: 1}})
	ctx := r.ctx

	// What the organization declares.
	declared, unread, err := discover.DeclaredLimits(ctx, c)
	if err != nil {
		t.Fatalf("reading the organization's limits: %v", err)
	}
	if unread != "" {
		logf(t, "%s", unread)
	}
	setup := int64(1 + len(namespacesOf(declared)))
	userID := gcsim.UserID(0)
	if r.tenant() {
		var body struct {
			Entities []struct {
				ID string `json:"id"`
			} `json:"entities"`
		}
		if _, err := c.DoJSON(ctx, &api.Request{Op: "users.list", Route: "/api/v2/users", Query: url.Values{"pageSize": {"1"}}}, nil, &body); err != nil || len(body.Entities) == 0 {
			t.Fatalf("reading one user of the organization: %v", err)
		}
		setup++
		userID = body.Entities[0].ID
	}
	// The call and recording probes (not sent on a tenant) need a call.
	conv := "00000000-0000-4000-c000-0000000fffff"
	if !r.tenant() {
		calls, err := r.placeCalls(ctx, c, []agent.User{{ID: userID}}, []int{0})
		if err != nil {
			t.Fatalf("putting a call on %s for the call and recording probes: %v", userID, err)
		}
		conv = calls[0]
	}
	res, err := discover.Run(ctx, discover.Config{Client: c, Clients: len(clients), Probes: probes(userID, conv), Declared: declared,
		MaxRequests: probeMax, SkipWrites: r.tenant()})
	if err != nil {
		t.Fatalf("%v (%s caps the requests per family)", err, EnvProbeMax)
	}

	doc := rec.Snapshot()
	summary := []string{fmt.Sprintf("Discovery on %s: %d requests in all (limits API, then one fresh token per route family, then one request per scope question).",
		r.where(), setup+res.Requests)}
	for _, l := range res.Summary() {
		// Each limit is a finding of the document: not repeated here.
		if !strings.HasPrefix(l, "Limit ") && !strings.HasPrefix(l, "Unnamed limit ") {
			summary = append(summary, l)
		}
	}
	if unread != "" {
		summary = append(summary, unread)
	}
	if r.real != nil {
		for _, l := range res.Limits {
			if pl, ok := profileLimit(r.real, l.Key); ok && pl.Hypothetical {
				summary = append(summary, fmt.Sprintf("%s is HYPOTHETICAL: a limit of this simulator profile that no Genesys source documents, found here to show how discovery finds such a limit.", l.Key))
			}
		}
		summary = append(summary, "Simulator settings that Genesys does not document: "+strings.Join(r.real.Settings(), "; ")+".")
	}
	if check && r.prof != nil && r.ext == "" {
		checkProfile(t, res, r.real)
	}
	out := k.ProfileOut
	if out == "" && r.tenant() {
		out = filepath.Join(os.TempDir(), "cxload-discovered-"+r.tg.Region()+".json")
	}
	if out != "" {
		base := gcsim.DefaultProfile()
		if r.tenant() {
			base.Org = gcsim.Org{ID: "tenant-" + r.tg.Region(), Name: "limits discovered on " + r.tg.Region()}
		}
		if err := writeProfile(out, res.Profile(base)); err != nil {
			t.Errorf("writing the discovered profile to %s (%s): %v", out, EnvProfileOut, err)
		} else {
			summary = append(summary, fmt.Sprintf("Wrote the findings as a simulator profile to %s: run the scenarios on it with %s=%s.", out, "CXLOAD_PROFILE", out))
		}
	}
	doc.Findings = discoveryFindings(res, len(clients))
	triggered := 0
	for _, l := range res.Limits {
		if l.Triggered {
			triggered++
		}
	}
	limits := "limits"
	if triggered == 1 {
		limits = "limit"
	}
	head := []string{fmt.Sprintf("Discovery on %s established %d %s by experiment and listed %d more as declared only; each finding above gives its figure, window, scope and what to change.",
		r.where(), triggered, limits, len(res.Limits)-triggered)}
	finish(t, doc, head, summary,
		bound{"count(errors) == 0", "a probe that fails other than with a 429 answers no question"},
		bound{"count(transport errors) == 0", "the target must be reachable for every probe"})
	found := map[string]*discover.Limit{}
	for _, l := range res.Limits {
		if l.Key != "" {
			found[l.Key] = l
		}
	}
	return found
}

// discoveryFindings are the findings of a discovery, for its result
// document: one per limit, with its evidence and what to change with a pool
// over clients OAuth clients.
func discoveryFindings(res *discover.Result, clients int) []result.Finding {
	var out []result.Finding
	for _, l := range res.Limits {
		method := "found by experiment"
		switch {
		case l.Key == "":
			method = "found by experiment: " + discover.UnnamedNote
		case !l.Triggered:
			method = "declared only: listed by the limits API, not reached by the probes"
		}
		ev := slices.Clone(l.Evidence)
		if f := l.FilledEvidence(); f != "" {
			ev = append(ev, f)
		}
		f := result.Finding{Key: l.Key, Namespace: l.Namespace, Allowed: l.Allowed, WindowSeconds: l.Window.Seconds(), WindowSource: string(l.WindowSource),
			Scope: string(l.Scope), Families: l.Families, Method: method, Hidden: l.Hidden, Evidence: ev}
		if l.Key != "" && l.Allowed > 0 {
			f.Advice = capacity.Advice(api.Bucket{Key: l.Key, Namespace: l.Namespace, Scope: l.Scope, Allowed: l.Allowed, Window: l.Window, Families: l.Families}, clients)
		}
		out = append(out, f)
	}
	return out
}

func namespacesOf(bs []api.Bucket) map[string]bool {
	m := map[string]bool{}
	for _, b := range bs {
		m[b.Namespace] = true
	}
	return m
}

// checkProfile compares the findings with the simulator's profile: every
// limit a probe can reach before the token limit (hidden ones included) must
// be recovered exactly: key, allowed, window, scope and families.
func checkProfile(t testing.TB, res *discover.Result, p *gcsim.Profile) {
	t.Helper()
	probed := map[string]bool{}
	for _, pr := range probes("", "") {
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
		got, _ := res.Limit(l.Key)
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
		if got.Scope != l.Scope {
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

// writeProfile writes p as indented JSON after checking that gcsim reads it back.
func writeProfile(path string, p *gcsim.Profile) error { return discover.WriteProfile(path, p) }
