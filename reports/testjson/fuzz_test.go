package testjson_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/perf/benchfmt"

	"github.com/cxload/cxload/reports/testjson"
)

const fuzzName = "fuzz.json"

// fuzzSeeds are inputs of the Reader fuzz targets: a real capture's shapes.
var fuzzSeeds = []string{
	`{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: cxload-result: {\"schema\":\"cxload.result/v1\""}
{"Action":"output","Package":"p","Test":"TestA","Output":",\"scenario\":\"TestA\"}\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.01}
{"Action":"output","Package":"p","Output":"goos: linux\n"}
{"Action":"output","Package":"p","Output":"BenchmarkX-2   \t    1000\t      1234 ns/op\t  16 B/op\t   1 allocs/op\n"}
{"Action":"pass","Package":"p","Elapsed":0.02}
`,
	"goos: linux\ngoarch: amd64\npkg: p\nBenchmarkY-2 100 5 ns/op 3.5 MB/s\nPASS\n",
	`{"ImportPath":"p [p.test]","Action":"build-output","Output":"# p\n"}
{"ImportPath":"p [p.test]","Action":"build-fail"}
{"Action":"fail","Package":"p","Elapsed":0,"FailedBuild":"p [p.test]"}
`,
	"{\"Action\":\"output\",\"Output\":\"x\",}\nnot json\n\n{\"Action\":\"attr\",\"Package\":\"p\",\"Test\":\"T\",\"Key\":\"k\",\"Value\":\"v\"}",
	"BenchmarkZ 1 x ns/op\nBenchmarkZ-2 -1 1 ns/op\nBenchmarkZ\t10\t1e400 ns/op\n",
	"",
}

// lines returns the number of input lines of data (a last line without a
// newline counts).
func lines(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// FuzzReader: any input reads without panicking or I/O error, every record
// is positioned on a line of the input (file name given, 1-based line in
// range; benchmark results come when their package ends, so positions may go
// back), and syntax errors say file:line.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(fmt.Sprintf("%q", data))()
		r := testjson.NewReader(bytes.NewReader(data), fuzzName)
		n := lines(data)
		for r.Scan() {
			rec := r.Result()
			file, line := rec.Pos()
			if file != fuzzName || line < 1 || line > n {
				t.Fatalf("record %T at %s:%d; want %s:1..%d\ninput: %q", rec, file, line, fuzzName, n, data)
			}
			if se, ok := rec.(*testjson.SyntaxError); ok {
				if want := fmt.Sprintf("%s:%d", fuzzName, line); !strings.Contains(se.Error(), want) || se.Msg == "" {
					t.Fatalf("syntax error %q does not say %s and what is wrong", se.Error(), want)
				}
			}
		}
		if err := r.Err(); err != nil {
			t.Fatalf("Err = %v on in-memory input %q", err, data)
		}
	})
}

// FuzzReaderOutput: any test output, cut into output events the way
// test2json cuts it (at arbitrary rune boundaries, here every cut+1 runes),
// reads back as exactly its lines, in order, attributed to its test.
func FuzzReaderOutput(f *testing.F) {
	f.Add("=== RUN   TestA\n    a_test.go:9: hello\n--- PASS: TestA (0.00s)\n", uint8(3))
	f.Add("cxload-result: {\"schema\":\"cxload.result/v1\"}\nno newline at the end", uint8(0))
	f.Add("\n\n\t\r\n", uint8(1))
	f.Add("BenchmarkX-2 \t 10\t 5 ns/op\n", uint8(255))
	f.Add("é😀 \"q\" \\ \x00\n", uint8(2))
	f.Fuzz(func(t *testing.T, text string, cut uint8) {
		defer watchdog(fmt.Sprintf("%q %d", text, cut))()
		if !utf8.ValidString(text) {
			return // JSON would replace invalid bytes: not the same text
		}
		var in bytes.Buffer
		enc := json.NewEncoder(&in)
		enc.SetEscapeHTML(false)
		emit := func(ev map[string]any) {
			if err := enc.Encode(ev); err != nil {
				t.Fatal(err)
			}
		}
		emit(map[string]any{"Action": "run", "Package": "p", "Test": "TestF"})
		runes := []rune(text)
		step := int(cut)%16 + 1
		for i := 0; i < len(runes); i += step {
			emit(map[string]any{"Action": "output", "Package": "p", "Test": "TestF", "Output": string(runes[i:min(i+step, len(runes))])})
		}
		emit(map[string]any{"Action": "pass", "Package": "p", "Test": "TestF", "Elapsed": 0.5})

		want := strings.Split(text, "\n")
		if want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		for i := range want {
			want[i] = strings.TrimSuffix(want[i], "\r") // CRLF output reads as its lines
		}
		var got []string
		r := testjson.NewReader(&in, fuzzName)
		for r.Scan() {
			switch rec := r.Result().(type) {
			case *testjson.Line:
				if rec.Package != "p" || rec.Test != "TestF" || rec.NotJSON || rec.Build {
					t.Fatalf("line %+v: want package p, test TestF, from JSON", rec)
				}
				got = append(got, rec.Text)
			case *testjson.SyntaxError:
				t.Fatalf("syntax error on well-formed input: %v\ninput:\n%s", rec, in.String())
			}
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("output %q cut every %d runes reads back as %q, want %q", text, step, got, want)
		}
	})
}

