// Package testjson reads the event stream of `go test -json` (test2json).
//
// A Reader turns the stream into records: complete lines of output (joined
// from the pieces test2json cuts them into, per package and test), test
// events (run, pass, fail, skip, ...), attributes, build output and
// failures, benchmark results parsed with golang.org/x/perf/benchfmt, and
// syntax errors. Its API is modeled on bufio.Scanner and benchfmt.Reader:
//
//	r := testjson.NewReader(os.Stdin, "stdin")
//	for r.Scan() {
//		switch rec := r.Result().(type) {
//		case *testjson.Line:      // a complete line of output
//		case *testjson.Event:     // run, pass, fail, skip, attr, build-fail...
//		case *testjson.Benchmark: // one benchmark result (one -count sample)
//		case *testjson.SyntaxError:
//		}
//	}
//	if err := r.Err(); err != nil { ... } // I/O errors only
//
// A malformed line is a *SyntaxError record carrying the file name and line
// number; reading goes on with the next line. Lines that are not JSON at all
// (for example the text of plain `go test -bench` output, or a message a
// wrapper script printed into the stream) become *Line records with NotJSON
// set, and benchmark results in them are parsed too, so a plain text
// benchmark capture reads like a JSON one.
package testjson

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// Record is one record read by a Reader: a *Line, *Event, *Benchmark or
// *SyntaxError.
type Record interface {
	// Pos returns where the record was read: the file name given to
	// NewReader and the 1-based line number of the input line that
	// completed the record.
	Pos() (fileName string, line int)
}

// Line is one complete line of output, without its trailing newline.
type Line struct {
	Package string // "" for lines outside any package (build output, non-JSON lines)
	Test    string // "" for package-level output
	Text    string
	Time    time.Time // time of the event that completed the line
	// Build is set for `build-output` lines; ImportPath then names the
	// package being built.
	Build      bool
	ImportPath string
	// NotJSON is set for input lines that were not JSON events.
	NotJSON bool

	File   string
	LineNo int
}

// Pos implements Record.
func (l *Line) Pos() (string, int) { return l.File, l.LineNo }

// Event is a test2json action other than output: start, run, pause, cont,
// pass, fail, skip, bench, attr or build-fail.
type Event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string  // "" for package-level events
	Elapsed float64 // seconds, for pass, fail, skip and bench
	// FailedBuild names the package whose build failed, on a package
	// `fail` event caused by a build failure.
	FailedBuild string
	// ImportPath is set on build-fail events.
	ImportPath string
	// Key and Value are set on attr events (t.Attr).
	Key, Value string

	File   string
	LineNo int
}

// Pos implements Record.
func (e *Event) Pos() (string, int) { return e.File, e.LineNo }

// Benchmark is one benchmark result line: one sample of one benchmark
// (with -count N, a benchmark has N of them).
type Benchmark struct {
	Package string
	// Result is the parsed line, with benchfmt's tidied units (ns/op
	// becomes sec/op) and configuration (goos, goarch, pkg, cpu, ...).
	// It belongs to the record and is not reused.
	Result *benchfmt.Result

	File   string
	LineNo int
}

// Pos implements Record.
func (b *Benchmark) Pos() (string, int) { return b.File, b.LineNo }

// SyntaxError is a line of input that could not be read: malformed JSON or a
// malformed benchmark line.
type SyntaxError struct {
	FileName string
	Line     int
	Msg      string
}

// Pos implements Record.
func (e *SyntaxError) Pos() (string, int) { return e.FileName, e.Line }

// Error formats the error as "file:line: message".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.FileName, e.Line, e.Msg)
}

// MaxLine is the longest input line a Reader accepts; longer lines are
// reported as syntax errors and skipped. test2json itself cuts output into
// pieces well under this.
const MaxLine = 64 << 20

// maxPending bounds the output held for a single unterminated line of one
// test, so a test that writes megabytes without a newline cannot exhaust
// memory; past it the partial line is emitted as if it ended.
const maxPending = 1 << 20

// Reader reads `go test -json` output. Use NewReader, then Scan until it
// returns false, then Err. A Reader is not safe for concurrent use.
type Reader struct {
	br       *bufio.Reader
	fileName string
	lineNo   int
	err      error
	eof      bool

	q    []Record
	qPos int
	cur  Record

	ev   rawEvent
	dec  decoder
	long []byte

	// pending holds the unterminated output of each (package, test).
	pending map[streamKey]*pendingLine
	// bench holds, per package, the lines benchfmt needs (configuration
	// and benchmark lines), parsed when the package ends.
	bench map[string]*benchBuf
}

type streamKey struct{ pkg, test string }

type pendingLine struct {
	buf []byte
}

type benchBuf struct {
	data  []byte
	lines []int // input line number of each buffered line
}

