package reports_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden: run go test ./reports -update")
	assert.Equal(t, string(want), string(got), "%s differs; if the change is intended, run go test ./reports -update", path)
}

func TestMarkdownGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cur    []string
		base   []string // nil: no comparison
		golden string
	}{
		// Scenario documents (with merged shards) and benchmarks.
		{"run", []string{"scenario-old.json", "bench-old.json"}, nil, "run.md"},
		// A failing test, a panic, a build failure, a timeout, wrapper
		// lines and a line cut short.
		{"failures", []string{"failures.json"}, nil, "failures.md"},
		// The new captures against the old: regressions first.
		{"compare", []string{"scenario-new.json", "bench-new.json"}, []string{"scenario-old.json", "bench-old.json"}, "compare.md"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := readCapture(t, tc.cur...)
			var cmp *reports.Comparison
			if tc.base != nil {
				cmp = reports.Compare([]*reports.Run{readCapture(t, tc.base...)}, run, reports.CompareOptions{})
			}
			var buf bytes.Buffer
			require.NoError(t, reports.NewReport(run, cmp, nil).Markdown(&buf))
			golden(t, tc.golden, buf.Bytes())
		})
	}
}

func TestCompareGolden(t *testing.T) {
	old := readCapture(t, "scenario-old.json", "bench-old.json")
	cur := readCapture(t, "scenario-new.json", "bench-new.json")
	c := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{})
	var text, js bytes.Buffer
	require.NoError(t, c.Text(&text))
	require.NoError(t, c.JSON(&js))
	golden(t, "compare.txt", text.Bytes())
	golden(t, "compare.json", js.Bytes())

	// The scenario captures differ in known ways: the new variant is
	// slower, throttled more, drops sockets. Its p99 of 900 requests is
	// slower too, but within the two runs' confidence intervals.
	verdicts := map[string]string{}
	for _, m := range c.Metrics {
		verdicts[m.Scenario+" "+m.Metric] = m.Verdict
	}
	assert.Equal(t, reports.Worse, verdicts["TestRecordingBurst/shared-token service p50 recording.set"])
	assert.Equal(t, reports.NoChange, verdicts["TestRecordingBurst/shared-token total p99 recording.set"])
	assert.Equal(t, reports.Worse, verdicts["TestRecordingBurst/shared-token 429 rate"])
	assert.Equal(t, reports.Worse, verdicts["TestAgentsSharded websocket drops"])
	assert.Equal(t, reports.Worse, verdicts["TestAgentsSharded max heartbeat gap"])
	// Regressions first.
	seenOther := false
	for _, m := range c.Metrics {
		if m.Verdict != reports.Worse {
			seenOther = true
		} else if seenOther {
			t.Errorf("regression %s %s after a non-regression", m.Scenario, m.Metric)
		}
	}
}

func TestReportJSON(t *testing.T) {
	run := readCapture(t, "failures.json")
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(run, nil, nil).JSON(&buf))
	s := buf.String()
	assert.Contains(t, s, `"schema": "cxload.report/v1"`)
	assert.Contains(t, s, `"verdict": "fail"`)
	assert.Contains(t, s, `"reason": "timed out: test timed out after 3s"`)
	assert.Contains(t, s, `"failedBuild": "github.com/cxload/cxload/reports/testdata/capture/broken [`)
}

// TestMarkdownLimit: a huge run still renders under the limit, with a note.
func TestMarkdownLimit(t *testing.T) {
	run := &reports.Run{ID: "big"}
	long := strings.Repeat("x", 200)
	for i := 0; i < 20000; i++ {
		run.Tests = append(run.Tests, reports.Test{Package: "p", Name: "TestBig" + long, Verdict: reports.Fail, Reason: long, Output: []string{long, long}})
	}
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(run, nil, nil).Markdown(&buf))
	assert.Less(t, buf.Len(), 1<<20)
	assert.Contains(t, buf.String(), "Report truncated")
}

// TestHTMLSelfContained: the HTML loads nothing from anywhere.
func TestHTMLSelfContained(t *testing.T) {
	run := readCapture(t, "scenario-old.json", "bench-old.json")
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(run, nil, nil).HTML(&buf))
	s := buf.String()
	for _, bad := range []string{"<script src", "<link", "@import", "url(", "http://", "https://"} {
		assert.NotContains(t, s, bad)
	}
	assert.Contains(t, s, "<svg")
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// hostile is text a test name, label or message could hold that would add
// markup, break a table row or start new lines if written as is.
const hostile = "a|b *c* _d_ `e` <script>alert(1)</script>\n# injected [x](javascript:alert(1)) ![i](http://x/i.png) ~~s~~ $m$ &lt;"

