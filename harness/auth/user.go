package auth

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/cxload/cxload/internal/safefile"
)

// GrantSAML2Bearer is the grant_type of the SAML2 bearer grant (RFC 7522).
const GrantSAML2Bearer = "urn:ietf:params:oauth:grant-type:saml2-bearer"

// MaxUserTokensSize bounds a user tokens file: an entry is about 2 KiB, so
// 16 MiB holds thousands of users and refuses a wrong path (a log, a device).
const MaxUserTokensSize = 16 << 20

// A UserToken is one user's token of a [PerUser] pool: an access token
// obtained elsewhere (the org's SSO, an authorization-code login) and the
// refresh token that renews it. String, GoString, Format, LogValue and
// MarshalJSON never show AccessToken or RefreshToken.
type UserToken struct {
	UserID string // the user's id; UserID or Email is required
	Email  string
	// ClientID is the OAuth client the tokens were issued to, which must
	// be one of Config.Clients; "" means Config.Clients[0].
	ClientID     string
	AccessToken  string    // may be empty when RefreshToken is set
	RefreshToken string    // may be empty when the pool has an assertion source
	ExpiresAt    time.Time // AccessToken's expiry; required with AccessToken
}

// Name returns the user's id, or email when the id is unknown.
func (u UserToken) Name() string {
	if u.UserID != "" {
		return u.UserID
	}
	return u.Email
}

// String implements fmt.Stringer without the tokens.
func (u UserToken) String() string {
	return fmt.Sprintf("auth.UserToken{User: %s, Client: %s, AccessToken: %s, RefreshToken: %s, ExpiresAt: %s}",
		u.Name(), u.ClientID, Redacted, Redacted, u.ExpiresAt.UTC().Format(time.RFC3339))
}

// GoString implements fmt.GoStringer without the tokens.
func (u UserToken) GoString() string { return u.String() }

// Format makes every verb print String.
func (u UserToken) Format(f fmt.State, verb rune) { fmt.Fprint(f, u.String()) }

// LogValue implements slog.LogValuer without the tokens.
func (u UserToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", u.Name()), slog.String("client", u.ClientID),
		slog.String("access_token", Redacted), slog.String("refresh_token", Redacted))
}

// MarshalJSON writes the entry without its tokens.
func (u UserToken) MarshalJSON() ([]byte, error) {
	return json.Marshal(userTokenJSON{UserID: u.UserID, Email: u.Email, ClientID: u.ClientID,
		AccessToken: Redacted, RefreshToken: Redacted, ExpiresAt: u.ExpiresAt})
}

type userTokenJSON struct {
	UserID       string    `json:"userId,omitempty"`
	Email        string    `json:"email,omitempty"`
	ClientID     string    `json:"clientId,omitempty"`
	AccessToken  string    `json:"accessToken,omitempty"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"`
}

// An AssertionSource returns a base64-encoded SAML2 assertion for user,
// for the SAML2 bearer grant. It is called whenever the user needs a new
// token and has no refresh token (or its refresh token was refused); it
// may be called concurrently for different users.
type AssertionSource func(ctx context.Context, user UserToken) (string, error)

// MaxAssertionSize bounds an assertion file of [AssertionsFromDir]: a
// signed SAML assertion is a few KiB of base64, so 1 MiB refuses only a
// wrong file.
const MaxAssertionSize = 1 << 20

