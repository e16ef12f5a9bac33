package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pipeListener is an in-memory net.Listener of net.Pipe connections: network
// code on it blocks durably, as testing/synctest needs.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// testEnv is a hub behind an http.Server on a pipe listener.
type testEnv struct {
	hub    *Hub
	dialer websocket.Dialer
}

const wsBase = "ws://sim.test"

func newTestEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	hub := NewHub(cfg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /channels/{id}", func(w http.ResponseWriter, r *http.Request) {
		hub.ServeWS(w, r, r.PathValue("id"))
	})
	l := newPipeListener()
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(l) }()
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
		<-served
	})
	return &testEnv{hub: hub, dialer: websocket.Dialer{NetDialContext: l.DialContext, ReadBufferSize: 512, WriteBufferSize: 512}}
}

// event is one message a test client received.
type event struct {
	At        time.Time
	TopicName string          `json:"topicName"`
	Version   string          `json:"version"`
	EventBody json.RawMessage `json:"eventBody"`
	Metadata  *struct {
		CorrelationID string `json:"CorrelationId"`
	} `json:"metadata"`
	Raw string
}

// testClient reads a socket on its own goroutine and keeps what it got.
type testClient struct {
	conn *websocket.Conn
	done chan struct{}

	mu     sync.Mutex
	events []event
	err    error // how the read loop ended
}

func (e *testEnv) connect(t testing.TB, ch Channel) *testClient {
	t.Helper()
	conn, resp, err := e.dialer.Dial(ch.ConnectURI, nil)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", ch.ConnectURI, err)
	}
	resp.Body.Close()
	c := &testClient{conn: conn, done: make(chan struct{})}
	go c.loop()
	t.Cleanup(func() { c.close() })
	return c
}

func (c *testClient) loop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		ev := event{At: time.Now(), Raw: string(data)}
		if err := json.Unmarshal(data, &ev); err != nil {
			ev.TopicName = "unparsable"
		}
		c.mu.Lock()
		c.events = append(c.events, ev)
		c.mu.Unlock()
	}
}

func (c *testClient) close() {
	c.conn.Close()
	<-c.done
}

func (c *testClient) snapshot() ([]event, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.events...), c.err
}

func (c *testClient) topics() []string {
	evs, _ := c.snapshot()
	var out []string
	for _, e := range evs {
		out = append(out, e.TopicName)
	}
	return out
}

func (c *testClient) send(t testing.TB, msg string) {
	t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("WriteMessage(%s) = %v", msg, err)
	}
}

// closeCode returns the close code the client received, or -1 if the socket
// ended without a close frame, or 0 if it is still open.
func (c *testClient) closeCode() (int, string) {
	_, err := c.snapshot()
	if err == nil {
		return 0, ""
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text
	}
	return -1, err.Error()
}

func mustCreate(t testing.TB, h *Hub, owner string) Channel {
	t.Helper()
	ch, err := h.CreateChannel(owner, wsBase)
	if err != nil {
		t.Fatalf("CreateChannel(%q) = %v", owner, err)
	}
	return ch
}

func mustSubscribe(t testing.TB, h *Hub, id string, topics ...string) {
	t.Helper()
	subs, err := h.Subscribe(id, topics, false)
	if err != nil {
		t.Fatalf("Subscribe(%v) = %v", topics, err)
	}
	for _, s := range subs {
		if s.State != StatePermitted {
			t.Fatalf("Subscribe(%v): %s is %s: %s", topics, s.ID, s.State, s.RejectionReason)
		}
	}
}

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		topic   string
		wantErr string // "" = valid
	}{
		{"v2.users.8a6e4a5c-1b2c-4d3e-9f00-aabbccddeeff.presence", ""},
		{"v2.users.u1.routingStatus", ""},
		{"v2.users.u1.conversations", ""},
		{"v2.routing.queues.q_1.conversations", ""},
		{"v2.routing.queues.q1.users", ""},
		{"v2.analytics.queues.q1.observations", ""},
		// The literal part is case-sensitive, as on the platform.
		{"v2.users.u1.routingstatus", "unknown topic"},
		{"", "empty"},
		{"v2.users..presence", "bad id"},
		{"v2.users.a b.presence", "bad id"},
		{"v2.users.u1", "unknown topic"},
		{"v2.users.u1.presence.extra", "unknown topic"},
		{"v2.system.socket_closing", "system topics"},
		{"v2.users.u1?presence&routingStatus&conversations.calls", ""},
		{"v2.routing.queues.q1?users&conversations.calls", ""},
		{"v2.users.u1?", "without sub-topics"},
		{"v2.users.u1?presence&&routingStatus", "empty sub-topic"},
		{"v2.users.u1?presence&nosuch", `sub-topic "nosuch"`},
		{"v2.users.u1.presence&routingStatus", "compound"},
		{"v2.users.*.presence", "wildcard"},
		{"users.u1.presence", "unknown topic"},
		// Genesys has no bare conversation topic, only its sub-topics.
		{"v2.conversations.c1", "unknown topic"},
		{"v2.conversations.c1.transcription", ""},
		{"v2.users.u1.conversations.calls", ""},
		{"v2.routing.queues.q1.conversations.calls", ""},
	}
	for _, tt := range tests {
		err := ValidateTopic(tt.topic)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateTopic(%q) = %v, want nil", tt.topic, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidateTopic(%q) = %v, want error containing %q", tt.topic, err, tt.wantErr)
		case err != nil && !strings.HasPrefix(err.Error(), "streaming: ") && !strings.Contains(err.Error(), tt.topic):
			t.Errorf("ValidateTopic(%q) = %v, want prefix and topic named", tt.topic, err)
		}
	}
}

