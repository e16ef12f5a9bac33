package gcsim_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// TestEndpoints calls every endpoint once with a valid request and checks
// the status and the JSON fields a Genesys SDK reads.
func TestEndpoints(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	u0, q0 := gcsim.UserID(0), gcsim.QueueID(0)
	avail := s.PresenceDefinitions()[0].ID
	onQueue := presenceID(t, s, "On Queue")
	tests := []struct {
		method, path string
		body         any
		status       int
		fields       []string // top-level fields the answer must have
	}{
		{"GET", "/api/v2/routing/queues?pageSize=5&pageNumber=2", nil, 200,
			[]string{"entities", "pageSize", "pageNumber", "total", "pageCount", "firstUri", "nextUri", "previousUri", "lastUri", "selfUri"}},
		{"GET", "/api/v2/routing/queues/" + q0, nil, 200, []string{"id", "name", "memberCount", "selfUri"}},
		{"GET", "/api/v2/users?pageSize=2", nil, 200, []string{"entities", "total", "pageCount"}},
		{"GET", "/api/v2/users/" + u0, nil, 200, []string{"id", "name", "email", "selfUri"}},
		{"GET", "/api/v2/presencedefinitions", nil, 200, []string{"entities"}},
		{"PATCH", "/api/v2/users/" + u0 + "/presences/purecloud", map[string]any{"presenceDefinition": map[string]string{"id": avail}}, 200,
			[]string{"id", "name", "source", "sourceId", "primary", "message", "presenceDefinition", "modifiedDate", "selfUri"}},
		{"GET", "/api/v2/users/" + u0 + "/presences/purecloud", nil, 200, []string{"presenceDefinition"}},
		{"PATCH", "/api/v2/users/" + u0 + "/presences/purecloud", map[string]any{"presenceDefinition": map[string]string{"id": onQueue}}, 200,
			[]string{"presenceDefinition"}},
		{"GET", "/api/v2/users/" + u0 + "/routingstatus", nil, 200, []string{"userId", "status", "startTime"}},
		{"GET", "/api/v2/users/" + u0 + "/queues", nil, 200, []string{"entities"}},
		{"PATCH", "/api/v2/users/" + u0 + "/queues", []map[string]any{{"id": q0, "joined": true}}, 200, []string{"entities"}},
		{"GET", "/api/v2/routing/queues/" + q0 + "/members", nil, 200, []string{"entities", "pageSize"}},
		{"GET", "/api/v2/routing/wrapupcodes", nil, 200, []string{"entities", "total"}},
		{"POST", "/api/v2/analytics/queues/observations/query", map[string]any{"filter": map[string]any{"type": "or",
			"predicates": []map[string]string{{"dimension": "queueId", "value": q0}}}}, 200, []string{"results"}},
		{"GET", "/api/v2/recordings/screensessions/details", nil, 200, []string{"count"}},
		{"PUT", "/api/v2/conversations/screenshares/abc/recordingstate", map[string]string{"recordingState": "active"}, 202, nil},
		{"GET", "/api/v2/organizations/limits/namespaces", nil, 200, []string{"entities", "total"}},
		{"GET", "/api/v2/organizations/limits/namespaces/platform.api", nil, 200, []string{"entities"}},
		{"GET", "/api/v2/organizations/limits/namespaces/platform.api/defaults", nil, 200, []string{"entities"}},
		{"GET", "/api/v2/organizations/limits/docs", nil, 200, []string{"url", "namespaces"}},
		{"GET", "/api/v2/tokens/me", nil, 200, []string{"organization", "OAuthClient", "dateTokenIdles"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := do(t, s, tt.method, tt.path, tok, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, tt.status, r.Body)
			}
			if r.Header.Get("ININ-Correlation-Id") == "" || r.Header.Get("inin-ratelimit-allowed") == "" {
				t.Errorf("missing ININ-Correlation-Id or inin-ratelimit-* headers: %v", r.Header)
			}
			if tt.fields == nil {
				return
			}
			m := r.json(t)
			for _, f := range tt.fields {
				if _, ok := m[f]; !ok {
					t.Errorf("answer lacks %q: %s", f, r.Body)
				}
			}
		})
	}
	// An unknown user is OFF_QUEUE, as the SDK's RoutingStatus documents.
	if r := do(t, s, "GET", "/api/v2/users/nobody/routingstatus", tok, nil); r.Status != 200 || r.json(t)["status"] != "OFF_QUEUE" {
		t.Errorf("routing status of an unknown user = %d %s, want 200 OFF_QUEUE", r.Status, r.Body)
	}
	// State changes are visible.
	if r := do(t, s, "GET", "/api/v2/users/"+u0+"/routingstatus", tok, nil); r.json(t)["status"] != "IDLE" {
		t.Errorf("routing status after going On Queue = %s, want IDLE", r.Body)
	}
	// A call needs a user token; its recording state answers 202 without a body.
	r := do(t, s, "POST", "/api/v2/conversations/calls", userToken(t, s, 1), map[string]string{"phoneNumber": "+15550100"})
	call, _ := r.json(t)["id"].(string)
	if r.Status != 200 || call == "" {
		t.Fatalf("POST /api/v2/conversations/calls with a user token: %d %s", r.Status, r.Body)
	}
	if r := do(t, s, "PATCH", "/api/v2/conversations/"+call+"/recordingstate", tok, map[string]string{"recordingState": "PAUSED"}); r.Status != 202 || len(r.Body) != 0 {
		t.Errorf("PATCH recordingstate = %d %q, want 202 without a body", r.Status, r.Body)
	}
	if r := do(t, s, "GET", "/api/v2/recordings/screensessions/details", tok, nil); r.json(t)["count"] != 1.0 {
		t.Errorf("screensessions count after one active screenshare = %s, want 1", r.Body)
	}
	if r := do(t, s, "POST", "/api/v2/analytics/conversations/details/query", tok, map[string]any{"interval": "2000-01-01T00:00:00Z/2100-01-01T00:00:00Z"}); r.json(t)["totalHits"] != 1.0 {
		t.Errorf("analytics after one call = %s, want totalHits 1", r.Body)
	}
	if r := do(t, s, "GET", "/api/v2/routing/queues?pageSize=5&pageNumber=2", tok, nil); r.json(t)["total"] != 20.0 || r.json(t)["pageCount"] != 4.0 {
		t.Errorf("queues page = %s, want total 20, pageCount 4", r.Body)
	}
	// Members: agent i is in queue i%20, so every queue of 1000 agents has 50.
	if r := do(t, s, "GET", "/api/v2/routing/queues/"+q0, tok, nil); r.json(t)["memberCount"] != 50.0 {
		t.Errorf("queue 0 = %s, want memberCount 50", r.Body)
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	presence := "/api/v2/users/" + gcsim.UserID(0) + "/presences/purecloud"
	big := `{"presenceDefinition":{"id":"` + strings.Repeat("x", 512001) + `"}}`
	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
		msg          string // substring of message
	}{
		{"screen recording start does not exist", "POST", "/api/v2/analytics/screenrecordings/r1/start", "{}", 404, "not.found", "404"},
		{"unknown path", "GET", "/api/v2/nothing", nil, 404, "not.found", ""},
		{"wrong method", "DELETE", "/api/v2/routing/queues", nil, 404, "not.found", ""},
		{"unknown user", "GET", "/api/v2/users/nobody/presences/purecloud", nil, 404, "not.found", "nobody"},
		{"malformed JSON", "PATCH", presence, `{"presenceDefinition": {"id": }`, 400, "bad.request", "invalid JSON at line 1"},
		{"truncated JSON", "PATCH", presence, `{"presenceDefinition": {"id": "x"`, 400, "bad.request", "malformed syntax"},
		{"wrong JSON type", "PATCH", presence, `{"presenceDefinition": "Available"}`, 400, "bad.request", "field presenceDefinition"},
		{"empty body", "PATCH", presence, nil, 400, "bad.request", "empty"},
		{"missing field", "PATCH", presence, `{}`, 400, "bad.request", "presenceDefinition.id, message or primary"},
		{"unknown presence", "PATCH", presence, `{"presenceDefinition":{"id":"x"}}`, 400, "bad.request", "not a presence definition"},
		{"bad routing status", "PUT", "/api/v2/users/" + gcsim.UserID(0) + "/routingstatus", `{"status":"ASLEEP"}`, 400, "bad.request", "ASLEEP"},
		{"analytics without interval", "POST", "/api/v2/analytics/conversations/details/query", `{}`, 400, "bad.request", "interval"},
		{"bad recording state", "PATCH", "/api/v2/conversations/c/recordingstate", `{"recordingState":"loud"}`, 400, "bad.request", "loud"},
		{"unknown conversation", "PATCH", "/api/v2/conversations/c/recordingstate", `{"recordingState":"paused"}`, 404, "not.found", "conversation c"},
		{"call with client credentials", "POST", "/api/v2/conversations/calls", `{"phoneNumber":"+15550100"}`, 400, "bad.request", "requires a user context"},
		{"calls list with client credentials", "GET", "/api/v2/conversations/calls", nil, 400, "bad.request", "requires a user context"},
		{"control of an unknown call", "PATCH", "/api/v2/conversations/calls/nope/participants/p", `{"state":"connected"}`, 404, "not.found", "conversation nope"},
		{"routing status set by a client", "PUT", "/api/v2/users/" + gcsim.UserID(0) + "/routingstatus", `{"status":"IDLE"}`, 400, "bad.request", "set by the system"},
		{"inject calls on no queue", "POST", "/admin/calls", `{"queueId":"nope","count":1}`, 400, "bad.request", "queue \"nope\" does not exist"},
		{"body over request.bytes.max", "PATCH", presence, big, 413, "request.entity.too.large", "The request is over the size limit. Maximum bytes: 512000"},
		{"bad paging", "GET", "/api/v2/routing/queues?pageSize=0", nil, 400, "bad.request", "pageSize"},
		{"unknown limits namespace", "GET", "/api/v2/organizations/limits/namespaces/nope", nil, 404, "not.found", "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, tt.method, tt.path, tok, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d; body %.300s", r.Status, tt.status, r.Body)
			}
			m := r.json(t)
			if m["code"] != tt.code || m["status"] != float64(tt.status) || m["contextId"] != r.Header.Get("ININ-Correlation-Id") {
				t.Errorf("body %.300s, want code %s, status %d, contextId = correlation id", r.Body, tt.code, tt.status)
			}
			if msg, _ := m["message"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q, want it to contain %q", msg, tt.msg)
			}
		})
	}
}

