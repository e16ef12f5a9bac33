package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
	"github.com/cxload/cxload/reports/testjson"
)

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// failure is a run that went wrong (failed tests, regressions): exit
// status 1, with the reason.
type failure struct{ msg string }

func (e *failure) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "report: %v\n(run with -h for help)\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 1
	}
}

const usageMain = `Usage:
  go test -json ./... | go run ./scripts/report [flags]
  go run ./scripts/report [flags] FILE...
  go run ./scripts/report compare [-format text|json] OLD NEW
  go run ./scripts/report history [-prune N] [-compact N] [-merge SRC] PATH

Reads go test -json output (or plain go test -bench text) from the FILEs, or
from standard input when there are none or FILE is "-", and prints a Markdown
report to standard output. All FILEs are one run (for example the shards of a
CI matrix); inputs that repeat each other (a file given twice, one shard of a
scenario's cell in two files) are refused. Every shard of each scenario's
cell must be there exactly once: a missing or duplicated shard fails the merge,
naming it, unless -partial (the report then says its totals are partial); a
shard run again under the same run id (a replaced Kubernetes pod) replaces its
earlier document. A run without test results is
not added to the -history. While reading standard input it shows progress on
standard error.
The Markdown stays under 1 MiB, the limit of a GitHub step summary.

Environment: CXLOAD_LABELS (k=v,...), CXLOAD_SHARD, CXLOAD_RUN_ID,
CXLOAD_COMMIT, CXLOAD_BRANCH; on GitHub Actions GITHUB_SHA, GITHUB_REF_NAME,
GITHUB_RUN_ID are used.

Exit status: 0 all is well; 1 failed tests (see -fail-on) or unreadable input;
2 bad command line.

Flags:
`

const usageCompare = `Usage:
  go run ./scripts/report compare [flags] OLD NEW

Compares two runs, benchstat-style: benchmarks with the Mann-Whitney U test
(verdict "~" when not significant), scenario metrics (per operation the
service p50, service p99 and total p99; throughput, 429 rate, heartbeat
gaps, drops) against minimum changes (-threshold). Regressions first. OLD
and NEW are captures (go test -json files or plain go test -bench text) or
run ids in the -history.

Flags:
`

