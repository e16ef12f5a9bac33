package reports

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports/testjson"
)

// Builder builds a Run from testjson records. It is not safe for concurrent
// use.
type Builder struct {
	env      Env
	pkgs     map[string]*Package
	pkgOrder []string
	pkgOut   map[string][]string
	tests    map[testKey]*testState
	order    []testKey
	build    map[string][]string // build output by ImportPath
	bench    map[benchKey]*Benchmark
	benchOrd []benchKey
	scen     map[string]*Scenario
	scenOrd  []string
	problems []Problem
}

type testKey struct{ pkg, name string }

type benchKey struct{ pkg, name, unit string }

type testState struct {
	Test
	tail     []string
	panicked []string // the panic and the stack after it: its head matters
	started  bool
	done     bool
	runs     int // run events: -count N runs a test N times
	fails    int
	panic    string
	timeout  string
}

// NewBuilder returns a Builder whose Run starts from env (commit, labels and
// so on known from outside the stream).
func NewBuilder(env Env) *Builder {
	return &Builder{
		env:    env,
		pkgs:   make(map[string]*Package),
		pkgOut: make(map[string][]string),
		tests:  make(map[testKey]*testState),
		build:  make(map[string][]string),
		bench:  make(map[benchKey]*Benchmark),
		scen:   make(map[string]*Scenario),
	}
}

// Add adds one record.
func (b *Builder) Add(rec testjson.Record) {
	switch rec := rec.(type) {
	case *testjson.Event:
		b.event(rec)
	case *testjson.Line:
		b.line(rec)
	case *testjson.Benchmark:
		b.benchmark(rec)
	case *testjson.SyntaxError:
		b.problems = append(b.problems, Problem{File: rec.FileName, Line: rec.Line, Msg: rec.Msg})
	}
}

func (b *Builder) seeTime(t time.Time) {
	if t.IsZero() {
		return
	}
	if b.env.Start.IsZero() || t.Before(b.env.Start) {
		b.env.Start = t
	}
	if t.After(b.env.End) {
		b.env.End = t
	}
}

func (b *Builder) pkg(name string) *Package {
	p := b.pkgs[name]
	if p == nil {
		p = &Package{Name: name}
		b.pkgs[name] = p
		b.pkgOrder = append(b.pkgOrder, name)
	}
	return p
}

func (b *Builder) test(pkg, name string) *testState {
	k := testKey{pkg, name}
	t := b.tests[k]
	if t == nil {
		t = &testState{Test: Test{Package: pkg, Name: name}}
		b.tests[k] = t
		b.order = append(b.order, k)
	}
	return t
}

func (b *Builder) event(e *testjson.Event) {
	b.seeTime(e.Time)
	switch {
	case e.Action == "build-fail":
		return
	case e.Test == "":
		if e.Package == "" {
			return
		}
		p := b.pkg(e.Package)
		switch e.Action {
		case Pass, Fail, Skip:
			// The same package may end several times (several files,
			// e.g. the shards of a matrix): a failure stays.
			if p.Verdict != Fail {
				p.Verdict = e.Action
			}
			p.Elapsed += e.Elapsed
			if e.FailedBuild != "" {
				p.FailedBuild = e.FailedBuild
				p.BuildOutput = b.build[e.FailedBuild]
			}
			if e.Action == Fail {
				p.Output = append(p.Output, b.pkgOut[e.Package]...)
			}
			delete(b.pkgOut, e.Package)
			b.endPackage(e.Package, e.Action)
		}
		return
	}
	t := b.test(e.Package, e.Test)
	switch e.Action {
	case "run":
		// With -count N a test runs N times: a new run starts a
		// new verdict, but a failure of an earlier run is kept.
		t.started, t.done = true, false
		t.runs++
	case "attr":
		if t.Attrs == nil {
			t.Attrs = make(map[string]string)
		}
		t.Attrs[e.Key] = e.Value
	case Pass, Fail, Skip:
		t.done = true
		if e.Action == Fail {
			t.fails++
		}
		if t.Verdict == Fail && e.Action != Fail {
			// An earlier run failed: the test stays failed.
			t.tail, t.panicked = nil, nil
			return
		}
		t.Verdict, t.Elapsed = e.Action, e.Elapsed
		b.finishTest(t)
	}
}

// endPackage gives a verdict to the tests of pkg that never got one: the
// test binary died (panic, timeout, os.Exit) while they ran.
func (b *Builder) endPackage(pkg, verdict string) {
	for _, k := range b.order {
		t := b.tests[k]
		if k.pkg != pkg || t.done {
			continue
		}
		t.done = true
		t.Verdict = Fail
		switch {
		case t.timeout != "":
			t.Reason = "timed out: " + t.timeout
		case t.panic != "":
			t.Reason = t.panic
		case strings.HasPrefix(k.name, "Benchmark"):
			// test2json reports no verdict for benchmarks that ran
			// to completion: their result lines are the verdict.
			t.Verdict = Pass
		case verdict == Fail:
			t.Reason = "did not finish: the test binary exited while it ran"
		default:
			t.Reason = "did not finish"
		}
		if t.Verdict == Fail {
			t.fails++
		}
		b.finishTest(t)
	}
}