// FuzzBenchmarkLine: a benchmark line reads the same whether it comes as
// plain `go test -bench` text or inside a `go test -json` output event,
// and a result read from it, written back with benchfmt, reads back the same.
func FuzzBenchmarkLine(f *testing.F) {
	for _, s := range []string{
		"BenchmarkX-2   \t    1000\t      1234 ns/op\t  16 B/op\t   1 allocs/op",
		"BenchmarkRecord/stripes=4-8 \t 5000000\t 210.5 ns/op\t 3.2 cpu-ns/op\t 0 B/op",
		"BenchmarkPeers/cxload-2 1 812.5 req/s 45.1 p99-ms",
		"BenchmarkY 10 1e400 ns/op", "BenchmarkY 10 NaN ns/op", "BenchmarkY -5 1 ns/op", "BenchmarkY 10 5", "BenchmarkY\t10\t5 ns/op extra",
		"Benchmark 1 1 ns/op", "BenchmarkZ 9223372036854775808 1 ns/op",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		defer watchdog(fmt.Sprintf("%q", line))()
		if strings.ContainsAny(line, "\n\r") || !utf8.ValidString(line) {
			return // one line, representable in JSON as is
		}
		plain := benchmarks(t, "pkg: p\n"+line+"\n")
		ev, _ := json.Marshal(map[string]string{"Action": "output", "Package": "p", "Output": line + "\n"})
		wrapped := benchmarks(t, `{"Action":"output","Package":"p","Output":"pkg: p\n"}`+"\n"+string(ev)+"\n"+`{"Action":"pass","Package":"p"}`+"\n")
		if !reflect.DeepEqual(summarize(plain), summarize(wrapped)) {
			t.Fatalf("line %q: as text %v, as JSON %v", line, summarize(plain), summarize(wrapped))
		}
		for _, b := range plain {
			var out bytes.Buffer
			if err := benchfmt.NewWriter(&out).Write(b.Result); err != nil {
				t.Fatalf("writing %q back: %v", line, err)
			}
			back := benchmarks(t, out.String())
			if len(back) != 1 || !reflect.DeepEqual(summarize(back), summarize([]*testjson.Benchmark{b})) {
				t.Fatalf("line %q -> %v; written back %q -> %v", line, summarize([]*testjson.Benchmark{b}), out.String(), summarize(back))
			}
		}
	})
}

// watchdog crashes the fuzz worker if one input takes over 10 s (a hang
// the fuzzer would otherwise wait out silently), naming the input; it
// returns the function that disarms it.
func watchdog(input string) func() {
	t := time.AfterFunc(10*time.Second, func() { panic("testjson: reading took over 10s on " + input) })
	return func() { t.Stop() }
}

// benchmarks reads the Benchmark records of input.
func benchmarks(t *testing.T, input string) []*testjson.Benchmark {
	t.Helper()
	r := testjson.NewReader(strings.NewReader(input), fuzzName)
	var out []*testjson.Benchmark
	for r.Scan() {
		if b, ok := r.Result().(*testjson.Benchmark); ok {
			out = append(out, b)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// summarize is what a benchmark record says: name, iterations, values.
func summarize(bs []*testjson.Benchmark) []string {
	var out []string
	for _, b := range bs {
		s := fmt.Sprintf("%s %d", b.Result.Name.Full(), b.Result.Iters)
		for _, v := range b.Result.Values {
			s += fmt.Sprintf(" %v %s", v.Value, v.Unit)
		}
		out = append(out, s)
	}
	return out
}
