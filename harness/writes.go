package harness

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cxload/cxload/harness/genesys"
)

// writeFamilies maps the route families whose changes need consent to
// their write kind.
var writeFamilies = map[string]string{
	genesys.FamilyPresence:         WritePresence,
	genesys.FamilyRoutingStatus:    WriteRouting,
	genesys.FamilyUserQueues:       WriteQueues,
	genesys.FamilyQueueMembers:     WriteQueues,
	genesys.FamilyCalls:            WriteCalls,
	genesys.FamilyCallParticipants: WriteCalls,
	genesys.FamilyConversations:    WriteCalls,
	genesys.FamilyRecordingState:   WriteRecording,
}

// harmlessFamilies change nothing a person or customer sees: a token of
// the run's own, notification channels of the run's own, analytics queries.
var harmlessFamilies = map[string]bool{
	genesys.FamilyOAuth:             true,
	genesys.FamilyTokens:            true,
	genesys.FamilyNotifications:     true,
	genesys.FamilyAnalytics:         true,
	genesys.FamilyQueueObservations: true,
}

// WriteKind classifies a request for the guard: "" for a read or a harmless
// request (a token, a notification channel, an analytics query), else its
// write kind (WritePresence, ...). route is a template or a path. A method
// that changes something on a route cxload does not know returns an error:
// such a request is never sent to a tenant.
func WriteKind(method, route string) (string, error) {
	switch strings.ToUpper(method) {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions:
		return "", nil
	}
	fam := familyOfPath(route)
	if harmlessFamilies[fam] {
		return "", nil
	}
	if k, ok := writeFamilies[fam]; ok {
		return k, nil
	}
	return "", fmt.Errorf("harness: guard: %s %s changes something cxload has no write kind for (family %q); it is not sent to a tenant", method, route, fam)
}

// familyOfPath returns the family of a route template or a concrete path,
// matched against the route table segment by segment ({param} matches any
// segment), else genesys.Family's rule.
func familyOfPath(route string) string {
	if i := strings.IndexAny(route, "?#"); i >= 0 {
		route = route[:i]
	}
	segs := strings.Split(strings.Trim(route, "/"), "/")
	for _, r := range genesys.Routes() {
		ts := strings.Split(strings.Trim(r.Template, "/"), "/")
		if len(ts) != len(segs) {
			continue
		}
		match := true
		for i, t := range ts {
			if t != segs[i] && !(strings.HasPrefix(t, "{") && segs[i] != "") {
				match = false
				break
			}
		}
		if match {
			return r.Family
		}
	}
	return genesys.Family(route)
}
