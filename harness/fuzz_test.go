package harness_test

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
)

// clientSecretRE finds the secrets of a clients file, valid JSON or not.
var clientSecretRE = regexp.MustCompile(`"clientSecret"\s*:\s*"([^"]*)"`)

// FuzzResolveTarget: any GENESYSCLOUD_*/CXLOAD_* environment (and any
// CXLOAD_CLIENTS_FILE content) resolves without panicking into a simulator
// or a complete tenant configuration, or into errors that each start with
// "harness: " and name the variable at fault; no client secret ever shows in
// the errors nor in the configuration's String, GoString or %v/%+v/%#v.
func FuzzResolveTarget(f *testing.F) {
	type seed struct {
		region, id, secret, target, approval, budget, window, abort429, abortAfter, tz string
		file                                                                           []byte
	}
	for _, s := range []seed{
		{},
		{region: "eu-west-1", id: "client-a", secret: "FAKE-SECRET-7f3a9c", approval: "CS-1", budget: "20000"},
		{region: "mypurecloud.ie", id: "client-a", secret: "FAKE-SECRET-7f3a9c", approval: "CS-1", budget: "1e9", window: "1", tz: "Europe/Dublin"},
		{region: "mars-1", secret: "FAKE-SECRET-7f3a9c"},
		{target: "simulator", approval: "x"},
		{target: "tenant"},
		{target: "bogus", abort429: "2", abortAfter: "-1s"},
		{region: "eu-west-1", approval: "CS-1", budget: "10", file: []byte(`[{"clientId":"a","clientSecret":"FAKE-SECRET-7f3a9c"},{"clientId":"a","clientSecret":"FAKE-SECRET-b0b0b0"}]`)},
		{region: "eu-west-1", approval: "CS-1", budget: "10", file: []byte(`[{"clientId":"a","clientSecret":"FAKE-SECRET-7f3a9c",}]`)},
		{region: "eu-west-1", file: []byte(`{"clientId":5}`)},
		{region: "eu-west-1", file: []byte(`[]`)},
	} {
		f.Add(s.region, s.id, s.secret, s.target, s.approval, s.budget, s.window, s.abort429, s.abortAfter, s.tz, s.file)
	}
	f.Fuzz(func(t *testing.T, region, id, secret, target, approval, budget, window, abort429, abortAfter, tz string, file []byte) {
		env := map[string]string{
			harness.EnvRegion: region, harness.EnvClientID: id, harness.EnvClientSecret: secret, harness.EnvTarget: target,
			harness.EnvApproval: approval, harness.EnvRequestBudget: budget, harness.EnvAllowOutsideWindow: window,
			harness.EnvAbort429Rate: abort429, harness.EnvAbortAfter: abortAfter, harness.EnvTimezone: tz,
		}
		secrets := []string{secret}
		if len(file) > 0 {
			path := filepath.Join(t.TempDir(), "clients.json")
			if err := os.WriteFile(path, file, 0o600); err != nil {
				t.Fatal(err)
			}
			env[harness.EnvClientsFile] = path
			// The file's secrets, whether or not it is valid JSON.
			for _, m := range clientSecretRE.FindAllSubmatch(file, -1) {
				secrets = append(secrets, string(m[1]))
			}
		}
		getenv := func(k string) string { return env[k] }
		cfg, err := harness.ResolveTarget(getenv)

		var shown strings.Builder
		fmt.Fprintf(&shown, "%s\n%#v\n%v\n%+v\n%s\n", cfg.String(), cfg, cfg, cfg, cfg.GoString())
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "harness: ") {
					t.Fatalf("error line %q does not start with \"harness: \"\nall: %v", line, err)
				}
				if !strings.Contains(line, "GENESYSCLOUD_") && !strings.Contains(line, "CXLOAD_") {
					t.Fatalf("error line %q names no variable\nall: %v", line, err)
				}
			}
			shown.WriteString(err.Error())
		} else {
			switch cfg.Kind {
			case harness.KindSimulator:
			case harness.KindTenant:
				if len(cfg.Clients) == 0 || !strings.HasPrefix(cfg.APIBase, "https://api.") || cfg.Guard.Approval == "" || cfg.Guard.Budget <= 0 {
					t.Fatalf("tenant configuration without clients, API base, approval or budget: %v", cfg)
				}
				if g := cfg.Guard; g.BudgetTotal > harness.MaxRequestBudget || g.AbortAfter <= 0 || g.AbortAfter > harness.MaxDuration {
					t.Fatalf("accepted a guard over its bounds: budget %d, abort after %v", g.BudgetTotal, g.AbortAfter)
				}
			default:
				t.Fatalf("Kind %q", cfg.Kind)
			}
		}
		// Public values: what the configuration may show in clear.
		public := region + " " + id + " " + target + " " + approval + " " + budget + " " + window + " " + abort429 + " " +
			abortAfter + " " + tz + " " + env[harness.EnvClientsFile] + " sim-client sim-client-2 sim-secret" +
			` want [{"clientId": "...", "clientSecret": "..."}]`
		for _, c := range cfg.Clients {
			public += " " + c.ClientID
		}
		for _, s := range secrets {
			if len(s) < 8 || strings.Contains(public, s) || strings.Contains(harness.Config{}.String(), s) {
				continue
			}
			if strings.Contains(shown.String(), s) {
				t.Fatalf("secret %q shows in the configuration or its errors:\n%s", s, shown.String())
			}
		}
	})
}