func TestSubscribe(t *testing.T) {
	h := NewHub(Config{MaxTopicsPerChannel: 3})
	defer h.Close()
	ch := mustCreate(t, h, "org/client/user")

	subs, err := h.Subscribe(ch.ID, []string{"v2.users.u1.presence", "v2.users.u1.presence", "bogus", "v2.users.u1.routingStatus"}, false)
	if err != nil {
		t.Fatal(err)
	}
	got := stateList(subs)
	want := "v2.users.u1.presence=Permitted v2.users.u1.routingStatus=Permitted bogus=Rejected"
	if got != want {
		t.Errorf("Subscribe = %s, want %s", got, want)
	}
	if subs[2].RejectionReason == "" || subs[2].SelfURI == "" {
		t.Errorf("rejected subscription = %+v, want rejectionReason and selfUri", subs[2])
	}

	// Adding two more would make 4 > 3: refused, nothing changes.
	_, err = h.Subscribe(ch.ID, []string{"v2.users.u2.presence", "v2.users.u3.presence"}, false)
	if !errors.Is(err, ErrTooManyTopics) || !strings.Contains(err.Error(), "limit is 3 topics per channel") {
		t.Errorf("Subscribe over the limit = %v, want ErrTooManyTopics naming the limit 3", err)
	}
	if subs, _ := h.Subscriptions(ch.ID); len(subs) != 2 {
		t.Errorf("after refused Subscribe: %d subscriptions, want 2", len(subs))
	}

	// Replace: only the new topics remain.
	subs, err = h.Subscribe(ch.ID, []string{"v2.routing.queues.q1.users"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stateList(subs), "v2.routing.queues.q1.users=Permitted"; got != want {
		t.Errorf("Subscribe(replace) = %s, want %s", got, want)
	}
	if n := h.Publish("v2.users.u1.presence", nil, ""); n != 0 {
		t.Errorf("Publish on a replaced topic reached %d sockets, want 0", n)
	}

	if err := h.Unsubscribe(ch.ID); err != nil {
		t.Fatal(err)
	}
	if subs, _ := h.Subscriptions(ch.ID); len(subs) != 0 {
		t.Errorf("after Unsubscribe: %v, want none", subs)
	}
	if got, ok := h.Channel(ch.ID); !ok || got.Topics != 0 {
		t.Errorf("Channel = %+v, %v; want 0 topics, true", got, ok)
	}

	for name, err := range map[string]error{
		"Subscribe":     func() error { _, err := h.Subscribe("nope", []string{"v2.users.u1.presence"}, false); return err }(),
		"Subscriptions": func() error { _, err := h.Subscriptions("nope"); return err }(),
		"Unsubscribe":   h.Unsubscribe("nope"),
	} {
		if !errors.Is(err, ErrChannelNotFound) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("%s(unknown channel) = %v, want ErrChannelNotFound naming it", name, err)
		}
	}
}

func stateList(subs []Subscription) string {
	var parts []string
	for _, s := range subs {
		parts = append(parts, s.ID+"="+s.State)
	}
	return strings.Join(parts, " ")
}

func TestChannelTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(Config{})
		defer h.Close()
		start := time.Now()
		ch := mustCreate(t, h, "o")
		if want := start.Add(24 * time.Hour); !ch.Expires.Equal(want) {
			t.Errorf("Expires = %v, want %v", ch.Expires, want)
		}
		if !strings.HasPrefix(ch.ConnectURI, wsBase+"/channels/") || !strings.HasSuffix(ch.ConnectURI, ch.ID) {
			t.Errorf("ConnectURI = %q, want %s/channels/%s", ch.ConnectURI, wsBase, ch.ID)
		}
		time.Sleep(23 * time.Hour)
		mustSubscribe(t, h, ch.ID, "v2.users.u1.presence") // extends to 47 h
		time.Sleep(23 * time.Hour)
		if got, ok := h.Channel(ch.ID); !ok || !got.Expires.Equal(start.Add(47*time.Hour)) {
			t.Fatalf("at 46 h: Channel = %+v, %v; want alive until 47 h", got, ok)
		}
		time.Sleep(time.Hour)
		if _, ok := h.Channel(ch.ID); ok {
			t.Errorf("at 47 h: channel still exists, want expired")
		}
		if st := h.Stats(); st.Expired != 1 || st.Channels != 0 {
			t.Errorf("Stats = %+v, want Expired 1, Channels 0", st)
		}
	})
}

func TestHeartbeatsAndPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: 10 * time.Second})
		start := time.Now()
		ch := mustCreate(t, e.hub, "o")
		c := e.connect(t, ch)
		time.Sleep(35 * time.Second)
		synctest.Wait()
		evs, _ := c.snapshot()
		if len(evs) != 3 {
			t.Fatalf("after 35 s: %d messages %v, want 3 heartbeats", len(evs), c.topics())
		}
		for i, ev := range evs {
			if want := start.Add(time.Duration(i+1) * 10 * time.Second); !ev.At.Equal(want) {
				t.Errorf("heartbeat %d at %v, want %v", i, ev.At.Sub(start), want.Sub(start))
			}
			if want := `{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`; ev.Raw != want {
				t.Errorf("heartbeat = %s, want %s", ev.Raw, want)
			}
		}

		c.send(t, `{"message":"ping"}`)
		c.send(t, `{"message":"hello"}`) // ignored
		synctest.Wait()
		evs, _ = c.snapshot()
		if got, want := evs[len(evs)-1].Raw, `{"topicName":"channel.metadata","eventBody":{"message":"pong"}}`; len(evs) != 4 || got != want {
			t.Errorf("after ping: %d messages, last %s; want 4, last %s", len(evs), got, want)
		}

		// Withhold the next two heartbeats of this channel.
		e.hub.SkipHeartbeats(ch.ID, 2)
		time.Sleep(30 * time.Second) // heartbeats due at 40, 50, 60 s
		synctest.Wait()
		evs, _ = c.snapshot()
		if last := evs[len(evs)-1]; len(evs) != 5 || last.At.Sub(start) != 60*time.Second {
			t.Errorf("with 2 withheld: %d messages, last at %v; want 5, last at 60s", len(evs), last.At.Sub(start))
		}
		st := e.hub.Stats()
		if st.Heartbeats != 4 || st.Withheld != 2 || st.Pongs != 1 || st.Connects != 1 || st.Sockets != 1 {
			t.Errorf("Stats = %+v, want Heartbeats 4, Withheld 2, Pongs 1, Connects 1, Sockets 1", st)
		}
	})
}

// Heartbeats are spread over the interval: of 20 sockets connected at once,
// each slot's two get theirs every interval/heartbeatSlots, in turn, and
// every socket gets exactly one per interval.
func TestHeartbeatsSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Second
		e := newTestEnv(t, Config{HeartbeatInterval: interval})
		start := time.Now()
		var clients []*testClient
		for range 2 * heartbeatSlots {
			clients = append(clients, e.connect(t, mustCreate(t, e.hub, "o")))
		}
		step := interval / heartbeatSlots
		for k := 1; k <= 2*heartbeatSlots; k++ {
			time.Sleep(step)
			synctest.Wait()
			got := 0
			for _, c := range clients {
				evs, _ := c.snapshot()
				for _, ev := range evs {
					if ev.At.Equal(start.Add(time.Duration(k) * step)) {
						got++
					}
				}
			}
			if got != 2 {
				t.Errorf("at %v: %d sockets got a heartbeat; want 2 (one slot of %d)", time.Duration(k)*step, got, heartbeatSlots)
			}
		}
		for i, c := range clients {
			if evs, _ := c.snapshot(); len(evs) != 2 {
				t.Errorf("socket %d: %d heartbeats in two intervals; want 2", i, len(evs))
			}
		}
	})
}

func TestPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: -1})
		a := mustCreate(t, e.hub, "o")
		b := mustCreate(t, e.hub, "o")
		mustSubscribe(t, e.hub, a.ID, "v2.users.u1.presence", "v2.users.u2.presence")
		mustSubscribe(t, e.hub, b.ID, "v2.users.u1.presence")
		ca, cb := e.connect(t, a), e.connect(t, b)

		body := map[string]any{"presenceDefinition": map[string]string{"id": "p1", "systemPresence": "Available"}}
		if n := e.hub.Publish("v2.users.u1.presence", body, "corr-1"); n != 2 {
			t.Errorf("Publish(u1) reached %d, want 2", n)
		}
		if n := e.hub.Publish("v2.users.u2.presence", json.RawMessage(`{"x":1}`), ""); n != 1 {
			t.Errorf("Publish(u2) reached %d, want 1", n)
		}
		if n := e.hub.Publish("v2.users.u3.presence", body, "c"); n != 0 {
			t.Errorf("Publish(u3) reached %d, want 0", n)
		}
		synctest.Wait()
		want := `{"topicName":"v2.users.u1.presence","version":"2","eventBody":{"presenceDefinition":{"id":"p1","systemPresence":"Available"}},"metadata":{"CorrelationId":"corr-1"}}`
		evs, _ := ca.snapshot()
		if len(evs) != 2 || evs[0].Raw != want || evs[1].Raw != `{"topicName":"v2.users.u2.presence","version":"2","eventBody":{"x":1}}` {
			t.Errorf("channel a got %v, want u1 then u2 events", evs)
		}
		evs, _ = cb.snapshot()
		if len(evs) != 1 || evs[0].Raw != want {
			t.Errorf("channel b got %v, want %s", evs, want)
		}
		if st := e.hub.Stats(); st.Published != 3 || st.Delivered != 3 {
			t.Errorf("Stats = %+v, want Published 3, Delivered 3", st)
		}
	})
}

// TestCompoundTopic: base?a&b is one topic of the channel's limit, delivers
// base.a and base.b under their own names, and a plain topic it overlaps
// keeps delivering when the compound one goes (PUT).
func TestCompoundTopic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: -1, MaxTopicsPerChannel: 2})
		a := mustCreate(t, e.hub, "o")
		subs, err := e.hub.Subscribe(a.ID, []string{"v2.users.u1?presence&routingStatus&conversations.calls", "v2.users.u1.presence"}, false)
		if err != nil || len(subs) != 2 || subs[0].State != StatePermitted || subs[1].State != StatePermitted {
			t.Fatalf("subscriptions = %+v, want the compound topic and the plain one Permitted (2 of the limit of 2)", subs)
		}
		ca := e.connect(t, a)
		for _, topic := range []string{"v2.users.u1.presence", "v2.users.u1.routingStatus", "v2.users.u1.conversations.calls"} {
			if n := e.hub.Publish(topic, json.RawMessage(`{}`), ""); n != 1 {
				t.Errorf("Publish(%s) reached %d sockets, want 1 (once, though two subscriptions cover it)", topic, n)
			}
		}
		if n := e.hub.Publish("v2.users.u1.station", json.RawMessage(`{}`), ""); n != 0 {
			t.Errorf("Publish(station) reached %d, want 0: not a sub-topic", n)
		}
		if _, err := e.hub.Subscribe(a.ID, []string{"v2.users.u1.presence"}, true); err != nil { // PUT: the compound topic goes
			t.Fatal(err)
		}
		if n := e.hub.Publish("v2.users.u1.routingStatus", json.RawMessage(`{}`), ""); n != 0 {
			t.Errorf("after PUT, Publish(routingStatus) reached %d, want 0", n)
		}
		synctest.Wait()
		evs, _ := ca.snapshot()
		var names []string
		for _, ev := range evs {
			var env struct {
				TopicName string `json:"topicName"`
			}
			json.Unmarshal([]byte(ev.Raw), &env)
			names = append(names, env.TopicName)
		}
		want := []string{"v2.users.u1.presence", "v2.users.u1.routingStatus", "v2.users.u1.conversations.calls"}
		if !slices.Equal(names, want) {
			t.Errorf("events on %v, want %v (each under its full sub-topic name)", names, want)
		}
	})
}

func TestOneConnectionPerChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: -1})
		ch := mustCreate(t, e.hub, "o")
		mustSubscribe(t, e.hub, ch.ID, "v2.users.u1.presence")
		first := e.connect(t, ch)
		second := e.connect(t, ch)
		synctest.Wait()
		if code, text := first.closeCode(); code != CloseReplaced || !strings.Contains(text, "replaced") {
			t.Errorf("first connection closed with %d %q, want %d replaced", code, text, CloseReplaced)
		}
		if n := e.hub.Publish("v2.users.u1.presence", 1, "c"); n != 1 {
			t.Errorf("Publish reached %d, want 1", n)
		}
		synctest.Wait()
		if got := second.topics(); len(got) != 1 {
			t.Errorf("second connection got %v, want the event", got)
		}
		if st := e.hub.Stats(); st.Replaced != 1 || st.Sockets != 1 || st.Connects != 2 {
			t.Errorf("Stats = %+v, want Replaced 1, Sockets 1, Connects 2", st)
		}
	})
}

func TestEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{MaxChannelsPerOwner: 3, HeartbeatInterval: -1})
		h := e.hub
		a, b, c := mustCreate(t, h, "o"), mustCreate(t, h, "o"), mustCreate(t, h, "o")
		other := mustCreate(t, h, "other") // another owner: never a victim
		ca := e.connect(t, a)              // a is connected; b is the LRU idle one
		mustSubscribe(t, h, c.ID, "v2.users.u1.presence")

		d := mustCreate(t, h, "o")
		if _, ok := h.Channel(b.ID); ok {
			t.Errorf("4th channel: LRU idle channel b still exists")
		}
		for _, ch := range []Channel{a, c, d, other} {
			if _, ok := h.Channel(ch.ID); !ok {
				t.Errorf("4th channel: %s evicted, want only b", ch.ID)
			}
		}
		cc, cd := e.connect(t, c), e.connect(t, d)
		// Now all of a, c, d are connected: the LRU one (a, connected first) goes.
		mustCreate(t, h, "o")
		synctest.Wait()
		if _, ok := h.Channel(a.ID); ok {
			t.Errorf("5th channel with no idle one: LRU channel a still exists")
		}
		if got := ca.topics(); len(got) != 1 || got[0] != "v2.system.no_longer_subscribed."+a.ID {
			t.Errorf("evicted socket got %v, want v2.system.no_longer_subscribed.%s", got, a.ID)
		}
		if code, text := ca.closeCode(); code != CloseEvicted || !strings.Contains(text, "evicted") {
			t.Errorf("evicted socket closed with %d %q, want %d evicted", code, text, CloseEvicted)
		}
		for _, cl := range []*testClient{cc, cd} {
			if code, _ := cl.closeCode(); code != 0 {
				t.Errorf("a surviving socket was closed with %d", code)
			}
		}
		if st := h.Stats(); st.Evicted != 2 || st.Channels != 4 {
			t.Errorf("Stats = %+v, want Evicted 2, Channels 4", st)
		}
		// The evicted channel's connectUri now answers 404.
		_, resp, err := e.dialer.Dial(a.ConnectURI, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("Dial(evicted) = %v, %v; want 404", resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	})
}

func TestSocketClosing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: -1, SocketClosingGrace: time.Minute})
		a, b := mustCreate(t, e.hub, "o"), mustCreate(t, e.hub, "o")
		ca, cb := e.connect(t, a), e.connect(t, b)
		start := time.Now()
		e.hub.SocketClosing(a.ID)
		synctest.Wait()
		if got := ca.topics(); len(got) != 1 || got[0] != "v2.system.socket_closing" {
			t.Errorf("got %v, want v2.system.socket_closing", got)
		}
		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		if code, _ := ca.closeCode(); code != 0 {
			t.Errorf("closed with %d before the grace, want open", code)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if code, text := ca.closeCode(); code != CloseGoingAway || !strings.Contains(text, "socket closing") {
			t.Errorf("at %v: close %d %q, want %d socket closing", time.Since(start), code, text, CloseGoingAway)
		}
		if got := cb.topics(); len(got) != 0 {
			t.Errorf("other channel got %v, want nothing", got)
		}
		e.hub.SocketClosing("")
		time.Sleep(time.Minute)
		synctest.Wait()
		if code, _ := cb.closeCode(); code != CloseGoingAway {
			t.Errorf(`SocketClosing(""): other socket close %d, want %d`, code, CloseGoingAway)
		}
		if st := e.hub.Stats(); st.SocketClosings != 2 || st.Sockets != 0 || st.Channels != 2 {
			t.Errorf("Stats = %+v, want SocketClosings 2, Sockets 0, Channels 2", st)
		}
	})
}

