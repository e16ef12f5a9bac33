package gcsim_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/gcsim"
)

// presenceID returns the id of the presence definition named name.
func presenceID(tb testing.TB, s *gcsim.Server, name string) string {
	tb.Helper()
	for _, p := range s.PresenceDefinitions() {
		if p.Name == name {
			return p.ID
		}
	}
	tb.Fatalf("no presence definition %q", name)
	return ""
}

// desk is one agent's view for the tests: its token and its socket.
type desk struct {
	tb  testing.TB
	s   *gcsim.Server
	tok string
	uid string
	ws  *websocket.Conn
}

func newDesk(tb testing.TB, s *gcsim.Server, i int) *desk {
	d := &desk{tb: tb, s: s, tok: userToken(tb, s, i), uid: gcsim.UserID(i)}
	_, d.ws = openChannel(tb, s, d.tok, "v2.users."+d.uid+".routingStatus", "v2.users."+d.uid+".conversations.calls")
	return d
}

// routing reads the next routing status event, skipping call events.
func (d *desk) routing() string {
	d.tb.Helper()
	e := next(d.tb, d.ws)
	for e.TopicName == "v2.users."+d.uid+".conversations.calls" {
		e = next(d.tb, d.ws)
	}
	if e.TopicName != "v2.users."+d.uid+".routingStatus" {
		d.tb.Fatalf("event on %s, want the routing status: %s", e.TopicName, e.EventBody)
	}
	var rs sdkRoutingStatusEvent
	strict(d.tb, e.TopicName, e.EventBody, &rs)
	if rs.ID != d.uid {
		d.tb.Errorf("routing status event id %q, want %q", rs.ID, d.uid)
	}
	return rs.RoutingStatus.Status
}

// call reads the next event, which must be a call event; it returns the
// agent's participant of d.
func (d *desk) call() (sdkCallEvent, sdkCallEventPartier) {
	d.tb.Helper()
	e := next(d.tb, d.ws)
	if e.TopicName != "v2.users."+d.uid+".conversations.calls" {
		d.tb.Fatalf("event on %s, want a call event: %s", e.TopicName, e.EventBody)
	}
	var c sdkCallEvent
	strict(d.tb, e.TopicName, e.EventBody, &c)
	for _, p := range c.Participants {
		if p.User != nil && p.User.ID == d.uid && p.Purpose == "agent" && (p.State != "disconnected" || p.DisconnectType != "timeout") {
			return c, p
		}
	}
	d.tb.Fatalf("call event without an agent participant for %s: %s", d.uid, e.EventBody)
	return c, sdkCallEventPartier{}
}

// onQueue sets the agent's presence to On Queue and checks it is IDLE.
func (d *desk) onQueue() {
	d.tb.Helper()
	r := do(d.tb, d.s, "PATCH", "/api/v2/users/"+d.uid+"/presences/purecloud", d.tok,
		map[string]any{"presenceDefinition": map[string]string{"id": presenceID(d.tb, d.s, "On Queue")}})
	if r.Status != 200 {
		d.tb.Fatalf("PATCH presence On Queue: %d %s", r.Status, r.Body)
	}
	if st := d.routing(); st != "IDLE" {
		d.tb.Fatalf("routing status after On Queue = %s, want IDLE", st)
	}
}

// patch sends a participant PATCH, which answers 202 without a body.
func (d *desk) patch(conv, part string, body string) {
	d.tb.Helper()
	r := do(d.tb, d.s, "PATCH", "/api/v2/conversations/calls/"+conv+"/participants/"+part, d.tok, body)
	if r.Status != 202 || len(r.Body) != 0 {
		d.tb.Fatalf("PATCH participant %s: %d %s, want 202 without a body", body, r.Status, r.Body)
	}
}

// injectCalls queues n inbound calls on queue q through the admin API.
func injectCalls(tb testing.TB, s *gcsim.Server, q string, n int) []string {
	tb.Helper()
	r := do(tb, s, "POST", "/admin/calls", "", map[string]any{"queueId": q, "count": n})
	var out struct {
		ConversationIDs []string `json:"conversationIds"`
	}
	if r.Status != 200 {
		tb.Fatalf("POST /admin/calls: %d %s", r.Status, r.Body)
	}
	strict(tb, "POST /admin/calls", r.Body, &out)
	return out.ConversationIDs
}

