package gcsim

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/cxload/cxload/harness/gcsim/internal/streaming"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/internal/safefile"
)

// A Profile describes the simulated organization: its OAuth clients, its
// directory (agents, queues, presence definitions), its rate limits, its
// request size limit, its notification settings and the faults active at
// start. A Profile is read from JSON (see [ParseProfile]); unknown fields are
// refused so that a typo never silently falls back to a default.
//
// The JSON schema, with the values of [DefaultProfile]:
//
//	{
//	  "org": {"id": "sim-org", "name": "sim-org"},
//	  "clients": [
//	    {"id": "sim-client", "secret": "sim-secret", "name": "Simulator client",
//	     "accessTokenValiditySeconds": 86399,
//	     "grantTypes": ["client_credentials", "password"]},
//	    {"id": "sim-client-2", "secret": "sim-secret-2", ...}
//	  ],
//	  "directory": {"agents": 1000, "queues": 20, "agentPassword": "sim-password",
//	                "presenceDefinitions": ["Available", "Away", "Busy", ...]},
//	  "requestBytesMax": 512000,
//	  "limits": [
//	    {"key": "token.rate.per.minute", "namespace": "platform.api",
//	     "scope": "token", "grant": "password", "allowed": 300, "window": "60s"},
//	    ...
//	  ],
//	  "rateLimitMessage": "retryAfter",
//	  "unconfirmed": {"orgAppUserClientCredentials": true, "tokenCreationPerMinute": 0},
//	  "notifications": {"heartbeatInterval": "30s", "maxChannelsPerOwner": 20,
//	                    "maxTopicsPerChannel": 1000, "channelTTL": "24h",
//	                    "sendBuffer": 256, "socketClosingGrace": "60s"},
//	  "faults": { ...see Faults... },
//	  "seed": 1
//	}
//
// Durations are Go duration strings ("60s", "1m30s"). See [Limit] for the
// fields of a rate limit, [Unconfirmed] for the behaviours Genesys does not
// document and [Faults] for the faults.
type Profile struct {
	// Org is the simulated organization.
	Org Org `json:"org"`
	// Clients are the OAuth clients the token endpoint accepts.
	Clients []Client `json:"clients"`
	// Directory sizes the generated users, queues and presence definitions.
	Directory Directory `json:"directory"`
	// RequestBytesMax is Genesys' request.bytes.max: a larger body gets 413.
	RequestBytesMax int64 `json:"requestBytesMax"`
	// Limits are the rate-limit buckets, checked in order for every request.
	Limits []Limit `json:"limits"`
	// RateLimitMessage picks the 429 message form: "retryAfter" (the
	// default; the form Genesys documents): code
	// too.many.requests.retry.after, "Rate limit exceeded the maximum. Retry
	// the request in [54] seconds", which carries no window; "window" (an
	// older form that also occurs): code too.many.requests, "Rate limit
	// exceeded the maximum [300] requests within [60] seconds". Empty means
	// "retryAfter".
	RateLimitMessage string `json:"rateLimitMessage,omitempty"`
	// Unconfirmed sets the behaviours Genesys' documentation leaves open.
	Unconfirmed Unconfirmed `json:"unconfirmed"`
	// PasswordGrant enables grant_type=password (with
	// Directory.AgentPassword): a simulator convenience for user tokens that
	// Genesys does not offer. Default true; false (as on a tenant) leaves
	// user tokens to the refresh_token and SAML2 bearer grants.
	PasswordGrant bool `json:"passwordGrant"`
	// Notifications configures notification channels and their WebSockets.
	Notifications Notifications `json:"notifications"`
	// ACD configures call routing and the inbound traffic model; see [ACD].
	ACD ACD `json:"acd,omitzero"`
	// Faults are the faults active when the server starts; see [Server.SetFaults].
	Faults Faults `json:"faults"`
	// Seed seeds the random choices of the fault injector, so that a run
	// with the same seed and the same requests injects the same faults.
	Seed uint64 `json:"seed"`

	// Now is the clock of token expiry and rate-limit windows (not JSON).
	// Nil means time.Now, which is the fake clock under testing/synctest.
	Now func() time.Time `json:"-"`
}

