package auth

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/backoff"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/internal/clip"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"
)

// Policy says how agents map onto tokens.
type Policy int

const (
	// Shared gives every agent the same token (of the first client). All
	// requests then count against one token.rate.per.minute bucket.
	Shared Policy = iota
	// PerClient gives each client Config.TokensPerClient tokens; agent i uses
	// token i mod (clients × TokensPerClient). This spreads load over tokens,
	// as Genesys staff recommend, while bounding token creation.
	PerClient
	// PerAgent gives every agent its own token; agent i uses client
	// i mod len(Clients).
	PerAgent
	// PerUser gives every agent its own user's token: agent k uses
	// Config.Users[k], renewed with its refresh token or a SAML2 assertion
	// (Config.Assertion). User tokens give each agent its own
	// notification-channel quota and act as the user (calls from the
	// user's station); an agent beyond len(Users) gets an error.
	PerUser
)

// String returns "shared", "per-client" or "per-agent".
func (p Policy) String() string {
	switch p {
	case Shared:
		return "shared"
	case PerClient:
		return "per-client"
	case PerAgent:
		return "per-agent"
	case PerUser:
		return "per-user"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// ParsePolicy parses the output of Policy.String.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "shared":
		return Shared, nil
	case "per-client":
		return PerClient, nil
	case "per-agent":
		return PerAgent, nil
	case "per-user":
		return PerUser, nil
	}
	return 0, fmt.Errorf("auth: unknown token policy %q: want shared, per-client, per-agent or per-user", s)
}

// Defaults for Config fields left zero.
const (
	// DefaultRefreshMargin is how long before expiry a token is replaced.
	// Genesys' Go SDK uses 60 s; a load test should not be that close.
	DefaultRefreshMargin = 5 * time.Minute
	// DefaultRefreshJitter spreads the refreshes of a pool: each token is
	// refreshed a random time up to this much earlier than the margin says.
	DefaultRefreshJitter = time.Minute
	// DefaultCreatePerMinute paces token creation per OAuth client.
	// Genesys does not document the figure; the simulator's profile (and a
	// support case for a tenant) give the real one.
	DefaultCreatePerMinute = 60
	// DefaultMaxAttempts bounds attempts to get a token when none is valid.
	DefaultMaxAttempts = 4
	// DefaultBackoff is the first wait after a failed token request; it
	// doubles per failure up to DefaultMaxBackoff, with equal jitter (backoff.Backoff).
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// Config configures a Pool. TokenURL and at least one client are required.
type Config struct {
	TokenURL        string        // e.g. "https://login.mypurecloud.com/oauth/token"
	Clients         []Credentials // one or more OAuth clients
	Policy          Policy
	TokensPerClient int // PerClient: tokens per client (default 1)
	Agents          int // PerAgent: number of agents, i.e. tokens (default 1)
	// Users are the users of a PerUser pool, agent k = Users[k] (see
	// ReadUserTokens). Their tokens are renewed by Clients[i] named by
	// their ClientID.
	Users []UserToken
	// Assertion, if set, gives a PerUser pool SAML2 assertions for users
	// without a usable refresh token (see AssertionsFromDir).
	Assertion     AssertionSource
	RefreshMargin time.Duration // default DefaultRefreshMargin
	RefreshJitter time.Duration // default DefaultRefreshJitter; negative = none
	// CreateLimit paces token creation per client (tokens per second);
	// default DefaultCreatePerMinute/60; rate.Inf disables pacing.
	CreateLimit rate.Limit
	CreateBurst int           // default 1
	MaxAttempts int           // default DefaultMaxAttempts
	Backoff     time.Duration // default DefaultBackoff
	MaxBackoff  time.Duration // default DefaultMaxBackoff
	HTTPClient  *http.Client  // default http.DefaultClient
	Now         func() time.Time
	Rand        func() float64 // jitter source in [0,1); default math/rand/v2
	// OnRefresh, if set, is told about every token request (success or
	// failure). It may be called concurrently. Errors in it are redacted.
	OnRefresh func(RefreshEvent)
}

// RefreshEvent reports one token request.
type RefreshEvent struct {
	Slot     int    // index of the token in the pool
	ClientID string // HashID of the OAuth client id
	TokenID  string // HashID of the new token; "" on failure
	Attempt  int    // 1 for the first attempt of this refresh
	Expiry   time.Time
	Err      error // redacted; nil on success
}

// Stats counts a pool's token requests.
type Stats struct {
	Created  int64 // tokens obtained
	Failures int64 // failed token requests
}

// Token is one access token. It is immutable; String, GoString and LogValue
// never show its value.
type Token struct {
	ID       string // HashID("t", value)
	ClientID string // HashID("c", client id)
	Slot     int
	Expiry   time.Time

	header    func() string // a func, so fmt prints an address, never the value
	values    func() []string
	refreshAt time.Time
}

// AuthorizationHeader returns the Authorization header value, "Bearer ...".
func (t *Token) AuthorizationHeader() string { return t.header() }

// AuthorizationValues returns the Authorization header as a one-element
// slice shared by every caller, to set http.Header without allocating.
// Callers must not modify it.
func (t *Token) AuthorizationValues() []string { return t.values() }

// Value returns the access token itself. Avoid it; prefer AuthorizationHeader.
func (t *Token) Value() string { return strings.TrimPrefix(t.header(), "Bearer ") }

// String implements fmt.Stringer without the token value.
func (t *Token) String() string {
	if t == nil {
		return "auth.Token(nil)"
	}
	return fmt.Sprintf("auth.Token{ID: %s, Client: %s, Slot: %d, Expiry: %s, Value: %s}",
		t.ID, t.ClientID, t.Slot, t.Expiry.UTC().Format(time.RFC3339), Redacted)
}

// GoString implements fmt.GoStringer without the token value.
func (t *Token) GoString() string { return t.String() }

// Format makes every verb (%v, %+v, %#v, %s, %q) print String, so a token
// printed in any way shows no secret.
func (t *Token) Format(f fmt.State, verb rune) { fmt.Fprint(f, t.String()) }

// LogValue implements slog.LogValuer without the token value.
func (t *Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("client", t.ClientID),
		slog.Int("slot", t.Slot), slog.String("value", Redacted))
}