// TestCallLifecycle is the call-handling acceptance over real TCP: an agent
// goes On Queue by presence (IDLE), an injected call alerts it
// (INTERACTING), it answers, holds, resumes, hangs up and wraps up (IDLE),
// every answer and event decoded into the SDK's models.
func TestCallLifecycle(t *testing.T) {
	s := newServer(t, nil)
	d := newDesk(t, s, 0)
	d.onQueue()
	var rs sdkRoutingStatus
	strict(t, "GET routingstatus", do(t, s, "GET", "/api/v2/users/"+d.uid+"/routingstatus", d.tok, nil).Body, &rs)
	if rs.Status != "IDLE" || rs.UserID != d.uid {
		t.Fatalf("GET routingstatus = %+v, want IDLE for %s", rs, d.uid)
	}

	conv := injectCalls(t, s, gcsim.QueueID(0), 1)[0] // agent 0 is in queue 0
	if st := d.routing(); st != "INTERACTING" {
		t.Fatalf("routing status on the offer = %s, want INTERACTING", st)
	}
	c, me := d.call()
	if c.ID != conv || me.State != "alerting" || me.Queue == nil || me.Queue.ID != gcsim.QueueID(0) ||
		me.AlertingTimeoutMs != gcsim.DefaultAlertTimeout.Milliseconds() {
		t.Fatalf("offer = %+v, agent %+v; want conversation %s alerting from queue 0 with an 8 s alert timeout", c, me, conv)
	}

	// The communication id is the Conversation model's calls[].id.
	var full sdkConversation
	strict(t, "GET conversation", do(t, s, "GET", "/api/v2/conversations/"+conv, d.tok, nil).Body, &full)
	comm := ""
	for _, p := range full.Participants {
		if p.ID == me.ID && len(p.Calls) == 1 {
			comm = p.Calls[0].ID
		}
	}
	if comm == "" {
		t.Fatalf("GET /api/v2/conversations/%s has no call for participant %s: %+v", conv, me.ID, full)
	}

	d.patch(conv, me.ID, `{"state":"connected"}`)
	if _, me = d.call(); me.State != "connected" || me.ConnectedTime == "" {
		t.Fatalf("after answer: %+v, want connected", me)
	}
	// A supervisor's secure pause (client credentials): 202 without a body.
	cc := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	if r := do(t, s, "PUT", "/api/v2/conversations/calls/"+conv+"/recordingstate", cc, map[string]string{"recordingState": "PAUSED"}); r.Status != 202 || len(r.Body) != 0 {
		t.Fatalf("PUT call recordingstate: %d %s, want 202 without a body", r.Status, r.Body)
	}
	if c, me := d.call(); c.RecordingState != "paused" || me.RecordingState != "paused" {
		t.Fatalf("after a pause: %+v, want recordingState paused", c)
	}
	d.patch(conv, me.ID, `{"held":true}`)
	if _, me = d.call(); !me.Held || me.StartHoldTime == "" {
		t.Fatalf("after hold: %+v, want held", me)
	}
	d.patch(conv, me.ID, `{"held":false}`)
	if _, me = d.call(); me.Held {
		t.Fatalf("after resume: %+v, want not held", me)
	}
	d.patch(conv, me.ID, `{"state":"disconnected"}`)
	if _, me = d.call(); me.State != "disconnected" || !me.WrapupRequired || me.StartAcwTime == "" {
		t.Fatalf("after hang-up: %+v, want disconnected with wrap-up required", me)
	}

	var codes []sdkWrapupCode
	strict(t, "GET wrapupcodes", do(t, s, "GET", "/api/v2/conversations/calls/"+conv+"/participants/"+me.ID+"/wrapupcodes", d.tok, nil).Body, &codes)
	if len(codes) == 0 {
		t.Fatal("no wrap-up codes")
	}
	r := do(t, s, "POST", "/api/v2/conversations/calls/"+conv+"/participants/"+me.ID+"/communications/"+comm+"/wrapup", d.tok,
		map[string]string{"code": codes[0].ID, "notes": "done"})
	if r.Status != 202 || len(r.Body) != 0 {
		t.Fatalf("POST wrapup: %d %s, want 202 without a body", r.Status, r.Body)
	}
	if _, me = d.call(); me.Wrapup == nil || me.Wrapup.Code != codes[0].ID || me.EndAcwTime == "" {
		t.Fatalf("after wrap-up: %+v, want wrap-up %s", me, codes[0].ID)
	}
	if st := d.routing(); st != "IDLE" {
		t.Fatalf("routing status after wrap-up = %s, want IDLE", st)
	}
	strict(t, "GET conversation", do(t, s, "GET", "/api/v2/conversations/"+conv, d.tok, nil).Body, &full)
	if full.EndTime == "" {
		t.Errorf("conversation after hang-up has no endTime: %+v", full)
	}
}

