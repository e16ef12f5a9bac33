// Package auth holds cxload's OAuth token pool: client-credentials tokens for
// Genesys Cloud, shared by all agents, one or more per OAuth client, or one per
// agent, refreshed ahead of expiry and created no faster than the platform's
// token-creation limit.
//
// Secrets never leave this package in clear text: [Credentials] and [Token]
// print "[REDACTED]" in String, GoString and LogValue, identities are reported
// as short hashes ([HashID]), and errors from the token endpoint are rebuilt
// from their status and error code, never from the raw response body.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
)

// Redacted is what every secret prints as.
const Redacted = "[REDACTED]"

// Credentials is one OAuth client (client-credentials grant). The zero value
// is not usable. String, GoString and LogValue never show Secret.
type Credentials struct {
	ClientID string
	Secret   string
}

// String implements fmt.Stringer without the secret.
func (c Credentials) String() string {
	return "auth.Credentials{ClientID: " + c.ClientID + ", Secret: " + Redacted + "}"
}

// GoString implements fmt.GoStringer (%#v) without the secret.
func (c Credentials) GoString() string {
	return "auth.Credentials{ClientID: " + quote(c.ClientID) + ", Secret: " + quote(Redacted) + "}"
}

// LogValue implements slog.LogValuer without the secret.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", c.ClientID), slog.String("secret", Redacted))
}

// MarshalJSON writes the credentials without the secret, so that a value
// reaching encoding/json (a JSON log handler, a result dump) cannot leak it.
// Clients files are read, never written, by cxload.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ClientID string `json:"clientId"`
		Secret   string `json:"clientSecret"`
	}{c.ClientID, Redacted})
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// HashID returns a short, stable, non-reversible identity for a secret or
// identifier: prefix + "-" + 10 hex digits of its SHA-256. Results, logs and
// scope inference use it to tell tokens and clients apart without holding them.
func HashID(prefix, s string) string {
	sum := sha256.Sum256([]byte(s))
	return prefix + "-" + hex.EncodeToString(sum[:5])
}

// Scrubber replaces known secrets in text with [Redacted]. The zero value
// scrubs nothing. It is safe for concurrent use once built.
type Scrubber struct {
	secrets []string
}

// NewScrubber returns a Scrubber for the given secrets; empty strings and
// strings shorter than 4 bytes are ignored (too likely to appear by chance).
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	for _, v := range secrets {
		if len(v) >= 4 {
			s.secrets = append(s.secrets, v)
		}
	}
	return s
}

// Scrub returns text with every known secret replaced by [Redacted].
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	for _, v := range s.secrets {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, Redacted)
		}
	}
	return text
}
