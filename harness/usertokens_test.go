package harness_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/auth"
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

// samlDir writes an assertion file per name into a new directory; the
// assertions are markers that an error must never show.
func samlDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n+".saml"), []byte("ASSERTION-OF-"+n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// CXLOAD_SAML_ASSERTIONS gives the fixture users (or CXLOAD_USER_TOKENS'
// users) per-user tokens by the SAML2 bearer grant; every problem names the
// variable, the path and the fix, never an assertion.
func TestResolveSAMLAssertions(t *testing.T) {
	users := writeFile(t, "users.txt", "u1\n# a comment\nann@example.com\n")
	ok := samlDir(t, "u1", "ann@example.com")
	partial := samlDir(t, "u1")
	empty := samlDir(t, "u1")
	os.WriteFile(filepath.Join(empty, "ann@example.com.saml"), nil, 0o600)
	big := samlDir(t, "u1")
	if err := os.WriteFile(filepath.Join(big, "ann@example.com.saml"), make([]byte, auth.MaxAssertionSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := writeFile(t, "not-a-dir", "")
	tokens := writeFile(t, "tokens.json", `[{"userId": "t1", "refreshToken": "RT-SECRET"}, {"email": "tess@example.com", "refreshToken": "RT-SECRET-2"}]`)
	for _, tc := range []struct {
		name  string
		env   map[string]string
		users []string // the per-user pool's users, by name
		errs  []string // substrings every one of which the error must contain
	}{
		// The fixture file's users, ids and emails, in order.
		{name: "fixture users", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvSAMLAssertions: ok}), users: []string{"u1", "ann@example.com"}},
		// With CXLOAD_USER_TOKENS the users are the file's; each needs an assertion too.
		{name: "with user tokens", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvUserTokens: tokens,
			harness.EnvSAMLAssertions: samlDir(t, "t1", "tess@example.com")}), users: []string{"t1", "tess@example.com"}},
		{name: "user tokens' user without assertion", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvUserTokens: tokens, harness.EnvSAMLAssertions: ok}),
			errs: []string{"no assertion for user t1: expected file " + filepath.Join(ok, "t1.saml"), "tess@example.com"}},
		{name: "no such directory", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvSAMLAssertions: "/nope/saml"}),
			errs: []string{`CXLOAD_SAML_ASSERTIONS="/nope/saml": no such directory`, "<userId or email>.saml"}},
		{name: "not a directory", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvSAMLAssertions: notDir}),
			errs: []string{`CXLOAD_SAML_ASSERTIONS="` + notDir + `": not a directory`}},
		{name: "fixture user without assertion", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvSAMLAssertions: partial}),
			errs: []string{`CXLOAD_SAML_ASSERTIONS="` + partial + `"`, "no assertion for user ann@example.com: expected file " + filepath.Join(partial, "ann@example.com.saml"), "write each test user's base64 SAML assertion"}},
		{name: "empty assertion", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvSAMLAssertions: empty}),
			errs: []string{"user ann@example.com's " + filepath.Join(empty, "ann@example.com.saml") + " is empty"}},
		{name: "assertion over the bound", env: tenantEnv(map[string]string{harness.EnvUsers: users, harness.EnvSAMLAssertions: big}),
			errs: []string{"user ann@example.com's " + filepath.Join(big, "ann@example.com.saml") + " is over 1 MiB (auth.MaxAssertionSize)"}},
		// A group names its users only at run time.
		{name: "group", env: tenantEnv(map[string]string{harness.EnvSAMLAssertions: ok}),
			errs: []string{"CXLOAD_USERS=group:cxload-test-users names its users only at run time", "CXLOAD_USER_TOKENS"}},
		{name: "no users", env: tenantEnv(map[string]string{harness.EnvUsers: "<unset>", harness.EnvSAMLAssertions: ok}),
			errs: []string{`CXLOAD_SAML_ASSERTIONS="` + ok + `": CXLOAD_USERS is not set`}},
		{name: "simulator", env: map[string]string{harness.EnvSAMLAssertions: ok},
			errs: []string{"CXLOAD_SAML_ASSERTIONS is set but the target is the simulator"}},
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
				if strings.Contains(err.Error(), "ASSERTION-OF") || strings.Contains(err.Error(), "RT-SECRET") {
					t.Errorf("error shows an assertion or a token:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveTarget: %v", err)
			}
			var got []string
			for _, u := range cfg.UserTokens {
				got = append(got, u.Name())
			}
			if strings.Join(got, ",") != strings.Join(tc.users, ",") || cfg.SAMLAssertions != tc.env[harness.EnvSAMLAssertions] {
				t.Errorf("UserTokens, SAMLAssertions = %v, %q; want %v, %q", got, cfg.SAMLAssertions, tc.users, tc.env[harness.EnvSAMLAssertions])
			}
		})
	}
}

// A missing-assertions error names a few users and counts the rest, so
// that a wrong directory for thousands of users reads in one line.
func TestResolveSAMLAssertionsManyMissing(t *testing.T) {
	var ids []string
	for i := range 100 {
		ids = append(ids, fmt.Sprintf("user-%03d", i))
	}
	_, err := harness.ResolveTarget(env(tenantEnv(map[string]string{
		harness.EnvUsers: writeFile(t, "users.txt", strings.Join(ids, "\n")), harness.EnvSAMLAssertions: t.TempDir()})))
	if err == nil || !strings.Contains(err.Error(), "no assertion for user user-000") || !strings.Contains(err.Error(), "and 95 more") || strings.Contains(err.Error(), "user-005") {
		t.Errorf("ResolveTarget = %v; want users user-000 to user-004 named and 95 more counted", err)
	}
}
