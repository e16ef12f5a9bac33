package reports_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	// slower, throttled more, drops sockets.
	verdicts := map[string]string{}
	for _, m := range c.Metrics {
		verdicts[m.Scenario+" "+m.Metric] = m.Verdict
	}
	assert.Equal(t, reports.Worse, verdicts["TestRecordingBurst/shared-token p99 recording.set"])
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
