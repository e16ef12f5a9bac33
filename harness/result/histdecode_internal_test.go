package result

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// randomHist returns a histogram of this package's geometry with n values
// spread from microseconds to past an hour.
func randomHist(t testing.TB, rng *rand.Rand, n int) Histogram {
	t.Helper()
	h := NewHDR()
	for range n {
		v := int64(rng.ExpFloat64() * float64(rng.IntN(5_000_000)+1))
		if rng.IntN(50) == 0 {
			v = histHighest + rng.Int64N(1000) // clamped by hdr into its top bucket, or out of range
		}
		_ = h.RecordValues(v, rng.Int64N(3)+1)
	}
	e, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type bucket struct{ value, count int64 }

func buckets(p *hdr.PackedHistogram) []bucket {
	var b []bucket
	p.ForEachBucket(func(v, c int64) bool {
		b = append(b, bucket{v, c})
		return true
	})
	return b
}

// checkSame fails unless checkOwn and buildOwn agree with hdrhistogram-go's
// DecodePacked on data: checkOwn takes nothing DecodePacked rejects, and
// what it takes buildOwn decodes to the same buckets, count, maximum and
// percentiles.
func checkSame(t *testing.T, data []byte) (own bool) {
	t.Helper()
	payload, ok := checkOwn(data)
	want, err := hdr.DecodePacked(data)
	if !ok {
		return false
	}
	got := buildOwn(payload)
	if err != nil {
		t.Fatalf("checkOwn(%q) took data DecodePacked rejects: %v", data, err)
	}
	gb, wb := buckets(got), buckets(want)
	if len(gb) != len(wb) {
		t.Fatalf("checkOwn: %d buckets, DecodePacked %d", len(gb), len(wb))
	}
	for i := range gb {
		if gb[i] != wb[i] {
			t.Fatalf("checkOwn: bucket %d = %v, DecodePacked %v", i, gb[i], wb[i])
		}
	}
	if got.TotalCount() != want.TotalCount() || got.Max() != want.Max() {
		t.Fatalf("checkOwn: count %d max %d, DecodePacked count %d max %d", got.TotalCount(), got.Max(), want.TotalCount(), want.Max())
	}
	for _, q := range []float64{0, 50, 90, 99, 99.9, 100} {
		if g, w := got.ValueAtPercentile(q), want.ValueAtPercentile(q); g != w {
			t.Fatalf("checkOwn: p%g = %d, DecodePacked %d", q, g, w)
		}
	}
	return true
}

// TestCheckOwnMatchesHdr: histograms this package writes decode with
// checkOwn, exactly as hdrhistogram-go decodes them.
func TestCheckOwnMatchesHdr(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 10, 1000, 100_000} {
		for range 5 {
			if !checkSame(t, []byte(randomHist(t, rng, n).Data)) {
				t.Fatalf("checkOwn did not take a histogram of %d values this package wrote", n)
			}
		}
	}
	// Another geometry is left to hdrhistogram-go.
	other := hdr.New(1, 1000, 2)
	_ = other.RecordValue(5)
	b, err := other.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	if checkSame(t, b) {
		t.Error("checkOwn took a histogram of another geometry")
	}
}

// FuzzCheckOwn: on any data, checkOwn takes nothing hdrhistogram-go
// rejects, and decodes what it takes as hdrhistogram-go does.
func FuzzCheckOwn(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 3, 500} {
		f.Add([]byte(randomHist(f, rng, n).Data))
	}
	f.Add([]byte("HISTFAAAAB"))
	f.Fuzz(func(t *testing.T, data []byte) { checkSame(t, data) })
}

