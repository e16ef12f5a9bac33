package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startTarget starts the target handler (or h) on an httptest server and
// returns its URL and a bare client, both closed at cleanup.
func startLoopTarget(tb testing.TB, h http.Handler, conns int) (string, func() sendFunc) {
	tb.Helper()
	srv := httptest.NewServer(h)
	client := newBareClient(conns)
	tb.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	newSend, err := bareSend(client, srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return srv.URL, newSend
}

func TestClosedLoop(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.Handler
		wantErrors bool
	}{
		// The target: every request succeeds.
		{name: "ok", handler: targetHandler()},
		// A failing target: every answer is an error, counted, not fatal.
		{name: "500", handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}), wantErrors: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, newSend := startLoopTarget(t, tt.handler, 4)
			r := closedLoop(context.Background(), 4, 100*time.Millisecond, newSend)
			if r.Requests == 0 {
				t.Fatal("no requests")
			}
			if tt.wantErrors {
				if r.Errors != r.Requests || r.ErrSample != "status 500" {
					t.Errorf("errors %d of %d, sample %q; want all, %q", r.Errors, r.Requests, r.ErrSample, "status 500")
				}
			} else if r.Errors != 0 {
				t.Errorf("errors = %d (%s), want 0", r.Errors, r.ErrSample)
			}
			if r.P50 <= 0 || r.P99 < r.P50 || r.Rate <= 0 || r.COP99 != 0 {
				t.Errorf("p50 %v p99 %v rate %v coP99 %v: want 0 < p50 <= p99, rate > 0, no CO figure", r.P50, r.P99, r.Rate, r.COP99)
			}
		})
	}
}

func TestPacedLoop(t *testing.T) {
	_, newSend := startLoopTarget(t, targetHandler(), 4)
	// 200 ms at 500/s: exactly 100 requests, whatever the timing.
	r := pacedLoop(context.Background(), 4, 200*time.Millisecond, 500, newSend)
	if r.Requests != 100 || r.Errors != 0 {
		t.Errorf("requests, errors = %d, %d (%s), want 100, 0", r.Requests, r.Errors, r.ErrSample)
	}
	// Latency from the due time includes the service time.
	if r.COP99 < r.P99 {
		t.Errorf("CO-corrected p99 %v < service p99 %v", r.COP99, r.P99)
	}
	if r.Rate <= 0 {
		t.Errorf("rate = %v, want > 0", r.Rate)
	}
}

func TestPacedLoopCanceled(t *testing.T) {
	_, newSend := startLoopTarget(t, targetHandler(), 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := pacedLoop(ctx, 2, time.Hour, 1000, newSend); r.Requests != 0 {
		t.Errorf("canceled pacedLoop sent %d requests, want 0", r.Requests)
	}
}

// TestRunBareSmoke runs the command end to end for the bare loop only: the
// target and the loaders are child processes (this test binary, see
// TestMain), 1 s at full speed and 1 s paced.
func TestRunBareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes for 2 s; skipped with -short")
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-only", "bare", "-duration", "1s", "-conns", "4", "-rate", "200", "-runs", "1", "-json"}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run %q: %v\nstderr:\n%s", args, err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, stdout.String())
	}
	if rep.Target != targetRaw {
		t.Errorf("target = %q, want the default %q", rep.Target, targetRaw)
	}
	if len(rep.Closed) != 1 || len(rep.Paced) != 1 {
		t.Fatalf("closed %d rows, paced %d rows; want 1 and 1", len(rep.Closed), len(rep.Paced))
	}
	c, p := rep.Closed[0], rep.Paced[0]
	if c.NotMeasured != "" || c.Requests == 0 || c.Errors != 0 || c.CPU <= 0 || c.MaxRSS <= 0 || c.P99 <= 0 {
		t.Errorf("full speed bare = %+v; want requests, no errors, CPU, RSS, p99", c)
	}
	if p.NotMeasured != "" || p.Requests != 200 || p.Errors != 0 || p.TargetRate != 200 || p.COP99 < p.P99 {
		t.Errorf("paced bare = %+v; want 200 requests at target 200/s, no errors, CO p99 >= p99", p)
	}
	if !strings.Contains(stderr.String(), "peers: target http://127.0.0.1:") {
		t.Errorf("stderr does not name the target: %s", stderr.String())
	}
}