// TestAlertTimeout: an offer nobody answers alerts for the alert timeout,
// then its agent is NOT_RESPONDING and the call goes to the next
// longest-idle member; going On Queue again makes the first agent IDLE.
func TestAlertTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		first, second := newDesk(t, s, 0), newDesk(t, s, 20) // both in queue 0
		first.onQueue()
		time.Sleep(time.Second) // the bubble's clock: first has been idle longer
		second.onQueue()
		start := time.Now()
		conv := injectCalls(t, s, gcsim.QueueID(0), 1)[0]
		if st := first.routing(); st != "INTERACTING" {
			t.Fatalf("longest-idle agent on the offer: %s, want INTERACTING", st)
		}
		if c, me := first.call(); c.ID != conv || me.State != "alerting" {
			t.Fatalf("offer to the longest-idle agent: %+v", me)
		}
		// Reading blocks the bubble until the alert timer fires.
		if st := first.routing(); st != "NOT_RESPONDING" {
			t.Fatalf("after the alert timeout: %s, want NOT_RESPONDING", st)
		}
		if waited := time.Since(start); waited != gcsim.DefaultAlertTimeout {
			t.Errorf("NOT_RESPONDING after %v, want the alert timeout %v", waited, gcsim.DefaultAlertTimeout)
		}
		if st := second.routing(); st != "INTERACTING" {
			t.Fatalf("next agent: %s, want INTERACTING (the call re-queued and offered)", st)
		}
		if c, me := second.call(); c.ID != conv || me.State != "alerting" {
			t.Fatalf("re-offer: %+v", me)
		}
		// A client may clear NOT_RESPONDING (PUT IDLE), nothing else.
		if r := do(t, s, "PUT", "/api/v2/users/"+first.uid+"/routingstatus", first.tok, map[string]string{"status": "INTERACTING"}); r.Status != 400 {
			t.Errorf("PUT routingstatus INTERACTING: %d %s, want 400", r.Status, r.Body)
		}
		var rs sdkRoutingStatus
		r := do(t, s, "PUT", "/api/v2/users/"+first.uid+"/routingstatus", first.tok, map[string]string{"status": "IDLE"})
		strict(t, "PUT routingstatus", r.Body, &rs)
		if r.Status != 200 || rs.Status != "IDLE" {
			t.Errorf("PUT routingstatus IDLE when NOT_RESPONDING: %d %s, want 200 IDLE", r.Status, r.Body)
		}
		if st := first.routing(); st != "IDLE" {
			t.Errorf("routing status event after PUT IDLE: %s", st)
		}
	})
}

// TestDeclineNotResponding: an agent that declines an offer (state
// disconnected while alerting) is NOT_RESPONDING, as Genesys' help on
// agent statuses says of a declined or unanswered interaction, and the call
// re-enters the queue and goes to the next member.
func TestDeclineNotResponding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		first, second := newDesk(t, s, 0), newDesk(t, s, 20) // both in queue 0
		first.onQueue()
		time.Sleep(time.Second) // the bubble's clock: first has been idle longer
		second.onQueue()
		conv := injectCalls(t, s, gcsim.QueueID(0), 1)[0]
		if st := first.routing(); st != "INTERACTING" {
			t.Fatalf("longest-idle agent on the offer: %s, want INTERACTING", st)
		}
		c, me := first.call()
		if c.ID != conv || me.State != "alerting" {
			t.Fatalf("offer to the longest-idle agent: %+v", me)
		}
		first.patch(conv, me.ID, `{"state":"disconnected"}`)
		if st := first.routing(); st != "NOT_RESPONDING" {
			t.Errorf("after declining: %s, want NOT_RESPONDING", st)
		}
		if st := second.routing(); st != "INTERACTING" {
			t.Fatalf("next agent: %s, want INTERACTING (the declined call re-queued and offered)", st)
		}
		if c, me := second.call(); c.ID != conv || me.State != "alerting" {
			t.Fatalf("re-offer: %+v", me)
		}
	})
}

