package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestMain doubles as the child processes: run re-executes os.Executable,
// which under go test is this test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childCmd {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestTargetBody(t *testing.T) {
	srv := httptest.NewServer(targetHandler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if body.Len() != 82 {
		t.Errorf("body length = %d, want 82", body.Len())
	}
	if !json.Valid(body.Bytes()) {
		t.Errorf("body %q is not JSON", body.String())
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
}

func TestRatios(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"half", ratio(15000, 30000), 0.5},
		{"unknown base", ratio(1, nan), nan},
		{"zero base", ratio(1, 0), nan},
		{"unknown x", ratio(nan, 2), nan},
		// 10 ms of CPU for 1,000 requests = 0.01 s per 1k.
		{"cpu per 1k", measurement{CPU: 10 * time.Millisecond, Requests: 1000}.cpuPer1k(), 0.01},
		{"cpu per 1k, no requests", measurement{CPU: time.Second}.cpuPer1k(), nan},
		// 4,950 of 5,000 req/s is 1% too slow.
		{"rate error slow", measurement{Rate: 4950, TargetRate: 5000}.rateError(), -1},
		{"rate error fast", measurement{Rate: 5050, TargetRate: 5000}.rateError(), 1},
		{"rate error without target", measurement{Rate: 5000}.rateError(), nan},
	}
	for _, tt := range tests {
		if math.IsNaN(tt.want) != math.IsNaN(tt.got) || (!math.IsNaN(tt.want) && math.Abs(tt.got-tt.want) > 1e-9) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatInt(0), "0"},
		{formatInt(999), "999"},
		{formatInt(1000), "1,000"},
		{formatInt(30120), "30,120"},
		{formatInt(1234567), "1,234,567"},
		{formatInt(-1234), "-1,234"},
		{formatDuration(0), "-"},
		{formatDuration(812 * time.Microsecond), "812µs"},
		{formatDuration(1234 * time.Microsecond), "1.23ms"},
		{formatDuration(45600 * time.Microsecond), "45.6ms"},
		{formatDuration(1200 * time.Millisecond), "1.20s"},
		{formatBytes(0), "-"},
		{formatBytes(12 << 20), "12.0 MiB"},
		{formatRatio(0.654), "0.65×"},
		{formatBusy(0.974), "97%"},
		{formatBusy(0), "-"},
		{formatRatio(math.NaN()), "-"},
		{formatPercent(-0.123), "-0.12%"},
		{formatPercent(-0.001), "0.00%"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

// sampleReport is a fixed report for the golden tables.
func sampleReport() *report {
	return &report{
		Machine: machine{Date: "2026-11-26T17:00:00Z", CPUs: 2, CPU: "Intel(R) Xeon(R) Processor", Go: "go1.26.8 linux/amd64", LoadBefore: "1.50 0.40 0.30", LoadAfter: "2.10 0.60 0.35"},
		Target:  targetRaw,
		Conns:   50, Dur: 10 * time.Second, Runs: 3, Rate: 5000, Pinned: true, CPUs: [2]int{0, 1},
		Closed: []measurement{
			{Loader: "bare", Requests: 300000, Rate: 30000, CPU: 5 * time.Second, P50: 1500 * time.Microsecond, P99: 4 * time.Millisecond, MaxRSS: 20 << 20, AllocsPerReq: 25.04, BytesPerReq: 3001, TargetBusy: 0.874, LoaderBusy: 0.5, Others: 0.061},
			{Loader: "cxload", NotMeasured: "harness/api not built yet"},
			{Loader: "vegeta", Requests: 200000, Rate: 20000, CPU: 6 * time.Second, P50: 2 * time.Millisecond, P99: 12 * time.Millisecond, MaxRSS: 30 << 20, Errors: 3, Note: "-rate=0", Runs: 3, Spread: "19,000 req/s, 20,000 req/s, 21,500 req/s"},
			{Loader: "k6", Requests: 90000, Rate: 9000, CPU: 9 * time.Second, P50: 5 * time.Millisecond, P99: 25 * time.Millisecond, MaxRSS: 120 << 20},
		},
		Paced: []measurement{
			{Loader: "bare", Requests: 50000, Rate: 4999.5, TargetRate: 5000, CPU: 2 * time.Second, P99: 900 * time.Microsecond, COP99: 1100 * time.Microsecond, MaxRSS: 20 << 20},
			{Loader: "cxload", Requests: 50000, Dropped: 20, Errors: 20, Rate: 4990, TargetRate: 5000, CPU: 2 * time.Second, P99: 1 * time.Millisecond, COP99: 2 * time.Millisecond, MaxRSS: 22 << 20},
			{Loader: "vegeta", Requests: 49500, Rate: 4950, TargetRate: 5000, CPU: 3 * time.Second, P99: 1 * time.Millisecond, COP99: 30 * time.Millisecond, MaxRSS: 25 << 20},
		},
	}
}

func TestWriteReportGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := writeReport(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden", buf.Bytes())
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("output differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestParseVegetaReport(t *testing.T) {
	tests := []struct {
		file               string
		requests, errors   int64
		p50, p99           time.Duration
		wantErrSample      bool
		rateFrom, rateUpTo float64
	}{
		// A 500 ms attack at full speed with 4 workers; every answer 200.
		{file: "vegeta-report.json", requests: 9521, errors: 0, p50: 129784, p99: 1048129, rateFrom: 19046, rateUpTo: 19047},
		// Five hits on a closed port: connection refused, status 0.
		{file: "vegeta-report-errors.json", requests: 5, errors: 5, p50: 332858, p99: 432222, wantErrSample: true, rateFrom: 24.9, rateUpTo: 25},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := parseVegetaReport(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != tt.requests || r.Errors != tt.errors || r.P50 != tt.p50 || r.P99 != tt.p99 {
				t.Errorf("parseVegetaReport = requests %d errors %d p50 %v p99 %v, want %d %d %v %v",
					r.Requests, r.Errors, r.P50, r.P99, tt.requests, tt.errors, tt.p50, tt.p99)
			}
			if r.Rate < tt.rateFrom || r.Rate > tt.rateUpTo {
				t.Errorf("rate = %v, want in [%v, %v]", r.Rate, tt.rateFrom, tt.rateUpTo)
			}
			if got := len(r.ErrSamples) > 0; got != tt.wantErrSample {
				t.Errorf("error samples %q, want some: %v", r.ErrSamples, tt.wantErrSample)
			}
		})
	}
	for _, bad := range []string{`not json`, `{}`, `{"requests":3}`} {
		if _, err := parseVegetaReport([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "peers: vegeta report") {
			t.Errorf("parseVegetaReport(%q) error = %v, want one starting with peers: vegeta report", bad, err)
		}
	}
}

func TestParseVegetaResultsSample(t *testing.T) {
	// 500 ms at 40/s with 4 workers: 20 hits, all 200.
	r, err := parseVegetaResults(bytes.NewReader(readTestdata(t, "vegeta-paced.jsonl")), 40)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 20 || r.Errors != 0 {
		t.Errorf("requests, errors = %d, %d, want 20, 0", r.Requests, r.Errors)
	}
	if math.Abs(r.Rate-40) > 0.4 {
		t.Errorf("rate = %v, want 40 within 1%%", r.Rate)
	}
	if r.COP99 < r.P99 {
		t.Errorf("CO-corrected p99 %v < service p99 %v", r.COP99, r.P99)
	}
}

func TestParseVegetaResultsCO(t *testing.T) {
	// At 10/s hits are due every 100 ms. Hit 2 is sent 250 ms late (all
	// workers busy) and takes 1 ms: its CO-corrected latency is 251 ms,
	// its service time 1 ms.
	t0 := time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)
	line := func(seq int, start time.Duration, latency time.Duration, code int, errText string) string {
		return fmt.Sprintf(`{"seq":%d,"code":%d,"timestamp":%q,"latency":%d,"error":%q}`+"\n",
			seq, code, t0.Add(start).Format(time.RFC3339Nano), latency.Nanoseconds(), errText)
	}
	var in strings.Builder
	in.WriteString(line(0, 0, time.Millisecond, 200, ""))
	in.WriteString(line(1, 100*time.Millisecond, time.Millisecond, 200, ""))
	in.WriteString(line(2, 450*time.Millisecond, time.Millisecond, 200, ""))
	in.WriteString(line(3, 450*time.Millisecond, time.Millisecond, 503, ""))
	in.WriteString(line(4, 450*time.Millisecond, time.Millisecond, 0, "connection refused"))
	r, err := parseVegetaResults(strings.NewReader(in.String()), 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 5 || r.Errors != 2 || r.ErrSample != "status 503" {
		t.Errorf("requests %d errors %d sample %q, want 5, 2, %q", r.Requests, r.Errors, r.ErrSample, "status 503")
	}
	// hdrhistogram keeps 3 significant figures.
	if want := 251 * time.Millisecond; r.COP99 < want || r.COP99 > want+want/500 {
		t.Errorf("CO-corrected p99 = %v, want %v", r.COP99, want)
	}
	if want := time.Millisecond; r.P99 < want || r.P99 > want+want/500 {
		t.Errorf("service p99 = %v, want %v", r.P99, want)
	}
	// 5 sends in 450 ms: (5-1)/0.45 s.
	if want := 4 / 0.45; math.Abs(r.Rate-want) > 1e-9 {
		t.Errorf("rate = %v, want %v", r.Rate, want)
	}

	for _, bad := range []string{"", "{", `{"code":200}` + "\n"} {
		if _, err := parseVegetaResults(strings.NewReader(bad), 10); err == nil {
			t.Errorf("parseVegetaResults(%q) = nil error, want one", bad)
		}
	}
}

func TestParseK6Summary(t *testing.T) {
	tests := []struct {
		file             string
		requests, errors int64
		p50, p99         time.Duration
	}{
		// 1 s, 4 VUs against the target.
		{file: "k6-summary.json", requests: 14971, errors: 0, p50: 156276 * time.Nanosecond, p99: 2207504 * time.Nanosecond},
		// 1 s, 4 VUs against a closed port: every request failed.
		{file: "k6-summary-errors.json", requests: 11435, errors: 11435},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := parseK6Summary(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if s.Requests != tt.requests || s.Errors != tt.errors {
				t.Errorf("requests, errors = %d, %d, want %d, %d", s.Requests, s.Errors, tt.requests, tt.errors)
			}
			if tt.p99 != 0 && (absDur(s.P50-tt.p50) > time.Microsecond || absDur(s.P99-tt.p99) > time.Microsecond) {
				t.Errorf("p50, p99 = %v, %v, want %v, %v", s.P50, s.P99, tt.p50, tt.p99)
			}
			if s.Rate <= 0 {
				t.Errorf("rate = %v, want > 0", s.Rate)
			}
		})
	}
	_, err := parseK6Summary([]byte(`{"metrics":{"http_reqs":{"count":1,"rate":1}}}`))
	if err == nil || !strings.Contains(err.Error(), `metrics.http_req_duration["p(99)"]`) {
		t.Errorf("parseK6Summary without http_req_duration: error = %v, want it to name metrics.http_req_duration[\"p(99)\"]", err)
	}
}

func absDur(d time.Duration) time.Duration { return max(d, -d) }

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestK6Script(t *testing.T) {
	s := k6Script("http://127.0.0.1:8080/", 50, 10*time.Second)
	for _, want := range []string{"executor: 'constant-vus'", "vus: 50", "duration: '10000ms'", `http.get("http://127.0.0.1:8080/")`, "'p(99)'"} {
		if !strings.Contains(s, want) {
			t.Errorf("k6Script lacks %q:\n%s", want, s)
		}
	}
}

func TestParseCPUModel(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: other\n"
	if got := parseCPUModel([]byte(info)); got != "Intel(R) Xeon(R) Processor" {
		t.Errorf("parseCPUModel = %q, want the first model name", got)
	}
	if got := parseCPUModel(nil); got != "unknown" {
		t.Errorf("parseCPUModel(nil) = %q, want unknown", got)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // substring; "" = valid
	}{
		{args: nil},
		{args: []string{"-only", "bare, k6", "-duration", "2s", "-conns", "4", "-rate", "0"}},
		{args: []string{"-only", "bare,wrk"}, wantErr: `unknown loader "wrk"`},
		{args: []string{"-only", ","}, wantErr: "names no loader"},
		{args: []string{"-duration", "0s"}, wantErr: "-duration 0s"},
		{args: []string{"-conns", "0"}, wantErr: "-conns 0"},
		{args: []string{"-rate", "-1"}, wantErr: "-rate -1"},
		{args: []string{"-runs", "0"}, wantErr: "-runs 0"},
		{args: []string{"-nice", "-21"}, wantErr: "-nice -21"},
		{args: []string{"extra"}, wantErr: "unexpected arguments"},
		{args: []string{"-target", "nethttp"}},
		{args: []string{"-target", "raw"}},
		{args: []string{"-target", "nginx"}, wantErr: `-target "nginx": want raw or nethttp`},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, new(bytes.Buffer))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseFlags(%q) error = %v, want none", tt.args, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseFlags(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
		case tt.wantErr == "" && len(o.only) == 0:
			t.Errorf("parseFlags(%q) selected no loader", tt.args)
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &stdout, &stderr); err != nil {
		t.Fatalf("run -h = %v, want nil", err)
	}
	if !strings.Contains(stderr.String(), "usage: go run ./peers") || !strings.Contains(stderr.String(), "-duration") {
		t.Errorf("run -h printed %q, want the usage and the flags", stderr.String())
	}
}

