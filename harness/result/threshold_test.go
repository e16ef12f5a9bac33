package result_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/internal/resulttest"

	"github.com/cxload/cxload/harness/result"
)

// sample is the shared 10-second run (resulttest.Sample).
func sample(t testing.TB) *result.Document { return resulttest.Sample(t) }

func TestThresholdEval(t *testing.T) {
	doc := sample(t)
	tests := []struct {
		expr   string
		ok     bool
		value  string
		detail string // fragment
	}{
		{"p99(presence.set) < 800ms", false, "900ms", "operation presence.set, 1000 requests, service time"},
		{"p50(presence.set) <= 20ms", true, "10ms", ""},
		{"p99.9(presence.set) >= 900ms", true, "900ms", ""},
		{"p99(presence.set, total) < 1s", true, "900ms", "total time from the intended send"},
		{"p99(presence.set, service) < 800ms", false, "900ms", "service time of the answering attempt"},
		{"p99(presence.set, ok, total) < 1s", true, "900ms", "outcome ok"},
		{"p99(queues.list, ok) < 10ms", true, "5ms", "outcome ok"},
		{"max(queues.list) < 500ms", false, "1s", ""},
		{"avg(queues.list) < 20ms", true, "15ms", ""}, // 14.95ms, shown to the millisecond
		{"rate(429) < 1%", false, "1.82%", "all operations: 20 of 1100 requests were 429"},
		{"rate(429, presence.set) < 2.5%", true, "2%", ""},
		{"rate(errors, presence.set) < 0.5%", false, "0.5%", "5 of 1000 requests were errors"}, // not strictly below
		{"rate(errors, presence.set) <= 0.5%", true, "0.5%", ""},
		{"rate(throttled) <= 0.02", true, "1.82%", ""},
		{"count(transport errors) == 0", false, "1", ""},
		{"count(transport errors, presence.set) == 0", true, "0", ""},
		{"count(requests) == 1100", true, "1100", ""},
		{"count(5xx) != 0", true, "5", ""},
		{"rps(presence.set) >= 100", true, "100", "1000 requests in 10s"},
		{"rps() > 200", false, "110", ""},
		{"rps(*) > 100", true, "110", ""},
		{"max_heartbeat_gap < 45s", true, "31s", "1 heartbeats"},
		{"ws_lost == 0", true, "0", ""},
		{"rejected(token.rate.per.minute) == 0", true, "0", "buckets that rejected: unknown (server)"}, // 429s without a limit key
		{"rejected(unknown) == 20", true, "20", ""},
		{"p99(nope) < 1s", false, "n/a", `operation "nope" has no requests (operations in the run: presence.set, queues.list)`},
		{"p99(queues.list, throttled) < 1s", false, "n/a", "no latency values"},
	}
	// Latency expressions of the older form name no figure: they judge the
	// service time, and the verdict is recorded with the figure named.
	unnamed := map[string]string{
		"p99(presence.set) < 800ms":        "p99(presence.set, service) < 800ms",
		"p50(presence.set) <= 20ms":        "p50(presence.set, service) <= 20ms",
		"p99.9(presence.set) >= 900ms":     "p99.9(presence.set, service) >= 900ms",
		"p99(queues.list, ok) < 10ms":      "p99(queues.list, ok, service) < 10ms",
		"max(queues.list) < 500ms":         "max(queues.list, service) < 500ms",
		"avg(queues.list) < 20ms":          "avg(queues.list, service) < 20ms",
		"p99(nope) < 1s":                   "p99(nope, service) < 1s",
		"p99(queues.list, throttled) < 1s": "p99(queues.list, throttled, service) < 1s",
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := result.ParseThreshold(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			r := th.Eval(doc)
			want := tt.expr
			if n, ok := unnamed[tt.expr]; ok {
				want = n
			}
			if r.Expr != want {
				t.Errorf("Expr = %q, want %q", r.Expr, want)
			}
			if r.OK != tt.ok || r.Value != tt.value || !strings.Contains(r.Detail, tt.detail) || !strings.HasPrefix(r.Detail, "threshold "+want+": ") {
				t.Errorf("Eval = ok %v, value %q, detail %q;\nwant ok %v, value %q, detail containing %q", r.OK, r.Value, r.Detail, tt.ok, tt.value, tt.detail)
			}
		})
	}
}