type options struct {
	html, jsonPath, junit, history, baseline, failOn, labels string
	alpha, minEffect                                         float64
	thresholds                                               ruleFlag
	prune                                                    int
	progress, partial                                        bool
	title, summary                                           string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return runCompare(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "history" {
		return runHistory(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.html, "html", "", "write a self-contained HTML report (charts, trends) to `PATH`")
	fs.StringVar(&o.jsonPath, "json", "", "write the run, scenario headlines and comparison as JSON to `PATH`")
	fs.StringVar(&o.junit, "junit", "", "write JUnit XML to `PATH`: a test case per test and per scenario threshold,\nthe scenario figures as properties (for GitLab, Jenkins, Azure DevOps)")
	fs.StringVar(&o.history, "history", "", "append the run to the history at `PATH` (a .jsonl file, or a directory),\nand use it for the baseline and the HTML trends")
	fs.StringVar(&o.baseline, "baseline", "prev", "compare with `BASE`: prev (the previous run in -history), a run id,\nmedian:N (the last N runs), or none")
	fs.StringVar(&o.failOn, "fail-on", "tests", "exit 1 on `WHAT`: tests (failed tests or builds), regressions (those and\nregressions against the baseline), none (exit 0 unless the input cannot be read at all)")
	fs.StringVar(&o.labels, "labels", "", "matrix labels of this run, `k=v,k=v`, added to CXLOAD_LABELS")
	fs.Float64Var(&o.alpha, "alpha", reports.DefaultAlpha, "significance level of benchmark comparisons (Mann-Whitney U)")
	fs.Float64Var(&o.minEffect, "min-effect", 0, minEffectUsage)
	fs.Var(&o.thresholds, "threshold", thresholdUsage)
	fs.IntVar(&o.prune, "prune", 0, "after appending, keep only the newest `N` runs in -history (0 keeps all)")
	fs.BoolVar(&o.partial, "partial", false, "merge even when a shard of a scenario's cell is missing or given twice (kept once);\nthe report says its totals are partial")
	fs.BoolVar(&o.progress, "progress", true, "show progress on standard error while reading standard input")
	fs.StringVar(&o.summary, "summary", "", "also append the Markdown to `PATH`, e.g. -summary \"$GITHUB_STEP_SUMMARY\"")
	fs.StringVar(&o.title, "title", "", "title of the report (default \"cxload report\")")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageMain)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	switch o.failOn {
	case "tests", "regressions", "none":
	default:
		return &usageError{fmt.Sprintf("-fail-on %q: want tests, regressions or none", o.failOn)}
	}
	if o.prune < 0 {
		return &usageError{fmt.Sprintf("-prune %d: want N >= 0", o.prune)}
	}

	env, err := environment(ctx, o.labels)
	if err != nil {
		return err
	}
	cur, err := readRun(ctx, env, fs.Args(), stdin, stderr, o.progress, o.partial)
	if err != nil {
		return err
	}
	if o.partial && slices.ContainsFunc(cur.Problems, func(p reports.Problem) bool { return strings.HasPrefix(p.Msg, partialMark) }) {
		o.title = cmp.Or(o.title, "cxload report") + " (partial totals: shards missing or duplicated)"
	}
	if cur.Env.Start.IsZero() {
		// Plain text has no times: date the run now, so that two text
		// runs of one commit do not share an id.
		defaultID := reports.DefaultRunID(cur.Env)
		cur.Env.Start = time.Now().UTC()
		if cur.ID == defaultID {
			cur.ID = reports.DefaultRunID(cur.Env)
		}
	}

	var history []*reports.Run
	var cmpRes *reports.Comparison
	if o.history != "" {
		h, err := reports.OpenHistory(o.history)
		if err != nil {
			return err
		}
		past, probs, err := h.Runs()
		if err != nil {
			return err
		}
		for _, p := range probs {
			fmt.Fprintf(stderr, "report: history: %s\n", p)
		}
		if !cur.HasResults() {
			// Kept out of the history: as a baseline it would hide every
			// regression of the next run.
			fmt.Fprintf(stderr, "report: the run is not added to the history %s: it has no test results\n", o.history)
			history = past
		} else {
			if history, cmpRes, err = appendRun(h, past, cur, o); err != nil {
				return err
			}
			cur = history[len(history)-1]
		}
	} else if o.baseline != "prev" && o.baseline != "none" {
		return &usageError{"-baseline needs -history"}
	}

	rep := reports.NewReport(cur, cmpRes, history)
	rep.Title = o.title
	var md bytes.Buffer
	if err := rep.Markdown(&md); err != nil {
		return err
	}
	if _, err := stdout.Write(md.Bytes()); err != nil {
		return err
	}
	if o.summary != "" {
		if err := appendFile(o.summary, md.Bytes()); err != nil {
			return fmt.Errorf("-summary: %w", err)
		}
	}
	if o.html != "" {
		var b bytes.Buffer
		if err := rep.HTML(&b); err != nil {
			return err
		}
		if err := reports.WriteFileAtomic(o.html, b.Bytes()); err != nil {
			return err
		}
	}
	if o.junit != "" {
		var b bytes.Buffer
		if err := rep.JUnit(&b); err != nil {
			return err
		}
		if err := reports.WriteFileAtomic(o.junit, b.Bytes()); err != nil {
			return err
		}
	}
	if o.jsonPath != "" {
		var b bytes.Buffer
		if err := rep.JSON(&b); err != nil {
			return err
		}
		if err := reports.WriteFileAtomic(o.jsonPath, b.Bytes()); err != nil {
			return err
		}
	}
	if len(cur.Problems) > 0 {
		fmt.Fprintf(stderr, "report: %d input lines could not be read; the first: %s\n", len(cur.Problems), cur.Problems[0])
	}
	return verdict(rep, o.failOn)
}

// appendRun compares cur with its baseline in past, appends it to the
// history h and returns the history with cur (merged with the other shards
// and cells of its run) last.
func appendRun(h *reports.History, past []*reports.Run, cur *reports.Run, o options) ([]*reports.Run, *reports.Comparison, error) {
	var cmpRes *reports.Comparison
	if o.baseline != "none" {
		base, err := reports.Baseline(past, cur, o.baseline)
		if err != nil {
			return nil, nil, &usageError{err.Error()}
		}
		if len(base) > 0 {
			cmpRes = reports.Compare(base, cur, reports.CompareOptions{Alpha: o.alpha, MinEffect: o.minEffect, Rules: o.thresholds.rules()})
		}
	}
	if err := h.Append(cur); err != nil {
		return nil, nil, err
	}
	if o.prune > 0 {
		if _, err := h.Prune(o.prune); err != nil {
			return nil, nil, err
		}
	}
	// Reload: this run may be one shard of a run already in the history,
	// and the trends show the merged run.
	history, _, err := h.Runs()
	if err != nil {
		return nil, nil, err
	}
	for i, r := range history {
		if r.ID == cur.ID {
			cur = r
			history = append(history[:i:i], history[i+1:]...)
			break
		}
	}
	return append(history, cur), cmpRes, nil
}

func verdict(rep *reports.Report, failOn string) error {
	if failOn == "none" {
		return nil
	}
	if rep.Run.Empty() {
		return &failure{"the input has no test results: was it go test -json output?"}
	}
	if rep.Run.Failed() {
		_, fail, _ := rep.Run.Counts()
		n := 0
		for _, p := range rep.Run.Packages {
			if p.FailedBuild != "" {
				n++
			}
		}
		return &failure{fmt.Sprintf("%d tests failed, %d builds failed", fail, n)}
	}
	if failOn == "regressions" && rep.Comparison != nil {
		if n := rep.Comparison.Regressions(); n > 0 {
			return &failure{fmt.Sprintf("%d regressions against %s", n, rep.Comparison.Baseline)}
		}
	}
	return nil
}

func appendFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// environment returns what is known about the run from outside the stream.
func environment(ctx context.Context, labels string) (reports.Env, error) {
	env, err := reports.EnvFromEnviron(os.Getenv)
	if err != nil {
		return env, &usageError{err.Error()}
	}
	extra, err := reports.ParseLabels(labels)
	if err != nil {
		return env, &usageError{"-labels: " + err.Error()}
	}
	if len(extra) > 0 && env.Labels == nil {
		env.Labels = make(map[string]string)
	}
	for k, v := range extra {
		env.Labels[k] = v
	}
	env.GoVersion = cmp.Or(env.GoVersion, runtime.Version())
	if env.Commit == "" {
		env.Commit = git(ctx, "rev-parse", "HEAD")
	}
	if env.Branch == "" && env.Commit != "" {
		if b := git(ctx, "rev-parse", "--abbrev-ref", "HEAD"); b != "HEAD" {
			env.Branch = b
		}
	}
	return env, nil
}

// git returns the output of a git command, or "" if it fails (no git, not
// a repository).
func git(ctx context.Context, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// partialMark starts the run's problems that make its totals partial.
const partialMark = "partial totals: "

// readRun reads the inputs into one run, showing progress while reading
// standard input. Inputs that repeat each other (the same content, or the
// same shard of a scenario's cell twice) are refused: their counts would add.
// When the inputs are files, they are first checked to hold every shard of
// every scenario's cell once (reports.ShardCheck): a re-run shard replaces
// its earlier document; a missing or duplicated one fails the merge, or,
// with partial, becomes a problem of the run.
func readRun(ctx context.Context, env reports.Env, files []string, stdin io.Reader, stderr io.Writer, progress, partial bool) (*reports.Run, error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	plan, err := checkShards(ctx, files, partial)
	if err != nil {
		return nil, err
	}
	b := reports.NewBuilder(env)
	var inputs reports.InputSet
	for _, name := range files {
		var in io.Reader
		show := false
		if name == "-" {
			if isTerminal(stdin) {
				return nil, &usageError{"no input: pipe go test -json output in (go test -json ./... | go run ./scripts/report) or name FILEs"}
			}
			in, show, name = stdin, progress, "stdin"
		} else {
			f, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			in = f
		}
		r := testjson.NewReader(inputs.Reader(name, in), name)
		p := &progressPrinter{w: stderr}
		for r.Scan() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rec := r.Result()
			if show {
				p.show(rec)
			}
			if plan.Skip(name, rec) {
				continue
			}
			if err := inputs.Add(rec); err != nil {
				return nil, duplicateInput(b, err)
			}
			b.Add(rec)
		}
		if err := r.Err(); err != nil {
			return nil, err
		}
		if err := inputs.Done(); err != nil {
			return nil, duplicateInput(b, err)
		}
		if show {
			p.done()
		}
	}
	run := b.Run()
	for _, r := range plan.Reruns {
		fmt.Fprintf(stderr, "report: %s\n", r)
		run.Problems = append(run.Problems, reports.Problem{File: "merge", Msg: r})
	}
	for _, e := range plan.Errors {
		fmt.Fprintf(stderr, "report: %s%v\n", partialMark, e)
		run.Problems = append(run.Problems, reports.Problem{File: "merge", Msg: partialMark + e.Error()})
	}
	return run, nil
}

// checkShards reads the files (standard input is one process's output, not
// a merge, and is not checked) and plans the merge of their shards. Without
// partial, a missing or duplicated shard is the error.
func checkShards(ctx context.Context, files []string, partial bool) (*reports.ShardPlan, error) {
	var check reports.ShardCheck
	for _, name := range files {
		if name == "-" {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		r := testjson.NewReader(f, name)
		for r.Scan() {
			if err := ctx.Err(); err != nil {
				f.Close()
				return nil, err
			}
			check.Add(name, r.Result())
		}
		err = r.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	plan := check.Plan(partial)
	if err := plan.Err(); err != nil && !partial {
		return nil, &failure{fmt.Sprintf("the legs do not hold every shard once; nothing was written:\n%v", err)}
	}
	return plan, nil
}

// duplicateInput names the run in the error of a repeated input.
func duplicateInput(b *reports.Builder, err error) error {
	if id := b.Run().ID; id != reports.DefaultRunID(reports.Env{}) {
		return fmt.Errorf("run %s: %w; nothing was written", id, err)
	}
	return fmt.Errorf("%w; nothing was written", err)
}

// progressPrinter shows tests starting and finishing and the scenarios'
// progress lines.
type progressPrinter struct {
	w                io.Writer
	pass, fail, skip int
}

func (p *progressPrinter) show(rec testjson.Record) {
	switch rec := rec.(type) {
	case *testjson.Event:
		top := rec.Test != "" && !strings.Contains(rec.Test, "/")
		switch {
		case rec.Test == "" && (rec.Action == "pass" || rec.Action == "fail" || rec.Action == "skip"):
			word := map[string]string{"pass": "ok  ", "fail": "FAIL", "skip": "skip"}[rec.Action]
			fmt.Fprintf(p.w, "%s %s (%.1fs)\n", word, rec.Package, rec.Elapsed)
		case rec.Action == "run" && top:
			fmt.Fprintf(p.w, "▶ %s\n", rec.Test)
		case rec.Action == "pass" && rec.Test != "":
			p.pass++
			if top {
				fmt.Fprintf(p.w, "✔ %s (%.1fs)\n", rec.Test, rec.Elapsed)
			}
		case rec.Action == "fail" && rec.Test != "":
			p.fail++
			fmt.Fprintf(p.w, "✘ %s (%.1fs)\n", rec.Test, rec.Elapsed)
		case rec.Action == "skip" && rec.Test != "":
			p.skip++
			if top {
				fmt.Fprintf(p.w, "– %s skipped\n", rec.Test)
			}
		}
	case *testjson.Line:
		if rec.Build {
			fmt.Fprintf(p.w, "  %s\n", rec.Text)
			return
		}
		if i := strings.Index(rec.Text, result.ProgressPrefix); i >= 0 {
			fmt.Fprintf(p.w, "  %s: %s\n", rec.Test, rec.Text[i+len(result.ProgressPrefix):])
		}
	case *testjson.SyntaxError:
		fmt.Fprintf(p.w, "  unreadable: %s\n", rec)
	}
}

func (p *progressPrinter) done() {
	fmt.Fprintf(p.w, "%d passed, %d failed, %d skipped\n", p.pass, p.fail, p.skip)
}

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output `format`: text (a table) or json")
	history := fs.String("history", "", "history at `PATH` in which OLD and NEW may be run ids")
	alpha := fs.Float64("alpha", reports.DefaultAlpha, "significance level of benchmark comparisons (Mann-Whitney U)")
	minEffect := fs.Float64("min-effect", 0, minEffectUsage)
	var thresholds ruleFlag
	fs.Var(&thresholds, "threshold", thresholdUsage)
	failOn := fs.String("fail-on", "none", "exit 1 on `WHAT`: regressions or none")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageCompare)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if *format != "text" && *format != "json" {
		return &usageError{fmt.Sprintf("compare -format %q: want text or json", *format)}
	}
	if *failOn != "none" && *failOn != "regressions" {
		return &usageError{fmt.Sprintf("compare -fail-on %q: want regressions or none", *failOn)}
	}
	if fs.NArg() != 2 {
		return &usageError{fmt.Sprintf("compare wants two arguments, OLD and NEW; got %d", fs.NArg())}
	}
	var past []*reports.Run
	if *history != "" {
		h, err := reports.OpenHistory(*history)
		if err != nil {
			return err
		}
		if past, _, err = h.Runs(); err != nil {
			return err
		}
	}
	load := func(arg string) (*reports.Run, error) {
		for _, r := range past {
			if r.ID == arg {
				if !r.HasResults() {
					return nil, fmt.Errorf("compare: run %s in %s has no test results: nothing to compare", arg, *history)
				}
				return r, nil
			}
		}
		f, err := os.Open(arg)
		if err != nil {
			if *history != "" {
				return nil, fmt.Errorf("%s: neither a file nor a run id in %s", arg, *history)
			}
			return nil, err
		}
		defer f.Close()
		r, err := reports.ReadRun(reports.Env{}, reports.NamedReader{Name: arg, R: f})
		if err != nil {
			return nil, err
		}
		if err := checkCapture(arg, r); err != nil {
			return nil, err
		}
		r.ID = arg
		return r, nil
	}
	oldRun, err := load(fs.Arg(0))
	if err != nil {
		return err
	}
	newRun, err := load(fs.Arg(1))
	if err != nil {
		return err
	}
	c := reports.Compare([]*reports.Run{oldRun}, newRun, reports.CompareOptions{Alpha: *alpha, MinEffect: *minEffect, Rules: thresholds.rules()})
	if *format == "json" {
		err = c.JSON(stdout)
	} else {
		err = c.Text(stdout)
	}
	if err != nil {
		return err
	}
	if *failOn == "regressions" && c.Regressions() > 0 {
		return &failure{fmt.Sprintf("%d regressions", c.Regressions())}
	}
	return nil
}

// truncatedMark is what the Builder puts in the output of a package whose
// verdict the input lacks.
const truncatedMark = "the input ended before the package's verdict"

// checkCapture returns why the capture named name cannot be compared: it
// has no results (empty, or not go test output), lines that could not be
// read, or it ends before a package's verdict (truncated).
func checkCapture(name string, r *reports.Run) error {
	switch {
	case len(r.Problems) > 0:
		return fmt.Errorf("compare: %s: unreadable lines: %d (the first: %s): is the capture truncated or corrupt?", name, len(r.Problems), r.Problems[0])
	case !r.HasResults():
		return fmt.Errorf("compare: %s: no test results: want go test -json output or go test -bench text", name)
	}
	for _, p := range r.Packages {
		if slices.ContainsFunc(p.Output, func(l string) bool { return strings.Contains(l, truncatedMark) }) {
			return fmt.Errorf("compare: %s: the capture ends before the verdict of package %s: is it truncated?", name, p.Name)
		}
	}
	return nil
}

const usageHistory = `Usage:
  go run ./scripts/report history [flags] PATH

Lists the runs of the history at PATH (a .jsonl file, or a directory of
cxload-run-*.json files; other files there are left alone), oldest first, with their ids (for -baseline and compare). -merge adds the runs of
another history; -prune keeps the newest N; -compact N drops the result
documents of all but the newest N runs (trends and comparisons keep working). Lines that cannot be read are
reported with file:line and kept.

Flags:
`

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runHistory(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prune := fs.Int("prune", 0, "keep only the newest `N` runs (0 keeps all)")
	compact := fs.Int("compact", -1, "keep the result documents (histograms) of the newest `N` runs only;\nolder runs keep their tests, benchmarks and scenario metrics")
	var merge multiFlag
	fs.Var(&merge, "merge", "add the runs of the history at `SRC` (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHistory)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		return &usageError{fmt.Sprintf("history wants one argument, the history's PATH; got %d", fs.NArg())}
	}
	if *prune < 0 {
		return &usageError{fmt.Sprintf("history -prune %d: want N >= 0", *prune)}
	}
	h, err := reports.OpenHistory(fs.Arg(0))
	if err != nil {
		return err
	}
	for _, src := range merge {
		other, err := reports.OpenHistory(src)
		if err != nil {
			return err
		}
		if err := h.MergeFrom(other); err != nil {
			return err
		}
	}
	if *prune > 0 {
		n, err := h.Prune(*prune)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "pruned %d runs\n", n)
	}
	if *compact >= 0 {
		n, err := h.Compact(*compact)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "compacted %d runs\n", n)
	}
	runs, probs, err := h.Runs()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tstart\tcommit\tbranch\tlabels\ttests\tscenarios\tbenchmarks")
	for _, r := range runs {
		pass, fail, skip := r.Counts()
		commit := r.Env.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		start := ""
		if !r.Env.Start.IsZero() {
			start = r.Env.Start.UTC().Format("2006-01-02 15:04")
		}
		labels := make([]string, 0, len(r.Env.Labels))
		for k, v := range r.Env.Labels {
			labels = append(labels, k+"="+v)
		}
		slices.Sort(labels)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d pass, %d fail, %d skip\t%d\t%d\n", r.ID, start, commit, r.Env.Branch,
			strings.Join(labels, ","), pass, fail, skip, len(r.Scenarios), len(r.Benchmarks))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range probs {
		fmt.Fprintf(stderr, "report: history: %s\n", p)
	}
	return nil
}

