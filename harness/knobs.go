package harness

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/shard"
)

// The knobs of the load scenarios: CXLOAD_* variables that ResolveTarget
// reads into Config.Knobs. An unset knob takes the scenario's default,
// which is smaller under -short. README "Load scenarios" lists them
// (KnobSpecs).
const (
	EnvAgents      = "CXLOAD_AGENTS"       // population size (all shards)
	EnvConcurrency = "CXLOAD_CONCURRENCY"  // TestRecordingBurst: agents active at once after the ramp
	EnvDuration    = "CXLOAD_DURATION"     // length of each load phase
	EnvRamp        = "CXLOAD_RAMP"         // ramp-up time to the full concurrency
	EnvThink       = "CXLOAD_THINK"        // think time between an agent's iterations (mean, for the shift)
	EnvRate        = "CXLOAD_RATE"         // requested rate, requests per second (all shards)
	EnvIterations  = "CXLOAD_ITERATIONS"   // TestAgentShift: calls per agent instead of a duration
	EnvSeed        = "CXLOAD_SEED"         // seed of every random choice of the agents
	EnvP99         = "CXLOAD_P99"          // threshold: p99 service time of every operation
	EnvMax429Rate  = "CXLOAD_MAX_429_RATE" // threshold: share of requests answered 429 (rate-aware runs)
	EnvProfileOut  = "CXLOAD_PROFILE_OUT"  // TestRateLimitDiscovery: write the findings as a gcsim profile here
	EnvProbeMax    = "CXLOAD_PROBE_MAX"    // TestRateLimitDiscovery: most requests per route family
)

// Bounds of the scenario-only knobs; the bounds shared with the harness
// (agents, rate, durations, time scale, shards) are MaxAgents, MaxRate,
// MaxDuration, MaxTimeScale and shard.Max. A knob over its bound is refused
// before a scenario allocates or sends anything.
const (
	// MaxIterations bounds CXLOAD_ITERATIONS: a million calls per agent is
	// days of load, more than MaxDuration.
	MaxIterations = 1_000_000
	// MaxProbeMax bounds CXLOAD_PROBE_MAX: the largest Genesys limits allow
	// thousands of requests per window, so a million per route family finds
	// any of them.
	MaxProbeMax = 1_000_000
)

// KnobSpec documents one knob: its variable, what it takes, its default,
// what it does. It is a row of the README's knob table.
type KnobSpec struct {
	Env, Takes, Default, Help string
}

// KnobSpecs lists every knob of the load scenarios, with the run's
// variables they share (CXLOAD_SIM_URL, CXLOAD_TIME_SCALE, CXLOAD_LABELS,
// CXLOAD_SHARD), for errors and for the README.
var KnobSpecs = []KnobSpec{
	{EnvAgents, fmt.Sprintf("a whole number from 1 to %d", MaxAgents), "500 (burst), 50 (notifications), 500 (shift); -short: 200, 20, 12", "population size over all shards"},
	{EnvConcurrency, fmt.Sprintf("a whole number from 1 to %d", MaxAgents), "100; -short: 50", "TestRecordingBurst: agents active at once after the ramp"},
	{EnvDuration, fmt.Sprintf("a Go duration > 0, at most %v", MaxDuration), "burst 10s/20s/20s, notifications 30s, shift 60s; -short: 3s/5s/5s, 8s, 10s; notifications at least 3 × agents/250 s + one heartbeat", "length of each load phase"},
	{EnvRamp, fmt.Sprintf("a Go duration ≥ 0, at most %v", MaxDuration), "5s; -short: 1s", "ramp-up to the full concurrency"},
	{EnvThink, fmt.Sprintf("a Go duration ≥ 0, at most %v", MaxDuration), "burst 500ms (constant), shift 10s (exponential mean); -short: 250ms, 1s", "think time between an agent's iterations; TestAgentShift: the talk time of a call"},
	{EnvRate, fmt.Sprintf("a number > 0, at most %d (requests per second)", MaxRate), "burst 10, notifications 20; -short: 10, 10", "requested rate over all shards"},
	{EnvIterations, fmt.Sprintf("a whole number from 0 to %d", MaxIterations), "0 (the shift lasts CXLOAD_DURATION)", "TestAgentShift: calls per agent, each queued on the agent's own queue (exact, shard-independent counts)"},
	{EnvSeed, "a whole number ≥ 0 (any uint64)", "1", "seed of the agents' random choices"},
	{EnvP99, fmt.Sprintf("a Go duration > 0, at most %v", MaxDuration), "1s; -short: 3s", "threshold on the p99 service time of every operation"},
	{EnvMax429Rate, "a share such as 1% or 0.01", "1%", "threshold on the share of 429s in rate-aware runs"},
	{EnvProfileOut, "a file path", "tenant: cxload-discovered-<region>.json in the temp dir; simulator: none", "TestRateLimitDiscovery: write the findings as a gcsim profile"},
	{EnvProbeMax, fmt.Sprintf("a whole number from 1 to %d", MaxProbeMax), "1000", "TestRateLimitDiscovery: most requests per route family"},
	{EnvSimURL, "an http://127.0.0.1:PORT URL", "none (embedded simulator)", "use an external simulator (go run ./scripts/gcsim), e.g. for scripts/matrix.sh"},
	{EnvTimeScale, fmt.Sprintf("a number from 1 to %d", MaxTimeScale), "1; -short: 10 for the burst", "simulator only: divide rate-limit windows by this factor"},
	{EnvLabels, "k=v,k=v", "none", "labels of the result documents (matrix cells)"},
	{EnvShard, fmt.Sprintf("i/n with n ≤ %d", shard.Max), "1/1", "this machine's shard of the agents, arrivals and budgets"},
}

