// Package secretscan holds the test that keeps secrets secret: it runs a
// scenario on gcsim with recognizable fake client secrets, an agents'
// password and the access tokens gcsim issues, through every part of the
// harness (target, token pool, API client with errors and retries, agents,
// notification channels, recorder, result document, reports in Markdown,
// HTML and JSON, a history file, comparisons), captures all of their output
// (test logs, standard output and error, slog records, gcsim's request log,
// errors, and String/GoString/%v/%+v/%#v of every configuration, pool,
// token and client value) and searches it for every secret and token.
//
// It has no code of its own. Run it with:
//
//	go test -race ./internal/secretscan/
package secretscan