// isTerminal reports whether r is a terminal, where nobody is piping input.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	// /dev/null is a character device too, and reads as empty input.
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// minEffectUsage is the usage of -min-effect.
const minEffectUsage = "minimum change of a benchmark's center, in `percent`, that a comparison\n" +
	"counts as better or worse; a smaller one is \"~\" even when significant.\n" +
	"Not a pass/fail threshold"

// thresholdUsage is the usage of -threshold, listing every kind of
// reports.DefaultRules with its default.
var thresholdUsage = func() string {
	order := []string{"p50", "p99", "throughput", "429 rate", "max heartbeat gap", "websocket drops", "events lost"}
	for _, k := range slices.Sorted(maps.Keys(reports.DefaultRules)) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	kinds := make([]string, 0, len(order))
	for _, k := range order {
		r, ok := reports.DefaultRules[k]
		if !ok {
			continue
		}
		if strings.Contains(k, " ") {
			k = strconv.Quote(k)
		}
		kinds = append(kinds, k+" "+formatRule(r))
	}
	// Wrap the list between kinds, as flag indents each line.
	var b strings.Builder
	line := "KIND and its default: "
	for i, k := range kinds {
		if i < len(kinds)-1 {
			k += ","
		}
		if len(line)+1+len(k) > 76 {
			b.WriteString(strings.TrimSpace(line) + "\n")
			line = ""
		}
		line += k + " "
	}
	b.WriteString(strings.TrimSpace(line))
	return "minimum change of a scenario metric that a comparison counts as better or\n" +
		"worse, `KIND=RULE` (repeatable); a smaller one is \"~\". Not a pass/fail\n" +
		"threshold: those are the scenarios' own, as p99(recording.set, service) < 800ms.\n" +
		b.String() + ";\n" +
		"p50 and p99 apply to the service and the total time's percentiles alike.\n" +
		"RULE: a relative change 5%, an absolute one in the metric's unit (ms,\n" +
		"req/s, points, count) 2, or both 5%+2 (both must be crossed)"
}()

