package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/internal/simtest"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const helperEnv = "CXLOAD_RESTORE_HELPER"

// helperUsers are the users the killed run changes.
var helperUsers = []string{gcsim.UserID(2), gcsim.UserID(3)}

// TestHelperKilledRun is the run TestRestoreAfterKill kills: on the
// simulator of CXLOAD_SIM_URL, recording into CXLOAD_STATE_DIR, it puts
// helperUsers On Queue, takes them out of their queues and calls them,
// prints "ready" and waits to be killed.
func TestHelperKilledRun(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper process of TestRestoreAfterKill")
	}
	tg := harness.NewTarget(t)
	tg.Start(harness.Plan{Agents: 2, Rate: 1, Duration: time.Minute})
	c := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{}), Limits: tg.ObserveLimits()})
	ctx := tg.Context()
	onQueue, userTok, _ := strings.Cut(os.Getenv(helperEnv), " ") // the On Queue presence's id, a user's token to place calls
	caller := tg.NewClient(api.Config{Tokens: userToken{auth.NewToken(userTok, "sim-client", time.Now().Add(time.Hour))}, Limits: tg.ObserveLimits()})
	for _, u := range helperUsers {
		if _, err := c.SendJSON(ctx, http.MethodPatch, "/api/v2/users/{id}/presences/{source}",
			map[string]any{"presenceDefinition": map[string]string{"id": onQueue}}, nil, u, "purecloud"); err != nil {
			fmt.Printf("error: On Queue: %v\n", err)
			return
		}
		var qs struct{ Entities []struct{ ID string } }
		if _, err := c.GetJSON(ctx, "/api/v2/users/{id}/queues", &qs, u); err != nil || len(qs.Entities) == 0 {
			fmt.Printf("error: queues of %s: %v\n", u, err)
			return
		}
		if _, err := c.SendJSON(ctx, http.MethodPatch, "/api/v2/users/{id}/queues",
			[]map[string]any{{"id": qs.Entities[0].ID, "joined": false}}, nil, u); err != nil {
			fmt.Printf("error: leaving the queue: %v\n", err)
			return
		}
		var call struct{ ID string }
		if _, err := caller.SendJSON(ctx, http.MethodPost, "/api/v2/conversations/calls", map[string]string{"callUserId": u}, &call); err != nil {
			fmt.Printf("error: call: %v\n", err)
			return
		}
		fmt.Printf("call %s\n", call.ID)
	}
	fmt.Println("ready")
	<-ctx.Done() // killed before
}

