package harness_test

import (
	"fmt"
	"time"

	"github.com/cxload/cxload/harness"
)

// With nothing set, the target is the embedded simulator.
func ExampleResolveTarget() {
	cfg, err := harness.ResolveTarget(func(string) string { return "" })
	fmt.Println(cfg.Kind, err)

	// A tenant needs credentials, an approval and a budget.
	env := map[string]string{
		"GENESYSCLOUD_REGION":             "mypurecloud.ie",
		"GENESYSCLOUD_OAUTHCLIENT_ID":     "my-client",
		"GENESYSCLOUD_OAUTHCLIENT_SECRET": "my-secret",
		"CXLOAD_APPROVAL":                 "CS-123456",
		"CXLOAD_REQUEST_BUDGET":           "20000",
	}
	cfg, err = harness.ResolveTarget(func(k string) string { return env[k] })
	fmt.Println(cfg.Kind, cfg.Region.Name, cfg.APIBase, cfg.LoginBase, cfg.Guard.Location, err)

	delete(env, "CXLOAD_REQUEST_BUDGET")
	_, err = harness.ResolveTarget(func(k string) string { return env[k] })
	fmt.Println(err)
	// Output:
	// simulator <nil>
	// tenant eu-west-1 https://api.mypurecloud.ie https://login.mypurecloud.ie Europe/Dublin <nil>
	// harness: CXLOAD_REQUEST_BUDGET is not set: set the most requests this run may make (e.g. CXLOAD_REQUEST_BUDGET=20000); they count against the organization's API allocation
}

// The guard refuses to start outside the load-test window, or over budget.
func ExampleGuard_Start() {
	dublin, _ := time.LoadLocation("Europe/Dublin")
	now := time.Date(2026, 11, 26, 23, 30, 0, 0, dublin)
	g := harness.NewGuard(harness.GuardConfig{Approval: "CS-123456", Budget: 20000, Location: dublin},
		func() time.Time { return now }, func(f string, a ...any) { fmt.Printf(f+"\n", a...) })
	defer g.Close()
	fmt.Println(g.Start(harness.Plan{Agents: 50, Rate: 20, Duration: 10 * time.Minute}))

	now = time.Date(2026, 11, 27, 9, 0, 0, 0, dublin)
	fmt.Println(g.Check())
	// Output:
	// cxload guard: approval CS-123456; budget 20000 requests; abort if 429 > 5.0% or 5xx > 2.0% for 30s; plan: 50 agents, target 20.0 req/s for 10m0s, about 12000 requests; users: none (CXLOAD_USERS not set); queues: none (CXLOAD_QUEUES not set); writes: none allowed (CXLOAD_ALLOW_WRITES)
	// <nil>
	// harness: guard: it is 09:00 in Europe/Dublin, outside the load-test window 23:00–05:00 (opens in 14h0m0s); wait for the window or set CXLOAD_ALLOW_OUTSIDE_WINDOW=1 if Genesys approved another time
}
