package harness_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
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

// observer returns a client of sim outside any run, to read and set users
// as an administrator would.
func observer(t *testing.T, sim *gcsim.Server) *api.Client {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: sim.DialContext}}
	pool, err := auth.NewPool(auth.Config{TokenURL: sim.URL() + "/oauth/token", HTTPClient: hc,
		Clients: []auth.Credentials{{ClientID: "sim-client", Secret: "sim-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.New(api.Config{BaseURL: sim.URL(), Tokens: pool, Dial: sim.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func presenceID(t *testing.T, sim *gcsim.Server, name string) string {
	t.Helper()
	for _, p := range sim.PresenceDefinitions() {
		if strings.EqualFold(p.Name, name) || strings.EqualFold(p.SystemPresence, name) {
			return p.ID
		}
	}
	t.Fatalf("the simulator has no presence %q", name)
	return ""
}

// userState is what a run may change on a user.
type userState struct {
	Presence string          // presence definition id
	Joined   map[string]bool // queue id → joined
}

func readUser(t *testing.T, c *api.Client, user string) userState {
	t.Helper()
	ctx := context.Background()
	var p struct {
		PresenceDefinition struct{ ID string } `json:"presenceDefinition"`
	}
	if _, err := c.GetJSON(ctx, "/api/v2/users/{id}/presences/{source}", &p, user, "purecloud"); err != nil {
		t.Fatalf("reading user %s's presence: %v", user, err)
	}
	var qs struct {
		Entities []struct {
			ID     string
			Joined bool
		}
	}
	if _, err := c.GetJSON(ctx, "/api/v2/users/{id}/queues", &qs, user); err != nil {
		t.Fatalf("reading user %s's queues: %v", user, err)
	}
	st := userState{Presence: p.PresenceDefinition.ID, Joined: map[string]bool{}}
	for _, q := range qs.Entities {
		st.Joined[q.ID] = q.Joined
	}
	return st
}

func setUserPresence(ctx context.Context, c *api.Client, user, id string) error {
	_, err := c.SendJSON(ctx, http.MethodPatch, "/api/v2/users/{id}/presences/{source}",
		map[string]any{"presenceDefinition": map[string]string{"id": id}}, nil, user, "purecloud")
	return err
}

// changeUsers does to each user what the scenarios do: On Queue, leave its
// queues, a call placed to it. It returns the calls' ids.
func changeUsers(t *testing.T, ctx context.Context, c, caller *api.Client, sim *gcsim.Server, users []string) []string {
	t.Helper()
	var calls []string
	for _, u := range users {
		if err := setUserPresence(ctx, c, u, presenceID(t, sim, "On Queue")); err != nil {
			t.Fatalf("On Queue for %s: %v", u, err)
		}
		var body []map[string]any
		for q := range readUser(t, c, u).Joined {
			body = append(body, map[string]any{"id": q, "joined": false})
		}
		if _, err := c.SendJSON(ctx, http.MethodPatch, "/api/v2/users/{id}/queues", body, nil, u); err != nil {
			t.Fatalf("leaving %s's queues: %v", u, err)
		}
		var out struct{ ID string }
		if _, err := caller.SendJSON(ctx, http.MethodPost, "/api/v2/conversations/calls", map[string]string{"callUserId": u}, &out); err != nil {
			t.Fatalf("a call to %s: %v", u, err)
		}
		calls = append(calls, out.ID)
	}
	return calls
}

// checkRestored fails t unless every user is as before and every call ended.
func checkRestored(t *testing.T, obs *api.Client, before map[string]userState, calls []string) {
	t.Helper()
	for u, want := range before {
		got := readUser(t, obs, u)
		if got.Presence != want.Presence {
			t.Errorf("user %s's presence after the run = %s, want %s as before", u, got.Presence, want.Presence)
		}
		for q, j := range want.Joined {
			if got.Joined[q] != j {
				t.Errorf("user %s's queue %s: joined = %v after the run, want %v as before", u, q, got.Joined[q], j)
			}
		}
	}
	for _, id := range calls {
		var conv struct{ EndTime string }
		if _, err := obs.GetJSON(context.Background(), "/api/v2/conversations/{id}", &conv, id); err != nil {
			t.Errorf("reading call %s: %v", id, err)
		} else if conv.EndTime == "" {
			t.Errorf("call %s placed by the run is still up after it, want it disconnected", id)
		}
	}
}

// restoreRig is a tenant configuration on a stand-in of 6 users: 2
// fixture users, Away before the run, every write kind the run makes
// allowed, its state files in a directory of the test's.
func restoreRig(t *testing.T, changes map[string]string) (sim *gcsim.Server, e map[string]string, users []string, before map[string]userState, dir string) {
	t.Helper()
	sim, _ = standIn(t, 6)
	users = []string{gcsim.UserID(1), gcsim.UserID(4)}
	dir = t.TempDir()
	all := sim.Users()
	e = standInEnv(map[string]string{harness.EnvUsers: writeFile(t, "users.txt", strings.Join(users, "\n")),
		harness.EnvQueues: all[1].QueueID + "," + all[4].QueueID, harness.EnvAllowWrites: "presence,queues,calls", harness.EnvStateDir: dir})
	for k, v := range changes {
		e[k] = v
	}
	obs := observer(t, sim)
	before = map[string]userState{}
	for _, u := range users {
		if err := setUserPresence(t.Context(), obs, u, presenceID(t, sim, "Away")); err != nil {
			t.Fatal(err)
		}
		before[u] = readUser(t, obs, u)
	}
	return sim, e, users, before, dir
}

// userToken is a token of the simulator's user id (calls need a user).
type userToken struct{ tok *auth.Token }

func (u userToken) Token(context.Context, int) (*auth.Token, error) { return u.tok, nil }
func (userToken) Invalidate(*auth.Token)                            {}

func newUserToken(t *testing.T, sim *gcsim.Server, id string) userToken {
	t.Helper()
	access, _, _ := simtest.UserToken(t, sim, id)
	return userToken{auth.NewToken(access, "sim-client", time.Now().Add(time.Hour))}
}

// openRun opens a tenant run on sim and loads its 2 fixture users; it
// returns the run's client and one sending as the first user (to place
// calls), both through the run's guard.
func openRun(t *testing.T, sim *gcsim.Server, e map[string]string, logf func(string, ...any)) (*harness.Target, *api.Client, *api.Client) {
	t.Helper()
	tg, err := harness.Open(t.Context(), harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim), harness.WithLogf(logf), harness.WithName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	if err := tg.Begin(harness.Plan{Agents: 2, Rate: 1, Duration: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	c, err := tg.Client(api.Config{Tokens: tg.NewPool(auth.Config{}), Limits: tg.ObserveLimits()})
	if err != nil {
		t.Fatal(err)
	}
	users, err := tg.Users(t.Context(), c, 2)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := tg.Client(api.Config{Tokens: newUserToken(t, sim, users[0].ID), Limits: tg.ObserveLimits()})
	if err != nil {
		t.Fatal(err)
	}
	return tg, c, caller
}

// A tenant run that ends normally puts back every user it changed
// (presence, queue memberships) and hangs up the calls it placed, says so
// in one line and removes its state file; while it runs, the state file
// holds the users' state before the run, and no secret.
func TestRestoreAfterNormalEnd(t *testing.T) {
	sim, e, users, before, dir := restoreRig(t, nil)
	var lines syncBuffer
	tg, c, caller := openRun(t, sim, e, func(f string, a ...any) {
		t.Logf(f, a...)
		lines.Write([]byte(strings.TrimSpace(fmt.Sprintf(f, a...)) + "\n"))
	})
	calls := changeUsers(t, t.Context(), c, caller, sim, users)

	files, _ := filepath.Glob(filepath.Join(dir, "cxload-*.json"))
	if len(files) != 1 {
		t.Fatalf("state files during the run: %v, want one", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sim-secret", "Bearer", "token"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the state file holds %q:\n%s", secret, data)
		}
	}
	var st harness.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state file: %v", err)
	}
	for _, u := range users {
		if st.Presence[u] != before[u].Presence {
			t.Errorf("state file: user %s's presence %q, want %q (before the run)", u, st.Presence[u], before[u].Presence)
		}
		for q, j := range before[u].Joined {
			if got, ok := st.Queues[u][q]; !ok || got != j {
				t.Errorf("state file: user %s's queue %s joined = %v (recorded %v), want %v", u, q, got, ok, j)
			}
		}
	}
	if len(st.Calls) != len(calls) {
		t.Errorf("state file: calls %v, want %v", st.Calls, calls)
	}

	if err := tg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkRestored(t, observer(t, sim), before, calls)
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files after the restore: %v, want none", files)
	}
	want := "cxload restore: 2 users' presence, 2 queue memberships, 2 calls hung up; state file removed"
	if !strings.Contains(strings.Join(lines.lines(), "\n"), want) {
		t.Errorf("log:\n%s\nwant the line %q", strings.Join(lines.lines(), "\n"), want)
	}
}

// A run the guard stopped (its budget spent mid-run) is still restored:
// the restore has its own reserve, outside the spent budget and the stop.
func TestRestoreAfterGuardStop(t *testing.T) {
	sim, e, users, before, dir := restoreRig(t, map[string]string{harness.EnvRequestBudget: "40"})
	tg, c, caller := openRun(t, sim, e, t.Logf)
	calls := changeUsers(t, t.Context(), c, caller, sim, users)
	for i := 0; i < 100 && tg.Guard.Verdict() == ""; i++ {
		c.GetJSON(tg.Context(), "/api/v2/users/{id}/routingstatus", nil, users[0])
	}
	if tg.Guard.Verdict() == "" {
		t.Fatalf("the guard did not stop the run (budget 40, %d used)", tg.Guard.Used())
	}
	err := setUserPresence(tg.Context(), c, users[0], presenceID(t, sim, "Break"))
	if !errors.Is(err, harness.ErrStopped) && tg.Context().Err() == nil {
		t.Fatalf("a write after the stop: %v, want it refused", err)
	}
	err = tg.Close()
	if err == nil || !strings.Contains(err.Error(), "budget spent") {
		t.Errorf("Close after the stop = %v, want the guard's verdict", err)
	}
	if err != nil && strings.Contains(err.Error(), "restore") {
		t.Errorf("Close after the stop: %v, want the restore to succeed", err)
	}
	checkRestored(t, observer(t, sim), before, calls)
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files after the restore: %v, want none", files)
	}
}

// interruptHelperEnv runs TestHelperInterruptedRun: "closes:" or
// "stuck:", then the state directory.
const interruptHelperEnv = "CXLOAD_INTERRUPT_HELPER"

// TestHelperInterruptedRun is the run TestRestoreAfterSIGINT interrupts: a
// tenant run on a stand-in of its own, recording into the state directory
// of CXLOAD_INTERRUPT_HELPER, sets a fixture user's presence to On Queue,
// prints "ready" and runs until SIGINT ends it. Then it closes the target,
// as a scenario's cleanup does ("closes:"), or never does, as a scenario
// stuck in a call that ignores its context ("stuck:"); it prints the user's
// presence before and after and the code the harness exits with. Every log
// line of the target goes to its standard output.
func TestHelperInterruptedRun(t *testing.T) {
	mode, dir, _ := strings.Cut(os.Getenv(interruptHelperEnv), ":")
	if dir == "" {
		t.Skip("helper process of TestRestoreAfterSIGINT")
	}
	codes := make(chan int, 1)
	harness.SetExit(func(code int) { codes <- code; select {} }) // the test exits, once it has looked
	harness.SetSignalGrace(200 * time.Millisecond)
	sim, e, users, before, _ := restoreRig(t, map[string]string{harness.EnvStateDir: dir})
	logf := func(f string, a ...any) { fmt.Printf(strings.TrimSpace(f)+"\n", a...) }
	tg, c, _ := openRun(t, sim, e, logf)
	u := users[0]
	if err := setUserPresence(tg.Context(), c, u, presenceID(t, sim, "On Queue")); err != nil {
		fmt.Printf("error: On Queue: %v\n", err)
		os.Exit(2)
	}
	obs := observer(t, sim)
	fmt.Printf("before %s\nduring %s\nready\n", before[u].Presence, readUser(t, obs, u).Presence)
	<-tg.Context().Done()
	fmt.Printf("cause %v\n", context.Cause(tg.Context()))
	if mode == "closes" {
		if err := tg.Close(); err != nil {
			fmt.Printf("close: %v\n", err)
		}
	}
	select {
	case code := <-codes:
		fmt.Printf("after %s\nexit %d\n", readUser(t, obs, u).Presence, code)
		os.Exit(code)
	case <-time.After(time.Minute):
		fmt.Println("error: the harness did not end the process after the restore")
		os.Exit(2)
	}
}

// A tenant run interrupted with SIGINT restores what it changed before the
// process exits, whether the scenario then closes its target or never
// does: the user's presence is back as before the run, the
// "cxload restore:" line is printed, the state file is removed, and the
// process exits with status 1.
func TestRestoreAfterSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a helper process")
	}
	for _, mode := range []string{"closes", "stuck"} {
		t.Run(mode, func(t *testing.T) { interruptHelper(t, mode) })
	}
}