// TestOfferLongestSinceHandled: a call goes to the member that has gone the
// longest since handling an ACD call, not the one IDLE the longest: going
// On Queue does not put an agent behind one that just handled a call
// (Genesys' help, "Agent availability": status changes and on-queue
// behavior do not affect agent selection).
func TestOfferLongestSinceHandled(t *testing.T) {
	s := newServer(t, nil)
	a, b := newDesk(t, s, 0), newDesk(t, s, 20) // both in queue 0
	a.onQueue()
	conv, part, comm := injectCall(t, s, a.tok, gcsim.QueueID(0), a.uid)
	a.patch(conv, part, `{"state":"connected"}`)
	r := do(t, s, "POST", "/api/v2/conversations/calls/"+conv+"/participants/"+part+"/communications/"+comm+"/wrapup", a.tok,
		map[string]string{"code": gcsim.WrapupCodeID(0)})
	if r.Status != 202 {
		t.Fatalf("POST wrapup: %d %s", r.Status, r.Body)
	}
	a.patch(conv, part, `{"state":"disconnected"}`) // wrapped up: IDLE at once
	var rs sdkRoutingStatus
	strict(t, "GET routingstatus", do(t, s, "GET", "/api/v2/users/"+a.uid+"/routingstatus", a.tok, nil).Body, &rs)
	if rs.Status != "IDLE" {
		t.Fatalf("agent a after its call: %s, want IDLE", rs.Status)
	}
	b.onQueue() // IDLE after a, and never handled a call

	next := injectCalls(t, s, gcsim.QueueID(0), 1)[0]
	var full sdkConversation
	strict(t, "GET conversation", do(t, s, "GET", "/api/v2/conversations/"+next, a.tok, nil).Body, &full)
	var offered []string
	for _, p := range full.Participants {
		if p.Purpose == "agent" {
			offered = append(offered, p.UserID)
		}
	}
	if len(offered) != 1 || offered[0] != b.uid {
		t.Errorf("second call offered to %v, want agent b %s (a handled a call, b none)", offered, b.uid)
	}
}

// userParticipant returns the participant of user uid with purpose, or fails.
func (d *desk) userCall(purpose string) (sdkCallEvent, sdkCallEventPartier) {
	d.tb.Helper()
	e := next(d.tb, d.ws)
	for e.TopicName != "v2.users."+d.uid+".conversations.calls" {
		e = next(d.tb, d.ws)
	}
	var c sdkCallEvent
	strict(d.tb, e.TopicName, e.EventBody, &c)
	for _, p := range c.Participants {
		if p.User != nil && p.User.ID == d.uid && p.Purpose == purpose {
			return c, p
		}
	}
	d.tb.Fatalf("call event without a %s participant for %s: %s", purpose, d.uid, e.EventBody)
	return c, sdkCallEventPartier{}
}

// TestUserCall: a call to the user's own number (not ACD) alerts without a
// timeout; answered, an On Queue user is COMMUNICATING, and IDLE again
// when it hangs up, without after-call work.
func TestUserCall(t *testing.T) {
	s := newServer(t, nil)
	d := newDesk(t, s, 5)
	d.onQueue()
	r := do(t, s, "POST", "/admin/calls", "", map[string]any{"userId": d.uid, "count": 1})
	if r.Status != 200 {
		t.Fatalf("POST /admin/calls for a user: %d %s", r.Status, r.Body)
	}
	c, me := d.userCall("user")
	if me.State != "alerting" || me.AlertingTimeoutMs != 0 {
		t.Fatalf("direct call: %+v, want alerting without an alert timeout", me)
	}
	d.patch(c.ID, me.ID, `{"state":"connected"}`)
	if st := d.routing(); st != "COMMUNICATING" {
		t.Fatalf("routing status on a direct call = %s, want COMMUNICATING", st)
	}
	d.patch(c.ID, me.ID, `{"state":"disconnected"}`)
	if st := d.routing(); st != "IDLE" {
		t.Fatalf("routing status after a direct call = %s, want IDLE", st)
	}
	if _, me = d.userCall("user"); me.WrapupRequired {
		t.Errorf("direct call needs wrap-up: %+v", me)
	}
}