// Knobs are the parsed scenario knobs. Zero values mean "unset: the
// scenario's default", except Seed (default 1) and Max429Rate (default
// 1 %).
type Knobs struct {
	Agents      int
	Concurrency int
	Duration    time.Duration
	Ramp        time.Duration
	RampSet     bool // CXLOAD_RAMP was set (0s is a value)
	Think       time.Duration
	ThinkSet    bool // CXLOAD_THINK was set (0s is a value)
	Rate        float64
	Iterations  int
	Seed        uint64
	P99         time.Duration
	Max429Rate  float64
	ProfileOut  string
	ProbeMax    int
}

// How to go beyond each bound, for the error of a knob over it.
const (
	beyondAgents = "a larger population needs harness.MaxAgents raised, the memory for that many agents " +
		"(the simulator's directory grows to the agents asked for) and, on a tenant, a directory of that many users"
	beyondRate     = "that is beyond any organization's API allocation; raise harness.MaxRate if a run truly needs more"
	beyondDuration = "split a longer soak into runs of at most that length, or raise harness.MaxDuration"
)

// parseKnobs reads every knob through getenv and returns all problems, each
// naming the variable, its value and what it takes. A number over its
// bound is refused with the bound and how to go beyond it.
func parseKnobs(getenv func(string) string) (Knobs, []error) {
	k := Knobs{Seed: 1, Max429Rate: 0.01}
	var errs []error
	bad := func(env, v, takes string) {
		errs = append(errs, fmt.Errorf("harness: %s=%q: want %s (see README \"Load scenarios\")", env, v, takes))
	}
	over := func(env, v, bound, beyond string) {
		errs = append(errs, fmt.Errorf("harness: %s=%q: over the bound of %s; %s", env, v, bound, beyond))
	}
	intKnob := func(env string, min, max int, bound, beyond string, dst *int) {
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
		switch {
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-"), err == nil && n > max:
			over(env, v, bound, beyond)
		case err != nil || n < min:
			bad(env, v, fmt.Sprintf("a whole number from %d to %d", min, max))
		default:
			*dst = n
		}
	}
	durKnob := func(env string, allowZero bool, dst *time.Duration, set *bool) {
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		switch {
		case err == nil && d > MaxDuration:
			over(env, v, MaxDuration.String()+" (harness.MaxDuration)", beyondDuration)
		case err != nil || d < 0 || (d == 0 && !allowZero):
			takes := "a Go duration > 0 such as 30s or 2m"
			if allowZero {
				takes = "a Go duration ≥ 0 such as 0s, 500ms or 2s"
			}
			bad(env, v, takes+", at most "+MaxDuration.String())
		default:
			*dst = d
			if set != nil {
				*set = true
			}
		}
	}
	intKnob(EnvAgents, 1, MaxAgents, fmt.Sprintf("%d agents (harness.MaxAgents)", MaxAgents), beyondAgents, &k.Agents)
	intKnob(EnvConcurrency, 1, MaxAgents, fmt.Sprintf("%d agents (harness.MaxAgents)", MaxAgents),
		"agents active at once are at most all agents", &k.Concurrency)
	durKnob(EnvDuration, false, &k.Duration, nil)
	durKnob(EnvRamp, true, &k.Ramp, &k.RampSet)
	durKnob(EnvThink, true, &k.Think, &k.ThinkSet)
	if v := strings.TrimSpace(getenv(EnvRate)); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		switch {
		case (err == nil || errors.Is(err, strconv.ErrRange)) && f > MaxRate: // ErrRange: ±Inf or ±0
			over(EnvRate, v, fmt.Sprintf("%d requests per second (harness.MaxRate)", MaxRate), beyondRate)
		case err != nil || math.IsNaN(f) || f <= 0:
			bad(EnvRate, v, fmt.Sprintf("a number > 0, at most %d", MaxRate))
		default:
			k.Rate = f
		}
	}
	intKnob(EnvIterations, 0, MaxIterations, fmt.Sprintf("%d calls per agent (harness.MaxIterations)", MaxIterations),
		"for a longer shift set "+EnvDuration+" instead", &k.Iterations)
	if v := strings.TrimSpace(getenv(EnvSeed)); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			bad(EnvSeed, v, "a whole number ≥ 0")
		}
		k.Seed = n
	}
	durKnob(EnvP99, false, &k.P99, nil)
	if v := strings.TrimSpace(getenv(EnvMax429Rate)); v != "" {
		f, err := parseRate(v)
		if err != nil {
			bad(EnvMax429Rate, v, "a share between 0 and 1, such as 1% or 0.01")
		}
		k.Max429Rate = f
	}
	k.ProfileOut = strings.TrimSpace(getenv(EnvProfileOut))
	intKnob(EnvProbeMax, 1, MaxProbeMax, fmt.Sprintf("%d requests per route family (harness.MaxProbeMax)", MaxProbeMax),
		"that finds any Genesys limit; raise harness.MaxProbeMax if one truly needs more", &k.ProbeMax)
	return k, errs
}
