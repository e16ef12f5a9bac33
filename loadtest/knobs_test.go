//go:build load

package loadtest

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/reports"
)

// The knobs of the load scenarios: CXLOAD_* environment variables, read in
// one place (parseKnobs). An unset knob takes the scenario's default, which
// is smaller under -short. README "Load scenarios" lists them.
const (
	EnvAgents      = "CXLOAD_AGENTS"       // population size (all shards)
	EnvConcurrency = "CXLOAD_CONCURRENCY"  // TestRecordingBurst: agents active at once after the ramp
	EnvDuration    = "CXLOAD_DURATION"     // length of each load phase
	EnvRamp        = "CXLOAD_RAMP"         // ramp-up time to the full concurrency
	EnvThink       = "CXLOAD_THINK"        // think time between an agent's iterations (mean, for the shift)
	EnvRate        = "CXLOAD_RATE"         // requested rate, requests per second (all shards)
	EnvIterations  = "CXLOAD_ITERATIONS"   // TestAgentShift: iterations per agent instead of a duration
	EnvSeed        = "CXLOAD_SEED"         // seed of every random choice of the agents
	EnvP99         = "CXLOAD_P99"          // threshold: p99 service time of every operation
	EnvMax429Rate  = "CXLOAD_MAX_429_RATE" // threshold: share of requests answered 429 (rate-aware runs)
	EnvProfileOut  = "CXLOAD_PROFILE_OUT"  // TestRateLimitDiscovery: write the findings as a gcsim profile here
	EnvProbeMax    = "CXLOAD_PROBE_MAX"    // TestRateLimitDiscovery: most requests per route family
	EnvSimURL      = "CXLOAD_SIM_URL"      // an external simulator (go run ./scripts/gcsim) instead of the embedded one
	EnvTimeScale   = "CXLOAD_TIME_SCALE"   // simulator only: divide rate-limit windows by this factor
	EnvLabels      = reports.EnvLabels     // matrix labels, k=v,k=v (the shard label is dropped: shards merge)
	EnvShard       = shard.Env             // this machine's shard, i/n
)

// Bounds of the scenario-only knobs; the bounds shared with the harness
// (agents, rate, durations, shards) are harness.MaxAgents, MaxRate,
// MaxDuration and shard.Max. A knob over its bound is refused before a
// scenario allocates or sends anything.
const (
	// MaxIterations bounds CXLOAD_ITERATIONS: a million iterations per agent
	// at the shortest think time is days of load, more than MaxDuration.
	MaxIterations = 1_000_000
	// MaxProbeMax bounds CXLOAD_PROBE_MAX: the largest Genesys limits allow
	// thousands of requests per window, so a million per route family finds
	// any of them.
	MaxProbeMax = 1_000_000
	// MaxTimeScale bounds CXLOAD_TIME_SCALE: a one-minute window becomes
	// 60 ms, still well above the millisecond to which windows are rounded.
	MaxTimeScale = 1000
)

// knobSpec documents one knob: its variable, what it takes, its default.
type knobSpec struct {
	Env, Takes, Default, Help string
}