// TestInstallFailure checks that a peer that cannot be installed is
// reported, not fatal: PATH holds only a "go" that fails.
func TestInstallFailure(t *testing.T) {
	dir := t.TempDir()
	fakeGo := "#!/bin/sh\necho 'go: module lookup disabled' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	var stderr bytes.Buffer
	o := &options{only: []string{"vegeta"}, bin: filepath.Join(t.TempDir(), "bin"), stderr: &stderr}
	paths, errs := map[string]string{}, map[string]error{}
	cleanup, err := o.ensureTools(context.Background(), paths, errs)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if errs["vegeta"] == nil || !strings.Contains(errs["vegeta"].Error(), "go install github.com/tsenart/vegeta/v12@v12.13.0 failed") ||
		!strings.Contains(errs["vegeta"].Error(), "module lookup disabled") {
		t.Errorf("vegeta install error = %v, want the failed command and its output", errs["vegeta"])
	}
	if _, ok := paths["k6"]; ok || errs["k6"] != nil {
		t.Errorf("k6 was not selected but was looked at: %v %v", paths, errs)
	}
	if !strings.Contains(stderr.String(), "installing: GOBIN=") {
		t.Errorf("no install line printed: %q", stderr.String())
	}
}

func TestPickMedian(t *testing.T) {
	byRate := func(m measurement) float64 { return m.Rate }
	tests := []struct {
		name       string
		runs       []measurement
		wantRate   float64
		wantRuns   int
		wantNote   string // substring
		wantNM     string // NotMeasured
		wantSpread string
	}{
		{name: "odd", runs: []measurement{{Rate: 3}, {Rate: 1}, {Rate: 2}}, wantRate: 2, wantRuns: 3, wantSpread: "1, 2, 3"},
		// An even count takes the lower middle: the conservative figure.
		{name: "even", runs: []measurement{{Rate: 4}, {Rate: 1}, {Rate: 3}, {Rate: 2}}, wantRate: 2, wantRuns: 4},
		{name: "one failed", runs: []measurement{{Rate: 5}, {NotMeasured: "boom"}, {Rate: 7}}, wantRate: 5, wantRuns: 2, wantNote: "1 run(s) failed: boom"},
		{name: "all failed", runs: []measurement{{NotMeasured: "a"}, {NotMeasured: "b"}}, wantNM: "b"},
		{name: "none", runs: nil, wantNM: "no run"},
	}
	for _, tt := range tests {
		m := pickMedian(tt.runs, byRate, func(x float64) string { return formatFloat(x, 0) })
		if tt.wantSpread != "" && m.Spread != tt.wantSpread {
			t.Errorf("%s: spread = %q, want %q", tt.name, m.Spread, tt.wantSpread)
		}
		if m.NotMeasured != tt.wantNM || m.Rate != tt.wantRate || m.Runs != tt.wantRuns || !strings.Contains(m.Note, tt.wantNote) {
			t.Errorf("%s: pickMedian = rate %v runs %d note %q notMeasured %q; want %v %d %q %q",
				tt.name, m.Rate, m.Runs, m.Note, m.NotMeasured, tt.wantRate, tt.wantRuns, tt.wantNote, tt.wantNM)
		}
	}
}