func TestCxload(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		want int64 // exact request count; 0 = any > 0
	}{
		// Full speed: any count, but the recorder must agree with the loop.
		{name: "closed"},
		// 200 ms at 500/s through agent.Open: 100 arrivals, run or dropped.
		{name: "paced", rate: 500, want: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(targetHandler())
			defer srv.Close()
			r, err := runCxload(context.Background(), srv.URL, 4, 200*time.Millisecond, tt.rate)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || (tt.want > 0 && r.Requests != tt.want) {
				t.Errorf("requests = %d, want %d (0: any > 0)", r.Requests, tt.want)
			}
			if tt.rate == 0 && r.Errors != 0 {
				t.Errorf("errors = %d (%s), want 0", r.Errors, r.ErrSample)
			}
			if tt.rate > 0 && r.COP99 < r.P99 {
				t.Errorf("CO-corrected p99 %v < service p99 %v", r.COP99, r.P99)
			}
		})
	}
}

// writeFakeTool writes an executable shell script into dir.
func writeFakeTool(tb testing.TB, dir, name, script string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		tb.Fatal(err)
	}
}

// TestRunFakePeers runs the vegeta and k6 parts end to end with stand-ins
// that log their arguments and answer with the committed samples: the
// plumbing (flags, files, parsing, table) without installing anything.
func TestRunFakePeers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes; skipped with -short")
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	argsLog := filepath.Join(bin, "args.log")
	writeFakeTool(t, bin, "vegeta", `echo "vegeta $*" >> `+argsLog+`
case "$1" in
attack) for a in "$@"; do case "$a" in -output=*) : > "${a#-output=}";; esac; done ;;
report) cat `+filepath.Join(testdata, "vegeta-report.json")+` ;;
encode) cat `+filepath.Join(testdata, "vegeta-paced.jsonl")+` ;;
esac
`)
	writeFakeTool(t, bin, "k6", `echo "k6 $*" >> `+argsLog+`
for a in "$@"; do case "$a" in --summary-export=*) cp `+filepath.Join(testdata, "k6-summary.json")+` "${a#--summary-export=}";; esac; done
`)
	var stdout, stderr bytes.Buffer
	args := []string{"-only", "vegeta,k6", "-duration", "1s", "-conns", "4", "-rate", "40", "-runs", "1", "-bin", bin}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run %q: %v\nstderr:\n%s", args, err, stderr.String())
	}
	out := stdout.String()
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "bare" || f[0] == "cxload") {
			t.Errorf("unselected loader in the output: %q", line)
		}
	}
	for _, want := range []string{
		"19,046",   // the sample report's rate
		"14,966",   // the sample summary's rate
		"20 of 40", // paced: the 20 hits of the sample, of 40 due
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	logged, err := os.ReadFile(argsLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"vegeta attack -targets=", "-rate=0 -duration=1s -workers=4 -max-workers=4 -max-connections=4",
		"-rate=40/1s", "-laddr=127.0.0.1", "vegeta report -type=json", "vegeta encode -to=json",
		"k6 run --quiet --no-color --no-usage-report --address= --summary-export=",
	} {
		if !strings.Contains(string(logged), want) {
			t.Errorf("the tools were not called with %q; calls:\n%s", want, logged)
		}
	}
}

// TestRunCanceled checks that an interrupted run stops its children and
// reports the interruption (and does not panic on the way out).
func TestRunCanceled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process; skipped with -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-only", "bare", "-duration", "1s", "-runs", "1"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("run with a canceled context = %v, want an error saying it was interrupted", err)
	}
}

func TestStartProfile(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "sub", "cxload-full")
	stop, err := startProfile(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{".cpu.pprof", ".allocs.pprof", ".mutex.pprof"} {
		if fi, err := os.Stat(prefix + suffix); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (size %v), want a profile", prefix+suffix, err, fi)
		}
	}
}
