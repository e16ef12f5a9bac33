// Package genesys is Genesys Cloud's wire vocabulary, shared by the
// simulator (harness/gcsim) and the clients (harness/api, harness/auth,
// harness/notify): regions and their hosts, the route families that group
// endpoints for limits and faults, the keys, namespaces and scopes of the
// documented rate limits, the error body every non-OAuth error carries, the
// header names, and parsers for what a 429 says (Retry-After,
// inin-ratelimit-*, the error body and its message).
//
// The package imports only the standard library. docs/genesys.md gives the
// sources of each fact.
package genesys
