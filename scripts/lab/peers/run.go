package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of the flags.
const (
	DefaultDuration = 10 * time.Second
	DefaultConns    = 50
	DefaultRate     = 5000
	DefaultRuns     = 3
)

// loaders in the order they run; the first is the baseline.
var allLoaders = []string{"bare", "cxload", "vegeta", "k6"}

// pacedLoaders are the loaders of the paced part.
var pacedLoaders = []string{"bare", "cxload", "vegeta"}

// The processes are pinned with taskset -c to the first two CPUs this
// process may run on (0 and 1 on a whole machine): every loader to the
// first, the target to the second.

type options struct {
	duration time.Duration
	conns    int
	runs     int
	rate     float64
	only     []string
	json     bool
	bin      string // where vegeta and k6 are (or are installed); "" = PATH, else a temporary directory
	pprof    string // directory for CPU and allocation profiles of the in-process loaders
	self     string // this executable, re-executed for children
	taskset  string // path of taskset, "" when pinning is not possible
	target   int    // pid of the target process, once started
	cpus     [2]int // loader CPU, target CPU (with taskset)
	nice     int    // niceness of the target and loaders; 0 = unchanged
	nicePath string
	stderr   io.Writer
	// targetKind is what answers: targetRaw (a minimal HTTP/1.1
	// responder) or targetNetHTTP (a net/http server).
	targetKind string
	// population, when its Agents > 0, replaces the loaders with a
	// population run against the simulator (-population).
	population popConfig
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == childCmd {
		return runChild(ctx, args[1:], os.Stdin, stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := measureAll(ctx, o)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else if rep.Population != nil {
		err = writePopulation(stdout, rep)
	} else {
		err = writeReport(stdout, rep)
	}
	if err == nil && rep.Population != nil && rep.Population.Errors > 0 {
		// The goal is a population without an error: exit 1 otherwise.
		err = fmt.Errorf("peers: -population %d: %d errors (see the output)", rep.Population.Config.Agents, rep.Population.Errors)
	}
	return err
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{stderr: stderr}
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: go run ./peers [flags]

Measures, on this machine and one after another, a bare net/http client loop
(the baseline), cxload's client with recording and limiting on, vegeta and k6
against one loopback target (an 82-byte JSON answer; -target) in another process.
Loaders are pinned to one CPU and the target to another with taskset. Then paced
load at -rate for the bare loop, cxload and vegeta.

With -population N it measures instead N agents of harness/agent, each holding a
notification channel and changing its presence every -population-period, against
harness/gcsim in another process (the loader pinned to one CPU, the simulator to
the other): errors, channels, events, heartbeats, memory and CPU.
With -calls R as well, the agents go On Queue and take the simulator's inbound
calls (R per second over its queues) instead: answer, talk, hang up, wrap up.

vegeta and k6 come from PATH or -bin, or are installed there with go install
(into a temporary directory when -bin is empty).

flags:
`)
		fs.PrintDefaults()
	}
	fs.DurationVar(&o.duration, "duration", DefaultDuration, "how long each loader sends")
	fs.IntVar(&o.conns, "conns", DefaultConns, "connections (workers, VUs) of every loader")
	fs.IntVar(&o.runs, "runs", DefaultRuns, "runs of every loader, interleaved; the table shows the median run")
	fs.Float64Var(&o.rate, "rate", DefaultRate, "requests per second of the paced part; 0 skips it")
	only := fs.String("only", strings.Join(allLoaders, ","), "comma-separated loaders to measure")
	fs.BoolVar(&o.json, "json", false, "print the measurements as JSON instead of tables")
	fs.StringVar(&o.bin, "bin", "", "directory holding vegeta and k6, or where to install them; empty: PATH, else a temporary directory removed at exit")
	fs.StringVar(&o.targetKind, "target", targetRaw, "the target server: raw (a minimal HTTP/1.1 responder on net.Conn, cheap enough not to be the bottleneck) or nethttp (a Go net/http server)")
	fs.IntVar(&o.nice, "nice", 0, "run the target and loaders with this niceness (nice -n); negative values (root only) give them priority over other work on a shared machine")
	fs.StringVar(&o.pprof, "pprof", "", "directory for CPU, allocation and mutex profiles of the bare and cxload loaders, and of the target over the whole run")
	fs.IntVar(&o.population.Agents, "population", 0, "instead of the loaders: run this many agents, each with a notification channel and a request every -population-period, against harness/gcsim in another process, and report errors, memory and CPU (0: off)")
	fs.DurationVar(&o.population.Duration, "population-duration", DefaultPopulationDuration, "-population: how long the agents send, once every channel is open")
	fs.DurationVar(&o.population.Period, "population-period", DefaultPopulationPeriod, "-population: each agent changes its presence this often")
	fs.DurationVar(&o.population.Heartbeat, "population-heartbeat", DefaultPopulationHeartbeat, "-population: the simulator's heartbeat interval")
	fs.Float64Var(&o.population.Calls, "calls", 0, "-population: instead of presence changes, the simulator offers this many inbound calls per second over its queues; each agent, On Queue, answers, talks, hangs up and wraps up (0: off)")
	fs.DurationVar(&o.population.Handle, "population-handle", DefaultCallHandle, "-calls: mean talk time (uniform within ±50%)")
	fs.DurationVar(&o.population.Ring, "population-ring", DefaultCallRing, "-calls: how long an offer rings before the agent answers")
	fs.DurationVar(&o.population.Patience, "population-patience", DefaultCallPatience, "-calls: callers' mean wait before they hang up (exponential; 0: never)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("peers: unexpected arguments %q; all options are flags (see -h)", fs.Args())
	}
	if o.duration <= 0 || o.duration > time.Hour {
		return nil, fmt.Errorf("peers: -duration %v: must be > 0 and at most 1h", o.duration)
	}
	if o.conns < 1 || o.conns > 10000 {
		return nil, fmt.Errorf("peers: -conns %d: must be between 1 and 10000", o.conns)
	}
	if o.runs < 1 || o.runs > 100 {
		return nil, fmt.Errorf("peers: -runs %d: must be between 1 and 100", o.runs)
	}
	if o.rate < 0 || o.rate > 1e6 {
		return nil, fmt.Errorf("peers: -rate %v: must be between 0 (skip paced load) and 1e6", o.rate)
	}
	for name := range strings.SplitSeq(*only, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allLoaders, name) {
			return nil, fmt.Errorf("peers: -only: unknown loader %q; want a comma-separated subset of %s", name, strings.Join(allLoaders, ","))
		}
		if !slices.Contains(o.only, name) {
			o.only = append(o.only, name)
		}
	}
	if len(o.only) == 0 {
		return nil, fmt.Errorf("peers: -only %q: names no loader; want a subset of %s", *only, strings.Join(allLoaders, ","))
	}
	if o.population.Agents != 0 {
		if err := o.population.validate("-population", "-population-"); err != nil {
			return nil, err
		}
	}
	if !slices.Contains(targetKinds, o.targetKind) {
		return nil, fmt.Errorf("peers: -target %q: want %s", o.targetKind, strings.Join(targetKinds, " or "))
	}
	if o.nice < -20 || o.nice > 19 {
		return nil, fmt.Errorf("peers: -nice %d: must be between -20 and 19", o.nice)
	}
	if o.nice != 0 {
		path, err := exec.LookPath("nice")
		if err != nil {
			return nil, fmt.Errorf("peers: -nice %d: the nice command is not on PATH", o.nice)
		}
		o.nicePath = path
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("peers: cannot re-execute myself: %w", err)
	}
	o.self = self
	if path, err := exec.LookPath("taskset"); err == nil {
		if cpus := allowedCPUs(); len(cpus) >= 2 {
			o.taskset = path
			o.cpus = [2]int{cpus[0], cpus[1]}
		}
	}
	return o, nil
}

func (o *options) selected(name string) bool { return slices.Contains(o.only, name) }

// report is everything one run measured; -json prints it as is.
type report struct {
	Machine machine       `json:"machine"`
	Target  string        `json:"target"` // what answered: raw or nethttp
	Conns   int           `json:"conns"`
	Dur     time.Duration `json:"durationNs"`
	Runs    int           `json:"runs"`
	Rate    float64       `json:"pacedRate,omitempty"`
	Pinned  bool          `json:"pinned"`
	CPUs    [2]int        `json:"cpus"` // loader CPU, target CPU, when pinned
	Nice    int           `json:"nice,omitempty"`
	Closed  []measurement `json:"closed,omitempty"`
	Paced   []measurement `json:"paced,omitempty"`
	// Population is a -population run (then Closed and Paced are empty,
	// and Target is "gcsim").
	Population *popResult `json:"population,omitempty"`
}

func (o *options) logf(format string, args ...any) {
	fmt.Fprintf(o.stderr, "peers: "+format+"\n", args...)
}

// measureAll starts the target and runs every selected loader, closed
// loop first, then paced.
func measureAll(ctx context.Context, o *options) (rep *report, err error) {
	rep = &report{Machine: thisMachine(), Target: o.targetKind, Conns: o.conns, Dur: o.duration, Runs: o.runs, Rate: o.rate, Pinned: o.taskset != "", CPUs: o.cpus, Nice: o.nice}
	defer func() {
		if rep != nil {
			rep.Machine.LoadAfter = loadAvg()
		}
	}()
	if o.taskset == "" {
		o.logf("WARNING: taskset not found or fewer than 2 CPUs; processes are NOT pinned and figures are noisier")
	}
	if o.population.Agents > 0 {
		rep.Target, rep.Conns, rep.Dur, rep.Runs, rep.Rate = "gcsim", 0, o.population.Duration, 1, 0
		if rep.Population, err = measurePopulation(ctx, o); err != nil {
			return nil, err
		}
		return rep, nil
	}
	tools := map[string]string{}
	toolErr := map[string]error{}
	if o.selected("vegeta") || o.selected("k6") {
		cleanup, err := o.ensureTools(ctx, tools, toolErr)
		if err != nil {
			return nil, err
		}
		defer cleanup()
	}
	tgt, err := o.startTarget(ctx)
	if err != nil {
		return nil, err
	}
	defer tgt.stop()
	o.target = tgt.pid
	if o.taskset != "" {
		o.logf("target %s (pid %d) on CPU %d; loaders on CPU %d", tgt.url, tgt.pid, o.cpus[1], o.cpus[0])
	} else {
		o.logf("target %s (pid %d), not pinned", tgt.url, tgt.pid)
	}

	work, err := os.MkdirTemp("", "cxload-peers-")
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	defer os.RemoveAll(work)

	measure := func(name string, rate float64) measurement {
		var m measurement
		switch {
		case name == "bare" || name == "cxload":
			m = o.measureChild(ctx, name, tgt.url, rate)
		case toolErr[name] != nil:
			m = measurement{NotMeasured: toolErr[name].Error()}
		case name == "vegeta":
			m = o.measureVegeta(ctx, tools[name], work, tgt.url, rate)
		case name == "k6":
			m = o.measureK6(ctx, tools[name], work, tgt.url)
		}
		m.Loader = name
		if rate > 0 && m.NotMeasured == "" {
			m.TargetRate = rate
		}
		return m
	}
	// Rounds interleave the loaders, so that a slow spell of a shared
	// machine hits every loader rather than one.
	closed := map[string][]measurement{}
	for round := 1; round <= o.runs; round++ {
		for _, name := range allLoaders {
			if !o.selected(name) {
				continue
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("peers: interrupted: %w", ctx.Err())
			}
			o.logf("full speed, run %d/%d: %s, %d connections, %v", round, o.runs, name, o.conns, o.duration)
			closed[name] = append(closed[name], measure(name, 0))
		}
	}
	for _, name := range allLoaders {
		if o.selected(name) {
			rep.Closed = append(rep.Closed, pickMedian(closed[name], func(m measurement) float64 { return m.Rate },
				func(x float64) string { return formatInt(int64(math.Round(x))) + " req/s" }))
		}
	}
	if o.rate <= 0 {
		return rep, nil
	}
	paced := map[string][]measurement{}
	for round := 1; round <= o.runs; round++ {
		for _, name := range pacedLoaders {
			if !o.selected(name) {
				continue
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("peers: interrupted: %w", ctx.Err())
			}
			o.logf("paced, run %d/%d: %s at %v req/s, %d connections, %v", round, o.runs, name, o.rate, o.conns, o.duration)
			paced[name] = append(paced[name], measure(name, o.rate))
		}
	}
	for _, name := range pacedLoaders {
		if o.selected(name) {
			rep.Paced = append(rep.Paced, pickMedian(paced[name], func(m measurement) float64 { return float64(m.COP99) },
				func(x float64) string { return formatDuration(time.Duration(x)) }))
		}
	}
	return rep, nil
}

// pickMedian returns the run whose key is the median (the lower one of an
// even count) among the measured runs, with Runs set to their number,
// Spread to their keys in order (format prints one) and the reasons of
// failed runs added to its note. Without a measured run it
// returns the last run.
func pickMedian(runs []measurement, key func(measurement) float64, format func(float64) string) measurement {
	var ok []measurement
	var failed []string
	for _, m := range runs {
		if m.NotMeasured == "" {
			ok = append(ok, m)
		} else {
			failed = append(failed, m.NotMeasured)
		}
	}
	if len(ok) == 0 {
		if len(runs) == 0 {
			return measurement{NotMeasured: "no run"}
		}
		return runs[len(runs)-1]
	}
	slices.SortStableFunc(ok, func(a, b measurement) int { return cmp.Compare(key(a), key(b)) })
	m := ok[(len(ok)-1)/2]
	m.Runs = len(ok)
	if len(ok) > 1 {
		vals := make([]string, len(ok))
		for i, r := range ok {
			vals[i] = format(key(r))
		}
		m.Spread = strings.Join(vals, ", ")
	}
	if len(failed) > 0 {
		m.Note = strings.TrimPrefix(fmt.Sprintf("%s; %d run(s) failed: %s", m.Note, len(failed), failed[0]), "; ")
	}
	return m
}

func writeReport(w io.Writer, rep *report) error {
	pin := fmt.Sprintf("loaders pinned to CPU %d, target to CPU %d (taskset)", rep.CPUs[0], rep.CPUs[1])
	if !rep.Pinned {
		pin = "NOT pinned (no taskset or fewer than 2 CPUs)"
	}
	if rep.Nice != 0 {
		pin += fmt.Sprintf("; niceness %d", rep.Nice)
	}
	fmt.Fprintf(w, "%s  %d CPUs (%s)  %s\n", rep.Machine.Date, rep.Machine.CPUs, rep.Machine.CPU, rep.Machine.Go)
	if m := rep.Machine; m.LoadBefore != "" {
		fmt.Fprintf(w, "load average before: %s, after: %s\n", m.LoadBefore, m.LoadAfter)
	}
	switch others := max(maxOthers(rep.Closed), maxOthers(rep.Paced)); {
	case others >= disturbed:
		fmt.Fprintf(w, "WARNING: other processes took up to %s of a CPU on the pinned CPUs during a run (column others), so req/s\n", formatShare(others))
		fmt.Fprintln(w, "and latencies are low and noisy; CPU s/1k req (from each loader's own rusage) is the steadier comparison.")
	case others < 0 && busy(rep.Machine.LoadBefore):
		fmt.Fprintln(w, "WARNING: the machine was busy before the run (load average), so req/s and latencies may be low and noisy;")
		fmt.Fprintln(w, "CPU s/1k req (from each loader's own rusage) is the steadier comparison.")
	}
	fmt.Fprintf(w, "target: %s on 127.0.0.1, %d-byte JSON answer; %s\n\n", targetDescription(rep.Target), len(targetBody), pin)
	fmt.Fprintf(w, "Full speed: %d connections, %v per run, median of %d interleaved run(s) by req/s\n", rep.Conns, rep.Dur, rep.Runs)
	if err := writeClosedTable(w, rep.Closed); err != nil {
		return err
	}
	if len(rep.Paced) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nPaced: %s req/s, %d connections, %v per run, median of %d interleaved run(s) by CO-corrected p99\n", formatInt(int64(math.Round(rep.Rate))), rep.Conns, rep.Dur, rep.Runs)
	return writePacedTable(w, rep.Paced, rep.Dur)
}

// loaderTimeout bounds one loader process: its duration, plus start-up and
// drain, plus slack for a loaded machine.
func (o *options) loaderTimeout() time.Duration { return 2*o.duration + time.Minute }

// command returns cmd pinned to cpu with taskset when possible. The
// process is killed when ctx ends and its pipes are abandoned 5 s later.
func (o *options) command(ctx context.Context, cpu int, name string, args ...string) *exec.Cmd {
	argv := append([]string{name}, args...)
	if o.taskset != "" {
		argv = append([]string{o.taskset, "-c", strconv.Itoa(cpu)}, argv...)
	}
	if o.nice != 0 {
		// nice execs taskset, which execs the program: one process, whose
		// rusage is the program's.
		argv = append([]string{o.nicePath, "-n", strconv.Itoa(o.nice)}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// usage returns the CPU time (user+system) and peak RSS of an ended process.
func usage(ps *os.ProcessState) (cpu time.Duration, maxRSS int64) {
	cpu = ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		maxRSS = int64(ru.Maxrss) * 1024 // Linux reports KiB
	}
	return cpu, maxRSS
}

// runLoader runs a loader process and puts into m its CPU time and peak
// RSS, the target's CPU time meanwhile (the target is idle between
// loaders, so that is what this loader's requests cost it), the share of
// their CPUs each used, and the CPU time other processes took on those two
// CPUs meanwhile (from /proc/stat: the CPUs' busy time minus the loader's
// and the target's), which says how much the figures were disturbed.
func (o *options) runLoader(cmd *exec.Cmd, m *measurement) error {
	tgt0, tgtErr0 := procCPU(o.target)
	cpus0, cpusErr0 := cpuBusy()
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return err
	}
	wall := time.Since(start)
	tgt1, tgtErr1 := procCPU(o.target)
	cpus1, cpusErr1 := cpuBusy()
	m.CPU, m.MaxRSS = usage(cmd.ProcessState)
	m.Others = -1
	m.LoaderBusy = m.CPU.Seconds() / wall.Seconds()
	if tgtErr0 == nil && tgtErr1 == nil {
		m.TargetCPU = tgt1 - tgt0
		m.TargetBusy = m.TargetCPU.Seconds() / wall.Seconds()
	}
	if o.taskset != "" && cpusErr0 == nil && cpusErr1 == nil && tgtErr0 == nil && tgtErr1 == nil {
		l, t := o.cpus[0], o.cpus[1]
		others := max(cpus1[l]-cpus0[l]-m.CPU, 0) + max(cpus1[t]-cpus0[t]-m.TargetCPU, 0)
		m.Others = others.Seconds() / wall.Seconds()
	}
	return nil
}

// failure turns a failed process into a one-line reason: the last line it
// wrote on stderr, else the error.
func failure(err error, stderr []byte) string {
	if line := lastLine(stderr); line != "" {
		return line
	}
	return err.Error()
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// measureChild runs the bare or cxload loader in a child process.
func (o *options) measureChild(ctx context.Context, loader, url string, rate float64) measurement {
	ctx, cancel := context.WithTimeout(ctx, o.loaderTimeout())
	defer cancel()
	args := []string{childCmd, "load", "-loader", loader, "-url", url,
		"-conns", strconv.Itoa(o.conns), "-duration", o.duration.String(),
		"-rate", strconv.FormatFloat(rate, 'f', -1, 64)}
	if o.pprof != "" {
		kind := "full"
		if rate > 0 {
			kind = "paced"
		}
		args = append(args, "-pprof", fmt.Sprintf("%s/%s-%s", o.pprof, loader, kind))
	}
	cmd := o.command(ctx, o.cpus[0], o.self, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var m measurement
	if err := o.runLoader(cmd, &m); err != nil {
		return measurement{NotMeasured: failure(err, stderr.Bytes())}
	}
	var lr loadReport
	if err := json.Unmarshal(stdout.Bytes(), &lr); err != nil {
		return measurement{NotMeasured: fmt.Sprintf("reading its report: %v (stdout %q)", err, stdout.String())}
	}
	m.Requests, m.Errors, m.Rate, m.Dropped = lr.Requests, lr.Errors, lr.Rate, lr.Dropped
	m.P50, m.P99, m.COP99, m.Note = lr.P50, lr.P99, lr.COP99, lr.Note
	m.AllocsPerReq, m.BytesPerReq = lr.AllocsPerReq, lr.BytesPerReq
	if lr.ErrSample != "" {
		m.Note = strings.TrimPrefix(m.Note+"; first error: "+lr.ErrSample, "; ")
	}
	return m
}