func TestBusy(t *testing.T) {
	tests := []struct {
		loads string
		want  bool
	}{
		{"0.50 2.00 3.00", false}, // only the 1-minute figure counts
		{"1.00 0.10 0.10", true},
		{"10.78 8.02 4.24", true},
		{"", false},
		{"x", false},
	}
	for _, tt := range tests {
		if got := busy(tt.loads); got != tt.want {
			t.Errorf("busy(%q) = %v, want %v", tt.loads, got, tt.want)
		}
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		o    options
		want []string
	}{
		{options{}, []string{"/bin/prog", "a"}},
		{options{taskset: "/usr/bin/taskset"}, []string{"/usr/bin/taskset", "-c", "1", "/bin/prog", "a"}},
		{options{taskset: "/usr/bin/taskset", nice: -10, nicePath: "/usr/bin/nice"},
			[]string{"/usr/bin/nice", "-n", "-10", "/usr/bin/taskset", "-c", "1", "/bin/prog", "a"}},
	}
	for _, tt := range tests {
		cmd := tt.o.command(context.Background(), 1, "/bin/prog", "a")
		if !slices.Equal(cmd.Args, tt.want) {
			t.Errorf("command with taskset %q nice %d = %q, want %q", tt.o.taskset, tt.o.nice, cmd.Args, tt.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"0-1", []int{0, 1}},
		{"2,3", []int{2, 3}},
		{"0-2,8,10-11", []int{0, 1, 2, 8, 10, 11}},
		{"5", []int{5}},
		{"", nil},
		{"1-0", nil},
		{"a-b", nil},
	}
	for _, tt := range tests {
		if got := parseCPUList(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// A real line of /proc/<pid>/stat, with a command name holding a space
	// and a parenthesis: utime 1234 and stime 56 ticks of 10 ms.
	line := "4242 (peers (test) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 56 0 0 20 0 5 0 100 1000000 2000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	got, err := parseProcStatCPU([]byte(line))
	if want := 12900 * time.Millisecond; err != nil || got != want {
		t.Errorf("parseProcStatCPU = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 a b c d"} {
		if _, err := parseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseProcStatCPU(%q) = nil error, want one", bad)
		}
	}
	if d, err := procCPU(os.Getpid()); err != nil || d < 0 {
		t.Errorf("procCPU(self) = %v, %v; want a CPU time", d, err)
	}
}

func TestParseCPUBusy(t *testing.T) {
	stat := "cpu  433729 1172 91306 193699 1400 0 12852 716 0 0\n" +
		"cpu0 219064 568 43464 96612 683 0 6761 362 0 0\n" +
		"cpu1 214664 603 47841 97087 716 0 6091 354 0 0\n" +
		"intr 34554684 0 0\n"
	got, err := parseCPUBusy([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	// Busy = user + nice + system + irq + softirq + steal; idle and iowait are not.
	want := map[int]time.Duration{
		0: (219064 + 568 + 43464 + 0 + 6761 + 362) * 10 * time.Millisecond,
		1: (214664 + 603 + 47841 + 0 + 6091 + 354) * 10 * time.Millisecond,
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("parseCPUBusy = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu0 1 2 x 4 5 6 7 8\n"} {
		if _, err := parseCPUBusy([]byte(bad)); err == nil {
			t.Errorf("parseCPUBusy(%q) = nil error, want one", bad)
		}
	}
}
