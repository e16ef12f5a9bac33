// Package scenario is a throwaway package that prints result documents the
// way the load scenarios do (one `cxload-result: {json}` line per scenario
// or shard, and `cxload-progress: ` lines), with parallel tests, an
// attribute, a skip and a very long line. CAPTURE_VARIANT=new makes the
// numbers worse, so that two captures differ the way two commits do.
package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cxload/cxload/harness/metrics"
)

var variantNew = os.Getenv("CAPTURE_VARIANT") == "new"

// start is fixed so that captures differ only where the variant says.
var start = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func hist(t testing.TB, seed uint64, n int, medianUs float64) metrics.Histogram {
	t.Helper()
	h := hdrhistogram.New(1, 60_000_000, 3)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < n; i++ {
		// A log-normal-ish latency: most near the median, a long tail.
		v := medianUs * (0.6 + rng.ExpFloat64()*0.5)
		if rng.IntN(100) == 0 {
			v *= 6
		}
		if err := h.RecordValue(int64(v)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return metrics.Histogram{Encoding: metrics.HistogramEncoding, Unit: "us", Data: string(data)}
}

type opSpec struct {
	op        string
	route     string
	count     int
	throttled int
	medianUs  float64
}

func doc(t testing.TB, scenario, shard string, seed uint64, ops []opSpec, limits []metrics.RateLimitObservation, ws *metrics.WebSocketStats) *metrics.Document {
	t.Helper()
	d := &metrics.Document{
		Schema:    metrics.SchemaVersion,
		Scenario:  scenario,
		Shard:     shard,
		Labels:    map[string]string{"region": "sim"},
		Target:    metrics.Target{Kind: "simulator"},
		Start:     start,
		End:       start.Add(30 * time.Second),
		Series:    metrics.Series{IntervalMs: 1000},
		WebSocket: ws,
	}
	var total, throttled int
	for i, o := range ops {
		ok := o.count - o.throttled
		d.Operations = append(d.Operations, metrics.OpStats{
			Op: o.op, Route: o.route, Count: int64(o.count),
			Outcomes: map[string]int64{"ok": int64(ok), "throttled": int64(o.throttled)},
			Latency:  hist(t, seed+uint64(i), o.count, o.medianUs),
			Total:    hist(t, seed+uint64(i)+100, o.count, o.medianUs*1.3),
			Attempts: int64(o.count + o.throttled),
		})
		total += o.count
		throttled += o.throttled
	}
	// 30 one-second intervals; throttling starts once the bucket is empty.
	for s := 0; s < 30; s++ {
		req := int64(total / 30)
		var thr int64
		if s >= 20 {
			thr = int64(throttled / 10)
		}
		d.Series.Requests = append(d.Series.Requests, req)
		d.Series.Throttled = append(d.Series.Throttled, thr)
		d.Series.Errors = append(d.Series.Errors, int64(s%7/6))
	}
	d.RateLimits = limits
	p99 := "612ms"
	okP99 := true
	if variantNew {
		p99, okP99 = "905ms", false
	}
	d.Thresholds = []metrics.ThresholdResult{{Expr: "p99(" + ops[0].op + ") < 800ms", Value: p99, OK: okP99}}
	d.Summary = fmt.Sprintf("%s: %d requests, %d throttled", scenario, total, throttled)
	return d
}

func emit(t *testing.T, d *metrics.Document) {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s%s", metrics.ResultPrefix, data)
}

func scale(n int) int {
	if variantNew {
		return n * 4 / 5
	}
	return n
}

func lat(us float64) float64 {
	if variantNew {
		return us * 1.5
	}
	return us
}

func TestRecordingBurst(t *testing.T) {
	t.Attr("scenario", "recording-burst")
	for _, tc := range []struct {
		name      string
		scope     string
		throttled int
		tokens    int
	}{
		{"shared-token", "token", 120, 1},
		{"token-per-agent", "client-user", 40, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			thr := tc.throttled
			if variantNew {
				thr *= 2
			}
			for i := 1; i <= 3; i++ {
				t.Logf("%s%s: %d/3 intervals, %d requests", metrics.ProgressPrefix, tc.name, i, i*300)
			}
			d := doc(t, "TestRecordingBurst/"+tc.name, "", 11, []opSpec{
				{"recording.set", "/api/v2/conversations/{id}/recordingstate", scale(900), thr, lat(42_000)},
				{"presence.set", "/api/v2/users/{id}/presences/{source}", scale(600), 0, lat(18_000)},
			}, []metrics.RateLimitObservation{{
				Key: "token.rate.per.minute", Scope: tc.scope, Allowed: 300, WindowSeconds: 60,
				Rejected: int64(thr), FirstRejection: start.Add(20 * time.Second), Source: "server",
				Evidence: metrics.Evidence{Tokens: tc.tokens, Clients: 1, Users: 0},
			}}, nil)
			emit(t, d)
		})
	}
}

// TestAgentsSharded prints one document per shard of one scenario; the
// report merges them exactly.
func TestAgentsSharded(t *testing.T) {
	for shard := 1; shard <= 2; shard++ {
		t.Run(fmt.Sprintf("shard-%d", shard), func(t *testing.T) {
			t.Parallel()
			drops := int64(0)
			gap := 31_200.0
			if variantNew {
				drops, gap = 3, 95_000
			}
			ws := &metrics.WebSocketStats{
				Connects: 50, Heartbeats: 1500, MaxHeartbeatGapMs: gap + float64(shard),
				Drops: drops, Reconnects: drops, Events: 4000, Lost: drops * 2,
				PushLatency: hist(t, uint64(shard)+40, 4000, lat(80_000)),
			}
			d := doc(t, "TestAgentsSharded", fmt.Sprintf("%d/2", shard), uint64(shard)*1000, []opSpec{
				{"presence.set", "/api/v2/users/{id}/presences/{source}", scale(1200), 0, lat(15_000)},
				{"notifications.subscribe", "/api/v2/notifications/channels/{id}/subscriptions", 50, 5, lat(30_000)},
			}, []metrics.RateLimitObservation{{
				Key: "org.app.user.rate.per.minute", Scope: "client-user", Allowed: 3000, WindowSeconds: 60,
				Rejected: 5, Source: "server", Evidence: metrics.Evidence{Tokens: 25, Clients: 1, Users: 25},
			}}, ws)
			emit(t, d)
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