func interruptHelper(t *testing.T, mode string) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInterruptedRun$", "-test.count=1")
	cmd.Env = append(os.Environ(), interruptHelperEnv+"="+mode+":"+dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	sc := bufio.NewScanner(out)
	got := map[string]string{}
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if k, v, ok := strings.Cut(line, " "); ok && (k == "before" || k == "during" || k == "after" || k == "exit") {
			got[k] = v
		}
		if strings.HasPrefix(line, "error:") {
			t.Fatalf("helper: %s\nstderr:\n%s", line, strings.Join(stderr.lines(), "\n"))
		}
		if line == "ready" {
			if got["during"] == got["before"] {
				t.Fatalf("the helper's change left the presence as before (%s): the test would prove nothing", got["before"])
			}
			files, _ := filepath.Glob(filepath.Join(dir, "cxload-*.json"))
			if len(files) != 1 {
				t.Fatalf("state files while the run changes a user: %v, want one", files)
			}
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	killed = true
	all := strings.Join(lines, "\n")
	t.Logf("the helper's output:\n%s", all)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("the interrupted helper ended with %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, all, strings.Join(stderr.lines(), "\n"))
	}
	if got["exit"] != "1" {
		t.Errorf("the harness ended the process with code %q, want 1", got["exit"])
	}
	if got["after"] != got["before"] {
		t.Errorf("presence after SIGINT = %q, want %q as before the run\nstdout:\n%s", got["after"], got["before"], all)
	}
	for _, want := range []string{"cxload: interrupt: ending the run and restoring", "cxload restore: 1 users' presence, 0 queue memberships, 0 calls hung up; state file removed"} {
		if !strings.Contains(all, want) {
			t.Errorf("the helper's output lacks %q:\n%s", want, all)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files after the interrupted run: %v, want none", files)
	}
}

// TestHelperTimedOutRun is the run TestRestoreBeforeTimeout starts with a
// short -test.timeout: a tenant run of NewTarget on a stand-in of its own
// sets a fixture user's presence to On Queue and waits for its context,
// as a scenario does. It prints the presence before and during, and, after
// its target is closed by the test's cleanup, after.
func TestHelperTimedOutRun(t *testing.T) {
	dir := os.Getenv(timeoutHelperEnv)
	if dir == "" {
		t.Skip("helper process of TestRestoreBeforeTimeout")
	}
	sim, e, users, before, _ := restoreRig(t, map[string]string{harness.EnvStateDir: dir})
	obs := observer(t, sim) // registered before the target: its cleanup runs after the target's
	t.Cleanup(func() { fmt.Printf("after %s\n", readUser(t, obs, users[0]).Presence) })
	logf := func(f string, a ...any) { fmt.Printf(strings.TrimSpace(f)+"\n", a...) }
	tg := harness.NewTarget(t, harness.WithGetenv(env(e)), harness.WithTenantStandIn(sim), harness.WithLogf(logf))
	tg.Start(harness.Plan{Agents: 2, Rate: 1, Duration: time.Minute})
	c := tg.NewClient(api.Config{Tokens: tg.NewPool(auth.Config{}), Limits: tg.ObserveLimits()})
	u := users[0]
	if err := setUserPresence(tg.Context(), c, u, presenceID(t, sim, "On Queue")); err != nil {
		t.Fatalf("On Queue: %v", err)
	}
	fmt.Printf("before %s\nduring %s\n", before[u].Presence, readUser(t, obs, u).Presence)
	select {
	case <-tg.Context().Done():
	case <-time.After(time.Minute):
	}
}

const timeoutHelperEnv = "CXLOAD_TIMEOUT_HELPER"

// A test run with go test -timeout stops its run a reserve before the
// deadline and restores what it changed, instead of being killed by the
// timeout's panic with its users left as it changed them: the test fails,
// naming -timeout, the user's presence is back and the state file gone.
func TestRestoreBeforeTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a helper process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTimedOutRun$", "-test.count=1", "-test.v", "-test.timeout=8s")
	cmd.Env = append(os.Environ(), timeoutHelperEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	all := string(out)
	t.Logf("the helper's output:\n%s", all)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("the helper ended with %v, want exit status 1 (the test fails, naming -timeout)", err)
	}
	if strings.Contains(all, "panic: test timed out") {
		t.Fatalf("the helper was killed by go test's timeout: nothing was restored")
	}
	got := map[string]string{}
	for _, line := range strings.Split(all, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && (k == "before" || k == "during" || k == "after") {
			got[k] = v
		}
	}
	if got["during"] == "" || got["during"] == got["before"] {
		t.Fatalf("the helper's change: before %q, during %q: the test would prove nothing", got["before"], got["during"])
	}
	if got["after"] != got["before"] {
		t.Errorf("presence after the run = %q, want %q as before it", got["after"], got["before"])
	}
	for _, want := range []string{"go test -timeout is", "raise -timeout", "cxload restore: 1 users' presence"} {
		if !strings.Contains(all, want) {
			t.Errorf("the helper's output lacks %q", want)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files after the run: %v, want none", files)
	}
}
