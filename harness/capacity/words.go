package capacity

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/genesys"
)

// HypotheticalPrefix starts the key of a limit that no Genesys source
// documents (a simulator profile's what-if): reports see only the key, so
// the key itself says so.
const HypotheticalPrefix = "hypothetical."

// IsHypothetical reports whether key names a hypothetical limit.
func IsHypothetical(key string) bool { return strings.HasPrefix(key, HypotheticalPrefix) }

// IsDocumented reports whether key is one of Genesys' documented limits
// (genesys.DocumentedLimits).
func IsDocumented(key string) bool {
	return slices.ContainsFunc(genesys.DocumentedLimits(), func(l genesys.Limit) bool { return l.Key == key })
}

// ScopeWords explains a limit scope in plain words; families are the route
// families an endpoint-user limit applies to (none: its endpoints).
func ScopeWords(scope genesys.Scope, families []string) string {
	switch scope {
	case genesys.ScopeToken:
		return "per access token: every token has its own budget"
	case genesys.ScopeClientUser:
		return "per organization × OAuth client × user: a client-credentials token has no user, so all tokens of one OAuth client share it"
	case genesys.ScopeEndpointUser:
		f := "its endpoints"
		switch len(families) {
		case 0:
		case 1:
			f = "the route family " + families[0]
		default:
			f = "the route families " + strings.Join(families, ", ")
		}
		return "per user and endpoint (" + f + "), across OAuth clients: a client-credentials token counts as its OAuth client's user, so more tokens of one client do not help"
	case genesys.ScopeOrg:
		return "per organization: every client, token and user shares it"
	case genesys.ScopeClient:
		return "per OAuth client: it limits token creation, not the API"
	}
	return fmt.Sprintf("scope %q unknown", string(scope))
}

// Advice says what to change to go past limit b with a pool over clients
// OAuth clients. It advises from Genesys' documented limits only: for
// token.rate.per.minute and its client-credentials twin, more tokens; for
// org.app.user.rate.per.minute, more OAuth clients or user tokens. Any
// other key is said to be undocumented (a key starting with
// HypotheticalPrefix, hypothetical), and the advice its scope suggests is
// given as the scope's, with TestRateLimitDiscovery to confirm it.
func Advice(b api.Bucket, clients int) string {
	scope := b.Scope
	if scope == "" {
		scope = genesys.ScopeOfKey(b.Key)
	}
	pace := PerWindow(b)
	switch {
	case IsHypothetical(b.Key):
		return fmt.Sprintf("%s is hypothetical: a limit of this simulator profile that no Genesys source documents; under it (%s) pace below %s. On a tenant, find the real limits with TestRateLimitDiscovery",
			b.Key, ScopeWords(scope, b.Families), pace)
	case IsDocumented(b.Key):
		return scopeAdvice(scope, pace, clients)
	}
	return fmt.Sprintf("%s is not a documented Genesys limit; its scope as known here is %s: %s; confirm the scope with TestRateLimitDiscovery",
		b.Key, scope, scopeAdvice(scope, pace, clients))
}

// scopeAdvice is the advice for a limit of scope: what lifts it and what to
// pace below.
func scopeAdvice(scope genesys.Scope, pace string, clients int) string {
	switch scope {
	case genesys.ScopeToken:
		return "spread the load over more tokens (a token pool, per-client or per-agent) and pace each below " + pace
	case genesys.ScopeClientUser:
		return fmt.Sprintf("spread the load over more OAuth clients (this target has %d) or send with the agents' own user tokens, and pace each client below %s", clients, pace)
	case genesys.ScopeEndpointUser:
		return fmt.Sprintf("more tokens do not help: send with the agents' own user tokens (each user gets %s) or spread over more OAuth clients (this target has %d), and pace below it", pace, clients)
	case genesys.ScopeOrg:
		return "no pool lifts an organization's limit: pace below " + pace + ", or ask Genesys (support case) to raise it"
	}
	return "pace below " + pace
}

// PerWindow formats a limit's figure: "100 per 60s".
func PerWindow(b api.Bucket) string {
	w := b.Window
	if w <= 0 {
		w = api.DefaultWindow
	}
	return fmt.Sprintf("%d per %s", b.Allowed, WindowWords(w))
}

// WindowWords formats a window in seconds when it is whole milliseconds
// ("60s", "1.5s"), as time.Duration's String otherwise.
func WindowWords(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	return d.String()
}

// RateWords formats a rate in requests per second and per minute; +Inf (no
// limit applies, see Reach) reads "no known limit".
func RateWords(r float64) string {
	if math.IsInf(r, 1) {
		return "no known limit"
	}
	return fmt.Sprintf("%.2f req/s (%.0f per minute)", r, r*60)
}
