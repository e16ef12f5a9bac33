package secretscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
	"github.com/cxload/cxload/reports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The fake secrets: recognizable, and found nowhere else.
const (
	secret1     = "FAKE-SECRET-7f3a9c"
	secret2     = "FAKE-SECRET-2b8e41"
	password    = "FAKE-PASSWORD-93d1e0"
	wrongSecret = "FAKE-WRONG-SECRET-55aa01"
	userAccess  = "FAKE-USER-ACCESS-TOKEN-4c19d2"
	userRefresh = "FAKE-USER-REFRESH-TOKEN-8e07b3"
	client1     = "scan-client"
	client2     = "scan-client-2"
)

// capture collects every piece of output of the scenario, by name.
type capture struct {
	mu    sync.Mutex
	parts []artifact
}

type artifact struct{ name, text string }

func (c *capture) add(name, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parts = append(c.parts, artifact{name, text})
}

// show records every way a value prints, each as its own artifact
// ("<name> via <way>"): String, GoString, %v, %+v, %#v, %s, %q, and slog's
// text and JSON handlers (which use LogValue, else fmt or encoding/json).
func (c *capture) show(name string, v any) {
	if s, ok := v.(fmt.Stringer); ok {
		c.add(name+" via String", s.String())
	}
	if s, ok := v.(fmt.GoStringer); ok {
		c.add(name+" via GoString", s.GoString())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		c.add(name+" via "+verb, fmt.Sprintf(verb, v))
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("value", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("value", "v", v)
	c.add(name+" via slog text", text.String())
	c.add(name+" via slog JSON", js.String())
}

func (c *capture) err(name string, err error) {
	if err != nil {
		c.add(name, err.Error()+"\n"+fmt.Sprintf("%+v %#v", err, err))
	}
}

// captureTB is a testing.TB whose logs go into the capture (and to the
// real test), and whose Fatal stops the test.
type captureTB struct {
	testing.TB
	c *capture
}

func (tb *captureTB) Helper() {}
func (tb *captureTB) Logf(format string, args ...any) {
	tb.TB.Helper()
	tb.c.add("test log", fmt.Sprintf(format, args...))
}
func (tb *captureTB) Log(args ...any) { tb.Logf("%s", fmt.Sprint(args...)) }
func (tb *captureTB) Errorf(format string, args ...any) {
	tb.c.add("test error", fmt.Sprintf(format, args...))
	tb.TB.Errorf(format, args...)
}
func (tb *captureTB) Error(args ...any) { tb.Errorf("%s", fmt.Sprint(args...)) }
func (tb *captureTB) Fatalf(format string, args ...any) {
	tb.c.add("test fatal", fmt.Sprintf(format, args...))
	tb.TB.Fatalf(format, args...)
}
func (tb *captureTB) Fatal(args ...any) { tb.Fatalf("%s", fmt.Sprint(args...)) }

// lines returns the test log lines captured so far, in order.
func (c *capture) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.parts {
		if p.name == "test log" {
			out = append(out, strings.Split(p.text, "\n")...)
		}
	}
	return out
}

// tokenTap is an http.RoundTripper that keeps every access token the token
// endpoint issues, so that the scan can look for all of them.
type tokenTap struct {
	next   http.RoundTripper
	mu     sync.Mutex
	tokens []string
}

func (tt *tokenTap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tt.next.RoundTrip(req)
	if err != nil || req.URL.Path != "/oauth/token" {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
		tt.mu.Lock()
		tt.tokens = append(tt.tokens, tok.AccessToken)
		tt.mu.Unlock()
	}
	return resp, nil
}

func (tt *tokenTap) issued() []string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]string(nil), tt.tokens...)
}

// scanProfile is the default profile with the fake secrets, a few agents,
// quick heartbeats and some injected 503s, so that error paths print too.
func scanProfile() *gcsim.Profile {
	p := gcsim.DefaultProfile()
	base := p.Clients[0]
	c1, c2 := base, base
	c1.ID, c1.Secret, c1.Name = client1, secret1, "Scan client"
	c2.ID, c2.Secret, c2.Name = client2, secret2, "Scan client 2"
	p.Clients = []gcsim.Client{c1, c2}
	p.Directory.Agents = 12
	p.Directory.AgentPassword = password
	p.Notifications.HeartbeatInterval = gcsim.Duration(time.Second)
	p.Faults.Families = map[string]gcsim.FaultSpec{genesys.FamilyRoutingStatus: {ErrorRate: 0.3, RetryAfter: gcsim.Duration(time.Second)}}
	return p
}

