package workload

import (
	"fmt"
	"math"
	"time"
)

// A Pacer decides when the arrivals of an open model happen. It is a pure
// function of the time elapsed since the run started and the number of
// arrivals so far (hits), in the shape of vegeta's Pacer.
//
// Pace returns how long to wait before the next arrival (0: it is due now),
// or stop = true when there will be no more arrivals. Rate returns the
// arrival rate at elapsed, in arrivals per second.
//
// Implementations must be safe for concurrent use; the ones in this package
// are values with no state.
type Pacer interface {
	Pace(elapsed time.Duration, hits uint64) (wait time.Duration, stop bool)
	Rate(elapsed time.Duration) float64
}

// A Schedule is a [Pacer] that can say when any arrival is due: Due(n) is
// the elapsed time at which arrival n (counting from 0) is due, or ok = false
// if arrival n never happens. The executor uses it to stamp each iteration
// with its intended start, and [ShardSchedule] uses it to give each shard
// every n-th arrival.
type Schedule interface {
	Pacer
	Due(n uint64) (at time.Duration, ok bool)
}

// paceAt is the Pace method of every Schedule in this package, given the
// next arrival's due time (a function of values, so that no pacer is
// converted to an interface on the hot path).
func paceAt(at time.Duration, ok bool, elapsed time.Duration) (time.Duration, bool) {
	if !ok {
		return 0, true
	}
	if at <= elapsed {
		return 0, false
	}
	return at - elapsed, false
}

// DefaultPer is the period of a [ConstantPacer] whose Per is zero.
const DefaultPer = time.Second

// A ConstantPacer paces Freq arrivals per Per (per [DefaultPer] if zero),
// evenly spaced, the first one at once. A Freq ≤ 0 means no arrivals.
// If Duration is positive, arrivals stop at Duration (arrivals due at
// Duration or later do not happen); otherwise the executor's maximum
// duration or iteration count ends the run.
type ConstantPacer struct {
	Freq     float64
	Per      time.Duration
	Duration time.Duration
}

// Due implements [Schedule]: arrival n is due at n·Per/Freq.
func (p ConstantPacer) Due(n uint64) (time.Duration, bool) {
	if p.Freq <= 0 || math.IsNaN(p.Freq) || math.IsInf(p.Freq, 0) {
		return 0, false
	}
	per := p.Per
	if per <= 0 {
		per = DefaultPer
	}
	at := float64(n) * float64(per) / p.Freq
	if at >= math.MaxInt64 {
		return 0, false
	}
	d := time.Duration(math.Round(at))
	if p.Duration > 0 && d >= p.Duration {
		return 0, false
	}
	return d, true
}

// Pace implements [Pacer].
func (p ConstantPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	at, ok := p.Due(hits)
	return paceAt(at, ok, elapsed)
}

// Rate implements [Pacer]: Freq per Per, in arrivals per second, until Duration.
func (p ConstantPacer) Rate(elapsed time.Duration) float64 {
	if p.Freq <= 0 || (p.Duration > 0 && elapsed >= p.Duration) {
		return 0
	}
	per := p.Per
	if per <= 0 {
		per = DefaultPer
	}
	return p.Freq / per.Seconds()
}

// String describes p, e.g. "constant 50/1s for 30s".
func (p ConstantPacer) String() string {
	per := p.Per
	if per <= 0 {
		per = DefaultPer
	}
	s := fmt.Sprintf("constant %g/%v", p.Freq, per)
	if p.Duration > 0 {
		s += " for " + p.Duration.String()
	}
	return s
}

// A StagesPacer paces arrivals whose rate, in arrivals per second, follows a
// [Ramp]: k6's ramping-arrival-rate. Arrival n is due at the first time t at
// which the area under the rate from 0 to t reaches n, so the number of
// arrivals in any interval is the area under the rate over it, to within one;
// a run of stages whose area is A issues ⌈A⌉ arrivals. Arrivals stop at the
// end of the last stage. The zero StagesPacer has no arrivals; build one
// with [NewStagesPacer] or [NewLinearPacer].
type StagesPacer struct {
	ramp Ramp
	cum  []float64 // area at the start of each stage, and at the end
}

