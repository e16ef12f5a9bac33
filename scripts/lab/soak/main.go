// Command soak holds a population of agents with open notification channels
// against gcsim for a long time, under light REST load, and checks that the
// harness's memory and goroutine counts stay flat:
//
//	go run ./soak -agents 2000 -duration 10m
//
// It starts the simulator as a separate process (this program re-executed
// with -serve-sim, the equivalent of `go run ./scripts/gcsim` with a soak
// profile) on 127.0.0.1, opens one notification channel per agent through
// harness/agent and harness/notify (one presence topic each), then runs an
// open-model load of -rate presence changes per second, whose events the
// agents' channels expect (push latency). Every -interval it samples, in this
// process, the goroutines, the heap in use after a GC and the RSS, and the
// simulator's RSS, and prints a table row. At the end it fits a line to the
// samples after the warm-up and prints a verdict: a series is flat when the
// fitted growth over the measured span is within its tolerance.
//
// It exits 1 when a series is not flat or the run lost its channels, 2 on bad
// flags. With -storm, the simulator sends socket_closing to every socket (a
// maintenance storm) in the middle of the warm-up and then every -storm, so
// that switchovers are soaked too; the warm-up absorbs what the first
// switchover allocates once. The heap is judged on its live bytes after a
// GC (the heap in use, which adds the free space of partly used spans, is
// shown too). -memprofile writes heap profiles after the warm-up and at the
// end, for `go tool pprof -diff_base`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
	"github.com/cxload/cxload/harness/workload"
	"github.com/cxload/cxload/scripts/lab/internal/procfs"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errNotFlat):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

var errNotFlat = errors.New("soak: not flat")

// options are the command's flags.
type options struct {
	agents    int
	duration  time.Duration
	interval  time.Duration
	warmup    time.Duration
	rate      float64
	heartbeat time.Duration
	storm     time.Duration
	tokens    int
	open      int
	memprof   string
	serveSim  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.agents, "agents", 2000, "agents, each holding one notification channel")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to hold the channels under load (after they are open)")
	fs.DurationVar(&o.interval, "interval", 30*time.Second, "sampling interval")
	fs.DurationVar(&o.warmup, "warmup", time.Minute, "samples before this (after the channels are open) are shown but not fitted")
	fs.Float64Var(&o.rate, "rate", 20, "REST load: presence changes per second, all agents together")
	fs.DurationVar(&o.heartbeat, "heartbeat", 10*time.Second, "simulator heartbeat interval")
	fs.DurationVar(&o.storm, "storm", 0, "a socket_closing storm on every socket in the middle of the warm-up, then every this long (0: none)")
	fs.IntVar(&o.tokens, "tokens", 4, "client-credentials tokens per OAuth client (2 clients)")
	fs.IntVar(&o.open, "open-concurrency", 32, "channels opened in parallel at start")
	fs.StringVar(&o.memprof, "memprofile", "", "write heap profiles of this process: FILE.base after the warm-up, FILE at the end (go tool pprof -diff_base FILE.base FILE)")
	fs.BoolVar(&o.serveSim, "serve-sim", false, "internal: run the simulator (child process)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("soak: unexpected argument %q; flags only (see -h)", fs.Arg(0))
	}
	var bad []string
	if o.agents < 1 || o.agents > 100000 {
		bad = append(bad, fmt.Sprintf("-agents %d: want 1..100000", o.agents))
	}
	if o.duration <= 0 || o.duration > 24*time.Hour {
		bad = append(bad, fmt.Sprintf("-duration %v: want > 0 and at most 24h", o.duration))
	}
	if o.interval < time.Second {
		bad = append(bad, fmt.Sprintf("-interval %v: want at least 1s", o.interval))
	}
	if o.warmup < 0 || o.warmup >= o.duration {
		bad = append(bad, fmt.Sprintf("-warmup %v: want 0 <= warmup < -duration", o.warmup))
	}
	if o.rate < 0 || o.rate > 1000 || math.IsNaN(o.rate) {
		bad = append(bad, fmt.Sprintf("-rate %v: want 0..1000 requests per second", o.rate))
	}
	if o.heartbeat < time.Second {
		bad = append(bad, fmt.Sprintf("-heartbeat %v: want at least 1s", o.heartbeat))
	}
	if o.storm < 0 || (o.storm > 0 && o.storm < 10*time.Second) {
		bad = append(bad, fmt.Sprintf("-storm %v: want 0 (none) or at least 10s", o.storm))
	}
	if o.tokens < 1 || o.tokens > 100 {
		bad = append(bad, fmt.Sprintf("-tokens %d: want 1..100", o.tokens))
	}
	if o.open < 1 || o.open > 1000 {
		bad = append(bad, fmt.Sprintf("-open-concurrency %d: want 1..1000", o.open))
	}
	if len(bad) > 0 {
		return o, fmt.Errorf("soak: %s", strings.Join(bad, "; "))
	}
	return o, nil
}

