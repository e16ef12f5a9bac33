package genesys_test

import (
	"slices"
	"testing"

	"github.com/cxload/cxload/harness/genesys"
)

func TestFamily(t *testing.T) {
	for route, want := range map[string]string{
		"/api/v2/users/{id}/presences/{source}":                  "users.presences",
		"/api/v2/conversations/{id}/recordingstate":              "conversations.recordingstate",
		"/api/v2/conversations/screenshares/{id}/recordingstate": "conversations.recordingstate",
		"/api/v2/routing/queues":                                 "routing.queues",
		"/api/v2/routing/queues/{id}":                            "routing.queues",
		"/api/v2/users":                                          "users",
		"/api/v2/users/{id}":                                     "users",
		"/api/v2/users/{id}/routingstatus":                       "users.routingstatus",
		"/api/v2/conversations/calls":                            "conversations.calls",
		// From the route table, where the rule gives another name:
		"/api/v2/users/me": "users",
		"/api/v2/analytics/conversations/details/query": "analytics.conversations",
		"/api/v2/notifications/channels/{id}":           "notifications",
		// Not in the table: the rule.
		"/api/v2/architect/ivrs/{id}": "architect.ivrs",
		"/api/v2/groups":              "groups",
	} {
		if got := genesys.Family(route); got != want {
			t.Errorf("Family(%q) = %q, want %q", route, got, want)
		}
	}
}

// TestFamiliesFromRoutes checks that Families and KnownFamily are the route
// table's families, and that every family constant names routes.
func TestFamiliesFromRoutes(t *testing.T) {
	want := []string{genesys.FamilyOAuth, genesys.FamilyQueues, genesys.FamilyUsers, genesys.FamilyPresence,
		genesys.FamilyRoutingStatus, genesys.FamilyPresenceDefinitions, genesys.FamilyCalls, genesys.FamilyConversations,
		genesys.FamilyRecordingState, genesys.FamilyAnalytics, genesys.FamilyScreenSessions, genesys.FamilyLimits,
		genesys.FamilyNotifications, genesys.FamilyTokens, genesys.FamilyStreaming, genesys.FamilyCallParticipants,
		genesys.FamilyWrapupCodes, genesys.FamilyQueueMembers, genesys.FamilyUserQueues, genesys.FamilyQueueObservations}
	slices.Sort(want)
	if got := genesys.Families(); !slices.Equal(got, want) {
		t.Errorf("Families() = %q, want %q", got, want)
	}
	for _, f := range want {
		if !genesys.KnownFamily(f) {
			t.Errorf("KnownFamily(%q) = false", f)
		}
	}
	if genesys.KnownFamily("/api/v2/users") || genesys.KnownFamily("users.me") {
		t.Error("KnownFamily accepts a route or an unknown family")
	}
	for _, r := range genesys.Routes() {
		if got := genesys.Family(r.Template); got != r.Family {
			t.Errorf("Family(%q) = %q, want the table's %q", r.Template, got, r.Family)
		}
	}
}
