package metrics

import (
	"time"

	"github.com/cxload/cxload/harness/result"
)

// Result is one logical request (after retries), as data. Record takes a
// pointer to it but does not retain it.
type Result struct {
	Op            string         // operation name, e.g. "presence.set" (defaults to Method+" "+Route)
	Method        string         // HTTP method
	Route         string         // route template: "/api/v2/users/{id}/presences/{source}"
	Status        int            // final status; 0 when no response
	Outcome       result.Outcome // class of the final response
	Start         time.Time      // actual send of the first attempt
	Intended      time.Time      // intended send time for paced load (zero = Start)
	Latency       time.Duration  // service time of the last attempt
	Total         time.Duration  // from Intended (or Start) to completion, retries included: CO-corrected
	RetryWait     time.Duration  // time spent waiting before retries
	Attempts      int            // attempts sent to the server, retries and re-sends included; 0 if none was (refused or failed before sending)
	BytesIn       int64          // response body bytes
	BytesOut      int64          // request body bytes
	RateLimit     RateLimitInfo  // parsed inin-ratelimit-* headers of the final response + limit body on 429
	ThrottledBy   string         // bucket key that throttled it (429 body limit.key or client-side scope)
	Scope         string         // token | client-user | endpoint-user | org | client-side:<scope>
	TokenID       string         // opaque, redacted identity of the access token (hash prefix)
	ClientID      string         // opaque identity of the OAuth client
	UserID        string         // opaque identity of the user ("" for client credentials)
	CorrelationID string         // ININ-Correlation-Id
	Connect       time.Duration  // setup of the connection the last attempt opened (dial and TLS handshake); 0 if reused
	FirstByte     time.Duration  // from the last attempt's start to the first byte of its answer
	Err           string         // reason for failure, redacted
}

// RateLimitInfo is what a response said about rate limits: the
// inin-ratelimit-* headers, Retry-After, and the limit object of a 429 body.
type RateLimitInfo struct {
	Count      int           // inin-ratelimit-count
	Allowed    int           // inin-ratelimit-allowed
	Reset      time.Duration // inin-ratelimit-reset (time until the window resets)
	Key        string        // 429 body limit.key
	Namespace  string        // 429 body limit.namespace
	Value      int           // 429 body limit.value
	RetryAfter time.Duration // Retry-After
}
