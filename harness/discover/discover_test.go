package discover_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/discover"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const keyQueuesHidden = "test.routing.queues.rate.per.minute"

// tokenLimit is a small per-token limit, so that a probe reaches it in a
// few requests.
var tokenLimit = gcsim.Limit{Key: genesys.KeyClientCredentialsToken, Namespace: genesys.NamespacePlatformAPI, Scope: genesys.ScopeToken,
	Grant: "client_credentials", Allowed: 20, Window: gcsim.Duration(time.Minute)}

// probes are two GET requests: queues and users.
func probes() []discover.Probe {
	page1 := url.Values{"pageSize": {"1"}}
	get := func(family, route string) discover.Probe {
		return discover.Probe{Family: family, Request: func() *api.Request {
			return &api.Request{Op: "probe " + family, Method: http.MethodGet, Route: route, Query: page1}
		}}
	}
	return []discover.Probe{get(genesys.FamilyQueues, "/api/v2/routing/queues"), get(genesys.FamilyUsers, "/api/v2/users")}
}

// serve starts the simulator with limits on 127.0.0.1, wrapping its handler
// with wrap when set, and returns it with a client that sends each agent's
// requests on its own token of the profile's two OAuth clients, with no
// client-side limiting and no retries.
func serve(t *testing.T, limits []gcsim.Limit, wrap func(http.Handler) http.Handler) (*gcsim.Server, *api.Client) {
	t.Helper()
	p := gcsim.DefaultProfile()
	p.Limits = limits
	return serveProfile(t, p, wrap, false)
}

// serveProfile is serve with a whole profile, on an in-memory pipe (for a
// testing/synctest bubble) when pipe is set.
func serveProfile(t *testing.T, p *gcsim.Profile, wrap func(http.Handler) http.Handler, pipe bool) (*gcsim.Server, *api.Client) {
	t.Helper()
	srv := gcsim.NewUnstartedServer(p)
	if wrap != nil {
		srv.Config.Handler = wrap(srv.Config.Handler)
	}
	if pipe {
		srv.Listener.Close()
		srv.Listener = gcsim.NewPipeListener()
	}
	srv.Start()
	t.Cleanup(srv.Close)
	var creds []auth.Credentials
	for _, c := range p.Clients {
		creds = append(creds, auth.Credentials{ClientID: c.ID, Secret: string(c.Secret)})
	}
	pool, err := auth.NewPool(auth.Config{TokenURL: srv.URL() + "/oauth/token", Clients: creds, Policy: auth.PerAgent, Agents: 64,
		HTTPClient: srv.Client(), CreateLimit: rate.Inf})
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Limits: api.ObserveLimits(nil), Retry: api.RetryPolicy{MaxAttempts: 1},
		HTTPClient: srv.Client(), Agents: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return srv, c
}

// declared reads the organization's limits, as a caller would.
func declared(t *testing.T, c *api.Client) []api.Bucket {
	t.Helper()
	bs, err := api.FetchLimits(context.Background(), c)
	if err != nil {
		t.Fatalf("FetchLimits: %v", err)
	}
	return bs
}

// want is a limit as the test expects it found.
type want struct {
	allowed  int
	window   time.Duration
	source   discover.WindowSource
	scope    genesys.Scope
	families string // comma-separated; "" for every route
	hidden   bool
}

func check(t *testing.T, res *discover.Result, key string, w want) {
	t.Helper()
	l, ok := res.Limit(key)
	if !ok {
		t.Errorf("limit %s not found; summary:\n%s", key, strings.Join(res.Summary(), "\n"))
		return
	}
	got := want{l.Allowed, l.Window, l.WindowSource, l.Scope, strings.Join(l.Families, ","), l.Hidden}
	if got != w || !l.Triggered {
		t.Errorf("limit %s = %+v (triggered %v), want %+v, triggered; evidence: %s", key, got, l.Triggered, w, strings.Join(l.Evidence, "; "))
	}
}

