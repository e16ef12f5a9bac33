package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunServes starts the command on a free loopback port, gets a token
// through its banner's URL, then cancels and expects a graceful stop.
func TestRunServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-addr", "127.0.0.1:0", "-log"}, pw, &stderr)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	var banner []string
	base := ""
	for sc.Scan() {
		line := sc.Text()
		banner = append(banner, line)
		if f := strings.Fields(line); len(f) >= 5 && f[0] == "API" {
			base = f[4]
		}
		if strings.HasPrefix(line, "Serving until") {
			break
		}
	}
	text := strings.Join(banner, "\n")
	for _, want := range []string{"ws://127.0.0.1:", "sim-client / sim-secret", "sim-client-2 / sim-secret-2", "organization:       sim-org",
		"rate limits:        token.rate.per.minute 300 per 1m0s, scope token, password tokens",
		"client.credentials.token.rate.per.minute 300 per 1m0s, scope token, client_credentials tokens",
		"org.app.user.rate.per.minute 3000 per 1m0s, scope client-user\n",
		"not documented:     unconfirmed: org.app.user.rate.per.minute counts client-credentials tokens",
		"not documented:     unconfirmed: an agent offered an ACD call is INTERACTING from the alert (switch unconfirmed.interactingAtConnect=false)",
		"admin:              GET /admin/stats, GET|PUT /admin/faults, POST /admin/reset, POST /admin/revoke, POST /admin/calls\n"} {
		if !strings.Contains(text+"\n", want) {
			t.Errorf("banner lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(strings.ToLower(text), "hypothetical") {
		t.Errorf("the default banner shows a hypothetical limit:\n%s", text)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("no base URL in banner:\n%s", text)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	// The banner's call injection, as printed, queues a call.
	_, inject, _ := strings.Cut(text, "inbound calls:      curl -s -H 'Content-Type: application/json' -d '")
	body, target, _ := strings.Cut(inject, "' ")
	target, _, _ = strings.Cut(target, "\n")
	if want := `{"queueId": "` + gcsim.QueueID(0) + `", "count": 1}`; body != want || target != base+"/admin/calls" {
		t.Errorf("banner's call injection: body %q to %q, want %q to %s/admin/calls:\n%s", body, target, want, base, text)
	} else if resp, err := client.Post(target, "application/json", strings.NewReader(body)); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"conversationIds":["`) {
			t.Errorf("the banner's POST /admin/calls: %d %s, want 200 with one conversation id", resp.StatusCode, b)
		}
	}
	resp, err := client.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"sim-client"}, "client_secret": {"sim-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("token: status %d", resp.StatusCode)
	}
	client.CloseIdleConnections()
	go io.Copy(io.Discard, pr) // drain the shutdown lines
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
		// run has returned: the request log is complete.
		if log := stderr.String(); !strings.Contains(log, `POST /oauth/token route="/oauth/token" status=200`) || strings.Contains(log, "sim-secret") {
			t.Errorf("-log output = %q, want the token request and no secret", log)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"limits":[{"key":"k"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"non-loopback", []string{"-addr", "0.0.0.0:8080"}, `-addr "0.0.0.0:8080" is not a loopback address`},
		{"all interfaces", []string{"-addr", ":8080"}, "is not a loopback address"},
		{"no port", []string{"-addr", "127.0.0.1"}, "want host:port"},
		{"bad profile", []string{"-profile", bad}, bad + ": gcsim: profile: limits[0].namespace"},
		{"missing profile", []string{"-profile", filepath.Join(dir, "nope.json")}, "nope.json"},
		{"unknown flag", []string{"-port", "1"}, "flag provided but not defined: -port"},
		{"extra argument", []string{"serve"}, `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) = nil, want an error", tt.args)
			}
			if !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("run(%q) = %v (stderr %q), want %q", tt.args, err, stderr.String(), tt.want)
			}
			if code := exitCode(err, io.Discard); code != 2 {
				t.Errorf("exitCode = %d, want 2", code)
			}
		})
	}
	if code := exitCode(flag.ErrHelp, io.Discard); code != 0 {
		t.Errorf("exitCode(ErrHelp) = %d, want 0", code)
	}
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestPrintProfile(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"-print-profile"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"token.rate.per.minute"`, `"requestBytesMax": 512000`, `"window": "1m0s"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-print-profile lacks %s:\n%s", want, out.String())
		}
	}
}

// TestServeStops: a stop asked by a signal (or the end of ctx) waits for an
// in-flight request only for the grace period, and a second signal stops at
// once. The server is on a pipe, in a synctest bubble: minutes pass at once.
func TestServeStops(t *testing.T) {
	const grace = 5 * time.Second
	tests := []struct {
		name   string
		stop   func(cancel context.CancelFunc, sigs chan<- os.Signal)
		second bool          // send a second signal a second after the first
		want   time.Duration // how long the stop takes
	}{
		{"signal", func(_ context.CancelFunc, sigs chan<- os.Signal) { sigs <- os.Interrupt }, false, grace},
		{"context", func(cancel context.CancelFunc, _ chan<- os.Signal) { cancel() }, false, grace},
		{"second signal", func(_ context.CancelFunc, sigs chan<- os.Signal) { sigs <- os.Interrupt }, true, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := gcsim.DefaultProfile()
				p.Faults.Families = map[string]gcsim.FaultSpec{genesys.FamilyQueues: {
					Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(time.Minute)}}}
				s := gcsim.NewUnstartedServer(p)
				s.Listener.Close()
				s.Listener = gcsim.NewPipeListener()
				s.Start()
				defer s.Close()
				// One request in flight, held a minute by the latency fault.
				inFlight := make(chan error, 1)
				go func() {
					resp, err := s.Client().Get(s.URL() + "/api/v2/routing/queues")
					if err == nil {
						resp.Body.Close()
					}
					inFlight <- err
				}()
				synctest.Wait()

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				sigs := make(chan os.Signal, 2)
				var out strings.Builder
				done := make(chan struct{})
				start := time.Now()
				go func() {
					serve(ctx, sigs, s, grace, &out)
					close(done)
				}()
				tt.stop(cancel, sigs)
				if tt.second {
					time.Sleep(time.Second)
					sigs <- os.Interrupt
				}
				<-done
				if d := time.Since(start); d != tt.want {
					t.Errorf("serve stopped %v after the stop was asked, want %v", d, tt.want)
				}
				if err := <-inFlight; err == nil {
					t.Errorf("the request held a minute was answered; want its connection cut by the stop")
				}
				if !strings.Contains(out.String(), "gcsim: stopped") {
					t.Errorf("serve printed %q, want it to say it stopped", out.String())
				}
			})
		})
	}
}

// TestBannerHypothetical: a hypothetical example profile's banner marks its
// invented limit, and names the unconfirmed switches as set.
func TestBannerHypothetical(t *testing.T) {
	p, err := gcsim.LoadProfile(filepath.Join("examples", "hypothetical-recordingstate-limit.json"))
	if err != nil {
		t.Fatal(err)
	}
	p.Unconfirmed.OrgAppUserClientCredentials = false
	s := gcsim.NewServer(p)
	defer s.Close()
	var b strings.Builder
	printBanner(&b, s, p, true)
	for _, want := range []string{
		gcsim.KeyRecordingState + " 100 per 1m0s, scope endpoint-user, on conversations.recordingstate, hidden (HYPOTHETICAL: no Genesys source)",
		"org.app.user.rate.per.minute 3000 per 1m0s, scope client-user, password tokens",
		"unconfirmed: org.app.user.rate.per.minute does not count client-credentials tokens",
		"hypothetical (no Genesys source): " + gcsim.KeyRecordingState,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
}

// TestEnvProfileWarning: CXLOAD_PROFILE configures only go test's embedded
// simulator; the command names it and -profile when it is set without
// -profile, and says nothing when -profile is given.
func TestEnvProfileWarning(t *testing.T) {
	t.Setenv(envProfile, "my.json")
	var stderr strings.Builder
	if err := run(context.Background(), []string{"-print-profile"}, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "CXLOAD_PROFILE=my.json is ignored here (only go test's embedded simulator reads it); pass -profile my.json"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
	prof := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(prof, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if err := run(context.Background(), []string{"-profile", prof, "-print-profile"}, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), envProfile) {
		t.Errorf("with -profile, stderr = %q, want no word of %s", stderr.String(), envProfile)
	}
}
