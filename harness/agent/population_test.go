package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/harness/workload"
)

// sim is a simulator on an in-memory pipe with a token pool, an API client
// and a recorder, for tests inside a synctest bubble.
type sim struct {
	srv *gcsim.Server
	api *api.Client
	rec *metrics.Recorder
}

func newSim(tb testing.TB, agents int, policy auth.Policy) *sim {
	tb.Helper()
	s, _ := newSimPool(tb, agents, policy)
	return s
}

func newSimPool(tb testing.TB, agents int, policy auth.Policy) (*sim, *auth.Pool) {
	tb.Helper()
	srv := gcsim.NewUnstartedServer(nil)
	srv.Listener.Close()
	srv.Listener = gcsim.NewPipeListener()
	srv.Start()
	pool, err := auth.NewPool(auth.Config{
		TokenURL:    srv.URL() + "/oauth/token",
		Clients:     []auth.Credentials{{ClientID: gcsim.DefaultClientID, Secret: gcsim.DefaultClientSecret}},
		Policy:      policy,
		Agents:      agents,
		HTTPClient:  srv.Client(),
		CreateLimit: rate.Inf, // the simulator allows 300 token creations per minute
	})
	if err != nil {
		tb.Fatal(err)
	}
	rec := metrics.NewRecorder()
	c, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Recorder: rec, HTTPClient: srv.Client(), Agents: agents})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Close()
		srv.Client().CloseIdleConnections()
		srv.Close()
	})
	return &sim{srv: srv, api: c, rec: rec}, pool
}

func (s *sim) population(tb testing.TB, n int, ch func(context.Context, *agent.Agent, []string) (agent.Channel, error)) *agent.Population {
	tb.Helper()
	return s.populationWith(tb, n, agent.Config{Channel: ch})
}

// populationWith loads n users into cfg and returns its population.
func (s *sim) populationWith(tb testing.TB, n int, cfg agent.Config) *agent.Population {
	tb.Helper()
	users, err := agent.LoadUsers(context.Background(), s.api, n)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.API, cfg.Users = s.api, users
	p, err := agent.NewPopulation(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Error(err)
		}
	})
	return p
}

// event is one notification as the test channel received it.
type event struct {
	Topic    string          `json:"topicName"`
	Body     json.RawMessage `json:"eventBody"`
	Metadata struct {
		CorrelationID string `json:"CorrelationId"`
	} `json:"metadata"`
}

// testChannel is a minimal notification channel on gorilla/websocket: it
// stands in for harness/notify so the population's helpers can be tested
// against the simulator's hub. One reader goroutine; Close waits for it.
type testChannel struct {
	api     *api.Client
	agent   *agent.Agent // fed every event (HandleEvent)
	id      string
	conn    *websocket.Conn
	done    chan struct{}
	mu      sync.Mutex
	events  []event
	changed chan struct{}   // signaled on every event
	expect  map[string]bool // "topic corr" → pending
	matched int
}

func (c *testChannel) Expect(corr, topic string, _ time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expect == nil {
		c.expect = map[string]bool{}
	}
	c.expect[topic+" "+corr] = true
}

func (c *testChannel) Forget(corr, topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.expect, topic+" "+corr)
}

// expectations returns how many expected events arrived and how many are pending.
func (c *testChannel) expectations() (matched, pending int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.matched, len(c.expect)
}

func openTestChannel(srv *gcsim.Server) func(context.Context, *agent.Agent, []string) (agent.Channel, error) {
	return func(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error) {
		var ch struct {
			ID         string `json:"id"`
			ConnectURI string `json:"connectUri"`
		}
		if _, err := a.API().DoJSON(ctx, &api.Request{Op: "channel.create", Method: http.MethodPost, Route: "/api/v2/notifications/channels"}, nil, &ch); err != nil {
			return nil, err
		}
		d := websocket.Dialer{NetDialContext: srv.DialContext, HandshakeTimeout: 10 * time.Second}
		conn, _, err := d.DialContext(ctx, ch.ConnectURI, nil)
		if err != nil {
			return nil, err
		}
		tc := &testChannel{api: a.API(), agent: a, id: ch.ID, conn: conn, done: make(chan struct{}), changed: make(chan struct{}, 1)}
		go tc.read()
		if err := tc.Subscribe(ctx, topics...); err != nil {
			tc.Close()
			return nil, err
		}
		return tc, nil
	}
}