// TestUnmarshalFastIsUnmarshal: unmarshalFast decodes documents as
// encoding/json does, including field names in another case, duplicate
// names and invalid UTF-8.
func TestUnmarshalFastIsUnmarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	doc := Document{
		Schema: SchemaVersion, Scenario: "s", Labels: map[string]string{"a": "b"},
		Start: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), End: time.Date(2026, 1, 2, 3, 5, 5, 0, time.FixedZone("x", 3600)),
		Operations: []OpStats{{Op: "op", Count: 3, Outcomes: map[string]int64{"ok": 3}, Latency: randomHist(t, rng, 100), Total: randomHist(t, rng, 100)}},
		RateLimits: []RateLimitObservation{{Key: "k", Allowed: 3, WindowSeconds: 1.5, Rejected: 2}},
		Series:     Series{IntervalMs: 1000, Requests: []int64{1, 2, 3}},
		WebSocket:  &WebSocketStats{Connects: 1, PushLatency: randomHist(t, rng, 10)},
		Thresholds: []ThresholdResult{{Expr: "p99(x) < 1s", Value: "2ms", OK: true}},
	}
	b, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		string(b),
		`{"schema":"cxload.result/v1","SCENARIO":"upper","scenario":"dup","summary":"bad \xff utf-8","operations":null}`,
		`{"schema":"cxload.result/v1","labels":{"k":"1","k":"2"},"series":{"intervalMs":5,"requests":[1,2]},"unknown":[1,{"x":2}]}`,
		`{"schema":"cxload.result/v1","start":"2026-01-02T03:04:05.123456789+01:00","target":{"kind":"tenant","region":"us-east-1"}}`,
	} {
		var fast, std Document
		errFast, errStd := unmarshalFast([]byte(in), &fast), json.Unmarshal([]byte(in), &std)
		if (errFast == nil) != (errStd == nil) {
			t.Fatalf("unmarshalFast(%.60q...) error %v, encoding/json %v", in, errFast, errStd)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Errorf("unmarshalFast(%.60q...) =\n%+v\nencoding/json:\n%+v", in, fast, std)
		}
	}
}

// TestEncodeOwnIsEncode: encodeOwn writes what hdrhistogram-go's Encode
// writes, byte for byte, and leaves other geometries to it.
func TestEncodeOwnIsEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 2, 10, 1000, 100_000} {
		for range 5 {
			h := NewHDR()
			for range n {
				v := int64(rng.ExpFloat64() * float64(rng.IntN(5_000_000)+1))
				c := rng.Int64N(3) + 1
				if rng.IntN(100) == 0 {
					c = rng.Int64N(1 << 62) // a count of 9 bytes
				}
				_ = h.RecordValues(v, c)
			}
			want, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := encodeOwn(h)
			if !ok || string(got) != string(want) {
				t.Fatalf("encodeOwn(%d values) = %.40q..., %v; want %.40q...", n, got, ok, want)
			}
		}
	}
	if _, ok := encodeOwn(hdr.New(1, 1000, 2)); ok {
		t.Error("encodeOwn took a histogram of another geometry")
	}
}

// TestEncodePackedIsEncode: encodePacked writes what hdrhistogram-go writes
// for the same counts, byte for byte.
func TestEncodePackedIsEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 2, 10, 1000, 100_000} {
		for range 5 {
			h := NewHDR()
			for range n {
				_ = h.RecordValues(int64(rng.ExpFloat64()*float64(rng.IntN(5_000_000)+1)), rng.Int64N(3)+1)
			}
			want, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
			if err != nil {
				t.Fatal(err)
			}
			p := hdr.NewPacked(histLowest, histHighest, histDigits)
			p.MergeFrom(h)
			got, ok := encodePacked(p)
			if !ok || string(got) != string(want) {
				t.Fatalf("encodePacked(%d values) = %.40q..., %v; want %.40q...", n, got, ok, want)
			}
			for v, c := range p.ForEachBucket {
				if i := histIndexOf(v); histValueAt(i) != v {
					t.Fatalf("histValueAt(histIndexOf(%d)) = %d (count %d)", v, histValueAt(i), c)
				}
			}
		}
	}
	if _, ok := encodePacked(hdr.NewPacked(1, 1000, 2)); ok {
		t.Error("encodePacked took a histogram of another geometry")
	}
}

