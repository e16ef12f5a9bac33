package workload_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/workload"
)

func TestThink(t *testing.T) {
	const draws = 100_000
	tests := []struct {
		name     string
		think    workload.Think
		min, max time.Duration
		mean     time.Duration
		tol      float64 // relative tolerance of the sample mean
	}{
		{"constant", workload.ConstantThink(2 * time.Second), 2 * time.Second, 2 * time.Second, 2 * time.Second, 0},
		{"negative constant is zero", workload.ConstantThink(-time.Second), 0, 0, 0, 0},
		{"uniform", workload.UniformThink{Min: time.Second, Max: 3 * time.Second}, time.Second, 3 * time.Second, 2 * time.Second, 0.01},
		{"uniform with min = max", workload.UniformThink{Min: time.Second, Max: time.Second}, time.Second, time.Second, time.Second, 0},
		{"exponential", workload.ExponentialThink{Mean: time.Second}, 0, time.Duration(math.MaxInt64), time.Second, 0.02},
		// Cut at Max: the mean is Mean·(1 − e^(−Max/Mean)).
		{"exponential cut", workload.ExponentialThink{Mean: time.Second, Max: time.Second}, 0, time.Second,
			time.Duration(float64(time.Second) * (1 - math.Exp(-1))), 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var sum float64
			for range draws {
				d := tt.think.Think(r)
				if d < tt.min || d > tt.max {
					t.Fatalf("Think() = %v, want within [%v, %v]", d, tt.min, tt.max)
				}
				sum += float64(d)
			}
			mean := sum / draws
			if diff := math.Abs(mean - float64(tt.mean)); diff > tt.tol*float64(tt.mean) {
				t.Errorf("mean of %d draws = %v, want %v ± %.0f%%", draws, time.Duration(mean), tt.mean, tt.tol*100)
			}
		})
	}
}

// TestThinkReproducible checks that the same seed gives the same pauses:
// a run can be replayed.
func TestThinkReproducible(t *testing.T) {
	th := workload.ExponentialThink{Mean: time.Second}
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for i := range 100 {
		if x, y := th.Think(a), th.Think(b); x != y {
			t.Fatalf("draw %d: %v != %v with the same seed", i, x, y)
		}
	}
}