func (c *testChannel) read() {
	defer close(c.done)
	for {
		var e event
		if err := c.conn.ReadJSON(&e); err != nil {
			return
		}
		c.agent.HandleEvent(e.Topic, e.Body)
		c.mu.Lock()
		c.events = append(c.events, e)
		if k := e.Topic + " " + e.Metadata.CorrelationID; c.expect[k] {
			delete(c.expect, k)
			c.matched++
		}
		c.mu.Unlock()
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
}

func (c *testChannel) Subscribe(ctx context.Context, topics ...string) error {
	body := make([]map[string]string, len(topics))
	for i, t := range topics {
		body[i] = map[string]string{"id": t}
	}
	_, err := c.api.DoJSON(ctx, &api.Request{Op: agent.OpSubscribe, Method: http.MethodPost,
		Route: "/api/v2/notifications/channels/{id}/subscriptions", Params: []string{c.id}}, body, nil)
	return err
}

func (c *testChannel) Close() error {
	c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	err := c.conn.Close()
	<-c.done
	return err
}

// topics returns the topics of the events received so far.
func (c *testChannel) topics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.events {
		out = append(out, e.Topic)
	}
	return out
}

// TestGoOnQueueEvents: 20 agents subscribe to their topics and go on queue;
// each one's presence and routing status events arrive on its own channel,
// and nobody else's.
func TestGoOnQueueEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 20 // the simulator allows 20 channels per owner: one client-credentials token owns them all
		s := newSim(t, n, auth.Shared)
		p := s.populationWith(t, n, agent.Config{Channel: openTestChannel(s.srv), PushLatency: true})
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, a := range p.Agents() {
			wg.Go(func() {
				if err := a.SubscribeTopics(ctx); err != nil {
					errs <- err
					return
				}
				if err := a.GoOnQueue(ctx); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		synctest.Wait() // every event the hub sent is read
		for _, a := range p.Agents() {
			st := a.State()
			if st.RoutingStatus != agent.RoutingIdle || st.PresenceName != agent.PresenceOnQueue || st.Presence == "" || st.Topics != 4 {
				t.Errorf("%v state %+v, want On Queue, IDLE, 4 topics", a, st)
			}
			got := a.Channel().(*testChannel).topics()
			var presence, routing int
			for _, topic := range got {
				switch topic {
				case "v2.users." + a.User.ID + ".presence":
					presence++
				case "v2.users." + a.User.ID + ".routingStatus":
					routing++
				default:
					if strings.HasPrefix(topic, "v2.users.") {
						t.Errorf("%v received %s, another agent's topic", a, topic)
					}
				}
			}
			if presence != 1 || routing != 1 {
				t.Errorf("%v received %v, want one presence and one routingStatus event", a, got)
			}
			// Push latency: both events were expected by the correlation id the
			// agent sent, and both arrived.
			if matched, pending := a.Channel().(*testChannel).expectations(); matched != 2 || pending != 0 {
				t.Errorf("%v: %d expected events matched, %d pending, want 2 and 0", a, matched, pending)
			}
		}
		// A refused request withdraws its expectation: no event is lost.
		a0 := p.Agent(0)
		if err := a0.Answer(ctx, agent.Offer{ConversationID: "nope", ParticipantID: "nope"}); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("Answer of an unknown call: error %v, want a 404", err)
		}
		// Routing status is the system's: a client may not set it.
		if err := a0.SetRoutingStatus(ctx, "DANCING"); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("SetRoutingStatus(DANCING): error %v, want a 400", err)
		}
		if matched, pending := a0.Channel().(*testChannel).expectations(); matched != 2 || pending != 0 {
			t.Errorf("after a refused request: %d matched, %d pending, want 2 and 0", matched, pending)
		}
		doc := s.rec.Snapshot()
		// Going on queue is a presence change and a read of the routing
		// status the system set; only the refused request asked to set one.
		for op, want := range map[string]int64{agent.OpPresenceSet: n, agent.OpRoutingStatusGet: n, agent.OpRoutingStatusSet: 1, agent.OpSubscribe: n, agent.OpUsersList: 1, agent.OpPresenceDefinitions: 1} {
			if op == agent.OpRoutingStatusSet {
				if o := doc.Op(op); o == nil || o.Count != want || o.Outcome(result.HTTPError) != 1 {
					t.Errorf("recorded %s: %+v, want one HTTP error", op, o)
				}
				continue
			}
			if o := doc.Op(op); o == nil || o.Count != want || o.Outcome(result.OK) != want {
				t.Errorf("recorded %s: %+v, want %d OK", op, o, want)
			}
		}
	})
}