// SocketClosing("") spreads its warnings over the first half of the grace
// and closes each socket a full grace after its own warning, so that the
// clients' switchovers do not all come in one instant.
func TestSocketClosingEverySocketSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, grace = 40, 40 * time.Second
		e := newTestEnv(t, Config{HeartbeatInterval: -1, SocketClosingGrace: grace})
		clients := make([]*testClient, n)
		for i := range clients {
			clients[i] = e.connect(t, mustCreate(t, e.hub, fmt.Sprint("owner-", i)))
		}
		start := time.Now()
		e.hub.SocketClosing("")
		warned := make([]time.Duration, n) // when each got its warning, -1 before
		closed := make([]time.Duration, n)
		for i := range n {
			warned[i], closed[i] = -1, -1
		}
		for at := time.Duration(0); at <= 2*grace; at += 100 * time.Millisecond {
			synctest.Wait()
			for i, c := range clients {
				if warned[i] < 0 && slices.Contains(c.topics(), "v2.system.socket_closing") {
					warned[i] = time.Since(start)
				}
				if code, _ := c.closeCode(); closed[i] < 0 && code != 0 {
					closed[i] = time.Since(start)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if first := slices.Min(warned); first != 0 {
			t.Errorf("first warning at %v, want at once", first)
		}
		atOnce := 0
		for _, w := range warned {
			if w == 0 {
				atOnce++
			}
		}
		if atOnce > n/closingBatches+1 {
			t.Errorf("%d of %d sockets warned at once, want the warnings spread in %d steps", atOnce, n, closingBatches)
		}
		if last := slices.Max(warned); last < grace/4 || last > grace/2 {
			t.Errorf("last warning at %v, want within the first half of the grace (%v), spread over it", last, grace/2)
		}
		for i := range n {
			if d := closed[i] - warned[i]; warned[i] < 0 || d < grace || d > grace+200*time.Millisecond {
				t.Errorf("socket %d: warned at %v, closed at %v; want closed a grace (%v) after its warning", i, warned[i], closed[i], grace)
			}
		}
		if st := e.hub.Stats(); st.SocketClosings != n {
			t.Errorf("SocketClosings = %d, want %d", st.SocketClosings, n)
		}
	})
}

func TestSlowReaderNeverBlocksPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: -1, SendBuffer: 4})
		slow, fast := mustCreate(t, e.hub, "o"), mustCreate(t, e.hub, "o")
		mustSubscribe(t, e.hub, slow.ID, "v2.users.u1.presence")
		mustSubscribe(t, e.hub, fast.ID, "v2.users.u1.presence")
		conn, resp, err := e.dialer.Dial(slow.ConnectURI, nil) // never read
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cf := e.connect(t, fast)
		// On a pipe the slow socket's writer blocks on the first message, 4
		// more fill its queue, the 6th overflows. Publish returning at all proves it does
		// not block (a block would be a synctest deadlock).
		for i := range 20 {
			e.hub.Publish("v2.users.u1.presence", i, "")
			synctest.Wait() // the fast reader keeps up
		}
		synctest.Wait()
		if got := cf.topics(); len(got) != 20 {
			t.Errorf("fast reader got %d events, want 20", len(got))
		}
		if st := e.hub.Stats(); st.Overflows != 1 || st.Sockets != 1 || st.Delivered != 20+5 {
			t.Errorf("Stats = %+v, want Overflows 1, Sockets 1, Delivered 25", st)
		}
		conn.Close()
	})
}

func TestDropAndReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: -1})
		ch := mustCreate(t, e.hub, "o")
		mustSubscribe(t, e.hub, ch.ID, "v2.users.u1.presence")
		c := e.connect(t, ch)
		e.hub.Drop(ch.ID)
		synctest.Wait()
		if code, _ := c.closeCode(); code != websocket.CloseAbnormalClosure {
			t.Errorf("dropped socket ended with close code %d, want no close frame (1006)", code)
		}
		c2 := e.connect(t, ch)
		e.hub.Publish("v2.users.u1.presence", 1, "c")
		synctest.Wait()
		if got := c2.topics(); len(got) != 1 {
			t.Errorf("after reconnect got %v, want the event", got)
		}
		if st := e.hub.Stats(); st.Drops != 1 || st.Disconnects != 1 || st.Sockets != 1 {
			t.Errorf("Stats = %+v, want Drops 1, Disconnects 1, Sockets 1", st)
		}
	})
}

func TestServeWSUnknownChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{})
		_, resp, err := e.dialer.Dial(wsBase+"/channels/streaming-0-nope", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("Dial(unknown) = %v, %v; want 404", resp, err)
		}
		var body struct {
			Message string `json:"message"`
			Status  int    `json:"status"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if body.Status != 404 || !strings.Contains(body.Message, "streaming-0-nope") {
			t.Errorf("404 body = %+v, want status 404 and the id named", body)
		}
	})
}

func TestCloseClosesSockets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{})
		c := e.connect(t, mustCreate(t, e.hub, "o"))
		e.hub.Close()
		synctest.Wait()
		if code, _ := c.closeCode(); code != CloseGoingAway {
			t.Errorf("after Close: close code %d, want %d", code, CloseGoingAway)
		}
		if _, err := e.hub.CreateChannel("o", wsBase); !errors.Is(err, ErrClosed) {
			t.Errorf("CreateChannel after Close = %v, want ErrClosed", err)
		}
		e.hub.Close() // idempotent
	})
}

func TestDefaultTopicLimit(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	ch := mustCreate(t, h, "o")
	topics := make([]string, DefaultMaxTopicsPerChannel)
	for i := range topics {
		topics[i] = "v2.users.u" + strconv.Itoa(i) + ".presence"
	}
	if subs, err := h.Subscribe(ch.ID, topics, false); err != nil || len(subs) != 1000 {
		t.Fatalf("Subscribe(1000 topics) = %d subscriptions, %v; want 1000, nil", len(subs), err)
	}
	_, err := h.Subscribe(ch.ID, []string{"v2.users.extra.presence"}, false)
	if !errors.Is(err, ErrTooManyTopics) || !strings.Contains(err.Error(), "1001 topics; the limit is 1000") {
		t.Errorf("Subscribe(1001st) = %v, want ErrTooManyTopics naming 1001 and the limit 1000", err)
	}
	// Replacing with 1000 others is fine: the count is after the replace.
	for i := range topics {
		topics[i] = "v2.routing.queues.q" + strconv.Itoa(i) + ".users"
	}
	if _, err := h.Subscribe(ch.ID, topics, true); err != nil {
		t.Errorf("Subscribe(replace with 1000) = %v", err)
	}
}

func TestExpiryClosesSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: time.Hour, ChannelTTL: 2 * time.Hour})
		ch := mustCreate(t, e.hub, "o")
		c := e.connect(t, ch)
		time.Sleep(2*time.Hour + time.Second) // the sweep at 2 h removes it
		synctest.Wait()
		if code, text := c.closeCode(); code != CloseGoingAway || !strings.Contains(text, "expired") {
			t.Errorf("expired channel's socket: close %d %q, want %d expired", code, text, CloseGoingAway)
		}
		if st := e.hub.Stats(); st.Expired != 1 || st.Channels != 0 || st.Sockets != 0 {
			t.Errorf("Stats = %+v, want Expired 1, no channels or sockets", st)
		}
	})
}

// TestConcurrentChurn publishes while sockets connect, drop, get replaced
// and channels get evicted, for the race detector and synctest's deadlock
// detection; the counters must stay consistent.
func TestConcurrentChurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{MaxChannelsPerOwner: 4, SendBuffer: 8, HeartbeatInterval: time.Second, SocketClosingGrace: -1})
		h := e.hub
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					h.Publish("v2.users.u"+strconv.Itoa(i%3)+".presence", i, "c")
					if i%50 == w {
						time.Sleep(time.Second)
					}
				}
			}()
		}
		for k := range 12 {
			ch := mustCreate(t, h, "o")
			mustSubscribe(t, h, ch.ID, "v2.users.u0.presence", "v2.users.u1.presence", "v2.users.u2.presence")
			e.connect(t, ch)
			switch k % 4 {
			case 1:
				h.Drop(ch.ID)
			case 2:
				e.connect(t, ch) // replaces
			case 3:
				h.SocketClosing("")
			}
			time.Sleep(100 * time.Millisecond)
		}
		wg.Wait()
		synctest.Wait()
		st := h.Stats()
		if st.Published != 600 || st.Channels != 4 || st.Evicted != 8 || st.Connects != 15 {
			t.Errorf("Stats = %+v, want Published 600, Channels 4, Evicted 8, Connects 15", st)
		}
		if st.Disconnects+st.Sockets != st.Connects {
			t.Errorf("Disconnects %d + Sockets %d != Connects %d", st.Disconnects, st.Sockets, st.Connects)
		}
	})
}

// TestClientCloseFlushesQueue: a client's close frame is answered after the
// events already queued for its socket, which the client still reads (RFC
// 6455, 5.5.1). On a pipe the writer blocks on the first event until the
// client reads, so the close frame always arrives with the events queued.
func TestClientCloseFlushesQueue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		queued int
		code   int // the client's close code; the answer echoes it
	}{
		{"nothing queued", 0, websocket.CloseNormalClosure},
		{"one queued", 1, websocket.CloseNormalClosure},
		{"many queued", 20, websocket.CloseGoingAway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newTestEnv(t, Config{HeartbeatInterval: -1, SendBuffer: 32})
				ch := mustCreate(t, e.hub, "o")
				mustSubscribe(t, e.hub, ch.ID, "v2.users.u1.presence")
				conn, resp, err := e.dialer.Dial(ch.ConnectURI, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				defer conn.Close()
				for i := range tc.queued {
					if n := e.hub.Publish("v2.users.u1.presence", i, strconv.Itoa(i)); n != 1 {
						t.Fatalf("Publish %d reached %d sockets, want 1", i, n)
					}
				}
				synctest.Wait()
				if err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, "bye"), time.Now().Add(time.Second)); err != nil {
					t.Fatalf("client close frame: %v", err)
				}
				synctest.Wait()
				if n := e.hub.Publish("v2.users.u1.presence", -1, "late"); n != 0 {
					t.Errorf("Publish after the client's close frame reached %d sockets, want 0", n)
				}
				var got []string
				for {
					_, data, err := conn.ReadMessage()
					if err != nil {
						var ce *websocket.CloseError
						if !errors.As(err, &ce) || ce.Code != tc.code {
							t.Errorf("after %d events: %v, want a close frame with code %d", len(got), err, tc.code)
						}
						break
					}
					var ev event
					json.Unmarshal(data, &ev)
					got = append(got, ev.Metadata.CorrelationID)
				}
				if len(got) != tc.queued {
					t.Errorf("got %d events before the close answer, want the %d queued: %v", len(got), tc.queued, got)
				}
				for i, c := range got {
					if c != strconv.Itoa(i) {
						t.Errorf("event %d has correlation id %q, want %d (in order)", i, c, i)
					}
				}
				synctest.Wait()
				if st := e.hub.Stats(); st.Sockets != 0 || st.Disconnects != 1 || st.WriteErrors != 0 {
					t.Errorf("Stats = %+v, want Sockets 0, Disconnects 1, WriteErrors 0", st)
				}
			})
		})
	}
}

// TestClientCloseDrainIsBounded: a client that sends a close frame and then
// reads nothing loses its socket within writeWait; the hub does not wait on
// it longer.
func TestClientCloseDrainIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, Config{HeartbeatInterval: -1})
		ch := mustCreate(t, e.hub, "o")
		mustSubscribe(t, e.hub, ch.ID, "v2.users.u1.presence")
		conn, resp, err := e.dialer.Dial(ch.ConnectURI, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		defer conn.Close()
		for i := range 5 {
			e.hub.Publish("v2.users.u1.presence", i, "")
		}
		synctest.Wait()
		start := time.Now()
		if err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)); err != nil {
			t.Fatalf("client close frame: %v", err)
		}
		time.Sleep(writeWait - time.Nanosecond)
		synctest.Wait()
		if st := e.hub.Stats(); st.Sockets != 1 {
			t.Errorf("%v after the close frame: %d sockets, want 1 (still draining)", time.Since(start), st.Sockets)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if st := e.hub.Stats(); st.Sockets != 0 || st.Disconnects != 1 {
			t.Errorf("%v after the close frame: Stats = %+v, want the socket gone", time.Since(start), st)
		}
	})
}
