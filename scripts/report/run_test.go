package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cxload/cxload/reports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testdata = "../../reports/testdata/"

// cleanEnv makes the environment of a test run predictable: no GitHub
// variables, no git lookups (the commit is given).
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"GITHUB_SHA", "GITHUB_REF_NAME", "GITHUB_HEAD_REF", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT",
		"GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_STEP_SUMMARY", "CXLOAD_LABELS", "CXLOAD_SHARD", "CXLOAD_RUN_ID"} {
		t.Setenv(k, "")
	}
	t.Setenv("CXLOAD_COMMIT", "0123456789abcdef")
	t.Setenv("CXLOAD_BRANCH", "test")
}

type cmdResult struct {
	err            error
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, stdin string, args ...string) cmdResult {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	var codeBuf bytes.Buffer
	code := exitCode(err, &codeBuf)
	return cmdResult{err, code, out.String(), errb.String() + codeBuf.String()}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestRunExitCodes(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		code     int
		stdout   []string // substrings
		stderr   []string
		noStdout bool
	}{
		{
			// A passing run from a pipe: Markdown on stdout, progress on stderr.
			name: "pipe passes", stdin: readFile(t, testdata+"scenario-old.json"), code: 0,
			stdout: []string{"# cxload report: ✅ 7 passed, 1 skipped", "### TestAgentsSharded [region=sim]", "`token.rate.per.minute`"},
			stderr: []string{"▶ TestRecordingBurst", "✔ TestRecordingBurst", "TestRecordingBurst/shared-token: shared-token: 1/3 intervals", "– TestSkipped skipped", "ok   github.com/cxload/cxload/reports/testdata/capture/scenario"},
		},
		{
			// Failed tests and builds: exit 1, and the reason.
			name: "failures", args: []string{testdata + "failures.json"}, code: 1,
			stdout: []string{"## Failures", "**TestPanics**", "build failed"},
			stderr: []string{"report: 3 tests failed, 1 builds failed", "could not be read; the first: " + testdata + "failures.json:83"},
		},
		{
			// -fail-on none reports but exits 0.
			name: "fail-on none", args: []string{"-fail-on", "none", testdata + "failures.json"}, code: 0,
			stdout: []string{"## Failures"},
		},
		{
			// No progress when reading files.
			name: "files no progress", args: []string{testdata + "bench-old.json"}, code: 0,
			stdout: []string{"## Benchmarks", "| Hash/size=64-2 | sec/op |"},
		},
		{
			// Empty input is not a pass.
			name: "empty input", stdin: "", code: 1,
			stdout: []string{"no test results in the input"}, stderr: []string{"the input has no test results"},
		},
		{name: "bad fail-on", args: []string{"-fail-on", "sometimes"}, code: 2, stderr: []string{`-fail-on "sometimes": want tests, regressions or none`}, noStdout: true},
		{name: "bad labels", args: []string{"-labels", "x"}, code: 2, stderr: []string{`-labels: label 1 "x": want key=value`}, noStdout: true},
		{name: "baseline without history", args: []string{"-baseline", "median:3"}, code: 2, stderr: []string{"-baseline needs -history"}, noStdout: true},
		{name: "missing file", args: []string{"nope.json"}, code: 1, stderr: []string{"nope.json"}, noStdout: true},
		{name: "compare arity", args: []string{"compare", "a"}, code: 2, stderr: []string{"compare wants two arguments, OLD and NEW; got 1"}},
		{name: "compare format", args: []string{"compare", "-format", "xml", "a", "b"}, code: 2, stderr: []string{`-format "xml"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.code, r.code, "exit code; err=%v stderr=%s", r.err, r.stderr)
			for _, s := range tc.stdout {
				assert.Contains(t, r.stdout, s)
			}
			for _, s := range tc.stderr {
				assert.Contains(t, r.stderr, s)
			}
			if tc.noStdout {
				assert.Empty(t, r.stdout)
			}
		})
	}
}

// TestHelp: -h explains every flag and exits 0.
func TestHelp(t *testing.T) {
	r := runCmd(t, "", "-h")
	assert.True(t, errors.Is(r.err, flag.ErrHelp))
	assert.Equal(t, 0, r.code)
	for _, f := range []string{"-html", "-json", "-junit", "-history", "-baseline", "-fail-on", "-labels", "-alpha", "-min-effect", "-prune", "-summary", "compare", "history"} {
		assert.Contains(t, r.stderr, f)
	}
	r = runCmd(t, "", "compare", "-h")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stderr, "-format")
}

// TestHelpMinimumChanges: -threshold and -min-effect say they are the
// minimum changes a comparison counts, not pass/fail thresholds, and
// -threshold lists every metric kind ParseRule accepts.
func TestHelpMinimumChanges(t *testing.T) {
	// flagHelp returns the help of flag name in usage: its line and the
	// indented lines after it.
	flagHelp := func(usage, name string) string {
		_, rest, ok := strings.Cut(usage, "\n  -"+name+" ")
		require.True(t, ok, "no -%s in:\n%s", name, usage)
		help, _, _ := strings.Cut(rest, "\n  -")
		return strings.Join(strings.Fields(help), " ")
	}
	for _, args := range [][]string{{"-h"}, {"compare", "-h"}} {
		r := runCmd(t, "", args...)
		require.Equal(t, 0, r.code)
		th, me := flagHelp(r.stderr, "threshold"), flagHelp(r.stderr, "min-effect")
		for _, h := range []string{th, me} {
			assert.Contains(t, h, "minimum change", args)
			assert.Contains(t, h, "Not a pass/fail threshold", args)
		}
		for kind := range reports.DefaultRules {
			_, _, err := reports.ParseRule(kind + "=5%")
			require.NoError(t, err, "the parser accepts %q", kind)
			if strings.Contains(kind, " ") {
				kind = strconv.Quote(kind)
			}
			assert.Regexp(t, `(: |, )`+regexp.QuoteMeta(kind)+` [0-9]`, th, "%v: kind %s", args, kind)
		}
	}
}

// TestHistoryFlow: two runs appended to a history; the second is compared
// with the first and, with -fail-on regressions, fails.
func TestHistoryFlow(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	hist := filepath.Join(dir, "history.jsonl")
	html := filepath.Join(dir, "r.html")
	js := filepath.Join(dir, "r.json")
	summary := filepath.Join(dir, "summary.md")

	r := runCmd(t, "", "-history", hist, testdata+"scenario-old.json", testdata+"bench-old.json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "Compared with", "no baseline for the first run")

	// GITHUB_STEP_SUMMARY alone is not written (workflows redirect
	// stdout to it); -summary appends there.
	other := filepath.Join(dir, "other.md")
	t.Setenv("GITHUB_STEP_SUMMARY", other)
	r = runCmd(t, "", "-history", hist, "-fail-on", "regressions", "-html", html, "-json", js, "-summary", summary,
		testdata+"scenario-new.json", testdata+"bench-new.json")
	assert.NoFileExists(t, other)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "regressions against run ")
	assert.Contains(t, r.stdout, "## Compared with run ")
	assert.Equal(t, r.stdout, readFile(t, summary), "the step summary gets the same Markdown")
	assert.Contains(t, readFile(t, html), "<svg")
	var rep struct {
		Verdict    string `json:"verdict"`
		Comparison struct {
			Benchmarks []struct{ Verdict string } `json:"benchmarks"`
		} `json:"comparison"`
	}
	require.NoError(t, json.Unmarshal([]byte(readFile(t, js)), &rep))
	assert.Equal(t, "regressed", rep.Verdict)
	assert.NotEmpty(t, rep.Comparison.Benchmarks)

	// The history has both runs; compare can name them by id.
	lines := strings.Split(strings.TrimSpace(readFile(t, hist)), "\n")
	require.Len(t, lines, 2)
	var ids []string
	for _, l := range lines {
		var run struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(l), &run))
		ids = append(ids, run.ID)
	}
	r = runCmd(t, "", "compare", "-history", hist, "-format", "json", ids[0], ids[1])
	require.Equal(t, 0, r.code, r.stderr)
	var c struct {
		Benchmarks []map[string]any `json:"benchmarks"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &c))
	require.NotEmpty(t, c.Benchmarks)
	for _, k := range []string{"name", "unit", "old", "new", "deltaPct", "p", "verdict"} {
		assert.Contains(t, c.Benchmarks[0], k)
	}
	assert.Equal(t, "worse", c.Benchmarks[0]["verdict"], "regressions first")

	// Appending the same capture again does not duplicate the run.
	r = runCmd(t, "", "-history", hist, "-fail-on", "none", testdata+"scenario-new.json", testdata+"bench-new.json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, strings.Split(strings.TrimSpace(readFile(t, hist)), "\n"), 2)
}

// TestCompareCaptures: compare reads captures directly, JSON and plain text.
func TestCompareCaptures(t *testing.T) {
	r := runCmd(t, "", "compare", testdata+"bench-old.txt", testdata+"bench-new.json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "benchmark")
	assert.Contains(t, r.stdout, "p=0.002 n=6")
	r = runCmd(t, "", "compare", "-fail-on", "regressions", testdata+"bench-old.json", testdata+"bench-new.json")
	assert.Equal(t, 1, r.code)
}

func TestHistoryCommand(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b")+"/"
	require.Equal(t, 0, runCmd(t, "", "-history", a, testdata+"scenario-old.json").code)
	require.Equal(t, 0, runCmd(t, "", "-history", b, testdata+"bench-old.json").code)
	// A plain-text run has no times: it is dated now, with its own id.
	require.Equal(t, 0, runCmd(t, "", "-history", b, testdata+"bench-new.txt").code)
	require.Equal(t, 0, runCmd(t, "", "-history", b, testdata+"bench-old.txt").code)

	r := runCmd(t, "", "history", "-merge", b, a)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 5, r.stdout) // header and 4 runs
	assert.Contains(t, lines[0], "id")
	assert.Contains(t, r.stdout, "7 pass, 0 fail, 1 skip")

	r = runCmd(t, "", "history", "-compact", "1", a)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "compacted 3 runs")

	r = runCmd(t, "", "history", "-prune", "2", a)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "pruned 2 runs")
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 3)

	assert.Equal(t, 2, runCmd(t, "", "history").code)
	assert.Equal(t, 2, runCmd(t, "", "history", "-prune", "-1", a).code)
}

