package harness_test

import (
	"math"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/shard"
)

// The scenario knobs are read by ResolveTarget into Config.Knobs (and the
// run's shared variables into Config), every problem at once, each naming
// its variable, with the bound and how to go beyond it when one is over.
func TestParseKnobs(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, cfg harness.Config)
		wantErr []string // substrings, each naming the variable
	}{
		{name: "unset: defaults", env: nil, check: func(t *testing.T, cfg harness.Config) {
			k := cfg.Knobs
			if k.Agents != 0 || k.Seed != 1 || k.Max429Rate != 0.01 || !cfg.Shard.Whole() || k.RampSet {
				t.Errorf("defaults: %+v", k)
			}
		}},
		{name: "all set", env: map[string]string{harness.EnvAgents: "1_000", harness.EnvConcurrency: "100", harness.EnvDuration: "2m", harness.EnvRamp: "0s",
			harness.EnvThink: "250ms", harness.EnvRate: "12.5", harness.EnvIterations: "6", harness.EnvSeed: "42", harness.EnvP99: "800ms", harness.EnvMax429Rate: "0.5%",
			harness.EnvProbeMax: "300", harness.EnvSimURL: "http://127.0.0.1:8080/", harness.EnvTimeScale: "10", harness.EnvLabels: "region=sim,shard=2/4", harness.EnvShard: "2/4"},
			check: func(t *testing.T, cfg harness.Config) {
				k := cfg.Knobs
				if k.Agents != 1000 || k.Concurrency != 100 || k.Duration != 2*time.Minute || k.Ramp != 0 || !k.RampSet ||
					k.Think != 250*time.Millisecond || !k.ThinkSet || k.Rate != 12.5 || k.Iterations != 6 || k.Seed != 42 ||
					k.P99 != 800*time.Millisecond || math.Abs(k.Max429Rate-0.005) > 1e-12 || k.ProbeMax != 300 ||
					cfg.SimURL != "http://127.0.0.1:8080" || cfg.TimeScale != 10 || cfg.Shard != (shard.Shard{Index: 2, Count: 4}) {
					t.Errorf("parsed %+v", k)
				}
				if len(cfg.Labels) != 1 || cfg.Labels["region"] != "sim" {
					t.Errorf("labels %v: want region=sim only (the shard label is dropped so that shards merge)", cfg.Labels)
				}
			}},
		{name: "every problem at once", env: map[string]string{harness.EnvAgents: "0", harness.EnvDuration: "-1s", harness.EnvRamp: "soon", harness.EnvRate: "0",
			harness.EnvMax429Rate: "150%", harness.EnvSimURL: "https://api.mypurecloud.com", harness.EnvTimeScale: "0.5", harness.EnvShard: "5/4", harness.EnvSeed: "-3"},
			wantErr: []string{`CXLOAD_AGENTS="0": want a whole number from 1 to 100000`, `CXLOAD_DURATION="-1s": want a Go duration > 0`,
				`CXLOAD_RAMP="soon"`, `CXLOAD_RATE="0": want a number > 0, at most 1000000`, `CXLOAD_MAX_429_RATE="150%"`,
				`CXLOAD_SIM_URL="https://api.mypurecloud.com"`, `CXLOAD_TIME_SCALE="0.5": want a number from 1 to 1000`, `CXLOAD_SHARD="5/4"`,
				`CXLOAD_SEED="-3"`}},
		// Every knob at its bound is taken.
		{name: "at the bounds", env: map[string]string{harness.EnvAgents: "100_000", harness.EnvConcurrency: "100000", harness.EnvDuration: "24h", harness.EnvRamp: "24h",
			harness.EnvThink: "24h", harness.EnvRate: "1e6", harness.EnvIterations: "1000000", harness.EnvP99: "24h", harness.EnvProbeMax: "1000000", harness.EnvTimeScale: "1000",
			harness.EnvShard: "1000/1000", harness.EnvSeed: "18446744073709551615"},
			check: func(t *testing.T, cfg harness.Config) {
				k := cfg.Knobs
				if k.Agents != harness.MaxAgents || k.Concurrency != harness.MaxAgents || k.Duration != harness.MaxDuration ||
					k.Ramp != harness.MaxDuration || k.Think != harness.MaxDuration || k.Rate != harness.MaxRate ||
					k.Iterations != harness.MaxIterations || k.P99 != harness.MaxDuration || k.ProbeMax != harness.MaxProbeMax ||
					cfg.TimeScale != harness.MaxTimeScale || cfg.Shard.Count != shard.Max || k.Seed != math.MaxUint64 {
					t.Errorf("parsed %+v", k)
				}
			}},
		// Over a bound: refused before a scenario allocates or sends, naming the bound and how to go beyond it.
		{name: "agents 1e9", env: map[string]string{harness.EnvAgents: "1_000_000_000"},
			wantErr: []string{`CXLOAD_AGENTS="1_000_000_000": over the bound of 100000 agents (harness.MaxAgents); a larger population needs harness.MaxAgents raised`}},
		{name: "agents over int", env: map[string]string{harness.EnvAgents: "99999999999999999999"},
			wantErr: []string{`CXLOAD_AGENTS="99999999999999999999": over the bound of 100000 agents`}},
		{name: "agents in float notation", env: map[string]string{harness.EnvAgents: "1e9"},
			wantErr: []string{`CXLOAD_AGENTS="1e9": want a whole number from 1 to 100000`}},
		{name: "negative agents", env: map[string]string{harness.EnvAgents: "-99999999999999999999"},
			wantErr: []string{`CXLOAD_AGENTS="-99999999999999999999": want a whole number from 1 to 100000`}},
		{name: "concurrency over the bound", env: map[string]string{harness.EnvConcurrency: "100001"},
			wantErr: []string{`CXLOAD_CONCURRENCY="100001": over the bound of 100000 agents`}},
		{name: "rate 1e300", env: map[string]string{harness.EnvRate: "1e300"},
			wantErr: []string{`CXLOAD_RATE="1e300": over the bound of 1000000 requests per second (harness.MaxRate); that is beyond any organization's API allocation`}},
		{name: "rate 1e9", env: map[string]string{harness.EnvRate: "1e9"}, wantErr: []string{`CXLOAD_RATE="1e9": over the bound of 1000000`}},
		{name: "rate beyond float64", env: map[string]string{harness.EnvRate: "1e400"}, wantErr: []string{`CXLOAD_RATE="1e400": over the bound`}},
		{name: "rate Inf", env: map[string]string{harness.EnvRate: "+Inf"}, wantErr: []string{`CXLOAD_RATE="+Inf": over the bound`}},
		{name: "rate NaN", env: map[string]string{harness.EnvRate: "NaN"}, wantErr: []string{`CXLOAD_RATE="NaN": want a number > 0, at most 1000000`}},
		{name: "rate -Inf", env: map[string]string{harness.EnvRate: "-Inf"}, wantErr: []string{`CXLOAD_RATE="-Inf": want a number > 0`}},
		{name: "rate negative", env: map[string]string{harness.EnvRate: "-1"}, wantErr: []string{`CXLOAD_RATE="-1": want a number > 0`}},
		{name: "rate underflow", env: map[string]string{harness.EnvRate: "1e-400"}, wantErr: []string{`CXLOAD_RATE="1e-400": want a number > 0`}},
		{name: "durations over the bound", env: map[string]string{harness.EnvDuration: "25h", harness.EnvRamp: "24h0m0.001s", harness.EnvThink: "1000h", harness.EnvP99: "48h"},
			wantErr: []string{`CXLOAD_DURATION="25h": over the bound of 24h0m0s (harness.MaxDuration); split a longer soak`,
				`CXLOAD_RAMP="24h0m0.001s": over the bound`, `CXLOAD_THINK="1000h": over the bound`, `CXLOAD_P99="48h": over the bound`}},
		{name: "duration over int64", env: map[string]string{harness.EnvDuration: "1e300h"},
			wantErr: []string{`CXLOAD_DURATION="1e300h": want a Go duration > 0 such as 30s or 2m, at most 24h0m0s`}},
		{name: "iterations over the bound", env: map[string]string{harness.EnvIterations: "1000001"},
			wantErr: []string{`CXLOAD_ITERATIONS="1000001": over the bound of 1000000 calls per agent (harness.MaxIterations)`}},
		{name: "probe max over the bound", env: map[string]string{harness.EnvProbeMax: "1e9"}, wantErr: []string{`CXLOAD_PROBE_MAX="1e9": want a whole number from 1 to 1000000`}},
		{name: "time scale over the bound", env: map[string]string{harness.EnvTimeScale: "1e300"}, wantErr: []string{`CXLOAD_TIME_SCALE="1e300": over the bound of 1000 (harness.MaxTimeScale)`}},
		{name: "shards over the bound", env: map[string]string{harness.EnvShard: "1/1001"}, wantErr: []string{`CXLOAD_SHARD="1/1001": shard "1/1001": count 1001 is over the bound of 1000 shards (shard.Max)`}},
		{name: "external simulator must be loopback", env: map[string]string{harness.EnvSimURL: "http://10.0.0.7:8080"},
			wantErr: []string{`CXLOAD_SIM_URL="http://10.0.0.7:8080": host "10.0.0.7" is not loopback`}},
		{name: "malformed labels", env: map[string]string{harness.EnvLabels: "region"},
			wantErr: []string{`CXLOAD_LABELS="region"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := harness.ResolveTarget(func(v string) string { return tt.env[v] })
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tt.check(t, cfg)
				return
			}
			if err == nil {
				t.Fatalf("no error; want one naming %v", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// The README's scenarios section documents every knob as KnobSpecs defines it.
func TestREADMEListsKnobs(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("reading the README to check the knobs are documented: %v", err)
	}
	readme := string(data)
	i := strings.Index(readme, "## Load scenarios")
	if i < 0 {
		t.Fatalf("README has no \"## Load scenarios\" section")
	}
	sec := readme[i:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	for _, k := range harness.KnobSpecs {
		if !strings.Contains(sec, knobRow(k)) {
			t.Errorf("README \"Load scenarios\" does not document %s as the knobs define it; want the row\n%s", k.Env, knobRow(k))
		}
	}
	for _, cmd := range []string{"go test -tags load -count=1 ./loadtest", "go test -tags load -short -count=1 ./loadtest", "scripts/matrix.sh"} {
		if !strings.Contains(sec, cmd) {
			t.Errorf("README \"Load scenarios\" does not show %q", cmd)
		}
	}
}

// knobRow is a knob's row of the README's knob table.
func knobRow(k harness.KnobSpec) string {
	return "| `" + k.Env + "` | " + k.Takes + " | " + k.Default + " | " + k.Help + " |"
}

// FuzzKnobs: any scenario knobs parse without panicking; each problem is on
// its own line, starts with "harness: " and names its variable; an accepted
// external simulator URL points at this machine (network only to loopback)
// by what a URL parser, and so the HTTP client, sees; accepted numbers are
// within what the knob takes.
func FuzzKnobs(f *testing.F) {
	for _, s := range [][7]string{
		{"500", "30s", "10", "1%", "http://127.0.0.1:8080", "1/4", "region=sim"},
		{"0", "-1s", "NaN", "101%", "https://127.0.0.1:8080", "5/4", "=x"},
		{"1_000", "0s", "0.5", "0.01", "http://localhost:9999/", "2/4", "region=sim,shard=2/4"},
		{"", "", "", "", "http://[::1]:8080", "", ""},
		{"x", "1h", "1e9", "-0", "http://10.0.0.1:80", "1/1", "a=1,a=2"},
		// bounds: huge, infinite, overflowing
		{"1_000_000_000", "25h", "1e300", "1", "", "1/1001", ""},
		{"100000", "24h", "1000000", "1", "", "1000/1000", ""},
		{"99999999999999999999", "1e300h", "+Inf", "1", "", "", ""},
		{"1", "1m", "1", "1", "http://127.0.0.1.example.com:80", "1/1", ""},
		// all of 127.0.0.0/8 is loopback, as is IPv4-mapped ::ffff:127.0.0.1.
		{"1", "1m", "1", "1", "http://127.0.1.0", "1/1", ""},
		{"1", "1m", "1", "1", "http://[::ffff:127.0.0.1]:80", "1/1", ""},
		{"1", "1m", "1", "1", "http://[fe80::1%25lo]:80", "1/1", ""},
		// userinfo: the part before "@" is not the host.
		{"1", "1m", "1", "1", "http://localhost:80@example.com/", "1/1", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	f.Fuzz(func(t *testing.T, agents, duration, rate, max429, simURL, shardEnv, labels string) {
		env := map[string]string{
			harness.EnvAgents: agents, harness.EnvDuration: duration, harness.EnvRamp: duration, harness.EnvRate: rate, harness.EnvTimeScale: rate,
			harness.EnvMax429Rate: max429, harness.EnvSimURL: simURL, harness.EnvShard: shardEnv, harness.EnvLabels: labels, harness.EnvSeed: agents,
		}
		cfg, err := harness.ResolveTarget(func(name string) string { return env[name] })
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "harness: CXLOAD_") {
					t.Fatalf("problem %q does not start with \"harness: \" and the variable\nall: %v", line, err)
				}
			}
			return
		}
		k := cfg.Knobs
		if k.Agents < 0 || k.Duration < 0 || k.Ramp < 0 || k.Rate < 0 || (cfg.TimeScale != 0 && cfg.TimeScale < 1) || k.Max429Rate < 0 || k.Max429Rate > 1 {
			t.Fatalf("accepted out-of-range knobs: %+v", k)
		}
		if k.Agents > harness.MaxAgents || k.Duration > harness.MaxDuration || k.Ramp > harness.MaxDuration || k.Rate > harness.MaxRate ||
			cfg.TimeScale > harness.MaxTimeScale || cfg.Shard.Count > shard.Max {
			t.Fatalf("accepted knobs over their bounds: %+v", k)
		}
		if cfg.SimURL != "" {
			u, err := url.Parse(cfg.SimURL)
			if err != nil {
				t.Fatalf("%s=%q accepted, but it is not a URL: %v", harness.EnvSimURL, simURL, err)
			}
			// The oracle is net/netip, not the net.ParseIP the code uses:
			// all of 127.0.0.0/8 and ::1 (also IPv4-mapped) are loopback.
			h := u.Hostname()
			if a, err := netip.ParseAddr(h); h != "localhost" && (err != nil || !a.Unmap().IsLoopback()) {
				t.Fatalf("%s=%q accepted as loopback, but an HTTP client would dial %q", harness.EnvSimURL, simURL, h)
			}
		}
	})
}