// soakProfile is the simulator's profile for a soak: a directory as large
// as the population, channel and request limits raised so that the load
// test measures the harness, not the rate limits, and a short socket_closing
// grace so that storms switch over quickly.
func soakProfile(o options) *gcsim.Profile {
	p := gcsim.DefaultProfile()
	p.Directory.Agents = max(o.agents, 1)
	p.Notifications.HeartbeatInterval = gcsim.Duration(o.heartbeat)
	p.Notifications.MaxChannelsPerOwner = o.agents + 100
	p.Notifications.SocketClosingGrace = gcsim.Duration(5 * time.Second)
	for i := range p.Limits {
		p.Limits[i].Allowed = max(p.Limits[i].Allowed, 1_000_000)
	}
	return p
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.serveSim {
		return serveSim(ctx, o, stdout)
	}
	if o.memprof != "" {
		runtime.MemProfileRate = 4096
	}
	return soak(ctx, o, stdout)
}

// serveSim is the child: the simulator on 127.0.0.1, until stdin closes or a
// signal arrives. It prints "url <base>" once it listens.
func serveSim(ctx context.Context, o options, stdout io.Writer) error {
	s := gcsim.NewServer(soakProfile(o)) // on 127.0.0.1, a free port
	defer s.Close()
	fmt.Fprintf(stdout, "url %s\n", s.URL())
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}

// sim is the simulator child process.
type sim struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
}

