// Package gcsim is a simulator of Genesys Cloud for load tests: the OAuth
// token endpoint, the Platform API endpoints a contact-center load touches,
// Genesys' rate limits with their headers and 429 bodies, and notification
// WebSockets. It is shaped like net/http/httptest: NewServer starts a
// [Server] on a loopback port, Close stops it.
//
// # Model
//
// A [Profile] describes the organization: OAuth clients, a generated
// directory (agents, queues, presence definitions), rate limits, request
// size limit, notification settings and faults. [DefaultProfile] has
// Genesys' documented limits only, and a switch ([Unconfirmed]) for each
// behaviour the documentation leaves open; profiles are JSON (see
// [ParseProfile]).
//
// Every /api/v2 request needs a bearer token from POST /oauth/token. A
// request is matched to a route (unknown paths get 404 before anything
// else), faults of its route family are applied, its token is checked
// (401 if missing, unknown, expired or revoked), then it is counted in
// every rate-limit bucket that applies: one per token, one per
// organization × OAuth client × user and, where a profile defines them, one
// per user for resource limits or one for the organization. If any bucket is full the request gets 429
// with Retry-After and a body naming that bucket in limit.key; otherwise
// it is served. Every API response carries ININ-Correlation-Id and the
// inin-ratelimit-count/allowed/reset headers of the visible bucket nearest
// its limit. Windows are fixed by default and open at a bucket's first
// request (see [Limit] and [WindowMode]).
//
// State-changing requests (presence, routing status, calls, recording
// state) publish events on the matching notification topics, with the
// request's correlation id in metadata.CorrelationId.
//
// # Time
//
// Token expiry and rate-limit windows read Profile.Now (default time.Now).
// Under testing/synctest, time.Now is the bubble's fake clock; serve the
// simulator on a [PipeListener] inside the bubble so that network waits are
// durably blocking, and time.Sleep moves the windows.
//
// # Observability and faults
//
// [Server.Stats] (and GET /admin/stats) counts responses per route and
// status, admitted and rejected requests per bucket, refused tokens,
// injected faults and notification socket events. [Server.SetFaults] (and
// PUT /admin/faults) adds latency, 503s, connection resets, a token
// endpoint outage, WebSocket drops and socket_closing storms per route
// family, drawn from a generator seeded by Profile.Seed.
//
// A Server is safe for concurrent use.
package gcsim
