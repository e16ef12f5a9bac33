package gcsim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// token is an issued access token and the buckets it counts against.
type token struct {
	value   string
	client  *clientState
	user    *User  // nil for client credentials
	grant   string // the limits' grant: client_credentials, or password for every user token
	issued  int64  // unix ns
	expires int64  // unix ns
	revoked atomic.Bool
	// buckets holds, per limit index, the bucket of each scope this token
	// counts against (nil where the limit is not of a per-principal scope).
	buckets []*bucket
}

func (t *token) userKey() string {
	if t.user != nil {
		return t.user.ID
	}
	return "app:" + t.client.ID
}

// owner identifies the notification-channel owner: org/client/user.
func (t *token) owner(org string) string {
	u := ""
	if t.user != nil {
		u = t.user.ID
	}
	return org + "/" + t.client.ID + "/" + u
}

type clientState struct {
	Client
	buckets []*bucket // genesys.ScopeClient limits
	issued  atomic.Int64
}

// authState holds clients, tokens and the shared buckets.
type authState struct {
	s       *Server
	clients map[string]*clientState
	tokens  sync.Map // string -> *token
	refresh sync.Map // refresh token -> *refreshGrant

	mu         sync.Mutex
	clientUser map[string][]*bucket // client/user -> buckets (genesys.ScopeClientUser)
	users      map[string][]*bucket // user key -> buckets (genesys.ScopeEndpointUser)
	org        []*bucket            // genesys.ScopeOrg
	all        []*bucket            // every bucket, for Reset
	created    int                  // tokens created since the last sweep
}

func newAuthState(s *Server) *authState {
	a := &authState{s: s, clients: map[string]*clientState{},
		clientUser: map[string][]*bucket{}, users: map[string][]*bucket{}}
	a.org = a.bucketsFor(genesys.ScopeOrg)
	for _, c := range s.profile.Clients {
		a.clients[c.ID] = &clientState{Client: c, buckets: a.bucketsFor(genesys.ScopeClient)}
	}
	return a
}

// bucketsFor returns a slice indexed by limit with a new bucket for each
// limit of the scope. Callers hold a.mu or run before serving.
func (a *authState) bucketsFor(scope genesys.Scope) []*bucket {
	bs := make([]*bucket, len(a.s.rules))
	for i, r := range a.s.rules {
		if r.Scope == scope {
			bs[i] = &bucket{}
			a.all = append(a.all, bs[i])
		}
	}
	return bs
}

// issue creates a token for client c and user u (nil: client credentials).
func (a *authState) issue(c *clientState, u *User, grant string, now time.Time) *token {
	var raw [48]byte
	_, _ = rand.Read(raw[:])
	t := &token{
		value:   base64.RawURLEncoding.EncodeToString(raw[:]),
		client:  c,
		user:    u,
		grant:   grant,
		issued:  now.UnixNano(),
		expires: now.Add(time.Duration(c.AccessTokenValiditySeconds) * time.Second).UnixNano(),
		buckets: make([]*bucket, len(a.s.rules)),
	}
	a.mu.Lock()
	cuKey := c.ID + "/"
	if u != nil {
		cuKey += u.ID
	}
	cu, ok := a.clientUser[cuKey]
	if !ok {
		cu = a.bucketsFor(genesys.ScopeClientUser)
		a.clientUser[cuKey] = cu
	}
	eu, ok := a.users[t.userKey()]
	if !ok {
		eu = a.bucketsFor(genesys.ScopeEndpointUser)
		a.users[t.userKey()] = eu
	}
	for i, r := range a.s.rules {
		switch r.Scope {
		case genesys.ScopeToken:
			t.buckets[i] = &bucket{}
			a.all = append(a.all, t.buckets[i])
		case genesys.ScopeClientUser:
			t.buckets[i] = cu[i]
		case genesys.ScopeEndpointUser:
			t.buckets[i] = eu[i]
		case genesys.ScopeOrg:
			t.buckets[i] = a.org[i]
		case genesys.ScopeClient:
			t.buckets[i] = c.buckets[i]
		}
	}
	a.created++
	sweep := a.created >= 4096
	if sweep {
		a.created = 0
	}
	a.mu.Unlock()
	if sweep {
		a.sweep(now.UnixNano())
	}
	a.tokens.Store(t.value, t)
	c.issued.Add(1)
	return t
}

// sweep forgets tokens that expired more than an hour ago (they would get
// 401 either way) and their per-token buckets.
func (a *authState) sweep(now int64) {
	drop := map[*bucket]bool{}
	a.tokens.Range(func(k, v any) bool {
		t := v.(*token)
		if now-t.expires > int64(time.Hour) {
			a.tokens.Delete(k)
			for i, r := range a.s.rules {
				if r.Scope == genesys.ScopeToken {
					drop[t.buckets[i]] = true
				}
			}
		}
		return true
	})
	if len(drop) == 0 {
		return
	}
	a.mu.Lock()
	kept := a.all[:0]
	for _, b := range a.all {
		if !drop[b] {
			kept = append(kept, b)
		}
	}
	a.all = kept
	a.mu.Unlock()
}