// redirectStd sends os.Stdout and os.Stderr into the capture until the
// returned function is called.
func redirectStd(t *testing.T, c *capture) func() {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan struct{})
	go func() {
		defer close(done)
		b, _ := io.ReadAll(r)
		c.add("stdout/stderr", string(b))
	}()
	return func() {
		os.Stdout, os.Stderr = oldOut, oldErr
		w.Close()
		<-done
		r.Close()
	}
}

// TestNoSecretInAnyOutput runs the scenario and scans everything it printed
// or wrote for the client secrets, the agents' password, a wrong secret
// that was tried, and every access token gcsim issued (whole, or its first
// 12 characters).
func TestNoSecretInAnyOutput(t *testing.T) {
	c := &capture{}
	tap := runScenario(t, c)
	tokens := tap.issued()
	if len(tokens) < 5 {
		t.Fatalf("the scenario got %d tokens from gcsim, want at least 5: the scan would prove little", len(tokens))
	}
	needles := map[string]string{
		secret1: "client secret 1", secret2: "client secret 2", password: "agents' password", wrongSecret: "wrong client secret",
		userAccess: "user access token", userRefresh: "user refresh token",
	}
	for i, tok := range tokens {
		needles[tok] = fmt.Sprintf("access token %d", i+1)
		if len(tok) >= 24 {
			needles[tok[:12]] = fmt.Sprintf("the first 12 characters of access token %d", i+1)
		}
	}
	c.mu.Lock()
	parts := append([]artifact(nil), c.parts...)
	c.mu.Unlock()
	var total int
	names := map[string]bool{}
	for _, p := range parts {
		total += len(p.text)
		names[p.name] = true
	}
	leaks := scan(parts, needles)
	for _, l := range leaks {
		t.Error(l)
	}
	var list []string
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("scanned %d bytes in %d artifacts (%d kinds: %s) for %d secrets and %d tokens: %d leaks",
		total, len(parts), len(list), strings.Join(list, ", "), 4, len(tokens), len(leaks))
}

// scan returns one message per artifact and needle found in it; the
// message shows where, and the needle only by its description.
func scan(parts []artifact, needles map[string]string) []string {
	var out []string
	for _, p := range parts {
		for needle, what := range needles {
			if i := strings.Index(p.text, needle); i >= 0 {
				from, to := max(0, i-60), min(len(p.text), i+len(needle)+20)
				ctx := strings.ReplaceAll(p.text[from:to], needle, "<"+what+">")
				out = append(out, fmt.Sprintf("%s contains %s: ...%s...", p.name, what, ctx))
			}
		}
	}
	sort.Strings(out)
	return out
}

// The scanner finds what it looks for: a planted secret and token, and
// nothing in clean text.
func TestScanFindsPlantedSecrets(t *testing.T) {
	needles := map[string]string{secret1: "client secret 1", "tok-0123456789abcdef": "access token 1"}
	parts := []artifact{
		{"clean", "client scan-client secret [REDACTED] token t-85aeeabadf"},
		{"leaky log", "POST /oauth/token client_secret=" + secret1},
		{"leaky report", `{"err":"Bearer tok-0123456789abcdef"}`},
	}
	got := scan(parts, needles)
	if len(got) != 2 || !strings.HasPrefix(got[0], "leaky log contains client secret 1") ||
		!strings.HasPrefix(got[1], "leaky report contains access token 1") || strings.Contains(strings.Join(got, ""), secret1) {
		t.Fatalf("scan = %q", got)
	}
}

