package result_test

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// load records a deterministic mix of results into the recorders given,
// round robin, and returns them.
func load(t testing.TB, c *clock, recs ...*metrics.Recorder) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 9))
	ops := []string{"presence.set", "queues.list", "recording.set"}
	for i := 0; i < 3000; i++ {
		at := epoch.Add(time.Duration(i) * 3 * time.Millisecond)
		lat := time.Duration(rng.IntN(900_000)+100) * time.Microsecond
		var r *metrics.Result
		switch {
		case i%50 == 0:
			r = throttled(ops[i%3], "token.rate.per.minute", "tok-"+string(rune('a'+i%7)), "cli-1", at)
		case i%97 == 0:
			r = mkResult(ops[i%3], 503, at, lat)
		default:
			r = ok(ops[i%3], "tok-"+string(rune('a'+i%7)), "cli-1", at)
			r.Latency, r.Total = lat, lat+time.Duration(i%5)*time.Millisecond
		}
		recs[i%len(recs)].Record(r)
	}
	c.Advance(10 * time.Second)
}

func roundTrip(t testing.TB, d *result.Document) *result.Document {
	t.Helper()
	b, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(string(b), '\n') {
		t.Fatalf("encoded document has a newline")
	}
	out, err := result.Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode(d)): %v", err)
	}
	return out
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c := newClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now), metrics.WithScenario("TestRound"))
	load(t, c, rec)
	rec.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSEvent, PushLatency: time.Millisecond})
	doc := rec.Snapshot()
	got := roundTrip(t, doc)
	for _, op := range doc.OpNames() {
		a, b := doc.Op(op), got.Op(op)
		for _, p := range []float64{50, 99, 99.99} {
			if a.Latency.Percentile(p) != b.Latency.Percentile(p) || a.Total.Percentile(p) != b.Total.Percentile(p) {
				t.Errorf("%s p%v changed in the round trip: %v -> %v", op, p, a.Latency.Percentile(p), b.Latency.Percentile(p))
			}
		}
		if a.Count != b.Count || a.Outcomes["throttled"] != b.Outcomes["throttled"] {
			t.Errorf("%s counts changed: %d %v -> %d %v", op, a.Count, a.Outcomes, b.Count, b.Outcomes)
		}
	}
	if got.Summary != doc.Summary || got.WebSocket.PushLatency.Count() != 1 {
		t.Errorf("summary or websocket lost in the round trip")
	}
	// The wire form has the documented field names.
	b, _ := doc.Encode()
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "scenario", "target", "start", "end", "operations", "rateLimits", "series", "websocket", "summary"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("encoded document lacks %q", k)
		}
	}
	op := raw["operations"].([]any)[0].(map[string]any)
	lat := op["latency"].(map[string]any)
	if lat["encoding"] != "hdr-v2-base64" || lat["unit"] != "us" || lat["data"] == "" {
		t.Errorf("latency histogram = %v", lat)
	}
}

func TestDecodeDocumentErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // fragments of the error
	}{
		{"empty", "", []string{"result:", "empty input"}},
		{"not json", "cxload-result: {\"schema\":", []string{"result: decode document", "joined"}},
		{"no schema", `{"scenario":"x"}`, []string{`no "schema" field`, "cxload.result/v1"}},
		{"other version", `{"schema":"cxload.result/v2"}`, []string{`"cxload.result/v2"`, `"cxload.result/v1"`}},
		{"bad histogram", `{"schema":"cxload.result/v1","operations":[{"op":"a","latency":{"encoding":"hdr-v2-base64","unit":"us","data":"!!"}}]}`,
			[]string{"operations[0].latency", "base64"}},
		{"bad encoding", `{"schema":"cxload.result/v1","operations":[{"op":"a","latency":{"encoding":"tdigest","unit":"us","data":"AAAA"}}]}`,
			[]string{"operations[0].latency", `"tdigest"`, "hdr-v2-base64"}},
		{"wrong type", `{"schema":"cxload.result/v1","operations":{}}`, []string{"result: decode document", "operations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := result.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode(%q) = nil error", tt.in)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Decode(%q) error = %q, want it to contain %q", tt.in, err, w)
				}
			}
		})
	}
}