// TestAgentDesktop: agents on queue hear of offered ACD calls on their
// call topic, answer, hold, resume, change the recording, hang up and wrap
// up, each a named operation, and are IDLE again; a transferred call goes
// to the other queue. Placing a call needs a user token.
func TestAgentDesktop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 2 // agents 0 and 1: queues 0 and 1
		s := newSim(t, n, auth.PerAgent)
		p := s.population(t, n, openTestChannel(s.srv))
		ctx := t.Context()
		for _, a := range p.Agents() {
			if err := a.SubscribeTopics(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.GoOnQueue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		a := p.Agent(0)
		if _, err := a.TakeCall(ctx, agent.Call{}); err == nil || !strings.Contains(err.Error(), "user context") {
			t.Errorf("TakeCall with a client-credentials token: %v, want 400 requires a user context", err)
		}
		if _, err := s.srv.InjectCalls(gcsim.QueueID(0), 2); err != nil {
			t.Fatal(err)
		}
		for call := range 2 {
			o, err := a.NextOffer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Answer(ctx, o); err != nil {
				t.Fatal(err)
			}
			if st, _ := a.RoutingStatus(ctx); st != agent.RoutingInteracting {
				t.Errorf("call %d: routing status %s while connected, want INTERACTING", call, st)
			}
			for _, step := range []func() error{
				func() error { return a.Hold(ctx, true) },
				func() error { return a.Hold(ctx, false) },
				func() error { return a.SetRecordingState(ctx, "paused") },
			} {
				if err := step(); err != nil {
					t.Fatal(err)
				}
			}
			if call == 1 {
				if err := a.Transfer(ctx, agent.Transfer{QueueID: gcsim.QueueID(1)}); err != nil {
					t.Fatal(err)
				}
			} else if err := a.Disconnect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.Wrapup(ctx, gcsim.WrapupCodeID(0)); err != nil {
				t.Fatal(err)
			}
		}
		if st, _ := a.RoutingStatus(ctx); st != agent.RoutingIdle || a.State().Call != "" {
			t.Errorf("after two wrapped-up calls: routing status %s, state %+v, want IDLE and no call", st, a.State())
		}
		// The transferred call is offered to the member of queue 1.
		b := p.Agent(1)
		o, err := b.NextOffer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Answer(ctx, o); err != nil {
			t.Fatal(err)
		}
		if err := b.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.Wrapup(ctx, gcsim.WrapupCodeID(1)); err != nil {
			t.Fatal(err)
		}
		doc := s.rec.Snapshot()
		for op, want := range map[string]int64{agent.OpCallAnswer: 3, agent.OpCallHold: 4, agent.OpCallDisconnect: 2,
			agent.OpCallTransfer: 1, agent.OpCallWrapup: 3, agent.OpRecordingSet: 2} {
			if o := doc.Op(op); o == nil || o.Count != want || o.Outcome(result.OK) != want {
				t.Errorf("recorded %s: %+v, want %d OK", op, o, want)
			}
		}
		if err := a.Hold(ctx, true); err == nil || !strings.Contains(err.Error(), "no current call") {
			t.Errorf("Hold without a call: error %v, want \"no current call\"", err)
		}
		if err := a.GoOffQueue(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := a.RoutingStatus(ctx); st != agent.RoutingOffQueue {
			t.Errorf("after GoOffQueue: %s, want OFF_QUEUE", st)
		}
	})
}