// formatRule formats r as -threshold takes it: "10%+0.5", "10%", "1".
func formatRule(r reports.Rule) string {
	var parts []string
	if r.Rel > 0 {
		parts = append(parts, strconv.FormatFloat(r.Rel*100, 'g', -1, 64)+"%")
	}
	if r.Abs > 0 || r.Rel == 0 {
		parts = append(parts, strconv.FormatFloat(r.Abs, 'g', -1, 64))
	}
	return strings.Join(parts, "+")
}

// ruleFlag collects -threshold flags over the default rules.
type ruleFlag map[string]reports.Rule

func (f *ruleFlag) String() string { return fmt.Sprint(map[string]reports.Rule(*f)) }

func (f *ruleFlag) Set(v string) error {
	kind, r, err := reports.ParseRule(v)
	if err != nil {
		return err
	}
	if *f == nil {
		*f = make(ruleFlag)
	}
	(*f)[kind] = r
	return nil
}

// rules returns the default rules with the flags' changes, or nil for the
// defaults.
func (f ruleFlag) rules() map[string]reports.Rule {
	if len(f) == 0 {
		return nil
	}
	m := make(map[string]reports.Rule, len(reports.DefaultRules))
	for k, v := range reports.DefaultRules {
		m[k] = v
	}
	for k, v := range f {
		m[k] = v
	}
	return m
}
