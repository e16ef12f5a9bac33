package gcsim_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// noModel lists the routes whose answer no SDK model describes, with the
// reason; TestShapes checks them for status only.
var noModel = map[string]string{
	"GET /channels/{id}":                                                            "the WebSocket upgrade (101); its events are decoded below",
	"GET /api/v2/recordings/screensessions/details":                                 "ScreenRecordingSession listing is not in sdk-models.json",
	"GET /api/v2/organizations/limits/namespaces":                                   "untyped (interface{}) in every SDK",
	"GET /api/v2/conversations/calls/{id}/participants/{participantId}/wrapupcodes": "[]Wrapupcode: decoded as a list of the model",
}

// shapeCase is one request of TestShapes: the route it exercises, the
// request, the status wanted and what the answer decodes into (nil: no
// body).
type shapeCase struct {
	route  string // "METHOD template", as genesys.Routes names it
	method string
	path   string
	tok    string
	body   any
	status int
	into   func() any
}

func model[T any]() func() any { return func() any { return new(T) } }

// TestShapes sends one valid request to every route of the route table
// and decodes every JSON answer, and every event the requests cause, into
// the SDK's models (sdkmodels_gen_test.go) refusing unknown fields, enum
// values outside the SDK's and datetimes that are not ISO-8601 with
// milliseconds.
func TestShapes(t *testing.T) {
	s := newServer(t, nil)
	cc := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	ut := userToken(t, s, 0)
	u0, q0 := gcsim.UserID(0), gcsim.QueueID(0)
	onQueue := presenceID(t, s, "On Queue")

	// Every event topic the route calls publish on, for agent 0 and queue 0.
	var topics []string
	for pattern := range readSDKModels(t).EventTopics {
		if strings.HasPrefix(pattern, "v2.system.") {
			continue
		}
		id := u0
		if strings.HasPrefix(pattern, "v2.routing.queues.") || strings.HasPrefix(pattern, "v2.analytics.queues.") {
			id = q0
		}
		topics = append(topics, strings.Replace(pattern, "{id}", id, 1))
	}
	chID, ws := openChannel(t, s, cc, topics...)
	// The cases below replace and delete the first channel's topics before
	// the observations, sent ObservationInterval after a change, are due.
	_, obs := openChannel(t, s, cc, "v2.analytics.queues."+q0+".observations")

	var conv, part, comm string
	cases := []shapeCase{
		{route: "POST /oauth/token"}, // below: form bodies
		{"GET /channels/{id}", "", "", "", nil, 0, nil},
		{"GET /api/v2/routing/queues", "GET", "/api/v2/routing/queues?pageSize=5", cc, nil, 200, model[sdkmQueueentitylisting]()},
		{"GET /api/v2/routing/queues/{id}", "GET", "/api/v2/routing/queues/" + q0, cc, nil, 200, model[sdkmQueue]()},
		{"GET /api/v2/users", "GET", "/api/v2/users?pageSize=3", cc, nil, 200, model[sdkmUserentitylisting]()},
		{"GET /api/v2/users/me", "GET", "/api/v2/users/me", ut, nil, 200, model[sdkmUserme]()},
		{"GET /api/v2/users/{id}", "GET", "/api/v2/users/" + u0, cc, nil, 200, model[sdkmUser]()},
		{"PATCH /api/v2/users/{id}/presences/{source}", "PATCH", "/api/v2/users/" + u0 + "/presences/purecloud", ut,
			map[string]any{"presenceDefinition": map[string]string{"id": onQueue}}, 200, model[sdkmUserpresence]()},
		{"GET /api/v2/users/{id}/presences/{source}", "GET", "/api/v2/users/" + u0 + "/presences/purecloud", cc, nil, 200, model[sdkmUserpresence]()},
		{"GET /api/v2/users/{id}/routingstatus", "GET", "/api/v2/users/" + u0 + "/routingstatus", cc, nil, 200, model[sdkmRoutingstatus]()},
		{"PUT /api/v2/users/{id}/routingstatus", "PUT", "/api/v2/users/" + u0 + "/routingstatus", ut,
			map[string]string{"status": "IDLE"}, 200, model[sdkmRoutingstatus]()},
		{"GET /api/v2/presencedefinitions", "GET", "/api/v2/presencedefinitions", cc, nil, 200, model[sdkmOrganizationpresenceentitylisting]()},
		{"GET /api/v2/presence/definitions", "GET", "/api/v2/presence/definitions", cc, nil, 200, model[sdkmOrganizationpresencedefinitionentitylisting]()},
		{"GET /api/v2/users/{id}/queues", "GET", "/api/v2/users/" + u0 + "/queues", cc, nil, 200, model[sdkmUserqueueentitylisting]()},
		{"PATCH /api/v2/users/{id}/queues", "PATCH", "/api/v2/users/" + u0 + "/queues", cc,
			[]map[string]any{{"id": q0, "joined": false}}, 200, model[sdkmUserqueueentitylisting]()},
		{"PATCH /api/v2/users/{id}/queues", "PATCH", "/api/v2/users/" + u0 + "/queues", cc,
			[]map[string]any{{"id": q0, "joined": true}}, 200, model[sdkmUserqueueentitylisting]()},
		{"GET /api/v2/routing/queues/{id}/members", "GET", "/api/v2/routing/queues/" + q0 + "/members", cc, nil, 200, model[sdkmQueuememberentitylisting]()},
		{"GET /api/v2/routing/wrapupcodes", "GET", "/api/v2/routing/wrapupcodes", cc, nil, 200, model[sdkmWrapupcodeentitylisting]()},
		{"POST /api/v2/conversations/calls", "POST", "/api/v2/conversations/calls", userToken(t, s, 1),
			map[string]string{"phoneNumber": "+15550100"}, 200, model[sdkmCreatecallresponse]()},
		{route: "inject"}, // a queue call to agent 0
		{"GET /api/v2/conversations/calls", "GET", "/api/v2/conversations/calls", ut, nil, 200, model[sdkmCallconversationentitylisting]()},
		{"GET /api/v2/conversations/calls/{id}", "GET", "/api/v2/conversations/calls/{conv}", ut, nil, 200, model[sdkmCallconversation]()},
		{"GET /api/v2/conversations", "GET", "/api/v2/conversations", ut, nil, 200, model[sdkmConversationentitylisting]()},
		{"GET /api/v2/conversations/{id}", "GET", "/api/v2/conversations/{conv}", ut, nil, 200, model[sdkmConversation]()},
		{"PATCH /api/v2/conversations/calls/{id}/participants/{participantId}", "PATCH", "/api/v2/conversations/calls/{conv}/participants/{part}", ut,
			map[string]string{"state": "connected"}, 202, nil},
		{"PATCH /api/v2/conversations/{id}/recordingstate", "PATCH", "/api/v2/conversations/{conv}/recordingstate", cc,
			map[string]string{"recordingState": "PAUSED"}, 202, nil},
		{"PUT /api/v2/conversations/calls/{id}/recordingstate", "PUT", "/api/v2/conversations/calls/{conv}/recordingstate", cc,
			map[string]string{"recordingState": "ACTIVE"}, 202, nil},
		{"PUT /api/v2/conversations/screenshares/{id}/recordingstate", "PUT", "/api/v2/conversations/screenshares/abc/recordingstate", cc,
			map[string]string{"recordingState": "active"}, 202, nil},
		{"PATCH /api/v2/conversations/calls/{id}", "PATCH", "/api/v2/conversations/calls/{conv}", ut,
			map[string]string{"state": "disconnected"}, 200, model[sdkmConversation]()},
		{"GET /api/v2/conversations/calls/{id}/participants/{participantId}/wrapupcodes", "GET", "/api/v2/conversations/calls/{conv}/participants/{part}/wrapupcodes", ut,
			nil, 200, model[[]sdkmWrapupcode]()},
		{"POST /api/v2/conversations/calls/{id}/participants/{participantId}/communications/{communicationId}/wrapup", "POST",
			"/api/v2/conversations/calls/{conv}/participants/{part}/communications/{comm}/wrapup", ut,
			map[string]string{"code": gcsim.WrapupCodeID(0)}, 202, nil},
		{route: "inject"}, // another call, to transfer
		{"PATCH /api/v2/conversations/calls/{id}/participants/{participantId}", "PATCH", "/api/v2/conversations/calls/{conv}/participants/{part}", ut,
			map[string]string{"state": "connected"}, 202, nil},
		{"POST /api/v2/conversations/calls/{id}/participants/{participantId}/replace", "POST", "/api/v2/conversations/calls/{conv}/participants/{part}/replace", ut,
			map[string]string{"userId": gcsim.UserID(20)}, 202, nil},
		{"POST /api/v2/analytics/conversations/details/query", "POST", "/api/v2/analytics/conversations/details/query", cc,
			map[string]any{"interval": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"}, 200, model[sdkmAnalyticsconversationqueryresponse]()},
		{"POST /api/v2/analytics/queues/observations/query", "POST", "/api/v2/analytics/queues/observations/query", cc,
			map[string]any{"filter": map[string]any{"type": "or", "predicates": []map[string]string{{"dimension": "queueId", "value": q0}}}}, 200, model[sdkmQueueobservationqueryresponse]()},
		{"GET /api/v2/recordings/screensessions/details", "GET", "/api/v2/recordings/screensessions/details", cc, nil, 200, nil},
		{"GET /api/v2/organizations/limits/namespaces", "GET", "/api/v2/organizations/limits/namespaces", cc, nil, 200, nil},
		{"GET /api/v2/organizations/limits/namespaces/{namespace}", "GET", "/api/v2/organizations/limits/namespaces/platform.api", cc, nil, 200, model[sdkmLimitsentitylisting]()},
		{"GET /api/v2/organizations/limits/namespaces/{namespace}/defaults", "GET", "/api/v2/organizations/limits/namespaces/platform.api/defaults", cc, nil, 200, model[sdkmLimitsentitylisting]()},
		{"GET /api/v2/organizations/limits/docs", "GET", "/api/v2/organizations/limits/docs", cc, nil, 200, model[sdkmLimitdocumentation]()},
		{"POST /api/v2/notifications/channels", "POST", "/api/v2/notifications/channels", cc, nil, 200, model[sdkmChannel]()},
		{"GET /api/v2/notifications/channels", "GET", "/api/v2/notifications/channels?includechannels=oauthclient", cc, nil, 200, model[sdkmChannelentitylisting]()},
		{"HEAD /api/v2/notifications/channels/{id}", "HEAD", "/api/v2/notifications/channels/" + chID, cc, nil, 200, nil},
		{"GET /api/v2/notifications/channels/{id}/subscriptions", "GET", "/api/v2/notifications/channels/" + chID + "/subscriptions", cc, nil, 200, model[sdkmChanneltopicentitylisting]()},
		{"POST /api/v2/notifications/channels/{id}/subscriptions", "POST", "/api/v2/notifications/channels/" + chID + "/subscriptions", cc,
			[]map[string]string{{"id": "v2.users." + u0 + ".station"}, {"id": "v2.no.such.topic"}}, 200, model[sdkmChanneltopicentitylisting]()},
		{"PUT /api/v2/notifications/channels/{id}/subscriptions", "PUT", "/api/v2/notifications/channels/" + chID + "/subscriptions", cc,
			[]map[string]string{{"id": "v2.users." + u0 + ".presence"}}, 200, model[sdkmChanneltopicentitylisting]()},
		{"DELETE /api/v2/notifications/channels/{id}/subscriptions", "DELETE", "/api/v2/notifications/channels/" + chID + "/subscriptions", cc, nil, 204, nil},
		{"GET /api/v2/tokens/me", "GET", "/api/v2/tokens/me", ut, nil, 200, model[sdkmTokeninfo]()},
		{"HEAD /api/v2/tokens/me", "HEAD", "/api/v2/tokens/me", ut, nil, 200, nil},
		{"DELETE /api/v2/tokens/me", "DELETE", "/api/v2/tokens/me", token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret), nil, 204, nil},
	}

	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.route] = true
	}
	for _, r := range genesys.Routes() {
		if !covered[r.Method+" "+r.Template] {
			t.Errorf("route %s %s: no case in TestShapes; add one", r.Method, r.Template)
		}
	}

	for _, tc := range cases {
		switch tc.route {
		case "POST /oauth/token":
			var ok sdkmAuthResponse
			strict(t, "POST /oauth/token", tokenRequest(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret,
				url.Values{"grant_type": {"client_credentials"}}).Body, &ok)
			var bad sdkmAuthErrorResponse
			strict(t, "POST /oauth/token (error)", tokenRequest(t, s, gcsim.DefaultClientID, "wrong",
				url.Values{"grant_type": {"client_credentials"}}).Body, &bad)
			continue
		case "GET /channels/{id}":
			continue // openChannel connected
		case "inject":
			conv, part, comm = injectCall(t, s, ut, q0, u0)
			continue
		}
		path := strings.NewReplacer("{conv}", conv, "{part}", part, "{comm}", comm).Replace(tc.path)
		r := do(t, s, tc.method, path, tc.tok, tc.body)
		if r.Status != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, path, r.Status, tc.status, r.Body)
			continue
		}
		if tc.into == nil {
			if _, listed := noModel[tc.route]; !listed && len(r.Body) != 0 {
				t.Errorf("%s %s: body %s, want none (the SDK's answer is void)", tc.method, path, r.Body)
			}
			continue
		}
		strictE(t, tc.route, r.Body, tc.into())
	}
	// An error body is the Errorbody model.
	strictE(t, "404", do(t, s, "GET", "/api/v2/routing/queues/nope", cc, nil).Body, new(sdkmErrorbody))

	// Every event the requests above caused.
	bodies := eventModels(t)
	seen := map[string]int{}
	for _, ws := range []*websocket.Conn{ws, obs} {
		ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			var e event
			if err := ws.ReadJSON(&e); err != nil {
				break
			}
			if e.TopicName == "channel.metadata" {
				continue
			}
			into, ok := bodies(e.TopicName)
			if !ok {
				t.Errorf("event on %s: no SDK model for the topic: %s", e.TopicName, e.EventBody)
				continue
			}
			seen[pattern(e.TopicName)]++
			strictE(t, e.TopicName, e.EventBody, into)
		}
	}
	for _, want := range []string{"v2.users.{id}.presence", "v2.users.{id}.routingStatus", "v2.users.{id}.conversations.calls",
		"v2.users.{id}.conversations", "v2.routing.queues.{id}.conversations", "v2.routing.queues.{id}.conversations.calls",
		"v2.routing.queues.{id}.users", "v2.analytics.queues.{id}.observations"} {
		if seen[want] == 0 {
			t.Errorf("no event on %s (seen %v)", want, seen)
		}
	}
}

