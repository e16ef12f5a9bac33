package metrics

import "github.com/cxload/cxload/harness/result"

// An Observer sees every result a Recorder records, e.g. to export it live
// (package harness/telemetry). Observe runs on the goroutine that called
// Record, after the result is recorded, with the operation name and outcome
// the result document counts it under; it must be safe for concurrent use
// and must not retain res.
type Observer interface {
	Observe(op string, outcome result.Outcome, res *Result)
}

// WithObserver makes the recorder call newObserver once, with the
// recorder's scenario and shard (as its document will carry them), and
// pass every result to the Observer it returns; a nil Observer observes
// nothing.
func WithObserver(newObserver func(scenario, shard string) Observer) Option {
	return func(c *config) { c.newObserver = newObserver }
}