// resetBuckets empties every rate-limit window.
func (a *authState) resetBuckets() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.all {
		b.mu.Lock()
		b.st = windowState{}
		b.mu.Unlock()
	}
}

// RevokeToken revokes an access token, as DELETE /api/v2/tokens/me does;
// later requests with it get 401 and its notification channels close
// (v2.system.token_revoked). It reports whether the token was known.
func (s *Server) RevokeToken(accessToken string) bool {
	v, ok := s.auth.tokens.Load(accessToken)
	if ok {
		v.(*token).revoked.Store(true)
		s.closeChannelsOf(func(t *token) bool { return t == v.(*token) })
	}
	return ok
}

// RevokeClientTokens revokes every token of an OAuth client and returns how many.
func (s *Server) RevokeClientTokens(clientID string) int {
	n := 0
	s.auth.tokens.Range(func(_, v any) bool {
		if t := v.(*token); t.client.ID == clientID && !t.revoked.Swap(true) {
			n++
		}
		return true
	})
	s.closeChannelsOf(func(t *token) bool { return t.client.ID == clientID })
	return n
}

// authFailure says why a bearer token was refused.
type authFailure uint8

const (
	authOK authFailure = iota
	authMissing
	authUnknown
	authExpired
	authRevoked
)

// authenticate finds the request's bearer token.
func (s *Server) authenticate(r *http.Request, now int64) (*token, authFailure) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return nil, authMissing
	}
	v, ok := s.auth.tokens.Load(strings.TrimSpace(h[7:]))
	if !ok {
		return nil, authUnknown
	}
	t := v.(*token)
	if t.revoked.Load() {
		return t, authRevoked
	}
	if now >= t.expires {
		return t, authExpired
	}
	return t, authOK
}

// oauthError is the login host's error body.
type oauthError struct {
	Error            string `json:"error"`
	Description      string `json:"description"`
	ErrorDescription string `json:"error_description"`
}

func (s *Server) writeOAuthError(c *reqCtx, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		c.w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
	}
	s.writeJSON(c, status, oauthError{Error: code, Description: desc, ErrorDescription: desc})
}

// serveToken is POST /oauth/token.
func (s *Server) serveToken(c *reqCtx) {
	r := c.r
	if s.faults.tokenOutage() {
		s.stats.faultOutage.add(1)
		c.w.Header().Set(genesys.HeaderRetryAfter, "5")
		s.writeError(c, http.StatusServiceUnavailable, "service.unavailable",
			"The login service is temporarily unavailable (simulated outage).", nil)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		// Genesys also accepts client_id/client_secret in the form body.
		if err := s.parseTokenForm(c); err != nil {
			return
		}
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		if id == "" {
			s.writeOAuthError(c, http.StatusUnauthorized, "invalid_client",
				"client authentication is required: send Authorization: Basic base64(client_id:client_secret)")
			return
		}
	}
	// The descriptions are those observed on Genesys; the status (400 or
	// 401) is unconfirmed.
	cl, known := s.auth.clients[id]
	if !known {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid_client", "client not found")
		return
	}
	if subtle.ConstantTimeCompare([]byte(cl.Secret), []byte(secret)) != 1 {
		s.writeOAuthError(c, http.StatusUnauthorized, "invalid_client", "authentication failed")
		return
	}
	if err := s.parseTokenForm(c); err != nil {
		return
	}
	grant := r.PostForm.Get("grant_type")
	var user *User
	var used *refreshGrant
	switch grant {
	case "":
		s.writeOAuthError(c, http.StatusBadRequest, "invalid_request", "missing grant_type: send grant_type=client_credentials in the form body")
		return
	case grantClientCredential, grantSAML2:
	case grantPassword:
		if !s.profile.PasswordGrant {
			s.writeOAuthError(c, http.StatusBadRequest, "unsupported_grant_type",
				"grant_type password is off (profile passwordGrant false, as on Genesys): use "+grantSAML2+" or refresh_token for user tokens")
			return
		}
	case grantRefresh:
	default:
		s.writeOAuthError(c, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type "+strconv.Quote(grant)+
			": use client_credentials, refresh_token or "+grantSAML2)
		return
	}
	if grant != grantRefresh && !cl.allows(grant) {
		s.writeOAuthError(c, http.StatusBadRequest, "unauthorized_client", "this client may not use grant_type "+grant)
		return
	}
	switch grant {
	case grantPassword:
		pw := s.profile.Directory.AgentPassword
		u := s.dir.byEmail[r.PostForm.Get("username")]
		if u == nil {
			u = s.dir.byID[r.PostForm.Get("username")]
		}
		if pw == "" || u == nil || subtle.ConstantTimeCompare([]byte(pw), []byte(r.PostForm.Get("password"))) != 1 {
			s.writeOAuthError(c, http.StatusBadRequest, "invalid_grant", "bad username or password")
			return
		}
		user = u
	case grantSAML2:
		u, desc := s.samlUser(r.PostForm.Get("assertion"))
		if u == nil {
			s.writeOAuthError(c, http.StatusBadRequest, "invalid_grant", desc)
			return
		}
		user = u
	case grantRefresh:
		rt := r.PostForm.Get("refresh_token")
		v, ok := s.auth.refresh.Load(rt)
		if rt == "" || !ok {
			s.writeOAuthError(c, http.StatusBadRequest, "invalid_grant", "unknown or expired refresh_token")
			return
		}
		used = v.(*refreshGrant)
		if used.client != cl {
			s.writeOAuthError(c, http.StatusBadRequest, "invalid_grant", "the refresh_token was issued to another client")
			return
		}
		user = used.user
	}
	// Token creation is rate-limited per client.
	now := c.now
	if bs := s.clientBuckets(cl, c.route); len(bs) > 0 {
		if !s.applyLimits(c, c.route.rules, bs, now) {
			return
		}
	}
	if used != nil && !s.auth.refresh.CompareAndDelete(r.PostForm.Get("refresh_token"), used) {
		s.writeOAuthError(c, http.StatusBadRequest, "invalid_grant", "refresh_token already used")
		return
	}
	limitGrant := grant
	if user != nil {
		limitGrant = grantPassword // every user token counts as a user token (Limit.Grant "password")
	}
	t := s.auth.issue(cl, user, limitGrant, c.nowTime)
	var refresh string
	if user != nil {
		refresh = s.auth.issueRefresh(cl, user)
	}
	c.clientID = cl.ID
	c.w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(c, http.StatusOK, struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token,omitempty"`
	}{t.value, "bearer", cl.AccessTokenValiditySeconds, refresh})
}

