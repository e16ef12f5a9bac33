package harness_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness"
)

func TestResolveUserTokens(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "tokens.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`[{"userId": "u1", "accessToken": "AT-SECRET", "refreshToken": "RT-SECRET", "expiresAt": "2030-01-01T00:00:00Z"}]`), 0o600)
	os.WriteFile(bad, []byte("[\n{\"userId\": \"u1\", \"accessToken\": \"AT-SECRET\"}]"), 0o600)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == harness.EnvUserTokens {
				return v
			}
			return ""
		}
	}
	if us, err := harness.ResolveUserTokens(env("")); us != nil || err != nil {
		t.Errorf("unset: %v, %v; want nil, nil", us, err)
	}
	if us, err := harness.ResolveUserTokens(env(good)); err != nil || len(us) != 1 || us[0].UserID != "u1" {
		t.Errorf("good file: %v, %v", us, err)
	}
	_, err := harness.ResolveUserTokens(env(bad))
	if err == nil || !strings.Contains(err.Error(), "CXLOAD_USER_TOKENS") || !strings.Contains(err.Error(), "bad.json:2") ||
		!strings.Contains(err.Error(), "expiresAt") || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("bad file: %v; want the variable, file:line and field, no token", err)
	}
}