// FuzzPlanEstimate: a plan's estimate is never negative, whatever the plan
// (NaN, infinite or huge rates, any duration); it never decreases when the
// rate, the duration or the agents grow; and it is never less than its
// term: Requests when set, else Rate × Duration (exact, in big.Float,
// saturated at math.MaxInt64, within float64 rounding).
func FuzzPlanEstimate(f *testing.F) {
	for _, s := range []struct {
		agents        int
		rate          float64
		dur, requests int64
		dRate         float64
		dDur          int64
		dAgents       int
	}{
		{10, 5, int64(time.Hour), 0, 1, int64(time.Minute), 1},
		{10, 1e300, int64(time.Hour), 0, 0, 0, 0},
		{1, math.Inf(1), 1, 0, 0, 0, 0},
		{1, math.NaN(), int64(time.Second), 0, math.NaN(), 0, 0},
		{-1, -5, -int64(time.Hour), -3, -1, math.MinInt64, math.MinInt},
		{1, math.MaxFloat64, math.MaxInt64, 0, math.MaxFloat64, math.MaxInt64, math.MaxInt},
		{1, 1e9, int64(24 * time.Hour), 0, 0, 0, 0},
		{5, 0.5, int64(time.Second), 7, 1e300, 1, 1},
		{1, 9.223372036854775e18, int64(time.Second), 0, 1, 0, 0},
	} {
		f.Add(s.agents, s.rate, s.dur, s.requests, s.dRate, s.dDur, s.dAgents)
	}
	f.Fuzz(func(t *testing.T, agents int, rate float64, dur, requests int64, dRate float64, dDur int64, dAgents int) {
		p := harness.Plan{Agents: agents, Rate: rate, Duration: time.Duration(dur), Requests: requests}
		est := p.Estimate()
		if est < 0 {
			t.Fatalf("%+v: Estimate = %d, want ≥ 0", p, est)
		}
		// The term.
		if requests > 0 {
			if est != requests {
				t.Fatalf("%+v: Estimate = %d, want Requests %d", p, est, requests)
			}
		} else if rate > 0 && dur > 0 {
			exact := new(big.Float).SetPrec(256).SetFloat64(rate)
			exact.Mul(exact, new(big.Float).SetInt64(dur))
			exact.Quo(exact, big.NewFloat(1e9))
			want := new(big.Float).SetInt64(math.MaxInt64)
			if exact.Cmp(want) < 0 {
				want = exact
			}
			// float64 rounding: a relative error of a few ulps, and ±1 for rounding to a whole request
			low, _ := want.Float64()
			if float64(est) < low*(1-1e-12)-1 {
				t.Fatalf("%+v: Estimate = %d, less than Rate × Duration = %s", p, est, exact.Text('g', 20))
			}
		} else if est != 0 {
			t.Fatalf("%+v: Estimate = %d, want 0 (no requests, rate or duration)", p, est)
		}
		// Monotone: more rate, duration or agents never estimate fewer requests.
		q := p
		if r := rate + math.Abs(dRate); r >= rate {
			q.Rate = r
		}
		if dDur < 0 {
			dDur = -dDur
		}
		if d := dur + dDur; dDur >= 0 && d >= dur {
			q.Duration = time.Duration(d)
		} else {
			q.Duration = math.MaxInt64
		}
		if dAgents < 0 {
			dAgents = -dAgents
		}
		if a := agents + dAgents; dAgents >= 0 && a >= agents {
			q.Agents = a
		}
		if got := q.Estimate(); got < est && !math.IsNaN(rate) {
			t.Fatalf("Estimate(%+v) = %d < Estimate(%+v) = %d: more load, fewer requests", q, got, p, est)
		}
	})
}
