// Package bench is a throwaway package whose benchmarks make the captures
// in ../../ (see ../../make-captures.sh). CAPTURE_VARIANT=new makes some of
// them slower or faster, so that two captures differ the way two commits do.
package bench

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"
)

var variantNew = os.Getenv("CAPTURE_VARIANT") == "new"

var sink any

// BenchmarkHash gets about twice as slow in the new variant.
func BenchmarkHash(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			n := size
			if variantNew {
				n *= 2
			}
			buf := make([]byte, n)
			b.SetBytes(int64(size))
			for b.Loop() {
				sink = sha256.Sum256(buf)
			}
		})
	}
}

// BenchmarkBuild allocates less in the new variant.
func BenchmarkBuild(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var sb strings.Builder
		if variantNew {
			sb.Grow(400)
		}
		for i := 0; i < 40; i++ {
			sb.WriteString("0123456789")
		}
		sink = sb.String()
	}
}

// BenchmarkSteady does not change between variants.
func BenchmarkSteady(b *testing.B) {
	buf := make([]byte, 256)
	for b.Loop() {
		sink = sha256.Sum256(buf)
	}
}

// BenchmarkWidgets reports a custom unit with b.ReportMetric.
func BenchmarkWidgets(b *testing.B) {
	w := 12.0
	if variantNew {
		w = 9
	}
	for b.Loop() {
		sink = strings.Repeat("w", 8)
	}
	b.ReportMetric(w, "widgets/op")
}