func TestParseThresholdErrors(t *testing.T) {
	tests := []struct {
		expr string
		want []string // fragments
	}{
		{"p99(op)", []string{"column 8", "no comparison"}},
		{"p99(op) < ", []string{"no value"}},
		{"p99(op) < 8xx", []string{"column 11", `"8xx" is not a duration`, "800ms"}},
		{"p99(op) =< 1s", []string{"column 9", `"=" is not one of`}},
		{"p0(op) < 1s", []string{"column 1", "(0,100]"}},
		{"p101(op) < 1s", []string{"(0,100]"}},
		{"q99(op) < 1s", []string{`unknown metric "q99"`}},
		{"p99(op, fast) < 1s", []string{`modifier "fast"`}},
		{"rate(oops) < 1%", []string{"column 6", `"oops" is not one of`}},
		{"rate(429) < 150%", []string{`"150%" is not a percentage`}},
		{"rate(429) < 2", []string{"fraction in [0,1]"}},
		{"count(429) == 1.5", []string{"whole number"}},
		{"count() == 0", []string{"takes (what) or (what, op)"}},
		{"rps(a, b) > 1", []string{"at most one operation"}},
		{"max_heartbeat_gap(x) < 1s", []string{"takes no arguments"}},
		{"p99(op < 1s", []string{"no comparison"}},
		{" < 1s", []string{"no metric"}},
		{"rejected() == 0", []string{"rejected takes (bucket key)"}},
		{"rejected(k, elsewhere) == 0", []string{`source "elsewhere"`}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := result.ParseThreshold(tt.expr)
			if err == nil {
				t.Fatalf("ParseThreshold(%q) = nil error", tt.expr)
			}
			msg := err.Error()
			for _, w := range append(tt.want, "result: threshold", "forms: p99(op, service) < 800ms") {
				if !strings.Contains(msg, w) {
					t.Errorf("ParseThreshold(%q) error = %q\nwant it to contain %q", tt.expr, msg, w)
				}
			}
		})
	}
}

func TestMustParseThresholdPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParseThreshold(bad) did not panic")
		}
	}()
	result.MustParseThreshold("bad")
}

func TestCheck(t *testing.T) {
	doc := sample(t)
	res := result.Check(doc, result.MustParseThreshold("rate(429) < 5%"), result.MustParseThreshold("count(errors) == 0"))
	if len(res) != 2 || !res[0].OK || res[1].OK || res[1].Value != "6" {
		t.Errorf("Check = %+v", res)
	}
}

// Every latency verdict names the figure it judged: service time or total
// time; naming both is an error, and the older unnamed forms parse as
// service time.
func TestThresholdFigure(t *testing.T) {
	doc := sample(t)
	tests := []struct {
		expr, figure, named string
	}{
		{"p99(presence.set, service) < 1s", result.FigureService, "p99(presence.set, service) < 1s"},
		{"p99(presence.set, total) < 1s", result.FigureTotal, "p99(presence.set, total) < 1s"},
		{"p99(presence.set, Total, ok) < 1s", result.FigureTotal, "p99(presence.set, Total, ok) < 1s"},
		{"p99(presence.set) < 1s", result.FigureService, "p99(presence.set, service) < 1s"}, // older form
		{"p99() < 1s", result.FigureService, "p99(*, service) < 1s"},
		{"p99 < 1s", result.FigureService, "p99(*, service) < 1s"},
		{"avg(*) < 1s", result.FigureService, "avg(*, service) < 1s"},
		{"rate(429) < 1%", "", "rate(429) < 1%"}, // judges no latency
	}
	for _, tt := range tests {
		th, err := result.ParseThreshold(tt.expr)
		if err != nil {
			t.Errorf("ParseThreshold(%q): %v", tt.expr, err)
			continue
		}
		r := th.Eval(doc)
		if r.Figure != tt.figure || r.Expr != tt.named || th.String() != tt.named {
			t.Errorf("ParseThreshold(%q).Eval = figure %q, expr %q (String %q); want figure %q, expr %q", tt.expr, r.Figure, r.Expr, th.String(), tt.figure, tt.named)
		}
		// The named form parses to the same threshold.
		again, err := result.ParseThreshold(r.Expr)
		if err != nil || again.Eval(doc) != r {
			t.Errorf("the named form %q does not judge the same: %v, %+v vs %+v", r.Expr, err, again.Eval(doc), r)
		}
	}
	_, err := result.ParseThreshold("p99(presence.set, service, total) < 1s")
	if err == nil || !strings.Contains(err.Error(), "names two figures") {
		t.Errorf("two figures: error %v, want one saying it names two figures", err)
	}
}
