package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/metrics"
)

// sample is a 10-second run: presence.set 1000 requests (p99 ~ 900ms, 20 throttled
// by 429, 5 server errors), queues.list 100 requests at 5ms, one transport error.
func sample(t testing.TB) *metrics.Document {
	t.Helper()
	c := newClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now))
	for i := 0; i < 1000; i++ {
		lat := 10 * time.Millisecond
		if i >= 985 {
			lat = 900 * time.Millisecond
		}
		status := 200
		switch {
		case i%50 == 1:
			status = 429
		case i%200 == 3:
			status = 500
		}
		rec.Record(result("presence.set", status, epoch.Add(time.Duration(i)*time.Millisecond), lat))
	}
	for i := 0; i < 99; i++ {
		rec.Record(result("queues.list", 200, epoch, 5*time.Millisecond))
	}
	rec.Record(result("queues.list", 0, epoch, time.Second))
	rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSHeartbeat, Gap: 31 * time.Second})
	c.Advance(10 * time.Second)
	return rec.Snapshot()
}

func TestThresholdEval(t *testing.T) {
	doc := sample(t)
	tests := []struct {
		expr   string
		ok     bool
		value  string
		detail string // fragment
	}{
		{"p99(presence.set) < 800ms", false, "900ms", "operation presence.set, 1000 requests, service time"},
		{"p50(presence.set) <= 20ms", true, "10ms", ""},
		{"p99.9(presence.set) >= 900ms", true, "900ms", ""},
		{"p99(presence.set, total) < 1s", true, "900ms", "CO-corrected total"},
		{"p99(queues.list, ok) < 10ms", true, "5ms", "outcome ok"},
		{"max(queues.list) < 500ms", false, "1s", ""},
		{"avg(queues.list) < 20ms", true, "15ms", ""}, // 14.95ms, shown to the millisecond
		{"rate(429) < 1%", false, "1.82%", "all operations: 20 of 1100 requests were 429"},
		{"rate(429, presence.set) < 2.5%", true, "2%", ""},
		{"rate(errors, presence.set) < 0.5%", false, "0.5%", "5 of 1000 requests were errors"}, // not strictly below
		{"rate(errors, presence.set) <= 0.5%", true, "0.5%", ""},
		{"rate(throttled) <= 0.02", true, "1.82%", ""},
		{"count(transport errors) == 0", false, "1", ""},
		{"count(transport errors, presence.set) == 0", true, "0", ""},
		{"count(requests) == 1100", true, "1100", ""},
		{"count(5xx) != 0", true, "5", ""},
		{"rps(presence.set) >= 100", true, "100", "1000 requests in 10s"},
		{"rps() > 200", false, "110", ""},
		{"rps(*) > 100", true, "110", ""},
		{"max_heartbeat_gap < 45s", true, "31s", "1 heartbeats"},
		{"ws_lost == 0", true, "0", ""},
		{"rejected(token.rate.per.minute) == 0", true, "0", "buckets that rejected: unknown (server)"}, // 429s without a limit key
		{"rejected(unknown) == 20", true, "20", ""},
		{"p99(nope) < 1s", false, "n/a", `operation "nope" has no requests (operations in the run: presence.set, queues.list)`},
		{"p99(queues.list, throttled) < 1s", false, "n/a", "no latency values"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := metrics.ParseThreshold(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			r := th.Eval(doc)
			if r.Expr != tt.expr {
				t.Errorf("Expr = %q", r.Expr)
			}
			if r.OK != tt.ok || r.Value != tt.value || !strings.Contains(r.Detail, tt.detail) || !strings.HasPrefix(r.Detail, "threshold "+tt.expr+": ") {
				t.Errorf("Eval = ok %v, value %q, detail %q;\nwant ok %v, value %q, detail containing %q", r.OK, r.Value, r.Detail, tt.ok, tt.value, tt.detail)
			}
		})
	}
}

func TestParseThresholdErrors(t *testing.T) {
	tests := []struct {
		expr string
		want []string // fragments
	}{
		{"p99(op)", []string{"column 8", "no comparison"}},
		{"p99(op) < ", []string{"no value"}},
		{"p99(op) < 8xx", []string{"column 11", `"8xx" is not a duration`, "800ms"}},
		{"p99(op) =< 1s", []string{"column 9", `"=" is not one of`}},
		{"p0(op) < 1s", []string{"column 1", "(0,100]"}},
		{"p101(op) < 1s", []string{"(0,100]"}},
		{"q99(op) < 1s", []string{`unknown metric "q99"`}},
		{"p99(op, fast) < 1s", []string{`modifier "fast"`}},
		{"rate(oops) < 1%", []string{"column 6", `"oops" is not one of`}},
		{"rate(429) < 150%", []string{`"150%" is not a percentage`}},
		{"rate(429) < 2", []string{"fraction in [0,1]"}},
		{"count(429) == 1.5", []string{"whole number"}},
		{"count() == 0", []string{"takes (what) or (what, op)"}},
		{"rps(a, b) > 1", []string{"at most one operation"}},
		{"max_heartbeat_gap(x) < 1s", []string{"takes no arguments"}},
		{"p99(op < 1s", []string{"no comparison"}},
		{" < 1s", []string{"no metric"}},
		{"rejected() == 0", []string{"rejected takes (bucket key)"}},
		{"rejected(k, elsewhere) == 0", []string{`source "elsewhere"`}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := metrics.ParseThreshold(tt.expr)
			if err == nil {
				t.Fatalf("ParseThreshold(%q) = nil error", tt.expr)
			}
			msg := err.Error()
			for _, w := range append(tt.want, "metrics: threshold", "forms: p99(op) < 800ms") {
				if !strings.Contains(msg, w) {
					t.Errorf("ParseThreshold(%q) error = %q\nwant it to contain %q", tt.expr, msg, w)
				}
			}
		})
	}
}

func TestMustParseThresholdPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParseThreshold(bad) did not panic")
		}
	}()
	metrics.MustParseThreshold("bad")
}

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
	want := "threshold p99(presence.set) < 800ms: measured 900ms (operation presence.set, 1000 requests, service time)"
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

func TestCheck(t *testing.T) {
	doc := sample(t)
	res := metrics.Check(doc, metrics.MustParseThreshold("rate(429) < 5%"), metrics.MustParseThreshold("count(errors) == 0"))
	if len(res) != 2 || !res[0].OK || res[1].OK || res[1].Value != "6" {
		t.Errorf("Check = %+v", res)
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
			Thresholds:  []metrics.Threshold{metrics.MustParseThreshold("rate(429) < 10%")},
			Interval:    time.Second,
			MinRequests: 10,
			Cancel:      cancel,
		}
		var wg sync.WaitGroup
		var runErr error
		wg.Go(func() { runErr = w.Run(ctx) })

		// 5 requests, all 429: below MinRequests, not judged.
		for i := 0; i < 5; i++ {
			rec.Record(&metrics.Result{Op: "a", Status: 429, Outcome: metrics.Throttled, Start: time.Now()})
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
		w := &metrics.ThresholdWatcher{Recorder: rec, Thresholds: []metrics.Threshold{metrics.MustParseThreshold("count(errors) == 0")}}
		if err := w.Run(ctx); err != nil {
			t.Errorf("Run = %v, want nil when the context ends", err)
		}
	})
}