// Shards merge exactly: two recorders that each saw half of the results,
// merged after a round trip through JSON, equal one recorder that saw all.
func TestMergeIsExact(t *testing.T) {
	c := newClock()
	whole := metrics.NewRecorder(metrics.WithNow(c.Now))
	load(t, c, whole)

	c2 := newClock()
	a := metrics.NewRecorder(metrics.WithNow(c2.Now), metrics.WithShard("1/2"))
	b := metrics.NewRecorder(metrics.WithNow(c2.Now), metrics.WithShard("2/2"))
	load(t, c2, a, b)

	merged := roundTrip(t, a.Snapshot())
	if err := merged.Merge(roundTrip(t, b.Snapshot())); err != nil {
		t.Fatal(err)
	}
	want := whole.Snapshot()
	if merged.Shard != "1/2+2/2" {
		t.Errorf("merged shard = %q", merged.Shard)
	}
	if got, w := strings.Join(merged.OpNames(), ","), strings.Join(want.OpNames(), ","); got != w {
		t.Fatalf("ops = %s, want %s", got, w)
	}
	for _, op := range want.OpNames() {
		g, w := merged.Op(op), want.Op(op)
		gh, _ := g.Latency.Hist()
		wh, _ := w.Latency.Hist()
		if !gh.Equals(wh) {
			t.Errorf("%s: merged latency histogram differs from the whole run's", op)
		}
		gt, _ := g.Total.Hist()
		wt, _ := w.Total.Hist()
		if !gt.Equals(wt) {
			t.Errorf("%s: merged total histogram differs", op)
		}
		if g.Count != w.Count || g.Status429 != w.Status429 || g.BytesIn != w.BytesIn || g.Attempts != w.Attempts {
			t.Errorf("%s: merged counts %d/%d/%d, want %d/%d/%d", op, g.Count, g.Status429, g.Attempts, w.Count, w.Status429, w.Attempts)
		}
		for k, v := range w.Outcomes {
			if g.Outcomes[k] != v {
				t.Errorf("%s: outcome %s = %d, want %d", op, k, g.Outcomes[k], v)
			}
		}
		if g.ByOutcome["ok"].Latency.Percentile(99) != w.ByOutcome["ok"].Latency.Percentile(99) {
			t.Errorf("%s: ok p99 differs", op)
		}
	}
	if !equal(merged.Series.Requests, want.Series.Requests) || !equal(merged.Series.Throttled, want.Series.Throttled) || !equal(merged.Series.Errors, want.Series.Errors) {
		t.Errorf("series differ:\n got %v\nwant %v", merged.Series, want.Series)
	}
	g, w := merged.RateLimit("token.rate.per.minute"), want.RateLimit("token.rate.per.minute")
	if g.Rejected != w.Rejected || g.Evidence.Tokens != w.Evidence.Tokens || g.Scope != w.Scope || !g.FirstRejection.Equal(w.FirstRejection) || !g.LastRejection.Equal(w.LastRejection) {
		t.Errorf("rate limit merged = %+v\nwant %+v", g, w)
	}
	if merged.Identities.Tokens != want.Identities.Tokens || merged.Identities.Clients != 1 {
		t.Errorf("identities = %+v, want %+v", merged.Identities, want.Identities)
	}
}

