package notify

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// With the simulator not echoing correlation ids (as a tenant may not),
// expectations with content are matched by content, and only those whose
// content the event has: a correlation id alone matches nothing.
func TestMatchByContentWithoutEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(p *gcsim.Profile) { p.Notifications.EchoCorrelationID = false })
		o := simOptions(t, s, presenceTopic(0), presenceTopic(1), presenceTopic(2))
		o.ExpectTimeout = 10 * time.Second
		o.PingInterval = 5 * time.Second
		var corrs []string
		o.OnEvent = func(e Event) { corrs = append(corrs, e.CorrelationID) }
		c := mustOpen(t, o)

		c.ExpectContent("corr-0", presenceTopic(0), PresenceContent(gcsim.PresenceID(0)), time.Now())
		setPresence(t, s, o, 0, "corr-0")
		c.ExpectContent("corr-1", presenceTopic(1), PresenceContent(gcsim.PresenceID(1)), time.Now()) // another presence: no match
		setPresence(t, s, o, 1, "corr-1")
		c.Expect("corr-2", presenceTopic(2), time.Now()) // by correlation id only
		setPresence(t, s, o, 2, "corr-2")
		synctest.Wait()
		st := c.Stats()
		if st.Events != 3 || st.Matched != 1 || st.MatchedByContent != 1 {
			t.Errorf("Events %d, Matched %d, MatchedByContent %d; want 3, 1, 1", st.Events, st.Matched, st.MatchedByContent)
		}
		if slices.Contains(corrs, "corr-0") || len(corrs) != 3 {
			t.Errorf("events' correlation ids %q: want 3 of the simulator's own (echo off)", corrs)
		}
		time.Sleep(15 * time.Second) // past ExpectTimeout and a sweep
		if st := c.Stats(); st.Lost != 2 || st.Expected != 3 {
			t.Errorf("Lost %d, Expected %d; want 2, 3", st.Lost, st.Expected)
		}
	})
}

// With echo on, the correlation id matches first: no content match.
func TestMatchByCorrelationFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		o := simOptions(t, s, presenceTopic(0))
		c := mustOpen(t, o)
		c.ExpectContent("corr-0", presenceTopic(0), PresenceContent(gcsim.PresenceID(0)), time.Now())
		setPresence(t, s, o, 0, "corr-0")
		synctest.Wait()
		if st := c.Stats(); st.Matched != 1 || st.MatchedByContent != 0 {
			t.Errorf("Matched %d, MatchedByContent %d; want 1, 0", st.Matched, st.MatchedByContent)
		}
	})
}

func TestContentOf(t *testing.T) {
	const u = "v2.users.u1."
	for _, tc := range []struct {
		topic, body string
		want        []string
	}{
		{u + "presence", `{"presenceDefinition":{"id":"p1","systemPresence":"Away"},"extra":1}`, []string{PresenceContent("p1")}},
		{u + "routingStatus", `{"routingStatus":{"status":"idle"}}`, []string{RoutingStatusContent("IDLE")}},
		{u + "conversations.calls", `{"id":"c1","participants":[{"user":{"id":"u2"},"calls":[{"state":"alerting"}]},{"user":{"id":"u1"},"calls":[{"state":"connected"}]}]}`,
			[]string{CallContent("c1", "connected"), CallContent("c1", "")}},
		{u + "conversations", `{"id":"c1","participants":[{"userId":"u1","state":"Disconnected"}]}`,
			[]string{CallContent("c1", "disconnected"), CallContent("c1", "")}},
		{u + "presence", `{"presenceDefinition":{}}`, nil},
		{u + "presence", `[1,2]`, nil},
		{"v2.routing.queues.q1.conversations.calls", `{"id":"c1"}`, nil},
	} {
		if got := ContentOf(tc.topic, []byte(tc.body)); !slices.Equal(got, tc.want) {
			t.Errorf("ContentOf(%s, %s) = %q, want %q", tc.topic, tc.body, got, tc.want)
		}
	}
}
