// Command noise measures how far scenario comparisons can be trusted: how
// often two runs of one commit are called a regression (A/A), and how often
// a route made slower is caught:
//
//	go run ./scripts/noise [-aa 6] [-fault 5] [-run '^TestRecordingBurst$'] [-op recording.set]
//	    [-family conversations.recordingstate] [-slower 0.3] [-dir DIR] [-reuse]
//
// It runs `go test -tags load -short -count=1 -json -run RUN ./loadtest`
// -aa times on the working tree and compares every pair of those runs as
// `report -baseline RUN_ID` would (A/A pairs: -aa·(-aa−1)/2), and each run
// against all the others pooled (as `-baseline median:N`).
//
// Then it measures detection. The simulator answers in well under a
// millisecond, below what its timers can add precisely, so the route is
// first given a latency of its own: -aa more A/A runs with a simulator
// profile (CXLOAD_PROFILE) that delays every request of one route family
// by -base (also counted as A/A pairs), then -fault runs with the delay
// -base·(1+-slower). Each fault run is compared with each of those A/A
// runs and with all of them pooled: a comparison detects the fault when it
// calls a latency percentile of -op worse. With -base 0, the fault is a
// delay of -slower times -op's median service time in the first A/A runs.
//
// The captures are kept in -dir (default a new temporary directory); with
// -reuse, the captures found there are read instead of run again.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "noise:", err)
		}
		os.Exit(1)
	}
}

