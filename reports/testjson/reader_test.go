package testjson_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/reports/testjson"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// read returns all records of input, formatted one per line.
func read(t testing.TB, input, name string) []string {
	t.Helper()
	r := testjson.NewReader(strings.NewReader(input), name)
	var out []string
	for r.Scan() {
		out = append(out, format(r.Result()))
	}
	require.NoError(t, r.Err())
	return out
}

func format(rec testjson.Record) string {
	file, line := rec.Pos()
	pos := fmt.Sprintf("%s:%d", file, line)
	switch rec := rec.(type) {
	case *testjson.Line:
		kind := "line"
		switch {
		case rec.Build:
			kind = "build " + rec.ImportPath
		case rec.NotJSON:
			kind = "text"
		}
		return fmt.Sprintf("%s %s %s|%s| %q", pos, kind, rec.Package, rec.Test, rec.Text)
	case *testjson.Event:
		s := fmt.Sprintf("%s event %s %s|%s|", pos, rec.Action, rec.Package, rec.Test)
		if rec.Action == "attr" {
			s += fmt.Sprintf(" %s=%s", rec.Key, rec.Value)
		}
		if rec.FailedBuild != "" {
			s += " FailedBuild=" + rec.FailedBuild
		}
		return s
	case *testjson.Benchmark:
		var vals []string
		for _, v := range rec.Result.Values {
			vals = append(vals, fmt.Sprintf("%.6g %s", v.Value, v.Unit))
		}
		return fmt.Sprintf("%s bench %s %s iters=%d %s", pos, rec.Package, rec.Result.Name, rec.Result.Iters, strings.Join(vals, " "))
	case *testjson.SyntaxError:
		return "syntax " + rec.Error()
	}
	return fmt.Sprintf("%s %T", pos, rec)
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  []string
	}{
		{
			// A line cut into pieces, with another test's output in between.
			name: "pieces interleaved",
			input: `{"Action":"output","Package":"p","Test":"A","Output":"hel"}
{"Action":"output","Package":"p","Test":"B","Output":"other\n"}
{"Action":"output","Package":"p","Test":"A","Output":"lo\nwor"}
{"Action":"output","Package":"p","Test":"A","Output":"ld\n"}
`,
			want: []string{
				`f:2 line p|B| "other"`,
				`f:3 line p|A| "hello"`,
				`f:4 line p|A| "world"`,
			},
		},
		{
			// A test's partial line ends at its verdict.
			name: "partial line flushed at test end",
			input: `{"Action":"output","Package":"p","Test":"A","Output":"no newline"}
{"Action":"pass","Package":"p","Test":"A"}
`,
			want: []string{`f:2 line p|A| "no newline"`, `f:2 event pass p|A|`},
		},
		{
			// -count samples after the first carry no Test field, and the
			// package-level piece may itself be split.
			name: "benchmark samples without Test",
			input: `{"Action":"output","Package":"p","Output":"goos: linux\n"}
{"Action":"output","Package":"p","Output":"pkg: example.com/p\n"}
{"Action":"run","Package":"p","Test":"BenchmarkX"}
{"Action":"output","Package":"p","Test":"BenchmarkX","Output":"BenchmarkX\n"}
{"Action":"output","Package":"p","Test":"BenchmarkX","Output":"BenchmarkX-2   \t  100\t  10.0 ns/op\t 3.0 widgets/op\n"}
{"Action":"output","Package":"p","Output":"BenchmarkX-2   \t"}
{"Action":"output","Package":"p","Output":"  100\t  12.0 ns/op\t 3.0 widgets/op\n"}
{"Action":"pass","Package":"p"}
`,
			want: []string{
				`f:1 line p|| "goos: linux"`,
				`f:2 line p|| "pkg: example.com/p"`,
				`f:3 event run p|BenchmarkX|`,
				`f:4 line p|BenchmarkX| "BenchmarkX"`,
				`f:5 line p|BenchmarkX| "BenchmarkX-2   \t  100\t  10.0 ns/op\t 3.0 widgets/op"`,
				`f:7 line p|| "BenchmarkX-2   \t  100\t  12.0 ns/op\t 3.0 widgets/op"`,
				`f:8 event pass p||`,
				`f:5 bench p X-2 iters=100 1e-08 sec/op 3 widgets/op`,
				`f:7 bench p X-2 iters=100 1.2e-08 sec/op 3 widgets/op`,
			},
		},
		{
			// Malformed lines are records; reading goes on.
			name: "malformed and non-JSON lines",
			input: `== wrapper says hi
{"Action":"output","Package":"p","Test":"A","Output":"ok\n"}
{"Action":"output","Package":
{"Action":"output","Package":"p","Test":"A","Elapsed":"soon"}
{}
{"Action":"pass","Package":"p","Test":"A"}
`,
			want: []string{
				`f:1 text || "== wrapper says hi"`,
				`f:2 line p|A| "ok"`,
				`syntax f:3: malformed go test -json event: unexpected end of JSON input`,
				`syntax f:4: malformed go test -json event: cannot unmarshal string into Go struct field .Elapsed of type float64`,
				`syntax f:5: go test -json event has no Action`,
				`f:6 event pass p|A|`,
			},
		},
		{
			// Build output is joined per import path and ends at build-fail.
			name: "build failure",
			input: `{"ImportPath":"p [p.test]","Action":"build-output","Output":"# p [p.test]\n"}
{"ImportPath":"p [p.test]","Action":"build-output","Output":"./x.go:3:2: undefined: y"}
{"ImportPath":"p [p.test]","Action":"build-fail"}
{"Action":"fail","Package":"p","FailedBuild":"p [p.test]"}
`,
			want: []string{
				`f:1 build p [p.test] || "# p [p.test]"`,
				`f:3 build p [p.test] || "./x.go:3:2: undefined: y"`,
				`f:3 event build-fail ||`,
				`f:4 event fail p|| FailedBuild=p [p.test]`,
			},
		},
		{
			// Escapes, including \u and surrogate pairs (slow path).
			name: "escapes",
			input: `{"Action":"output","Package":"p","Test":"A","Output":"tab\there \"q\" \u00e9 \ud83d\ude00\n"}
{"Action":"attr","Package":"p","Test":"A","Key":"k","Value":"v"}
`,
			want: []string{`f:1 line p|A| "tab\there \"q\" é 😀"`, `f:2 event attr p|A| k=v`},
		},
		{
			// Plain `go test -bench` text reads like JSON.
			name:  "plain text benchmarks",
			input: "pkg: example.com/q\nBenchmarkY-4 \t 10 \t 5 ns/op\nBenchmarkY-4 \t 10 \t bad ns/op\n",
			want: []string{
				`f:1 text || "pkg: example.com/q"`,
				`f:2 text || "BenchmarkY-4 \t 10 \t 5 ns/op"`,
				`f:3 text || "BenchmarkY-4 \t 10 \t bad ns/op"`,
				`f:2 bench  Y-4 iters=10 5e-09 sec/op`,
				`syntax f:3: benchmark: parsing measurement: invalid syntax`,
			},
		},
		{
			// At the end of input, partial lines of several tests and
			// packages come out in a stable order.
			name: "partial lines at EOF",
			input: `{"Action":"output","Package":"q","Test":"B","Output":"qb"}
{"Action":"output","Package":"p","Test":"B","Output":"pb"}
{"Action":"output","Package":"p","Test":"A","Output":"pa"}
{"Action":"output","Package":"p","Output":"p-"}
`,
			want: []string{`f:4 line p|A| "pa"`, `f:4 line p|B| "pb"`, `f:4 line p|| "p-"`, `f:4 line q|B| "qb"`},
		},
		{
			// Input without a final newline.
			name:  "no final newline",
			input: `{"Action":"output","Package":"p","Test":"A","Output":"x\n"}`,
			want:  []string{`f:1 line p|A| "x"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := read(t, tc.input, "f")
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestFastPathAgrees checks that the hand-written decoder gives what
// encoding/json gives, on every event of the real captures.
func TestReaderTimes(t *testing.T) {
	r := testjson.NewReader(strings.NewReader(`{"Time":"2026-11-26T16:48:17.942003737Z","Action":"start","Package":"p"}`+"\n"), "f")
	require.True(t, r.Scan())
	ev := r.Result().(*testjson.Event)
	assert.Equal(t, time.Date(2026, 11, 26, 16, 48, 17, 942003737, time.UTC), ev.Time)
}

// TestCaptures reads the real captures and compares the records with
// goldens (refresh with -update).
func TestCaptures(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no captures: run reports/testdata/make-captures.sh")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			got := strings.Join(read(t, string(data), filepath.Base(file)), "\n") + "\n"
			golden := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(file), ".json")+".records.golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create the golden")
			assert.Equal(t, string(want), got)
		})
	}
}

// TestVeryLongLines: lines longer than the read buffer, JSON or not.
func TestVeryLongLines(t *testing.T) {
	long := strings.Repeat("z", 300<<10)
	input := long + "\n" + `{"Action":"output","Package":"p","Test":"A","Output":"` + long + `\n"}` + "\n"
	got := read(t, input, "f")
	require.Len(t, got, 2)
	assert.Equal(t, fmt.Sprintf("f:1 text || %q", long), got[0])
	assert.Equal(t, fmt.Sprintf("f:2 line p|A| %q", long), got[1])
}

// TestLongLinesJoined checks on the real capture that the > 4 KiB line,
// which test2json cut into pieces, comes out whole.
func TestLongLinesJoined(t *testing.T) {
	data, err := os.ReadFile("../testdata/scenario-old.json")
	require.NoError(t, err)
	r := testjson.NewReader(strings.NewReader(string(data)), "scenario-old.json")
	found := false
	for r.Scan() {
		if l, ok := r.Result().(*testjson.Line); ok && strings.Contains(l.Text, "long: ") {
			found = true
			assert.Equal(t, len("long: ")+16*400, len(l.Text[strings.Index(l.Text, "long: "):]))
		}
	}
	require.NoError(t, r.Err())
	assert.True(t, found, "long line not found")
	assert.Greater(t, strings.Count(string(data), `"Test":"TestLongLine","Output":"`), 3, "the capture should have the long line in pieces")
}