// AssertionFile returns the file of [AssertionsFromDir] that holds user's
// assertion, dir/<user>.saml, user being an id or email; a name that is not
// a usable file name is an error.
func AssertionFile(dir, user string) (string, error) {
	if user == "" || strings.ContainsAny(user, `/\`) || user == "." || user == ".." {
		return "", fmt.Errorf("auth: assertion for user %q: not a usable file name", user)
	}
	return filepath.Join(dir, user+".saml"), nil
}

// AssertionsFromDir is an AssertionSource reading user u's assertion from
// the file dir/<u.Name()>.saml (base64, surrounding space ignored, at most
// [MaxAssertionSize]), read afresh each time so that an external tool can
// renew it.
func AssertionsFromDir(dir string) AssertionSource {
	return func(_ context.Context, u UserToken) (string, error) {
		name := u.Name()
		path, err := AssertionFile(dir, name)
		if err != nil {
			return "", err
		}
		data, err := safefile.Read(path, MaxAssertionSize)
		if err != nil {
			return "", fmt.Errorf("auth: assertion for user %s: %w", name, err)
		}
		a := strings.TrimSpace(string(data))
		if a == "" {
			return "", fmt.Errorf("auth: assertion for user %s: file %s is empty: write the base64 SAML assertion in it", name, path)
		}
		return a, nil
	}
}

// ReadUserTokens reads a user tokens file: a JSON array of objects
// {"userId" or "email", "clientId" (optional), "accessToken",
// "refreshToken", "expiresAt" (RFC 3339)}, at most [MaxUserTokensSize]
// bytes. Every entry needs accessToken with expiresAt, or refreshToken.
// Errors name the file, the line of the entry and the field; they never
// contain a token.
func ReadUserTokens(path string) ([]UserToken, error) {
	data, err := safefile.Read(path, MaxUserTokensSize)
	if err != nil {
		return nil, fmt.Errorf("auth: user tokens: %w", err)
	}
	return ParseUserTokens(path, data)
}

// ParseUserTokens parses the contents of a user tokens file named name
// (see [ReadUserTokens]).
func ParseUserTokens(name string, data []byte) ([]UserToken, error) {
	lineAt := func(off int64) int {
		off = min(max(off, 0), int64(len(data)))
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
			off++ // point at the entry, not the separator before it
		}
		return 1 + bytes.Count(data[:off], []byte("\n"))
	}
	fail := func(off int64, format string, args ...any) error {
		return fmt.Errorf("auth: user tokens %s:%d: %s", name, lineAt(off), fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, fail(0, `want a JSON array of {"userId" or "email", "accessToken", "refreshToken", "expiresAt"}`)
	}
	var out []UserToken
	seen := map[string]int{}
	for i := 0; dec.More(); i++ {
		start := dec.InputOffset()
		var e userTokenJSON
		if err := dec.Decode(&e); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return nil, fail(se.Offset, "entry %d: %s", i, jsonReason(err))
			}
			return nil, fail(start, "entry %d: %s", i, jsonReason(err))
		}
		entry := fmt.Sprintf("entry %d", i)
		if n := cmp.Or(e.UserID, e.Email); n != "" {
			entry += " (" + n + ")"
		}
		switch {
		case e.UserID == "" && e.Email == "":
			return nil, fail(start, "%s: userId: missing: give the user's id or email", entry)
		case e.AccessToken == "" && e.RefreshToken == "":
			return nil, fail(start, "%s: accessToken: missing: give accessToken with expiresAt, or refreshToken", entry)
		case e.AccessToken != "" && e.ExpiresAt.IsZero():
			return nil, fail(start, "%s: expiresAt: missing: give the access token's expiry, e.g. \"2026-01-02T15:04:05Z\"", entry)
		}
		key := cmp.Or(e.UserID, e.Email)
		if j, dup := seen[key]; dup {
			return nil, fail(start, "%s: userId: %s is also entry %d: list each user once", entry, key, j)
		}
		seen[key] = i
		out = append(out, UserToken(e))
	}
	if _, err := dec.Token(); err != nil {
		return nil, fail(dec.InputOffset(), "after entry %d: %s", len(out)-1, jsonReason(err))
	}
	if len(out) == 0 {
		return nil, fail(0, "no entries: list one {\"userId\", \"accessToken\", \"refreshToken\", \"expiresAt\"} per user")
	}
	return out, nil
}

// jsonReason returns encoding/json's message, which names fields and types
// but never values.
func jsonReason(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("%s: want a %s, not a JSON %s", ute.Field, ute.Type, ute.Value)
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return "expiresAt: not an RFC 3339 time, e.g. \"2026-01-02T15:04:05Z\""
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		msg = "unexpected end of file: the array is not closed"
	}
	return msg
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// postToken sends one token request authenticated as client c (Basic
// base64(id:secret), as Genesys' SDKs send it). A refusal is an
// *oauth2.RetrieveError, for redactErr.
func (p *Pool) postToken(ctx context.Context, c Credentials, form url.Values) (*tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.ClientID, c.Secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &oauth2.RetrieveError{Response: resp, Body: body}
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("token endpoint answered %s with a body that is not a token (%d bytes)", resp.Status, len(body))
	}
	return &tr, nil
}

// userGrant gets slot s's user a new access token: with the refresh token
// if it has one, else (or if the refresh token was refused) with a SAML2
// assertion from Config.Assertion.
func (p *Pool) userGrant(ctx context.Context, s *slot, cid string) (*tokenResponse, error) {
	c := p.cfg.Clients[s.client]
	s.mu.Lock()
	rt := s.refreshToken
	s.mu.Unlock()
	var err error
	if rt != "" {
		var tr *tokenResponse
		tr, err = p.postToken(ctx, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if err == nil {
			p.keepRefresh(s, rt, tr.RefreshToken)
			return tr, nil
		}
		err = p.redactErr(s, cid, ctx, err)
		var re *redactedError
		if p.cfg.Assertion == nil || ctx.Err() != nil || !errors.As(err, &re) || re.status != http.StatusBadRequest {
			return nil, fmt.Errorf("%w (refresh_token grant, user %s)", err, s.user.Name())
		}
		// The refresh token was refused (expired, revoked): fall back to SAML2.
	}
	if p.cfg.Assertion == nil {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("auth: token %d, user %s: needs a new token but has no refresh token and the pool no assertion source: renew the user tokens file, or set Config.Assertion", s.index, s.user.Name())
	}
	a, aerr := p.cfg.Assertion(ctx, *s.user)
	if aerr != nil {
		return nil, fmt.Errorf("auth: token %d, user %s: getting a SAML2 assertion: %v", s.index, s.user.Name(), p.scrub.Scrub(aerr.Error()))
	}
	tr, err := p.postToken(ctx, c, url.Values{"grant_type": {GrantSAML2Bearer}, "assertion": {a}})
	if err != nil {
		return nil, fmt.Errorf("%w (SAML2 bearer grant, user %s)", p.redactErr(s, cid, ctx, err), s.user.Name())
	}
	p.keepRefresh(s, "", tr.RefreshToken)
	return tr, nil
}

// keepRefresh stores a new refresh token for s (the endpoint may rotate
// them); an answer without one keeps the old.
func (p *Pool) keepRefresh(s *slot, old, next string) {
	if next == "" {
		return
	}
	s.mu.Lock()
	if s.refreshToken == old || old == "" {
		s.refreshToken = next
	}
	s.mu.Unlock()
}