// Series are aligned on the start times before they are added.
func TestMergeAlignsSeries(t *testing.T) {
	mk := func(start time.Time, req []int64) *result.Document {
		return &result.Document{Schema: result.SchemaVersion, Start: start, End: start.Add(time.Duration(len(req)) * time.Second),
			Series: result.Series{IntervalMs: 1000, Requests: req, Throttled: make([]int64, len(req)), Errors: make([]int64, len(req))}}
	}
	tests := []struct {
		name string
		a, b *result.Document
		want []int64
	}{
		{"same start", mk(epoch, []int64{1, 2}), mk(epoch, []int64{10, 20, 30}), []int64{11, 22, 30}},
		{"other starts 2s later", mk(epoch, []int64{1, 2}), mk(epoch.Add(2*time.Second), []int64{10, 20}), []int64{1, 2, 10, 20}},
		{"other starts 1.5s earlier", mk(epoch, []int64{1, 2}), mk(epoch.Add(-1500*time.Millisecond), []int64{10, 20}), []int64{10, 21, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.a.Merge(tt.b); err != nil {
				t.Fatal(err)
			}
			if !equal(tt.a.Series.Requests, tt.want) {
				t.Errorf("merged requests = %v, want %v", tt.a.Series.Requests, tt.want)
			}
			if len(tt.a.Series.Errors) != len(tt.want) {
				t.Errorf("errors series has length %d, want %d", len(tt.a.Series.Errors), len(tt.want))
			}
		})
	}
}

func TestMergeErrors(t *testing.T) {
	a := &result.Document{Schema: result.SchemaVersion, Series: result.Series{IntervalMs: 1000}}
	if err := a.Merge(&result.Document{Schema: "cxload.result/v0"}); err == nil || !strings.Contains(err.Error(), "cxload.result/v0") {
		t.Errorf("Merge(other schema) = %v", err)
	}
	if err := a.Merge(&result.Document{Schema: result.SchemaVersion, Series: result.Series{IntervalMs: 500}}); err == nil || !strings.Contains(err.Error(), "500 ms") {
		t.Errorf("Merge(other interval) = %v", err)
	}
	b := &result.Document{Schema: result.SchemaVersion, Start: epoch, Series: result.Series{IntervalMs: 1000, Requests: []int64{1}}}
	far := &result.Document{Schema: result.SchemaVersion, Start: epoch.AddDate(1, 0, 0), Series: result.Series{IntervalMs: 1000, Requests: []int64{1}}}
	if err := b.Merge(far); err == nil || !strings.Contains(err.Error(), "cannot be aligned") {
		t.Errorf("Merge(a year later) = %v", err)
	}
}

// Merging evidence from shards whose identities differ changes the scope:
// each shard alone saw one token of one client; together, two clients.
func TestMergeReinfersScope(t *testing.T) {
	one := func(tok, cli string) *result.Document {
		c := newClock()
		r := metrics.NewRecorder(metrics.WithNow(c.Now))
		r.Record(throttled("a", "org.rate.per.minute", tok, cli, epoch))
		c.Advance(time.Second)
		return roundTrip(t, r.Snapshot())
	}
	d := one("t1", "c1")
	if s := d.RateLimits[0].Scope; s != result.ScopeUndetermined {
		t.Fatalf("one shard: scope %q, want undetermined", s)
	}
	if err := d.Merge(one("t2", "c2")); err != nil {
		t.Fatal(err)
	}
	rl := d.RateLimits[0]
	if rl.Scope != result.ScopeOrg || rl.Evidence.Clients != 2 || rl.Evidence.Tokens != 2 || rl.Rejected != 2 {
		t.Errorf("merged: %+v", rl)
	}
}

func TestDocumentAccessors(t *testing.T) {
	c := newClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now))
	rec.Record(mkResult("a", 200, epoch, 10*time.Millisecond))
	rec.Record(mkResult("a", 200, epoch, 30*time.Millisecond))
	c.Advance(2 * time.Second)
	doc := rec.Snapshot()
	if doc.Op("missing") != nil {
		t.Error("Op(missing) != nil")
	}
	a := doc.Op("a")
	if !near(a.Latency.Mean(), 20*time.Millisecond) || !near(a.Latency.Min(), 10*time.Millisecond) || !near(a.Latency.Max(), 30*time.Millisecond) {
		t.Errorf("mean, min, max = %v, %v, %v", a.Latency.Mean(), a.Latency.Min(), a.Latency.Max())
	}
	if doc.Duration() != 2*time.Second {
		t.Errorf("Duration() = %v", doc.Duration())
	}
	var empty result.Histogram
	if empty.Count() != 0 || empty.Percentile(99) != 0 || empty.Max() != 0 {
		t.Error("zero Histogram is not empty")
	}
}

