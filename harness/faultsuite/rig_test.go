package faultsuite

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a harness.Target on a pipe-served gcsim, for use inside a
// testing/synctest bubble, with its pool, recorder and API client.
type rig struct {
	sim  *gcsim.Server
	pool *auth.Pool
	rec  *metrics.Recorder
	api  *api.Client
}

// rigConfig configures newRig; zero fields get test defaults.
type rigConfig struct {
	profile func(p *gcsim.Profile)               // adjusts the default profile
	wrap    func(next http.Handler) http.Handler // wraps gcsim's handler (faults gcsim lacks)
	api     api.Config                           // Tokens, Recorder, Limits are set by the rig
	auth    auth.Config                          // the target fills TokenURL, Clients, HTTPClient
}

// newRig opens the embedded simulator on an in-memory pipe
// (harness.NewTarget) and builds on it a token pool of both OAuth clients,
// a recorder and an API client with client-side limiting off (the faults,
// not the limits, are under test).
func newRig(t testing.TB, cfg rigConfig) *rig {
	t.Helper()
	opts := []harness.Option{harness.WithGetenv(func(string) string { return "" }), harness.WithPipe(),
		harness.WithLogf(func(string, ...any) {})}
	if cfg.profile != nil {
		opts = append(opts, harness.WithProfileEdit(cfg.profile))
	}
	if cfg.wrap != nil {
		opts = append(opts, harness.WithSimHandler(cfg.wrap))
	}
	tg := harness.NewTarget(t, opts...)
	ac := cfg.auth
	if ac.TokensPerClient == 0 { // set TokensPerClient to choose a policy
		ac.Policy, ac.TokensPerClient = auth.PerClient, 2
	}
	if ac.CreateLimit == 0 { // auth's default pace, a whole number of ms apart (the tests' clocks stay on the ms grid)
		ac.CreateLimit = rate.Limit(auth.DefaultCreatePerMinute) / 60
	}
	pool := tg.NewPool(ac)
	rec := tg.NewRecorder()
	c := cfg.api
	c.Tokens, c.Recorder, c.Limits = pool, rec, tg.ObserveLimits()
	if c.Rand == nil {
		c.Rand = func() float64 { return 0.5 }
	}
	return &rig{sim: tg.Sim, pool: pool, rec: rec, api: tg.NewClient(c)}
}

// loopOps sums the document's operations other than the notification
// channels' REST calls.
func loopOps(doc *result.Document) *result.OpStats {
	d := *doc
	d.Operations = nil
	for _, op := range doc.Operations {
		if !strings.HasPrefix(op.Op, "channel.") {
			d.Operations = append(d.Operations, op)
		}
	}
	return d.All()
}

// warm gets the tokens of agents 0..n-1 before a load, so that token
// creation (paced per OAuth client) does not show in the load's timings.
func (r *rig) warm(t testing.TB, n int) {
	t.Helper()
	for a := range n {
		if _, err := r.pool.Token(t.Context(), a); err != nil {
			t.Fatalf("warming the pool: agent %d: %v", a, err)
		}
	}
}

// load is what a bounded request loop did, as the callers saw it.
type load struct {
	issued  int64
	results []metrics.Result // one per issued request, in no particular order
	errs    []error          // Do's errors (nil entries omitted)
	elapsed time.Duration
}

// run issues requests from agents goroutines, each at most perAgent
// requests, until deadline (a run deadline: the loop's context ends then).
// Every request is counted before it is sent; Do's Response (always
// returned for a well-formed request) supplies the result the caller saw.
func (r *rig) run(t testing.TB, agents, perAgent int, deadline time.Duration, req func(agent, i int) *api.Request) *load {
	t.Helper()
	return r.runWith(t, agents, perAgent, deadline, func(ctx context.Context, c *api.Client, a, i int) (*api.Response, error) {
		return c.Do(ctx, req(a, i))
	})
}