type options struct {
	aa, fault    int
	run, op      string
	family, dir  string
	slower       float64
	base         time.Duration
	reuse        bool
	pkg, timeout string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("noise", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.aa, "aa", 6, "A/A runs of one commit (`N`; all pairs are compared)")
	fs.IntVar(&o.fault, "fault", 5, "runs with the injected slowdown (`N`)")
	fs.StringVar(&o.run, "run", "^TestRecordingBurst$", "go test -run `REGEXP`: the scenarios to run")
	fs.StringVar(&o.op, "op", "recording.set", "the `operation` whose route is made slower")
	fs.StringVar(&o.family, "family", "conversations.recordingstate", "the simulator's route `family` of -op")
	fs.Float64Var(&o.slower, "slower", 0.3, "added latency, as a `share` of the route's latency")
	fs.DurationVar(&o.base, "base", 10*time.Millisecond, "the route's own latency in the detection runs (`duration`; 0: none)")
	fs.StringVar(&o.dir, "dir", "", "keep the captures in `DIR` (default: a new temporary directory)")
	fs.BoolVar(&o.reuse, "reuse", false, "read the captures already in -dir instead of running again")
	fs.StringVar(&o.pkg, "pkg", "./loadtest", "the `package` of the scenarios")
	fs.StringVar(&o.timeout, "timeout", "10m", "go test -timeout per run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.aa < 2 || o.fault < 0 || o.slower <= 0 {
		return fmt.Errorf("-aa %d -fault %d -slower %g: want -aa >= 2, -fault >= 0, -slower > 0", o.aa, o.fault, o.slower)
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "cxload-noise-")
		if err != nil {
			return err
		}
		o.dir = d
	} else if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "captures in %s\n", o.dir)

	aa, err := runs(ctx, o, "aa", o.aa, nil, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "A/A: %d runs of `go test -tags load -short -count=1 -json -run '%s' %s`\n", len(aa), o.run, o.pkg)
	pairs, falsePairs, falseMetrics, compared := aaPairs(aa)
	for i := range aa {
		for j := i + 1; j < len(aa); j++ {
			if w := worse(reports.Compare([]*reports.Run{aa[i]}, aa[j], reports.CompareOptions{})); len(w) > 0 {
				fmt.Fprintf(stdout, "    runs %d→%d: %s\n", i+1, j+1, strings.Join(w, "; "))
			}
		}
	}
	fmt.Fprintf(stdout, "  pairs (all %d·%d/2): %d; pairs with any false regression: %d (%.1f%%); false regressions: %d of %d metric comparisons\n",
		len(aa), len(aa)-1, pairs, falsePairs, pct(falsePairs, pairs), falseMetrics, compared)
	loo := 0
	for j := range aa {
		others := slices.Delete(slices.Clone(aa), j, j+1)
		if w := worse(reports.Compare(others, aa[j], reports.CompareOptions{})); len(w) > 0 {
			loo++
			fmt.Fprintf(stdout, "    run %d against the other %d pooled: %s\n", j+1, len(others), strings.Join(w, "; "))
		}
	}
	fmt.Fprintf(stdout, "  each run against the other %d pooled (median:%d): %d of %d with any false regression\n", len(aa)-1, len(aa)-1, loo, len(aa))
	if o.fault == 0 {
		return nil
	}

	ref := aa
	var delay time.Duration
	if o.base > 0 {
		baseProfile := filepath.Join(o.dir, "base-profile.json")
		if err := writeProfile(baseProfile, o.family, o.base); err != nil {
			return err
		}
		if ref, err = runs(ctx, o, "base", o.aa, []string{"CXLOAD_PROFILE=" + baseProfile}, stderr); err != nil {
			return err
		}
		p, f, w, c := aaPairs(ref)
		fmt.Fprintf(stdout, "A/A with the route at %v (profile %s): pairs: %d; pairs with any false regression: %d (%.1f%%); false regressions: %d of %d metric comparisons\n",
			o.base, baseProfile, p, f, pct(f, p), w, c)
		delay = time.Duration(float64(o.base) * (1 + o.slower))
		fmt.Fprintf(stdout, "Fault: every request of %s (%s) delayed by %v instead of %v (+%.0f%%)\n", o.family, o.op, delay, o.base, o.slower*100)
	} else {
		median, err := serviceMedian(aa, o.op)
		if err != nil {
			return err
		}
		delay = time.Duration(o.slower * median * float64(time.Millisecond)).Round(time.Microsecond)
		fmt.Fprintf(stdout, "Fault: %s (%s) median service time %.3fms in the A/A runs; every request of the family delayed by %v (%.0f%%)\n",
			o.op, o.family, median, delay, o.slower*100)
	}
	profile := filepath.Join(o.dir, "fault-profile.json")
	if err := writeProfile(profile, o.family, delay); err != nil {
		return err
	}
	slow, err := runs(ctx, o, "fault", o.fault, []string{"CXLOAD_PROFILE=" + profile}, stderr)
	if err != nil {
		return err
	}
	for _, rs := range [][]*reports.Run{ref, slow} {
		fmt.Fprintf(stdout, "  %s service p50 per run:", rs[0].ID[:strings.LastIndex(rs[0].ID, "-")])
		for _, r := range rs {
			fmt.Fprintf(stdout, " %s", strings.Join(servicePercentiles(r, o.op), "/"))
		}
		fmt.Fprintln(stdout)
	}
	n, hit, other := 0, 0, 0
	for fi, f := range slow {
		for _, a := range ref {
			c := reports.Compare([]*reports.Run{a}, f, reports.CompareOptions{})
			n++
			if detects(c, o.op) {
				hit++
			}
			other += len(worse(c)) - len(opWorse(c, o.op))
		}
		c := reports.Compare(ref, f, reports.CompareOptions{})
		fmt.Fprintf(stdout, "  fault run %d against the %d A/A runs pooled: detected %v (%s)\n", fi+1, len(ref), detects(c, o.op), strings.Join(opVerdicts(c, o.op), "; "))
	}
	fmt.Fprintf(stdout, "  fault × A/A pairs: %d; detected: %d (%.1f%%); other metrics called worse in them: %d\n", n, hit, pct(hit, n), other)
	return nil
}

// aaPairs compares every pair of rs (the older as the baseline) and
// returns the number of pairs, of pairs with any regression, of
// regressions and of metrics compared.
func aaPairs(rs []*reports.Run) (pairs, falsePairs, falseMetrics, compared int) {
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			c := reports.Compare([]*reports.Run{rs[i]}, rs[j], reports.CompareOptions{})
			pairs++
			compared += countCompared(c)
			if w := worse(c); len(w) > 0 {
				falsePairs++
				falseMetrics += len(w)
			}
		}
	}
	return
}

