package gcsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/gcsim"
)

// event is a notification as the socket delivers it.
type event struct {
	TopicName string          `json:"topicName"`
	EventBody json.RawMessage `json:"eventBody"`
	Metadata  struct {
		CorrelationID string `json:"CorrelationId"`
	} `json:"metadata"`
}

// openChannel creates a channel, subscribes topics and connects its socket.
func openChannel(tb testing.TB, s *gcsim.Server, tok string, topics ...string) (id string, ws *websocket.Conn) {
	tb.Helper()
	r := do(tb, s, "POST", "/api/v2/notifications/channels", tok, nil)
	if r.Status != 200 {
		tb.Fatalf("POST channels: %d %s", r.Status, r.Body)
	}
	ch := r.json(tb)
	id, uri := ch["id"].(string), ch["connectUri"].(string)
	if !strings.HasPrefix(uri, s.WSURL()+"/channels/") || ch["expires"] == nil {
		tb.Fatalf("channel = %s, want connectUri under %s and expires", r.Body, s.WSURL())
	}
	var subs []map[string]string
	for _, t := range topics {
		subs = append(subs, map[string]string{"id": t})
	}
	if r := do(tb, s, "POST", "/api/v2/notifications/channels/"+id+"/subscriptions", tok, subs); r.Status != 200 {
		tb.Fatalf("subscribe: %d %s", r.Status, r.Body)
	}
	d := websocket.Dialer{NetDialContext: s.DialContext, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(context.Background(), uri, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", uri, err)
	}
	resp.Body.Close()
	tb.Cleanup(func() { ws.Close() })
	return id, ws
}

// next reads events until one that is not a heartbeat.
func next(tb testing.TB, ws *websocket.Conn) event {
	tb.Helper()
	for {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var e event
		if err := ws.ReadJSON(&e); err != nil {
			tb.Fatalf("reading the socket: %v", err)
		}
		if e.TopicName == "channel.metadata" && strings.Contains(string(e.EventBody), "Heartbeat") {
			continue
		}
		return e
	}
}

// TestNotifications: REST state changes reach subscribed sockets in the
// Genesys envelope with the request's correlation id.
func TestNotifications(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	u, q := gcsim.UserID(3), gcsim.QueueID(1)
	id, ws := openChannel(t, s, tok, "v2.users."+u+".presence", "v2.users."+u+".routingStatus",
		"v2.routing.queues."+q+".conversations", "v2.users."+u+".conversations")

	if r := do(t, s, "HEAD", "/api/v2/notifications/channels/"+id, tok, nil); r.Status != 200 {
		t.Errorf("HEAD channel: %d", r.Status)
	}
	if r := do(t, s, "HEAD", "/api/v2/notifications/channels/nope", tok, nil); r.Status != 404 {
		t.Errorf("HEAD unknown channel: %d", r.Status)
	}
	if r := do(t, s, "GET", "/api/v2/notifications/channels/"+id+"/subscriptions", tok, nil); len(r.json(t)["entities"].([]any)) != 4 {
		t.Errorf("GET subscriptions = %s, want 4 entities", r.Body)
	}

	ws.WriteMessage(websocket.TextMessage, []byte(`{"message":"ping"}`))
	if e := next(t, ws); e.TopicName != "channel.metadata" || !strings.Contains(string(e.EventBody), "pong") {
		t.Errorf("answer to ping = %+v", e)
	}

	send := func(method, path string, body any) string {
		req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(mustJSON(t, body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		r := send(t, s, req)
		if r.Status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		return r.Header.Get("ININ-Correlation-Id")
	}
	avail := s.PresenceDefinitions()[0].ID
	corr := send("PATCH", "/api/v2/users/"+u+"/presences/purecloud", map[string]any{"presenceDefinition": map[string]string{"id": avail}})
	if e := next(t, ws); e.TopicName != "v2.users."+u+".presence" || e.Metadata.CorrelationID != corr || !strings.Contains(string(e.EventBody), avail) {
		t.Errorf("presence event = %+v, want topic v2.users.%s.presence, CorrelationId %s", e, u, corr)
	}
	// Going On Queue: the presence event, then the system's routing status.
	corr = send("PATCH", "/api/v2/users/"+u+"/presences/purecloud", map[string]any{"presenceDefinition": map[string]string{"id": presenceID(t, s, "On Queue")}})
	if e := next(t, ws); e.TopicName != "v2.users."+u+".presence" || e.Metadata.CorrelationID != corr {
		t.Errorf("presence event = %+v", e)
	}
	if e := next(t, ws); e.TopicName != "v2.users."+u+".routingStatus" || e.Metadata.CorrelationID != corr || !strings.Contains(string(e.EventBody), "IDLE") {
		t.Errorf("routing status event = %+v", e)
	}
	// The agent calls queue q (a user token): COMMUNICATING, and the call
	// on the agent's and the queue's topics.
	r := do(t, s, "POST", "/api/v2/conversations/calls", userToken(t, s, 3), map[string]string{"callQueueId": q})
	corr = r.Header.Get("ININ-Correlation-Id")
	if r.Status != 200 {
		t.Fatalf("POST /api/v2/conversations/calls: %d %s", r.Status, r.Body)
	}
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		e := next(t, ws)
		if e.Metadata.CorrelationID != corr {
			t.Errorf("call event %s: CorrelationId %q, want %q", e.TopicName, e.Metadata.CorrelationID, corr)
		}
		seen[e.TopicName] = true
	}
	if !seen["v2.routing.queues."+q+".conversations"] || !seen["v2.users."+u+".conversations"] || !seen["v2.users."+u+".routingStatus"] {
		t.Errorf("call events on %v, want the queue's and the agent's topics and the routing status", seen)
	}

	// DELETE subscriptions stops events.
	if r := do(t, s, "DELETE", "/api/v2/notifications/channels/"+id+"/subscriptions", tok, nil); r.Status != 204 {
		t.Errorf("DELETE subscriptions: %d", r.Status)
	}
	if st := s.Stats().Sockets; st.Sockets != 1 || st.Pongs != 1 || st.Delivered < 4 {
		t.Errorf("Stats().Sockets = %+v", st)
	}
	if n := s.Stats().Count("GET", "/channels/{id}", 101); n != 1 {
		t.Errorf("stats GET /channels/{id} 101 = %d, want 1", n)
	}
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestChannelErrors: channels of another owner are 404, bad topics are
// rejected with a reason, a bad body is 400.
func TestChannelErrors(t *testing.T) {
	s := newServer(t, nil)
	a := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	b := token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2)
	id := do(t, s, "POST", "/api/v2/notifications/channels", a, nil).json(t)["id"].(string)
	path := "/api/v2/notifications/channels/" + id + "/subscriptions"
	if r := do(t, s, "GET", path, b, nil); r.Status != 404 {
		t.Errorf("other client's channel: %d, want 404", r.Status)
	}
	r := do(t, s, "PUT", path, a, `[{"id":"v2.nonsense"}]`)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"Rejected"`) || !strings.Contains(string(r.Body), "rejectionReason") {
		t.Errorf("bad topic: %d %s, want 200 with a Rejected entity", r.Status, r.Body)
	}
	if r := do(t, s, "POST", path, a, `{"id":"v2.users.x.presence"}`); r.Status != 400 {
		t.Errorf("object instead of array: %d %s, want 400", r.Status, r.Body)
	}
	if r := do(t, s, "GET", "/api/v2/notifications/channels/nope/subscriptions", a, nil); r.Status != 404 {
		t.Errorf("unknown channel: %d, want 404", r.Status)
	}
	// A socket to an unknown channel is refused before the upgrade.
	d := websocket.Dialer{NetDialContext: s.DialContext}
	ws, resp, err := d.Dial(s.WSURL()+"/channels/nope", nil)
	if err == nil {
		ws.Close()
		t.Fatal("dial to an unknown channel succeeded")
	}
	if resp == nil || resp.StatusCode != 404 {
		t.Errorf("dial to an unknown channel: %v %v, want 404", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if n := s.Stats().Count("GET", "/channels/{id}", 404); n != 1 {
		t.Errorf("stats GET /channels/{id} 404 = %d, want 1", n)
	}
}

// TestSocketFaults: socket_closing storms and drops, from Go and admin.
func TestSocketFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.Notifications.SocketClosingGrace = gcsim.Duration(10 * time.Second)
		s := newPipeServer(t, p)
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		_, ws := openChannel(t, s, tok)
		s.SetFaults(gcsim.Faults{SocketClosing: true})
		if e := next(t, ws); e.TopicName != "v2.system.socket_closing" {
			t.Fatalf("after SocketClosing: %+v", e)
		}
		start := time.Now()
		ws.SetReadDeadline(start.Add(time.Minute))
		_, _, err := ws.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) || time.Since(start) != 10*time.Second {
			t.Errorf("close after %v with %v, want 1001 after the 10 s grace", time.Since(start), err)
		}
		ws.Close()
		synctest.Wait() // the hub has forgotten the closed socket
		_, ws2 := openChannel(t, s, tok)
		if r := do(t, s, "PUT", "/admin/faults", "", `{"dropSockets":true}`); r.Status != 200 {
			t.Fatalf("PUT /admin/faults dropSockets: %d %s", r.Status, r.Body)
		}
		if _, _, err := ws2.ReadMessage(); err == nil || websocket.IsCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure) {
			t.Errorf("dropped socket: %v, want an abrupt end (no close frame)", err)
		}
		if f := s.Faults(); f.DropSockets || f.SocketClosing {
			t.Errorf("actions remembered: %+v", f)
		}
		if st := s.Stats(); st.Faults.SocketDrops != 1 || st.Faults.SocketClosingStorms != 1 || st.Sockets.Drops != 1 {
			t.Errorf("stats faults %+v sockets %+v", st.Faults, st.Sockets)
		}
	})
}

// TestHeartbeat: heartbeats arrive every profile interval, on the fake clock.
func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.Notifications.HeartbeatInterval = gcsim.Duration(5 * time.Second)
		s := newPipeServer(t, p)
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		_, ws := openChannel(t, s, tok)
		var at []time.Time
		for len(at) < 3 {
			var e event
			if err := ws.ReadJSON(&e); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(e.EventBody), "WebSocket Heartbeat") {
				at = append(at, time.Now())
			}
		}
		if d := at[2].Sub(at[1]); d != 5*time.Second {
			t.Errorf("heartbeat gap %v, want 5s", d)
		}
	})
}

// TestListChannels: GET channels lists the caller token's channels, or
// with includechannels=oauthclient those of its client.
func TestListChannels(t *testing.T) {
	s := newServer(t, nil)
	a1 := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	a2 := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	b := token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2)
	for _, tok := range []string{a1, a1, a2, b} {
		do(t, s, "POST", "/api/v2/notifications/channels", tok, nil)
	}
	count := func(tok, query string) int {
		r := do(t, s, "GET", "/api/v2/notifications/channels"+query, tok, nil)
		if r.Status != 200 {
			t.Fatalf("GET channels%s: %d %s", query, r.Status, r.Body)
		}
		return len(r.json(t)["entities"].([]any))
	}
	for _, tc := range []struct {
		name, tok, query string
		want             int
	}{
		{"token a1", a1, "", 2},
		{"token a2", a2, "?includechannels=token", 1},
		{"client of a2", a2, "?includechannels=oauthclient", 3},
		{"other client", b, "?includechannels=oauthclient", 1},
	} {
		if got := count(tc.tok, tc.query); got != tc.want {
			t.Errorf("%s: %d channels, want %d", tc.name, got, tc.want)
		}
	}
	if r := do(t, s, "GET", "/api/v2/notifications/channels?includechannels=all", a1, nil); r.Status != 400 {
		t.Errorf("bad includechannels: %d, want 400", r.Status)
	}
}

// TestTopicLimit: a subscription beyond maxTopicsPerChannel is a 400 that
// names the limit and changes nothing.
func TestTopicLimit(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Notifications.MaxTopicsPerChannel = 2
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	id := do(t, s, "POST", "/api/v2/notifications/channels", tok, nil).json(t)["id"].(string)
	path := "/api/v2/notifications/channels/" + id + "/subscriptions"
	topics := []map[string]string{{"id": "v2.users.a.presence"}, {"id": "v2.users.b.presence"}, {"id": "v2.users.c.presence"}}
	r := do(t, s, "POST", path, tok, topics)
	if r.Status != 400 || r.json(t)["code"] != "bad.request" {
		t.Fatalf("3 topics on a 2-topic channel: %d %s, want 400", r.Status, r.Body)
	}
	if r := do(t, s, "GET", path, tok, nil); len(r.json(t)["entities"].([]any)) != 0 {
		t.Errorf("after the refused subscription: %s, want no topics", r.Body)
	}
}

// TestIgnoreErrors: a topic the token lacks a permission for fails the
// whole subscription request with 403 and subscribes nothing; with
// ignoreErrors=true the other topics are subscribed and the denied one is
// answered Rejected with its missingPermissions (Genesys' documented
// behaviour). A topic the simulator does not know is Rejected either way.
func TestIgnoreErrors(t *testing.T) {
	const perm = "analytics:queueObservation:view"
	p := gcsim.DefaultProfile()
	p.Notifications.DeniedTopics = map[string][]string{"v2.analytics.queues.{id}.observations": {perm}}
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	id := do(t, s, "POST", "/api/v2/notifications/channels", tok, nil).json(t)["id"].(string)
	path := "/api/v2/notifications/channels/" + id + "/subscriptions"
	presence, obs := "v2.users."+gcsim.UserID(0)+".presence", "v2.analytics.queues."+gcsim.QueueID(0)+".observations"
	compound := "v2.analytics.queues." + gcsim.QueueID(1) + "?observations"
	body := []map[string]string{{"id": presence}, {"id": obs}}

	for _, method := range []string{"PUT", "POST"} {
		r := do(t, s, method, path, tok, body)
		var e sdkmErrorbody
		strict(t, method+" subscriptions", r.Body, &e)
		if r.Status != 403 || e.Code != "missing.permissions" || !strings.Contains(e.Message, obs+" ("+perm+")") || !strings.Contains(e.Message, "ignoreErrors=true") {
			t.Errorf("%s with a denied topic: %d %s, want 403 missing.permissions naming %s, %s and ignoreErrors", method, r.Status, r.Body, obs, perm)
		}
	}
	var l sdkmChanneltopicentitylisting
	strict(t, "GET subscriptions", do(t, s, "GET", path, tok, nil).Body, &l)
	if len(l.Entities) != 0 {
		t.Errorf("subscriptions after the refused requests: %+v, want none", l.Entities)
	}

	r := do(t, s, "PUT", path+"?ignoreErrors=true", tok, append(body, map[string]string{"id": compound}, map[string]string{"id": "v2.no.such.topic"}))
	strict(t, "PUT subscriptions?ignoreErrors=true", r.Body, &l)
	got := map[string]string{}
	for _, e := range l.Entities {
		got[e.Id] = string(e.State)
		if e.State == "Rejected" && e.Id != "v2.no.such.topic" && (len(e.MissingPermissions) != 1 || e.MissingPermissions[0] != perm || e.RejectionReason == "") {
			t.Errorf("denied topic %s: %+v, want Rejected with missingPermissions [%s] and a rejectionReason", e.Id, e, perm)
		}
	}
	want := map[string]string{presence: "Permitted", obs: "Rejected", compound: "Rejected", "v2.no.such.topic": "Rejected"}
	if r.Status != 200 || len(got) != len(want) {
		t.Fatalf("PUT ?ignoreErrors=true: %d %s, want 200 and %v", r.Status, r.Body, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("PUT ?ignoreErrors=true: %s %s, want %s", k, got[k], v)
		}
	}
	strict(t, "GET subscriptions", do(t, s, "GET", path, tok, nil).Body, &l)
	if len(l.Entities) != 1 || l.Entities[0].Id != presence {
		t.Errorf("subscriptions after ignoreErrors=true: %+v, want only %s", l.Entities, presence)
	}
	if r := do(t, s, "POST", path+"?ignoreErrors=maybe", tok, body); r.Status != 400 || !strings.Contains(string(r.Body), "ignoreErrors") {
		t.Errorf("ignoreErrors=maybe: %d %s, want 400 naming ignoreErrors", r.Status, r.Body)
	}
}

// TestTopicTakeover: with the unconfirmed switch topicTakeover, a channel
// subscribing to a topic takes it from its owner's other channels: the
// first one gets v2.system.no_longer_subscribed.{id} with reason
// another_channel_subscribed in the SDK's SystemMessage and stops getting
// the topic, keeping its others; another owner's channel keeps it. By
// default channels share topics.
func TestTopicTakeover(t *testing.T) {
	u0 := gcsim.UserID(0)
	presence, routing := "v2.users."+u0+".presence", "v2.users."+u0+".routingStatus"
	goOnQueue := func(s *gcsim.Server) {
		t.Helper()
		r := do(t, s, "PATCH", "/api/v2/users/"+u0+"/presences/purecloud", userToken(t, s, 0),
			map[string]any{"presenceDefinition": map[string]string{"id": presenceID(t, s, "On Queue")}})
		if r.Status != 200 {
			t.Fatalf("PATCH presence: %d %s", r.Status, r.Body)
		}
	}

	p := gcsim.DefaultProfile()
	p.Unconfirmed.TopicTakeover = true
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	first, ws1 := openChannel(t, s, tok, presence, routing)
	_, other := openChannel(t, s, token(t, s, gcsim.DefaultClientID2, gcsim.DefaultClientSecret2), presence)
	second, ws2 := openChannel(t, s, tok, presence)

	e := next(t, ws1)
	var m sdkmSystemmessagesystemmessage
	strict(t, e.TopicName, e.EventBody, &m)
	if e.TopicName != "v2.system.no_longer_subscribed."+first || m.ChannelId != first || m.SystemTopicType != "no_longer_subscribed" ||
		m.Reason != "another_channel_subscribed" || m.OauthClientId != gcsim.DefaultClientID || m.OrganizationId == "" ||
		!strings.Contains(m.Message, presence) || !strings.Contains(m.Message, second) {
		t.Fatalf("first channel: event on %s %s, want no_longer_subscribed for %s with reason another_channel_subscribed naming %s and %s",
			e.TopicName, e.EventBody, first, presence, second)
	}
	var l sdkmChanneltopicentitylisting
	strict(t, "GET subscriptions", do(t, s, "GET", "/api/v2/notifications/channels/"+first+"/subscriptions", tok, nil).Body, &l)
	if len(l.Entities) != 1 || l.Entities[0].Id != routing {
		t.Errorf("first channel's subscriptions: %+v, want only %s", l.Entities, routing)
	}

	goOnQueue(s)
	if e := next(t, ws1); e.TopicName != routing {
		t.Errorf("first channel after the presence change: event on %s, want %s only (its presence was taken)", e.TopicName, routing)
	}
	for name, ws := range map[string]*websocket.Conn{"second channel": ws2, "other owner's channel": other} {
		if e := next(t, ws); e.TopicName != presence {
			t.Errorf("%s: event on %s, want %s", name, e.TopicName, presence)
		}
	}

	// The default: both channels of the owner get the topic.
	s = newServer(t, nil)
	tok = token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	_, ws1 = openChannel(t, s, tok, presence)
	_, ws2 = openChannel(t, s, tok, presence)
	goOnQueue(s)
	for i, ws := range []*websocket.Conn{ws1, ws2} {
		if e := next(t, ws); e.TopicName != presence {
			t.Errorf("default profile, channel %d: event on %s, want %s", i+1, e.TopicName, presence)
		}
	}
}