// NewReader returns a Reader reading from r. fileName is used in positions
// and error messages.
func NewReader(r io.Reader, fileName string) *Reader {
	if fileName == "" {
		fileName = "<unknown>"
	}
	return &Reader{
		br:       bufio.NewReaderSize(r, 64<<10),
		fileName: fileName,
		pending:  make(map[streamKey]*pendingLine),
		bench:    make(map[string]*benchBuf),
	}
}

// Scan advances to the next record, reporting whether there is one. At the
// end of input, or on an I/O error, it returns false.
func (r *Reader) Scan() bool {
	for {
		if r.qPos < len(r.q) {
			r.cur = r.q[r.qPos]
			r.q[r.qPos] = nil
			r.qPos++
			return true
		}
		r.q, r.qPos = r.q[:0], 0
		if r.eof {
			r.cur = nil
			return false
		}
		line, err := r.readLine()
		if line != nil {
			r.lineNo++
			r.handleLine(line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = fmt.Errorf("testjson: reading %s after line %d: %w", r.fileName, r.lineNo, err)
			}
			r.eof = true
			r.flushAll()
		}
	}
}

// Result returns the record read by the last call to Scan.
func (r *Reader) Result() Record { return r.cur }

// Err returns the I/O error that ended the scan, or nil at a clean end of
// input. Syntax errors are records, not errors.
func (r *Reader) Err() error { return r.err }

// readLine returns the next line without its newline. The slice is valid
// until the next call. It returns (nil, io.EOF) at the end.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == nil {
		return trimEOL(line), nil
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		r.long = append(r.long[:0], line...)
		for {
			line, err = r.br.ReadSlice('\n')
			if len(r.long) < MaxLine+1 {
				r.long = append(r.long, line...)
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return trimEOL(r.long), err
	}
	if len(line) > 0 {
		return trimEOL(line), err
	}
	return nil, err
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}

func (r *Reader) syntaxError(format string, args ...any) {
	r.q = append(r.q, &SyntaxError{FileName: r.fileName, Line: r.lineNo, Msg: fmt.Sprintf(format, args...)})
}

func (r *Reader) handleLine(line []byte) {
	if len(line) > MaxLine {
		r.syntaxError("line is %d bytes, longer than the %d bytes accepted; skipped", len(line), MaxLine)
		return
	}
	trimmed := bytes.TrimLeft(line, " \t")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		// Not JSON: plain text, e.g. `go test -bench` output or a
		// wrapper's message. Keep it, and parse benchmarks in it.
		text := string(line)
		r.q = append(r.q, &Line{Text: text, NotJSON: true, File: r.fileName, LineNo: r.lineNo})
		r.benchLine("", text)
		return
	}
	if err := decodeEvent(line, &r.ev, &r.dec); err != nil {
		r.syntaxError("malformed go test -json event: %v", cleanJSONError(err))
		return
	}
	ev := &r.ev
	switch ev.Action {
	case "output":
		r.output(ev.Package, ev.Test, ev.Output, ev.Time, false, "")
	case "build-output":
		r.output("", "", ev.Output, ev.Time, true, ev.ImportPath)
	case "":
		r.syntaxError("go test -json event has no Action")
	default:
		e := &Event{
			Time: ev.Time, Action: ev.Action, Package: ev.Package, Test: ev.Test,
			Elapsed: ev.Elapsed, FailedBuild: ev.FailedBuild, ImportPath: ev.ImportPath,
			Key: ev.Key, Value: ev.Value, File: r.fileName, LineNo: r.lineNo,
		}
		switch {
		case ev.Action == "build-fail":
			r.flushBuild(ev.ImportPath)
		case ev.Test != "" && isEnd(ev.Action):
			r.flushStream(streamKey{ev.Package, ev.Test})
		case ev.Test == "" && isEnd(ev.Action):
			// The package is done: its partial lines end, and its
			// benchmark lines can be parsed.
			r.flushPackage(ev.Package)
			r.q = append(r.q, e)
			r.parseBench(ev.Package)
			return
		}
		r.q = append(r.q, e)
	}
}

func isEnd(action string) bool {
	return action == "pass" || action == "fail" || action == "skip"
}