// refreshGrant is what a refresh token stands for. A refresh token is used
// once: refreshing returns a new one (rotation), so a harness that keeps
// the first refresh token fails its second refresh.
type refreshGrant struct {
	client *clientState
	user   *User
}

// issueRefresh returns a new refresh token for c and u.
func (a *authState) issueRefresh(c *clientState, u *User) string {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	v := "rt-" + base64.RawURLEncoding.EncodeToString(raw[:])
	a.refresh.Store(v, &refreshGrant{client: c, user: u})
	return v
}

// samlUser finds the directory user a SAML2 bearer assertion names: the
// assertion is base64 (standard or URL alphabet, padded or not) of XML
// whose NameID element holds the user's email or id. Its signature,
// issuer, audience and validity are not checked. On failure it returns the
// OAuth error description.
func (s *Server) samlUser(assertion string) (*User, string) {
	if assertion == "" {
		return nil, "missing assertion: send assertion=<base64 SAML assertion>"
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(assertion); err == nil {
			break
		}
	}
	if err != nil {
		return nil, "assertion is not base64"
	}
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, "assertion has no NameID element (want <saml:NameID>user email or id</saml:NameID>)"
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "NameID" {
			var name string
			if err := d.DecodeElement(&name, &se); err != nil {
				return nil, "assertion's NameID is malformed"
			}
			name = strings.TrimSpace(name)
			if u := s.dir.byEmail[name]; u != nil {
				return u, ""
			}
			if u := s.dir.byID[name]; u != nil {
				return u, ""
			}
			return nil, "assertion's NameID " + strconv.Quote(clipName(name)) + " is not a user of the organization"
		}
	}
}

func clipName(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

func (s *Server) clientBuckets(cl *clientState, rt *route) []*bucket {
	if len(rt.rules) == 0 {
		return nil
	}
	bs := make([]*bucket, len(rt.rules))
	for i, r := range rt.rules {
		bs[i] = cl.buckets[r.idx]
		if bs[i] == nil { // a non-client limit on the token route: per org
			bs[i] = s.auth.org[r.idx]
		}
	}
	return bs
}

func (s *Server) parseTokenForm(c *reqCtx) error {
	if c.r.PostForm != nil {
		return nil
	}
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		s.writeOAuthError(c, http.StatusBadRequest, "invalid_request",
			"the body must be application/x-www-form-urlencoded, e.g. grant_type=client_credentials")
		c.r.PostForm = url.Values{}
		return errBadForm
	}
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, 64<<10)
	if err := c.r.ParseForm(); err != nil {
		s.writeOAuthError(c, http.StatusBadRequest, "invalid_request", "malformed form body: "+err.Error())
		return errBadForm
	}
	return nil
}

type formError struct{}

func (formError) Error() string { return "gcsim: bad form" }

var errBadForm error = formError{}

// SAMLAssertion returns an assertion the simulator's SAML2 bearer grant
// accepts for the user nameID (an email or user id): base64 of an unsigned
// <saml:Assertion> whose <saml:NameID> is nameID. Genesys validates the
// assertion against the org's identity provider; the simulator does not.
func SAMLAssertion(nameID string) string {
	var b bytes.Buffer
	b.WriteString(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Version="2.0"><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">`)
	_ = xml.EscapeText(&b, []byte(nameID))
	b.WriteString(`</saml:NameID></saml:Subject></saml:Assertion>`)
	return base64.StdEncoding.EncodeToString(b.Bytes())
}
