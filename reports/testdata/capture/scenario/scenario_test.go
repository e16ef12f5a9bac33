// Package scenario is a throwaway package that prints result documents the
// way the load scenarios do: a metrics.Recorder fed with synthetic results on
// a fake clock, one `cxload-result: {json}` line per scenario or shard
// (metrics.Emit), and `cxload-progress: ` lines, with parallel tests, an
// attribute, a skip and a very long line. CAPTURE_VARIANT=new makes the
// numbers worse, so that two captures differ the way two commits do.
package scenario

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

var variantNew = os.Getenv("CAPTURE_VARIANT") == "new"

// start is fixed so that captures differ only where the variant says.
var start = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

type opSpec struct {
	op        string
	route     string
	count     int     // requests over 30 s
	limit     int     // requests allowed before 429s start (0 = never)
	medianMs  float64 // service time
	limitKey  string
	scope     string
	tokens    int // distinct tokens the requests use
	allowed   int
	windowSec int
}

// clock is the fake time of one recorder; record advances it.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// record feeds rec with spec's requests spread over 30 s of fake time.
func record(rec *metrics.Recorder, clk *clock, rng *rand.Rand, o opSpec) {
	for i := 0; i < o.count; i++ {
		at := start.Add(time.Duration(i) * 30 * time.Second / time.Duration(o.count))
		lat := time.Duration(o.medianMs * (0.6 + rng.ExpFloat64()*0.5) * float64(time.Millisecond))
		if rng.IntN(100) == 0 {
			lat *= 6
		}
		res := metrics.Result{
			Op: o.op, Method: "PUT", Route: o.route, Status: 200, Start: at, Intended: at,
			Latency: lat, Total: lat + time.Duration(rng.IntN(5))*time.Millisecond, Attempts: 1,
			TokenID: fmt.Sprintf("tok-%d", i%o.tokens), ClientID: "client-1",
			RateLimit: metrics.RateLimitInfo{Allowed: o.allowed, Count: i % max(o.allowed, 1), Reset: 30 * time.Second},
		}
		if o.limit > 0 && i >= o.limit {
			res.Status, res.Outcome = 429, result.Throttled
			res.ThrottledBy, res.Scope = o.limitKey, o.scope
			res.RateLimit.Key, res.RateLimit.Value = o.limitKey, o.allowed
			res.RateLimit.RetryAfter = 20 * time.Second
		}
		clk.now = at.Add(res.Total)
		rec.Record(&res)
	}
	clk.now = start.Add(30 * time.Second)
}

func newRecorder(scenario, shard string) (*metrics.Recorder, *clock) {
	clk := &clock{now: start}
	opts := []metrics.Option{
		metrics.WithScenario(scenario),
		metrics.WithLabels(map[string]string{"region": "sim"}),
		metrics.WithTarget("simulator", ""),
		metrics.WithNow(clk.Now),
	}
	if shard != "" {
		opts = append(opts, metrics.WithShard(shard))
	}
	return metrics.NewRecorder(opts...), clk
}

func finish(t *testing.T, rec *metrics.Recorder, exprs ...string) {
	t.Helper()
	doc := rec.Snapshot()
	if doc.Start.IsZero() {
		doc.Start = start
	}
	var ths []result.Threshold
	for _, e := range exprs {
		th, err := result.ParseThreshold(e)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	// Check, not AssertThresholds: the capture keeps a failed threshold
	// in the document without failing the test.
	doc.Thresholds = result.Check(doc, ths...)
	metrics.Emit(t, doc)
}

func worse(n int, f float64) int {
	if variantNew {
		return int(float64(n) * f)
	}
	return n
}

func slower(ms float64) float64 {
	if variantNew {
		return ms * 1.5
	}
	return ms
}

func TestRecordingBurst(t *testing.T) {
	t.Attr("scenario", "recording-burst")
	for _, tc := range []struct {
		name   string
		scope  string
		limit  int
		tokens int
	}{
		{"shared-token", "token", 700, 1},
		{"token-per-agent", "client-user", 850, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(11, 7))
			rec, clk := newRecorder("TestRecordingBurst/"+tc.name, "")
			for i := 1; i <= 3; i++ {
				t.Logf("%s%s: %d/3 intervals, %d requests", result.ProgressPrefix, tc.name, i, i*300)
			}
			record(rec, clk, rng, opSpec{op: "recording.set", route: "/api/v2/conversations/{id}/recordingstate",
				count: 900, limit: worse(tc.limit, 0.8), medianMs: slower(42), tokens: tc.tokens,
				limitKey: "token.rate.per.minute", scope: tc.scope, allowed: 300, windowSec: 60})
			record(rec, clk, rng, opSpec{op: "presence.set", route: "/api/v2/users/{id}/presences/{source}",
				count: worse(600, 0.8), medianMs: slower(18), tokens: tc.tokens, allowed: 3000})
			finish(t, rec, "p99(recording.set) < 800ms", "rate(429) < 30%")
		})
	}
}

// TestAgentsSharded prints one document per shard of one scenario; the
// report merges them exactly.
func TestAgentsSharded(t *testing.T) {
	for shard := 1; shard <= 2; shard++ {
		t.Run(fmt.Sprintf("shard-%d", shard), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(shard), 9))
			rec, clk := newRecorder("TestAgentsSharded", fmt.Sprintf("%d/2", shard))
			record(rec, clk, rng, opSpec{op: "presence.set", route: "/api/v2/users/{id}/presences/{source}",
				count: worse(1200, 0.8), medianMs: slower(15) * float64(shard), tokens: 25, allowed: 3000})
			record(rec, clk, rng, opSpec{op: "notifications.subscribe", route: "/api/v2/notifications/channels/{id}/subscriptions",
				count: 50, limit: 45, medianMs: slower(30), tokens: 25,
				limitKey: "org.app.user.rate.per.minute", scope: "client-user", allowed: 3000, windowSec: 60})
			for i := 0; i < 25; i++ {
				rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSConnect})
			}
			gap := 31 * time.Second
			if variantNew {
				gap = 95 * time.Second
				rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSDrop})
				rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSReconnect})
				rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSLost, N: 2})
			}
			for i := 0; i < 750; i++ {
				rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSHeartbeat, Gap: 30*time.Second + time.Duration(i%4)*gap/100})
			}
			rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSHeartbeat, Gap: gap + time.Duration(shard)*time.Millisecond})
			for i := 0; i < 2000; i++ {
				push := time.Duration(slower(80)*(0.5+rng.ExpFloat64()*0.5)) * time.Millisecond
				rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSEvent, PushLatency: push})
			}
			finish(t, rec, "p99(presence.set) < 800ms", "max_heartbeat_gap < 45s")
		})
	}
}

// TestLongLine logs a line much longer than test2json's output pieces.
func TestLongLine(t *testing.T) {
	t.Log("long: " + strings.Repeat("0123456789abcdef", 400))
}

func TestSkipped(t *testing.T) {
	t.Skip("needs a tenant: set GENESYSCLOUD_OAUTHCLIENT_ID")
}
