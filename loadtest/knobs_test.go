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

	"github.com/cxload/cxload/harness/agent"
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
	EnvShard       = agent.ShardEnv        // this machine's shard, i/n
)

// knobSpec documents one knob: its variable, what it takes, its default.
type knobSpec struct {
	Env, Takes, Default, Help string
}

// knobSpecs lists every knob, for errors and for the README.
var knobSpecs = []knobSpec{
	{EnvAgents, "a whole number ≥ 1", "500 (burst), 50 (notifications), 40 (shift); -short: 200, 20, 12", "population size over all shards"},
	{EnvConcurrency, "a whole number ≥ 1", "100; -short: 50", "TestRecordingBurst: agents active at once after the ramp"},
	{EnvDuration, "a Go duration > 0", "burst 10s/20s/20s, notifications 30s, shift 45s; -short: 3s/5s/5s, 8s, 10s", "length of each load phase"},
	{EnvRamp, "a Go duration ≥ 0", "5s; -short: 1s", "ramp-up to the full concurrency"},
	{EnvThink, "a Go duration ≥ 0", "burst 500ms (constant), shift 2s (exponential mean); -short: 250ms, 500ms", "think time between an agent's iterations"},
	{EnvRate, "a number > 0 (requests per second)", "burst 10, notifications 20; -short: 10, 10", "requested rate over all shards"},
	{EnvIterations, "a whole number ≥ 0", "0 (the shift lasts CXLOAD_DURATION)", "TestAgentShift: iterations per agent (exact, shard-independent counts)"},
	{EnvSeed, "a whole number ≥ 0", "1", "seed of the agents' random choices"},
	{EnvP99, "a Go duration > 0", "1s; -short: 3s", "threshold on the p99 service time of every operation"},
	{EnvMax429Rate, "a share such as 1% or 0.01", "1%", "threshold on the share of 429s in rate-aware runs"},
	{EnvProfileOut, "a file path", "tenant: cxload-discovered-<region>.json in the temp dir; simulator: none", "TestRateLimitDiscovery: write the findings as a gcsim profile"},
	{EnvProbeMax, "a whole number ≥ 1", "1000", "TestRateLimitDiscovery: most requests per route family"},
	{EnvSimURL, "an http://127.0.0.1:PORT URL", "none (embedded simulator)", "use an external simulator (go run ./scripts/gcsim), e.g. for scripts/matrix.sh"},
	{EnvTimeScale, "a number ≥ 1", "1; -short: 10 (TestRecordingBurst only)", "simulator only: divide rate-limit windows by this factor"},
	{EnvLabels, "k=v,k=v", "none", "labels of the result documents (matrix cells)"},
	{EnvShard, "i/n", "1/1", "this machine's shard of the agents, arrivals and budgets"},
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
	Shard       agent.Shard
}

// parseKnobs reads every knob through getenv and returns all problems at
// once, each naming the variable, its value and what it takes.
func parseKnobs(getenv func(string) string) (knobs, error) {
	k := knobs{Seed: 1, Max429Rate: 0.01}
	var errs []error
	bad := func(env, v, takes string) {
		errs = append(errs, fmt.Errorf("loadtest: %s=%q: want %s (see README \"Load scenarios\")", env, v, takes))
	}
	intKnob := func(env string, min int, dst *int) {
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
		if err != nil || n < min {
			bad(env, v, fmt.Sprintf("a whole number ≥ %d", min))
			return
		}
		*dst = n
	}
	durKnob := func(env string, allowZero bool, dst *time.Duration, set *bool) {
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !allowZero) {
			takes := "a Go duration > 0 such as 30s or 2m"
			if allowZero {
				takes = "a Go duration ≥ 0 such as 0s, 500ms or 2s"
			}
			bad(env, v, takes)
			return
		}
		*dst = d
		if set != nil {
			*set = true
		}
	}
	floatKnob := func(env string, min float64, dst *float64) {
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < min || (min == 0 && f == 0) {
			takes := fmt.Sprintf("a number ≥ %v", min)
			if min == 0 {
				takes = "a number > 0"
			}
			bad(env, v, takes)
			return
		}
		*dst = f
	}
	intKnob(EnvAgents, 1, &k.Agents)
	intKnob(EnvConcurrency, 1, &k.Concurrency)
	durKnob(EnvDuration, false, &k.Duration, nil)
	durKnob(EnvRamp, true, &k.Ramp, &k.RampSet)
	durKnob(EnvThink, true, &k.Think, &k.ThinkSet)
	floatKnob(EnvRate, 0, &k.Rate)
	intKnob(EnvIterations, 0, &k.Iterations)
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
	intKnob(EnvProbeMax, 1, &k.ProbeMax)
	if v := strings.TrimSpace(getenv(EnvSimURL)); v != "" {
		if err := checkSimURL(v); err != nil {
			errs = append(errs, fmt.Errorf("loadtest: %s=%q: %v", EnvSimURL, v, err))
		}
		k.SimURL = strings.TrimRight(v, "/")
	}
	floatKnob(EnvTimeScale, 1, &k.TimeScale)
	if v := getenv(EnvLabels); v != "" {
		l, err := reports.ParseLabels(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("loadtest: %s=%q: %v", EnvLabels, v, err))
		}
		delete(l, reports.ShardLabel) // the shard is Document.Shard: shards of one cell must merge
		k.Labels = l
	}
	if v := getenv(EnvShard); v != "" {
		sh, err := agent.ParseShard(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("loadtest: %s=%q: %v", EnvShard, v, err))
		}
		k.Shard = sh
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