func startSim(o options, stderr io.Writer) (*sim, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("soak: finding this program to start the simulator: %w", err)
	}
	cmd := exec.Command(exe, "-serve-sim", "-agents", strconv.Itoa(o.agents), "-heartbeat", o.heartbeat.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("soak: starting the simulator: %w", err)
	}
	sc := bufio.NewScanner(out)
	s := &sim{cmd: cmd, stdin: stdin}
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "url "); ok {
			s.url = u
			break
		}
	}
	if s.url == "" {
		s.stop()
		return nil, fmt.Errorf("soak: the simulator printed no URL (%v)", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return s, nil
}

func (s *sim) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// storm asks the simulator for a socket_closing storm.
func (s *sim) storm(ctx context.Context, hc *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.url+"/admin/faults", strings.NewReader(`{"socketClosing":true}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("soak: PUT /admin/faults: %s", resp.Status)
	}
	return nil
}

// wsCounts are the notification counters of a sample (not the whole
// notify.Stats: its histograms would make the samples themselves grow).
type wsCounts struct {
	Connects, Drops, Reconnects, Switchovers, SocketClosings, Failures, Events, Lost, Matched int64
	PushP99                                                                                   time.Duration
}

func countsOf(st notify.Stats) wsCounts {
	return wsCounts{Connects: st.Connects, Drops: st.Drops, Reconnects: st.Reconnects, Switchovers: st.Switchovers,
		SocketClosings: st.SocketClosings, Failures: st.Failures, Events: st.Events, Lost: st.Lost, Matched: st.Matched,
		PushP99: st.PushLatency.P99}
}

// sample is one row of the table.
type sample struct {
	at         time.Duration // since the channels were open
	goroutines int
	heapInuse  uint64 // after a GC: live objects plus the free space of their spans
	heapLive   uint64 // after a GC: live objects only (HeapAlloc)
	rss        uint64
	simRSS     uint64
	requests   int64
	errors     int64
	ws         wsCounts
	simSockets int64 // open sockets the simulator counts
}

func takeSample(ctx context.Context, at time.Duration, s *sim, hc *http.Client, rec *metrics.Recorder, col *notify.Collector) sample {
	sockets, _ := s.simSockets(ctx, hc)
	simPID := s.cmd.Process.Pid
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sm := sample{at: at, goroutines: runtime.NumGoroutine(), heapInuse: ms.HeapInuse, heapLive: ms.HeapAlloc,
		rss: procfs.RSS("self"), simRSS: procfs.RSS(strconv.Itoa(simPID)), ws: countsOf(col.Stats()), simSockets: sockets}
	doc := rec.Snapshot()
	for _, op := range doc.Operations {
		sm.requests += op.Count
		for name, n := range op.Outcomes {
			if name != "ok" {
				sm.errors += n
			}
		}
	}
	return sm
}

func soak(ctx context.Context, o options, stdout io.Writer) error {
	s, err := startSim(o, os.Stderr)
	if err != nil {
		return err
	}
	defer s.stop()
	fmt.Fprintf(stdout, "soak: simulator pid %d at %s; %d agents, %v, REST %.0f/s, heartbeat %v, storm %v, sample every %v\n",
		s.cmd.Process.Pid, s.url, o.agents, o.duration, o.rate, o.heartbeat, o.storm, o.interval)

	// The run is assembled as a scenario's is: the harness's target on the
	// simulator process (an external simulator), its pool, recorder and
	// client, no client-side limiting (the profile's limits are raised).
	tg, err := harness.Open(ctx, harness.WithName("soak"), harness.WithProfile(soakProfile(o)),
		harness.WithGetenv(func(k string) string { return map[string]string{harness.EnvSimURL: s.url}[k] }),
		harness.WithLogf(func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }))
	if err != nil {
		return err
	}
	defer tg.Close()
	hc := tg.HTTPClient() // the simulator's admin requests
	pool, err := tg.Pool(auth.Config{Policy: auth.PerClient, TokensPerClient: o.tokens})
	if err != nil {
		return err
	}
	rec := tg.NewRecorder()
	c, err := tg.Client(api.Config{Tokens: pool, Recorder: rec, Agents: 64, Limits: tg.ObserveLimits()})
	if err != nil {
		return err
	}
	users := make([]agent.User, o.agents)
	for i := range users {
		users[i] = agent.User{ID: gcsim.UserID(i), Name: fmt.Sprintf("Agent %04d", i+1)}
	}
	col := notify.NewCollector()
	nopts := notify.Options{API: c, Collector: col, Recorder: rec,
		HeartbeatInterval: o.heartbeat, PingInterval: -1, ExpectTimeout: 30 * time.Second}
	pop, err := agent.NewPopulation(agent.Config{API: c, Users: users,
		Channel: expecting(agent.NotifyChannels(nopts)), PushLatency: true})
	if err != nil {
		return err
	}
	defer pop.Close()

	// Open every agent's channel.
	t0 := time.Now()
	if err := openChannels(ctx, pop, o.open); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "soak: %d channels open in %v\n", o.agents, time.Since(t0).Round(time.Millisecond))

	// Light REST load: presence changes whose events the channels expect.
	presences := []string{"Available", "Away", "Busy", "Break"}
	var loadStats workload.Stats
	var loadErr error
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	var lastErr atomic.Value
	if o.rate > 0 {
		// The load outlives the sampling loop, which stops it.
		ex := &workload.Open{Pacer: workload.ConstantPacer{Freq: o.rate}, Agents: o.agents, MaxDuration: o.duration + time.Hour, GracefulStop: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadStats, loadErr = ex.Run(loadCtx, pop.Iter(func(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
				err := a.SetPresence(ctx, presences[int(it.N)%len(presences)])
				if err != nil {
					lastErr.Store(err.Error())
				}
				return err
			}))
		}()
	}

	// Sample until the duration is over.
	start := time.Now()
	var samples []sample
	const rowFmt = "%8v %10v %8v %9v %8v %8v %8v %9v %7v %8v %6v %10v %8v %5v\n"
	fmt.Fprintf(stdout, rowFmt, "elapsed", "goroutines", "live MiB", "inuse MiB", "RSS MiB", "simRSS", "sockets", "requests", "not ok",
		"connects", "drops", "reconnects", "events", "lost")
	row := func(sm sample) {
		f := func(v uint64) string { return strconv.FormatFloat(mib(v), 'f', 1, 64) }
		fmt.Fprintf(stdout, rowFmt, sm.at.Round(time.Second), sm.goroutines, f(sm.heapLive), f(sm.heapInuse), f(sm.rss), f(sm.simRSS),
			sm.simSockets, sm.requests, sm.errors, sm.ws.Connects, sm.ws.Drops, sm.ws.Reconnects, sm.ws.Events, sm.ws.Lost)
	}
	samples = append(samples, takeSample(ctx, 0, s, hc, rec, col))
	row(samples[0])
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	// The first storm comes in the middle of the warm-up, so that what the
	// first switchover allocates once (per-client context maps, the
	// recovery-time histogram) is not fitted as growth; then every -storm.
	var stormC <-chan time.Time
	if o.storm > 0 {
		first := o.storm
		if o.warmup > 0 {
			first = o.warmup / 2
		}
		stormT := time.NewTimer(first)
		defer stormT.Stop()
		ch := make(chan time.Time)
		stormC = ch
		go func() {
			for {
				select {
				case <-loadCtx.Done():
					return
				case at := <-stormT.C:
					select {
					case ch <- at:
					case <-loadCtx.Done():
						return
					}
					stormT.Reset(o.storm)
				}
			}
		}()
	}
	deadline := time.NewTimer(o.duration)
	defer deadline.Stop()
	storms := 0
	baseWritten := false
loop:
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "soak: interrupted")
			break loop
		case <-deadline.C:
			if last := samples[len(samples)-1].at; time.Since(start)-last > o.interval/2 {
				sm := takeSample(ctx, time.Since(start), s, hc, rec, col)
				samples = append(samples, sm)
				row(sm)
			}
			break loop
		case <-stormC:
			if time.Since(start) > o.duration-min(time.Minute, o.duration/4) {
				continue // let the last switchovers settle before the end
			}
			if err := s.storm(ctx, hc); err != nil {
				fmt.Fprintf(stdout, "soak: storm: %v\n", err)
			} else {
				storms++
			}
		case <-tick.C:
			sm := takeSample(ctx, time.Since(start), s, hc, rec, col)
			samples = append(samples, sm)
			row(sm)
			if o.memprof != "" && !baseWritten && sm.at >= o.warmup {
				baseWritten = true
				if err := writeHeapProfile(o.memprof + ".base"); err != nil {
					fmt.Fprintf(stdout, "soak: %v\n", err)
				}
			}
		}
	}
	if o.memprof != "" {
		if err := writeHeapProfile(o.memprof); err != nil {
			fmt.Fprintf(stdout, "soak: %v\n", err)
		}
	}
	stopLoad()
	wg.Wait()
	if loadErr != nil {
		return loadErr
	}
	final := samples[len(samples)-1]
	fmt.Fprintf(stdout, "\nsoak: load: %v\n", loadStats)
	if v := lastErr.Load(); v != nil {
		fmt.Fprintf(stdout, "soak: last iteration error: %s\n", v)
	}
	fmt.Fprintf(stdout, "soak: storms sent: %d; websocket: %d switchovers, %d socket_closing, %d failures, %d events matched, push p99 %v\n",
		storms, final.ws.Switchovers, final.ws.SocketClosings, final.ws.Failures, final.ws.Matched, final.ws.PushP99)

	v := verdict(samples, o.warmup)
	fmt.Fprint(stdout, v.text)
	if final.ws.Failures > 0 {
		v.ok = false
		fmt.Fprintf(stdout, "soak: %d channels gave up reconnecting\n", final.ws.Failures)
	}
	if final.simSockets != int64(o.agents) {
		v.ok = false
		fmt.Fprintf(stdout, "soak: the simulator holds %d sockets at the end, want %d (one per agent)\n", final.simSockets, o.agents)
	}
	if !v.ok {
		return errNotFlat
	}
	return nil
}

// expecter adds the Forget that agent.Expecter asks for to a notify.Client
// (which has Expect only), so that the population measures push latency. A
// forgotten expectation (the request failed) is left to expire as lost.
type expecter struct{ *notify.Client }

func (expecter) Forget(correlationID, topic string) {}

func expecting(open func(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error)) func(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error) {
	return func(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error) {
		ch, err := open(ctx, a, topics)
		if c, ok := ch.(*notify.Client); ok && err == nil {
			return expecter{c}, nil
		}
		return ch, err
	}
}

func openChannels(ctx context.Context, pop *agent.Population, par int) error {
	agents := pop.Agents()
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(agents) || firstErr.Load() != nil || ctx.Err() != nil {
					return
				}
				a := agents[i]
				if err := a.SubscribeTopics(ctx, "v2.users."+a.User.ID+".presence"); err != nil {
					firstErr.Store(fmt.Errorf("soak: opening the channel of %v: %w (ulimit -n?)", a, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("soak: -memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("soak: -memprofile: %w", err)
	}
	return f.Close()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// series is one measured quantity and how much it may grow.
type series struct {
	name  string
	unit  string
	value func(sample) float64
	rel   float64 // tolerated growth over the fitted span, relative to the mean
	abs   float64 // ... and in absolute units (the larger applies)
}

type verdictResult struct {
	ok   bool
	text string
}

// verdict fits a least-squares line to each series over the samples taken
// at or after warmup, and calls it flat when the fitted growth over that
// span stays within its tolerance.
func verdict(samples []sample, warmup time.Duration) verdictResult {
	var fit []sample
	for _, s := range samples {
		if s.at >= warmup {
			fit = append(fit, s)
		}
	}
	var b bytes.Buffer
	if len(fit) < 3 {
		fmt.Fprintf(&b, "soak: verdict: too few samples after the %v warm-up (%d; need 3): run longer or sample more often\n", warmup, len(fit))
		return verdictResult{ok: false, text: b.String()}
	}
	list := []series{
		{name: "goroutines", unit: "", value: func(s sample) float64 { return float64(s.goroutines) }, rel: 0.01, abs: 20},
		{name: "live heap", unit: "MiB", value: func(s sample) float64 { return mib(s.heapLive) }, rel: 0.05, abs: 2},
		{name: "heap in use", unit: "MiB", value: func(s sample) float64 { return mib(s.heapInuse) }, rel: 0.10, abs: 4},
		{name: "RSS", unit: "MiB", value: func(s sample) float64 { return mib(s.rss) }, rel: 0.10, abs: 8},
		{name: "simulator RSS", unit: "MiB", value: func(s sample) float64 { return mib(s.simRSS) }, rel: 0.10, abs: 8},
	}
	span := fit[len(fit)-1].at - fit[0].at
	ok := true
	fmt.Fprintf(&b, "\nsoak: verdict over %d samples from %v to %v (least-squares slope; growth = slope x %v):\n",
		len(fit), fit[0].at.Round(time.Second), fit[len(fit)-1].at.Round(time.Second), span.Round(time.Second))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  series\tfirst\tlast\tmean\tslope/min\tgrowth\ttolerance\tverdict")
	for _, sr := range list {
		xs := make([]float64, len(fit))
		ys := make([]float64, len(fit))
		for i, s := range fit {
			xs[i] = s.at.Minutes()
			ys[i] = sr.value(s)
		}
		slope, mean := linearFit(xs, ys)
		growth := slope * span.Minutes()
		tol := math.Max(sr.rel*mean, sr.abs)
		v := "flat"
		if growth > tol {
			v = "GROWING"
			ok = false
		}
		fmt.Fprintf(tw, "  %s\t%.1f %s\t%.1f %s\t%.1f %s\t%+.3f %s\t%+.1f %s\t%.1f %s\t%s\n", sr.name,
			ys[0], sr.unit, ys[len(ys)-1], sr.unit, mean, sr.unit, slope, sr.unit, growth, sr.unit, tol, sr.unit, v)
	}
	tw.Flush()
	if ok {
		fmt.Fprintln(&b, "soak: verdict: FLAT (no series grew beyond its tolerance)")
	} else {
		fmt.Fprintln(&b, "soak: verdict: NOT FLAT")
	}
	return verdictResult{ok: ok, text: b.String()}
}

// linearFit returns the least-squares slope of ys over xs and the mean of ys.
func linearFit(xs, ys []float64) (slope, mean float64) {
	n := float64(len(xs))
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0, my
	}
	return num / den, my
}

// simSockets reads the simulator's open sockets and channels from
// GET /admin/stats (-1, -1 when it does not answer).
func (s *sim) simSockets(ctx context.Context, hc *http.Client) (sockets, channels int64) {
	st, err := gcsim.FetchStats(ctx, hc, s.url)
	if err != nil {
		return -1, -1
	}
	return st.Sockets.Sockets, st.Sockets.Channels
}
