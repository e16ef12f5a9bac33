//go:build load

// Package loadtest holds cxload's load scenarios as go test tests and
// benchmarks, behind the build tag "load":
//
//	go test -tags load -count=1 ./loadtest          # every scenario, < 5 min
//	go test -tags load -short -count=1 ./loadtest   # the CI run, < 1 min
//
// Without Genesys credentials they run on the embedded simulator (gcsim);
// with credentials, on the tenant, through harness.NewTarget and its
// production guard (approval, window, budget). Each scenario is tuned with
// CXLOAD_* environment variables (see knobs_test.go and the README section
// "Load scenarios"), writes its result document as one "cxload-result:" line,
// and with -v prints progress lines and a plain-words summary.
//
//   - TestRecordingBurst: a burst of recording-state changes, three ways.
//   - TestRateLimitDiscovery: limits, windows and scopes found by experiment.
//   - TestNotificationStability: channels held under socket_closing and drops.
//   - TestAgentShift: a realistic agent shift with think times.
//   - Benchmark*: one per key operation, for benchstat.
package loadtest