// TestQuantilesOfChecked: a histogram Decode checked gives the
// count, maximum and percentiles hdrhistogram-go gives.
func TestQuantilesOfChecked(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ps := []float64{math.NaN(), -1, 0, 0.001, 25, 50, 90, 95, 99, 99.9, 99.99, 100, 101}
	for _, n := range []int{0, 1, 2, 3, 10, 1000, 100_000} {
		for range 5 {
			h := randomHist(t, rng, n)
			c := Histogram{Encoding: h.Encoding, Unit: h.Unit, Data: h.Data}
			if err := c.check(); err != nil || c.v == nil {
				t.Fatalf("check(%d values) = %v, v = %v", n, err, c.v)
			}
			got, err := c.Quantiles(ps...)
			if err != nil {
				t.Fatal(err)
			}
			want, err := hdr.DecodePacked([]byte(h.Data))
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != want.TotalCount() || (got.Count > 0 && got.Max != want.Max()) {
				t.Fatalf("%d values: count %d max %d, want %d and %d", n, got.Count, got.Max, want.TotalCount(), want.Max())
			}
			for i, p := range ps {
				if w := want.ValueAtPercentile(p); got.Values[i] != w {
					t.Fatalf("%d values: p%g = %d, want %d", n, p, got.Values[i], w)
				}
			}
		}
	}
}

// TestZigZag: readZigZag reads what appendZigZag writes, in 1 to 9 bytes.
func TestZigZag(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 1 << 20, -(1 << 40), 1 << 55, 1 << 62, math.MaxInt64, math.MinInt64} {
		b := appendZigZag(nil, v)
		got, n := readZigZag(b)
		if got != v || n != len(b) || n > 9 {
			t.Errorf("readZigZag(appendZigZag(%d) = % x) = %d, %d bytes", v, b, got, n)
		}
		if len(b) > 1 {
			if _, n := readZigZag(b[:len(b)-1]); n != 0 {
				t.Errorf("readZigZag of %d cut short read %d bytes, want 0", v, n)
			}
		}
	}
}

// TestDecodeDocumentAllocatesLittle: reading a document and the headline
// figures of its histograms allocates a fraction of what their dense form
// (some 190 KB each for this package's range) would: a report reads
// thousands. (A quarter, not less: under -race, sync.Pool drops some of the
// zlib readers it keeps.)
func TestDecodeDocumentAllocatesLittle(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	doc := Document{Schema: SchemaVersion, Scenario: "s"}
	for i := range 4 {
		op := OpStats{Op: fmt.Sprint("op", i), Count: 1000, Latency: randomHist(t, rng, 1000), Total: randomHist(t, rng, 1000)}
		op.ByOutcome = map[string]OutcomeLatency{"ok": {Latency: randomHist(t, rng, 900), Total: randomHist(t, rng, 900)}, "throttled": {Latency: randomHist(t, rng, 100), Total: randomHist(t, rng, 100)}}
		doc.Operations = append(doc.Operations, op)
	}
	b, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	read := func() {
		d, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range d.Operations {
			for _, h := range []Histogram{o.Latency, o.Total} {
				if q, err := h.Quantiles(50, 99); err != nil || q.Count == 0 {
					t.Fatalf("Quantiles = %+v, %v", q, err)
				}
			}
		}
	}
	read() // the reused zlib reader
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	read()
	runtime.ReadMemStats(&after)
	n := uint64(6 * len(doc.Operations))
	dense := n * uint64(histCounts) * 8 // the counts of n dense histograms
	if got := after.TotalAlloc - before.TotalAlloc; got > dense/4 {
		t.Errorf("Decode and Quantiles of %d histograms allocated %d bytes, more than a quarter of their dense form (%d)", n, got, dense)
	}
}