// TestTransferAndObservations: queue observations count what waits and
// who handles it; a blind transfer to another queue frees the agent (after
// its wrap-up) and queues the call there.
func TestTransferAndObservations(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	observe := func(q string) map[string]float64 {
		t.Helper()
		r := do(t, s, "POST", "/api/v2/analytics/queues/observations/query", tok, map[string]any{"filter": map[string]any{"type": "or",
			"predicates": []map[string]string{{"dimension": "queueId", "value": q}}}, "metrics": []string{"oWaiting", "oInteracting", "oOnQueueUsers"}})
		var out struct {
			Results []struct {
				Group map[string]string `json:"group"`
				Data  []struct {
					Metric    string `json:"metric"`
					Qualifier string `json:"qualifier"`
					Stats     struct {
						Count float64 `json:"count"`
					} `json:"stats"`
				} `json:"data"`
			} `json:"results"`
		}
		strict(t, "observations", r.Body, &out)
		m := map[string]float64{}
		for _, d := range out.Results[0].Data {
			m[strings.TrimSuffix(d.Metric+"."+d.Qualifier, ".")] = d.Stats.Count
		}
		return m
	}
	q0, q1 := gcsim.QueueID(0), gcsim.QueueID(1)
	injectCalls(t, s, q0, 2)
	if m := observe(q0); m["oWaiting"] != 2 || m["oOnQueueUsers.IDLE"] != 0 {
		t.Fatalf("queue 0 with 2 calls and nobody on queue: %v, want oWaiting 2", m)
	}
	d := newDesk(t, s, 0)
	d.onQueue()
	d.routing() // INTERACTING: the oldest call is offered
	c, me := d.call()
	d.patch(c.ID, me.ID, `{"state":"connected"}`)
	if m := observe(q0); m["oWaiting"] != 1 || m["oInteracting"] != 1 || m["oOnQueueUsers.INTERACTING"] != 1 {
		t.Fatalf("queue 0 with one call handled, one waiting: %v", m)
	}
	r := do(t, s, "POST", "/api/v2/conversations/calls/"+c.ID+"/participants/"+me.ID+"/replace", tok, map[string]string{"queueId": q1})
	if r.Status != 202 {
		t.Fatalf("blind transfer: %d %s", r.Status, r.Body)
	}
	if m := observe(q1); m["oWaiting"] != 1 {
		t.Errorf("queue 1 after the transfer: %v, want the call waiting", m)
	}
	var call struct {
		Participants []struct {
			Purpose        string `json:"purpose"`
			State          string `json:"state"`
			DisconnectType string `json:"disconnectType"`
			WrapupRequired bool   `json:"wrapupRequired"`
		} `json:"participants"`
	}
	if err := json.Unmarshal(do(t, s, "GET", "/api/v2/conversations/calls/"+c.ID, tok, nil).Body, &call); err != nil {
		t.Fatal(err)
	}
	agents := 0
	for _, p := range call.Participants {
		if p.Purpose == "agent" {
			agents++
			if p.State != "disconnected" || p.DisconnectType != "transfer" || !p.WrapupRequired {
				t.Errorf("transferring agent: %+v, want disconnected by transfer, wrap-up required", p)
			}
		}
	}
	if agents != 1 {
		t.Errorf("%d agent participants after the transfer, want 1", agents)
	}
	if r := do(t, s, "GET", "/api/v2/conversations/calls/nope", tok, nil); r.Status != 404 {
		t.Errorf("GET an unknown call: %d, want 404", r.Status)
	}
}

// TestTrafficModel: the profile's traffic offers Poisson arrivals from its
// seed (the same seed, the same calls), and callers nobody answers hang up
// after their patience.
func TestTrafficModel(t *testing.T) {
	run := func(seed uint64) (calls, ended int) {
		synctest.Test(t, func(t *testing.T) {
			p := gcsim.DefaultProfile()
			p.Seed = seed
			p.ACD.Traffic = gcsim.Traffic{CallsPerSecond: 2, Patience: gcsim.Duration(5 * time.Second), Queues: []string{gcsim.QueueID(0)}}
			s := newPipeServer(t, p)
			start := time.Now()
			time.Sleep(time.Minute) // the bubble's clock
			tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
			r := do(t, s, "POST", "/api/v2/analytics/conversations/details/query", tok, map[string]any{
				"interval": start.UTC().Format(time.RFC3339) + "/" + start.Add(time.Hour).UTC().Format(time.RFC3339), "paging": map[string]int{"pageSize": 100}})
			var out struct {
				TotalHits     int `json:"totalHits"`
				Conversations []struct {
					ConversationStart string `json:"conversationStart"`
					ConversationEnd   string `json:"conversationEnd"`
					Participants      []struct {
						Purpose  string `json:"purpose"`
						Sessions []struct {
							Segments []struct {
								DisconnectType string `json:"disconnectType"`
								QueueID        string `json:"queueId"`
							} `json:"segments"`
						} `json:"sessions"`
					} `json:"participants"`
				} `json:"conversations"`
			}
			if err := json.Unmarshal(r.Body, &out); err != nil {
				t.Fatal(err)
			}
			calls = out.TotalHits
			for _, c := range out.Conversations {
				if c.ConversationEnd != "" {
					ended++
				}
			}
			// Callers abandon after 5 s on average: those of the first 50 s
			// have all hung up but for a few with a long patience.
			if len(out.Conversations) > 0 && ended < len(out.Conversations)*3/4 {
				t.Errorf("%d of %d conversations ended by abandon, want most", ended, len(out.Conversations))
			}
		})
		return calls, ended
	}
	calls, ended := run(7)
	// 120 expected in a minute; a Poisson count is within 120 ± 5σ (σ ≈ 11).
	if calls < 65 || calls > 175 {
		t.Errorf("%d calls in a minute at 2 per second, want about 120", calls)
	}
	if again, againEnded := run(7); again != calls || againEnded != ended {
		t.Errorf("seed 7 twice: %d and %d calls (%d and %d ended), want the same", calls, again, ended, againEnded)
	}
	if other, _ := run(8); other == calls {
		t.Logf("seeds 7 and 8 gave the same count %d (possible, unlikely)", other)
	}
}

