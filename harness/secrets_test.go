package harness_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/metrics"
)

// envSecretScenario makes TestSecretScenario run (in a child process).
const envSecretScenario = "CXLOAD_TEST_SECRET_SCENARIO"

// TestNoSecretInOutput runs a scenario in a child `go test -v` process,
// captures everything it prints (stdout and stderr: test logs, slog lines,
// errors, results, the result document) and searches it for the client
// secrets and for every access token the scenario used.
func TestNoSecretInOutput(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "tokens")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSecretScenario$", "-test.v", "-test.count=1")
	cmd.Env = append(cleanEnv(), envSecretScenario+"="+tokFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child scenario failed: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(tokFile)
	if err != nil {
		t.Fatal(err)
	}
	secrets := append([]string{"sim-secret", "wrong-secret-XYZ", "tenant-secret-XYZ"}, strings.Fields(string(raw))...)
	if len(secrets) < 5 {
		t.Fatalf("the scenario reported only %d tokens", len(secrets)-3)
	}
	for _, s := range secrets {
		if strings.Contains(string(out), s) {
			t.Errorf("output contains a secret (%d bytes)", len(s))
		}
	}
	for _, want := range []string{"cxload target: simulator", "cxload-result: ", "[REDACTED]", "429", "auth: token 0"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q: the scenario did not print what it should", want)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

// cleanEnv is the environment without the harness's variables, so the child
// uses the simulator whatever the developer's shell holds.
func cleanEnv() []string {
	drop := map[string]bool{}
	for _, v := range harness.Variables() {
		drop[v] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

// TestSecretScenario prints everything a careless scenario might: it is
// run by TestNoSecretInOutput and skipped otherwise.
func TestSecretScenario(t *testing.T) {
	tokFile := os.Getenv(envSecretScenario)
	if tokFile == "" {
		t.Skip("run by TestNoSecretInOutput")
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	tg := harness.NewTarget(t)
	tg.Start(harness.Plan{Agents: 4, Rate: 10, Duration: 40 * 1e9})
	pool := tg.NewPool(auth.Config{Policy: auth.PerAgent, Agents: 4})
	rec := tg.NewRecorder()
	c := tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: 4, Limits: tg.ObserveLimits(), Retry: api.RetryPolicy{MaxAttempts: 1}})
	var tokens []string
	for a := range 4 {
		tok, err := pool.Token(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok.Value())
		t.Logf("token: %v | %+v | %#v | %s", tok, tok, tok, tok)
		log.Info("token", "tok", tok)
	}
	// A 429 storm on agent 0's token, a revoked token (401, refresh), a 404.
	var last *api.Response
	for range 305 {
		resp, err := c.Agent(0).Do(t.Context(), &api.Request{Route: "/api/v2/routing/queues"})
		if err != nil {
			t.Fatal(err)
		}
		last = resp
	}
	t.Logf("last: %+v", last.Result)
	t.Logf("last headers: %v", last.Header)
	_, _ = c.Agent(1).Do(t.Context(), &api.Request{Method: "DELETE", Route: "/api/v2/tokens/me"})
	resp, err := c.Agent(1).GetJSON(t.Context(), "/api/v2/users/{id}", nil, "nobody")
	t.Logf("after revoke: %v %+v", err, resp.Result)
	tok, _ := pool.Token(t.Context(), 1)
	tokens = append(tokens, tok.Value())
	js, _ := json.Marshal(resp.Result)
	t.Logf("result JSON: %s", js)
	log.Info("result", "res", resp.Result)

	// A pool with a wrong secret: the error and its events.
	bad := tg.NewPool(auth.Config{Clients: []auth.Credentials{{ClientID: "sim-client", Secret: "wrong-secret-XYZ"}}, MaxAttempts: 1,
		OnRefresh: func(e auth.RefreshEvent) { t.Logf("refresh event: %+v", e) }})
	_, err = bad.Token(t.Context(), 0)
	t.Logf("bad pool: %v | %+v | %#v", err, bad, bad)
	bc := tg.NewClient(api.Config{Tokens: bad})
	resp, err = bc.Do(t.Context(), &api.Request{Route: "/api/v2/routing/queues"})
	t.Logf("bad client: %v %+v", err, resp.Result)

	// Configuration, credentials and a refused tenant configuration.
	t.Logf("config: %v | %+v | %#v", tg.Config, tg.Config, tg.Config)
	for _, cr := range tg.Config.Clients {
		t.Logf("creds: %v %+v %#v", cr, cr, cr)
		log.Info("creds", "c", cr)
	}
	_, err = harness.ResolveTarget(func(k string) string {
		return map[string]string{"GENESYSCLOUD_REGION": "eu-west-1", "GENESYSCLOUD_OAUTHCLIENT_ID": "x",
			"GENESYSCLOUD_OAUTHCLIENT_SECRET": "tenant-secret-XYZ"}[k]
	})
	t.Logf("tenant refused: %v", err)
	metrics.Emit(t, rec.Snapshot())
	fmt.Fprintln(os.Stderr, "done")
	if err := os.WriteFile(tokFile, []byte(strings.Join(tokens, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}