// The prefix is stripped from a test-output line, but not looked for inside
// a bare document.
func TestDecodeDocumentPrefix(t *testing.T) {
	doc := &result.Document{Schema: result.SchemaVersion, Summary: "says cxload-result: inside"}
	b, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{string(b), "    x_test.go:12: " + result.Prefix + string(b) + "\n"} {
		got, err := result.Decode([]byte(in))
		if err != nil {
			t.Fatalf("Decode(%.40q...) = %v", in, err)
		}
		if got.Summary != doc.Summary {
			t.Errorf("summary = %q", got.Summary)
		}
	}
}

func TestMergeWebSocketAndHeader(t *testing.T) {
	mk := func(shard string, gap time.Duration, push ...time.Duration) *result.Document {
		r := metrics.NewRecorder(metrics.WithShard(shard), metrics.WithScenario("TestWS"), metrics.WithTarget("simulator", ""),
			metrics.WithLabels(map[string]string{"shard": shard}))
		r.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSConnect})
		r.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSHeartbeat, Gap: gap})
		for _, p := range push {
			r.RecordWebSocket(metrics.WebSocketEvent{Kind: metrics.WSEvent, PushLatency: p})
		}
		return roundTrip(t, r.Snapshot())
	}
	d := &result.Document{} // merging into an empty document
	if err := d.Merge(mk("1/2", 31*time.Second, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	d.Thresholds = []result.ThresholdResult{{Expr: "x", OK: true}, {Expr: "ws_events <= 1", OK: true}}
	if err := d.Merge(mk("2/2", 44*time.Second, 3*time.Millisecond, 9*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	w := d.WebSocket
	if w.Connects != 2 || w.Heartbeats != 2 || w.MaxHeartbeatGapMs != 44000 || w.Events != 3 || w.PushLatency.Count() != 3 {
		t.Errorf("merged websocket = %+v", w)
	}
	if !near(w.PushLatency.Max(), 9*time.Millisecond) {
		t.Errorf("push max = %v", w.PushLatency.Max())
	}
	if d.Schema != result.SchemaVersion || d.Scenario != "TestWS" || d.Shard != "1/2+2/2" || d.Target.Kind != "simulator" || d.Labels["shard"] != "1/2" {
		t.Errorf("header = %q %q %q %+v %v", d.Schema, d.Scenario, d.Shard, d.Target, d.Labels)
	}
	// Thresholds are judged again on the merged run: "x" does not parse
	// and fails; ws_events <= 1 held on the first shard but not on the whole.
	if len(d.Thresholds) != 2 || d.Thresholds[0].OK || d.Thresholds[1].OK || d.Thresholds[1].Value != "3" {
		t.Errorf("merged thresholds = %+v, want x failed (unparsable) and ws_events <= 1 failed at 3", d.Thresholds)
	}
	if d.Summary != "no requests were recorded" {
		t.Errorf("summary = %q", d.Summary)
	}
}

// Identity lists are capped; shards with more identities add their counts.
func TestMergeCappedIdentities(t *testing.T) {
	mk := func(prefix string, n int) *result.Document {
		r := metrics.NewRecorder()
		for i := 0; i < n; i++ {
			r.Record(throttled("a", "token.rate.per.minute", prefix+strconv.Itoa(i), "c1", epoch))
		}
		return roundTrip(t, r.Snapshot())
	}
	d := mk("x", 300)
	if d.Identities.Tokens != 300 || len(d.Identities.TokenIDs) != 256 {
		t.Fatalf("identities = %d with %d ids; want 300 with 256", d.Identities.Tokens, len(d.Identities.TokenIDs))
	}
	if err := d.Merge(mk("y", 300)); err != nil {
		t.Fatal(err)
	}
	if d.Identities.Tokens != 600 || d.Identities.Clients != 1 {
		t.Errorf("merged tokens, clients = %d, %d; want 600, 1", d.Identities.Tokens, d.Identities.Clients)
	}
	if rl := d.RateLimits[0]; rl.Evidence.Tokens != 600 || rl.Evidence.TokensSeen != 600 || rl.Rejected != 600 {
		t.Errorf("evidence = %+v", rl.Evidence)
	}
}

// Results named by Op and by Method+Route fold into one operation when the
// names agree.
func TestSameNameFolds(t *testing.T) {
	rec := metrics.NewRecorder()
	rec.Record(&metrics.Result{Op: "GET /api/v2/x", Status: 200, Latency: time.Millisecond})
	rec.Record(&metrics.Result{Method: "GET", Route: "/api/v2/x", Status: 429, ThrottledBy: "k", TokenID: "t"})
	doc := rec.Snapshot()
	if len(doc.Operations) != 1 {
		t.Fatalf("operations = %v, want one", doc.OpNames())
	}
	if op := doc.Operations[0]; op.Count != 2 || op.Outcomes["throttled"] != 1 || op.Latency.Count() != 2 {
		t.Errorf("folded op = count %d, outcomes %v", op.Count, op.Outcomes)
	}
	if rl := doc.RateLimit("k"); rl == nil || rl.Rejected != 1 {
		t.Errorf("rate limit = %+v", rl)
	}
}

func TestSeriesInterval(t *testing.T) {
	c := newClock()
	rec := metrics.NewRecorder(metrics.WithNow(c.Now), metrics.WithSeriesInterval(500*time.Millisecond))
	if !rec.Start().Equal(epoch) {
		t.Errorf("Start() = %v", rec.Start())
	}
	for _, ms := range []int{0, 100, 600, 1700} {
		rec.Record(mkResult("a", 200, epoch.Add(time.Duration(ms)*time.Millisecond), 0))
	}
	c.Advance(2 * time.Second)
	s := rec.Snapshot().Series
	if s.IntervalMs != 500 || !equal(s.Requests, []int64{2, 1, 0, 1}) {
		t.Errorf("series = %d ms %v; want 500 ms [2 1 0 1]", s.IntervalMs, s.Requests)
	}
}

// Histogram data is the standard base64 HdrHistogram V2 compressed form
// ("HISTF..."), readable by any HdrHistogram; data that was base64-encoded a
// second time is still read.
func TestHistogramWireForm(t *testing.T) {
	rec := metrics.NewRecorder()
	rec.Record(&metrics.Result{Op: "a", Status: 200, Latency: 5 * time.Millisecond})
	h := rec.Snapshot().Op("a").Latency
	if !strings.HasPrefix(h.Data, "HISTF") {
		t.Fatalf("Data = %.20q..., want the base64 V2 compressed form starting HISTF", h.Data)
	}
	hd, err := hdrhistogram.Decode([]byte(h.Data))
	if err != nil || hd.TotalCount() != 1 {
		t.Fatalf("hdrhistogram.Decode(Data) = %v, %v", hd, err)
	}
	twice := result.Histogram{Encoding: result.HistogramEncoding, Unit: result.HistogramUnit, Data: base64.StdEncoding.EncodeToString([]byte(h.Data))}
	if twice.Count() != 1 || !near(twice.Percentile(50), 5*time.Millisecond) {
		t.Errorf("double-encoded histogram: count %d, p50 %v", twice.Count(), twice.Percentile(50))
	}
}

func TestEncodeKeepsComparisonsReadable(t *testing.T) {
	doc := &result.Document{Schema: result.SchemaVersion, Thresholds: []result.ThresholdResult{{Expr: "p99(a) < 800ms", Value: "1ms", OK: true}}}
	b, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"expr":"p99(a) < 800ms"`) || strings.HasSuffix(string(b), "\n") {
		t.Errorf("Encode = %s", b)
	}
}
