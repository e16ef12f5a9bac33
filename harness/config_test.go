package harness_test

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/genesys"
)

func TestMain(m *testing.M) {
	// The runtime starts its signal-delivery goroutine at the process's
	// first signal.Notify. A recording tenant run catches SIGINT; were the
	// first such run inside a synctest bubble, that goroutine would belong
	// to the bubble and the runtime would abort ("select on synctest
	// channel from outside bubble"). Start it here, outside every bubble.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	goleak.VerifyTestMain(m)
}

// env returns a getenv over a map.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// tenantEnv is a complete tenant configuration; cases change or delete keys.
func tenantEnv(changes map[string]string) map[string]string {
	m := map[string]string{
		"GENESYSCLOUD_REGION":             "eu-west-1",
		"GENESYSCLOUD_OAUTHCLIENT_ID":     "client-a",
		"GENESYSCLOUD_OAUTHCLIENT_SECRET": "secret-a-XYZ",
		"CXLOAD_APPROVAL":                 "CS-123456",
		"CXLOAD_REQUEST_BUDGET":           "20000",
		"CXLOAD_USERS":                    "group:cxload-test-users",
	}
	for k, v := range changes {
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveTarget(t *testing.T) {
	clients := writeFile(t, "clients.json", `[{"clientId":"file-1","clientSecret":"fs-1-XYZ"},{"clientId":"file-2","clientSecret":"fs-2-XYZ"}]`)
	badJSON := writeFile(t, "bad.json", "[\n{\"clientId\": \"x\",\n \"clientSecret\": 3}]")
	missing := writeFile(t, "missing.json", `[{"clientId":"x"}]`)
	profile := writeFile(t, "profile.json", `{}`)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		kind    string
		api     string
		clients []string
		errs    []string // substrings every one of which the error must contain
		not     []string // substrings the error must not contain
	}{
		// Nothing set: the simulator with its two clients.
		{name: "empty", env: map[string]string{}, kind: "simulator", clients: []string{"sim-client", "sim-client-2"}},
		{name: "simulator profile", env: map[string]string{"CXLOAD_PROFILE": profile}, kind: "simulator", clients: []string{"sim-client", "sim-client-2"}},
		{name: "profile missing", env: map[string]string{"CXLOAD_PROFILE": "/nope.json"}, errs: []string{`CXLOAD_PROFILE="/nope.json"`, "no such file"}},
		// Forcing the simulator ignores ecosystem credentials (e.g. set for Terraform).
		{name: "forced simulator", env: tenantEnv(map[string]string{"CXLOAD_TARGET": "simulator", "CXLOAD_APPROVAL": "<unset>", "CXLOAD_REQUEST_BUDGET": "<unset>", "CXLOAD_USERS": "<unset>"}), kind: "simulator"},
		{name: "bad CXLOAD_TARGET", env: map[string]string{"CXLOAD_TARGET": "prod"}, errs: []string{`CXLOAD_TARGET="prod"`, "simulator, tenant or auto"}},
		{name: "tenant knob on simulator", env: map[string]string{"CXLOAD_APPROVAL": "CS-1"}, errs: []string{"CXLOAD_APPROVAL is set but the target is the simulator"}},
		// A complete tenant, by region name, domain or URL.
		{name: "tenant", env: tenantEnv(nil), kind: "tenant", api: "https://api.mypurecloud.ie", clients: []string{"client-a"}},
		{name: "tenant by domain", env: tenantEnv(map[string]string{"GENESYSCLOUD_REGION": "mypurecloud.de"}), kind: "tenant", api: "https://api.mypurecloud.de"},
		{name: "tenant by url", env: tenantEnv(map[string]string{"GENESYSCLOUD_REGION": "https://API.usw2.pure.cloud/"}), kind: "tenant", api: "https://api.usw2.pure.cloud"},
		{name: "tenant by login host", env: tenantEnv(map[string]string{"GENESYSCLOUD_REGION": "login.mypurecloud.com.au"}), kind: "tenant", api: "https://api.mypurecloud.com.au"},
		// Several clients.
		{name: "numbered clients", env: tenantEnv(map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID_2": "client-b", "GENESYSCLOUD_OAUTHCLIENT_SECRET_2": "secret-b-XYZ"}),
			kind: "tenant", clients: []string{"client-a", "client-b"}},
		{name: "clients file", env: tenantEnv(map[string]string{"CXLOAD_CLIENTS_FILE": clients}), kind: "tenant", clients: []string{"client-a", "file-1", "file-2"}},
		{name: "clients file only", env: tenantEnv(map[string]string{"CXLOAD_CLIENTS_FILE": clients, "GENESYSCLOUD_OAUTHCLIENT_ID": "<unset>", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "<unset>"}),
			kind: "tenant", clients: []string{"file-1", "file-2"}},
		// Half-set and broken configurations.
		{name: "region only", env: map[string]string{"GENESYSCLOUD_REGION": "eu-west-1"},
			errs: []string{"GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET are not set", "CXLOAD_APPROVAL is not set", "CXLOAD_REQUEST_BUDGET is not set"}},
		{name: "id only", env: map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": "x"},
			errs: []string{"GENESYSCLOUD_REGION is not set", "GENESYSCLOUD_OAUTHCLIENT_ID is set but GENESYSCLOUD_OAUTHCLIENT_SECRET is not"}},
		{name: "secret only", env: tenantEnv(map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID": "<unset>"}), errs: []string{"GENESYSCLOUD_OAUTHCLIENT_SECRET is set but GENESYSCLOUD_OAUTHCLIENT_ID is not"}},
		// Forced to a tenant with nothing set: no "other" variables to unset.
		{name: "forced tenant, nothing set", env: map[string]string{"CXLOAD_TARGET": "tenant"},
			errs: []string{"GENESYSCLOUD_REGION is not set", "CXLOAD_TARGET=tenant", "unset CXLOAD_TARGET to use the simulator"}, not: []string{"other GENESYSCLOUD_"}},
		// Forced, with a client set: both to unset.
		{name: "forced tenant, id set", env: map[string]string{"CXLOAD_TARGET": "tenant", "GENESYSCLOUD_OAUTHCLIENT_ID": "x"},
			errs: []string{"GENESYSCLOUD_REGION is not set", "unset CXLOAD_TARGET and the other GENESYSCLOUD_* variables to use the simulator"}},
		{name: "numbered only", env: map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID_2": "b"}, errs: []string{"GENESYSCLOUD_REGION is not set", "GENESYSCLOUD_OAUTHCLIENT_SECRET_2 is not"}},
		{name: "numbered gap", env: tenantEnv(map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID_3": "c", "GENESYSCLOUD_OAUTHCLIENT_SECRET_3": "s"}),
			errs: []string{"GENESYSCLOUD_OAUTHCLIENT_ID_3 is set but GENESYSCLOUD_OAUTHCLIENT_ID_2 is not"}},
		{name: "unknown region", env: tenantEnv(map[string]string{"GENESYSCLOUD_REGION": "mars-1"}), errs: []string{`GENESYSCLOUD_REGION="mars-1": unknown region`, "eu-west-1"}},
		{name: "duplicate client", env: tenantEnv(map[string]string{"GENESYSCLOUD_OAUTHCLIENT_ID_2": "client-a", "GENESYSCLOUD_OAUTHCLIENT_SECRET_2": "s"}), errs: []string{`"client-a" is configured twice`}},
		{name: "unreadable file", env: tenantEnv(map[string]string{"CXLOAD_CLIENTS_FILE": "/nope/clients.json"}), errs: []string{`CXLOAD_CLIENTS_FILE="/nope/clients.json": cannot read`}},
		{name: "file bad type", env: tenantEnv(map[string]string{"CXLOAD_CLIENTS_FILE": badJSON}), errs: []string{badJSON + ":3:", "clientSecret", "want string"}},
		{name: "file missing secret", env: tenantEnv(map[string]string{"CXLOAD_CLIENTS_FILE": missing}), errs: []string{"[0].clientSecret: missing"}},
		{name: "profile on tenant", env: tenantEnv(map[string]string{"CXLOAD_PROFILE": profile}), errs: []string{"CXLOAD_PROFILE is set but the target is a tenant"}},
		// Guard knobs.
		{name: "no approval", env: tenantEnv(map[string]string{"CXLOAD_APPROVAL": "<unset>"}), errs: []string{"CXLOAD_APPROVAL is not set", "ticket"}},
		{name: "no budget", env: tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "<unset>"}), errs: []string{"CXLOAD_REQUEST_BUDGET is not set"}},
		{name: "bad budget", env: tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "lots"}), errs: []string{`CXLOAD_REQUEST_BUDGET="lots": want a positive whole number`}},
		{name: "zero budget", env: tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "0"}), errs: []string{`CXLOAD_REQUEST_BUDGET="0"`}},
		{name: "bad window flag", env: tenantEnv(map[string]string{"CXLOAD_ALLOW_OUTSIDE_WINDOW": "maybe"}), errs: []string{`CXLOAD_ALLOW_OUTSIDE_WINDOW="maybe": want 1`}},
		{name: "bad 429 rate", env: tenantEnv(map[string]string{"CXLOAD_ABORT_429_RATE": "150%"}), errs: []string{`CXLOAD_ABORT_429_RATE="150%": want a share between 0 and 1`}},
		{name: "bad 5xx rate", env: tenantEnv(map[string]string{"CXLOAD_ABORT_5XX_RATE": "x"}), errs: []string{`CXLOAD_ABORT_5XX_RATE="x": want a share such as 0.05`}},
		{name: "bad abort after", env: tenantEnv(map[string]string{"CXLOAD_ABORT_AFTER": "30"}), errs: []string{`CXLOAD_ABORT_AFTER="30": want a positive Go duration`}},
		// Bounds: a number over its bound (or over int64) is refused, naming the bound.
		{name: "budget over the bound", env: tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": strconv.FormatInt(harness.MaxRequestBudget+1, 10)}),
			errs: []string{`CXLOAD_REQUEST_BUDGET="86400000001": over the bound of 86400000000 requests (harness.MaxRequestBudget`}},
		{name: "budget over int64", env: tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "99999999999999999999"}),
			errs: []string{`CXLOAD_REQUEST_BUDGET="99999999999999999999": over the bound`}},
		{name: "budget in float notation", env: tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "1e300"}),
			errs: []string{`CXLOAD_REQUEST_BUDGET="1e300": want a positive whole number`}},
		{name: "negative budget", env: tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "-99999999999999999999"}),
			errs: []string{`CXLOAD_REQUEST_BUDGET="-99999999999999999999": want a positive whole number`}},
		{name: "abort after over the bound", env: tenantEnv(map[string]string{"CXLOAD_ABORT_AFTER": "25h"}),
			errs: []string{`CXLOAD_ABORT_AFTER="25h": over 24h0m0s (harness.MaxDuration)`}},
		{name: "abort after over int64", env: tenantEnv(map[string]string{"CXLOAD_ABORT_AFTER": "1e300h"}),
			errs: []string{`CXLOAD_ABORT_AFTER="1e300h": want a positive Go duration of at most 24h0m0s`}},
		{name: "negative abort after", env: tenantEnv(map[string]string{"CXLOAD_ABORT_AFTER": "-1s"}),
			errs: []string{`CXLOAD_ABORT_AFTER="-1s": want a positive Go duration`}},
		{name: "shards over the bound", env: tenantEnv(map[string]string{"CXLOAD_SHARD": "1/1001"}),
			errs: []string{`CXLOAD_SHARD="1/1001": shard "1/1001": count 1001 is over the bound of 1000 shards (shard.Max)`}},
		{name: "NaN 429 rate", env: tenantEnv(map[string]string{"CXLOAD_ABORT_429_RATE": "NaN"}), errs: []string{`CXLOAD_ABORT_429_RATE="NaN": want a share between 0 and 1`}},
		{name: "Inf 5xx rate", env: tenantEnv(map[string]string{"CXLOAD_ABORT_5XX_RATE": "+Inf"}), errs: []string{`CXLOAD_ABORT_5XX_RATE="+Inf": want a share between 0 and 1`}},
		{name: "bad timezone", env: tenantEnv(map[string]string{"CXLOAD_TIMEZONE": "Mars/Olympus"}), errs: []string{`CXLOAD_TIMEZONE="Mars/Olympus": unknown IANA time zone`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := harness.ResolveTarget(env(tc.env))
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("ResolveTarget = %v, nil; want an error with %q", cfg, tc.errs)
				}
				for _, want := range tc.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error lacks %q:\n%v", want, err)
					}
				}
				for _, bad := range tc.not {
					if strings.Contains(err.Error(), bad) {
						t.Errorf("error has %q:\n%v", bad, err)
					}
				}
				for _, s := range []string{"secret-a-XYZ", "fs-1-XYZ", "secret-b-XYZ"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error leaks a secret:\n%v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveTarget: %v", err)
			}
			if cfg.Kind != tc.kind || (tc.api != "" && cfg.APIBase != tc.api) {
				t.Errorf("Kind, APIBase = %s, %s; want %s, %s", cfg.Kind, cfg.APIBase, tc.kind, tc.api)
			}
			if tc.clients != nil {
				var ids []string
				for _, c := range cfg.Clients {
					ids = append(ids, c.ClientID)
				}
				if strings.Join(ids, ",") != strings.Join(tc.clients, ",") {
					t.Errorf("clients = %v, want %v", ids, tc.clients)
				}
			}
			if cfg.Kind == "tenant" && (cfg.LoginBase != strings.Replace(cfg.APIBase, "://api.", "://login.", 1) || cfg.Guard.Location == nil) {
				t.Errorf("LoginBase %q, Location %v", cfg.LoginBase, cfg.Guard.Location)
			}
			if s := cfg.String() + cfg.GoString(); strings.Contains(s, "XYZ") {
				t.Errorf("String leaks a secret: %s", s)
			}
		})
	}
}