// knobSpecs lists every knob, for errors and for the README.
var knobSpecs = []knobSpec{
	{EnvAgents, fmt.Sprintf("a whole number from 1 to %d", harness.MaxAgents), "500 (burst), 50 (notifications), 40 (shift); -short: 200, 20, 12", "population size over all shards"},
	{EnvConcurrency, fmt.Sprintf("a whole number from 1 to %d", harness.MaxAgents), "100; -short: 50", "TestRecordingBurst: agents active at once after the ramp"},
	{EnvDuration, fmt.Sprintf("a Go duration > 0, at most %v", harness.MaxDuration), "burst 10s/20s/20s, notifications 30s, shift 45s; -short: 3s/5s/5s, 8s, 10s; notifications at least 3 × agents/250 s + one heartbeat", "length of each load phase"},
	{EnvRamp, fmt.Sprintf("a Go duration ≥ 0, at most %v", harness.MaxDuration), "5s; -short: 1s", "ramp-up to the full concurrency"},
	{EnvThink, fmt.Sprintf("a Go duration ≥ 0, at most %v", harness.MaxDuration), "burst 500ms (constant), shift 2s (exponential mean); -short: 250ms, 500ms", "think time between an agent's iterations"},
	{EnvRate, fmt.Sprintf("a number > 0, at most %d (requests per second)", harness.MaxRate), "burst 10, notifications 20; -short: 10, 10", "requested rate over all shards"},
	{EnvIterations, fmt.Sprintf("a whole number from 0 to %d", MaxIterations), "0 (the shift lasts CXLOAD_DURATION)", "TestAgentShift: iterations per agent (exact, shard-independent counts)"},
	{EnvSeed, "a whole number ≥ 0 (any uint64)", "1", "seed of the agents' random choices"},
	{EnvP99, fmt.Sprintf("a Go duration > 0, at most %v", harness.MaxDuration), "1s; -short: 3s", "threshold on the p99 service time of every operation"},
	{EnvMax429Rate, "a share such as 1% or 0.01", "1%", "threshold on the share of 429s in rate-aware runs"},
	{EnvProfileOut, "a file path", "tenant: cxload-discovered-<region>.json in the temp dir; simulator: none", "TestRateLimitDiscovery: write the findings as a gcsim profile"},
	{EnvProbeMax, fmt.Sprintf("a whole number from 1 to %d", MaxProbeMax), "1000", "TestRateLimitDiscovery: most requests per route family"},
	{EnvSimURL, "an http://127.0.0.1:PORT URL", "none (embedded simulator)", "use an external simulator (go run ./scripts/gcsim), e.g. for scripts/matrix.sh"},
	{EnvTimeScale, fmt.Sprintf("a number from 1 to %d", MaxTimeScale), "1; -short: 10 (TestRecordingBurst only)", "simulator only: divide rate-limit windows by this factor"},
	{EnvLabels, "k=v,k=v", "none", "labels of the result documents (matrix cells)"},
	{EnvShard, fmt.Sprintf("i/n with n ≤ %d", shard.Max), "1/1", "this machine's shard of the agents, arrivals and budgets"},
}

// knobs are the parsed knobs. Zero values mean "unset: the scenario's default".
type knobs struct {
	Agents      int
	Concurrency int
	Duration    time.Duration
	Ramp        time.Duration
	RampSet     bool
	Think       time.Duration
	ThinkSet    bool
	Rate        float64
	Iterations  int
	Seed        uint64
	P99         time.Duration
	Max429Rate  float64
	ProfileOut  string
	ProbeMax    int
	SimURL      string
	TimeScale   float64
	Labels      map[string]string
	Shard       shard.Shard
}

// How to go beyond each bound, for the error of a knob over it.
const (
	beyondAgents = "a larger population needs harness.MaxAgents raised, the memory for that many agents " +
		"(the simulator's directory grows to the agents asked for) and, on a tenant, a directory of that many users"
	beyondRate     = "that is beyond any organization's API allocation; raise harness.MaxRate if a run truly needs more"
	beyondDuration = "split a longer soak into runs of at most that length, or raise harness.MaxDuration"
)

