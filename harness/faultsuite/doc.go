// Package faultsuite holds the harness's fault suite: tests that run the
// harness (token pool, API client, recorder, notification clients) against
// gcsim while it fails on purpose, and check that the harness itself neither
// fails, loses count nor leaks.
//
// The package has no API; its tests are the point. Each case injects one
// of gcsim's faults (connection resets, 5xx bursts with Retry-After,
// responses slower than the client's timeout, a token endpoint outage during
// refresh, WebSocket drops, socket_closing storms) or, for malformed JSON
// answers, which gcsim does not inject, corrupts gcsim's answers in a
// wrapping handler. The invariants checked in every case:
//
//   - every request the test issued is in the recorder's document exactly once:
//     succeeded, failed with a reason (Result.Err or an HTTP status), or
//     retried and then settled; the document's outcome counts equal the
//     outcomes the callers saw, and its attempts equal the requests gcsim
//     counted on the route;
//   - every expected notification event is either delivered or counted lost;
//   - no goroutine outlives the test (goleak, and testing/synctest, whose
//     bubble must be empty when the test returns);
//   - the run ends by its deadline, measured on synctest's fake clock over
//     in-memory pipes (gcsim.NewPipeListener);
//   - the result document (metrics.Document) says what happened, and
//     survives Encode and DecodeDocument.
//
// Run it with:
//
//	go test -race ./harness/faultsuite/
package faultsuite
