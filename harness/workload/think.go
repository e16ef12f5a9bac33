package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// A Think is the pause of a closed-model agent between two iterations.
// Think draws from r, which the caller owns: a [Closed] executor gives each
// agent its own *rand.Rand seeded from the run's seed and the agent's id,
// so a run is reproducible and no generator is shared between goroutines.
// A nil Think means no pause.
type Think interface {
	Think(r *rand.Rand) time.Duration
}

// ConstantThink pauses for the same duration every time.
type ConstantThink time.Duration

// Think implements [Think].
func (c ConstantThink) Think(*rand.Rand) time.Duration { return max(time.Duration(c), 0) }

// String describes c, e.g. "constant 2s".
func (c ConstantThink) String() string { return "constant " + time.Duration(c).String() }

// UniformThink pauses for a duration drawn uniformly from [Min, Max].
type UniformThink struct {
	Min, Max time.Duration
}

// Think implements [Think].
func (u UniformThink) Think(r *rand.Rand) time.Duration {
	lo, hi := max(u.Min, 0), max(u.Max, 0)
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// String describes u, e.g. "uniform 1s..3s".
func (u UniformThink) String() string { return fmt.Sprintf("uniform %v..%v", u.Min, u.Max) }

// ExponentialThink pauses for a duration drawn from an exponential
// distribution with the given Mean (the pauses of a Poisson process: many
// short, a few long). If Max is positive, longer draws are cut to Max, which
// lowers the mean slightly (by Mean·e^(−Max/Mean)).
type ExponentialThink struct {
	Mean, Max time.Duration
}

// Think implements [Think].
func (e ExponentialThink) Think(r *rand.Rand) time.Duration {
	if e.Mean <= 0 {
		return 0
	}
	d := r.ExpFloat64() * float64(e.Mean)
	if e.Max > 0 && d > float64(e.Max) {
		return e.Max
	}
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// String describes e, e.g. "exponential mean 2s".
func (e ExponentialThink) String() string {
	s := "exponential mean " + e.Mean.String()
	if e.Max > 0 {
		s += " max " + e.Max.String()
	}
	return s
}
