package genesys

import (
	"fmt"
	"strings"
	"time"
)

// Keys of Genesys' documented limits, as a 429 body's limit.key and
// /api/v2/organizations/limits name them.
const (
	// KeyToken: requests per access token per minute.
	KeyToken = "token.rate.per.minute"
	// KeyClientCredentialsToken: the same, for client-credentials tokens.
	KeyClientCredentialsToken = "client.credentials.token.rate.per.minute"
	// KeyOrgAppUser: requests per organization × OAuth client × user per minute.
	KeyOrgAppUser = "org.app.user.rate.per.minute"
	// KeyOrg: an organization-wide request rate. No Genesys source
	// documents it; it names the scope for profiles that rehearse one.
	KeyOrg = "org.rate.per.minute"
	// KeyRequestBytesMax: the largest request body, in bytes (413 above it).
	KeyRequestBytesMax = "request.bytes.max"
)

// NamespacePlatformAPI is the limits namespace of the request-rate limits.
const NamespacePlatformAPI = "platform.api"

// DefaultWindow is the window of every documented request-rate limit.
const DefaultWindow = time.Minute

// A Limit is a documented request-rate limit: its scope may make Allowed
// requests per Window.
type Limit struct {
	Key       string
	Namespace string
	Scope     Scope
	Allowed   int
	Window    time.Duration
}

// DocumentedLimits returns Genesys' documented request-rate limits: 300
// requests per token per minute (under KeyToken or, for client-credentials
// tokens, KeyClientCredentialsToken) and 3000 per organization × OAuth
// client × user per minute. Real organizations differ; read theirs from
// /api/v2/organizations/limits.
func DocumentedLimits() []Limit {
	return []Limit{
		{KeyToken, NamespacePlatformAPI, ScopeToken, 300, DefaultWindow},
		{KeyClientCredentialsToken, NamespacePlatformAPI, ScopeToken, 300, DefaultWindow},
		{KeyOrgAppUser, NamespacePlatformAPI, ScopeClientUser, 3000, DefaultWindow},
	}
}

// Scope says which requests share a rate-limit bucket.
type Scope string

// The scopes of rate limits.
const (
	// ScopeToken: one bucket per access token.
	ScopeToken Scope = "token"
	// ScopeClientUser: one bucket per organization × OAuth client × user; a
	// client-credentials token has no user, so all tokens of one client
	// share it.
	ScopeClientUser Scope = "client-user"
	// ScopeEndpointUser: one bucket per user (across OAuth clients) for the
	// limit's route families, as resource limits count; a
	// client-credentials token counts as its client.
	ScopeEndpointUser Scope = "endpoint-user"
	// ScopeOrg: one bucket for the organization.
	ScopeOrg Scope = "org"
	// ScopeClient: one bucket per OAuth client (token creation).
	ScopeClient Scope = "client"
)

// Scopes lists every scope.
func Scopes() []Scope {
	return []Scope{ScopeToken, ScopeClientUser, ScopeEndpointUser, ScopeOrg, ScopeClient}
}

// ParseScope returns the scope named s, or an error listing the scopes.
func ParseScope(s string) (Scope, error) {
	for _, v := range Scopes() {
		if string(v) == s {
			return v, nil
		}
	}
	words := make([]string, 0, 5)
	for _, v := range Scopes() {
		words = append(words, string(v))
	}
	return "", fmt.Errorf("unknown scope %q; want one of %s", s, strings.Join(words, ", "))
}

// ScopeOfKey returns the scope of a limit key: ScopeToken for KeyToken and
// KeyClientCredentialsToken, ScopeClientUser for KeyOrgAppUser, ScopeOrg
// for KeyOrg, "" for "", and ScopeEndpointUser for any other key (resource
// limits, whose keys Genesys does not publish).
func ScopeOfKey(key string) Scope {
	switch key {
	case KeyToken, KeyClientCredentialsToken:
		return ScopeToken
	case KeyOrgAppUser:
		return ScopeClientUser
	case KeyOrg:
		return ScopeOrg
	case "":
		return ""
	}
	return ScopeEndpointUser
}