// A per-token limit: a fresh token of the same client passes, and every
// family is rejected on the exhausted token.
func TestRunFindsTokenLimit(t *testing.T) {
	_, c := serve(t, []gcsim.Limit{tokenLimit}, nil)
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: probes(), Declared: declared(t, c)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The documented 429 ("Retry the request in [N] seconds") has no
	// window: it comes from the first response, whose headers showed the
	// fresh bucket.
	check(t, res, genesys.KeyClientCredentialsToken, want{20, time.Minute, discover.WindowFromFirstReset, genesys.ScopeToken, "", false})
	// Users' fresh token fills the same visible bucket: it stops at the
	// headers instead of a second 429.
	if l, _ := res.Limit(genesys.KeyClientCredentialsToken); l == nil || strings.Join(l.Filled, ",") != genesys.FamilyUsers {
		t.Errorf("Filled = %v, want [%s]", l.Filled, genesys.FamilyUsers)
	}
	if len(res.Limits) != 1 || len(res.Skipped) != 0 {
		t.Errorf("Limits %d, Skipped %v; want 1 limit and nothing skipped; summary:\n%s", len(res.Limits), res.Skipped, strings.Join(res.Summary(), "\n"))
	}
	// 20 accepted + the 429, two scope questions (same client, families), 20 more for users.
	if res.Requests != 21+2+20 {
		t.Errorf("Requests = %d, want 43", res.Requests)
	}
}

// A hidden per-endpoint limit: not listed, no headers; another client's
// token passes, other families pass.
func TestRunFindsHiddenEndpointLimit(t *testing.T) {
	hidden := gcsim.Limit{Key: keyQueuesHidden, Namespace: genesys.NamespacePlatformAPI, Scope: genesys.ScopeEndpointUser,
		Allowed: 5, Window: gcsim.Duration(30 * time.Second), Families: []string{genesys.FamilyQueues}, Hidden: true}
	_, c := serve(t, []gcsim.Limit{tokenLimit, hidden}, nil)
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: probes(), Declared: declared(t, c)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// A hidden limit's bucket shows in no header: its window comes from
	// Retry-After on the 429.
	check(t, res, keyQueuesHidden, want{5, 30 * time.Second, discover.WindowFromRetryAfter, genesys.ScopeEndpointUser, genesys.FamilyQueues, true})
	check(t, res, genesys.KeyClientCredentialsToken, want{20, time.Minute, discover.WindowFromFirstReset, genesys.ScopeToken, "", false})
	sum := strings.Join(res.Summary(), "\n")
	if !strings.Contains(sum, "Limit "+keyQueuesHidden+" HIDDEN") {
		t.Errorf("summary does not call %s hidden:\n%s", keyQueuesHidden, sum)
	}

	// The findings as a profile, in the order found: gcsim reads it back
	// with both limits.
	path := filepath.Join(t.TempDir(), "found.json")
	if err := discover.WriteProfile(path, res.Profile(nil)); err != nil {
		t.Fatalf("WriteProfile: %v", err)
	}
	p, err := gcsim.LoadProfile(path)
	if err != nil {
		t.Fatalf("LoadProfile(WriteProfile's file): %v", err)
	}
	var got []string
	for _, l := range p.Limits {
		if l.Scope != genesys.ScopeClient && l.Grant != "password" {
			got = append(got, l.Key+"/"+string(l.Scope)+"/"+strings.Join(l.Families, ",")+"/"+l.Window.Std().String())
		}
	}
	if w := keyQueuesHidden + "/endpoint-user/" + genesys.FamilyQueues + "/30s " + genesys.KeyClientCredentialsToken + "/token//1m0s"; strings.Join(got, " ") != w {
		t.Errorf("profile request limits = %v, want %s", got, w)
	}
}

// A 429 without limit.key (a gateway's) is reported as an unnamed limit,
// and the discovery goes on to the next family.
func TestRunReportsUnnamedLimit(t *testing.T) {
	var queues atomic.Int64
	gateway := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v2/routing/queues" && queues.Add(1) > 3 {
				w.Header().Set("Retry-After", "10")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"message":"Too Many Requests","status":429}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	_, c := serve(t, []gcsim.Limit{tokenLimit}, gateway)
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: probes(), Declared: declared(t, c)})
	if err != nil {
		t.Fatalf("Run: %v; want the unnamed limit reported and the discovery to go on", err)
	}
	if len(res.Limits) == 0 || res.Limits[0].Key != "" {
		t.Fatalf("first limit %+v, want the unnamed one", res.Limits)
	}
	u := res.Limits[0]
	if u.Allowed != 3 || strings.Join(u.Families, ",") != genesys.FamilyQueues || u.Scope != "" || u.WindowSource != discover.WindowFromRetryAfter || u.Window != 10*time.Second {
		t.Errorf("unnamed limit = %+v, want 3 requests on %s, scope unknown, window 10s from Retry-After", u, genesys.FamilyQueues)
	}
	// The next family still ran into the token limit.
	check(t, res, genesys.KeyClientCredentialsToken, want{20, time.Minute, discover.WindowFromFirstReset, genesys.ScopeToken, genesys.FamilyUsers, false})
	if u.Hidden {
		t.Errorf("unnamed limit marked Hidden, the mark of a Genesys limit key missing from the limits API: %+v", u)
	}
	sum := strings.Join(res.Summary(), "\n")
	for _, want := range []string{
		"Unnamed limit (a 429 without limit.key, probably from an edge or gateway in front of the API, not a Genesys platform limit key; counted, never fatal, not written to the profile): 3 per 10s",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	for _, l := range res.Summary() {
		if strings.HasPrefix(l, "Unnamed limit") && strings.Contains(l, "HIDDEN") {
			t.Errorf("the unnamed limit reads as a hidden Genesys limit: %s", l)
		}
	}
	for _, l := range res.Profile(nil).Limits {
		if l.Key == "" {
			t.Errorf("profile holds the unnamed limit: %+v", l)
		}
	}
}

