//go:build load

package loadtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/discover"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// writeTestProfile writes p to a file in t's temp dir and points
// CXLOAD_PROFILE at it, as a user would; its directory holds CXLOAD_AGENTS
// agents, as a user's would for that run.
func writeTestProfile(t *testing.T, p *gcsim.Profile) string {
	t.Helper()
	p.Directory.Agents = max(p.Directory.Agents, loadKnobs(t).Agents)
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := writeProfile(path, p); err != nil {
		t.Fatal(err)
	}
	t.Setenv(harness.EnvProfile, path)
	return path
}

// exampleProfile loads one of the simulator's example profiles
// (scripts/gcsim/examples), as a user would pass it to CXLOAD_PROFILE.
func exampleProfile(t *testing.T, name string) *gcsim.Profile {
	t.Helper()
	p, err := gcsim.LoadProfile(filepath.Join("..", "scripts", "gcsim", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// On the default profile (Genesys' documented limits only), the seed's
// storm, 100 threads sharing one client-credentials token, comes from the
// per-token limit: client.credentials.token.rate.per.minute, 300 per
// minute, scope token.
func TestRecordingBurstDocumentedLimit(t *testing.T) {
	skipRehearsal(t, "it checks the scenario's finding against a limit set in the simulator's profile")
	writeTestProfile(t, gcsim.DefaultProfile())
	var f burstFinding
	runRecordingBurst(t, rigOptions{}, &f, true)
	if f.Key != genesys.KeyClientCredentialsToken || f.Scope != string(genesys.ScopeToken) || f.Allowed != 300 || f.Window != time.Minute || f.Hypothetical {
		t.Errorf("phase (a) named %s (%d per %v, scope %s, hypothetical %v); want %s (300 per 1m0s, scope token), documented",
			f.Key, f.Allowed, f.Window, f.Scope, f.Hypothetical, genesys.KeyClientCredentialsToken)
	}
	if adv := burstAdvice(f, gcsim.DefaultProfile()); !strings.Contains(adv, "more tokens") || !strings.Contains(adv, "unconfirmed.orgAppUserClientCredentials=true") ||
		strings.Contains(adv, "ask Genesys") {
		t.Errorf("advice = %q; want more tokens per client up to org.app.user (naming the unconfirmed setting), nothing asked of Genesys", adv)
	}
}

// On the hypothetical profile with a hidden per-endpoint recording limit
// (100 per minute per user, below the token's 300), phase (a) finds that
// limit from the 429s alone, and every sentence naming it says it is
// hypothetical.
func TestRecordingBurstHypotheticalLimit(t *testing.T) {
	skipRehearsal(t, "it checks the scenario's finding against a limit set in the simulator's profile")
	writeTestProfile(t, exampleProfile(t, "hypothetical-recordingstate-limit.json"))
	var f burstFinding
	runRecordingBurst(t, rigOptions{}, &f, true)
	if f.Key != gcsim.KeyRecordingState || f.Scope != string(genesys.ScopeEndpointUser) || f.Allowed != 100 || !f.Hypothetical {
		t.Errorf("phase (a) named %s (%d per %v, scope %s, hypothetical %v); want %s (100 per 1m0s, scope endpoint-user), hypothetical",
			f.Key, f.Allowed, f.Window, f.Scope, f.Hypothetical, gcsim.KeyRecordingState)
	}
	for _, s := range []string{f.sentence(), burstAdvice(f, nil)} {
		if !strings.Contains(strings.ToLower(s), "hypothetical") || strings.Contains(s, "ask Genesys") {
			t.Errorf("summary sentence does not say the limit is hypothetical, or asks Genesys to raise it: %s", s)
		}
	}
}

// With the hypothetical recording limit and a tighter token limit (50 per
// minute), the storm names the token limit and its scope.
func TestRecordingBurstTighterProfile(t *testing.T) {
	skipRehearsal(t, "it checks the scenario's finding against a limit set in the simulator's profile")
	p := exampleProfile(t, "hypothetical-recordingstate-limit.json")
	for i := range p.Limits {
		if p.Limits[i].Key == genesys.KeyClientCredentialsToken {
			p.Limits[i].Allowed = 50
		}
	}
	writeTestProfile(t, p)
	var f burstFinding
	runRecordingBurst(t, rigOptions{}, &f, true)
	if f.Key != genesys.KeyClientCredentialsToken || f.Scope != string(genesys.ScopeToken) || f.Allowed != 50 || f.Window != time.Minute {
		t.Errorf("phase (a) named %s (%d per %v, scope %s); want %s (50 per 1m0s, scope token), the tighter limit of the profile",
			f.Key, f.Allowed, f.Window, f.Scope, genesys.KeyClientCredentialsToken)
	}
}

// A profile with a hidden per-endpoint limit (the hypothetical example
// hypothetical-hidden-presence-limit.json): discovery must recover its key,
// figure, window, scope and families exactly from the documented 429 form
// (no window in the message), and write it into the profile of its
// findings.
func TestRateLimitDiscoveryHiddenLimit(t *testing.T) {
	skipRehearsal(t, "it checks that discovery finds a limit hidden in the simulator's profile")
	p := exampleProfile(t, "hypothetical-hidden-presence-limit.json")
	hidden, ok := profileLimit(p, "hypothetical.users.presences.rate.per.minute")
	if !ok || !hidden.Hidden || !hidden.Hypothetical {
		t.Fatalf("the example profile lacks its hidden hypothetical presence limit: %+v", hidden)
	}
	writeTestProfile(t, p)
	out := filepath.Join(t.TempDir(), "discovered.json")
	t.Setenv(EnvProfileOut, out)
	found := runDiscovery(t, rigOptions{}, true)
	got := found[hidden.Key]
	if got == nil {
		t.Fatalf("discovery did not find the hidden limit %s", hidden.Key)
	}
	if got.Allowed != 40 || got.Window != 20*time.Second || got.Scope != "endpoint-user" || !got.Hidden ||
		strings.Join(got.Families, ",") != "users.presences,users.routingstatus" || got.WindowSource == discover.WindowFromMessage {
		t.Errorf("hidden limit recovered as %d per %v (window from %s), scope %s, families %v, hidden %v; want 40 per 20s (not from the message: the documented 429 has no window), endpoint-user, [users.presences users.routingstatus], hidden",
			got.Allowed, got.Window, got.WindowSource, got.Scope, got.Families, got.Hidden)
	}
	written, err := gcsim.LoadProfile(out)
	if err != nil {
		t.Fatalf("the discovered profile does not load: %v", err)
	}
	w, ok := profileLimit(written, hidden.Key)
	if !ok || w.Allowed != 40 || w.Window.Std() != 20*time.Second || w.Scope != genesys.ScopeEndpointUser || !w.Hidden ||
		strings.Join(w.Families, ",") != "users.presences,users.routingstatus" {
		t.Errorf("the discovered profile has %+v for %s; want the hidden limit as found", w, hidden.Key)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}