// TestQueueMembership: an agent that left its queue is not offered its
// calls; rejoining offers the waiting call at once. Listings decode into
// the SDK's UserQueue and QueueMember.
func TestQueueMembership(t *testing.T) {
	s := newServer(t, nil)
	d := newDesk(t, s, 0)
	q0 := gcsim.QueueID(0)
	join := func(joined bool) {
		t.Helper()
		r := do(t, s, "PATCH", "/api/v2/users/"+d.uid+"/queues", d.tok, []map[string]any{{"id": q0, "joined": joined}})
		var l sdkUserQueues
		strict(t, "PATCH user queues", r.Body, &l)
		if r.Status != 200 || len(l.Entities) != 1 || l.Entities[0].ID != q0 || l.Entities[0].Joined != joined {
			t.Fatalf("PATCH user queues joined=%v: %d %s", joined, r.Status, r.Body)
		}
	}
	join(false)
	d.onQueue()
	injectCalls(t, s, q0, 1)
	var members sdkQueueMembers
	strict(t, "GET members", do(t, s, "GET", "/api/v2/routing/queues/"+q0+"/members?pageSize=1", d.tok, nil).Body, &members)
	if len(members.Entities) != 1 || members.Entities[0].ID != d.uid || members.Entities[0].Joined || members.Entities[0].RoutingStatus.Status != "IDLE" {
		t.Fatalf("queue 0's first member = %+v, want %s IDLE and not joined (not offered the call)", members.Entities, d.uid)
	}
	join(true)
	if st := d.routing(); st != "INTERACTING" {
		t.Fatalf("after rejoining: %s, want INTERACTING (the waiting call offered)", st)
	}
	var uq sdkUserQueues
	strict(t, "GET user queues", do(t, s, "GET", "/api/v2/users/"+d.uid+"/queues", d.tok, nil).Body, &uq)
	if len(uq.Entities) != 1 || !uq.Entities[0].Joined {
		t.Errorf("GET user queues = %+v, want queue 0 joined", uq)
	}
	r := do(t, s, "PATCH", "/api/v2/users/"+d.uid+"/queues", d.tok, []map[string]any{{"id": gcsim.QueueID(1), "joined": true}})
	if r.Status != 400 || !strings.Contains(string(r.Body), "not a member") {
		t.Errorf("joining another agent's queue: %d %s, want 400 not a member", r.Status, r.Body)
	}
}

