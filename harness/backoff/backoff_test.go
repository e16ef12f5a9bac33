package backoff_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/backoff"
)

func TestStep(t *testing.T) {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Factor: 2}
	for n, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, time.Second, time.Second} {
		if got := b.Step(n); got != want {
			t.Errorf("Step(%d) = %v, want %v", n, got, want)
		}
	}
	// Factor 0 means 2; Factor 1.5 grows by half; no Max: no cap.
	for _, tc := range []struct {
		b    backoff.Backoff
		n    int
		want time.Duration
	}{
		{backoff.Backoff{Min: time.Second}, 3, 8 * time.Second},
		{backoff.Backoff{Min: time.Second, Factor: 1.5}, 2, 2250 * time.Millisecond},
		{backoff.Backoff{Min: time.Second, Max: 30 * time.Second}, 1000, 30 * time.Second},
		{backoff.Backoff{Min: time.Second}, 1000, 1<<63 - 1}, // no overflow
	} {
		if got := tc.b.Step(tc.n); got != tc.want {
			t.Errorf("%+v.Step(%d) = %v, want %v", tc.b, tc.n, got, tc.want)
		}
	}
}

func TestDelayEqualJitter(t *testing.T) {
	b := backoff.Backoff{Min: time.Second, Max: 8 * time.Second}
	for _, tc := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0, 500 * time.Millisecond},       // half of Step(0)
		{0, 0.5, 750 * time.Millisecond},     // plus r times the other half
		{2, 0, 2 * time.Second},              // Step(2) = 4 s
		{10, 0.999, 7996 * time.Millisecond}, // capped at Max
	} {
		if got := b.Delay(tc.n, tc.r); got != tc.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tc.n, tc.r, got, tc.want)
		}
	}
}

// Three clients that failed together wait different times, each at least
// half the step.
func ExampleBackoff_Delay() {
	b := backoff.Backoff{Min: time.Second, Max: 30 * time.Second}
	for _, r := range []float64{0, 0.5, 0.99} {
		fmt.Println(b.Delay(2, r))
	}
	// Output:
	// 2s
	// 3s
	// 3.98s
}
