package reports_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
)

// ev formats one go test -json event.
func ev(action, test string, extra ...string) string {
	m := map[string]any{"Action": action, "Package": "p"}
	if test != "" {
		m["Test"] = test
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

func out(test, text string) string { return ev("output", test, "Output", text) }

func docLine(t testing.TB, scenario, shard string, labels ...string) string {
	t.Helper()
	opts := []metrics.Option{metrics.WithScenario(scenario), metrics.WithShard(shard)}
	if len(labels) > 0 {
		l := map[string]string{}
		for i := 0; i+1 < len(labels); i += 2 {
			l[labels[i]] = labels[i+1]
		}
		opts = append(opts, metrics.WithLabels(l))
	}
	rec := metrics.NewRecorder(opts...)
	rec.Record(&metrics.Result{Op: "op", Status: 200, Latency: 1000, Total: 1000, Attempts: 1})
	data, err := rec.Snapshot().Encode()
	require.NoError(t, err)
	return string(data)
}

func buildRun(t testing.TB, input string) *reports.Run {
	t.Helper()
	run, err := reports.ReadRun(reports.Env{}, reports.NamedReader{Name: "in.json", R: strings.NewReader(input)})
	require.NoError(t, err)
	return run
}

func verdicts(run *reports.Run) string {
	var s []string
	for _, t := range run.Tests {
		v := t.Name + "=" + t.Verdict
		if t.Reason != "" {
			v += " (" + t.Reason + ")"
		}
		s = append(s, v)
	}
	return strings.Join(s, "; ")
}

func TestBuilderVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  string
	}{
		{
			// -count 2: a failure in one run is not hidden by a pass in the next.
			name: "flaky under -count",
			input: ev("run", "TestF") + out("TestF", "    f_test.go:3: boom\n") + ev("fail", "TestF") +
				ev("run", "TestF") + ev("pass", "TestF") + ev("fail", ""),
			want: "TestF=fail (boom (failed 1 of 2 runs))",
		},
		{
			// Two shards of one package: the failure of the first stays.
			name: "package in two shards",
			input: ev("run", "TestA") + ev("fail", "TestA") + ev("fail", "") +
				ev("run", "TestA") + ev("pass", "TestA") + ev("pass", ""),
			want: "TestA=fail (failed 1 of 2 runs)",
		},
		{
			// Benchmarks get no verdict event from test2json.
			name:  "benchmark without verdict",
			input: ev("run", "BenchmarkX") + out("", "BenchmarkX-2 \t 10 \t 5 ns/op\n") + ev("pass", ""),
			want:  "BenchmarkX=pass",
		},
		{
			// The input ends while a test runs (the writer was killed).
			name:  "cut short",
			input: ev("run", "TestLong") + out("TestLong", "working\n"),
			want:  "TestLong=fail (did not finish: the test binary exited while it ran)",
		},
		{
			// A panic fails the running test, with the panic as reason.
			name:  "panic",
			input: ev("run", "TestP") + out("TestP", "panic: oh no\n") + out("TestP", "goroutine 1 [running]:\n") + ev("fail", ""),
			want:  "TestP=fail (panic: oh no)",
		},
		{
			// Kept output lines are bounded.
			name:  "long failure line",
			input: ev("run", "TestL") + out("TestL", "    l_test.go:1: "+strings.Repeat("é", 3000)+"\n") + ev("fail", "TestL") + ev("fail", ""),
			want:  "TestL=fail (" + strings.Repeat("é", 991) + "… (4018 more bytes))",
		},
		{
			// A skip keeps its message.
			name:  "skip",
			input: ev("run", "TestS") + out("TestS", "    s_test.go:9: needs a tenant\n") + ev("skip", "TestS") + ev("pass", ""),
			want:  "TestS=skip (needs a tenant)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := buildRun(t, tc.input)
			assert.Equal(t, tc.want, verdicts(run))
			assert.Equal(t, strings.Contains(tc.want, "=fail"), run.Failed())
		})
	}
}

