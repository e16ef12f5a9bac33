package reports_test

import (
	"encoding/csv"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/reports"
)

// readCapture reads testdata captures into one run.
func readCapture(t testing.TB, files ...string) *reports.Run {
	t.Helper()
	var in []reports.NamedReader
	for _, f := range files {
		fh, err := os.Open("testdata/" + f)
		require.NoError(t, err)
		t.Cleanup(func() { fh.Close() })
		in = append(in, reports.NamedReader{Name: f, R: fh})
	}
	run, err := reports.ReadRun(reports.Env{}, in...)
	require.NoError(t, err)
	return run
}

type benchstatRow struct {
	old, new float64
	delta    string // "+44.65%" or "~"
	stat     string // "p=0.002 n=6"
}

// parseBenchstatCSV reads `benchstat -format csv old new`: sections of
//
//	,old.txt,,new.txt,,,
//	,sec/op,CI,sec/op,CI,vs base,P
//	Name-2,1.6e-07,12%,2.3e-07,18%,+44.65%,p=0.002 n=6
func parseBenchstatCSV(t testing.TB, r io.Reader) map[[2]string]benchstatRow {
	t.Helper()
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	rows := make(map[[2]string]benchstatRow)
	unit := ""
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch {
		case len(rec) < 7:
			// goos:, pkg: and blank lines
		case rec[0] == "" && rec[2] == "CI":
			unit = rec[1]
		case rec[0] == "" || rec[0] == "geomean":
		default:
			old, err := strconv.ParseFloat(rec[1], 64)
			require.NoError(t, err)
			nw, err := strconv.ParseFloat(rec[3], 64)
			require.NoError(t, err)
			rows[[2]string{rec[0], unit}] = benchstatRow{old, nw, rec[5], rec[6]}
		}
	}
	return rows
}

// TestCompareAgreesWithBenchstat compares the two real benchmark captures
// and checks every center, delta and p-value against benchstat's output on
// the same runs (testdata/benchstat-old-new.csv, made by make-captures.sh).
func TestCompareAgreesWithBenchstat(t *testing.T) {
	old := readCapture(t, "bench-old.json")
	cur := readCapture(t, "bench-new.json")
	cmp := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{})

	f, err := os.Open("testdata/benchstat-old-new.csv")
	require.NoError(t, err)
	defer f.Close()
	want := parseBenchstatCSV(t, f)
	require.NotEmpty(t, want)

	got := make(map[[2]string]reports.BenchDelta)
	for _, d := range cmp.Benchmarks {
		got[[2]string{d.Name, d.Unit}] = d
	}
	assert.Len(t, got, len(want), "benchmarks x units compared")
	sawWorse, sawBetter, sawSame := false, false, false
	for k, w := range want {
		d, ok := got[k]
		if !assert.True(t, ok, "%v: missing from Compare", k) {
			continue
		}
		assert.InEpsilon(t, w.old, d.Old.Center, 1e-9, "%v old center", k)
		assert.InEpsilon(t, w.new, d.New.Center, 1e-9, "%v new center", k)
		assert.Equal(t, w.delta, d.Delta, "%v delta", k)
		assert.Equal(t, w.stat, d.Stat, "%v p and n", k)
		// The verdict follows benchstat's delta and the unit's direction.
		switch {
		case w.delta == "~":
			assert.Equal(t, reports.NoChange, d.Verdict, "%v", k)
			sawSame = true
		case strings.HasPrefix(w.delta, "+") == reports.HigherIsBetter(k[1]):
			assert.Equal(t, reports.Better, d.Verdict, "%v", k)
			sawBetter = true
		default:
			assert.Equal(t, reports.Worse, d.Verdict, "%v", k)
			sawWorse = true
		}
	}
	assert.True(t, sawWorse && sawBetter && sawSame, "the captures should show worse, better and unchanged benchmarks")
	// Regressions first.
	for i := 1; i < len(cmp.Benchmarks); i++ {
		if cmp.Benchmarks[i].Verdict == reports.Worse {
			assert.Equal(t, reports.Worse, cmp.Benchmarks[i-1].Verdict, "regressions must come first")
		}
	}
}

