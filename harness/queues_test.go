package harness_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/gcsim"
)

// bodyLog records every request a stand-in gets, with its body.
type bodyLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *bodyLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		l.mu.Lock()
		l.lines = append(l.lines, fmt.Sprintf("%s %s?%s %s", r.Method, r.URL.Path, r.URL.RawQuery, body))
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *bodyLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// queueStandIn starts a stand-in of agents users, each the only member of
// its own queue (user i of queue i), whose requests and bodies go to the
// returned log; wrap, if set, serves before the simulator.
func queueStandIn(t *testing.T, agents int, wrap func(http.Handler) http.Handler) (*gcsim.Server, *bodyLog) {
	t.Helper()
	p := gcsim.DefaultProfile()
	p.Directory.Agents, p.Directory.Queues = agents, agents
	sim := gcsim.NewUnstartedServer(p)
	log := &bodyLog{}
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(h)
	}
	sim.Config.Handler = log.wrap(h)
	sim.Start()
	t.Cleanup(sim.Close)
	return sim, log
}

// A tenant run whose CXLOAD_QUEUES names a subset of the organization's
// queues (one by name, one by id) readies its agents on those queues only:
// it joins the fixture queue a user had left, and never sends a request
// naming another queue (a membership change, a subscription to its calls);
// the guard refuses those before they are sent. The plan lists the
// queues, and the join is put back at Close.
func TestTenantFixtureQueuesOnly(t *testing.T) {
	sim, log := queueStandIn(t, 8, nil)
	users := []string{gcsim.UserID(2), gcsim.UserID(3)}
	fixture := []string{gcsim.QueueID(2), gcsim.QueueID(3)}
	obs := observer(t, sim)
	if _, err := obs.SendJSON(t.Context(), http.MethodPatch, "/api/v2/users/{id}/queues", []map[string]any{{"id": fixture[0], "joined": false}}, nil, users[0]); err != nil {
		t.Fatal(err)
	}
	var plan []string
	e := standInEnv(map[string]string{harness.EnvUsers: writeFile(t, "users.txt", strings.Join(users, "\n")),
		harness.EnvQueues: "queue 003, " + fixture[1], harness.EnvAllowWrites: "presence,queues", harness.EnvStateDir: t.TempDir()})
	tg, c := openStandIn(t, sim, e, harness.WithLogf(func(f string, a ...any) { plan = append(plan, fmt.Sprintf(f, a...)) }))
	ctx := t.Context()
	if want := "queues: queue 003, " + fixture[1] + " (2) (CXLOAD_QUEUES), no other"; !strings.Contains(strings.Join(plan, "\n"), want) {
		t.Errorf("plan:\n%s\nwant it to list the queues: %q", strings.Join(plan, "\n"), want)
	}
	us, err := tg.Users(ctx, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tg.Queues(ctx, c, us)
	if err != nil {
		t.Fatalf("Queues: %v", err)
	}
	if !slices.Equal(ids, fixture) {
		t.Errorf("Queues = %v, want %v", ids, fixture)
	}
	if !readUser(t, obs, users[0]).Joined[fixture[0]] {
		t.Errorf("user %s has not joined its fixture queue after Queues", users[0])
	}

	other := gcsim.QueueID(5)
	_, err = c.SendJSON(ctx, http.MethodPatch, "/api/v2/users/{id}/queues", []map[string]any{{"id": other, "joined": true}}, nil, users[0])
	if err == nil || !strings.Contains(err.Error(), "names queue "+other+", not one of CXLOAD_QUEUES") {
		t.Errorf("joining queue %s outside CXLOAD_QUEUES: %v, want the guard's refusal", other, err)
	}
	var ch struct{ ID string }
	if _, err := c.SendJSON(ctx, http.MethodPost, "/api/v2/notifications/channels", nil, &ch); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendJSON(ctx, http.MethodPut, "/api/v2/notifications/channels/{id}/subscriptions",
		[]map[string]string{{"id": "v2.routing.queues." + other + ".conversations.calls"}}, nil, ch.ID)
	if err == nil || !strings.Contains(err.Error(), "names queue "+other) {
		t.Errorf("subscribing to the calls of queue %s outside CXLOAD_QUEUES: %v, want the guard's refusal", other, err)
	}
	if _, err := c.SendJSON(ctx, http.MethodPut, "/api/v2/notifications/channels/{id}/subscriptions",
		[]map[string]string{{"id": "v2.routing.queues." + fixture[0] + ".conversations.calls"}}, nil, ch.ID); err != nil {
		t.Errorf("subscribing to the calls of fixture queue %s: %v", fixture[0], err)
	}

	for _, l := range log.all() {
		for q := range 8 {
			if id := gcsim.QueueID(q); !slices.Contains(fixture, id) && strings.Contains(l, id) {
				t.Errorf("the stand-in got %q, which names queue %s outside CXLOAD_QUEUES", l, id)
			}
		}
	}
	if err := tg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if readUser(t, obs, users[0]).Joined[fixture[0]] {
		t.Errorf("user %s is still joined to %s after the run, want it put back (not joined, as before)", users[0], fixture[0])
	}
}

// Queues refuses, before any membership change, a fixture user joined to a
// queue outside CXLOAD_QUEUES, one in none of them, and a tenant run
// without CXLOAD_QUEUES, each naming the variable.
func TestTenantFixtureQueuesRefused(t *testing.T) {
	for _, tc := range []struct {
		name, queues string
		want         string
	}{
		// user 4 is joined to queue 4, which the fixture leaves out
		{"joined elsewhere", gcsim.QueueID(2), "test user " + gcsim.UserID(4) + " is joined to queue " + gcsim.QueueID(4) + " (Queue 005), which is not in CXLOAD_QUEUES"},
		// a queue name that matches none
		{"unknown name", "no such queue", `CXLOAD_QUEUES: no queue is named "no such queue"`},
		// not set
		{"unset", "<unset>", "CXLOAD_QUEUES is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, log := queueStandIn(t, 8, nil)
			e := standInEnv(map[string]string{harness.EnvUsers: writeFile(t, "users.txt", gcsim.UserID(2)+"\n"+gcsim.UserID(4)),
				harness.EnvQueues: tc.queues, harness.EnvAllowWrites: "queues", harness.EnvStateDir: t.TempDir()})
			tg, c := openStandIn(t, sim, e)
			us, err := tg.Users(t.Context(), c, 2)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tg.Queues(t.Context(), c, us); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Queues = %v, want an error containing %q", err, tc.want)
			}
			for _, l := range log.all() {
				if strings.HasPrefix(l, http.MethodPatch) {
					t.Errorf("the stand-in got %q: a refused Queues changed a membership", l)
				}
			}
		})
	}
}