func TestBuilderDocuments(t *testing.T) {
	doc := docLine(t, "TestS", "")
	for _, tc := range []struct {
		name      string
		input     string
		scenarios int
		problem   string
	}{
		// The t.Log prefix before the marker, and the line cut in pieces.
		{"logged and split", ev("run", "TestS") + out("TestS", "    s_test.go:42: "+result.Prefix+doc[:100]) + out("TestS", doc[100:]+"\n") + ev("pass", "TestS"), 1, ""},
		// Plain -v output (not JSON) carries documents too.
		{"plain text", "    s_test.go:42: " + result.Prefix + doc + "\n", 1, ""},
		// A broken document is a problem with file and line; reading goes on.
		{"broken", ev("run", "TestS") + out("TestS", result.Prefix+"{\"schema\":\"cxload.result/v1\",\n") + ev("pass", "TestS"), 0, "in.json:2: result document of TestS: result: decode document"},
		// The marker inside other text is not a document.
		{"not a marker", out("TestS", "we print cxload-result: lines\n"), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := buildRun(t, tc.input)
			assert.Len(t, run.Scenarios, tc.scenarios)
			if tc.problem == "" {
				assert.Empty(t, run.Problems)
				return
			}
			require.Len(t, run.Problems, 1)
			assert.Contains(t, run.Problems[0].String(), tc.problem)
		})
	}
}

// TestBuilderMergesShardsInRun: documents of one scenario and cell from
// several shards in one stream merge; another cell stays apart.
func TestBuilderMergesShardsInRun(t *testing.T) {
	var in strings.Builder
	for i := 1; i <= 3; i++ {
		in.WriteString(out("TestS", result.Prefix+docLine(t, "TestS", fmt.Sprintf("%d/3", i))+"\n"))
	}
	run := buildRun(t, in.String())
	require.Len(t, run.Scenarios, 1)
	assert.Equal(t, []string{"1/3", "2/3", "3/3"}, run.Scenarios[0].Shards)
	assert.Equal(t, int64(3), run.Scenarios[0].Doc.Operations[0].Count)
}

// TestBuilderShardLabel: a CI matrix that puts the shard among the labels
// (CXLOAD_LABELS=...,shard=1/2) still gets one cell per scenario and region;
// another region is another cell.
func TestBuilderShardLabel(t *testing.T) {
	var in strings.Builder
	for _, l := range [][]string{{"shard", "1/2", "region", "a"}, {"shard", "2/2", "region", "a"}, {"shard", "1/1", "region", "b"}} {
		in.WriteString(out("TestS", result.Prefix+docLine(t, "TestS", "", l...)+"\n"))
	}
	run := buildRun(t, in.String())
	require.Len(t, run.Scenarios, 2)
	assert.Equal(t, "region=a", run.Scenarios[0].Cell())
	assert.Equal(t, []string{"1/2", "2/2"}, run.Scenarios[0].Shards)
	assert.Equal(t, int64(2), run.Scenarios[0].Doc.Operations[0].Count)
	assert.Equal(t, "region=b", run.Scenarios[1].Cell())
}