// TestCorrelationID: a client-chosen ININ-Correlation-Id is echoed, else
// one is made up per request.
func TestCorrelationID(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	req, _ := http.NewRequest("GET", s.URL()+queuesPath, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("ININ-Correlation-Id", "my-id-1")
	if r := send(t, s, req); r.Header.Get("ININ-Correlation-Id") != "my-id-1" {
		t.Errorf("echoed correlation id = %q, want my-id-1", r.Header.Get("ININ-Correlation-Id"))
	}
	a := do(t, s, "GET", queuesPath, tok, nil).Header.Get("ININ-Correlation-Id")
	b := do(t, s, "GET", queuesPath, tok, nil).Header.Get("ININ-Correlation-Id")
	if a == b || len(a) != 36 {
		t.Errorf("generated correlation ids %q, %q: want distinct UUIDs", a, b)
	}
}

// TestLimitsEndpoints: the organization limits read the profile; hidden and
// disabled limits are omitted.
func TestLimitsEndpoints(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Limits = append(p.Limits, gcsim.Limit{Key: "secret.rate", Namespace: "platform.api", Scope: genesys.ScopeToken, Allowed: 9, Window: gcsim.Duration(60e9), Hidden: true})
	for i := range p.Limits {
		if p.Limits[i].Key == genesys.KeyOrgAppUser {
			p.Limits[i].Allowed = 4000
		}
	}
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	get := func(path string) map[string]float64 {
		r := do(t, s, "GET", path, tok, nil)
		out := map[string]float64{}
		for _, e := range r.json(t)["entities"].([]any) {
			m := e.(map[string]any)
			out[m["key"].(string)] = m["value"].(float64)
		}
		return out
	}
	eff := get("/api/v2/organizations/limits/namespaces/platform.api")
	def := get("/api/v2/organizations/limits/namespaces/platform.api/defaults")
	if eff[genesys.KeyOrgAppUser] != 4000 || def[genesys.KeyOrgAppUser] != 3000 || eff["request.bytes.max"] != 512000 {
		t.Errorf("effective %v, defaults %v", eff, def)
	}
	if _, ok := eff["secret.rate"]; ok {
		t.Error("hidden limit listed")
	}
	if _, ok := eff[genesys.KeyOrg]; ok {
		t.Error("disabled limit listed")
	}
}

// TestRequestLog: the log has one line per request and never a token or secret.
func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	s := gcsim.NewUnstartedServer(nil)
	s.RequestLog = &buf
	s.Start()
	defer s.Close()
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	do(t, s, "GET", queuesPath, tok, nil)
	do(t, s, "GET", "/nope", tok, nil)
	log := buf.String()
	if n := strings.Count(log, "\n"); n != 3 {
		t.Errorf("log has %d lines, want 3:\n%s", n, log)
	}
	for _, want := range []string{`POST /oauth/token route="/oauth/token" status=200`, `route="/api/v2/routing/queues" status=200`, "client=sim-client", "status=404"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, tok) || strings.Contains(log, gcsim.DefaultClientSecret) {
		t.Errorf("log leaks a token or secret:\n%s", log)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAdminStats(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	for i := 0; i < 3; i++ {
		do(t, s, "GET", queuesPath, tok, nil)
	}
	do(t, s, "GET", "/api/v2/unknown", tok, nil)
	r := do(t, s, "GET", "/admin/stats", "", nil)
	if r.Status != 200 {
		t.Fatalf("GET /admin/stats: %d", r.Status)
	}
	body := string(r.Body)
	for _, want := range []string{`{"method":"GET","route":"/api/v2/routing/queues","status":200,"count":3}`, `"unknownPaths":1`,
		`"key":"client.credentials.token.rate.per.minute","scope":"token","allowed":3,"rejected":0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/admin/stats lacks %s:\n%s", want, body)
		}
	}
	if r := do(t, s, "POST", "/admin/reset", "", nil); r.Status != http.StatusNoContent {
		t.Fatalf("POST /admin/reset: %d", r.Status)
	}
	if st := s.Stats(); st.Count("GET", queuesPath, 200) != 0 || st.Bucket(genesys.KeyClientCredentialsToken).Allowed != 0 {
		t.Errorf("after reset: %+v", st)
	}
	// Reset also empties the windows: the token's count starts again.
	if r := do(t, s, "GET", queuesPath, tok, nil); r.Header.Get("inin-ratelimit-count") != "1" {
		t.Errorf("count after reset = %s, want 1", r.Header.Get("inin-ratelimit-count"))
	}
	if r := do(t, s, "GET", "/admin/nothing", "", nil); r.Status != 404 {
		t.Errorf("unknown admin path: %d", r.Status)
	}
}

func TestDirectory(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Directory.Agents, p.Directory.Queues = 7, 3
	s := newServer(t, p)
	us, qs := s.Users(), s.Queues()
	if len(us) != 7 || len(qs) != 3 {
		t.Fatalf("%d users, %d queues; want 7, 3", len(us), len(qs))
	}
	if us[6].ID != gcsim.UserID(6) || us[6].Name != "Agent 0007" || us[6].Email != "agent0007@sim-org.example" || us[6].QueueID != qs[0].ID {
		t.Errorf("user 6 = %+v", us[6])
	}
	// 7 agents over 3 queues: 3, 2, 2 members.
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	for i, want := range []float64{3, 2, 2} {
		if r := do(t, s, "GET", "/api/v2/routing/queues/"+qs[i].ID, tok, nil); r.json(t)["memberCount"] != want {
			t.Errorf("queue %d memberCount = %v, want %v", i, r.json(t)["memberCount"], want)
		}
	}
	names := fmt.Sprint(s.PresenceDefinitions())
	for _, want := range []string{"Available", "Away", "Busy", "Offline", "On Queue"} {
		if !strings.Contains(names, want) {
			t.Errorf("presence definitions lack %s: %s", want, names)
		}
	}
}