// parseKnobs reads every knob through getenv and returns all problems at
// once, each naming the variable, its value and what it takes. A number
// over its bound is refused with the bound and how to go beyond it.
func parseKnobs(getenv func(string) string) (knobs, error) {
	k := knobs{Seed: 1, Max429Rate: 0.01}
	var errs []error
	bad := func(env, v, takes string) {
		errs = append(errs, fmt.Errorf("loadtest: %s=%q: want %s (see README \"Load scenarios\")", env, v, takes))
	}
	over := func(env, v, bound, beyond string) {
		errs = append(errs, fmt.Errorf("loadtest: %s=%q: over the bound of %s; %s", env, v, bound, beyond))
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
		case err == nil && d > harness.MaxDuration:
			over(env, v, harness.MaxDuration.String()+" (harness.MaxDuration)", beyondDuration)
		case err != nil || d < 0 || (d == 0 && !allowZero):
			takes := "a Go duration > 0 such as 30s or 2m"
			if allowZero {
				takes = "a Go duration ≥ 0 such as 0s, 500ms or 2s"
			}
			bad(env, v, takes+", at most "+harness.MaxDuration.String())
		default:
			*dst = d
			if set != nil {
				*set = true
			}
		}
	}
	floatKnob := func(env string, min, max float64, bound, beyond string, dst *float64) {
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return
		}
		f, err := strconv.ParseFloat(v, 64)
		switch {
		case (err == nil || errors.Is(err, strconv.ErrRange)) && f > max: // ErrRange: ±Inf or ±0
			over(env, v, bound, beyond)
		case err != nil || math.IsNaN(f) || f < min || (min == 0 && f == 0):
			num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
			takes := "a number from " + num(min) + " to " + num(max)
			if min == 0 {
				takes = "a number > 0, at most " + num(max)
			}
			bad(env, v, takes)
		default:
			*dst = f
		}
	}
	intKnob(EnvAgents, 1, harness.MaxAgents, fmt.Sprintf("%d agents (harness.MaxAgents)", harness.MaxAgents), beyondAgents, &k.Agents)
	intKnob(EnvConcurrency, 1, harness.MaxAgents, fmt.Sprintf("%d agents (harness.MaxAgents)", harness.MaxAgents),
		"agents active at once are at most all agents", &k.Concurrency)
	durKnob(EnvDuration, false, &k.Duration, nil)
	durKnob(EnvRamp, true, &k.Ramp, &k.RampSet)
	durKnob(EnvThink, true, &k.Think, &k.ThinkSet)
	floatKnob(EnvRate, 0, harness.MaxRate, fmt.Sprintf("%d requests per second (harness.MaxRate)", harness.MaxRate), beyondRate, &k.Rate)
	intKnob(EnvIterations, 0, MaxIterations, fmt.Sprintf("%d iterations per agent (loadtest.MaxIterations)", MaxIterations),
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
		f, err := parseShare(v)
		if err != nil {
			bad(EnvMax429Rate, v, "a share between 0 and 1, such as 1% or 0.01")
		}
		k.Max429Rate = f
	}
	k.ProfileOut = strings.TrimSpace(getenv(EnvProfileOut))
	intKnob(EnvProbeMax, 1, MaxProbeMax, fmt.Sprintf("%d requests per route family (loadtest.MaxProbeMax)", MaxProbeMax),
		"that finds any Genesys limit; raise loadtest.MaxProbeMax if one truly needs more", &k.ProbeMax)
	if v := strings.TrimSpace(getenv(EnvSimURL)); v != "" {
		if err := checkSimURL(v); err != nil {
			errs = append(errs, fmt.Errorf("loadtest: %s=%q: %v", EnvSimURL, v, err))
		}
		k.SimURL = strings.TrimRight(v, "/")
	}
	floatKnob(EnvTimeScale, 1, MaxTimeScale, fmt.Sprintf("%d (loadtest.MaxTimeScale)", MaxTimeScale),
		"a larger factor shrinks rate-limit windows below what the simulator keeps apart", &k.TimeScale)
	if v := getenv(EnvLabels); v != "" {
		l, err := reports.ParseLabels(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("loadtest: %s=%q: %v", EnvLabels, v, err))
		}
		delete(l, reports.ShardLabel) // the shard is Document.Shard: shards of one cell must merge
		k.Labels = l
	}
	if v := getenv(EnvShard); v != "" {
		sh, err := shard.Parse(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("loadtest: %s=%q: %v", EnvShard, v, err))
		} else {
			k.Shard = sh
		}
	}
	return k, errors.Join(errs...)
}

// parseShare reads "1%" or "0.01".
func parseShare(v string) (float64, error) {
	pct := strings.HasSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if err != nil {
		return 0, err
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 || math.IsNaN(f) {
		return 0, errors.New("out of range")
	}
	return f, nil
}

// checkSimURL accepts only loopback http URLs: the simulator has
// well-known credentials and this is never a real Genesys host.
func checkSimURL(v string) error {
	const want = "want http://127.0.0.1:PORT (the URL gcsim prints)"
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Opaque != "" {
		return errors.New(want)
	}
	if u.User != nil { // "http://localhost:80@example.com/" would dial example.com
		return errors.New("want http://127.0.0.1:PORT without an @ (what precedes an @ is user info, not the host)")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("host %q is not loopback: the external simulator must run on this machine (http://127.0.0.1:PORT)", host)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q: %s", p, want)
		}
	}
	return nil
}

// loadKnobs parses the environment and fails t with every
// problem if a knob is malformed. It also opens the run stamp, so that go
// test never caches a load run (see TestMain).
func loadKnobs(t testing.TB) knobs {
	t.Helper()
	touchRun()
	k, err := parseKnobs(os.Getenv)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return k
}

// pick returns v if set (non-zero), else def, or defShort under -short.
func pick[T comparable](v, def, defShort T) T {
	var zero T
	if v != zero {
		return v
	}
	if testing.Short() {
		return defShort
	}
	return def
}

// knobNames returns every knob's variable, sorted.
func knobNames() []string {
	out := make([]string, len(knobSpecs))
	for i, s := range knobSpecs {
		out[i] = s.Env
	}
	sort.Strings(out)
	return out
}
