package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A Stage is one step of a [Ramp]: over Duration, the value moves linearly
// from where the previous stage ended (or the ramp's start) to Target.
// A Stage with the same Target as the one before holds the value.
// A zero Duration jumps to Target at once.
//
// For an arrival rate ([StagesPacer]) Target is in arrivals per second; for a
// closed model ([Closed]) it is a number of active agents.
type Stage struct {
	Duration time.Duration
	Target   float64
}

// String formats s in the compact stage syntax, e.g. "30s:50".
func (s Stage) String() string {
	return s.Duration.String() + ":" + strconv.FormatFloat(s.Target, 'g', -1, 64)
}

// A Ramp is a piecewise linear function of elapsed time: it starts at Start
// and follows its Stages one after the other (the k6 "stages" model). It is a
// value with pure methods, safe for concurrent use.
//
// Before the first stage's end, Value interpolates; after the last stage it
// holds the last target. A ramp without stages is constant at Start and has
// no end (Duration is 0).
type Ramp struct {
	Start  float64
	Stages []Stage
}

// Validate reports the first invalid field of r: negative or non-finite
// values and negative durations.
func (r Ramp) Validate() error {
	if !finiteNonNegative(r.Start) {
		return fmt.Errorf("workload: ramp start %v: want a finite number ≥ 0", r.Start)
	}
	for i, s := range r.Stages {
		if s.Duration < 0 {
			return fmt.Errorf("workload: stages[%d].duration %v: want a duration ≥ 0, e.g. \"30s\"", i, s.Duration)
		}
		if !finiteNonNegative(s.Target) {
			return fmt.Errorf("workload: stages[%d].target %v: want a finite number ≥ 0", i, s.Target)
		}
	}
	return nil
}

func finiteNonNegative(v float64) bool { return v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// Duration is the sum of the stages' durations: when the ramp ends.
func (r Ramp) Duration() time.Duration {
	var d time.Duration
	for _, s := range r.Stages {
		d += s.Duration
	}
	return d
}

// Value is the ramp's value at elapsed time t.
func (r Ramp) Value(t time.Duration) float64 {
	v0 := r.Start
	var t0 time.Duration
	for _, s := range r.Stages {
		t1 := t0 + s.Duration
		if t < t1 {
			if t < t0 {
				return v0
			}
			return v0 + (s.Target-v0)*float64(t-t0)/float64(s.Duration)
		}
		v0, t0 = s.Target, t1
	}
	return v0
}

// Above returns the first interval [start, end) that begins at or after
// from (or contains from, in which case start = from) during which the
// ramp's value is at least level, within the ramp's duration. ok is false
// when there is none. Where the value crosses level inside a stage, the
// crossing time is rounded to the nearest nanosecond.
//
// A closed model uses it to know when agent k (active while the ramp is at
// least k+1) starts and stops.
func (r Ramp) Above(level float64, from time.Duration) (start, end time.Duration, ok bool) {
	v0 := r.Start
	var t0 time.Duration
	found := false
	for _, s := range r.Stages {
		t1 := t0 + s.Duration
		v1 := s.Target
		var a, b time.Duration // the part of [t0,t1) where the value is ≥ level
		switch {
		case s.Duration == 0:
			a, b = t0, t0
		case v0 >= level && v1 >= level:
			a, b = t0, t1
		case v0 >= level:
			a, b = t0, t0+crossing(v0, v1, level, s.Duration)
		case v1 >= level:
			a, b = t0+crossing(v0, v1, level, s.Duration), t1
		default:
			a, b = t0, t0
		}
		a = max(a, from)
		if a < b {
			if !found {
				start, end, found = a, b, true
			} else if a == end {
				end = b
			} else {
				return start, end, true
			}
		} else if found && s.Duration > 0 {
			// The value is below level from this stage's start: the interval closed.
			return start, end, true
		}
		v0, t0 = v1, t1
	}
	return start, end, found
}

// crossing is the time into a stage of duration d, going from v0 to v1,
// at which the value equals level (v0 ≠ v1, level between them).
func crossing(v0, v1, level float64, d time.Duration) time.Duration {
	return time.Duration(math.Round((level - v0) / (v1 - v0) * float64(d)))
}

// ParseStages parses stages in either of two forms:
//
//   - compact: "10s:50,30s:50,5s:0" — comma-separated duration:target pairs;
//   - JSON, as in k6: [{"duration":"10s","target":50},{"duration":"30s","target":50}].
//
// Durations use Go syntax ("1m30s", "500ms"); targets are numbers ≥ 0.
// Errors name the stage and the field that is wrong and show the expected form.
func ParseStages(s string) ([]Stage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New(`workload: stages: empty: want "duration:target,..." e.g. "10s:50,30s:50,5s:0"`)
	}
	if strings.HasPrefix(s, "[") {
		return parseStagesJSON(s)
	}
	var out []Stage
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		ds, ts, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf(`workload: stages item %d %q: want "duration:target", e.g. "10s:50,30s:50,5s:0"`, i+1, item)
		}
		d, err := time.ParseDuration(strings.TrimSpace(ds))
		if err != nil || d < 0 {
			return nil, fmt.Errorf(`workload: stages item %d %q: duration %q: want a Go duration ≥ 0 like "30s" or "1m30s"`, i+1, item, ds)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(ts), 64)
		if err != nil || !finiteNonNegative(v) {
			return nil, fmt.Errorf(`workload: stages item %d %q: target %q: want a number ≥ 0`, i+1, item, ts)
		}
		out = append(out, Stage{Duration: d, Target: v})
	}
	return out, nil
}

