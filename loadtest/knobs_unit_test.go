//go:build load

package loadtest

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/shard"
)

func TestParseKnobs(t *testing.T) {
	touchRun()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, k knobs)
		wantErr []string // substrings, each naming the variable
	}{
		{name: "unset: defaults", env: nil, check: func(t *testing.T, k knobs) {
			if k.Agents != 0 || k.Seed != 1 || k.Max429Rate != 0.01 || !k.Shard.Whole() || k.RampSet {
				t.Errorf("defaults: %+v", k)
			}
		}},
		{name: "all set", env: map[string]string{EnvAgents: "1_000", EnvConcurrency: "100", EnvDuration: "2m", EnvRamp: "0s",
			EnvThink: "250ms", EnvRate: "12.5", EnvIterations: "6", EnvSeed: "42", EnvP99: "800ms", EnvMax429Rate: "0.5%",
			EnvProbeMax: "300", EnvSimURL: "http://127.0.0.1:8080/", EnvTimeScale: "10", EnvLabels: "region=sim,shard=2/4", EnvShard: "2/4"},
			check: func(t *testing.T, k knobs) {
				if k.Agents != 1000 || k.Concurrency != 100 || k.Duration != 2*time.Minute || k.Ramp != 0 || !k.RampSet ||
					k.Think != 250*time.Millisecond || !k.ThinkSet || k.Rate != 12.5 || k.Iterations != 6 || k.Seed != 42 ||
					k.P99 != 800*time.Millisecond || math.Abs(k.Max429Rate-0.005) > 1e-12 || k.ProbeMax != 300 ||
					k.SimURL != "http://127.0.0.1:8080" || k.TimeScale != 10 || k.Shard != (shard.Shard{Index: 2, Count: 4}) {
					t.Errorf("parsed %+v", k)
				}
				if len(k.Labels) != 1 || k.Labels["region"] != "sim" {
					t.Errorf("labels %v: want region=sim only (the shard label is dropped so that shards merge)", k.Labels)
				}
			}},
		{name: "every problem at once", env: map[string]string{EnvAgents: "0", EnvDuration: "-1s", EnvRamp: "soon", EnvRate: "0",
			EnvMax429Rate: "150%", EnvSimURL: "https://api.mypurecloud.com", EnvTimeScale: "0.5", EnvShard: "5/4", EnvSeed: "-3"},
			wantErr: []string{`CXLOAD_AGENTS="0": want a whole number from 1 to 100000`, `CXLOAD_DURATION="-1s": want a Go duration > 0`,
				`CXLOAD_RAMP="soon"`, `CXLOAD_RATE="0": want a number > 0, at most 1000000`, `CXLOAD_MAX_429_RATE="150%"`,
				`CXLOAD_SIM_URL="https://api.mypurecloud.com"`, `CXLOAD_TIME_SCALE="0.5": want a number from 1 to 1000`, `CXLOAD_SHARD="5/4"`,
				`CXLOAD_SEED="-3"`}},
		// Every knob at its bound is taken.
		{name: "at the bounds", env: map[string]string{EnvAgents: "100_000", EnvConcurrency: "100000", EnvDuration: "24h", EnvRamp: "24h",
			EnvThink: "24h", EnvRate: "1e6", EnvIterations: "1000000", EnvP99: "24h", EnvProbeMax: "1000000", EnvTimeScale: "1000",
			EnvShard: "1000/1000", EnvSeed: "18446744073709551615"},
			check: func(t *testing.T, k knobs) {
				if k.Agents != harness.MaxAgents || k.Concurrency != harness.MaxAgents || k.Duration != harness.MaxDuration ||
					k.Ramp != harness.MaxDuration || k.Think != harness.MaxDuration || k.Rate != harness.MaxRate ||
					k.Iterations != MaxIterations || k.P99 != harness.MaxDuration || k.ProbeMax != MaxProbeMax ||
					k.TimeScale != MaxTimeScale || k.Shard.Count != shard.Max || k.Seed != math.MaxUint64 {
					t.Errorf("parsed %+v", k)
				}
			}},
		// Over a bound: refused before a scenario allocates or sends, naming the bound and how to go beyond it.
		{name: "agents 1e9", env: map[string]string{EnvAgents: "1_000_000_000"},
			wantErr: []string{`CXLOAD_AGENTS="1_000_000_000": over the bound of 100000 agents (harness.MaxAgents); a larger population needs harness.MaxAgents raised`}},
		{name: "agents over int", env: map[string]string{EnvAgents: "99999999999999999999"},
			wantErr: []string{`CXLOAD_AGENTS="99999999999999999999": over the bound of 100000 agents`}},
		{name: "agents in float notation", env: map[string]string{EnvAgents: "1e9"},
			wantErr: []string{`CXLOAD_AGENTS="1e9": want a whole number from 1 to 100000`}},
		{name: "negative agents", env: map[string]string{EnvAgents: "-99999999999999999999"},
			wantErr: []string{`CXLOAD_AGENTS="-99999999999999999999": want a whole number from 1 to 100000`}},
		{name: "concurrency over the bound", env: map[string]string{EnvConcurrency: "100001"},
			wantErr: []string{`CXLOAD_CONCURRENCY="100001": over the bound of 100000 agents`}},
		{name: "rate 1e300", env: map[string]string{EnvRate: "1e300"},
			wantErr: []string{`CXLOAD_RATE="1e300": over the bound of 1000000 requests per second (harness.MaxRate); that is beyond any organization's API allocation`}},
		{name: "rate 1e9", env: map[string]string{EnvRate: "1e9"}, wantErr: []string{`CXLOAD_RATE="1e9": over the bound of 1000000`}},
		{name: "rate beyond float64", env: map[string]string{EnvRate: "1e400"}, wantErr: []string{`CXLOAD_RATE="1e400": over the bound`}},
		{name: "rate Inf", env: map[string]string{EnvRate: "+Inf"}, wantErr: []string{`CXLOAD_RATE="+Inf": over the bound`}},
		{name: "rate NaN", env: map[string]string{EnvRate: "NaN"}, wantErr: []string{`CXLOAD_RATE="NaN": want a number > 0, at most 1000000`}},
		{name: "rate -Inf", env: map[string]string{EnvRate: "-Inf"}, wantErr: []string{`CXLOAD_RATE="-Inf": want a number > 0`}},
		{name: "rate negative", env: map[string]string{EnvRate: "-1"}, wantErr: []string{`CXLOAD_RATE="-1": want a number > 0`}},
		{name: "rate underflow", env: map[string]string{EnvRate: "1e-400"}, wantErr: []string{`CXLOAD_RATE="1e-400": want a number > 0`}},
		{name: "durations over the bound", env: map[string]string{EnvDuration: "25h", EnvRamp: "24h0m0.001s", EnvThink: "1000h", EnvP99: "48h"},
			wantErr: []string{`CXLOAD_DURATION="25h": over the bound of 24h0m0s (harness.MaxDuration); split a longer soak`,
				`CXLOAD_RAMP="24h0m0.001s": over the bound`, `CXLOAD_THINK="1000h": over the bound`, `CXLOAD_P99="48h": over the bound`}},
		{name: "duration over int64", env: map[string]string{EnvDuration: "1e300h"},
			wantErr: []string{`CXLOAD_DURATION="1e300h": want a Go duration > 0 such as 30s or 2m, at most 24h0m0s`}},
		{name: "iterations over the bound", env: map[string]string{EnvIterations: "1000001"},
			wantErr: []string{`CXLOAD_ITERATIONS="1000001": over the bound of 1000000 iterations per agent (loadtest.MaxIterations)`}},
		{name: "probe max over the bound", env: map[string]string{EnvProbeMax: "1e9"}, wantErr: []string{`CXLOAD_PROBE_MAX="1e9": want a whole number from 1 to 1000000`}},
		{name: "time scale over the bound", env: map[string]string{EnvTimeScale: "1e300"}, wantErr: []string{`CXLOAD_TIME_SCALE="1e300": over the bound of 1000 (loadtest.MaxTimeScale)`}},
		{name: "shards over the bound", env: map[string]string{EnvShard: "1/1001"}, wantErr: []string{`CXLOAD_SHARD="1/1001": shard "1/1001": count 1001 is over the bound of 1000 shards (shard.Max)`}},
		{name: "external simulator must be loopback", env: map[string]string{EnvSimURL: "http://10.0.0.7:8080"},
			wantErr: []string{`CXLOAD_SIM_URL="http://10.0.0.7:8080": host "10.0.0.7" is not loopback`}},
		{name: "malformed labels", env: map[string]string{EnvLabels: "region"},
			wantErr: []string{`CXLOAD_LABELS="region"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := parseKnobs(func(v string) string { return tt.env[v] })
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tt.check(t, k)
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

// The README's scenarios section documents every knob.
func TestREADMEListsKnobs(t *testing.T) {
	touchRun()
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
	for _, k := range knobSpecs {
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
func knobRow(k knobSpec) string {
	return "| `" + k.Env + "` | " + k.Takes + " | " + k.Default + " | " + k.Help + " |"
}

// legDocuments joins output events that test2json split, as readers must.
func TestLegDocumentsJoinsSplitLines(t *testing.T) {
	touchRun()
	rec := newTestRecorder()
	doc := rec.Snapshot()
	doc.Scenario = "TestX"
	data, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	line := "    x_test.go:1: " + "cxload-result: " + string(data) + "\n"
	var b strings.Builder
	for i := 0; i < len(line); i += 100 { // test2json cuts long lines
		end := min(i+100, len(line))
		ev, _ := json.Marshal(map[string]string{"Action": "output", "Test": "TestX", "Output": line[i:end]})
		b.Write(ev)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "leg.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := legDocuments(t, path)
	if len(got["TestX"]) != 1 || got["TestX"][0].Scenario != "TestX" {
		t.Errorf("legDocuments = %v, want one document of TestX", got)
	}
}

// guardTransport admits every attempt through the gate and reports its
// status; a refused attempt never reaches the network.
func TestGuardTransport(t *testing.T) {
	touchRun()
	g := &countingGate{budget: 2}
	rt := guardTransport{base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 429, Body: http.NoBody}, nil
	}), gate: g}
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
		resp, err := rt.RoundTrip(req)
		if i < 2 && (err != nil || resp.StatusCode != 429) {
			t.Errorf("attempt %d: %v, %v; want the base transport's 429", i+1, resp, err)
		}
		if i == 2 && err == nil {
			t.Errorf("attempt 3 over a budget of 2 was sent")
		}
	}
	if g.done != 2 || g.last != 429 {
		t.Errorf("gate told %d statuses (last %d), want 2 (429)", g.done, g.last)
	}
}

type countingGate struct{ budget, admitted, done, last int }

func (g *countingGate) Admit() error {
	if g.admitted >= g.budget {
		return errors.New("budget spent")
	}
	g.admitted++
	return nil
}
func (g *countingGate) Done(status int) { g.done++; g.last = status }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newTestRecorder() *metrics.Recorder {
	rec := metrics.NewRecorder(metrics.WithScenario("TestX"))
	rec.Record(&metrics.Result{Op: "queues.list", Method: "GET", Route: routeQueues, Status: 200, Outcome: metrics.OK,
		Start: time.Now(), Latency: time.Millisecond, Total: time.Millisecond, Attempts: 1})
	return rec
}
