package harness_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/internal/simtest"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
)

// With CXLOAD_USER_TOKENS, a per-agent pool of the target sends as the
// listed users: agent k's GET /api/v2/users/me answers user k, which only a
// user token can do (a client-credentials token gets 400).
func TestTargetPoolUsesUserTokens(t *testing.T) {
	sim, _ := standIn(t, 5)
	users := []string{gcsim.UserID(3), gcsim.UserID(1)}
	type entry struct {
		UserID       string    `json:"userId"`
		AccessToken  string    `json:"accessToken"`
		RefreshToken string    `json:"refreshToken"`
		ExpiresAt    time.Time `json:"expiresAt"`
	}
	var entries []entry
	for _, id := range users {
		access, refresh, expires := simtest.UserToken(t, sim, id)
		entries = append(entries, entry{id, access, refresh, expires})
	}
	data, _ := json.Marshal(entries)
	e := standInEnv(map[string]string{
		harness.EnvUsers:      writeFile(t, "users.txt", strings.Join(users, "\n")),
		harness.EnvUserTokens: writeFile(t, "tokens.json", string(data)),
	})
	tg := harness.NewTarget(t, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim))
	tg.Start(harness.Plan{Agents: 2, Rate: 1, Duration: 10 * time.Second})
	c := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{Policy: auth.PerAgent, Agents: 2}), Limits: tg.ObserveLimits()})
	for k, want := range users {
		var me struct {
			ID string `json:"id"`
		}
		if _, err := c.Agent(k).GetJSON(t.Context(), "/api/v2/users/me", &me); err != nil {
			t.Fatalf("agent %d: GET /api/v2/users/me: %v", k, err)
		}
		if me.ID != want {
			t.Errorf("agent %d sends as user %s, want %s (CXLOAD_USER_TOKENS' entry %d)", k, me.ID, want, k)
		}
	}
}

// With CXLOAD_SAML_ASSERTIONS on the strict tenant stand-in (no password
// grant, TLS with its own CA), a per-agent pool of the target sends as the
// fixture users of CXLOAD_USERS, in order, with tokens of the SAML2 bearer
// grant; with CXLOAD_USER_TOKENS too, a refused refresh token falls back to
// the user's assertion. GET /api/v2/users/me answers a client-credentials
// token 400, so only a user token passes.
func TestTargetPoolUsesSAMLAssertions(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Directory.Agents = 5
	sim := gcsim.NewTenantStandIn(p, gcsim.TenantMode{})
	t.Cleanup(sim.Close)
	users := []string{gcsim.UserID(3), gcsim.UserID(1)}
	dir := t.TempDir()
	for _, id := range users {
		if err := os.WriteFile(filepath.Join(dir, id+".saml"), []byte(gcsim.SAMLAssertion(id)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	usersFile := writeFile(t, "users.txt", strings.Join(users, "\n"))
	for _, tc := range []struct {
		name     string
		env      map[string]string
		refusals int // refresh_token grants the pool must try first
	}{
		{"assertions", map[string]string{harness.EnvUsers: usersFile, harness.EnvSAMLAssertions: dir}, 0},
		// The file's refresh tokens are refused (the stand-in never issued them).
		{"refused refresh tokens", map[string]string{harness.EnvUsers: usersFile, harness.EnvSAMLAssertions: dir,
			harness.EnvUserTokens: writeFile(t, "tokens.json", `[{"userId": "`+users[0]+`", "refreshToken": "revoked-1"}, {"userId": "`+users[1]+`", "refreshToken": "revoked-2"}]`)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := len(sim.TenantRequests())
			tg := harness.NewTarget(t, harness.WithGetenv(env(standInEnv(tc.env))), harness.WithTenantStandIn(sim))
			tg.Start(harness.Plan{Agents: 2, Rate: 1, Duration: 10 * time.Second})
			c := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{Policy: auth.PerAgent, Agents: 2}), Limits: tg.ObserveLimits()})
			for k, want := range users {
				var me struct {
					ID string `json:"id"`
				}
				if _, err := c.Agent(k).GetJSON(t.Context(), "/api/v2/users/me", &me); err != nil {
					t.Fatalf("agent %d: GET /api/v2/users/me: %v", k, err)
				}
				if me.ID != want {
					t.Errorf("agent %d sends as user %s, want %s (%s's user %d)", k, me.ID, want, harness.EnvUsers, k)
				}
			}
			var refresh, saml int
			for _, r := range sim.TenantRequests()[seen:] {
				if r.Path != "/oauth/token" {
					continue
				}
				switch form, _ := url.ParseQuery(r.Body); form.Get("grant_type") {
				case "refresh_token":
					refresh++
				case auth.GrantSAML2Bearer:
					saml++
				}
			}
			if refresh != tc.refusals || saml != len(users) {
				t.Errorf("token requests: %d refresh_token, %d SAML2 bearer; want %d, %d", refresh, saml, tc.refusals, len(users))
			}
		})
	}
}