func parseStagesJSON(s string) ([]Stage, error) {
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf(`workload: stages: %v: want a JSON array like [{"duration":"10s","target":50}]`, err)
	}
	out := make([]Stage, 0, len(raw))
	for i, m := range raw {
		for k := range m {
			if k != "duration" && k != "target" {
				return nil, fmt.Errorf(`workload: stages[%d]: unknown field %q: want only "duration" and "target"`, i, k)
			}
		}
		dj, ok := m["duration"]
		if !ok {
			return nil, fmt.Errorf(`workload: stages[%d].duration: missing: want a string like "30s"`, i)
		}
		var ds string
		if err := json.Unmarshal(dj, &ds); err != nil {
			return nil, fmt.Errorf(`workload: stages[%d].duration: %s: want a string like "30s"`, i, dj)
		}
		d, err := time.ParseDuration(ds)
		if err != nil || d < 0 {
			return nil, fmt.Errorf(`workload: stages[%d].duration: %q: want a Go duration ≥ 0 like "30s" or "1m30s"`, i, ds)
		}
		tj, ok := m["target"]
		if !ok {
			return nil, fmt.Errorf(`workload: stages[%d].target: missing: want a number ≥ 0`, i)
		}
		var v float64
		if err := json.Unmarshal(tj, &v); err != nil || !finiteNonNegative(v) {
			return nil, fmt.Errorf(`workload: stages[%d].target: %s: want a number ≥ 0`, i, tj)
		}
		out = append(out, Stage{Duration: d, Target: v})
	}
	if len(out) == 0 {
		return nil, errors.New(`workload: stages: empty array: want at least one {"duration":"10s","target":50}`)
	}
	return out, nil
}

// integral is the area under the ramp from 0 to t, in value·seconds
// (for a rate in arrivals per second: the number of arrivals due by t).
// cum[j] must be the area at the start of stage j.
func (r Ramp) integral(t time.Duration, cum []float64) float64 {
	v0 := r.Start
	var t0 time.Duration
	for j, s := range r.Stages {
		t1 := t0 + s.Duration
		if t < t1 {
			dt := (t - t0).Seconds()
			slope := (s.Target - v0) / s.Duration.Seconds()
			return cum[j] + v0*dt + slope*dt*dt/2
		}
		v0, t0 = s.Target, t1
	}
	return cum[len(r.Stages)] + v0*(t-t0).Seconds()
}

// cumulative returns the area under r at the start of each stage, and at the
// end as the last element.
func (r Ramp) cumulative() []float64 {
	cum := make([]float64, len(r.Stages)+1)
	v0 := r.Start
	for j, s := range r.Stages {
		cum[j+1] = cum[j] + (v0+s.Target)/2*s.Duration.Seconds()
		v0 = s.Target
	}
	return cum
}

// searchCum returns the first stage j whose end area cum[j+1] is ≥ n,
// or len(cum)-1 when none is.
func searchCum(cum []float64, n float64) int {
	return sort.Search(len(cum)-1, func(j int) bool { return cum[j+1] >= n })
}
