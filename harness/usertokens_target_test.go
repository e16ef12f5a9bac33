package harness_test

import (
	"encoding/json"
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