func TestGuardDefaultsAndOverrides(t *testing.T) {
	cfg, err := harness.ResolveTarget(env(tenantEnv(map[string]string{"CXLOAD_ABORT_429_RATE": "10%", "CXLOAD_ABORT_5XX_RATE": "0.01",
		"CXLOAD_ABORT_AFTER": "1m", "CXLOAD_ALLOW_OUTSIDE_WINDOW": "1", "CXLOAD_TIMEZONE": "Asia/Tokyo"})))
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Guard
	if g.Approval != "CS-123456" || g.Budget != 20000 || g.Abort429Rate != 0.1 || g.Abort5xxRate != 0.01 || g.AbortAfter != time.Minute || !g.AllowOutsideWindow || g.Location.String() != "Asia/Tokyo" {
		t.Errorf("Guard = %+v", g)
	}
	cfg, _ = harness.ResolveTarget(env(tenantEnv(nil)))
	if g := cfg.Guard; g.Abort429Rate != harness.DefaultAbort429Rate || g.Abort5xxRate != harness.DefaultAbort5xxRate || g.AbortAfter != harness.DefaultAbortAfter || g.Location.String() != "Europe/Dublin" {
		t.Errorf("defaults = %+v", g)
	}
}

// Every region resolves by name and by domain, and has a loadable zone.
func TestRegions(t *testing.T) {
	for _, r := range genesys.Regions {
		for _, s := range []string{r.Name, r.Domain, "api." + r.Domain, "https://login." + r.Domain} {
			if got, ok := genesys.LookupRegion(s); !ok || got != r {
				t.Errorf("LookupRegion(%q) = %v, %v", s, got, ok)
			}
		}
		if _, err := time.LoadLocation(r.Zone); err != nil {
			t.Errorf("%s: zone %q: %v", r.Name, r.Zone, err)
		}
	}
}

func TestVariablesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("reading the README to check the variables are documented: %v", err)
	}
	for _, v := range harness.Variables() {
		if strings.Contains(v, "_2") || strings.Contains(v, "_3") || strings.Contains(v, "_4") || strings.Contains(v, "_5") ||
			strings.Contains(v, "_6") || strings.Contains(v, "_7") || strings.Contains(v, "_8") || strings.Contains(v, "_9") {
			continue // documented as a pattern, _n
		}
		if !strings.Contains(string(readme), v) {
			t.Errorf("README does not document %s", v)
		}
	}
}

// The request budget is the whole run's: each shard takes its part, so the
// shards together never exceed it.
func TestShardBudgetSplit(t *testing.T) {
	for _, tc := range []struct {
		total int64
		n     int
	}{{20000, 4}, {10, 3}, {7, 7}, {1, 1}, {100001, 16}} {
		var sum int64
		for i := 1; i <= tc.n; i++ {
			cfg, err := harness.ResolveTarget(env(tenantEnv(map[string]string{
				"CXLOAD_REQUEST_BUDGET": strconv.FormatInt(tc.total, 10),
				"CXLOAD_SHARD":          fmt.Sprintf("%d/%d", i, tc.n)})))
			if err != nil {
				t.Fatalf("budget %d shard %d/%d: %v", tc.total, i, tc.n, err)
			}
			if cfg.Guard.BudgetTotal != tc.total {
				t.Errorf("BudgetTotal = %d, want %d", cfg.Guard.BudgetTotal, tc.total)
			}
			if lo, hi := tc.total/int64(tc.n), tc.total/int64(tc.n)+1; cfg.Guard.Budget < lo || cfg.Guard.Budget > hi {
				t.Errorf("shard %d/%d of %d: Budget = %d, want %d or %d", i, tc.n, tc.total, cfg.Guard.Budget, lo, hi)
			}
			sum += cfg.Guard.Budget
		}
		if sum != tc.total {
			t.Errorf("budget %d over %d shards: parts add up to %d", tc.total, tc.n, sum)
		}
	}
	for _, tc := range []struct{ budget, shard, want string }{
		{"20000", "5/4", `CXLOAD_SHARD="5/4"`},
		{"20000", "x", `CXLOAD_SHARD="x": shard "x": want "i/n"`},
		{"3", "4/4", "leaves shard 4/4 no request"},
	} {
		_, err := harness.ResolveTarget(env(tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": tc.budget, "CXLOAD_SHARD": tc.shard})))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("budget %s shard %s: err = %v, want it to mention %q", tc.budget, tc.shard, err, tc.want)
		}
	}
}

// In a Kubernetes Indexed Job (JOB_COMPLETION_INDEX and CXLOAD_SHARDS, no
// CXLOAD_SHARD) each pod's guard takes its part of the budget too.
func TestShardBudgetSplitIndexedJob(t *testing.T) {
	var sum int64
	for i := range 4 {
		cfg, err := harness.ResolveTarget(env(tenantEnv(map[string]string{"CXLOAD_REQUEST_BUDGET": "10",
			"JOB_COMPLETION_INDEX": strconv.Itoa(i), "CXLOAD_SHARDS": "4"})))
		if err != nil {
			t.Fatalf("index %d of 4: %v", i, err)
		}
		if want := fmt.Sprintf("%d/4", i+1); cfg.Guard.Shard != want || cfg.Guard.Budget > 3 {
			t.Errorf("index %d of 4: guard shard %q budget %d, want %s with 2 or 3 of 10", i, cfg.Guard.Shard, cfg.Guard.Budget, want)
		}
		sum += cfg.Guard.Budget
	}
	if sum != 10 {
		t.Errorf("budget 10 over 4 indexed pods: parts add up to %d", sum)
	}
}

// Each shard's guard enforces its share of the run's budget and its plan
// line says so: shard i of n may admit exactly its share, and the shares
// of all n add up to CXLOAD_REQUEST_BUDGET.
func TestShardBudgetShareEnforcedAndPrinted(t *testing.T) {
	const total, n = 10, 3
	want := []int64{4, 3, 3} // ⌊10/3⌋, the remainder to the first shard
	var sum int64
	for i := 1; i <= n; i++ {
		cfg, err := harness.ResolveTarget(env(tenantEnv(map[string]string{
			"CXLOAD_REQUEST_BUDGET": strconv.Itoa(total), "CXLOAD_SHARD": fmt.Sprintf("%d/%d", i, n), "CXLOAD_ALLOW_OUTSIDE_WINDOW": "1"})))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		g := harness.NewGuard(cfg.Guard, nil, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
		if err := g.Start(harness.Plan{Agents: 1, Requests: 1}); err != nil {
			t.Fatalf("shard %d/%d: Start: %v", i, n, err)
		}
		line := fmt.Sprintf("budget %d requests (shard %d/%d's share of CXLOAD_REQUEST_BUDGET=%d)", want[i-1], i, n, total)
		if len(lines) != 1 || !strings.Contains(lines[0], line) {
			t.Errorf("shard %d/%d: plan lines %q, want one containing %q", i, n, lines, line)
		}
		admitted := int64(0)
		for g.Admit() == nil {
			admitted++
		}
		if admitted != want[i-1] {
			t.Errorf("shard %d/%d: the guard admitted %d attempts, want its share %d", i, n, admitted, want[i-1])
		}
		sum += admitted
		g.Close()
	}
	if sum != total {
		t.Errorf("the shards admitted %d attempts together, want the budget %d", sum, total)
	}
}

// The run id the result documents carry: CXLOAD_RUN_ID, else GitHub's run
// id and attempt, so that the shards of one run share it.
func TestRunID(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"CXLOAD_RUN_ID": " nightly-7 "}, "nightly-7"},
		{map[string]string{"GITHUB_RUN_ID": "123"}, "123-1"},
		{map[string]string{"GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "2"}, "123-2"},
		{map[string]string{"CXLOAD_RUN_ID": "k8s-abc", "GITHUB_RUN_ID": "123"}, "k8s-abc"},
	} {
		cfg, err := harness.ResolveTarget(env(tc.env))
		if err != nil || cfg.RunID != tc.want {
			t.Errorf("ResolveTarget(%v).RunID = %q, %v, want %q", tc.env, cfg.RunID, err, tc.want)
		}
	}
}