// hostileRun is a run whose every name, label and message is hostile.
func hostileRun() *reports.Run {
	h := func(s string) string { return s + " " + hostile }
	doc := &result.Document{
		Schema: result.SchemaVersion, Scenario: h("S"), Labels: map[string]string{"cell": hostile},
		Target:     result.Target{Kind: h("k"), Region: hostile},
		Operations: []result.OpStats{{Op: h("op"), Count: 10}, {Op: "plain", Count: 5}},
		RateLimits: []result.RateLimitObservation{{Key: h("key`` ``"), Scope: h("scope"), ScopeReason: hostile, Allowed: 3, Rejected: 1}},
		Thresholds: []result.ThresholdResult{{Expr: h("p99 < 1s`"), Value: hostile, Detail: hostile}},
		Summary:    hostile,
	}
	return &reports.Run{
		ID: h("id`"),
		Env: reports.Env{Commit: "`c` <b>", Branch: h("br"), CPU: hostile, GoVersion: hostile,
			Labels: map[string]string{"l": hostile}, URL: "javascript:alert(1)//" + hostile},
		Packages: []reports.Package{{Name: "p", Verdict: reports.Fail}},
		Tests: []reports.Test{
			{Package: h("pkg"), Name: h("TestFail"), Verdict: reports.Fail, Reason: hostile},
			{Package: "p", Name: h("TestSkip"), Verdict: reports.Skip, Reason: hostile},
		},
		Benchmarks: []reports.Benchmark{{Name: h("B"), Unit: hostile, Values: []float64{1, 2, 3}}},
		Scenarios:  []reports.Scenario{{Name: doc.Scenario, Labels: doc.Labels, Doc: doc}, {Name: "plain", Doc: &result.Document{Schema: result.SchemaVersion}}},
		Problems:   []reports.Problem{{File: h("f"), Line: 3, Msg: hostile}},
	}
}

// TestMarkdownEscapesUntrustedText: names, labels, ids and messages add no
// markup to the Markdown, start no line and break no table row.
func TestMarkdownEscapesUntrustedText(t *testing.T) {
	rep := reports.NewReport(hostileRun(), nil, nil)
	rep.Title = hostile
	var buf bytes.Buffer
	require.NoError(t, rep.Markdown(&buf))
	md := buf.String()

	// Outside code spans (which show their text as is), nothing is markup.
	text := stripCodeSpans(md)
	for _, frag := range []string{"*c*", "_d_", "~~s~~", "$m$", "](", "`", "<script"} {
		if loc := regexp.MustCompile(`(^|[^\\])` + regexp.QuoteMeta(frag)).FindStringIndex(text); loc != nil {
			t.Errorf("%q is not escaped: %q", frag, text[max(0, loc[0]-40):min(len(text), loc[1]+40)])
		}
	}
	for _, want := range []string{
		"&amp;lt;",                // & starts no entity
		"run ``id` a",             // code spans are fenced beyond the backticks they hold
		"commit `` `c` <b> ``",    // and padded when they start or end with one
		"| ```key`` `` a\\|b",     // in a table, | is escaped in a code span too
		"CI run javascript:alert", // not a link
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown does not contain %q", want)
		}
	}

	var table []string // the rows of the current table
	for i, line := range strings.Split(md, "\n") {
		assert.False(t, strings.HasPrefix(line, "# injected") || strings.HasPrefix(line, "<script"), "line %d starts with hostile text: %q", i+1, line)
		if !strings.HasPrefix(line, "|") {
			table = nil
			continue
		}
		table = append(table, line)
		if cells, head := len(tableCells(line)), len(tableCells(table[0])); cells != head {
			t.Errorf("line %d has %d cells, its table's header %d: %q", i+1, cells, head, line)
		}
	}
}

// stripCodeSpans removes the code spans of md: a run of n backticks up to
// the next run of exactly n (CommonMark), unless escaped.
func stripCodeSpans(md string) string {
	var b strings.Builder
	run := func(i int) int {
		n := 0
		for i+n < len(md) && md[i+n] == '`' {
			n++
		}
		return n
	}
	for i := 0; i < len(md); i++ {
		switch {
		case md[i] == '\\' && i+1 < len(md):
			b.WriteString(md[i : i+2])
			i++
		case md[i] == '`':
			n := run(i)
			end := -1
			for j := i + n; j < len(md); {
				if m := run(j); m > 0 {
					if m == n {
						end = j
						break
					}
					j += m
				} else {
					j++
				}
			}
			if end < 0 {
				b.WriteString(md[i : i+n]) // unmatched: literal backticks
				i += n - 1
				continue
			}
			b.WriteString("CODE")
			i = end + n - 1
		default:
			b.WriteByte(md[i])
		}
	}
	return b.String()
}