// injectCall queues a call on queue q, waits for it to reach agent uid
// and answers it; it returns the conversation, the agent's participant and
// its communication.
func injectCall(tb testing.TB, s *gcsim.Server, tok, q, uid string) (conv, part, comm string) {
	tb.Helper()
	conv = injectCalls(tb, s, q, 1)[0]
	var full sdkConversation
	strict(tb, "GET conversation", do(tb, s, "GET", "/api/v2/conversations/"+conv, tok, nil).Body, &full)
	for _, p := range full.Participants {
		if p.UserID == uid && p.Purpose == "agent" && len(p.Calls) == 1 && p.EndTime == "" {
			part, comm = p.ID, p.Calls[0].ID
		}
	}
	if part == "" {
		tb.Fatalf("call %s did not reach agent %s: %+v", conv, uid, full)
	}
	return conv, part, comm
}

// strictE decodes data into v refusing unknown fields, and reports a
// failure without stopping the test.
func strictE(tb testing.TB, what string, data []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Errorf("%s: %v in %s", what, err, data)
	}
}

// pattern turns a topic into its sdk-models.json pattern: its ids become {id}.
func pattern(topic string) string {
	parts := strings.Split(topic, ".")
	for i := range parts {
		if i > 0 && (parts[i-1] == "users" || parts[i-1] == "queues" || parts[i-1] == "token_revoked" || parts[i-1] == "no_longer_subscribed") {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, ".")
}

// eventModels returns a function giving the SDK model of a topic's event
// body, from sdk-models.json's event_topics.
func eventModels(tb testing.TB) func(topic string) (any, bool) {
	byModel := map[string]func() any{
		"Presenceeventuserpresence":                       model[sdkmPresenceeventuserpresence](),
		"Userroutingstatususerroutingstatus":              model[sdkmUserroutingstatususerroutingstatus](),
		"Conversationeventtopicconversation":              model[sdkmConversationeventtopicconversation](),
		"Conversationcalleventtopiccallconversation":      model[sdkmConversationcalleventtopiccallconversation](),
		"Queueconversationeventtopicconversation":         model[sdkmQueueconversationeventtopicconversation](),
		"Queueconversationcalleventtopiccallconversation": model[sdkmQueueconversationcalleventtopiccallconversation](),
		"Systemmessagesystemmessage":                      model[sdkmSystemmessagesystemmessage](),
		"Queueusereventtopicqueuemember":                  model[sdkmQueueusereventtopicqueuemember](),
		"Stateventqueuetopicstatsnotification":            model[sdkmStateventqueuetopicstatsnotification](),
	}
	topics := readSDKModels(tb).EventTopics
	for p, m := range topics {
		if byModel[m] == nil {
			tb.Fatalf("event topic %s: model %s has no struct in TestShapes", p, m)
		}
	}
	return func(topic string) (any, bool) {
		m, ok := topics[pattern(topic)]
		if !ok {
			return nil, false
		}
		return byModel[m](), true
	}
}