// A problem about a whole file or directory has no line to print.
func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    reports.Problem
		want string
	}{
		{reports.Problem{File: "h.jsonl", Line: 3, Msg: "bad"}, "h.jsonl:3: bad"},
		{reports.Problem{File: "hist", Msg: "3 JSON files are not runs"}, "hist: 3 JSON files are not runs"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// TestScenariosGroupedByTest: parallel tests finish, and write their
// documents, interleaved and a parent after its subtests; the reports list
// each top-level test (in the order they started) followed by its subtests
// (in the order they started), in the run, Markdown, HTML, JUnit and JSON.
func TestScenariosGroupedByTest(t *testing.T) {
	const (
		burst, shared, aware, pool = "TestRecordingBurst", "TestRecordingBurst/shared-token", "TestRecordingBurst/rate-aware", "TestRecordingBurst/token-pool"
		disc, probe                = "TestRateLimitDiscovery", "TestRateLimitDiscovery/probe"
	)
	doc := func(test string) string { return out(test, result.Prefix+docLine(t, test, "")+"\n") }
	in := ev("run", burst) + ev("run", disc) +
		ev("run", shared) + ev("run", probe) +
		doc(shared) + ev("pass", shared) +
		ev("pass", probe) + doc(disc) + ev("pass", disc) +
		ev("run", aware) + doc(aware) + ev("pass", aware) +
		ev("run", pool) + doc(pool) + ev("pass", pool) +
		doc(burst) + ev("pass", burst) + ev("pass", "")
	run := buildRun(t, in)
	wantScen := []string{burst, shared, aware, pool, disc}
	var gotScen, gotTests []string
	for _, s := range run.Scenarios {
		gotScen = append(gotScen, s.Name)
	}
	for _, tt := range run.Tests {
		gotTests = append(gotTests, tt.Name)
	}
	require.Equal(t, wantScen, gotScen, "scenarios")
	assert.Equal(t, []string{burst, shared, aware, pool, disc, probe}, gotTests, "tests")

	// inOrder checks that the names appear in out in this order, each
	// after the marker before it.
	inOrder := func(name, out, format string) {
		t.Helper()
		pos := 0
		for _, n := range wantScen {
			i := strings.Index(out[pos:], fmt.Sprintf(format, n))
			if !assert.GreaterOrEqual(t, i, 0, "%s: %q after position %d", name, fmt.Sprintf(format, n), pos) {
				return
			}
			pos += i + 1
		}
	}
	rep := reports.NewReport(run, nil, nil)
	var md, html, junit, js bytes.Buffer
	require.NoError(t, rep.Markdown(&md))
	require.NoError(t, rep.HTML(&html))
	require.NoError(t, rep.JUnit(&junit))
	require.NoError(t, rep.JSON(&js))
	inOrder("markdown table", md.String(), "| %s |")
	inOrder("markdown sections", md.String(), "### %s\n")
	inOrder("html sections", html.String(), "<h3>%s</h3>")
	inOrder("junit suites", junit.String(), `<testsuite name="scenario %s"`)
	var report struct {
		Run struct {
			Scenarios []struct{ Name string } `json:"scenarios"`
		} `json:"run"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &report))
	var jsScen []string
	for _, s := range report.Run.Scenarios {
		jsScen = append(jsScen, s.Name)
	}
	assert.Equal(t, wantScen, jsScen, "json")
	var cases []string
	for _, l := range strings.Split(junit.String(), "\n") {
		if i := strings.Index(l, `<testcase name="Test`); i >= 0 {
			name, _, _ := strings.Cut(l[i+len(`<testcase name="`):], `"`)
			cases = append(cases, name)
		}
	}
	assert.Equal(t, []string{burst, shared, aware, pool, disc, probe}, cases, "junit test cases")
}

// TestMergedShardsGroupedByTest: merging shards that ran different subtests
// of one parent keeps the parent's subtests together.
func TestMergedShardsGroupedByTest(t *testing.T) {
	const burst, shared, aware, disc = "TestRecordingBurst", "TestRecordingBurst/shared-token", "TestRecordingBurst/rate-aware", "TestRateLimitDiscovery"
	doc := func(test string) string { return out(test, result.Prefix+docLine(t, test, "")+"\n") }
	a := buildRun(t, ev("run", burst)+ev("run", shared)+doc(shared)+ev("pass", shared)+ev("pass", burst)+ev("pass", ""))
	b := buildRun(t, ev("run", disc)+doc(disc)+ev("pass", disc)+ev("run", burst)+ev("run", aware)+doc(aware)+ev("pass", aware)+ev("pass", burst)+ev("pass", ""))
	a.ID, b.ID = "ci-7", "ci-7"
	runs, errs := reports.MergeShards([]*reports.Run{a, b})
	require.Empty(t, errs)
	require.Len(t, runs, 1)
	var scen, tests []string
	for _, s := range runs[0].Scenarios {
		scen = append(scen, s.Name)
	}
	for _, tt := range runs[0].Tests {
		tests = append(tests, tt.Name)
	}
	assert.Equal(t, []string{shared, aware, disc}, scen, "scenarios")
	assert.Equal(t, []string{burst, shared, aware, disc}, tests, "tests")
}
