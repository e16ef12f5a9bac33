package gcsim_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// TestPresenceBodies: a presence PATCH takes the three bodies Genesys
// documents (presenceDefinition, message alone, primary alone); a message
// alone keeps the presence and the routing status; the source reads
// PURECLOUD whatever the path's case.
func TestPresenceBodies(t *testing.T) {
	s := newServer(t, nil)
	d := newDesk(t, s, 0)
	d.onQueue()
	_, pres := openChannel(t, s, d.tok, "v2.users."+d.uid+".presence")
	path := "/api/v2/users/" + d.uid + "/presences/purecloud"
	onQueue := presenceID(t, s, "On Queue")

	for _, tc := range []struct {
		name, body string
		status     int
		message    string
	}{
		{"message alone", `{"message":"back in 5"}`, 200, "back in 5"},
		{"primary alone", `{"primary":true}`, 200, "back in 5"},
		{"both", `{"message":"","primary":true}`, 200, ""},
		// PURECLOUD is the only source: it cannot stop being primary.
		{"primary false", `{"primary":false}`, 400, ""},
		{"nothing", `{}`, 400, ""},
	} {
		r := do(t, s, "PATCH", path, d.tok, tc.body)
		if r.Status != tc.status {
			t.Errorf("%s: PATCH %s: %d %s, want %d", tc.name, tc.body, r.Status, r.Body, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		var p sdkmUserpresence
		strict(t, tc.name, r.Body, &p)
		if p.PresenceDefinition == nil || p.PresenceDefinition.Id != onQueue || p.Message != tc.message {
			t.Errorf("%s: presence %+v, want On Queue (%s) with message %q", tc.name, p, onQueue, tc.message)
		}
		e := next(t, pres)
		var ev sdkmPresenceeventuserpresence
		strict(t, e.TopicName, e.EventBody, &ev)
		if ev.PresenceDefinition == nil || ev.PresenceDefinition.Id != onQueue || ev.Message != tc.message {
			t.Errorf("%s: presence event %s, want On Queue with message %q", tc.name, e.EventBody, tc.message)
		}
	}
	var rs sdkmRoutingstatus
	strict(t, "GET routingstatus", do(t, s, "GET", "/api/v2/users/"+d.uid+"/routingstatus", d.tok, nil).Body, &rs)
	if rs.Status != "IDLE" {
		t.Errorf("routing status after message and primary PATCHes = %s, want IDLE (unchanged)", rs.Status)
	}

	var p sdkmUserpresence
	strict(t, "GET presence", do(t, s, "GET", "/api/v2/users/"+d.uid+"/presences/PureCloud", d.tok, nil).Body, &p)
	if p.Source != "PURECLOUD" || p.SourceId != "PURECLOUD" {
		t.Errorf("GET presence source %q, sourceId %q, want PURECLOUD", p.Source, p.SourceId)
	}
}

// TestNeverSet: a user whose presence nobody set is Offline and OFF_QUEUE
// since the simulator started (not since 1970); a user id that does not
// exist is OFF_QUEUE, as the SDK documents, with no startTime.
func TestNeverSet(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	s := newServer(t, nil)
	after := time.Now()
	cc := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	within := func(what string, ts sdkTime) {
		t.Helper()
		got, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil || got.Before(before) || got.After(after) {
			t.Errorf("%s = %q, want the simulator's start, between %v and %v", what, ts, before, after)
		}
	}
	var rs sdkmRoutingstatus
	strict(t, "GET routingstatus", do(t, s, "GET", "/api/v2/users/"+gcsim.UserID(3)+"/routingstatus", cc, nil).Body, &rs)
	if rs.Status != "OFF_QUEUE" {
		t.Errorf("routing status of a user never set = %s, want OFF_QUEUE", rs.Status)
	}
	within("routing status startTime", rs.StartTime)
	var p sdkmUserpresence
	strict(t, "GET presence", do(t, s, "GET", "/api/v2/users/"+gcsim.UserID(3)+"/presences/purecloud", cc, nil).Body, &p)
	within("presence modifiedDate", p.ModifiedDate)

	r := do(t, s, "GET", "/api/v2/users/00000000-0000-4000-8000-00000000ffff/routingstatus", cc, nil)
	var unknown sdkmRoutingstatus
	strict(t, "GET routingstatus of an unknown user", r.Body, &unknown)
	if r.Status != 200 || unknown.Status != "OFF_QUEUE" || unknown.StartTime != "" {
		t.Errorf("unknown user: %d %s, want 200 OFF_QUEUE without startTime", r.Status, r.Body)
	}
}

// TestQueueNameFilter: GET /api/v2/routing/queues?name= is the exact name,
// with leading and trailing asterisks as wildcards (the Routing API's
// documentation), not a prefix.
func TestQueueNameFilter(t *testing.T) {
	s := newServer(t, nil) // 20 queues, "Queue 001" .. "Queue 020"
	cc := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	for _, tc := range []struct {
		name string
		want int
	}{
		{"Queue 001", 1},
		{"queue 001", 1}, // case ignored (unconfirmed)
		{"Queue 00", 0},  // not a prefix match
		{"Queue 00*", 9},
		{"*01", 1},
		{"*ue 01*", 10},
	} {
		var l sdkmQueueentitylisting
		strict(t, tc.name, do(t, s, "GET", "/api/v2/routing/queues?pageSize=100&name="+url.QueryEscape(tc.name), cc, nil).Body, &l)
		if len(l.Entities) != tc.want || l.Total != int64(tc.want) {
			t.Errorf("name=%q: %d queues (total %d), want %d", tc.name, len(l.Entities), l.Total, tc.want)
		}
	}
}

// TestUsersExpandAndID: GET /api/v2/users takes id (the users wanted) and
// expand=presence,routingStatus, as the Users API documents, on the listing
// and on one user.
func TestUsersExpandAndID(t *testing.T) {
	s := newServer(t, nil)
	cc := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	d := newDesk(t, s, 2)
	d.onQueue()
	ids := []string{gcsim.UserID(1), gcsim.UserID(2)}
	var l sdkmUserentitylisting
	strict(t, "GET users", do(t, s, "GET", "/api/v2/users?id="+ids[0]+","+ids[1]+"&expand=presence,routingStatus", cc, nil).Body, &l)
	if len(l.Entities) != 2 || l.Total != 2 {
		t.Fatalf("GET users?id= two ids: %d users (total %d), want 2", len(l.Entities), l.Total)
	}
	for i, u := range l.Entities {
		want := "OFF_QUEUE"
		if u.Id == d.uid {
			want = "IDLE"
		}
		if u.Id != ids[i] || u.Presence == nil || u.RoutingStatus == nil || string(u.RoutingStatus.Status) != want {
			t.Errorf("user %d: %s with presence %v, routing status %v; want %s expanded, routing status %s", i, u.Id, u.Presence, u.RoutingStatus, ids[i], want)
		}
	}
	var one sdkmUser
	strict(t, "GET user", do(t, s, "GET", "/api/v2/users/"+d.uid+"?expand=routingStatus", cc, nil).Body, &one)
	if one.RoutingStatus == nil || one.RoutingStatus.Status != "IDLE" || one.Presence != nil {
		t.Errorf("GET user?expand=routingStatus: routing status %v, presence %v; want IDLE and no presence", one.RoutingStatus, one.Presence)
	}
	var plain sdkmUser
	strict(t, "GET user", do(t, s, "GET", "/api/v2/users/"+d.uid, cc, nil).Body, &plain)
	if plain.RoutingStatus != nil || plain.Presence != nil {
		t.Errorf("GET user without expand: routing status %v, presence %v, want neither", plain.RoutingStatus, plain.Presence)
	}
}