// TestPopulationShards: the shards' populations partition the agents, each
// with the identity of the directory's user of the same index.
func TestPopulationShards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, 10, auth.Shared)
		users, err := agent.LoadUsers(t.Context(), s.api, 10)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for i := 1; i <= 3; i++ {
			sh := shard.Shard{Index: i, Count: 3}
			p, err := agent.NewPopulation(agent.Config{API: s.api, Users: users, Shard: sh})
			if err != nil {
				t.Fatal(err)
			}
			if p.Size() != 10 || len(p.Agents()) != sh.Split(10) {
				t.Errorf("shard %v: Size %d, %d agents, want 10 and %d", sh, p.Size(), len(p.Agents()), sh.Split(10))
			}
			for _, a := range p.Agents() {
				if seen[a.ID] || !sh.Owns(a.ID) || a.User.ID != gcsim.UserID(a.ID) {
					t.Errorf("shard %v: %v (user %s): duplicate, not owned, or not the directory's user %s", sh, a, a.User.ID, gcsim.UserID(a.ID))
				}
				seen[a.ID] = true
			}
			if p.Agent(i) != nil && !sh.Owns(i) {
				t.Errorf("shard %v returns agent %d it does not own", sh, i)
			}
		}
		if len(seen) != 10 {
			t.Errorf("shards together hold %d agents, want 10", len(seen))
		}
	})
}

func TestLoadUsersTooFew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, 1, auth.Shared)
		_, err := agent.LoadUsers(t.Context(), s.api, gcsim.DefaultAgents+1)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("has %d users, the population needs %d", gcsim.DefaultAgents, gcsim.DefaultAgents+1)) {
			t.Errorf("LoadUsers beyond the directory: error %v", err)
		}
	})
}

func TestPresenceIDErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, 1, auth.Shared)
		p := s.population(t, 1, nil)
		for _, name := range []string{"On Queue", "ON_QUEUE", "on-queue", "available"} {
			if _, err := p.PresenceID(t.Context(), name); err != nil {
				t.Errorf("PresenceID(%q): %v", name, err)
			}
		}
		_, err := p.PresenceID(t.Context(), "Dancing")
		if err == nil || !strings.Contains(err.Error(), `presence "Dancing"`) || !strings.Contains(err.Error(), "onqueue") {
			t.Errorf("PresenceID(Dancing) error %v, want it to name the presence and list the known ones", err)
		}
		if err := p.Agent(0).SubscribeTopics(t.Context()); err == nil || !strings.Contains(err.Error(), "Config.Channel is nil") {
			t.Errorf("SubscribeTopics without Config.Channel: error %v", err)
		}
	})
}

