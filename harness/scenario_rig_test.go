package harness_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
)

// These tests open targets with the options the load scenarios pass
// (loadtest's newRig: WithAgents from CXLOAD_AGENTS, WithClients,
// WithReadOnly for discovery).

// The embedded simulator's default profile grows to CXLOAD_AGENTS users and
// to the OAuth clients a scenario asks for (WithClients); a CXLOAD_PROFILE
// with fewer clients fails, naming the field and how many to add. (Too few
// agents: TestNewTargetWithAgents.)
func TestNewTargetSizesSimulator(t *testing.T) {
	four := func([]api.Bucket) (int, string) { return 4, "the test needs four" }
	cfg, err := harness.ResolveTarget(env(map[string]string{harness.EnvAgents: "1500"}))
	if err != nil {
		t.Fatal(err)
	}
	var users, clients int
	out, fatal := capture(t, func(tb testing.TB) {
		tg := harness.NewTarget(tb, harness.WithGetenv(noEnv), harness.WithAgents(cfg.Knobs.Agents), harness.WithClients(four))
		users, clients = len(tg.Sim.Users()), len(tg.Config.Clients)
	})
	if fatal || users != 1500 || clients != 4 {
		t.Errorf("default profile, %s=1500, 4 clients needed: fatal=%v, %d users, %d clients; want 1500 users, 4 clients\n%s",
			harness.EnvAgents, fatal, users, clients, out)
	}

	small := writeFile(t, "small.json", `{"directory":{"agents":30}}`)
	out, fatal = capture(t, func(tb testing.TB) {
		harness.NewTarget(tb, harness.WithGetenv(env(map[string]string{harness.EnvProfile: small})), harness.WithAgents(30), harness.WithClients(four))
	})
	if want := `has 2 OAuth client(s) in "clients", the scenario needs 4: the test needs four; add 2 client(s)`; !fatal || !strings.Contains(out, want) || !strings.Contains(out, small) {
		t.Errorf("profile %s with 2 clients, 4 needed: fatal=%v, want the message to name the profile and contain %q\n%s", small, fatal, want, out)
	}
}

// A tenant target without an approval reference or a budget refuses to
// start, naming what is missing, before any request; an external simulator
// cannot stand in for a tenant; the client secret is never shown.
func TestNewTargetTenantRefuses(t *testing.T) {
	tenant := map[string]string{
		harness.EnvRegion: "eu-west-1", harness.EnvClientID: "load-client", harness.EnvClientSecret: "not-a-real-secret",
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no approval, no budget", nil, []string{harness.EnvApproval, harness.EnvRequestBudget}},
		{"no budget", map[string]string{harness.EnvApproval: "CS-1"}, []string{harness.EnvRequestBudget}},
		{"external simulator for a tenant", map[string]string{harness.EnvSimURL: "http://127.0.0.1:1"}, []string{harness.EnvApproval}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range tenant {
				e[k] = v
			}
			for k, v := range tt.env {
				e[k] = v
			}
			out, fatal := capture(t, func(tb testing.TB) {
				harness.NewTarget(tb, harness.WithGetenv(env(e)))
			})
			if !fatal {
				t.Fatalf("the target opened on a tenant configured with %v\n%s", tt.env, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("refusal does not name %s:\n%s", w, out)
				}
			}
			if strings.Contains(out, "not-a-real-secret") {
				t.Errorf("refusal shows the client secret:\n%s", out)
			}
		})
	}
}

// With tenant variables, approval, budget and CXLOAD_ALLOW_OUTSIDE_WINDOW=1
// but no CXLOAD_USERS, a target for a scenario that acts on users refuses at
// configuration time, naming CXLOAD_USERS; a read-only one (discovery)
// opens, guarded. Neither sends a request (HTTPS_PROXY points at a closed
// local port, so an escape would fail, not reach the region).
func TestNewTargetTenantNeedsUsers(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:9")
	e := env(map[string]string{
		harness.EnvRegion: "eu-west-1", harness.EnvClientID: "not-a-client", harness.EnvClientSecret: "not-a-secret",
		harness.EnvApproval: "CS-0", harness.EnvRequestBudget: "100", harness.EnvAllowOutsideWindow: "1",
	})
	out, fatal := capture(t, func(tb testing.TB) { harness.NewTarget(tb, harness.WithGetenv(e)) })
	if !fatal || !strings.Contains(out, harness.EnvUsers+" is not set") {
		t.Errorf("NewTarget on a tenant without %s: fatal=%v, want a refusal naming it\n%s", harness.EnvUsers, fatal, out)
	}
	guarded := false
	out, fatal = capture(t, func(tb testing.TB) {
		guarded = harness.NewTarget(tb, harness.WithGetenv(e), harness.WithReadOnly()).Guard != nil
	})
	if fatal || !guarded {
		t.Errorf("read-only NewTarget on a tenant without %s: fatal=%v, guarded=%v; want a guarded target\n%s", harness.EnvUsers, fatal, guarded, out)
	}
}