// Org names the simulated organization.
type Org struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// A Client is an OAuth client the simulator accepts. Its String, GoString
// and LogValue methods redact the secret.
type Client struct {
	ID     string `json:"id"`
	Secret Secret `json:"secret"`
	Name   string `json:"name,omitempty"`
	// AccessTokenValiditySeconds is the token lifetime, Genesys' per-client
	// setting: 300 to 172800 seconds (platform default 86400; the token
	// endpoint answers expires_in 86399).
	AccessTokenValiditySeconds int `json:"accessTokenValiditySeconds"`
	// GrantTypes lists the grants the client may use: "client_credentials",
	// "urn:ietf:params:oauth:grant-type:saml2-bearer" and, as a simulator
	// convenience for user-context tokens, "password". A client that may use
	// a user-context grant may also use "refresh_token" with the refresh
	// tokens it was given.
	GrantTypes []string `json:"grantTypes"`
}

// String returns the client id with the secret redacted.
func (c Client) String() string {
	return fmt.Sprintf("gcsim.Client{ID:%q, Secret:[REDACTED]}", c.ID)
}

// GoString is like String.
func (c Client) GoString() string { return c.String() }

// LogValue redacts the secret in structured logs.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("secret", "[REDACTED]"))
}

func (c Client) allows(grant string) bool {
	for _, g := range c.GrantTypes {
		if g == grant {
			return true
		}
	}
	return false
}

// A Secret is a string that never prints: String, GoString and LogValue
// return [REDACTED]. It marshals to JSON as itself so that profiles
// round-trip.
type Secret string

// String returns "[REDACTED]".
func (Secret) String() string { return "[REDACTED]" }

// GoString returns "[REDACTED]".
func (Secret) GoString() string { return "[REDACTED]" }