// The older 429 form states the window in its message: it is taken from
// there, and said so.
func TestRunWindowFromOldMessage(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Limits = []gcsim.Limit{tokenLimit}
	p.RateLimitMessage = "window"
	_, c := serveProfile(t, p, nil, false)
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: probes()[:1], Declared: declared(t, c)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	check(t, res, genesys.KeyClientCredentialsToken, want{20, time.Minute, discover.WindowFromMessage, genesys.ScopeToken, "", false})
}

// A declared token-creation limit (the simulator's unconfirmed switch, in
// namespace auth.api) that no probe reaches is reported per OAuth client
// on the token endpoint.
func TestRunDeclaredTokenCreation(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Limits = []gcsim.Limit{tokenLimit}
	p.Unconfirmed.TokenCreationPerMinute = 300
	_, c := serveProfile(t, p, nil, false)
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: probes()[:1], Declared: declared(t, c)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	l, ok := res.Limit(gcsim.KeyTokenCreate)
	if !ok || l.Triggered || l.Scope != genesys.ScopeClient || strings.Join(l.Families, ",") != genesys.FamilyOAuth || l.WindowSource != discover.WindowDeclaredOnly {
		t.Errorf("limit %s = %+v, want declared only, scope client, on %s", gcsim.KeyTokenCreate, l, genesys.FamilyOAuth)
	}
}

// noRetryAfter drops Retry-After from 429s, as a target might.
func noRetryAfter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(dropRetryAfter{w}, r)
	})
}

type dropRetryAfter struct{ http.ResponseWriter }

func (d dropRetryAfter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		d.Header().Del("Retry-After")
	}
	d.ResponseWriter.WriteHeader(code)
}

// A hidden limit whose 429 has no window in its message, no Retry-After
// and no header of its own: without Config.WindowWait its window is an
// assumption, said so; with it, the discovery re-probes until the count
// restarts and times the window (on a fake clock).
func TestRunTimesWindow(t *testing.T) {
	hidden := gcsim.Limit{Key: keyQueuesHidden, Namespace: "routing", Scope: genesys.ScopeEndpointUser,
		Allowed: 5, Window: gcsim.Duration(30 * time.Second), Families: []string{genesys.FamilyQueues}, Hidden: true}
	for _, tc := range []struct {
		name   string
		wait   time.Duration
		window time.Duration
		source discover.WindowSource
	}{
		{"not timed", 0, time.Minute, discover.WindowAssumed},
		{"timed", 2 * time.Minute, 30 * time.Second, discover.WindowFromTiming},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := gcsim.DefaultProfile()
				p.Limits = []gcsim.Limit{tokenLimit, hidden}
				_, c := serveProfile(t, p, noRetryAfter, true)
				res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: probes(),
					Declared: declared(t, c), WindowWait: tc.wait})
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				check(t, res, keyQueuesHidden, want{5, tc.window, tc.source, genesys.ScopeEndpointUser, genesys.FamilyQueues, true})
				if sum := strings.Join(res.Summary(), "\n"); !strings.Contains(sum, "window from "+string(tc.source)) {
					t.Errorf("summary does not say where the window comes from (%s):\n%s", tc.source, sum)
				}
			})
		})
	}
}