// TestPresenceIDCurrentEndpoint checks that the definitions come from the
// current GET /api/v2/presence/definitions (unpaged; a system definition's
// systemPresence is "OnQueue", without the space the user presence body's
// "On Queue" has), not the deprecated /api/v2/presencedefinitions, which
// this server does not serve, and that "On Queue" still matches.
func TestPresenceIDCurrentEndpoint(t *testing.T) {
	var mu sync.Mutex
	var routes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		routes = append(routes, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != "/api/v2/presence/definitions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"total":3,"selfUri":"/api/v2/presence/definitions","entities":[
			{"id":"avail-id","type":"System","systemPresence":"Available","languageLabels":{"en_US":"Available"}},
			{"id":"onq-id","type":"System","systemPresence":"OnQueue","languageLabels":{"en_US":"On Queue"}},
			{"id":"lunch-id","type":"User","systemPresence":"Meal","languageLabels":{"en_US":"Lunch"}},
			{"id":"old-id","type":"User","systemPresence":"Break","deactivated":true,"languageLabels":{"en_US":"Coffee"}}]}`)
	}))
	t.Cleanup(srv.Close)
	c, err := api.New(api.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Agents: 1, Retry: api.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	p, err := agent.NewPopulation(agent.Config{API: c, Users: []agent.User{{ID: "u1"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for name, want := range map[string]string{
		"On Queue": "onq-id", "ON_QUEUE": "onq-id", "OnQueue": "onq-id", // the user presence body's spelling and the definition's
		"Available": "avail-id",
		"Lunch":     "lunch-id", // a custom definition by its label
		"Meal":      "lunch-id", // and by its base system presence
	} {
		if got, err := p.PresenceID(t.Context(), name); err != nil || got != want {
			t.Errorf("PresenceID(%q) = %q, %v, want %q", name, got, err, want)
		}
	}
	if _, err := p.PresenceID(t.Context(), "Coffee"); err == nil {
		t.Errorf("PresenceID(Coffee) of a deactivated definition: no error")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"GET /api/v2/presence/definitions"}; !slices.Equal(routes, want) {
		t.Errorf("requests %q, want %q (read once, from the current endpoint)", routes, want)
	}
}

func TestReadUsers(t *testing.T) {
	tests := []struct {
		name, in string
		want     []agent.User
		wantErr  string
	}{
		{"lines", "# agents\nu1\n\n u2 \n", []agent.User{{ID: "u1"}, {ID: "u2"}}, ""},
		{"JSON", ` [{"id":"u1","name":"Ann"},{"id":"u2"}]`, []agent.User{{ID: "u1", Name: "Ann"}, {ID: "u2"}}, ""},
		{"JSON without id", `[{"id":"u1"},{"name":"Bob"}]`, nil, "users.txt: [1].id is empty"},
		{"JSON syntax", `[{"id":}]`, nil, "want a JSON array"},
		{"two per line", "u1\nu2 u3\n", nil, `users.txt:2: "u2 u3": want one user id per line`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agent.ReadUsers(strings.NewReader(tt.in), "users.txt")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadUsers error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ReadUsers = %v, %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestNewPopulationErrors(t *testing.T) {
	c, err := api.New(api.Config{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  agent.Config
		want string
	}{
		{"no API", agent.Config{Users: []agent.User{{ID: "a"}}}, "Config.API is nil"},
		{"no users", agent.Config{API: c}, "Config.Users is empty"},
		{"empty id", agent.Config{API: c, Users: []agent.User{{ID: "a"}, {}}}, "Config.Users[1].ID is empty"},
		{"duplicate", agent.Config{API: c, Users: []agent.User{{ID: "a"}, {ID: "b"}, {ID: "a"}}}, "Config.Users[0] and [2] are the same user a"},
		{"bad shard", agent.Config{API: c, Users: []agent.User{{ID: "a"}}, Shard: shard.Shard{Index: 0, Count: 2}}, "shard 0/2"},
	}
	for _, tt := range tests {
		_, err := agent.NewPopulation(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// closeOnly is a Channel that cannot add topics once open.
type closeOnly struct {
	topics []string
	closed int
}

func (c *closeOnly) Close() error { c.closed++; return nil }

func TestSubscribeTopicsOpensOnce(t *testing.T) {
	c, err := api.New(api.Config{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	var opened []*closeOnly
	p, err := agent.NewPopulation(agent.Config{API: c, Users: []agent.User{{ID: "u1"}},
		Channel: func(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error) {
			ch := &closeOnly{topics: topics}
			opened = append(opened, ch)
			return ch, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	a := p.Agent(0)
	if err := a.SubscribeTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || fmt.Sprint(opened[0].topics) != fmt.Sprint(a.Topics()) {
		t.Fatalf("opened %d channels with %v, want one with the agent's own topics %v", len(opened), opened[0].topics, a.Topics())
	}
	err = a.SubscribeTopics(t.Context(), "v2.routing.queues.q1.conversations")
	if err == nil || !strings.Contains(err.Error(), "cannot add topics once open") {
		t.Errorf("second SubscribeTopics on a close-only channel: error %v", err)
	}
	if len(opened) != 1 || a.State().Topics != len(a.Topics()) {
		t.Errorf("after the refused call: %d channels, %d topics, want 1 and %d", len(opened), a.State().Topics, len(a.Topics()))
	}
	if err := p.Close(); err != nil || opened[0].closed != 1 || a.Channel() != nil {
		t.Errorf("Close: %v, channel closed %d times, agent channel %v", err, opened[0].closed, a.Channel())
	}
}

// TestNotifyChannels: 20 agents open their channels with harness/notify
// and go on queue; every agent's presence and routing status events arrive,
// and nobody's channel is evicted.
func TestNotifyChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 20
		s, _ := newSimPool(t, n, auth.Shared)
		col := notify.NewCollector()
		opts := notify.Options{
			API:       s.api,
			Dialer:    &websocket.Dialer{NetDialContext: s.srv.DialContext, ReadBufferSize: 1024, WriteBufferSize: 1024},
			Collector: col,
			Recorder:  s.rec,
		}
		p := s.populationWith(t, n, agent.Config{Channel: agent.NotifyChannels(opts), PushLatency: true})
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, a := range p.Agents() {
			wg.Go(func() {
				if err := a.SubscribeTopics(ctx); err != nil {
					errs <- err
					return
				}
				errs <- a.GoOnQueue(ctx)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		st := col.Stats()
		for _, a := range p.Agents() {
			for _, topic := range a.Topics()[:2] {
				if got := st.EventsPerTopic[topic]; got != 1 {
					t.Errorf("%v: %d events on %s, want 1", a, got, topic)
				}
			}
		}
		if st.Connects != n || st.Evictions != 0 || st.Drops != 0 {
			t.Errorf("notify stats: %d connects, %d evictions, %d drops, want %d, 0, 0", st.Connects, st.Evictions, st.Drops, n)
		}
		// Push latency needs Expect and Forget on the channel; notify's client
		// has Expect only so far. Once it has both, every event is matched.
		if _, ok := p.Agent(0).Channel().(agent.Expecter); ok {
			if st.Matched != 2*n || st.Lost != 0 {
				t.Errorf("push latency: %d events matched, %d lost, want %d and 0", st.Matched, st.Lost, 2*n)
			}
		} else if st.Expected != 0 {
			t.Errorf("%d events expected on a channel that cannot forget them, want 0", st.Expected)
		}
		// A later SubscribeTopics adds topics on the open channel.
		if err := p.Agent(0).SubscribeTopics(ctx, "v2.routing.queues."+gcsim.QueueID(0)+".conversations"); err != nil {
			t.Errorf("adding a topic: %v", err)
		}
	})
}

// routeCount returns how many requests the simulator answered on method
// route with status.
func routeCount(s *gcsim.Server, method, route string, status int) int64 {
	for _, r := range s.Stats().Requests {
		if r.Method == method && r.Route == route && r.Status == status {
			return r.Count
		}
	}
	return 0
}

// TestShardsOnSimulator is the acceptance test on gcsim: shards 1/4 … 4/4,
// each run on its own, together send the simulator exactly the requests of
// one unsharded run: the same number, for the same agents.
func TestShardsOnSimulator(t *testing.T) {
	const agents = 12
	type runFunc func(ctx context.Context, sh shard.Shard, fn workload.IterFunc) (workload.Stats, error)
	models := map[string]runFunc{
		"open stages": func(ctx context.Context, sh shard.Shard, fn workload.IterFunc) (workload.Stats, error) {
			p, err := workload.NewStagesPacer(0, []workload.Stage{{Duration: 4 * time.Second, Target: 30}, {Duration: 4 * time.Second, Target: 30}, {Duration: 2 * time.Second, Target: 0}})
			if err != nil {
				return workload.Stats{}, err
			}
			o := workload.Open{Pacer: p, Agents: agents, Shard: sh}
			return o.Run(ctx, fn)
		},
		"closed ramp": func(ctx context.Context, sh shard.Shard, fn workload.IterFunc) (workload.Stats, error) {
			c := workload.Closed{Agents: agents, Shard: sh, Think: workload.ConstantThink(700 * time.Millisecond),
				Ramp: &workload.Ramp{Stages: []workload.Stage{{Duration: 6 * time.Second, Target: agents}, {Duration: 4 * time.Second, Target: 0}}}}
			return c.Run(ctx, fn)
		},
	}
	for name, run := range models {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// One token per agent: the two runs' 420 requests in a minute
				// would exceed one token's 300 per minute.
				s := newSim(t, agents, auth.PerAgent)
				users, err := agent.LoadUsers(t.Context(), s.api, agents)
				if err != nil {
					t.Fatal(err)
				}
				// one runs the shards given and returns the requests the simulator
				// answered and the iterations per user.
				one := func(shs ...shard.Shard) (int64, map[string]int) {
					before := routeCount(s.srv, http.MethodGet, "/api/v2/users/{id}/routingstatus", http.StatusOK)
					var mu sync.Mutex
					perUser := map[string]int{}
					for _, sh := range shs {
						p, err := agent.NewPopulation(agent.Config{API: s.api, Users: users, Shard: sh})
						if err != nil {
							t.Fatal(err)
						}
						st, err := run(t.Context(), sh, p.Iter(func(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
							mu.Lock()
							perUser[a.User.ID]++
							mu.Unlock()
							_, err := a.RoutingStatus(ctx)
							return err
						}))
						if err != nil {
							t.Fatal(err)
						}
						if st.Errors != 0 || st.Dropped != 0 {
							t.Fatalf("shard %v: %v, want no errors or drops", sh, st)
						}
					}
					return routeCount(s.srv, http.MethodGet, "/api/v2/users/{id}/routingstatus", http.StatusOK) - before, perUser
				}
				wholeN, wholeUsers := one(shard.Shard{})
				shardsN, shardsUsers := one(shards(4)...)
				if wholeN == 0 || shardsN != wholeN {
					t.Errorf("simulator answered %d requests to shards 1/4…4/4, %d to one run", shardsN, wholeN)
				}
				// A closed agent's iterations depend only on the ramp and its
				// think time; open arrivals go round the agents in order, and 4
				// divides the 12 agents: the counts per user are the same.
				if fmt.Sprint(shardsUsers) != fmt.Sprint(wholeUsers) {
					t.Errorf("per user, shards: %v\none run: %v", shardsUsers, wholeUsers)
				}
				// Open arrivals spread over every agent (the closed ramp peaks at
				// 12 for an instant only: agent 11 is never active).
				if name == "open stages" && len(wholeUsers) != agents {
					t.Errorf("one run used %d users, want all %d", len(wholeUsers), agents)
				}
			})
		})
	}
}

func shards(n int) []shard.Shard {
	out := make([]shard.Shard, n)
	for i := range out {
		out[i] = shard.Shard{Index: i + 1, Count: n}
	}
	return out
}