var skipLine = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: (.*)$`)

func (b *Builder) finishTest(t *testState) {
	switch t.Verdict {
	case Fail:
		if t.Reason == "" {
			switch {
			case t.panic != "":
				t.Reason = t.panic
			default:
				t.Reason = lastLogLine(t.tail)
			}
		}
		t.Output = t.tail
		if len(t.panicked) > 0 {
			// Some context before the panic, then its head.
			t.Output = append(tail(t.tail, MaxFailureLines/4), t.panicked...)
		}
	case Skip:
		if t.Reason == "" {
			t.Reason = lastLogLine(t.tail)
		}
	}
	t.tail, t.panicked = nil, nil
}

// lastLogLine returns the last t.Log/t.Error message in tail.
func lastLogLine(tail []string) string {
	for i := len(tail) - 1; i >= 0; i-- {
		if m := skipLine.FindStringSubmatch(tail[i]); m != nil {
			return m[1]
		}
	}
	return ""
}

func (b *Builder) line(l *testjson.Line) {
	b.seeTime(l.Time)
	if l.Build {
		b.build[l.ImportPath] = appendTail(b.build[l.ImportPath], l.Text)
		return
	}
	if l.NotJSON || l.Package == "" {
		b.maybeDocument(l)
		return
	}
	if l.Test == "" {
		b.pkgOut[l.Package] = appendTail(b.pkgOut[l.Package], l.Text)
		b.maybeDocument(l)
		return
	}
	t := b.test(l.Package, l.Test)
	if b.maybeDocument(l) {
		return
	}
	if strings.HasPrefix(l.Text, "=== ") || strings.Contains(l.Text, result.ProgressPrefix) {
		return
	}
	if strings.HasPrefix(l.Text, "panic: ") && t.panic == "" {
		t.panic = l.Text
		if strings.HasPrefix(l.Text, "panic: test timed out") {
			t.timeout = strings.TrimPrefix(l.Text, "panic: ")
		}
	}
	switch {
	case t.done:
	case t.panic != "":
		if len(t.panicked) < MaxFailureLines {
			t.panicked = append(t.panicked, clip(l.Text))
		}
	default:
		t.tail = appendTail(t.tail, l.Text)
	}
}

// MaxLineKeep bounds each kept line of failure output, in bytes.
const MaxLineKeep = 2000

func appendTail(tail []string, s string) []string {
	if len(tail) >= MaxFailureLines {
		copy(tail, tail[1:])
		tail = tail[:len(tail)-1]
	}
	return append(tail, clip(s))
}

// clip shortens s to MaxLineKeep bytes (at a rune boundary), saying so.
func clip(s string) string {
	if len(s) <= MaxLineKeep {
		return s
	}
	cut := MaxLineKeep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// resultLine matches the optional t.Log prefix ("    file_test.go:NN: ")
// before the result marker.
var resultLine = regexp.MustCompile(`^\s*(?:[\w.-]+\.go:\d+: )?$`)

// maybeDocument handles a `cxload-result: {json}` line, reporting whether
// it was one.
func (b *Builder) maybeDocument(l *testjson.Line) bool {
	i := strings.Index(l.Text, result.Prefix)
	if i < 0 || !resultLine.MatchString(l.Text[:i]) {
		return false
	}
	data := l.Text[i+len(result.Prefix):]
	doc, err := result.Decode([]byte(data))
	if err == nil && doc == nil {
		err = errors.New("empty document")
	}
	if err != nil {
		b.problems = append(b.problems, Problem{File: l.File, Line: l.LineNo, Msg: fmt.Sprintf("result document of %s: %v", orDash(l.Test), err)})
		return true
	}
	b.addDocument(l.Package, l.Test, doc)
	return true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (b *Builder) addDocument(pkg, test string, doc *result.Document) {
	// A "shard" label (CI matrices often put the shard among the labels)
	// names a part of the cell, not a cell: shards of a cell merge.
	labels := maps.Clone(doc.Labels)
	shard := cmp.Or(doc.Shard, labels[ShardLabel])
	delete(labels, ShardLabel)
	key := scenarioKey(doc.Scenario, labels)
	s := b.scen[key]
	if s == nil {
		name := doc.Scenario
		if name == "" {
			name = test
		}
		s = &Scenario{Name: name, Package: pkg, Test: test, Labels: labels, Doc: doc}
		if shard != "" {
			s.Shards = []string{shard}
		}
		b.scen[key] = s
		b.scenOrd = append(b.scenOrd, key)
		return
	}
	if err := s.Doc.Merge(doc); err != nil {
		b.problems = append(b.problems, Problem{Msg: fmt.Sprintf("merging shard %q of %s: %v", shard, s.Name, err)})
		return
	}
	if shard != "" {
		s.Shards = append(s.Shards, shard)
	}
}

func scenarioKey(name string, labels map[string]string) string {
	return name + "\x00" + formatLabels(labels)
}

func formatLabels(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(labels[k])
	}
	return sb.String()
}

func (b *Builder) benchmark(rec *testjson.Benchmark) {
	res := rec.Result
	pkg := rec.Package
	if pkg == "" {
		pkg = res.GetConfig("pkg")
	}
	if b.env.GOOS == "" {
		b.env.GOOS = res.GetConfig("goos")
	}
	if b.env.GOARCH == "" {
		b.env.GOARCH = res.GetConfig("goarch")
	}
	if b.env.CPU == "" {
		b.env.CPU = res.GetConfig("cpu")
	}
	name := strings.TrimPrefix(res.Name.String(), "Benchmark")
	for _, v := range res.Values {
		k := benchKey{pkg, name, v.Unit}
		bm := b.bench[k]
		if bm == nil {
			bm = &Benchmark{Package: pkg, Name: name, Unit: v.Unit}
			b.bench[k] = bm
			b.benchOrd = append(b.benchOrd, k)
		}
		bm.Values = append(bm.Values, v.Value)
	}
}

// Run returns the run built so far. Tests still running when the input
// ended are failed ("did not finish"). The ID is set from the environment
// if not already known.
func (b *Builder) Run() *Run {
	for _, name := range b.pkgOrder {
		if b.pkgs[name].Verdict == "" {
			b.pkgs[name].Verdict = Fail
			b.pkgs[name].Output = append(b.pkgs[name].Output, "(the input ended before the package's verdict)")
			b.endPackage(name, Fail)
		}
	}
	for _, k := range b.order {
		if t := b.tests[k]; !t.done {
			b.endPackage(k.pkg, Fail)
		}
	}
	r := &Run{Env: b.env, Problems: slices.Clone(b.problems)}
	r.Env.Labels = maps.Clone(b.env.Labels)
	for _, name := range b.pkgOrder {
		r.Packages = append(r.Packages, *b.pkgs[name])
	}
	for _, k := range b.order {
		t := b.tests[k]
		if !t.started && t.Verdict == "" {
			continue
		}
		test := t.Test
		if t.fails > 0 && t.fails < t.runs {
			n := fmt.Sprintf("failed %d of %d runs", t.fails, t.runs)
			if test.Reason == "" {
				test.Reason = n
			} else {
				test.Reason += " (" + n + ")"
			}
		}
		r.Tests = append(r.Tests, test)
	}
	for _, k := range b.benchOrd {
		bm := *b.bench[k]
		bm.Values = slices.Clone(bm.Values)
		r.Benchmarks = append(r.Benchmarks, bm)
	}
	for _, k := range b.scenOrd {
		r.Scenarios = append(r.Scenarios, *b.scen[k])
	}
	groupByTest(r)
	var errs []error
	r.Metrics, errs = scenarioMetrics(r)
	for _, err := range errs {
		r.Problems = append(r.Problems, Problem{Msg: err.Error()})
	}
	r.ID = cmp.Or(b.env.Labels[runIDLabel], DefaultRunID(r.Env))
	delete(r.Env.Labels, runIDLabel)
	return r
}

// groupByTest orders r's tests and scenarios as go test nests its tests:
// top-level tests in the order they started, each followed by its subtests
// in the order they started. A parent comes before its subtests although
// it finishes, and writes its scenario document, after them; parallel
// tests' subtests do not interleave. Scenarios of one test keep their
// order; those of a test r does not hold come last.
func groupByTest(r *Run) {
	started := make(map[testKey]int, len(r.Tests))
	for i, t := range r.Tests {
		if _, ok := started[testKey{t.Package, t.Name}]; !ok {
			started[testKey{t.Package, t.Name}] = i
		}
	}
	// path is the start positions of the test's ancestors and its own,
	// top-level first; an ancestor r does not hold (a subtest name with a
	// slash) takes the test's own position.
	path := func(pkg, name string) []int {
		self, ok := started[testKey{pkg, name}]
		if !ok {
			return []int{len(r.Tests)}
		}
		var p []int
		for i, c := range name {
			if c != '/' {
				continue
			}
			if j, ok := started[testKey{pkg, name[:i]}]; ok {
				p = append(p, j)
			} else {
				p = append(p, self)
			}
		}
		return append(p, self)
	}
	r.Tests = sortByPath(r.Tests, func(t *Test) []int { return path(t.Package, t.Name) })
	r.Scenarios = sortByPath(r.Scenarios, func(s *Scenario) []int { return path(s.Package, s.Test) })
}

// sortByPath returns s sorted stably by path, a parent's path before its
// children's.
func sortByPath[T any](s []T, path func(*T) []int) []T {
	type keyed struct {
		path []int
		v    T
	}
	ks := make([]keyed, len(s))
	for i := range s {
		ks[i] = keyed{path(&s[i]), s[i]}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return slices.Compare(a.path, b.path) })
	out := make([]T, len(ks))
	for i, k := range ks {
		out[i] = k.v
	}
	return out
}