func TestThresholdFlag(t *testing.T) {
	r := runCmd(t, "", "compare", "-format", "json", "-threshold", "p99=60%", "-threshold", "429 rate=50",
		testdata+"scenario-old.json", testdata+"scenario-new.json")
	require.Equal(t, 0, r.code, r.stderr)
	var c struct {
		Metrics []struct {
			Metric  string `json:"metric"`
			Verdict string `json:"verdict"`
		} `json:"metrics"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &c))
	judged := 0
	for _, m := range c.Metrics {
		if strings.HasPrefix(m.Metric, "total p99 ") || strings.HasPrefix(m.Metric, "service p99 ") || m.Metric == "429 rate" {
			judged++
			assert.Equal(t, "~", m.Verdict, m.Metric)
		}
	}
	assert.NotZero(t, judged, "p99 and 429 rate rows: %+v", c.Metrics)
	r = runCmd(t, "", "compare", "-threshold", "p95=1%", "a", "b")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `unknown metric kind "p95"`)
}

// TestHistoryDirInProjectFolder: -history naming a project folder leaves
// its files (and the capture just read) alone, and warns once.
func TestHistoryDirInProjectFolder(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	files := map[string]string{
		"package.json":  "{\n  \"name\": \"x\"\n}\n",
		"tsconfig.json": "{}\n",
		"capture.json":  readFile(t, testdata+"scenario-old.json"),
	}
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	for range 2 {
		r := runCmd(t, "", "-history", dir, filepath.Join(dir, "capture.json"))
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, 1, strings.Count(r.stderr, "left alone"), r.stderr)
	}
	for name, data := range files {
		assert.Equal(t, data, readFile(t, filepath.Join(dir, name)), "%s changed", name)
	}
}

// TestBadInputIsNotABaseline: empty or garbage input fails and is not
// appended, so the next run is still compared with the last real one.
func TestBadInputIsNotABaseline(t *testing.T) {
	cleanEnv(t)
	hist := filepath.Join(t.TempDir(), "history.jsonl")
	r := runCmd(t, "", "-history", hist, testdata+"scenario-old.json", testdata+"bench-old.json")
	require.Equal(t, 0, r.code, r.stderr)
	before := readFile(t, hist)
	for _, stdin := range []string{"", "garbage, not go test output\n"} {
		r = runCmd(t, stdin, "-history", hist)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "not added to the history")
		assert.Equal(t, before, readFile(t, hist))
	}
	r = runCmd(t, "", "-history", hist, "-fail-on", "regressions", testdata+"scenario-new.json", testdata+"bench-new.json")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "regressions against run ")
}

// TestDuplicateInputs: an input given twice, or one shard of a cell in two
// inputs, is refused by name before anything is written.
func TestDuplicateInputs(t *testing.T) {
	cleanEnv(t)
	t.Setenv("CXLOAD_RUN_ID", "42-1")
	dir := t.TempDir()
	var shard []string
	for _, l := range strings.SplitAfter(readFile(t, testdata+"scenario-old.json"), "\n") {
		if strings.Contains(l, `"Test":"TestAgentsSharded/shard-1"`) {
			shard = append(shard, l)
		}
	}
	require.NotEmpty(t, shard)
	leg := filepath.Join(dir, "leg-1of2.json")
	require.NoError(t, os.WriteFile(leg, []byte(strings.Join(shard, "")), 0o644))
	hist := filepath.Join(dir, "history.jsonl")
	for _, tc := range []struct {
		name  string
		files []string
		want  []string
	}{
		{"same file twice", []string{testdata + "bench-old.json", testdata + "bench-old.json"},
			[]string{"run 42-1: " + testdata + "bench-old.json has the same content as " + testdata + "bench-old.json"}},
		{"one shard twice", []string{testdata + "scenario-old.json", leg},
			[]string{"scenario TestAgentsSharded [region=sim]: shard 1/2 is in both " + testdata + "scenario-old.json, " + leg, "pass -partial"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, "", append([]string{"-history", hist}, tc.files...)...)
			assert.Equal(t, 1, r.code)
			for _, s := range tc.want {
				assert.Contains(t, r.stderr, s)
			}
			assert.NoFileExists(t, hist)
		})
	}
}

// TestMissingShard: a leg holding one of a scenario's two shards fails the
// merge, naming the scenario, the cell, the missing shard and the inputs;
// with -partial the report is written and says its totals are partial.
func TestMissingShard(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	var lines []string
	for _, l := range strings.SplitAfter(readFile(t, testdata+"scenario-old.json"), "\n") {
		if !strings.Contains(l, `"Test":"TestAgentsSharded/shard-2"`) {
			lines = append(lines, l)
		}
	}
	legs := filepath.Join(dir, "legs.json")
	require.NoError(t, os.WriteFile(legs, []byte(strings.Join(lines, "")), 0o644))
	out := filepath.Join(dir, "run.json")
	r := runCmd(t, "", "-json", out, legs)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "scenario TestAgentsSharded [region=sim]: shard 2/2 is missing (the other shards are in "+legs+")")
	assert.NoFileExists(t, out)

	r = runCmd(t, "", "-json", out, "-partial", legs)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(partial totals: shards missing or duplicated)")
	assert.Contains(t, r.stdout, "shard 2/2 is missing")
	assert.FileExists(t, out)
}

// TestCompareUnreadableInput: compare fails, naming the file and what is
// wrong, on input it cannot read.
func TestCompareUnreadableInput(t *testing.T) {
	dir := t.TempDir()
	capture := readFile(t, testdata+"bench-new.json")
	lines := strings.SplitAfter(capture, "\n")
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "no test results"},
		{"garbage", "hello world\x00\x01\n", "no test results"},
		{"cut mid-line", capture[:len(capture)/2], "unreadable lines: "},
		// Cut before PASS, ok and the package's verdict.
		{"cut at a line end", strings.Join(lines[:len(lines)-4], ""), "the capture ends before the verdict of package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			require.NoError(t, os.WriteFile(path, []byte(tc.data), 0o644))
			for _, args := range [][]string{{testdata + "bench-old.json", path}, {path, testdata + "bench-old.json"}} {
				r := runCmd(t, "", append([]string{"compare"}, args...)...)
				assert.Equal(t, 1, r.code, r.stdout)
				assert.Contains(t, r.stderr, "compare: "+path+": "+tc.want)
			}
		})
	}
}

// TestJUnitFlag: -junit writes JUnit XML that the JUnit schema accepts, next
// to the Markdown on standard output, also when tests failed (exit 1).
func TestJUnitFlag(t *testing.T) {
	cleanEnv(t)
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		msg := "xmllint not found; install it: apt-get install -y libxml2-utils"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, tc := range []struct {
		files []string
		code  int
	}{
		{[]string{"scenario-new.json", "bench-new.json"}, 0},
		{[]string{"failures.json"}, 1},
	} {
		out := filepath.Join(t.TempDir(), "out.xml")
		args := []string{"-junit", out}
		for _, f := range tc.files {
			args = append(args, testdata+f)
		}
		r := runCmd(t, "", args...)
		require.Equal(t, tc.code, r.code, r.stderr)
		assert.Contains(t, r.stdout, "# ", "the Markdown report stays on standard output")
		v, err := exec.Command(xmllint, "-noout", "-schema", testdata+"junit.xsd", out).CombinedOutput()
		require.NoError(t, err, "xmllint on the -junit output of %v:\n%s", tc.files, v)
		assert.Contains(t, readFile(t, out), "<testsuites")
	}
}