// TestPlainTextCapturesCompareLikeJSON: the same runs as plain `go test
// -bench` text give the same comparison as their JSON form.
func TestPlainTextCapturesCompareLikeJSON(t *testing.T) {
	j := reports.Compare([]*reports.Run{readCapture(t, "bench-old.json")}, readCapture(t, "bench-new.json"), reports.CompareOptions{})
	x := reports.Compare([]*reports.Run{readCapture(t, "bench-old.txt")}, readCapture(t, "bench-new.txt"), reports.CompareOptions{})
	require.Equal(t, len(j.Benchmarks), len(x.Benchmarks))
	for i := range j.Benchmarks {
		assert.Equal(t, j.Benchmarks[i].Delta, x.Benchmarks[i].Delta)
		assert.Equal(t, j.Benchmarks[i].Name, x.Benchmarks[i].Name)
	}
}

func TestCompareOptions(t *testing.T) {
	old := readCapture(t, "bench-old.json")
	cur := readCapture(t, "bench-new.json")
	for _, tc := range []struct {
		name string
		opt  reports.CompareOptions
		// check runs on the Build-2 allocs/op row, which drops from 7 to 2.
		verdict string
	}{
		{"default", reports.CompareOptions{}, reports.Better},
		// A change of -71% is under a minimum effect of 80%.
		{"min effect", reports.CompareOptions{MinEffect: 80}, reports.NoChange},
		// With alpha so small no change of 6 samples is significant.
		{"tiny alpha", reports.CompareOptions{Alpha: 0.0001}, reports.NoChange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := reports.Compare([]*reports.Run{old}, cur, tc.opt)
			for _, d := range c.Benchmarks {
				if d.Name == "Build-2" && d.Unit == "allocs/op" {
					assert.Equal(t, tc.verdict, d.Verdict)
					return
				}
			}
			t.Fatal("Build-2 allocs/op not compared")
		})
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in      string
		kind    string
		rule    reports.Rule
		wantErr string
	}{
		{"p99=5%", "p99", reports.Rule{Rel: 0.05}, ""},
		{"websocket drops=3", "websocket drops", reports.Rule{Abs: 3}, ""},
		{"p99=5%+2", "p99", reports.Rule{Rel: 0.05, Abs: 2}, ""},
		{" 429 rate = 0.5 ", "429 rate", reports.Rule{Abs: 0.5}, ""},
		{"p99", "", reports.Rule{}, "want KIND=RULE"},
		{"p95=5%", "", reports.Rule{}, `unknown metric kind "p95"; known: "429 rate", "events lost"`},
		{"p99=fast", "", reports.Rule{}, `"fast" is not a percentage`},
		{"p99=-1", "", reports.Rule{}, `"-1" is not a percentage`},
	} {
		kind, rule, err := reports.ParseRule(tc.in)
		if tc.wantErr != "" {
			assert.ErrorContains(t, err, tc.wantErr, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.kind, kind, tc.in)
		assert.Equal(t, tc.rule, rule, tc.in)
	}
}

// TestCompareRules: a larger minimum effect for medians turns the median
// regressions of the captures (+49% to +57%) into "~", and nothing else.
func TestCompareRules(t *testing.T) {
	old := readCapture(t, "scenario-old.json")
	cur := readCapture(t, "scenario-new.json")
	rules := map[string]reports.Rule{}
	for k, v := range reports.DefaultRules {
		rules[k] = v
	}
	rules["p50"] = reports.Rule{Rel: 0.60}
	strict := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{})
	loose := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{Rules: rules})
	byKey := func(c *reports.Comparison) map[string]string {
		m := map[string]string{}
		for _, d := range c.Metrics {
			m[d.Scenario+" "+d.Metric] = d.Verdict
		}
		return m
	}
	s, l := byKey(strict), byKey(loose)
	require.Equal(t, len(s), len(l))
	changed := 0
	for k, v := range s {
		if strings.Contains(k, " p50 ") {
			assert.Equal(t, reports.NoChange, l[k], k)
			if v != l[k] {
				changed++
			}
			continue
		}
		assert.Equal(t, v, l[k], k)
	}
	assert.Positive(t, changed)
}