// tableCells splits a GitHub table row at its unescaped pipes.
func tableCells(row string) []string {
	var cells []string
	start := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			cells = append(cells, row[start:i])
			start = i + 1
		}
	}
	return append(cells, row[start:])
}

// TestHTMLEscapesUntrustedText: html/template escapes every name, label and
// message, and a link that is not http(s) is neutralized.
func TestHTMLEscapesUntrustedText(t *testing.T) {
	rep := reports.NewReport(hostileRun(), nil, nil)
	rep.Title = hostile
	var buf bytes.Buffer
	require.NoError(t, rep.HTML(&buf))
	s := buf.String()
	assert.NotContains(t, s, "<script>alert")
	assert.NotContains(t, s, `href="javascript:`)
	assert.Contains(t, s, "&lt;script&gt;alert(1)&lt;/script&gt;")
}

// TestMarkdownEscapeLeadingMarkers: text that would start a heading, list,
// quote, code block or link definition where the report starts a block with
// it (here a scenario's summary, quoted) is escaped; characters that start
// nothing stay readable.
func TestMarkdownEscapeLeadingMarkers(t *testing.T) {
	for _, tc := range []struct{ summary, want string }{
		{"# heading", `\# heading`},
		{"- item", `\- item`},
		{"+ item", `\+ item`},
		{"12. item", `12\. item`},
		{"3) item", `3\) item`},
		{"> quote", "&gt; quote"},
		{"[x]: http://example.com", `\[x]: http://example.com`},
		{"    indented code", "indented code"},
		// Nothing to escape: a word's underscores, a bracket that is no
		// link, a dash or a number that starts no list.
		{"GENESYSCLOUD_OAUTHCLIENT_ID [recovered] -1 3.5", "GENESYSCLOUD_OAUTHCLIENT_ID [recovered] -1 3.5"},
		{"-1", "-1"},
	} {
		doc := &result.Document{Schema: result.SchemaVersion, Summary: tc.summary}
		run := &reports.Run{ID: "r", Scenarios: []reports.Scenario{{Name: "S", Doc: doc}}}
		var buf bytes.Buffer
		require.NoError(t, reports.NewReport(run, nil, nil).Markdown(&buf))
		if want := "\n> " + tc.want + "\n"; !strings.Contains(buf.String(), want) {
			t.Errorf("summary %q: Markdown has no line %q:\n%s", tc.summary, want, buf.String())
		}
	}
}

// TestComparisonNamesLatencyFigure: every latency row of a comparison names
// its figure, as the per-operation tables do ("total p99", "service p50"),
// in the comparison's data (and so its JSON), the text and the Markdown,
// whether the percentiles came from the histograms or, for a compacted
// baseline, from the stored numbers.
func TestComparisonNamesLatencyFigure(t *testing.T) {
	bare := regexp.MustCompile(`(^|[|\]]\s*|\s{2})p(50|99) `)
	check := func(t *testing.T, c *reports.Comparison, want string) {
		t.Helper()
		var labels []string
		for _, m := range c.Metrics {
			labels = append(labels, m.Metric)
			if strings.Contains(m.Metric, "p50 ") || strings.Contains(m.Metric, "p99 ") {
				assert.Regexp(t, `^(total|service) p(50|99) `, m.Metric, "a latency row names its figure")
			}
		}
		require.Contains(t, labels, want)
		var text, js, md bytes.Buffer
		require.NoError(t, c.Text(&text))
		require.NoError(t, c.JSON(&js))
		require.NoError(t, reports.NewReport(&reports.Run{ID: c.NewID}, c, nil).Markdown(&md))
		assert.Contains(t, js.String(), `"metric": "`+want+`"`)
		for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
			assert.Contains(t, out, want, name)
			for _, line := range strings.Split(out, "\n") {
				assert.NotRegexp(t, bare, line, "%s: a bare percentile", name)
			}
		}
	}
	t.Run("histograms", func(t *testing.T) {
		old := readCapture(t, "scenario-old.json")
		cur := readCapture(t, "scenario-new.json")
		check(t, reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{}), "total p99 recording.set")
	})
	t.Run("compacted baseline", func(t *testing.T) {
		old := readCapture(t, "scenario-old.json")
		old.Metrics, _ = reports.Metrics(old)
		for i := range old.Scenarios {
			old.Scenarios[i].Doc = nil
		}
		old.Compacted = true
		cur := readCapture(t, "scenario-new.json")
		c := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{})
		for _, m := range c.Metrics {
			require.NotEqual(t, reports.TestPercentileCI, m.Test, m.Metric)
		}
		check(t, c, "total p99 recording.set")
	})
}