// A run killed with SIGKILL leaves its users changed and its state file
// behind; the restore command puts every user back as before the run,
// hangs up its calls and removes the file.
func TestRestoreAfterKill(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Directory.Agents = 6
	sim := gcsim.NewServer(p) // loopback TCP: the helper process reaches it
	defer sim.Close()
	obs := observer(t, sim)
	ctx := t.Context()
	away, onQueue := presence(t, sim, "Away"), presence(t, sim, "On Queue")
	before := map[string]string{}
	for _, u := range helperUsers {
		if _, err := obs.SendJSON(ctx, http.MethodPatch, "/api/v2/users/{id}/presences/{source}",
			map[string]any{"presenceDefinition": map[string]string{"id": away}}, nil, u, "purecloud"); err != nil {
			t.Fatal(err)
		}
		before[u] = userPresence(t, obs, u)
		if !joined(t, obs, u) {
			t.Fatalf("user %s has not joined its queue before the run", u)
		}
	}
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledRun$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+onQueue+" "+newUserToken(t, sim, helperUsers[0]), harness.EnvSimURL+"="+sim.URL(), harness.EnvStateDir+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var calls []string
	sc := bufio.NewScanner(out)
	ready := false
	for !ready && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "call "):
			calls = append(calls, strings.TrimPrefix(line, "call "))
		case line == "ready":
			ready = true
		case strings.HasPrefix(line, "error:"), strings.HasPrefix(line, "--- SKIP"), strings.HasPrefix(line, "--- FAIL"):
			t.Errorf("helper: %s", line)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()
	if !ready {
		t.Fatalf("the helper run did not get ready; its stderr:\n%s", stderr.String())
	}
	for _, u := range helperUsers {
		if userPresence(t, obs, u) == before[u] || joined(t, obs, u) {
			t.Fatalf("user %s is as before after the killed run: the test would prove nothing", u)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "cxload-*.json"))
	if len(files) != 1 {
		t.Fatalf("state files after the kill: %v, want one", files)
	}

	t.Setenv(harness.EnvSimURL, sim.URL())
	for _, k := range []string{"GENESYSCLOUD_REGION", "GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET", harness.EnvTarget, harness.EnvStateDir} {
		t.Setenv(k, "")
	}
	var stdout, errw bytes.Buffer
	if err := run(ctx, &stdout, &errw, []string{"-state", dir}); err != nil {
		t.Fatalf("restore: %v\n%s%s", err, stdout.String(), errw.String())
	}
	t.Logf("restore:\n%s", stdout.String())
	for _, want := range []string{"2 users' presence, 2 queue memberships, 2 calls to hang up", "cxload restore: 2 users' presence, 2 queue memberships, 2 calls hung up"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("restore's output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, u := range helperUsers {
		if got := userPresence(t, obs, u); got != before[u] {
			t.Errorf("user %s's presence after the restore = %s, want %s", u, got, before[u])
		}
		if !joined(t, obs, u) {
			t.Errorf("user %s has not joined its queue again after the restore", u)
		}
	}
	if len(calls) != len(helperUsers) {
		t.Fatalf("the helper placed calls %v, want %d", calls, len(helperUsers))
	}
	for _, id := range calls {
		var conv struct{ EndTime string }
		if _, err := obs.GetJSON(ctx, "/api/v2/conversations/{id}", &conv, id); err != nil || conv.EndTime == "" {
			t.Errorf("call %s after the restore: end %q, %v; want it disconnected", id, conv.EndTime, err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files after the restore: %v, want none", files)
	}
}

// A configuration without a target is refused, naming what to set.
func TestRestoreNeedsTarget(t *testing.T) {
	for _, k := range []string{"GENESYSCLOUD_REGION", "GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET", harness.EnvTarget, harness.EnvSimURL} {
		t.Setenv(k, "")
	}
	var out, errw bytes.Buffer
	err := run(context.Background(), &out, &errw, []string{"-state", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), harness.EnvSimURL) || !strings.Contains(err.Error(), "GENESYSCLOUD_") {
		t.Errorf("restore without a target = %v, want a refusal naming GENESYSCLOUD_* and %s", err, harness.EnvSimURL)
	}
}

func observer(t *testing.T, sim *gcsim.Server) *api.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	pool, err := auth.NewPool(auth.Config{TokenURL: sim.URL() + "/oauth/token", HTTPClient: &http.Client{Transport: tr},
		Clients: []auth.Credentials{{ClientID: "sim-client", Secret: "sim-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.New(api.Config{BaseURL: sim.URL(), Tokens: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func presence(t *testing.T, sim *gcsim.Server, name string) string {
	for _, d := range sim.PresenceDefinitions() {
		if d.Name == name {
			return d.ID
		}
	}
	t.Fatalf("no presence %q", name)
	return ""
}

func userPresence(t *testing.T, c *api.Client, u string) string {
	t.Helper()
	var p struct {
		PresenceDefinition struct{ ID string } `json:"presenceDefinition"`
	}
	if _, err := c.GetJSON(context.Background(), "/api/v2/users/{id}/presences/{source}", &p, u, "purecloud"); err != nil {
		t.Fatal(err)
	}
	return p.PresenceDefinition.ID
}

func joined(t *testing.T, c *api.Client, u string) bool {
	t.Helper()
	var qs struct{ Entities []struct{ Joined bool } }
	if _, err := c.GetJSON(context.Background(), "/api/v2/users/{id}/queues", &qs, u); err != nil || len(qs.Entities) == 0 {
		t.Fatalf("queues of %s: %v", u, err)
	}
	return qs.Entities[0].Joined
}

// userToken is a static token source.
type userToken struct{ tok *auth.Token }

func (u userToken) Token(context.Context, int) (*auth.Token, error) { return u.tok, nil }
func (userToken) Invalidate(*auth.Token)                            {}

// newUserToken returns an access token of the simulator's user id (calls
// need a user).
func newUserToken(t *testing.T, sim *gcsim.Server, id string) string {
	t.Helper()
	access, _, _ := simtest.UserToken(t, sim, id)
	return access
}