// A probe refused at once (e.g. a permission the client lacks) is skipped
// with its status; a write probe is not sent when SkipWrites is set.
func TestRunSkips(t *testing.T) {
	_, c := serve(t, []gcsim.Limit{tokenLimit}, nil)
	ps := append(probes(),
		discover.Probe{Family: genesys.FamilyPresence, Request: func() *api.Request {
			return &api.Request{Op: "probe presence", Route: "/api/v2/users/{id}/presences/{source}", Params: []string{"no-such-user", "purecloud"}}
		}},
		discover.Probe{Family: genesys.FamilyCalls, Write: true, Request: func() *api.Request {
			t.Error("a write probe was sent with SkipWrites")
			return &api.Request{Op: "probe calls", Method: http.MethodPost, Route: "/api/v2/conversations/calls"}
		}})
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: ps, SkipWrites: true, MaxRequests: 50})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := strings.Join(res.Skipped, " | ")
	if !strings.Contains(got, genesys.FamilyCalls) || !strings.Contains(got, genesys.FamilyPresence+" (its probe was answered 404") {
		t.Errorf("Skipped = %s; want %s (write) and %s (404)", got, genesys.FamilyCalls, genesys.FamilyPresence)
	}
}

// MaxRequests bounds a family's requests when no 429 comes.
func TestRunMaxRequests(t *testing.T) {
	_, c := serve(t, nil, nil)
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 1, Probes: probes()[:1], MaxRequests: 7})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Requests != 7 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "no 429 within 7 requests") {
		t.Errorf("Requests %d, Skipped %v; want 7 and the family skipped for no 429", res.Requests, res.Skipped)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	_, c := serve(t, nil, nil)
	tests := []struct {
		name string
		cfg  discover.Config
		want string
	}{
		{"no client", discover.Config{Clients: 1}, "Config.Client is nil"},
		{"no OAuth clients", discover.Config{Client: c}, "Config.Clients = 0"},
		{"probe without request", discover.Config{Client: c, Clients: 1, Probes: []discover.Probe{{Family: genesys.FamilyQueues}}}, "Config.Probes[0]: want a Family and a Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := discover.Run(context.Background(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// The headers name no bucket: each family's are labelled with the limit of
// their figure, and a declared limit no probe reached, whose bucket a
// probe's headers described, takes its window from their reset (at least
// it) instead of an assumption alone.
func TestRunLabelsHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		// Every token of a client shares 100 per minute; each token 20.
		client := gcsim.Limit{Key: genesys.KeyOrgAppUser, Namespace: genesys.NamespacePlatformAPI, Scope: genesys.ScopeClientUser,
			Allowed: 100, Window: gcsim.Duration(time.Minute)}
		p.Limits = []gcsim.Limit{tokenLimit, client}
		_, c := serveProfile(t, p, nil, true)
		ps := probes()
		// A third family, on the first client again (probes alternate
		// clients): its fresh token meets that client's bucket, already
		// counting the queues probe's requests.
		ps = append(ps, discover.Probe{Family: genesys.FamilyPresenceDefinitions, Request: func() *api.Request {
			return &api.Request{Op: "probe presencedefinitions", Method: http.MethodGet, Route: "/api/v2/presence/definitions"}
		}})
		res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: ps, Declared: declared(t, c)})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		sum := strings.Join(res.Summary(), "\n")
		for fam, want := range map[string]string{
			genesys.FamilyQueues:              "count 1, reset 1m0s, describing the bucket of " + genesys.KeyClientCredentialsToken,
			genesys.FamilyPresenceDefinitions: ", describing the bucket of " + genesys.KeyOrgAppUser,
		} {
			if !strings.Contains(res.Headers[fam], want) {
				t.Errorf("Headers[%s] = %q, want it to contain %q; summary:\n%s", fam, res.Headers[fam], want, sum)
			}
		}
		l, ok := res.Limit(genesys.KeyOrgAppUser)
		if !ok || l.Triggered || l.WindowSource != discover.WindowDeclaredReset || l.Window != time.Minute ||
			!strings.Contains(strings.Join(l.Evidence, "; "), "window at least 1m0s: the first headers of "+genesys.FamilyPresenceDefinitions+" described this bucket") {
			t.Errorf("limit %s = %+v, want declared only, window 1m0s from %q with the headers as evidence; summary:\n%s", genesys.KeyOrgAppUser, l, discover.WindowDeclaredReset, sum)
		}
		if l, _ := res.Limit(genesys.KeyClientCredentialsToken); l == nil || !strings.Contains(l.FilledEvidence(), "filled this limit's bucket") || !strings.Contains(l.FilledEvidence(), "allowed 20") {
			t.Errorf("Filled evidence of %s does not say which bucket was filled: %+v", genesys.KeyClientCredentialsToken, l)
		}
	})
}
