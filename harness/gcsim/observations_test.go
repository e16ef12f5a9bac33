package gcsim_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// figures flattens observations (query data or event metrics) to
// "metric[.qualifier]" → count.
func figures(tb testing.TB, data []sdkmStateventqueuetopicmetricstats) map[string]float64 {
	tb.Helper()
	m := map[string]float64{}
	for _, d := range data {
		n, ok := d.Stats["count"].(float64)
		if !ok || len(d.Stats) != 1 {
			tb.Fatalf("%s stats %v, want {\"count\": n}", d.Metric, d.Stats)
		}
		m[strings.TrimSuffix(d.Metric+"."+d.Qualifier, ".")] = n
	}
	return m
}

// TestObservationEvents: v2.analytics.queues.{id}.observations carries the
// figures the observations query answers, in the SDK's
// StatEventQueueTopicStatsNotification; changes within
// ObservationInterval make one event, sent at its end, and no change makes
// none.
func TestObservationEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		q0 := gcsim.QueueID(0)
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		_, sup := openChannel(t, s, tok, "v2.analytics.queues."+q0+".observations")
		query := func() map[string]float64 {
			t.Helper()
			r := do(t, s, "POST", "/api/v2/analytics/queues/observations/query", tok, map[string]any{"filter": map[string]any{"type": "or",
				"predicates": []map[string]string{{"dimension": "queueId", "value": q0}}}})
			var out sdkmQueueobservationqueryresponse
			strict(t, "observations query", r.Body, &out)
			if len(out.Results) != 1 || out.Results[0].Group["queueId"] != q0 {
				t.Fatalf("observations query: %s, want one result for queue %s", r.Body, q0)
			}
			m := map[string]float64{}
			for _, d := range out.Results[0].Data {
				m[strings.TrimSuffix(d.Metric+"."+d.Qualifier, ".")] = float64(d.Stats.Count)
			}
			return m
		}
		// A reader keeps the socket drained (a pipe write blocks until read)
		// and stamps each event with the bubble's time.
		type stamped struct {
			e  event
			at time.Time
		}
		events := make(chan stamped, 64)
		go func() {
			defer close(events)
			for {
				var e event
				if err := sup.ReadJSON(&e); err != nil {
					return
				}
				if e.TopicName != "channel.metadata" {
					events <- stamped{e, time.Now()}
				}
			}
		}()
		event := func() (map[string]float64, time.Time) {
			t.Helper()
			se, ok := <-events
			if !ok {
				t.Fatal("the supervisor's socket closed")
			}
			e := se.e
			if e.TopicName != "v2.analytics.queues."+q0+".observations" {
				t.Fatalf("event on %s, want the observations of queue 0", e.TopicName)
			}
			var body sdkmStateventqueuetopicstatsnotification
			strict(t, e.TopicName, e.EventBody, &body)
			if body.Group["queueId"] != q0 || body.Group["mediaType"] != "voice" || len(body.Data) != 1 {
				t.Fatalf("observations event %s, want group {queueId %s, mediaType voice} and one interval", e.EventBody, q0)
			}
			return figures(t, body.Data[0].Metrics), se.at
		}

		d := newDesk(t, s, 0)
		start := time.Now()
		d.onQueue()
		for range 50 { // 50 changes in the same instant: one event
			injectCalls(t, s, q0, 1)
		}
		got, at := event()
		if want := query(); !equalFigures(got, want) || got["oWaiting"] != 49 || got["oAlerting"] != 1 || got["oOnQueueUsers.INTERACTING"] != 1 {
			t.Errorf("after 50 calls with one agent: event %v, query %v; want the same, 49 waiting, 1 alerting", got, want)
		}
		if at.Sub(start) != gcsim.ObservationInterval {
			t.Errorf("event %v after the first change, want %v", at.Sub(start), gcsim.ObservationInterval)
		}

		d.routing() // INTERACTING
		c, me := d.call()
		d.patch(c.ID, me.ID, `{"state":"connected"}`)
		got, _ = event()
		if want := query(); !equalFigures(got, want) || got["oInteracting"] != 1 || got["oAlerting"] != 0 {
			t.Errorf("after the answer: event %v, query %v; want the same, 1 interacting", got, want)
		}
		time.Sleep(time.Minute) // nothing changes: no event
		start = time.Now()
		d.patch(c.ID, me.ID, `{"state":"disconnected"}`)
		got, at = event()
		if want := query(); !equalFigures(got, want) || got["oInteracting"] != 0 || got["oWaiting"] != 49 {
			t.Errorf("after the hang-up: event %v, query %v; want the same, none interacting", got, want)
		}
		if at.Sub(start) != gcsim.ObservationInterval {
			t.Errorf("event %v after the hang-up, want %v (none in the quiet minute before)", at.Sub(start), gcsim.ObservationInterval)
		}
	})
}

func equalFigures(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestQueueUserEvents: joining or leaving a queue publishes
// v2.routing.queues.{id}.users in the SDK's QueueUserEventTopicQueueMember;
// a PATCH that changes nothing publishes nothing.
func TestQueueUserEvents(t *testing.T) {
	s := newServer(t, nil)
	q0, u0 := gcsim.QueueID(0), gcsim.UserID(0)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	_, sup := openChannel(t, s, tok, "v2.routing.queues."+q0+".users")
	join := func(joined bool) {
		t.Helper()
		if r := do(t, s, "PATCH", "/api/v2/users/"+u0+"/queues", tok, []map[string]any{{"id": q0, "joined": joined}}); r.Status != 200 {
			t.Fatalf("PATCH user queues joined=%v: %d %s", joined, r.Status, r.Body)
		}
	}
	join(true) // already joined: no event
	join(false)
	join(false) // no change: no event
	join(true)
	for _, want := range []bool{false, true} {
		e := next(t, sup)
		var m sdkmQueueusereventtopicqueuemember
		strict(t, e.TopicName, e.EventBody, &m)
		if e.TopicName != "v2.routing.queues."+q0+".users" || m.Id != u0 || m.User == nil || m.User.Id != u0 || m.QueueId != q0 || m.Joined != want {
			t.Fatalf("event on %s: %s, want member %s of %s joined=%v", e.TopicName, e.EventBody, u0, q0, want)
		}
	}
}

// TestObservationsQueryTwice: a queue named twice in the query gets the
// same figures twice.
func TestObservationsQueryTwice(t *testing.T) {
	s := newServer(t, nil)
	q0 := gcsim.QueueID(0)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	d := newDesk(t, s, 0)
	d.onQueue()
	injectCalls(t, s, q0, 2)
	r := do(t, s, "POST", "/api/v2/analytics/queues/observations/query", tok, map[string]any{"filter": map[string]any{"type": "or",
		"predicates": []map[string]string{{"dimension": "queueId", "value": q0}, {"dimension": "queueId", "value": q0}}}})
	var out sdkmQueueobservationqueryresponse
	strict(t, "observations query", r.Body, &out)
	if len(out.Results) != 2 {
		t.Fatalf("query naming queue 0 twice: %s, want two results", r.Body)
	}
	for k, res := range out.Results {
		for _, m := range res.Data {
			if m.Metric == "oAlerting" && m.Stats.Count != 1 || m.Metric == "oWaiting" && m.Stats.Count != 1 {
				t.Errorf("result %d: %s %d, want 1", k, m.Metric, m.Stats.Count)
			}
		}
	}
}