// servicePercentiles returns the service p50 of op in each scenario of r.
func servicePercentiles(r *reports.Run, op string) []string {
	var out []string
	for _, s := range r.Scenarios {
		if s.Doc == nil {
			continue
		}
		if st := s.Doc.Op(op); st != nil {
			out = append(out, fmt.Sprintf("%.2f", st.Latency.Percentile(50).Seconds()*1e3))
		}
	}
	return out
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// runs runs (or, with -reuse, reads) n captures named kind-i.json.
func runs(ctx context.Context, o options, kind string, n int, env []string, stderr io.Writer) ([]*reports.Run, error) {
	var out []*reports.Run
	for i := 1; i <= n; i++ {
		path := filepath.Join(o.dir, fmt.Sprintf("%s-%d.json", kind, i))
		if _, err := os.Stat(path); err != nil || !o.reuse {
			fmt.Fprintf(stderr, "%s run %d of %d\n", kind, i, n)
			if err := goTest(ctx, o, path, env, stderr); err != nil {
				return nil, err
			}
		}
		r, err := readRun(path, fmt.Sprintf("%s-%d", kind, i))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func goTest(ctx context.Context, o options, path string, env []string, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-tags", "load", "-short", "-count=1", "-json", "-timeout", o.timeout, "-run", o.run, o.pkg)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	err := cmd.Run()
	if werr := os.WriteFile(path, out.Bytes(), 0o644); werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("go test (capture %s): %w", path, err)
	}
	return nil
}

func readRun(path, id string) (*reports.Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := reports.ReadRun(reports.Env{}, reports.NamedReader{Name: path, R: f})
	if err != nil {
		return nil, err
	}
	if r.Failed() || len(r.Scenarios) == 0 {
		return nil, fmt.Errorf("%s: the run failed or has no scenario documents", path)
	}
	r.ID = id
	return r, nil
}

// worse lists the regressions of c.
func worse(c *reports.Comparison) []string {
	var out []string
	for _, m := range c.Metrics {
		if m.Verdict == reports.Worse {
			out = append(out, fmt.Sprintf("%s %s %.4g→%.4g %s", m.Scenario, m.Metric, m.Old, m.New, m.Unit))
		}
	}
	for _, b := range c.Benchmarks {
		if b.Verdict == reports.Worse {
			out = append(out, b.Name+" "+b.Unit)
		}
	}
	return out
}

func countCompared(c *reports.Comparison) int {
	n := 0
	for _, m := range c.Metrics {
		if m.Verdict != reports.NewMetric && m.Verdict != reports.Missing {
			n++
		}
	}
	return n
}

func isOpLatency(m reports.MetricDelta, op string) bool {
	return m.Test == reports.TestPercentileCI && strings.HasSuffix(m.Metric, " "+op)
}

func opWorse(c *reports.Comparison, op string) []string {
	var out []string
	for _, m := range c.Metrics {
		if m.Verdict == reports.Worse && isOpLatency(m, op) {
			out = append(out, m.Metric)
		}
	}
	return out
}

// detects reports whether c calls a latency percentile of op worse.
func detects(c *reports.Comparison, op string) bool { return len(opWorse(c, op)) > 0 }

func opVerdicts(c *reports.Comparison, op string) []string {
	var out []string
	for _, m := range c.Metrics {
		if isOpLatency(m, op) {
			out = append(out, fmt.Sprintf("%s %s %.3g→%.3gms %s", m.Scenario, m.Metric, m.Old, m.New, m.Verdict))
		}
	}
	return out
}

// serviceMedian is the median service time of op, in milliseconds, over
// every scenario of the runs, their histograms merged.
func serviceMedian(rs []*reports.Run, op string) (float64, error) {
	h := result.NewHDR()
	for _, r := range rs {
		for _, s := range r.Scenarios {
			if s.Doc == nil {
				continue
			}
			if st := s.Doc.Op(op); st != nil {
				d, err := st.Latency.Hist()
				if err != nil {
					return 0, fmt.Errorf("run %s, %s, %s: %w", r.ID, s.Name, op, err)
				}
				h.Merge(d)
			}
		}
	}
	if h.TotalCount() == 0 {
		return 0, fmt.Errorf("no %s requests in the A/A runs: pick -op from the scenarios of -run", op)
	}
	return float64(h.ValueAtPercentile(50)) / 1e3, nil
}

// writeProfile writes a simulator profile that is the default one plus a
// fixed delay on every request of family.
func writeProfile(path, family string, delay time.Duration) error {
	p := map[string]any{"faults": map[string]any{"families": map[string]any{
		family: map[string]any{"latency": map[string]any{"distribution": "fixed", "mean": delay.String()}},
	}}}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
