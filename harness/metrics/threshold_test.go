package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/internal/resulttest"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

func TestAssertThresholds(t *testing.T) {
	doc := sample(t)
	ft := &fakeTB{}
	ok := metrics.AssertThresholds(ft, doc, "p99(presence.set) < 800ms", "p50(presence.set) < 20ms", "rate(429) <", "count(transport errors) == 0")
	if ok {
		t.Error("AssertThresholds = true with failing thresholds")
	}
	if len(ft.errors) != 3 {
		t.Fatalf("%d errors, want 3 (two failed, one unparsable):\n%s", len(ft.errors), ft.output())
	}
	want := "threshold p99(presence.set, service) < 800ms: measured 900ms (operation presence.set, 1000 requests, service time of the answering attempt)"
	if ft.errors[0] != want {
		t.Errorf("first error = %q\nwant %q", ft.errors[0], want)
	}
	if !strings.Contains(ft.errors[1], "no value") || !strings.Contains(ft.errors[2], "count(transport errors) == 0: measured 1") {
		t.Errorf("errors = %q", ft.errors)
	}
	if len(doc.Thresholds) != 3 || doc.Thresholds[1].OK != true {
		t.Errorf("doc.Thresholds = %+v", doc.Thresholds)
	}
	if ok := metrics.AssertThresholds(&fakeTB{}, doc, "p50(presence.set) < 20ms"); !ok {
		t.Error("AssertThresholds = false for a holding threshold")
	}
}

// The watcher cancels the run at the first failure, judged every interval.
func TestThresholdWatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := metrics.NewRecorder()
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		w := &metrics.ThresholdWatcher{
			Recorder:    rec,
			Thresholds:  []result.Threshold{result.MustParseThreshold("rate(429) < 10%")},
			Interval:    time.Second,
			MinRequests: 10,
			Cancel:      cancel,
		}
		var wg sync.WaitGroup
		var runErr error
		wg.Go(func() { runErr = w.Run(ctx) })

		// 5 requests, all 429: below MinRequests, not judged.
		for i := 0; i < 5; i++ {
			rec.Record(&metrics.Result{Op: "a", Status: 429, Outcome: result.Throttled, Start: time.Now()})
		}
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if ctx.Err() != nil {
			t.Fatalf("cancelled below MinRequests: %v", context.Cause(ctx))
		}
		// 20 more OK: 5/25 = 20% >= 10%: the next tick cancels.
		for i := 0; i < 20; i++ {
			rec.Record(&metrics.Result{Op: "a", Status: 200, Start: time.Now()})
		}
		time.Sleep(time.Second)
		wg.Wait()
		te, ok := metrics.IsThresholdError(context.Cause(ctx))
		if !ok || !errors.Is(runErr, context.Cause(ctx)) {
			t.Fatalf("cause = %v, Run = %v; want the *ThresholdError", context.Cause(ctx), runErr)
		}
		if !strings.Contains(te.Error(), "rate(429) < 10%: measured 20%") {
			t.Errorf("error = %q", te)
		}
	})
}

func TestThresholdWatcherStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := metrics.NewRecorder()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w := &metrics.ThresholdWatcher{Recorder: rec, Thresholds: []result.Threshold{result.MustParseThreshold("count(errors) == 0")}}
		if err := w.Run(ctx); err != nil {
			t.Errorf("Run = %v, want nil when the context ends", err)
		}
	})
}

// sample is the shared 10-second run (resulttest.Sample).
func sample(t testing.TB) *result.Document { return resulttest.Sample(t) }
