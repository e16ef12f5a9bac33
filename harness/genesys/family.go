package genesys

import (
	"slices"
	"strings"
)

// Route families: groups of routes that share resource limits and faults.
// A limit's families and a fault's families name them.
const (
	FamilyOAuth               = "oauth.token"
	FamilyQueues              = "routing.queues"
	FamilyUsers               = "users"
	FamilyPresence            = "users.presences"
	FamilyRoutingStatus       = "users.routingstatus"
	FamilyPresenceDefinitions = "presencedefinitions"
	FamilyCalls               = "conversations.calls"
	FamilyCallParticipants    = "conversations.calls.participants"
	FamilyWrapupCodes         = "routing.wrapupcodes"
	FamilyQueueMembers        = "routing.queues.members"
	FamilyUserQueues          = "users.queues"
	FamilyQueueObservations   = "analytics.queues.observations"
	FamilyConversations       = "conversations"
	FamilyRecordingState      = "conversations.recordingstate"
	FamilyAnalytics           = "analytics.conversations"
	FamilyScreenSessions      = "recordings.screensessions"
	FamilyLimits              = "organizations.limits"
	FamilyNotifications       = "notifications"
	FamilyTokens              = "tokens"
	FamilyStreaming           = "streaming"
)

// A Route is one method and path template of the Platform API (or of its
// login and streaming hosts), with its family.
type Route struct {
	Method   string
	Template string // e.g. "/api/v2/users/{id}/presences/{source}"
	Family   string
	// UserContext routes refuse client-credentials tokens (400 "This
	// request requires a user context").
	UserContext bool
}

// routes is the one route table: the simulator serves exactly these, and
// Family names their families.
var routes = []Route{
	{"POST", "/oauth/token", FamilyOAuth, false},
	{"GET", "/channels/{id}", FamilyStreaming, false},
	{"GET", "/api/v2/routing/queues", FamilyQueues, false},
	{"GET", "/api/v2/routing/queues/{id}", FamilyQueues, false},
	{"GET", "/api/v2/users", FamilyUsers, false},
	{"GET", "/api/v2/users/me", FamilyUsers, true},
	{"GET", "/api/v2/users/{id}", FamilyUsers, false},
	{"GET", "/api/v2/users/{id}/presences/{source}", FamilyPresence, false},
	{"PATCH", "/api/v2/users/{id}/presences/{source}", FamilyPresence, false},
	{"GET", "/api/v2/users/{id}/routingstatus", FamilyRoutingStatus, false},
	{"PUT", "/api/v2/users/{id}/routingstatus", FamilyRoutingStatus, false},
	{"GET", "/api/v2/presencedefinitions", FamilyPresenceDefinitions, false},
	{"GET", "/api/v2/presence/definitions", FamilyPresenceDefinitions, false},
	{"GET", "/api/v2/users/{id}/queues", FamilyUserQueues, false},
	{"PATCH", "/api/v2/users/{id}/queues", FamilyUserQueues, false},
	{"GET", "/api/v2/routing/queues/{id}/members", FamilyQueueMembers, false},
	{"GET", "/api/v2/routing/wrapupcodes", FamilyWrapupCodes, false},
	// Placing a call and listing one's calls need a user (the call runs on
	// the user's station): docs/genesys.md calls it very likely, not
	// observed. Controlling a call is not named there: open to any token.
	{"POST", "/api/v2/conversations/calls", FamilyCalls, true},
	{"GET", "/api/v2/conversations/calls", FamilyCalls, true},
	{"GET", "/api/v2/conversations/calls/{id}", FamilyCalls, false},
	{"PATCH", "/api/v2/conversations/calls/{id}", FamilyCalls, false},
	{"PUT", "/api/v2/conversations/calls/{id}/recordingstate", FamilyRecordingState, false},
	{"PATCH", "/api/v2/conversations/calls/{id}/participants/{participantId}", FamilyCallParticipants, false},
	{"POST", "/api/v2/conversations/calls/{id}/participants/{participantId}/replace", FamilyCallParticipants, false},
	{"GET", "/api/v2/conversations/calls/{id}/participants/{participantId}/wrapupcodes", FamilyCallParticipants, false},
	{"POST", "/api/v2/conversations/calls/{id}/participants/{participantId}/communications/{communicationId}/wrapup", FamilyCallParticipants, false},
	{"GET", "/api/v2/conversations", FamilyConversations, true},
	{"GET", "/api/v2/conversations/{id}", FamilyConversations, false},
	{"PATCH", "/api/v2/conversations/{id}/recordingstate", FamilyRecordingState, false},
	{"PUT", "/api/v2/conversations/screenshares/{id}/recordingstate", FamilyRecordingState, false},
	{"POST", "/api/v2/analytics/conversations/details/query", FamilyAnalytics, false},
	{"POST", "/api/v2/analytics/queues/observations/query", FamilyQueueObservations, false},
	{"GET", "/api/v2/recordings/screensessions/details", FamilyScreenSessions, false},
	{"GET", "/api/v2/organizations/limits/namespaces", FamilyLimits, false},
	{"GET", "/api/v2/organizations/limits/namespaces/{namespace}", FamilyLimits, false},
	{"GET", "/api/v2/organizations/limits/namespaces/{namespace}/defaults", FamilyLimits, false},
	{"GET", "/api/v2/organizations/limits/docs", FamilyLimits, false},
	{"POST", "/api/v2/notifications/channels", FamilyNotifications, false},
	{"GET", "/api/v2/notifications/channels", FamilyNotifications, false},
	{"HEAD", "/api/v2/notifications/channels/{id}", FamilyNotifications, false},
	{"GET", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, false},
	{"POST", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, false},
	{"PUT", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, false},
	{"DELETE", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, false},
	{"GET", "/api/v2/tokens/me", FamilyTokens, false},
	{"HEAD", "/api/v2/tokens/me", FamilyTokens, false},
	{"DELETE", "/api/v2/tokens/me", FamilyTokens, false},
}

// familyOf maps each template of routes to its family.
var familyOf = func() map[string]string {
	m := make(map[string]string, len(routes))
	for _, r := range routes {
		m[r.Template] = r.Family
	}
	return m
}()

// Routes returns the route table: every route the simulator serves, with
// its family. The slice is the caller's.
func Routes() []Route { return slices.Clone(routes) }

// Families lists every route family, sorted.
func Families() []string {
	var f []string
	for _, r := range routes {
		if !slices.Contains(f, r.Family) {
			f = append(f, r.Family)
		}
	}
	slices.Sort(f)
	return f
}

// KnownFamily reports whether f is one of Families.
func KnownFamily(f string) bool {
	for _, r := range routes {
		if r.Family == f {
			return true
		}
	}
	return false
}

// Family returns the family of a route template: the route table's for the
// routes it holds, else the rule Genesys' limit docs group endpoints by: the
// first path segment after /api/v2 and the last literal segment, joined by
// a dot, without {parameters}: "/api/v2/architect/ivrs/{id}" →
// "architect.ivrs", "/api/v2/routing/wrapupcodes" → "routing.wrapupcodes",
// "/api/v2/groups" → "groups".
func Family(route string) string {
	if f, ok := familyOf[route]; ok {
		return f
	}
	p := strings.TrimPrefix(route, "/api/v2/")
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	first, rest, _ := strings.Cut(strings.Trim(p, "/"), "/")
	last := ""
	for rest != "" {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg != "" && !strings.HasPrefix(seg, "{") {
			last = seg
		}
	}
	if last == "" {
		return first
	}
	return first + "." + last
}
