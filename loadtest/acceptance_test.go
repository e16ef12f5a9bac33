//go:build load

package loadtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/gcsim"
)

// writeTestProfile writes p to a file in t's temp dir and points
// CXLOAD_PROFILE at it, as a user would.
func writeTestProfile(t *testing.T, p *gcsim.Profile) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := writeProfile(path, p); err != nil {
		t.Fatal(err)
	}
	t.Setenv(harness.EnvProfile, path)
	return path
}

// With a profile whose token limit (50 per minute) is tighter than the
// recording-state limit (100), the storm of phase (a) must name the token
// limit and its scope.
func TestRecordingBurstTighterProfile(t *testing.T) {
	p := gcsim.DefaultProfile()
	for i := range p.Limits {
		if p.Limits[i].Key == gcsim.KeyClientCredentials {
			p.Limits[i].Allowed = 50
		}
	}
	writeTestProfile(t, p)
	var f burstFinding
	runRecordingBurst(t, rigOptions{}, &f, true)
	if f.Key != gcsim.KeyClientCredentials || f.Scope != string(gcsim.ScopeToken) || f.Allowed != 50 || f.Window != time.Minute {
		t.Errorf("phase (a) named %s (%d per %v, scope %s); want %s (50 per 1m0s, scope token), the tighter limit of the profile",
			f.Key, f.Allowed, f.Window, f.Scope, gcsim.KeyClientCredentials)
	}
}

// A profile with a hidden per-endpoint limit: discovery must recover its
// key, figure, window, scope and families exactly, and write it into the
// profile of its findings.
func TestRateLimitDiscoveryHiddenLimit(t *testing.T) {
	hidden := gcsim.Limit{Key: "users.presences.rate.per.minute", Namespace: "users", Scope: gcsim.ScopeEndpointUser,
		Allowed: 40, Window: gcsim.Duration(20 * time.Second), Families: []string{gcsim.FamilyPresence, gcsim.FamilyRoutingStatus}, Hidden: true}
	p := gcsim.DefaultProfile()
	p.Limits = append(p.Limits, hidden)
	writeTestProfile(t, p)
	out := filepath.Join(t.TempDir(), "discovered.json")
	t.Setenv(EnvProfileOut, out)
	found := runDiscovery(t, rigOptions{}, true)
	got := found[hidden.Key]
	if got == nil {
		t.Fatalf("discovery did not find the hidden limit %s", hidden.Key)
	}
	if got.Allowed != 40 || got.Window != 20*time.Second || got.Scope != "endpoint-user" || !got.Hidden ||
		strings.Join(got.Families, ",") != "users.presences,users.routingstatus" {
		t.Errorf("hidden limit recovered as %d per %v, scope %s, families %v, hidden %v; want 40 per 20s, endpoint-user, [users.presences users.routingstatus], hidden",
			got.Allowed, got.Window, got.Scope, got.Families, got.Hidden)
	}
	written, err := gcsim.LoadProfile(out)
	if err != nil {
		t.Fatalf("the discovered profile does not load: %v", err)
	}
	w, ok := profileLimit(written, hidden.Key)
	if !ok || w.Allowed != 40 || w.Window.Std() != 20*time.Second || w.Scope != gcsim.ScopeEndpointUser || !w.Hidden ||
		strings.Join(w.Families, ",") != "users.presences,users.routingstatus" {
		t.Errorf("the discovered profile has %+v for %s; want the hidden limit as found", w, hidden.Key)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}
