package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/result"
)

// ThresholdError is the error a ThresholdWatcher cancels its context with.
type ThresholdError struct {
	Result result.ThresholdResult
}

// Error returns the failed threshold's detail paragraph.
func (e *ThresholdError) Error() string { return "metrics: " + e.Result.Detail }

// AssertThresholds parses exprs, checks them on doc, records the results in
// doc.Thresholds (so that a later Emit carries them), and reports one error
// paragraph on t for every expression that does not parse or does not hold,
// e.g. "threshold p99(presence.set, service) < 800ms: measured 912ms
// (operation presence.set, 1234 requests, service time of the answering
// attempt)". A latency expression that names no figure judges the service
// time and is recorded with the figure named. It returns whether all held.
func AssertThresholds(t testing.TB, doc *result.Document, exprs ...string) bool {
	t.Helper()
	ok := true
	for _, e := range exprs {
		th, err := result.ParseThreshold(e)
		if err != nil {
			t.Error(err)
			ok = false
			continue
		}
		r := th.Eval(doc)
		doc.Thresholds = append(doc.Thresholds, r)
		if !r.OK {
			t.Error(r.Detail)
			ok = false
		}
	}
	return ok
}

// DefaultWatchInterval is how often a ThresholdWatcher evaluates by default.
const DefaultWatchInterval = 5 * time.Second

// ThresholdWatcher aborts a run early: every Interval it takes a snapshot of
// Recorder and checks Thresholds; at the first failure it calls Cancel with a
// *ThresholdError and returns that error. Choose thresholds that cannot fail
// merely because the run is young (count of errors, rate of 429s), and set
// MinRequests so that rates are not judged on a handful of requests.
type ThresholdWatcher struct {
	Recorder    *Recorder
	Thresholds  []result.Threshold
	Interval    time.Duration           // default DefaultWatchInterval
	MinRequests int64                   // evaluate only once the run has this many requests
	Cancel      context.CancelCauseFunc // called with the *ThresholdError; may be nil
}

// Run evaluates until ctx ends (then it returns nil) or a threshold fails.
func (w *ThresholdWatcher) Run(ctx context.Context) error {
	iv := w.Interval
	if iv <= 0 {
		iv = DefaultWatchInterval
	}
	tick := time.NewTicker(iv)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := w.check(); err != nil {
			if w.Cancel != nil {
				w.Cancel(err)
			}
			return err
		}
	}
}

func (w *ThresholdWatcher) check() error {
	doc := w.Recorder.snapshot(false)
	if doc.All().Count < w.MinRequests {
		return nil
	}
	for _, r := range result.Check(doc, w.Thresholds...) {
		if !r.OK {
			return &ThresholdError{Result: r}
		}
	}
	return nil
}

// IsThresholdError reports whether err (or the cause of a context) is a
// threshold failure, and returns it.
func IsThresholdError(err error) (*ThresholdError, bool) {
	var te *ThresholdError
	ok := errors.As(err, &te)
	return te, ok
}