// runWith is run with any call of the API client (Do, GetJSON...) that
// returns its Response.
func (r *rig) runWith(t testing.TB, agents, perAgent int, deadline time.Duration, call func(ctx context.Context, c *api.Client, agent, i int) (*api.Response, error)) *load {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	var (
		mu     sync.Mutex
		out    = &load{}
		issued atomic.Int64
		wg     sync.WaitGroup
	)
	for a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := r.api.Agent(a)
			for i := range perAgent {
				if ctx.Err() != nil {
					return
				}
				issued.Add(1)
				resp, err := call(ctx, c, a, i)
				mu.Lock()
				if resp == nil {
					t.Errorf("agent %d request %d: Do returned no response (err %v): the request is unaccounted", a, i, err)
				} else {
					out.results = append(out.results, resp.Result)
				}
				if err != nil {
					out.errs = append(out.errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out.issued = issued.Load()
	out.elapsed = time.Since(start)
	return out
}

// routeCount is how many answers (any status, resets as 0) gcsim counted on
// method and route.
func routeCount(st gcsim.Stats, method, route string) int64 {
	var n int64
	for _, rs := range st.Requests {
		if rs.Method == method && rs.Route == route {
			n += rs.Count
		}
	}
	return n
}

// routeStatus is how many answers of status gcsim counted on method and route.
func routeStatus(st gcsim.Stats, method, route string, status int) int64 {
	return st.Count(method, route, status)
}

// checkAccounted checks the bookkeeping invariants of a load on one route:
// every issued request is in the recorder's document once, with the outcome
// its caller saw, failures carry a reason, the document's attempts equal the
// requests gcsim answered on the route, and the document round-trips.
// It returns the document. The notification channels' REST calls
// (notify.OpChannel*), which the loop does not issue, are left out.
// The attempts must match exactly: api.Client counts the re-sends
// net/http's Transport makes by itself when a reused connection is reset
// (see TestResetRetriesAreCounted).
func checkAccounted(t testing.TB, r *rig, l *load, method, route string) *result.Document {
	t.Helper()
	doc := r.rec.Snapshot()
	if int64(len(l.results)) != l.issued {
		t.Errorf("callers saw %d results for %d issued requests", len(l.results), l.issued)
	}
	var count, attempts int64
	for _, op := range doc.Operations {
		if strings.HasPrefix(op.Op, "channel.") {
			continue
		}
		count += op.Count
		attempts += op.Attempts
		var sum int64
		for _, n := range op.Outcomes {
			sum += n
		}
		if sum != op.Count {
			t.Errorf("op %s: outcomes %v add up to %d, count is %d", op.Op, op.Outcomes, sum, op.Count)
		}
	}
	if count != l.issued {
		t.Errorf("document counts %d requests, the loop issued %d", count, l.issued)
	}
	seen := map[string]int64{}
	// onRoute counts the attempts sent on the route; recorded all attempts
	// sent, which the document sums (a request refused before sending,
	// e.g. for want of a token, has Attempts 0 and adds none).
	var onRoute, recorded int64
	for i, res := range l.results {
		seen[res.Outcome.String()]++
		if res.Method == method && res.Route == route {
			onRoute += int64(res.Attempts)
		}
		recorded += int64(res.Attempts)
		if res.Outcome != result.OK && res.Err == "" && res.Status == 0 {
			t.Errorf("result %d: outcome %s without a reason (no Err, no status): %+v", i, res.Outcome, res)
		}
		if res.Outcome == result.OK && (res.Status < 200 || res.Status > 399) {
			t.Errorf("result %d: outcome ok with status %d", i, res.Status)
		}
	}
	all := loopOps(doc)
	for name, n := range seen {
		if got := all.Outcomes[name]; got != n {
			t.Errorf("document says %d %s, callers saw %d (document %v, callers %v)", got, name, n, all.Outcomes, seen)
		}
	}
	for name, n := range all.Outcomes {
		if n != 0 && seen[name] == 0 {
			t.Errorf("document says %d %s, callers saw none", n, name)
		}
	}
	if attempts != recorded {
		t.Errorf("document counts %d attempts, the results %d", attempts, recorded)
	}
	if got := routeCount(r.sim.Stats(), method, route); got != onRoute {
		t.Errorf("gcsim answered %d requests on %s %s, the results count %d attempts sent", got, method, route, onRoute)
	}
	data, err := doc.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	back, err := result.Decode(data)
	if err != nil {
		t.Fatalf("DecodeDocument: %v", err)
	}
	if b := loopOps(back); b.Count != count || fmt.Sprint(sortedOutcomes(b.Outcomes)) != fmt.Sprint(sortedOutcomes(all.Outcomes)) {
		t.Errorf("decoded document says %d %v, original %d %v", b.Count, b.Outcomes, count, all.Outcomes)
	}
	return doc
}

func sortedOutcomes(m map[string]int64) []string {
	var out []string
	for k, v := range m {
		if v != 0 {
			out = append(out, fmt.Sprintf("%s=%d", k, v))
		}
	}
	sort.Strings(out)
	return out
}

// checkDeadline checks that the run ended by its deadline (fake time, so
// exactly: no slack for scheduling).
func checkDeadline(t testing.TB, l *load, deadline time.Duration) {
	t.Helper()
	if l.elapsed > deadline {
		t.Errorf("the run took %v, past its %v deadline", l.elapsed, deadline)
	}
}

// errsContain reports whether some error's text contains every part.
func errsContain(errs []error, results []metrics.Result, parts ...string) bool {
	texts := make([]string, 0, len(errs)+len(results))
	for _, e := range errs {
		texts = append(texts, e.Error())
	}
	for _, r := range results {
		texts = append(texts, r.Err)
	}
next:
	for _, s := range texts {
		for _, p := range parts {
			if !strings.Contains(s, p) {
				continue next
			}
		}
		return true
	}
	return false
}

const queuesRoute = "/api/v2/routing/queues"

func getQueues(int, int) *api.Request {
	return &api.Request{Op: "queues.list", Method: http.MethodGet, Route: queuesRoute}
}

func patchPresence(agent, i int) *api.Request {
	return &api.Request{Op: "presence.set", Method: http.MethodPatch, Route: "/api/v2/users/{id}/presences/{source}",
		Params: []string{gcsim.UserID(agent), "purecloud"},
		Body:   []byte(`{"presenceDefinition":{"id":"` + gcsim.PresenceID(i%3) + `"}}`)}
}
