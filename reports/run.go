// Package reports turns `go test -json` output into reports: it builds a Run
// (environment, test verdicts, benchmark samples, scenario result
// documents), keeps runs in a History, compares a run with a baseline
// (benchmarks with golang.org/x/perf/benchmath, scenario metrics with a
// direction and a threshold), and renders Markdown, HTML and JSON.
//
// Reading is done by package reports/testjson; a Builder consumes its
// records:
//
//	b := reports.NewBuilder(reports.EnvFromEnviron(os.Getenv))
//	r := testjson.NewReader(os.Stdin, "stdin")
//	for r.Scan() {
//		b.Add(r.Result())
//	}
//	run := b.Run()
//
// or, for the common case, ReadRun.
package reports

import (
	"fmt"
	"io"
	"time"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports/testjson"
)

// Verdicts of tests and packages.
const (
	Pass = "pass"
	Fail = "fail"
	Skip = "skip"
)

// Run is everything one `go test -json` run (possibly several files, or
// several shards) produced.
type Run struct {
	// ID identifies the run in a history. Shards of one CI run share it.
	ID         string      `json:"id"`
	Env        Env         `json:"env"`
	Packages   []Package   `json:"packages,omitempty"`
	Tests      []Test      `json:"tests,omitempty"`
	Benchmarks []Benchmark `json:"benchmarks,omitempty"`
	Scenarios  []Scenario  `json:"scenarios,omitempty"`
	// Metrics are the scenario metrics (see Metrics), computed from the
	// scenarios' documents when the run is built.
	Metrics []ScenarioMetric `json:"metrics,omitempty"`
	// Compacted is set on history entries whose result documents were
	// dropped to keep the history small (History.Compact).
	Compacted bool `json:"compacted,omitempty"`
	// Problems are input lines that could not be read (malformed JSON,
	// malformed benchmark lines, undecodable result documents).
	Problems []Problem `json:"problems,omitempty"`
}

// Env describes where and when a run happened.
type Env struct {
	Commit    string    `json:"commit,omitempty"`
	Branch    string    `json:"branch,omitempty"`
	GoVersion string    `json:"goVersion,omitempty"`
	GOOS      string    `json:"goos,omitempty"`
	GOARCH    string    `json:"goarch,omitempty"`
	CPU       string    `json:"cpu,omitempty"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	// Labels name the matrix cell: from CXLOAD_LABELS, CXLOAD_SHARD
	// ("shard") and the -labels flag.
	Labels map[string]string `json:"labels,omitempty"`
	// URL links to the CI run, when known.
	URL string `json:"url,omitempty"`
}

// Package is the verdict of one package.
type Package struct {
	Name    string  `json:"name"`
	Verdict string  `json:"verdict"`
	Elapsed float64 `json:"elapsed,omitempty"` // seconds
	// FailedBuild names the package whose build failed; BuildOutput is
	// the compiler's output.
	FailedBuild string   `json:"failedBuild,omitempty"`
	BuildOutput []string `json:"buildOutput,omitempty"`
	// Output holds the package-level output of a failed package (e.g. a
	// panic outside any test), at most MaxFailureLines lines.
	Output []string `json:"output,omitempty"`
}

// Test is the verdict of one test, subtest or benchmark.
type Test struct {
	Package string            `json:"package"`
	Name    string            `json:"name"`
	Verdict string            `json:"verdict"`
	Elapsed float64           `json:"elapsed,omitempty"` // seconds
	Reason  string            `json:"reason,omitempty"`  // skip message, panic, timeout, last error line
	Attrs   map[string]string `json:"attrs,omitempty"`
	// Output is the tail of a failed test's output, at most
	// MaxFailureLines lines.
	Output []string `json:"output,omitempty"`
}

// Benchmark holds the samples of one benchmark in one unit: with
// -count 6, six values. Units are benchfmt's tidied units: sec/op, B/s,
// B/op, allocs/op, and custom units as reported.
type Benchmark struct {
	Package string    `json:"package,omitempty"`
	Name    string    `json:"name"` // without "Benchmark", with the -GOMAXPROCS suffix
	Unit    string    `json:"unit"`
	Values  []float64 `json:"values"`
}

// Scenario is the result document of one scenario in one matrix cell,
// with its shards merged.
type Scenario struct {
	Name    string            `json:"name"`
	Package string            `json:"package,omitempty"`
	Test    string            `json:"test,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"` // the document's labels: the matrix cell
	Shards  []string          `json:"shards,omitempty"` // shards merged into Doc
	// Doc is the merged result document; nil in a compacted history entry
	// (see History.Compact), where only Run.Metrics remain.
	Doc *result.Document `json:"doc"`
}

// Cell returns the scenario's matrix cell as "k=v,k=v", sorted by key, or
// "" when it has no labels.
func (s *Scenario) Cell() string { return formatLabels(s.Labels) }

// Problem is an input line that could not be used.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"msg"`
}

// String formats the problem as "file:line: message", or "file: message"
// when it is about the file as a whole (Line 0).
func (p Problem) String() string {
	if p.Line <= 0 { // about the file or directory as a whole
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// MaxFailureLines bounds the output kept for each failed test.
const MaxFailureLines = 40

// Failed reports whether any test or package failed.
func (r *Run) Failed() bool {
	for _, p := range r.Packages {
		if p.Verdict == Fail {
			return true
		}
	}
	for _, t := range r.Tests {
		if t.Verdict == Fail {
			return true
		}
	}
	return false
}

// Empty reports whether the run has no packages, tests, benchmarks or
// scenarios: the input held no test results (an empty file, or go test
// failed before it started).
func (r *Run) Empty() bool {
	return len(r.Packages) == 0 && len(r.Tests) == 0 && len(r.Benchmarks) == 0 && len(r.Scenarios) == 0
}

// Counts returns the number of passed, failed and skipped tests.
func (r *Run) Counts() (pass, fail, skip int) {
	for _, t := range r.Tests {
		switch t.Verdict {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		}
	}
	return
}

// ReadRun reads one or more `go test -json` streams (or plain `go test
// -bench` text) into a single Run. Syntax errors are kept in
// Run.Problems; the error is for I/O failures only.
func ReadRun(env Env, inputs ...NamedReader) (*Run, error) {
	b := NewBuilder(env)
	for _, in := range inputs {
		r := testjson.NewReader(in.R, in.Name)
		for r.Scan() {
			b.Add(r.Result())
		}
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
	}
	return b.Run(), nil
}

// NamedReader is an input and the name used for it in positions.
type NamedReader struct {
	Name string
	R    io.Reader
}

// runIDLabel carries an explicit run id from EnvFromEnviron to the Run.
const runIDLabel = "\x00runid"

// DefaultRunID derives a run id from the start time and commit, so that
// reading the same capture twice gives the same id.
func DefaultRunID(env Env) string {
	id := "run"
	if !env.Start.IsZero() {
		id = env.Start.UTC().Format("20060102T150405.000Z")
	}
	if env.Commit != "" {
		c := env.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		id += "-" + c
	}
	return id
}