func cleanJSONError(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

// output adds a piece of output to the stream of (pkg, test) and queues the
// lines it completes.
func (r *Reader) output(pkg, test, out string, t time.Time, build bool, importPath string) {
	key := streamKey{pkg, test}
	if build {
		key = streamKey{"\x00build", importPath}
	}
	p := r.pending[key]
	for len(out) > 0 {
		nl := strings.IndexByte(out, '\n')
		if nl < 0 {
			if p == nil {
				p = &pendingLine{}
				r.pending[key] = p
			}
			p.buf = append(p.buf, out...)
			if len(p.buf) >= maxPending {
				r.emitLine(pkg, test, string(p.buf), t, build, importPath)
				p.buf = p.buf[:0]
			}
			return
		}
		var text string
		if p != nil && len(p.buf) > 0 {
			p.buf = append(p.buf, out[:nl]...)
			text = string(p.buf)
			p.buf = p.buf[:0]
		} else {
			text = out[:nl]
		}
		r.emitLine(pkg, test, text, t, build, importPath)
		out = out[nl+1:]
	}
}

func (r *Reader) emitLine(pkg, test, text string, t time.Time, build bool, importPath string) {
	text = strings.TrimSuffix(text, "\r")
	r.q = append(r.q, &Line{Package: pkg, Test: test, Text: text, Time: t, Build: build, ImportPath: importPath, File: r.fileName, LineNo: r.lineNo})
	if !build && (test == "" || strings.HasPrefix(test, "Benchmark")) {
		r.benchLine(pkg, text)
	}
}

// flushStream ends the partial line of one stream, if any.
func (r *Reader) flushStream(key streamKey) {
	p := r.pending[key]
	if p == nil {
		return
	}
	delete(r.pending, key)
	if len(p.buf) > 0 {
		r.emitLine(key.pkg, key.test, string(p.buf), time.Time{}, false, "")
	}
}

func (r *Reader) flushBuild(importPath string) {
	key := streamKey{"\x00build", importPath}
	if p := r.pending[key]; p != nil {
		delete(r.pending, key)
		if len(p.buf) > 0 {
			r.emitLine("", "", string(p.buf), time.Time{}, true, importPath)
		}
	}
}

// flushPackage ends every partial line of a package, tests first so that a
// benchmark line split across a test and its package (as test2json does for
// -count samples after the first) is not cut.
func (r *Reader) flushPackage(pkg string) {
	var tests []string
	for key := range r.pending {
		if key.pkg == pkg && key.test != "" {
			tests = append(tests, key.test)
		}
	}
	slices.Sort(tests) // records in a stable order
	for _, test := range tests {
		r.flushStream(streamKey{pkg, test})
	}
	r.flushStream(streamKey{pkg, ""})
}

func (r *Reader) flushAll() {
	var builds, pkgs []string
	for key := range r.pending {
		if key.pkg == "\x00build" {
			builds = append(builds, key.test)
		} else if !slices.Contains(pkgs, key.pkg) {
			pkgs = append(pkgs, key.pkg)
		}
	}
	slices.Sort(builds)
	slices.Sort(pkgs)
	for _, b := range builds {
		r.flushBuild(b)
	}
	for _, pkg := range pkgs {
		r.flushPackage(pkg)
	}
	pkgs = pkgs[:0]
	for pkg := range r.bench {
		pkgs = append(pkgs, pkg)
	}
	slices.Sort(pkgs)
	for _, pkg := range pkgs {
		r.parseBench(pkg)
	}
}

// benchLine keeps a line for benchfmt if it can matter to it: a benchmark
// result or a "key: value" configuration line.
func (r *Reader) benchLine(pkg, text string) {
	if len(text) == 0 {
		return
	}
	c := text[0]
	if c == 'B' {
		if !strings.HasPrefix(text, "Benchmark") {
			return
		}
		// Skip the bare name line test -v prints when a benchmark starts.
		if !strings.ContainsAny(text, " \t") {
			return
		}
	} else if c < 'a' || c > 'z' || strings.IndexByte(text, ':') < 0 {
		return
	}
	b := r.bench[pkg]
	if b == nil {
		b = &benchBuf{}
		r.bench[pkg] = b
	}
	b.data = append(b.data, text...)
	b.data = append(b.data, '\n')
	b.lines = append(b.lines, r.lineNo)
}

// parseBench parses the buffered benchmark lines of pkg with benchfmt.
func (r *Reader) parseBench(pkg string) {
	b := r.bench[pkg]
	if b == nil {
		return
	}
	delete(r.bench, pkg)
	if !bytes.Contains(b.data, []byte("Benchmark")) {
		return
	}
	br := benchfmt.NewReader(bytes.NewReader(b.data), r.fileName)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.Result:
			_, n := rec.Pos()
			res := rec.Clone()
			r.q = append(r.q, &Benchmark{Package: pkg, Result: res, File: r.fileName, LineNo: b.line(n)})
		case *benchfmt.SyntaxError:
			r.q = append(r.q, &SyntaxError{FileName: r.fileName, Line: b.line(rec.Line), Msg: "benchmark: " + rec.Msg})
		}
	}
}

func (b *benchBuf) line(n int) int {
	if n >= 1 && n <= len(b.lines) {
		return b.lines[n-1]
	}
	return 0
}
