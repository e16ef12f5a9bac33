package gcsim_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// TestDetailsQuerySelects: the details query answers the conversations its
// interval and filters select, as the SDK's ConversationQuery documents
// them, and refuses a filter it cannot evaluate rather than ignoring it.
func TestDetailsQuerySelects(t *testing.T) {
	s := newServer(t, nil)
	cc := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	d0, d1 := newDesk(t, s, 0), newDesk(t, s, 1) // agent i is in queue i
	d0.onQueue()
	d1.onQueue()
	conv0, part0, _ := injectCall(t, s, d0.tok, gcsim.QueueID(0), d0.uid)
	conv1, part1, _ := injectCall(t, s, d1.tok, gcsim.QueueID(1), d1.uid)
	d0.patch(conv0, part0, `{"state":"connected"}`)
	d1.patch(conv1, part1, `{"state":"connected"}`)
	var full sdkConversation
	strict(t, "GET conversation", do(t, s, "GET", "/api/v2/conversations/"+conv1, d1.tok, nil).Body, &full)
	start, err := time.Parse(time.RFC3339Nano, full.StartTime)
	if err != nil {
		t.Fatalf("conversation startTime %q: %v", full.StartTime, err)
	}

	iso := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	all := iso(start.Add(-time.Minute)) + "/" + iso(start.Add(time.Hour))
	pred := func(dim, value string) map[string]string {
		return map[string]string{"type": "dimension", "dimension": dim, "operator": "matches", "value": value}
	}
	filter := func(typ string, ps ...map[string]string) []map[string]any {
		return []map[string]any{{"type": typ, "predicates": ps}}
	}
	nextDay := start.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	for _, tc := range []struct {
		name  string
		query map[string]any
		want  []string
	}{
		// No filter: both calls.
		{"interval only", map[string]any{"interval": all}, []string{conv0, conv1}},
		// Both calls are still connected: a later interval of the day they
		// started touches them ("started, ended, or any activity during").
		{"active during a later interval", map[string]any{"interval": iso(start.Add(time.Millisecond)) + "/" + iso(start.Add(time.Hour))}, []string{conv0, conv1}},
		// "Conversations that started before the earliest day of the interval will not be searched."
		{"started the day before", map[string]any{"interval": iso(nextDay) + "/" + iso(nextDay.Add(time.Hour))}, nil},
		// The shift's query: an agent's own conversations.
		{"userId", map[string]any{"interval": all, "segmentFilters": filter("and", pred("userId", d0.uid))}, []string{conv0}},
		{"queueId", map[string]any{"interval": all, "segmentFilters": filter("and", pred("queueId", gcsim.QueueID(1)))}, []string{conv1}},
		{"or", map[string]any{"interval": all, "segmentFilters": filter("or", pred("userId", d0.uid), pred("userId", d1.uid))}, []string{conv0, conv1}},
		// One segment must satisfy the whole filter: agent 0 never was in queue 1.
		{"and on one segment", map[string]any{"interval": all, "segmentFilters": filter("and", pred("userId", d0.uid), pred("queueId", gcsim.QueueID(1)))}, nil},
		{"no wrap-up yet", map[string]any{"interval": all, "segmentFilters": filter("and",
			map[string]string{"dimension": "wrapUpCode", "operator": "exists"})}, nil},
		{"conversationId", map[string]any{"interval": all, "conversationFilters": filter("and", pred("conversationId", conv1))}, []string{conv1}},
		// The newest first, one per page.
		{"desc", map[string]any{"interval": all, "order": "desc", "paging": map[string]int{"pageSize": 1}}, []string{conv1}},
		{"asc", map[string]any{"interval": all, "order": "asc", "paging": map[string]int{"pageSize": 1}}, []string{conv0}},
		{"originatingDirection", map[string]any{"interval": all, "conversationFilters": filter("and", pred("originatingDirection", "inbound"))}, []string{conv0, conv1}},
	} {
		r := do(t, s, "POST", "/api/v2/analytics/conversations/details/query", cc, tc.query)
		if r.Status != 200 {
			t.Errorf("%s: status %d: %s", tc.name, r.Status, r.Body)
			continue
		}
		var out sdkmAnalyticsconversationqueryresponse
		strict(t, tc.name, r.Body, &out)
		var got []string
		for _, c := range out.Conversations {
			got = append(got, c.ConversationId)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) || tc.query["paging"] == nil && out.TotalHits != int64(len(want)) {
			t.Errorf("%s: conversations %v (totalHits %v), want %v", tc.name, got, out.TotalHits, want)
		}
	}

	// A filter the simulator cannot evaluate is refused, naming it.
	for _, tc := range []struct {
		name, want string
		query      map[string]any
	}{
		{"unknown dimension", `segmentFilters[0].predicates[0].dimension "ani"`,
			map[string]any{"interval": all, "segmentFilters": filter("and", pred("ani", "tel:+1555"))}},
		{"orderBy", `orderBy "segmentEnd"`, map[string]any{"interval": all, "orderBy": "segmentEnd"}},
		{"metric predicate", `conversationFilters[0].predicates[0].type "metric"`,
			map[string]any{"interval": all, "conversationFilters": filter("and", map[string]string{"type": "metric", "metric": "tHandle", "operator": "exists"})}},
	} {
		r := do(t, s, "POST", "/api/v2/analytics/conversations/details/query", cc, tc.query)
		if r.Status != 400 || !strings.Contains(string(r.Body), strings.ReplaceAll(tc.want, `"`, `\"`)) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.Status, r.Body, tc.want)
		}
	}
}