// TestDetailsHandleTime: the details query reports a handled call's
// segments and the agent's talk, hold, after-call work and handle times,
// on the bubble's clock.
func TestDetailsHandleTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		d := newDesk(t, s, 0)
		d.onQueue()
		start := time.Now()
		conv := injectCalls(t, s, gcsim.QueueID(0), 1)[0]
		d.routing() // INTERACTING
		_, me := d.call()
		time.Sleep(2 * time.Second) // the bubble's clock: alerting
		d.patch(conv, me.ID, `{"state":"connected"}`)
		time.Sleep(30 * time.Second)
		d.patch(conv, me.ID, `{"held":true}`)
		time.Sleep(10 * time.Second)
		d.patch(conv, me.ID, `{"held":false}`)
		time.Sleep(20 * time.Second)
		d.patch(conv, me.ID, `{"state":"disconnected"}`)
		time.Sleep(5 * time.Second)
		var full sdkConversation
		strict(t, "GET conversation", do(t, s, "GET", "/api/v2/conversations/"+conv, d.tok, nil).Body, &full)
		comm := ""
		for _, p := range full.Participants {
			if p.ID == me.ID {
				comm = p.Calls[0].ID
			}
		}
		r := do(t, s, "POST", "/api/v2/conversations/calls/"+conv+"/participants/"+me.ID+"/communications/"+comm+"/wrapup", d.tok,
			map[string]string{"code": gcsim.WrapupCodeID(0)})
		if r.Status != 202 {
			t.Fatalf("wrap-up: %d %s", r.Status, r.Body)
		}
		r = do(t, s, "POST", "/api/v2/analytics/conversations/details/query", d.tok, map[string]any{
			"interval": start.UTC().Format(time.RFC3339) + "/" + start.Add(time.Hour).UTC().Format(time.RFC3339)})
		var out struct {
			TotalHits     int `json:"totalHits"`
			Conversations []struct {
				ConversationEnd string `json:"conversationEnd"`
				Participants    []struct {
					Purpose  string `json:"purpose"`
					Sessions []struct {
						Segments []struct {
							SegmentType string `json:"segmentType"`
							WrapUpCode  string `json:"wrapUpCode"`
						} `json:"segments"`
						Metrics []struct {
							Name  string `json:"name"`
							Value int64  `json:"value"`
						} `json:"metrics"`
					} `json:"sessions"`
				} `json:"participants"`
			} `json:"conversations"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil || out.TotalHits != 1 {
			t.Fatalf("details: %v %s", err, r.Body)
		}
		c := out.Conversations[0]
		if c.ConversationEnd == "" {
			t.Errorf("no conversationEnd: %s", r.Body)
		}
		got := map[string]int64{}
		var segs []string
		for _, p := range c.Participants {
			if p.Purpose != "agent" {
				continue
			}
			for _, m := range p.Sessions[0].Metrics {
				got[m.Name] = m.Value
			}
			for _, sg := range p.Sessions[0].Segments {
				segs = append(segs, sg.SegmentType+sg.WrapUpCode)
			}
		}
		want := map[string]int64{"tAlert": 2000, "tTalk": 50000, "tHeld": 10000, "tAcw": 5000, "tHandle": 65000}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %d ms, want %d", k, got[k], v)
			}
		}
		if strings.Join(segs, ",") != "alert,interact,hold,interact,wrapup"+gcsim.WrapupCodeID(0) {
			t.Errorf("agent segments %v, want alert, interact, hold, interact, wrapup with its code", segs)
		}
	})
}

// TestACDProfile: the acd object parses, and a bad value is refused with
// its path and how to fix it.
func TestACDProfile(t *testing.T) {
	p, err := gcsim.ParseProfile([]byte(`{"acd":{"alertTimeout":"12s","traffic":{"callsPerSecond":0.5,"patience":"30s","queues":["` + gcsim.QueueID(3) + `"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ACD.AlertTimeout.Std() != 12*time.Second || p.ACD.Traffic.CallsPerSecond != 0.5 || p.ACD.Traffic.Queues[0] != gcsim.QueueID(3) {
		t.Errorf("parsed acd = %+v", p.ACD)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"acd":{"alertTimeout":"-1s"}}`, "acd.alertTimeout: must be >= 0"},
		{`{"acd":{"traffic":{"callsPerSecond":-2}}}`, "acd.traffic.callsPerSecond: -2"},
		{`{"acd":{"traffic":{"queues":["nope"]}}}`, `acd.traffic.queues[0]: "nope" is not a queue of the directory`},
		{`{"acd":{"traffic":{"patiense":"1s"}}}`, "patiense"},
	} {
		if _, err := gcsim.ParseProfile([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseProfile(%s) = %v, want an error containing %q", tc.json, err, tc.want)
		}
	}
}

// TestRequeueKeepsPlace: a call back from an unanswered offer is offered
// again before the calls that came after it.
func TestRequeueKeepsPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		d := newDesk(t, s, 0)
		d.onQueue()
		calls := injectCalls(t, s, gcsim.QueueID(0), 2)
		d.routing()
		if c, _ := d.call(); c.ID != calls[0] {
			t.Fatalf("first offer %s, want the older call %s", c.ID, calls[0])
		}
		if st := d.routing(); st != "NOT_RESPONDING" { // after the alert timeout
			t.Fatalf("after the alert timeout: %s", st)
		}
		d.onQueue() // IDLE, then offered again
		if st := d.routing(); st != "INTERACTING" {
			t.Fatalf("back on queue with calls waiting: %s, want INTERACTING", st)
		}
		if c, me := d.call(); c.ID != calls[0] || me.State != "alerting" {
			t.Errorf("second offer %s (%s), want %s again: it keeps its place", c.ID, me.State, calls[0])
		}
	})
}

// TestInteractingAtConnect: Genesys' help does not say whether an alerting
// offer makes an agent INTERACTING, so the simulator has a switch. Off (the
// default), INTERACTING comes with the offer; on, the agent stays IDLE
// while the offer alerts and becomes INTERACTING when it answers. Either
// way routing offers an alerting agent no second call, and an agent whose
// offer the caller abandoned takes the next waiting call.
func TestInteractingAtConnect(t *testing.T) {
	for _, tc := range []struct {
		atConnect bool
		// The events of agent 0, alone On Queue in queue 0, while two calls
		// wait: "routing X" or "call A|B state".
		offered, abandoned, answered []string
		alertingStatus               string // GET routingstatus while A alerts
	}{{
		atConnect:      false,
		offered:        []string{"routing INTERACTING", "call A alerting"},
		abandoned:      []string{"routing IDLE", "routing INTERACTING", "call B alerting", "call A disconnected"},
		answered:       []string{"call B connected"},
		alertingStatus: "INTERACTING",
	}, {
		atConnect:      true,
		offered:        []string{"call A alerting"},
		abandoned:      []string{"call B alerting", "call A disconnected"},
		answered:       []string{"routing INTERACTING", "call B connected"},
		alertingStatus: "IDLE",
	}} {
		t.Run(fmt.Sprintf("interactingAtConnect=%v", tc.atConnect), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, err := gcsim.ParseProfile(fmt.Appendf(nil, `{"unconfirmed":{"interactingAtConnect":%v}}`, tc.atConnect))
				if err != nil || p.Unconfirmed.InteractingAtConnect != tc.atConnect {
					t.Fatalf("ParseProfile: %+v, %v; want interactingAtConnect %v", p.Unconfirmed, err, tc.atConnect)
				}
				s := newPipeServer(t, p)
				d := newDesk(t, s, 0)
				d.onQueue()
				ids := injectCalls(t, s, gcsim.QueueID(0), 2)
				name := map[string]string{ids[0]: "A", ids[1]: "B"}
				var customer, mine string // of call A; agent 0's participant of call B
				read := func(n int) []string {
					t.Helper()
					var got []string
					for range n {
						e := next(t, d.ws)
						switch e.TopicName {
						case "v2.users." + d.uid + ".routingStatus":
							var rs sdkRoutingStatusEvent
							strict(t, e.TopicName, e.EventBody, &rs)
							got = append(got, "routing "+rs.RoutingStatus.Status)
						case "v2.users." + d.uid + ".conversations.calls":
							var c sdkCallEvent
							strict(t, e.TopicName, e.EventBody, &c)
							for _, p := range c.Participants {
								if p.Purpose == "customer" && name[c.ID] == "A" {
									customer = p.ID
								}
								if p.Purpose == "agent" && p.User != nil && p.User.ID == d.uid {
									got = append(got, "call "+name[c.ID]+" "+p.State)
									if name[c.ID] == "B" {
										mine = p.ID
									}
								}
							}
						default:
							t.Fatalf("event on %s: %s", e.TopicName, e.EventBody)
						}
					}
					return got
				}
				if got := read(len(tc.offered)); !slices.Equal(got, tc.offered) {
					t.Fatalf("on the offer: events %q, want %q", got, tc.offered)
				}
				var rs sdkRoutingStatus
				strict(t, "GET routingstatus", do(t, s, "GET", "/api/v2/users/"+d.uid+"/routingstatus", d.tok, nil).Body, &rs)
				if rs.Status != tc.alertingStatus {
					t.Errorf("GET routingstatus while alerting = %s, want %s", rs.Status, tc.alertingStatus)
				}
				// B waits: an alerting agent is not offered a second call.
				if got := waitingIn(t, s, gcsim.QueueID(0)); got != 1 {
					t.Errorf("oWaiting while A alerts = %d, want 1 (B not offered to the alerting agent)", got)
				}
				// The caller of A hangs up while it alerts: the agent is free and gets B.
				d.patch(ids[0], customer, `{"state":"disconnected"}`)
				if got := read(len(tc.abandoned)); !slices.Equal(got, tc.abandoned) {
					t.Fatalf("after A's caller hung up: events %q, want %q", got, tc.abandoned)
				}
				d.patch(ids[1], mine, `{"state":"connected"}`)
				if got := read(len(tc.answered)); !slices.Equal(got, tc.answered) {
					t.Fatalf("on answering B: events %q, want %q", got, tc.answered)
				}
				if set := strings.Join(p.Settings(), "\n"); !strings.Contains(set, "unconfirmed: an agent offered an ACD call") ||
					!strings.Contains(set, "unconfirmed.interactingAtConnect") {
					t.Errorf("Settings() = %q, want the routing-status setting named as unconfirmed", set)
				}
			})
		})
	}
}

// waitingIn reads oWaiting of queue q from the observations query.
func waitingIn(tb testing.TB, s *gcsim.Server, q string) int {
	tb.Helper()
	cc := token(tb, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	r := do(tb, s, "POST", "/api/v2/analytics/queues/observations/query", cc,
		map[string]any{"filter": map[string]any{"type": "or", "predicates": []map[string]string{{"dimension": "queueId", "value": q}}},
			"metrics": []string{"oWaiting"}})
	var out struct {
		Results []struct {
			Data []struct {
				Metric string `json:"metric"`
				Stats  struct {
					Count int `json:"count"`
				} `json:"stats"`
			} `json:"data"`
		} `json:"results"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &out) != nil {
		tb.Fatalf("observations query: %d %s", r.Status, r.Body)
	}
	for _, res := range out.Results {
		for _, d := range res.Data {
			if d.Metric == "oWaiting" {
				return d.Stats.Count
			}
		}
	}
	tb.Fatalf("observations query: no oWaiting in %s", r.Body)
	return 0
}