// runScenario drives the harness on gcsim and records everything into c.
// It returns the tap that saw the issued tokens.
func runScenario(t *testing.T, c *capture) *tokenTap {
	t.Helper()
	restore := redirectStd(t, c)
	defer restore()
	tb := &captureTB{TB: t, c: c}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	slogBuf := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(slogBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer func() { c.add("slog", slogBuf.String()) }()

	p := scanProfile()
	c.show("gcsim.Profile", p)
	c.show("gcsim.Client", p.Clients[0])
	c.show("gcsim.Secret", p.Clients[0].Secret)
	if data, err := json.Marshal(p.Faults); err == nil {
		c.add("faults JSON", string(data))
	}

	// 1. The simulator target, its pool, client and recorder.
	tg := harness.NewTarget(tb, harness.WithGetenv(func(string) string { return "" }), harness.WithProfile(p))
	tg.Start(harness.Plan{Agents: 12, Rate: 10, Duration: time.Minute})
	c.show("harness.Config (simulator)", tg.Config)
	tap := &tokenTap{next: api.NewTransport(16)}
	hc := &http.Client{Transport: tap}
	defer hc.CloseIdleConnections()
	pool := tg.NewPool(auth.Config{Policy: auth.PerAgent, Agents: 12, HTTPClient: hc,
		OnRefresh: func(ev auth.RefreshEvent) {
			c.show("auth.RefreshEvent", ev)
			logger.Info("token refreshed", "event", ev)
		}})
	c.show("auth.Pool", pool)
	rec := tg.NewRecorder()
	cl := tg.NewClient(api.Config{Tokens: pool, Recorder: rec, HTTPClient: hc, Agents: 12,
		Retry: api.RetryPolicy{MaxAttempts: 2, Backoff: 10 * time.Millisecond}})
	c.show("api.Client", cl)
	c.show("api.Config", api.Config{BaseURL: tg.APIBase(), Tokens: pool, Recorder: rec, HTTPClient: hc})
	progCtx, stopProg := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		rec.Progress(progCtx, 50*time.Millisecond, func(f string, a ...any) { c.add("progress", fmt.Sprintf(f, a...)) }, nil)
	}()

	// 2. Agents with notification channels, presence and routing changes.
	users, err := agent.LoadUsers(ctx, cl, 12)
	if err != nil {
		t.Fatalf("LoadUsers: %v", err)
	}
	col := notify.NewCollector()
	nopts := notify.Options{API: cl, Collector: col, Recorder: rec, HeartbeatInterval: time.Second, PingInterval: 200 * time.Millisecond}
	c.show("notify.Options", nopts)
	pop, err := agent.NewPopulation(agent.Config{API: cl, Users: users, Channel: agent.NotifyChannels(nopts), PushLatency: true})
	if err != nil {
		t.Fatalf("NewPopulation: %v", err)
	}
	for _, a := range pop.Agents() {
		c.err("agent SubscribeTopics", a.SubscribeTopics(ctx))
		c.err("agent GoOnQueue", a.GoOnQueue(ctx))
		c.err("agent SetPresence", a.SetPresence(ctx, "Away"))
	}
	for i := range 12 {
		tok, err := pool.Token(ctx, i)
		c.err("pool.Token", err)
		if tok != nil {
			c.show("auth.Token", tok)
			logger.Info("token", "token", tok, "agent", i)
		}
	}

	// 3. Error paths: unknown route, a revoked token (401 then refresh),
	// 503s, a wrong secret, a refused channel.
	_, err = cl.GetJSON(ctx, "/api/v2/nothing/{id}", nil, "x")
	c.err("api 404", err)
	if tok, err := pool.Token(ctx, 3); err == nil {
		tg.Sim.RevokeToken(tok.Value())
		_, err = cl.Agent(3).GetJSON(ctx, "/api/v2/routing/queues", nil)
		c.err("api after revoke", err)
	}
	tg.Sim.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{genesys.FamilyQueues: {ErrorRate: 1, RetryAfter: gcsim.Duration(time.Hour)}}})
	resp, err := cl.GetJSON(ctx, "/api/v2/routing/queues", nil)
	c.err("api 503", err)
	if resp != nil {
		c.show("api.Response.Result", resp.Result)
	}
	tg.Sim.SetFaults(gcsim.Faults{})
	// A user tokens file whose refresh token the server refuses.
	utFile := filepath.Join(t.TempDir(), "user-tokens.json")
	utJSON := fmt.Sprintf(`[{"userId": "u-scan", "accessToken": %q, "refreshToken": %q, "expiresAt": "2000-01-01T00:00:00Z"}, {"accessToken": %q}]`, userAccess, userRefresh, userAccess)
	if err := os.WriteFile(utFile, []byte(utJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = auth.ReadUserTokens(utFile)
	c.err("auth.ReadUserTokens (bad entry)", err)
	userToks, err := auth.ParseUserTokens("user-tokens.json", []byte(utJSON[:strings.LastIndex(utJSON, ", {")]+"]"))
	c.err("auth.ParseUserTokens", err)
	for _, u := range userToks {
		c.show("auth.UserToken", u)
	}
	userPool, err := auth.NewPool(auth.Config{TokenURL: tg.TokenURL(), Policy: auth.PerUser, Users: userToks,
		Clients: []auth.Credentials{{ClientID: client1, Secret: secret1}}, HTTPClient: hc, MaxAttempts: 1})
	c.err("auth.NewPool (per user)", err)
	if userPool != nil {
		c.show("auth.Pool (per user)", userPool)
		_, err = userPool.Token(ctx, 0)
		c.err("pool.Token (refused refresh token)", err)
	}
	wrong := auth.Credentials{ClientID: client1, Secret: wrongSecret}
	c.show("auth.Credentials (wrong)", wrong)
	badPool, err := auth.NewPool(auth.Config{TokenURL: tg.TokenURL(), Clients: []auth.Credentials{wrong}, HTTPClient: hc, MaxAttempts: 2, Backoff: time.Millisecond})
	c.err("auth.NewPool (wrong)", err)
	if badPool != nil {
		_, err = badPool.Token(ctx, 0)
		c.err("pool.Token (wrong secret)", err)
		c.show("auth.Pool (wrong)", badPool)
		badClient, err := api.New(api.Config{BaseURL: tg.APIBase(), Tokens: badPool, Recorder: rec, HTTPClient: hc, Scrub: badPool.Scrub})
		c.err("api.New (wrong)", err)
		if badClient != nil {
			resp, err := badClient.Do(ctx, &api.Request{Op: "queues.list", Route: "/api/v2/routing/queues"})
			c.err("api.Do (wrong secret)", err)
			if resp != nil {
				c.show("api.Result (wrong secret)", resp.Result)
			}
		}
	}
	revoked := nopts
	revoked.API = tg.NewClient(api.Config{Tokens: revokedToken{}, Recorder: rec, HTTPClient: hc})
	_, err = notify.Open(ctx, revoked)
	c.err("notify.Open (bad token)", err)
	var se *api.StatusError
	if errors.As(err, &se) {
		c.show("api.StatusError", se)
	}

	// 4. A tenant configuration (never dialed), its guard and a stand-in.
	env := map[string]string{
		harness.EnvRegion: "eu-west-1", harness.EnvClientID: client1, harness.EnvClientSecret: secret1,
		harness.EnvClientID + "_2": client2, harness.EnvClientSecret + "_2": secret2,
		harness.EnvApproval: "CS-424242", harness.EnvRequestBudget: "5000", harness.EnvAllowOutsideWindow: "1",
	}
	tcfg, err := harness.ResolveTarget(func(k string) string { return env[k] })
	c.err("ResolveTarget (tenant)", err)
	c.show("harness.Config (tenant)", tcfg)
	env[harness.EnvClientSecret+"_2"] = ""
	_, err = harness.ResolveTarget(func(k string) string { return env[k] })
	c.err("ResolveTarget (half-set)", err)
	env[harness.EnvClientSecret+"_2"] = secret2
	g := harness.NewGuard(tcfg.Guard, nil, func(f string, a ...any) { c.add("guard log", fmt.Sprintf(f, a...)) })
	c.err("guard.Start", g.Start(harness.Plan{Agents: 2, Rate: 1, Duration: time.Minute}))
	g.Stop("scan: stop")
	c.show("harness.Guard", g)
	g.Close()
	standIn := harness.NewTarget(tb, harness.WithGetenv(func(k string) string { return env[k] }), harness.WithTenantStandIn(tg.Sim), harness.WithReadOnly())
	standIn.Start(harness.Plan{Agents: 1, Rate: 1, Duration: time.Second})
	c.show("harness.Config (stand-in)", standIn.Config)
	spool := standIn.NewPool(auth.Config{HTTPClient: hc})
	scl := standIn.NewClient(api.Config{Tokens: spool, HTTPClient: hc})
	_, err = scl.GetJSON(ctx, "/api/v2/routing/queues", nil)
	c.err("stand-in request", err)
	c.show("auth.Pool (stand-in)", spool)

	// 5. gcsim's own request log, on a second server with the same profile.
	var reqLog lockedBuffer
	sim2 := gcsim.NewUnstartedServer(p)
	sim2.RequestLog = &reqLog
	sim2.Start()
	pool2, err := auth.NewPool(auth.Config{TokenURL: sim2.URL() + "/oauth/token", HTTPClient: hc,
		Clients: []auth.Credentials{{ClientID: client1, Secret: secret1}, {ClientID: client2, Secret: wrongSecret}}, Policy: auth.PerClient, MaxAttempts: 1})
	c.err("auth.NewPool (sim2)", err)
	cl2, _ := api.New(api.Config{BaseURL: sim2.URL(), Tokens: pool2, HTTPClient: hc, Scrub: pool2.Scrub})
	for i := range 2 {
		_, err := cl2.Agent(i).GetJSON(ctx, "/api/v2/users", nil)
		c.err("sim2 request", err)
	}
	statsResp, err := hc.Get(sim2.URL() + "/admin/stats")
	if err == nil {
		b, _ := io.ReadAll(statsResp.Body)
		statsResp.Body.Close()
		c.add("gcsim /admin/stats", string(b))
	}
	cl2.Close()
	sim2.Close()
	c.add("gcsim request log", reqLog.String())

	// 6. The result document, reports and history.
	c.err("population Close", pop.Close())
	stopProg()
	<-progDone
	// Printed once quiet: fmt reads a live value's fields without its locks.
	for _, a := range pop.Agents() {
		c.show("agent.Agent", a)
		c.show("agent.State", a.State())
		if ch := a.Channel(); ch != nil {
			c.show("agent channel", ch)
		}
	}
	c.show("api.Client (after the run)", cl)
	c.show("auth.Pool (after the run)", pool)
	doc := rec.Snapshot() // its websocket part comes from the clients, through rec
	metrics.Emit(tb, doc)
	data, err := doc.Encode()
	c.err("doc.Encode", err)
	c.add("result document", string(data))
	c.show("notify.Stats", col.Stats())

	var stream bytes.Buffer
	enc := json.NewEncoder(&stream)
	enc.Encode(map[string]any{"Action": "run", "Package": "github.com/cxload/cxload/loadtest", "Test": "TestScan"})
	for _, line := range c.lines() {
		enc.Encode(map[string]any{"Action": "output", "Package": "github.com/cxload/cxload/loadtest", "Test": "TestScan", "Output": "    scan_test.go:1: " + line + "\n"})
	}
	enc.Encode(map[string]any{"Action": "fail", "Package": "github.com/cxload/cxload/loadtest", "Test": "TestScan", "Elapsed": 1.5})
	enc.Encode(map[string]any{"Action": "fail", "Package": "github.com/cxload/cxload/loadtest", "Elapsed": 1.6})
	c.add("go test -json stream", stream.String())
	run, err := reports.ReadRun(reports.Env{Commit: "abc", Start: time.Now()}, reports.NamedReader{Name: "scan.json", R: &stream})
	c.err("reports.ReadRun", err)
	if run == nil {
		t.Fatal("no run")
	}
	run.ID = "scan-run"
	dir := t.TempDir()
	h, err := reports.OpenHistory(filepath.Join(dir, "history.jsonl"))
	c.err("OpenHistory", err)
	c.err("history.Append", h.Append(run))
	hist, probs, err := h.Runs()
	c.err("history.Runs", err)
	for _, p := range probs {
		c.add("history problem", p.String())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "history.jsonl")); err == nil {
		c.add("history file", string(b))
	}
	cmp := reports.Compare(hist, run, reports.CompareOptions{})
	report := reports.NewReport(run, cmp, hist)
	for name, render := range map[string]func(io.Writer) error{"Markdown report": report.Markdown, "HTML report": report.HTML, "JSON report": report.JSON,
		"comparison text": cmp.Text, "comparison JSON": cmp.JSON} {
		var b bytes.Buffer
		c.err(name, render(&b))
		c.add(name, b.String())
	}
	c.add("report headline", report.Headline())
	c.show("reports.Run", run)
	return tap
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// revokedToken hands out a token the server does not know.
type revokedToken struct{}

func (revokedToken) Token(context.Context, int) (*auth.Token, error) {
	return auth.NewToken("revoked-or-unknown-token-000000000000", client1, time.Now().Add(time.Hour)), nil
}
func (revokedToken) Invalidate(*auth.Token) {}
