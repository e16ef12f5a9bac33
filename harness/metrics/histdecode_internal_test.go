package metrics

import (
	"math/rand/v2"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// randomHist returns a histogram of this package's geometry with n values
// spread from microseconds to past an hour.
func randomHist(t testing.TB, rng *rand.Rand, n int) Histogram {
	t.Helper()
	h := newHist()
	for range n {
		v := int64(rng.ExpFloat64() * float64(rng.IntN(5_000_000)+1))
		if rng.IntN(50) == 0 {
			v = histHighest + rng.Int64N(1000) // clamped by hdr into its top bucket, or out of range
		}
		_ = h.RecordValues(v, rng.Int64N(3)+1)
	}
	e, err := encodeHist(h)
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