// Pool hands out access tokens to agents according to its Policy. Getting a
// valid token is lock-free; a token within its refresh margin is replaced by
// exactly one caller while the others keep using it, and an expired or
// invalidated token is replaced once while the others wait (single flight).
// A Pool starts no goroutines and is safe for concurrent use.
type Pool struct {
	cfg     Config
	ccs     []*clientcredentials.Config
	pacers  []*rate.Limiter
	slots   []*slot
	scrub   *Scrubber
	created atomic.Int64
	failed  atomic.Int64
	randMu  sync.Mutex
}

type slot struct {
	index  int
	client int
	user   *UserToken // PerUser only
	cur    atomic.Pointer[Token]

	mu       sync.Mutex
	flight   *flight   // in-progress refresh, nil if none
	failures int       // consecutive failures
	nextTry  time.Time // no new attempt before this while the token is valid
	// refreshToken is the user's current refresh token (PerUser).
	refreshToken string
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// NewPool checks cfg and returns a Pool. It requests no token yet.
func NewPool(cfg Config) (*Pool, error) {
	if cfg.TokenURL == "" {
		return nil, errors.New("auth: Config.TokenURL is empty: set it to the login host's /oauth/token URL")
	}
	if len(cfg.Clients) == 0 {
		return nil, errors.New("auth: Config.Clients is empty: give at least one OAuth client")
	}
	var secrets []string
	for i, c := range cfg.Clients {
		if c.ClientID == "" || c.Secret == "" {
			return nil, fmt.Errorf("auth: Config.Clients[%d]: client id and secret must both be set", i)
		}
		secrets = append(secrets, c.Secret)
	}
	if cfg.TokensPerClient <= 0 {
		cfg.TokensPerClient = 1
	}
	if cfg.Agents <= 0 {
		cfg.Agents = 1
	}
	if cfg.RefreshMargin <= 0 {
		cfg.RefreshMargin = DefaultRefreshMargin
	}
	if cfg.RefreshJitter == 0 {
		cfg.RefreshJitter = DefaultRefreshJitter
	} else if cfg.RefreshJitter < 0 {
		cfg.RefreshJitter = 0
	}
	if cfg.CreateLimit == 0 {
		cfg.CreateLimit = rate.Limit(DefaultCreatePerMinute) / 60
	}
	if cfg.CreateBurst <= 0 {
		cfg.CreateBurst = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pool{cfg: cfg, scrub: NewScrubber(secrets...)}
	if cfg.Rand == nil {
		p.cfg.Rand = rand.Float64
	}
	for _, c := range cfg.Clients {
		p.ccs = append(p.ccs, &clientcredentials.Config{
			ClientID:     c.ClientID,
			ClientSecret: c.Secret,
			TokenURL:     cfg.TokenURL,
			AuthStyle:    oauth2.AuthStyleInHeader, // Genesys: Basic base64(id:secret)
		})
		p.pacers = append(p.pacers, rate.NewLimiter(cfg.CreateLimit, cfg.CreateBurst))
	}
	var n int
	switch cfg.Policy {
	case Shared:
		n = 1
	case PerClient:
		n = len(cfg.Clients) * cfg.TokensPerClient
	case PerAgent:
		n = cfg.Agents
	case PerUser:
		return p.userSlots()
	default:
		return nil, fmt.Errorf("auth: Config.Policy: unknown %v", cfg.Policy)
	}
	for i := range n {
		p.slots = append(p.slots, &slot{index: i, client: i % len(cfg.Clients)})
	}
	return p, nil
}

// Size returns the number of tokens the pool holds at most.
func (p *Pool) Size() int { return len(p.slots) }

// Policy returns the pool's policy.
func (p *Pool) Policy() Policy { return p.cfg.Policy }

// Stats returns counters of token requests so far.
func (p *Pool) Stats() Stats {
	return Stats{Created: p.created.Load(), Failures: p.failed.Load()}
}

// String describes the pool without secrets.
func (p *Pool) String() string {
	ids := make([]string, len(p.cfg.Clients))
	for i, c := range p.cfg.Clients {
		ids[i] = c.ClientID
	}
	return fmt.Sprintf("auth.Pool{Policy: %v, Tokens: %d, Clients: [%s], Secrets: %s}",
		p.cfg.Policy, len(p.slots), strings.Join(ids, " "), Redacted)
}

// GoString implements fmt.GoStringer without secrets.
func (p *Pool) GoString() string { return p.String() }

// Scrub replaces the pool's client secrets in text with [Redacted].
func (p *Pool) Scrub(text string) string { return p.scrub.Scrub(text) }

// SlotFor returns the index of the token agent uses.
func (p *Pool) SlotFor(agent int) int {
	i := agent % len(p.slots)
	if i < 0 {
		i += len(p.slots)
	}
	return i
}

// Token returns a valid token for agent (any int; see Policy for the mapping).
// It blocks only when the agent's token is missing, expired or invalidated,
// for at most Config.MaxAttempts token requests, each paced to the client's
// creation limit. The returned error is redacted and wraps ctx's error if
// ctx ended.
func (p *Pool) Token(ctx context.Context, agent int) (*Token, error) {
	if p.cfg.Policy == PerUser && (agent < 0 || agent >= len(p.slots)) {
		return nil, fmt.Errorf("auth: agent %d has no user token: the pool has %d users (agents 0..%d); add users, or run fewer agents", agent, len(p.slots), len(p.slots)-1)
	}
	s := p.slots[p.SlotFor(agent)]
	for {
		cur := s.cur.Load()
		now := p.cfg.Now()
		if cur != nil && now.Before(cur.refreshAt) {
			return cur, nil // hot path: no lock
		}
		valid := cur != nil && now.Before(cur.Expiry)
		s.mu.Lock()
		if cur != s.cur.Load() { // replaced meanwhile
			s.mu.Unlock()
			continue
		}
		if f := s.flight; f != nil {
			s.mu.Unlock()
			if valid {
				return cur, nil // someone else refreshes; keep using the old one
			}
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("auth: waiting for token %d: %w", s.index, ctx.Err())
			}
			if f.err != nil && !isContextErr(f.err) {
				return nil, f.err
			}
			continue
		}
		if valid && now.Before(s.nextTry) {
			s.mu.Unlock()
			return cur, nil // last refresh failed; back off while the token still works
		}
		f := &flight{done: make(chan struct{})}
		s.flight = f
		s.mu.Unlock()

		attempts := 1
		if !valid {
			attempts = p.cfg.MaxAttempts
		}
		f.tok, f.err = p.refresh(ctx, s, attempts)

		s.mu.Lock()
		if f.err == nil {
			s.cur.Store(f.tok)
			s.failures = 0
			s.nextTry = time.Time{}
		} else if !isContextErr(f.err) {
			s.failures++
			s.nextTry = p.cfg.Now().Add(p.backoff(s.failures))
		}
		s.flight = nil
		s.mu.Unlock()
		close(f.done)

		if f.err == nil {
			return f.tok, nil
		}
		if valid {
			return cur, nil // refresh ahead of expiry failed, reported; old token still good
		}
		return nil, f.err
	}
}

// Invalidate marks tok as unusable (after a 401): the next Token call for its
// slot requests a new one. Invalidating a token that was already replaced
// does nothing, so a burst of 401s on one token causes one refresh.
func (p *Pool) Invalidate(tok *Token) {
	if tok == nil || tok.Slot < 0 || tok.Slot >= len(p.slots) {
		return
	}
	p.slots[tok.Slot].cur.CompareAndSwap(tok, nil)
}

// refresh makes up to attempts token requests with backoff between them,
// waiting longer when the endpoint's Retry-After asks for it (up to
// MaxBackoff).
func (p *Pool) refresh(ctx context.Context, s *slot, attempts int) (*Token, error) {
	var last error
	for a := 1; a <= attempts; a++ {
		if a > 1 {
			wait := p.backoff(a - 1)
			var re *redactedError
			if errors.As(last, &re) && re.retryAfter > wait && re.retryAfter <= p.cfg.MaxBackoff {
				wait = re.retryAfter // the token endpoint asked for longer (429, 503)
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("auth: token %d: %w (last failure: %v)", s.index, ctx.Err(), last)
			}
		}
		tok, err := p.fetch(ctx, s)
		ev := RefreshEvent{Slot: s.index, ClientID: HashID("c", p.cfg.Clients[s.client].ClientID), Attempt: a, Err: err}
		if err == nil {
			ev.TokenID, ev.Expiry = tok.ID, tok.Expiry
			p.created.Add(1)
		} else if !isContextErr(err) {
			p.failed.Add(1)
		}
		if p.cfg.OnRefresh != nil {
			p.cfg.OnRefresh(ev)
		}
		if err == nil {
			return tok, nil
		}
		if isContextErr(err) {
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("%w (gave up after %d attempts)", last, attempts)
}

func (p *Pool) fetch(ctx context.Context, s *slot) (*Token, error) {
	cid := HashID("c", p.cfg.Clients[s.client].ClientID)
	if err := p.pacers[s.client].Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("auth: token %d, client %s: pacing token creation: %w", s.index, cid, ctx.Err())
		}
		return nil, fmt.Errorf("auth: token %d, client %s: pacing token creation: %v", s.index, cid, err)
	}
	var access string
	var exp time.Time
	now := p.cfg.Now()
	if s.user != nil {
		tr, err := p.userGrant(ctx, s, cid)
		if err != nil {
			return nil, err
		}
		access = tr.AccessToken
		if tr.ExpiresIn > 0 {
			exp = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
		}
	} else {
		cctx := context.WithValue(ctx, oauth2.HTTPClient, p.cfg.HTTPClient)
		ot, err := p.ccs[s.client].Token(cctx)
		if err != nil {
			return nil, p.redactErr(s, cid, ctx, err)
		}
		access, exp = ot.AccessToken, ot.Expiry
		if ot.ExpiresIn > 0 {
			exp = now.Add(time.Duration(ot.ExpiresIn) * time.Second)
		}
	}
	if access == "" {
		return nil, fmt.Errorf("auth: token %d, client %s: token endpoint answered without access_token", s.index, cid)
	}
	if exp.IsZero() {
		exp = now.Add(24 * time.Hour) // no expires_in: assume Genesys' default lifetime
	}
	return p.newToken(s, cid, access, now, exp), nil
}

// newToken wraps access, valid until exp, for slot s, to be refreshed a
// margin (with jitter) ahead of exp.
func (p *Pool) newToken(s *slot, cid, access string, now, exp time.Time) *Token {
	life := exp.Sub(now)
	ahead := p.cfg.RefreshMargin
	if p.cfg.RefreshJitter > 0 {
		p.randMu.Lock()
		ahead += time.Duration(p.cfg.Rand() * float64(p.cfg.RefreshJitter))
		p.randMu.Unlock()
	}
	if ahead > life/2 { // short-lived tokens: refresh at half-life
		ahead = life / 2
	}
	header := "Bearer " + access
	values := []string{header}
	return &Token{
		values:    func() []string { return values },
		ID:        HashID("t", access),
		ClientID:  cid,
		Slot:      s.index,
		Expiry:    exp,
		header:    func() string { return header },
		refreshAt: exp.Add(-ahead),
	}
}

// userSlots makes a PerUser pool's slots, one per Config.Users entry, each
// starting with the entry's access token while it is valid.
func (p *Pool) userSlots() (*Pool, error) {
	if len(p.cfg.Users) == 0 {
		return nil, errors.New("auth: Config.Users is empty: a per-user pool needs the users' tokens (ReadUserTokens)")
	}
	p.cfg.Users = slices.Clone(p.cfg.Users) // the slots point into it
	var secrets []string
	now := p.cfg.Now()
	for i := range p.cfg.Users {
		u := &p.cfg.Users[i]
		client := -1
		for j, c := range p.cfg.Clients {
			if u.ClientID == "" || c.ClientID == u.ClientID {
				client = j
				break
			}
		}
		if client < 0 {
			return nil, fmt.Errorf("auth: Config.Users[%d] (%s): clientId %s is not one of Config.Clients: add its credentials", i, u.Name(), u.ClientID)
		}
		if u.Name() == "" {
			return nil, fmt.Errorf("auth: Config.Users[%d]: needs a user id or email", i)
		}
		if u.AccessToken == "" && u.RefreshToken == "" && p.cfg.Assertion == nil {
			return nil, fmt.Errorf("auth: Config.Users[%d] (%s): no access token, refresh token or assertion source: nothing to get a token with", i, u.Name())
		}
		s := &slot{index: i, client: client, user: u, refreshToken: u.RefreshToken}
		if u.AccessToken != "" && now.Before(u.ExpiresAt) {
			s.cur.Store(p.newToken(s, HashID("c", p.cfg.Clients[client].ClientID), u.AccessToken, now, u.ExpiresAt))
		}
		secrets = append(secrets, u.AccessToken, u.RefreshToken)
		p.slots = append(p.slots, s)
	}
	for _, c := range p.cfg.Clients {
		secrets = append(secrets, c.Secret)
	}
	p.scrub = NewScrubber(secrets...)
	return p, nil
}

// backoff returns the wait after n consecutive failures: Backoff·2^(n-1),
// capped at MaxBackoff, with equal jitter (backoff.Backoff's Delay).
func (p *Pool) backoff(n int) time.Duration {
	p.randMu.Lock()
	r := p.cfg.Rand()
	p.randMu.Unlock()
	return backoff.Backoff{Min: p.cfg.Backoff, Max: p.cfg.MaxBackoff, Factor: 2}.Delay(n-1, r)
}

// redactErr rebuilds a token-endpoint error from its status and OAuth error
// code only: oauth2's RetrieveError prints the whole response body.
func (p *Pool) redactErr(s *slot, cid string, ctx context.Context, err error) error {
	prefix := fmt.Sprintf("auth: token %d, client %s: POST %s", s.index, cid, p.cfg.TokenURL)
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", prefix, ctx.Err())
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := "no response"
		if re.Response != nil {
			status = re.Response.Status
		}
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" || desc == "" { // Genesys also uses {"error","description"}
			var body genesys.OAuthError
			if json.Unmarshal(re.Body, &body) == nil {
				code = cmp.Or(code, body.Error)
				desc = cmp.Or(desc, body.Description, body.ErrorDescription, body.Message)
			}
		}
		msg := prefix + ": " + status
		if code != "" {
			msg += ": " + code
		}
		if desc != "" {
			msg += ": " + clip.String(desc, 200)
		}
		e := &redactedError{msg: p.scrub.Scrub(msg), status: statusCode(re)}
		if re.Response != nil {
			if d, ok := genesys.ParseRetryAfter(re.Response.Header.Get(genesys.HeaderRetryAfter), p.cfg.Now()); ok {
				e.retryAfter = d
			}
		}
		return e
	}
	// Transport errors name the URL and the cause; no secret is sent in the
	// URL, but scrub anyway and drop anything after a "Response:" dump.
	text := err.Error()
	if i := strings.Index(text, "Response:"); i >= 0 {
		text = text[:i] + "Response: " + Redacted
	}
	return &redactedError{msg: p.scrub.Scrub(prefix + ": " + clip.String(text, 300))}
}

func statusCode(re *oauth2.RetrieveError) int {
	if re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// redactedError is a token-endpoint failure with secrets and bodies removed.
type redactedError struct {
	msg        string
	status     int
	retryAfter time.Duration // the endpoint's Retry-After, if any
}

func (e *redactedError) Error() string { return e.msg }

// StatusCode returns the token endpoint's HTTP status, 0 if none.
func (e *redactedError) StatusCode() int { return e.status }

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// NewToken wraps an access token obtained elsewhere (a user token, a test
// double) as a Token for clientID, valid until expiry. Its Slot is -1, so
// Pool.Invalidate ignores it.
func NewToken(value, clientID string, expiry time.Time) *Token {
	header := "Bearer " + value
	values := []string{header}
	return &Token{ID: HashID("t", value), ClientID: HashID("c", clientID), Slot: -1, Expiry: expiry,
		header: func() string { return header }, values: func() []string { return values }, refreshAt: expiry}
}
