package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
)

// discoveryRun is a discovery scenario's document: it found a hidden
// limit at 40 per 20s, scope endpoint-user, while its 429s (rejected
// tokens of several OAuth clients, no window in any header) suggest 40 per
// 60s, scope org; a second limit has no finding.
func discoveryRun() *reports.Run {
	doc := &result.Document{
		Schema:   result.SchemaVersion,
		Scenario: "TestRateLimitDiscoveryHiddenLimit",
		Findings: []result.Finding{{
			Key: "users.presences.rate.per.minute", Allowed: 40, WindowSeconds: 20, WindowSource: "timing (re-probed until the count restarted)",
			Scope: "endpoint-user", Method: "found by experiment", Evidence: []string{"a fresh token of a second OAuth client was rejected too"},
			Advice: "pace presence changes below 40 per 20s per user",
		}},
		RateLimits: []result.RateLimitObservation{
			{Key: "users.presences.rate.per.minute", Source: "server", Allowed: 40, WindowSeconds: 60, WindowSource: "retry-after",
				Scope: result.ScopeOrg, ScopeReason: "requests of 2 OAuth clients were rejected", Rejected: 2},
			{Key: "token.rate.per.minute", Source: "server", Allowed: 300, WindowSeconds: 60, WindowSource: "ratelimit-reset",
				Scope: result.ScopeToken, ScopeReason: "1 of 9 tokens was rejected while the others passed", Rejected: 1},
		},
		Headline:   []string{"Discovery established 1 limit."},
		Summary:    "EVIDENCE-TEXT of the whole run.",
		Thresholds: []result.ThresholdResult{{Expr: "p99(probe) < 1s", Value: "2ms", OK: true}},
	}
	return &reports.Run{ID: "r", Scenarios: []reports.Scenario{{Name: doc.Scenario, Doc: doc}}}
}

// The rate-limit table shows the scenario's finding, not the inference from
// its 429s, and flags where they disagree; a limit without a finding is
// inferred and says so.
func TestMarkdownShowsFindings(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(discoveryRun(), nil, nil).Markdown(&buf))
	md := buf.String()
	row := lineWith(md, "| `users.presences.rate.per.minute` |")
	for _, want := range []string{"| 40 / 20s |", "| endpoint-user |", "finding (found by experiment)", "⚠️", "window of at least 60s", "scope org"} {
		if !strings.Contains(row, want) {
			t.Errorf("the finding's row %q lacks %q\n%s", row, want, md)
		}
	}
	if strings.Contains(row, "40 / 60s") {
		t.Errorf("the finding's row shows the inferred window: %q", row)
	}
	if row := lineWith(md, "| `token.rate.per.minute` |"); !strings.Contains(row, reports.InferredNote) {
		t.Errorf("the row without a finding %q does not say %q", row, reports.InferredNote)
	}
	if strings.Count(md, "users.presences.rate.per.minute") < 2 || !strings.Contains(md, "- users.presences.rate.per.minute: 40 per 20s") {
		t.Errorf("the short list does not lead with the finding:\n%s", md)
	}
	// The evidence is folded away, the short list is not.
	i, j := strings.Index(md, "<details><summary>evidence</summary>"), strings.Index(md, "EVIDENCE-TEXT")
	if i < 0 || j < i || strings.Index(md, "- Discovery established 1 limit.") > i {
		t.Errorf("the summary's evidence is not folded under the short list:\n%s", md)
	}
	// An older expression is shown with the figure it judged.
	if !strings.Contains(md, "`p99(probe, service) < 1s`") {
		t.Errorf("the threshold does not name its figure:\n%s", md)
	}
}

func TestHTMLShowsFindings(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(discoveryRun(), nil, nil).HTML(&buf))
	h := buf.String()
	i := strings.Index(h, "<code>users.presences.rate.per.minute</code></td>")
	require.GreaterOrEqual(t, i, 0, "no row for the finding")
	row := h[i:]
	row = row[:strings.Index(row, "</tr>")]
	for _, want := range []string{"<td>40 / 20s</td>", "endpoint-user", "finding (found by experiment)", "⚠", "window of at least 60s"} {
		if !strings.Contains(row, want) {
			t.Errorf("the finding's HTML row lacks %q: %s", want, row)
		}
	}
	if !strings.Contains(h, reports.InferredNote) {
		t.Errorf("the HTML does not say which row is inferred")
	}
	if d, e := strings.Index(h, "<details><summary>evidence</summary>"), strings.Index(h, "EVIDENCE-TEXT"); d < 0 || e < d {
		t.Errorf("the HTML does not fold the evidence")
	}
}

// Every per-operation table names its two figures and the wait between.
func TestMarkdownNamesLatencyFigures(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(readCapture(t, "scenario-old.json"), nil, nil).Markdown(&buf))
	md := buf.String()
	for _, want := range []string{"| total p50 | total p99 | service p50 | service p99 | wait share |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the operation table lacks %q:\n%s", want, md)
		}
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