// NewStagesPacer returns a pacer whose rate starts at start arrivals per
// second and follows the stages. It reports an error naming the first
// invalid stage.
func NewStagesPacer(start float64, stages []Stage) (*StagesPacer, error) {
	r := Ramp{Start: start, Stages: append([]Stage(nil), stages...)}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &StagesPacer{ramp: r, cum: r.cumulative()}, nil
}

// NewLinearPacer returns a pacer whose rate goes linearly from `from` to
// `to` arrivals per second over d, then stops.
func NewLinearPacer(from, to float64, d time.Duration) (*StagesPacer, error) {
	return NewStagesPacer(from, []Stage{{Duration: d, Target: to}})
}

// Ramp returns the rate ramp that p follows.
func (p *StagesPacer) Ramp() Ramp {
	if p == nil {
		return Ramp{}
	}
	return Ramp{Start: p.ramp.Start, Stages: append([]Stage(nil), p.ramp.Stages...)}
}

// Arrivals is the number of arrivals p issues over its whole duration.
func (p *StagesPacer) Arrivals() uint64 {
	if p == nil || len(p.cum) == 0 {
		return 0
	}
	total := p.cum[len(p.cum)-1]
	return uint64(math.Ceil(total - arrivalEpsilon(total)))
}

// arrivalEpsilon absorbs the rounding of float sums, so that stages whose
// area is a whole number A issue exactly A arrivals.
func arrivalEpsilon(total float64) float64 { return 1e-9 * math.Max(1, total) }

// Expected is the area under the rate from 0 to elapsed: how many arrivals
// are due by then (fractional). A progress line can compare it with the
// arrivals issued.
func (p *StagesPacer) Expected(elapsed time.Duration) float64 {
	if p == nil || len(p.cum) == 0 || elapsed <= 0 {
		return 0
	}
	if d := p.ramp.Duration(); elapsed > d {
		elapsed = d
	}
	return p.ramp.integral(elapsed, p.cum)
}

// Due implements [Schedule].
func (p *StagesPacer) Due(n uint64) (time.Duration, bool) {
	if p == nil || len(p.ramp.Stages) == 0 {
		return 0, false
	}
	x := float64(n)
	total := p.cum[len(p.cum)-1]
	if x >= total-arrivalEpsilon(total) {
		return 0, false // the area never reaches n before the end
	}
	j := searchCum(p.cum, x)
	if j == len(p.ramp.Stages) {
		return 0, false // the area never reaches n
	}
	var t0 time.Duration
	v0 := p.ramp.Start
	for _, s := range p.ramp.Stages[:j] {
		t0 += s.Duration
		v0 = s.Target
	}
	s := p.ramp.Stages[j]
	c := x - p.cum[j] // area still to cover inside stage j, in [0, stage area]
	var sec float64
	d := s.Duration.Seconds()
	if c > 0 && d > 0 {
		// Solve v0·u + (v1−v0)/(2d)·u² = c for u in [0, d], in the form that
		// does not cancel when the slope is small: u = 2c / (b + √(b²+4ac)).
		a := (s.Target - v0) / (2 * d)
		b := v0
		disc := math.Max(b*b+4*a*c, 0)
		if den := b + math.Sqrt(disc); den > 0 {
			sec = 2 * c / den
		}
		sec = math.Min(math.Max(sec, 0), d)
	}
	at := t0 + time.Duration(math.Round(sec*1e9))
	if at >= p.ramp.Duration() {
		return 0, false
	}
	return at, true
}

// Pace implements [Pacer].
func (p *StagesPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	at, ok := p.Due(hits)
	return paceAt(at, ok, elapsed)
}

// Rate implements [Pacer]: the ramp's value, and 0 after the last stage.
func (p *StagesPacer) Rate(elapsed time.Duration) float64 {
	if p == nil || elapsed >= p.ramp.Duration() {
		return 0
	}
	return p.ramp.Value(elapsed)
}

// String describes p in the compact stages syntax, e.g. "stages from 0/s: 10s:50,30s:50".
func (p *StagesPacer) String() string {
	if p == nil {
		return "stages: none"
	}
	s := fmt.Sprintf("stages from %g/s:", p.ramp.Start)
	for i, st := range p.ramp.Stages {
		if i > 0 {
			s += ","
		} else {
			s += " "
		}
		s += st.String()
	}
	return s
}