// LogValue returns "[REDACTED]".
func (Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Directory sizes the generated directory. User i (0-based) has the id
// [UserID](i), the name "Agent %04d" (i+1) and the email
// "agent%04d@<org>.example"; queue i has [QueueID](i) and the name
// "Queue %03d"; agents are members of queue i%Queues.
type Directory struct {
	Agents int `json:"agents"`
	Queues int `json:"queues"`
	// AgentPassword, when set, lets every agent get a user-context token with
	// grant_type=password (a simulator convenience; Genesys discourages the
	// password grant). Empty disables the password grant.
	AgentPassword Secret `json:"agentPassword,omitempty"`
	// PresenceDefinitions are the system presences, by name.
	PresenceDefinitions []string `json:"presenceDefinitions"`
}

// WindowMode selects how a bucket counts.
type WindowMode string

// Window modes.
const (
	// Fixed windows (the default): a window opens at the bucket's first
	// request, counts every request until it is Window old, and the next
	// request after that opens a new window. inin-ratelimit-reset is the time
	// left in the current window.
	Fixed WindowMode = "fixed"
	// Sliding windows estimate the count over the last Window as the current
	// sub-window's count plus the previous one's weighted by how much of it
	// still overlaps (the sliding-window-counter approximation).
	Sliding WindowMode = "sliding"
)

// A Limit is one rate-limit bucket definition. A request is checked against
// every enabled limit whose families contain its route family (and whose
// grant matches its token); it is rejected with 429 if any bucket is full.
type Limit struct {
	// Key names the limit, as in the 429 body's limit.key and in
	// /api/v2/organizations/limits, e.g. "token.rate.per.minute".
	Key string `json:"key"`
	// Namespace is the limits namespace, e.g. "platform.api".
	Namespace string `json:"namespace"`
	// Scope decides which requests share a bucket.
	Scope genesys.Scope `json:"scope"`
	// Allowed requests per window.
	Allowed int `json:"allowed"`
	// Window is the window length, e.g. "60s".
	Window Duration `json:"window"`
	// WindowMode is "fixed" (default) or "sliding".
	WindowMode WindowMode `json:"windowMode,omitempty"`
	// Families are route families (see [Families]) the limit applies to.
	// Empty means every /api/v2 route; scope "client" limits with no families
	// apply to the token endpoint.
	Families []string `json:"families,omitempty"`
	// Grant restricts the limit to tokens of one grant type
	// ("client_credentials" or "password"); empty means all tokens.
	Grant string `json:"grant,omitempty"`
	// Hidden limits are enforced but not listed in
	// /api/v2/organizations/limits nor reported in inin-ratelimit-* headers.
	Hidden bool `json:"hidden,omitempty"`
	// CountRejected makes requests rejected with 429 (by any bucket) count
	// against this bucket too. Default false: a rejected request is not
	// counted, so the count stays at Allowed until the window resets.
	CountRejected bool `json:"countRejected,omitempty"`
	// Disabled limits are neither enforced nor listed.
	Disabled bool `json:"disabled,omitempty"`
	// Hypothetical marks a limit that no Genesys source documents (a
	// what-if: a per-resource or hidden limit to rehearse against). The
	// simulator's banner and the scenarios' summaries say "hypothetical";
	// give such a limit a key that says so too (e.g.
	// "hypothetical.conversation.recordingstate.rate.per.minute"), because
	// reports see only the key.
	Hypothetical bool `json:"hypothetical,omitempty"`
}

// Unconfirmed holds a switch for each behaviour that Genesys' documentation
// leaves open. A default here is the simulator's choice, not a fact about
// the platform: the simulator's banner and the scenarios' summaries say
// which setting their figures assume. The rate-limit switches act on
// [Profile.Limits] when the profile is parsed and when a server starts.
type Unconfirmed struct {
	// OrgAppUserClientCredentials says whether org.app.user.rate.per.minute
	// (3000 per organization × OAuth client × user per minute) also counts
	// requests made with client-credentials tokens, all tokens of one OAuth
	// client then sharing one bucket (a client-credentials token has no
	// user). Genesys' text, "per organization per OAuth client per user",
	// does not say. Default true: the cautious reading, which caps one OAuth
	// client at 3000 requests per minute whatever its number of tokens.
	// False restricts the limit to user tokens (its "grant" becomes
	// "password"), so that a client-credentials token pool is bounded by
	// its tokens only.
	OrgAppUserClientCredentials bool `json:"orgAppUserClientCredentials"`
	// TokenCreationPerMinute, when > 0, limits token creations (POST
	// /oauth/token) per OAuth client per minute, under the key
	// [KeyTokenCreate] (namespace auth.api, marked hypothetical). Default 0:
	// Genesys documents no token-creation limit.
	TokenCreationPerMinute int `json:"tokenCreationPerMinute,omitempty"`
	// TopicTakeover makes a channel subscription take its topics from the
	// other channels of the same owner (OAuth client, or user for user
	// tokens) that hold them: each gets
	// v2.system.no_longer_subscribed.{id} with reason
	// another_channel_subscribed and stops receiving those topics. Genesys
	// documents that message and reason ("when another channel takes the
	// subscription") but not when a channel does; default false: channels
	// share topics.
	TopicTakeover bool `json:"topicTakeover,omitempty"`
	// InteractingAtConnect says when an agent offered an ACD call becomes
	// INTERACTING. Genesys' help defines INTERACTING as "handling an
	// interaction with a customer or completing after-call work" and does
	// not say whether an alerting offer counts. Default false: INTERACTING
	// from the offer (alerting). True: the agent stays IDLE while the offer
	// alerts and becomes INTERACTING when it answers. Either way routing
	// offers an agent one ACD call at a time.
	InteractingAtConnect bool `json:"interactingAtConnect,omitempty"`
}

// applyUnconfirmed makes p.Limits follow p.Unconfirmed; it is idempotent.
func (p *Profile) applyUnconfirmed() {
	u := p.Unconfirmed
	if !u.OrgAppUserClientCredentials {
		for i := range p.Limits {
			if p.Limits[i].Key == genesys.KeyOrgAppUser && p.Limits[i].Grant == "" {
				p.Limits[i].Grant = grantPassword
			}
		}
	}
	if u.TokenCreationPerMinute > 0 {
		l := Limit{Key: KeyTokenCreate, Namespace: NamespaceAuthAPI, Scope: genesys.ScopeClient, Allowed: u.TokenCreationPerMinute,
			Window: Duration(time.Minute), Families: []string{genesys.FamilyOAuth}, Hypothetical: true}
		for i := range p.Limits {
			if p.Limits[i].Key == KeyTokenCreate {
				p.Limits[i] = l
				return
			}
		}
		p.Limits = append(p.Limits, l)
	}
}

// Settings describes the profile's choices where Genesys' documentation is
// silent, one phrase each, for banners and summaries: the unconfirmed
// switches as set, and each enabled hypothetical limit.
func (p *Profile) Settings() []string {
	var out []string
	if p.Unconfirmed.OrgAppUserClientCredentials {
		out = append(out, "unconfirmed: "+genesys.KeyOrgAppUser+" counts client-credentials tokens (all tokens of one OAuth client share 3000/min; switch unconfirmed.orgAppUserClientCredentials)")
	} else {
		out = append(out, "unconfirmed: "+genesys.KeyOrgAppUser+" does not count client-credentials tokens (switch unconfirmed.orgAppUserClientCredentials=false)")
	}
	if n := p.Unconfirmed.TokenCreationPerMinute; n > 0 {
		out = append(out, fmt.Sprintf("unconfirmed: token creation limited to %d per OAuth client per minute (switch unconfirmed.tokenCreationPerMinute)", n))
	}
	if p.Unconfirmed.TopicTakeover {
		out = append(out, "unconfirmed: a channel subscription takes its topics from the owner's other channels (no_longer_subscribed, another_channel_subscribed; switch unconfirmed.topicTakeover)")
	}
	if p.Unconfirmed.InteractingAtConnect {
		out = append(out, "unconfirmed: an agent offered an ACD call stays IDLE while it alerts, INTERACTING once connected (switch unconfirmed.interactingAtConnect)")
	} else {
		out = append(out, "unconfirmed: an agent offered an ACD call is INTERACTING from the alert (switch unconfirmed.interactingAtConnect=false)")
	}
	for _, l := range p.Limits {
		if l.Hypothetical && !l.Disabled && l.Key != KeyTokenCreate {
			out = append(out, fmt.Sprintf("hypothetical (no Genesys source): %s, %d per %v, scope %s", l.Key, l.Allowed, l.Window, l.Scope))
		}
	}
	return out
}

// Notifications configures notification channels (see the streaming hub).
type Notifications struct {
	HeartbeatInterval   Duration `json:"heartbeatInterval"`
	MaxChannelsPerOwner int      `json:"maxChannelsPerOwner"`
	MaxTopicsPerChannel int      `json:"maxTopicsPerChannel"`
	ChannelTTL          Duration `json:"channelTTL"`
	// SendBuffer is the per-socket queue, in messages; a socket whose reader
	// falls this far behind is dropped and closed (counted in Stats).
	SendBuffer         int      `json:"sendBuffer"`
	SocketClosingGrace Duration `json:"socketClosingGrace"`
	// EchoCorrelationID puts a request's ININ-Correlation-Id (the client's
	// own, if it sent one) in the metadata of the events the request causes.
	// Unconfirmed on Genesys Cloud (docs/genesys.md, "Notifications").
	// Default true; false gives every event an id of the simulator's own, so
	// that clients must match events by content.
	EchoCorrelationID bool `json:"echoCorrelationId"`
	// DeniedTopics lists topic patterns (as streaming.TopicPatterns writes
	// them, "v2.analytics.queues.{id}.observations") that every token
	// lacks a permission for, with the permissions it lacks, to rehearse a
	// client whose OAuth client or role misses one. Genesys documents the
	// answer: a request with such a topic fails with 403 and subscribes
	// nothing, unless ignoreErrors=true, which subscribes the others and
	// answers the denied ones Rejected with missingPermissions. Which topics
	// need which permission is the organization's: none is denied by
	// default.
	DeniedTopics map[string][]string `json:"deniedTopics,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string ("60s").
type Duration time.Duration

// MarshalText writes the duration as "1m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"60s\" or \"1m30s\", got %q", b)
	}
	*d = Duration(v)
	return nil
}

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// The key of the simulator's switchable token-creation limit (see
// [Unconfirmed]), the key that the example profile
// scripts/gcsim/examples/hypothetical-recordingstate-limit.json gives its
// per-resource recording limit, and the profile's defaults. Neither limit
// has a Genesys source; both keys say so.
const (
	KeyTokenCreate        = "hypothetical.token.create.rate.per.minute"
	KeyRecordingState     = "hypothetical.conversation.recordingstate.rate.per.minute"
	NamespaceAuthAPI      = "auth.api"
	DefaultTokenValidity  = 86399
	DefaultRequestBytes   = 512000
	DefaultAgents         = 1000
	DefaultQueues         = 20
	DefaultOrgID          = "sim-org"
	DefaultClientID       = "sim-client"
	DefaultClientSecret   = "sim-secret"
	DefaultClientID2      = "sim-client-2"
	DefaultClientSecret2  = "sim-secret-2"
	DefaultAgentPassword  = "sim-password"
	grantClientCredential = "client_credentials"
	grantPassword         = "password"
	grantRefresh          = "refresh_token"
	grantSAML2            = "urn:ietf:params:oauth:grant-type:saml2-bearer"
)

// DefaultProfile returns a new profile with Genesys' documented platform.api
// limits and nothing else: token.rate.per.minute (300 per user token per
// minute), client.credentials.token.rate.per.minute (300 per
// client-credentials token per minute), org.app.user.rate.per.minute (3000
// per organization × OAuth client × user per minute) and request.bytes.max
// (512000). Where the documentation is silent it takes the choices of
// [Unconfirmed]: org.app.user.rate.per.minute counts client-credentials
// tokens; no token-creation limit; an offered agent is INTERACTING from the
// alert. It has no per-resource limit (Genesys
// publishes none) and the current 429 form ("Retry the request in [N]
// seconds"). Its directory has 1000 agents and 20 queues; tokens are valid
// 86399 s; heartbeats come every 30 s.
func DefaultProfile() *Profile {
	return &Profile{
		Org: Org{ID: DefaultOrgID, Name: DefaultOrgID},
		Clients: []Client{
			{ID: DefaultClientID, Secret: DefaultClientSecret, Name: "Simulator client",
				AccessTokenValiditySeconds: DefaultTokenValidity, GrantTypes: []string{grantClientCredential, grantPassword, grantSAML2}},
			{ID: DefaultClientID2, Secret: DefaultClientSecret2, Name: "Simulator client 2",
				AccessTokenValiditySeconds: DefaultTokenValidity, GrantTypes: []string{grantClientCredential, grantPassword, grantSAML2}},
		},
		Directory: Directory{
			Agents:        DefaultAgents,
			Queues:        DefaultQueues,
			AgentPassword: DefaultAgentPassword,
			PresenceDefinitions: []string{"Available", "Away", "Busy", "Offline", "On Queue",
				"Break", "Meal", "Meeting", "Training", "Idle"},
		},
		PasswordGrant:   true,
		RequestBytesMax: DefaultRequestBytes,
		Limits: []Limit{
			{Key: genesys.KeyToken, Namespace: genesys.NamespacePlatformAPI, Scope: genesys.ScopeToken, Grant: grantPassword, Allowed: 300, Window: Duration(time.Minute)},
			{Key: genesys.KeyClientCredentialsToken, Namespace: genesys.NamespacePlatformAPI, Scope: genesys.ScopeToken, Grant: grantClientCredential, Allowed: 300, Window: Duration(time.Minute)},
			{Key: genesys.KeyOrgAppUser, Namespace: genesys.NamespacePlatformAPI, Scope: genesys.ScopeClientUser, Allowed: 3000, Window: Duration(time.Minute)},
		},
		RateLimitMessage: "retryAfter",
		Unconfirmed:      Unconfirmed{OrgAppUserClientCredentials: true},
		Notifications: Notifications{
			HeartbeatInterval:   Duration(30 * time.Second),
			MaxChannelsPerOwner: 20,
			MaxTopicsPerChannel: 1000,
			ChannelTTL:          Duration(24 * time.Hour),
			SendBuffer:          256,
			SocketClosingGrace:  Duration(60 * time.Second),
			EchoCorrelationID:   true,
		},
		Seed: 1,
	}
}

// ParseProfile reads a JSON profile. Fields left out keep the values of
// [DefaultProfile] (a "limits" or "clients" array, when present, replaces
// the default array as a whole). Unknown fields, wrong types and invalid
// values are refused with an error naming the JSON path, e.g.
//
//	gcsim: profile: limits[2].window: must be > 0 (e.g. "60s")
func ParseProfile(data []byte) (*Profile, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, errors.New("gcsim: profile: (top level): empty; write {} to use the defaults")
	}
	p := DefaultProfile()
	if err := jsonv2.Unmarshal(data, p, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, profileJSONError(data, err)
	}
	p.applyUnconfirmed()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// MaxProfileSize bounds a profile file: the default profile is a few KiB
// and a profile of thousands of limits and clients stays under 1 MiB, so
// 16 MiB is never reached by a real profile but refuses a wrong path (a log,
// a device) before it fills the memory.
const MaxProfileSize = 16 << 20

// LoadProfile reads a JSON profile from a regular file of at most
// [MaxProfileSize]; errors name the file.
func LoadProfile(path string) (*Profile, error) {
	data, err := safefile.Read(path, MaxProfileSize)
	if err != nil {
		return nil, fmt.Errorf("gcsim: profile: %w; want a gcsim profile: a JSON file", err)
	}
	p, err := ParseProfile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// profileJSONError turns a JSON decoding error into one naming the path
// ("limits[2].window") and the line.
func profileJSONError(data []byte, err error) error { return jsonError("profile", data, err) }

func jsonError(what string, data []byte, err error) error {
	var (
		ptr    jsontext.Pointer
		offset int64 = -1
		cause        = err
	)
	var se *jsonv2.SemanticError
	var sy *jsontext.SyntacticError
	switch {
	case errors.As(err, &se):
		ptr, offset = se.JSONPointer, se.ByteOffset
		if se.Err != nil {
			cause = se.Err
		}
		if errors.Is(se.Err, jsonv2.ErrUnknownName) {
			return fmt.Errorf("gcsim: %s: %s (line %d): unknown field; remove it or fix its spelling (see the Profile schema in docs/simulator.md)",
				what, pointerPath(ptr), lineOf(data, offset))
		}
		if want := jsonKindWanted(se.GoType); want != "" && (se.Err == nil || errors.Is(se.Err, strconv.ErrSyntax) || errors.Is(se.Err, strconv.ErrRange)) {
			got := string(se.JSONValue)
			if got == "" {
				got = map[jsontext.Kind]string{'"': "a string", '[': "an array", '{': "an object", '0': "a number",
					't': "true", 'f': "false", 'n': "null"}[se.JSONKind]
			}
			cause = fmt.Errorf("want %s, got %s", want, got)
		}
	case errors.As(err, &sy):
		ptr, offset = sy.JSONPointer, sy.ByteOffset
		if sy.Err != nil {
			cause = sy.Err
		}
		return fmt.Errorf("gcsim: %s: line %d: malformed JSON near %s: %v", what, lineOf(data, offset), pointerPath(ptr), cause)
	}
	return fmt.Errorf("gcsim: %s: %s (line %d): %v", what, pointerPath(ptr), lineOf(data, offset), cause)
}

// jsonKindWanted describes the JSON a Go type takes.
func jsonKindWanted(t reflect.Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return ""
}

// pointerPath writes a JSON pointer as a path: limits[2].window, and
// faults.families["routing.queues"] for names that are not identifiers.
func pointerPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if !isIdent(tok) {
			b.WriteString("[" + strconv.Quote(tok) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "(top level)"
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func lineOf(data []byte, offset int64) int {
	if offset < 0 || offset > int64(len(data)) {
		offset = int64(len(data))
	}
	return 1 + strings.Count(string(data[:offset]), "\n")
}

// Validate checks the profile and returns an error naming the first bad
// field by its JSON path and saying how to fix it.
func (p *Profile) Validate() error {
	bad := func(path, format string, args ...any) error {
		return fmt.Errorf("gcsim: profile: %s: %s", path, fmt.Sprintf(format, args...))
	}
	if p.Org.ID == "" {
		return bad("org.id", "must not be empty (e.g. \"sim-org\")")
	}
	if len(p.Clients) == 0 {
		return bad("clients", "needs at least one OAuth client")
	}
	seen := map[string]bool{}
	for i, c := range p.Clients {
		path := fmt.Sprintf("clients[%d]", i)
		if c.ID == "" {
			return bad(path+".id", "must not be empty")
		}
		if seen[c.ID] {
			return bad(path+".id", "duplicate client id %q", c.ID)
		}
		seen[c.ID] = true
		if c.Secret == "" {
			return bad(path+".secret", "must not be empty")
		}
		if v := c.AccessTokenValiditySeconds; v < 300 || v > 172800 {
			return bad(path+".accessTokenValiditySeconds", "%d is outside Genesys' range 300..172800", v)
		}
		if len(c.GrantTypes) == 0 {
			return bad(path+".grantTypes", "needs at least one of \"client_credentials\", \"password\", %q", grantSAML2)
		}
		for j, g := range c.GrantTypes {
			if g != grantClientCredential && g != grantPassword && g != grantSAML2 {
				return bad(fmt.Sprintf("%s.grantTypes[%d]", path, j), "unknown grant %q; want \"client_credentials\", \"password\" or %q", g, grantSAML2)
			}
		}
	}
	d := p.Directory
	if d.Agents < 0 || d.Agents > 1_000_000 {
		return bad("directory.agents", "%d must be between 0 and 1000000", d.Agents)
	}
	if d.Queues < 0 || d.Queues > 100_000 {
		return bad("directory.queues", "%d must be between 0 and 100000", d.Queues)
	}
	if len(d.PresenceDefinitions) == 0 {
		return bad("directory.presenceDefinitions", "needs at least one presence, e.g. [\"Available\", \"Offline\"]")
	}
	if p.RequestBytesMax <= 0 {
		return bad("requestBytesMax", "must be > 0 (Genesys: 512000)")
	}
	switch p.RateLimitMessage {
	case "", "window", "retryAfter":
	default:
		return bad("rateLimitMessage", "unknown form %q; want \"retryAfter\" (the documented form, default) or \"window\" (the older form)", p.RateLimitMessage)
	}
	if p.Unconfirmed.TokenCreationPerMinute < 0 {
		return bad("unconfirmed.tokenCreationPerMinute", "%d must be >= 0 (0: no token-creation limit)", p.Unconfirmed.TokenCreationPerMinute)
	}
	keys := map[string]bool{}
	for i, l := range p.Limits {
		path := fmt.Sprintf("limits[%d]", i)
		if l.Key == "" {
			return bad(path+".key", "must not be empty (e.g. \"token.rate.per.minute\")")
		}
		if keys[l.Key] {
			return bad(path+".key", "duplicate limit key %q", l.Key)
		}
		keys[l.Key] = true
		if l.Namespace == "" {
			return bad(path+".namespace", "must not be empty (e.g. \"platform.api\")")
		}
		if _, err := genesys.ParseScope(string(l.Scope)); err != nil {
			return bad(path+".scope", "%v", err)
		}
		if l.Allowed <= 0 {
			return bad(path+".allowed", "must be > 0 (set \"disabled\": true to turn the limit off)")
		}
		if l.Window <= 0 {
			return bad(path+".window", "must be > 0 (e.g. \"60s\")")
		}
		switch l.WindowMode {
		case "", Fixed, Sliding:
		default:
			return bad(path+".windowMode", "unknown mode %q; want \"fixed\" or \"sliding\"", l.WindowMode)
		}
		switch l.Grant {
		case "", grantClientCredential, grantPassword:
		default:
			return bad(path+".grant", "unknown grant %q; want \"\", \"client_credentials\" or \"password\"", l.Grant)
		}
		for j, f := range l.Families {
			if !genesys.KnownFamily(f) {
				return bad(fmt.Sprintf("%s.families[%d]", path, j), "unknown route family %q; known: %s", f, strings.Join(genesys.Families(), ", "))
			}
			if (f == genesys.FamilyOAuth) != (l.Scope == genesys.ScopeClient) {
				return bad(fmt.Sprintf("%s.families[%d]", path, j), "family %q needs scope \"client\" and scope \"client\" needs family %q", genesys.FamilyOAuth, genesys.FamilyOAuth)
			}
		}
	}
	n := p.Notifications
	switch {
	case n.HeartbeatInterval <= 0:
		return bad("notifications.heartbeatInterval", "must be > 0 (Genesys: \"30s\")")
	case n.MaxChannelsPerOwner <= 0:
		return bad("notifications.maxChannelsPerOwner", "must be > 0 (Genesys: 20)")
	case n.MaxTopicsPerChannel <= 0:
		return bad("notifications.maxTopicsPerChannel", "must be > 0 (Genesys: 1000)")
	case n.ChannelTTL <= 0:
		return bad("notifications.channelTTL", "must be > 0 (Genesys: \"24h\")")
	case n.SendBuffer <= 0:
		return bad("notifications.sendBuffer", "must be > 0 (e.g. 256)")
	case n.SocketClosingGrace < 0:
		return bad("notifications.socketClosingGrace", "must be >= 0 (Genesys: about \"60s\")")
	}
	for _, pat := range slices.Sorted(maps.Keys(n.DeniedTopics)) {
		perms := n.DeniedTopics[pat]
		if !slices.Contains(streaming.TopicPatterns, pat) {
			return bad("notifications.deniedTopics", "%q is not a topic pattern of the simulator; use one of %s", pat, strings.Join(streaming.TopicPatterns, ", "))
		}
		if len(perms) == 0 || slices.Contains(perms, "") {
			return bad("notifications.deniedTopics", "%q: name the missing permissions, e.g. [\"analytics:queueObservation:view\"]", pat)
		}
	}
	if err := p.ACD.validate("acd", p.Directory.Queues); err != nil {
		return err
	}
	return p.Faults.validate("faults")
}

// clone returns a deep copy, so that a server never shares slices with its caller.
func (p *Profile) clone() *Profile {
	c := *p
	c.Clients = append([]Client(nil), p.Clients...)
	for i := range c.Clients {
		c.Clients[i].GrantTypes = append([]string(nil), c.Clients[i].GrantTypes...)
	}
	c.Directory.PresenceDefinitions = append([]string(nil), p.Directory.PresenceDefinitions...)
	c.Limits = append([]Limit(nil), p.Limits...)
	for i := range c.Limits {
		c.Limits[i].Families = append([]string(nil), c.Limits[i].Families...)
	}
	c.Faults = p.Faults.clone()
	c.ACD.Traffic.Queues = append([]string(nil), p.ACD.Traffic.Queues...)
	return &c
}

// MarshalJSON writes the profile in the schema ParseProfile reads
// (secrets included: the profile is configuration, not a log).
func (p *Profile) MarshalJSON() ([]byte, error) {
	type plain Profile
	return jsonv2.Marshal((*plain)(p), jsonv2.Deterministic(true))
}

// String summarizes the profile without secrets.
func (p *Profile) String() string {
	ids := make([]string, len(p.Clients))
	for i, c := range p.Clients {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	return fmt.Sprintf("gcsim.Profile{Org:%q, Clients:%v, Agents:%d, Queues:%d, Limits:%d}",
		p.Org.ID, ids, p.Directory.Agents, p.Directory.Queues, len(p.Limits))
}

// GoString is like String.
func (p *Profile) GoString() string { return p.String() }

// LogValue implements slog.LogValuer with String: without it slog's JSON
// handler would use MarshalJSON, which writes the secrets.
func (p *Profile) LogValue() slog.Value { return slog.StringValue(p.String()) }
