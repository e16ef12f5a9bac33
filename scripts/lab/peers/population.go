package main

// -population: a whole agent population (agents, API client, token pool,
// recorder, one notification channel per agent) against harness/gcsim in
// another process, for issue 8's goal "10,000 agents with channels against
// gcsim in another process without an error".

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"runtime"
	"slices"
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

// Defaults of the population flags.
const (
	DefaultPopulationDuration  = 60 * time.Second
	DefaultPopulationPeriod    = 10 * time.Second
	DefaultPopulationHeartbeat = 10 * time.Second
)

// Fixed parts of a population run.
const (
	popConns       = 64               // API connections (api.Config.Agents) and notify REST connections
	popOpenWorkers = 32               // channels opened in parallel
	popTokens      = 4                // client-credentials tokens per OAuth client (2 clients)
	popLimit       = 1_000_000        // every enabled rate limit of the simulator, per window
	popOpenTimeout = 3 * time.Minute  // opening every channel
	popExpectWait  = 30 * time.Second // an expected event not there by then is lost
	popFDSlack     = 512              // descriptors beyond one per agent: connections, files, pipes
)

// popConfig is what a population run does.
type popConfig struct {
	Agents    int           `json:"agents"`
	Duration  time.Duration `json:"durationNs"`  // of the API load, once every channel is open
	Period    time.Duration `json:"periodNs"`    // each agent sends one request this often
	Heartbeat time.Duration `json:"heartbeatNs"` // the simulator's heartbeat interval

	// A calls run (Calls > 0) takes the simulator's inbound calls instead
	// of changing presences: Calls per second over every queue, each
	// answered after Ring, talked for Handle on average (uniform within
	// ±50%), hung up and wrapped up; callers hang up after Patience on
	// average while waiting.
	Calls    float64       `json:"callsPerSecond,omitzero"`
	Handle   time.Duration `json:"handleNs,omitzero"`
	Ring     time.Duration `json:"ringNs,omitzero"`
	Patience time.Duration `json:"patienceNs,omitzero"`
}

// rate is the whole population's request rate.
func (c popConfig) rate() float64 { return float64(c.Agents) / c.Period.Seconds() }

// args are the flags that give c to a child.
func (c popConfig) args() []string {
	return []string{"-agents", strconv.Itoa(c.Agents), "-duration", c.Duration.String(),
		"-period", c.Period.String(), "-heartbeat", c.Heartbeat.String(),
		"-calls", strconv.FormatFloat(c.Calls, 'g', -1, 64), "-handle", c.Handle.String(), "-ring", c.Ring.String(), "-patience", c.Patience.String()}
}

// parsePopConfig parses a child's flags (popConfig.args); more adds
// flags of its own.
func parsePopConfig(name string, args []string, stderr io.Writer, more func(*flag.FlagSet)) (popConfig, error) {
	var c popConfig
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Agents, "agents", 0, "agents")
	fs.DurationVar(&c.Duration, "duration", DefaultPopulationDuration, "load duration")
	fs.DurationVar(&c.Period, "period", DefaultPopulationPeriod, "each agent's request period")
	fs.DurationVar(&c.Heartbeat, "heartbeat", DefaultPopulationHeartbeat, "heartbeat interval")
	fs.Float64Var(&c.Calls, "calls", 0, "calls per second (0: presence changes)")
	fs.DurationVar(&c.Handle, "handle", DefaultCallHandle, "mean talk time")
	fs.DurationVar(&c.Ring, "ring", DefaultCallRing, "ring delay")
	fs.DurationVar(&c.Patience, "patience", DefaultCallPatience, "callers' mean patience")
	if more != nil {
		more(fs)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("peers: %s: unexpected arguments %q", name, fs.Args())
	}
	return c, c.validate("-agents", "-")
}

// validate checks c; errors name the flags as agentsFlag and prefix
// followed by the field's name ("-population" and "-population-" for the
// command's flags, "-agents" and "-" for a child's).
func (c popConfig) validate(agentsFlag, prefix string) error {
	var bad []string
	if c.Agents < 1 || c.Agents > 100_000 {
		bad = append(bad, fmt.Sprintf("%s %d: want 1..100000 agents", agentsFlag, c.Agents))
	}
	if c.Duration < time.Second || c.Duration > time.Hour {
		bad = append(bad, fmt.Sprintf("%sduration %v: want 1s..1h", prefix, c.Duration))
	}
	if c.Period < 100*time.Millisecond || c.Period > time.Hour {
		bad = append(bad, fmt.Sprintf("%speriod %v: want 100ms..1h", prefix, c.Period))
	}
	if c.Heartbeat < time.Second || c.Heartbeat > 5*time.Minute {
		bad = append(bad, fmt.Sprintf("%sheartbeat %v: want 1s..5m", prefix, c.Heartbeat))
	}
	if c.Calls != 0 {
		// -calls is named alone: it has no prefix in either flag set.
		if c.Calls < 0 || c.Calls > 1000 || math.IsNaN(c.Calls) {
			bad = append(bad, fmt.Sprintf("-calls %v: want 0 (off) or a rate up to 1000 calls per second", c.Calls))
		}
		if c.Handle < 100*time.Millisecond || c.Handle > time.Hour {
			bad = append(bad, fmt.Sprintf("%shandle %v: want 100ms..1h", prefix, c.Handle))
		}
		// An answer after the alert timeout is refused: the ring must end before.
		if c.Ring < 0 || c.Ring >= gcsim.DefaultAlertTimeout {
			bad = append(bad, fmt.Sprintf("%sring %v: want 0..%v (the simulator's alert timeout)", prefix, c.Ring, gcsim.DefaultAlertTimeout))
		}
		if c.Patience < 0 || c.Patience > time.Hour {
			bad = append(bad, fmt.Sprintf("%spatience %v: want 0 (callers never hang up)..1h", prefix, c.Patience))
		}
		if q := float64(c.Agents) / gcsim.DefaultQueues; c.Calls*c.Handle.Seconds()/gcsim.DefaultQueues > q*0.95 {
			bad = append(bad, fmt.Sprintf("-calls %v with %shandle %v needs %.0f agents talking of %d: lower -calls or the handle time, or add agents",
				c.Calls, prefix, c.Handle, c.Calls*c.Handle.Seconds(), c.Agents))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("peers: %s", strings.Join(bad, "; "))
	}
	return nil
}

// popProfile is the simulator's profile for a population run: a directory
// of exactly the population, channels enough for every agent (all
// channels of an OAuth client have one owner with client-credentials
// tokens, so the per-owner cap is the whole population), the heartbeat
// interval of the run, and every enabled rate limit raised to popLimit
// per window so that the run measures the harness, not throttling. The
// organization-wide limit stays off, as in the default profile.
func popProfile(c popConfig) *gcsim.Profile {
	p := gcsim.DefaultProfile()
	p.Directory.Agents = c.Agents
	p.Notifications.HeartbeatInterval = gcsim.Duration(c.Heartbeat)
	p.Notifications.MaxChannelsPerOwner = c.Agents + 100
	for i := range p.Limits {
		p.Limits[i].Allowed = max(p.Limits[i].Allowed, popLimit)
	}
	if c.Calls > 0 {
		p.ACD.Traffic = gcsim.Traffic{CallsPerSecond: c.Calls / float64(p.Directory.Queues), Patience: gcsim.Duration(c.Patience)}
	}
	return p
}

// raiseNoFile raises this process's soft RLIMIT_NOFILE to its hard limit
// and returns the new soft limit; it fails when that is below need.
// Children inherit the limit.
func raiseNoFile(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("peers: reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("peers: raising RLIMIT_NOFILE to its hard limit %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < need {
		return lim.Cur, fmt.Errorf("peers: RLIMIT_NOFILE is %d (hard limit), a population run needs %d open files (one socket per agent and %d more): raise the hard limit (ulimit -Hn, /etc/security/limits.conf) or lower -population", lim.Cur, need, popFDSlack)
	}
	return lim.Cur, nil
}

// serveSim is the simulator child: harness/gcsim with popProfile on
// 127.0.0.1, its URL printed first, until stdin closes or ctx ends.
func serveSim(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := parsePopConfig("peers child gcsim", args, stderr, nil)
	if err != nil {
		return err
	}
	if _, err := raiseNoFile(uint64(c.Agents) + popFDSlack); err != nil {
		return err
	}
	s := gcsim.NewServer(popProfile(c)) // on 127.0.0.1, a free port
	defer s.Close()
	if _, err := fmt.Fprintln(stdout, s.URL()); err != nil {
		return fmt.Errorf("peers: simulator: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-stdinClosed(stdin):
	}
	return nil
}

// popOp is one operation's figures.
type popOp struct {
	Op       string           `json:"op"`
	Count    int64            `json:"count"`
	Outcomes map[string]int64 `json:"outcomes"`
	P50      time.Duration    `json:"p50Ns"`
	P99      time.Duration    `json:"p99Ns"`
}

// popMem is the loader's memory and goroutines at one moment, after a GC.
type popMem struct {
	Heap       uint64 `json:"heapBytes"`  // live heap (HeapAlloc after a GC)
	Stacks     uint64 `json:"stackBytes"` // goroutine stacks (StackInuse)
	RSS        uint64 `json:"rssBytes"`   // VmRSS
	Goroutines int    `json:"goroutines"`
}

func memNow() popMem {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return popMem{Heap: ms.HeapAlloc, Stacks: ms.StackInuse, RSS: procfs.RSS("self"), Goroutines: runtime.NumGoroutine()}
}

// popLoad is what the population child measures and prints as JSON.
type popLoad struct {
	Started      int           `json:"agentsStarted"`     // agents whose channel opened
	OpenTime     time.Duration `json:"openNs"`            // to open every channel
	ChannelsOpen int           `json:"channelsOpenAtEnd"` // clients still up at the end of the load
	SimSockets   int64         `json:"simSocketsAtEnd"`   // the simulator's count; -1 unknown
	SimChannels  int64         `json:"simChannelsAtEnd"`
	Ops          []popOp       `json:"apiOps"`
	Arrivals     uint64        `json:"arrivals"` // iterations due in the load
	Dropped      uint64        `json:"dropped"`  // arrivals that found every agent busy
	IterErrors   int64         `json:"iterationErrors"`
	FirstErr     string        `json:"firstError,omitempty"`

	// Notification channels (harness/notify's Collector).
	Connects         int64            `json:"connects"`
	Heartbeats       int64            `json:"heartbeats"`
	MissedHeartbeats int64            `json:"missedHeartbeats"`
	Gaps             int              `json:"heartbeatGaps"` // gaps above 1.5 intervals (up to notify.MaxGaps)
	MaxHeartbeatGap  time.Duration    `json:"maxHeartbeatGapNs"`
	Drops            int64            `json:"drops"`
	Reconnects       int64            `json:"reconnects"`
	Failures         int64            `json:"failures"` // clients that gave up reconnecting
	Events           int64            `json:"events"`
	Expected         int64            `json:"expected"`
	Matched          int64            `json:"matched"`
	Lost             int64            `json:"lost"`
	PushP50          time.Duration    `json:"pushP50Ns"`
	PushP99          time.Duration    `json:"pushP99Ns"`
	Closes           map[string]int64 `json:"closes,omitempty"`

	// Calls are a calls run's figures (nil otherwise).
	Calls *callFigures `json:"calls,omitempty"`

	// The loader's memory: before the population (client, pool and
	// recorder built, users loaded), with every channel open and idle,
	// and after the load; peak goroutines during the load.
	PeakRSS        uint64 `json:"peakRSSBytes"` // VmHWM before closing
	Before         popMem `json:"before"`
	Open           popMem `json:"open"`
	End            popMem `json:"end"`
	PeakGoroutines int    `json:"peakGoroutines"`
	AfterClose     int    `json:"goroutinesAfterClose"`
	NoFile         uint64 `json:"rlimitNoFile"`
}

// runPopulationChild is the loader child of a population run: it builds
// what a scenario builds, opens every agent's channel, runs the load for
// the duration and prints a popLoad.
func runPopulationChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var url string
	c, err := parsePopConfig("peers child population", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&url, "url", "", "the simulator's URL")
	})
	if err != nil {
		return err
	}
	if url == "" {
		return fmt.Errorf("peers: child population: no -url in %q", args)
	}
	load, err := populationLoad(ctx, url, c)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(load)
}

// populationLoad runs the population against the simulator at url.
func populationLoad(ctx context.Context, url string, c popConfig) (*popLoad, error) {
	noFile, err := raiseNoFile(uint64(c.Agents) + popFDSlack)
	if err != nil {
		return nil, err
	}
	load := &popLoad{NoFile: noFile, SimSockets: -1, SimChannels: -1}
	// The run is assembled as a scenario's is: the harness's target on the
	// simulator process (an external simulator), its pool, recorder and
	// client (and the channels' REST calls through it), no client-side
	// limiting (the profile's limits are raised). Token creation is paced
	// as a scenario paces it: within the simulator's (raised) limit, which
	// the target reads from the profile.
	tg, err := harness.Open(ctx, harness.WithName("peers-population"), harness.WithProfile(popProfile(c)),
		harness.WithGetenv(func(k string) string { return map[string]string{harness.EnvSimURL: url}[k] }),
		harness.WithLogf(func(string, ...any) {}))
	if err != nil {
		return nil, fmt.Errorf("peers: population: %w", err)
	}
	defer tg.Close()
	hc := tg.HTTPClient() // the simulator's admin requests
	pool, err := tg.Pool(auth.Config{Policy: auth.PerClient, TokensPerClient: popTokens})
	if err != nil {
		return nil, fmt.Errorf("peers: population: %w", err)
	}
	rec := tg.NewRecorder()
	client, err := tg.Client(api.Config{Tokens: pool, Recorder: rec, Agents: popConns, Limits: tg.ObserveLimits()})
	if err != nil {
		return nil, fmt.Errorf("peers: population: %w", err)
	}
	openCtx, cancelOpen := context.WithTimeout(ctx, popOpenTimeout)
	defer cancelOpen()
	users, err := agent.LoadUsers(openCtx, client, c.Agents)
	if err != nil {
		return nil, fmt.Errorf("peers: population: %w", err)
	}

	load.Before = memNow()
	col := notify.NewCollector()
	nopts := notify.Options{API: client, Collector: col, Recorder: rec,
		HeartbeatInterval: c.Heartbeat, PingInterval: -1, ExpectTimeout: popExpectWait}
	var driver *callDriver
	if c.Calls > 0 {
		// The driver knows the agents only once the population exists;
		// no event comes before the channels open.
		nopts.OnEvent = func(ev notify.Event) { driver.onEvent(ev) }
	}
	pop, err := agent.NewPopulation(agent.Config{API: client, Users: users,
		Channel: agent.NotifyChannels(nopts), PushLatency: true})
	if err != nil {
		return nil, fmt.Errorf("peers: population: %w", err)
	}
	if c.Calls > 0 {
		driver = newCallDriver(ctx, c, pop.Agents())
	}
	closed := false
	defer func() {
		if !closed {
			pop.Close()
		}
	}()
	t0 := time.Now()
	started, err := openChannels(openCtx, pop, popOpenWorkers, c.Calls > 0)
	load.Started = started
	if err != nil {
		return nil, err
	}
	load.OpenTime = time.Since(t0)
	load.Open = memNow()

	// The load, with the peak of goroutines sampled.
	var peak atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
			}
		}
	})
	if c.Calls > 0 {
		sup := &supervisor{calls: map[string]*supCall{}}
		supCh, err := openSupervisor(openCtx, client, c, sup)
		if err != nil {
			stopSampling()
			sampler.Wait()
			return nil, err
		}
		load.Calls, err = runCalls(ctx, c, pop, driver, sup)
		stopSampling()
		sampler.Wait()
		if err != nil {
			supCh.Close()
			return nil, err
		}
		// The last events of the calls wrapped up arrive, then the
		// supervisor's counts are final.
		time.Sleep(time.Second)
		if err := supCh.Close(); err != nil {
			return nil, fmt.Errorf("peers: calls: closing the supervisor's channels: %w", err)
		}
		sup.figures(load.Calls)
		supCh.stats(load.Calls)
		load.Calls.SimOverflows = -1
		if st, err := gcsim.FetchStats(ctx, hc, url); err == nil {
			load.Calls.SimOverflows = st.Sockets.Overflows
		}
	} else if err := presenceLoad(ctx, c, pop, load, stopSampling, &sampler); err != nil {
		return nil, err
	}
	load.PeakGoroutines = int(peak.Load())
	if err := finishLoad(ctx, hc, url, tg, pop, col, rec, load, &closed); err != nil {
		return nil, err
	}
	return load, nil
}

// presenceLoad is the load of a presence run: each agent changes its
// presence once a period (Away, Available, Away, ...), an event its
// channel expects.
func presenceLoad(ctx context.Context, c popConfig, pop *agent.Population, load *popLoad, stopSampling func(), sampler *sync.WaitGroup) error {
	var iterErrors atomic.Int64
	var firstErr atomic.Value
	ex := &workload.Open{Pacer: workload.ConstantPacer{Freq: c.rate(), Per: time.Second, Duration: c.Duration},
		Agents: c.Agents, GracefulStop: 10 * time.Second}
	st, runErr := ex.Run(ctx, pop.Iter(func(ctx context.Context, a *agent.Agent, it workload.Iteration) error {
		next := "Away"
		if a.State().PresenceName == "Away" {
			next = agent.PresenceAvailable
		}
		err := a.SetPresence(ctx, next)
		if err != nil {
			iterErrors.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		return err
	}))
	stopSampling()
	sampler.Wait()
	if runErr != nil {
		return fmt.Errorf("peers: population: %w", runErr)
	}
	load.Arrivals, load.Dropped = st.Arrivals, st.Dropped
	load.IterErrors = iterErrors.Load()
	if s, ok := firstErr.Load().(string); ok {
		load.FirstErr = s
	}
	return nil
}

// finishLoad waits for the last expected events, takes the end figures
// and closes the population and the target.
func finishLoad(ctx context.Context, hc *http.Client, url string, tg *harness.Target, pop *agent.Population, col *notify.Collector, rec *metrics.Recorder, load *popLoad, closed *bool) error {
	// Let the last events arrive (or be counted lost).
	for deadline := time.Now().Add(popExpectWait + 5*time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if s := col.Stats(); s.Matched+s.Lost >= s.Expected {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, a := range pop.Agents() {
		if ch, ok := a.Channel().(*notify.Client); ok && ch.Err() == nil && !isDone(ch.Done()) {
			load.ChannelsOpen++
		}
	}
	load.SimSockets, load.SimChannels = simSockets(ctx, hc, url)
	load.End = memNow()
	load.PeakRSS = procfs.StatusBytes("self", "VmHWM:")

	*closed = true
	if err := pop.Close(); err != nil {
		return fmt.Errorf("peers: population: closing the channels: %w", err)
	}
	s := col.Stats() // after Close: expectations still open are lost
	load.Connects, load.Heartbeats, load.MissedHeartbeats = s.Connects, s.Heartbeats, s.MissedHeartbeats
	load.Gaps, load.MaxHeartbeatGap = len(s.Gaps), s.MaxHeartbeatGap
	load.Drops, load.Reconnects, load.Failures = s.Drops, s.Reconnects, s.Failures
	load.Events, load.Expected, load.Matched, load.Lost = s.Events, s.Expected, s.Matched, s.Lost
	load.PushP50, load.PushP99, load.Closes = s.PushLatency.P50, s.PushLatency.P99, s.Closes
	doc := rec.Snapshot()
	for _, op := range doc.Operations {
		load.Ops = append(load.Ops, popOp{Op: op.Op, Count: op.Count, Outcomes: op.Outcomes,
			P50: op.Latency.Percentile(50), P99: op.Latency.Percentile(99)})
	}
	tg.Close()
	// Connections' goroutines end shortly after their close.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > load.Before.Goroutines && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	load.AfterClose = runtime.NumGoroutine()
	return nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// openChannels opens every agent's channel, subscribed to its presence and
// routing status topics, par at a time; it returns how many opened.
func openChannels(ctx context.Context, pop *agent.Population, par int, calls bool) (int, error) {
	agents := pop.Agents()
	var next, opened atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(agents) || firstErr.Load() != nil || ctx.Err() != nil {
					return
				}
				a := agents[i]
				id := a.User.ID
				topics := []string{"v2.users." + id + ".presence", "v2.users." + id + ".routingStatus"}
				if calls {
					topics = append(topics, "v2.users."+id+".conversations.calls")
				}
				if err := a.SubscribeTopics(ctx, topics...); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("peers: population: opening the channel of %v: %w", a, err))
					return
				}
				opened.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return int(opened.Load()), err
	}
	if err := ctx.Err(); err != nil {
		return int(opened.Load()), fmt.Errorf("peers: population: opening %d channels: %d opened before %w", len(agents), opened.Load(), err)
	}
	return int(opened.Load()), nil
}

// simSockets reads the simulator's open sockets and channels from GET
// /admin/stats (-1, -1 when it does not answer).
func simSockets(ctx context.Context, hc *http.Client, url string) (sockets, channels int64) {
	st, err := gcsim.FetchStats(ctx, hc, url)
	if err != nil {
		return -1, -1
	}
	return st.Sockets.Sockets, st.Sockets.Channels
}

// popResult is a population run as -json prints it: the child's
// measurements and the parent's view of both processes.
type popResult struct {
	Config popConfig `json:"config"`
	Load   *popLoad  `json:"load"`
	// Errors is the sum of everything that went wrong: failed or dropped
	// requests, agents without an open channel at the end, dropped
	// sockets, clients that gave up, lost events.
	Errors int64 `json:"errors"`
	// The loader and simulator processes: CPU time during the run (the
	// simulator's during the loader's life), peak RSS (rusage), the
	// simulator's RSS before it stopped, and each one's share of its CPU.
	LoaderCPU    time.Duration `json:"loaderCPUNs"`
	LoaderMaxRSS int64         `json:"loaderMaxRSSBytes"`
	LoaderBusy   float64       `json:"loaderBusy"`
	SimCPU       time.Duration `json:"simCPUNs"`
	SimBusy      float64       `json:"simBusy"`
	SimRSS       uint64        `json:"simRSSBytes"`
	SimMaxRSS    int64         `json:"simMaxRSSBytes"`
	Others       float64       `json:"others"` // as measurement.Others
	Wall         time.Duration `json:"wallNs"` // the loader's life
}

// countErrors sums what went wrong in l, for c.
func countErrors(c popConfig, l *popLoad) int64 {
	n := int64(l.Dropped) + l.Drops + l.Failures + l.Lost + int64(c.Agents-l.ChannelsOpen)
	for _, op := range l.Ops {
		n += op.Count - op.Outcomes["ok"]
	}
	if f := l.Calls; f != nil {
		// An answer refused because the caller hung up is an abandon,
		// not a failed request; callErrors counts those beyond the
		// abandons the supervisor saw.
		n += callErrors(f) - f.Gone
	}
	return n
}

// measurePopulation starts the simulator child on the target CPU and the
// population child on the loader CPU, and collects both processes'
// figures.
func measurePopulation(ctx context.Context, o *options) (*popResult, error) {
	c := o.population
	n, err := raiseNoFile(uint64(c.Agents) + popFDSlack)
	if err != nil {
		return nil, err
	}
	o.logf("RLIMIT_NOFILE %d (the children inherit it)", n)
	childTimeout := popOpenTimeout + c.Duration + popExpectWait + 2*time.Minute
	if c.Calls > 0 {
		childTimeout += popOpenTimeout + c.drainTimeout() // going On Queue, the drain
	}
	sim, err := o.startServer(ctx, childTimeout+time.Minute, "the simulator", append([]string{childCmd, "gcsim"}, c.args()...)...)
	if err != nil {
		return nil, err
	}
	sim.stopWait = time.Minute
	defer sim.stop()
	o.target = sim.pid
	if c.Calls > 0 {
		o.logf("simulator %s (pid %d) on CPU %d, offering %v calls/s; %d agents on CPU %d take them for %v",
			sim.url, sim.pid, o.cpus[1], c.Calls, c.Agents, o.cpus[0], c.Duration)
	} else {
		o.logf("simulator %s (pid %d) on CPU %d; %d agents on CPU %d, a presence change each every %v (%.0f/s) for %v",
			sim.url, sim.pid, o.cpus[1], c.Agents, o.cpus[0], c.Period, c.rate(), c.Duration)
	}

	cctx, cancel := context.WithTimeout(ctx, childTimeout)
	defer cancel()
	args := append([]string{childCmd, "population", "-url", sim.url}, c.args()...)
	cmd := o.command(cctx, o.cpus[0], o.self, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var m measurement
	start := time.Now()
	if err := o.runLoader(cmd, &m); err != nil {
		return nil, fmt.Errorf("peers: the population child failed: %s", failure(err, stderr.Bytes()))
	}
	res := &popResult{Config: c, Wall: time.Since(start), LoaderCPU: m.CPU, LoaderMaxRSS: m.MaxRSS, LoaderBusy: m.LoaderBusy,
		SimCPU: m.TargetCPU, SimBusy: m.TargetBusy, Others: m.Others}
	res.SimRSS = procfs.RSS(strconv.Itoa(sim.pid))
	if err := json.Unmarshal(stdout.Bytes(), &res.Load); err != nil || res.Load == nil {
		return nil, fmt.Errorf("peers: reading the population child's report: %v (stdout %q)", err, stdout.String())
	}
	sim.stop()
	if ps := sim.cmd.ProcessState; ps != nil {
		_, res.SimMaxRSS = usage(ps)
	}
	res.Errors = countErrors(c, res.Load)
	// rusage and /proc may round differently: the peak is the larger.
	res.LoaderMaxRSS = max(res.LoaderMaxRSS, int64(res.Load.PeakRSS))
	return res, nil
}

// writePopulation prints a population run.
func writePopulation(w io.Writer, rep *report) error {
	r := rep.Population
	c, l := r.Config, r.Load
	fmt.Fprintf(w, "%s  %d CPUs (%s)  %s\n", rep.Machine.Date, rep.Machine.CPUs, rep.Machine.CPU, rep.Machine.Go)
	if m := rep.Machine; m.LoadBefore != "" {
		fmt.Fprintf(w, "load average before: %s, after: %s\n", m.LoadBefore, m.LoadAfter)
	}
	pin := fmt.Sprintf("loader pinned to CPU %d, simulator to CPU %d (taskset)", rep.CPUs[0], rep.CPUs[1])
	if !rep.Pinned {
		pin = "NOT pinned (no taskset or fewer than 2 CPUs)"
	}
	fmt.Fprintf(w, "population: %s agents against harness/gcsim in another process; %s\n", formatInt(int64(c.Agents)), pin)
	if l.Calls != nil {
		fmt.Fprintf(w, "each agent: one notification channel (its presence, routingStatus and conversations.calls topics), On Queue;\n")
		fmt.Fprintf(w, "the simulator's traffic model offers %v calls/s over its %d queues for %v (callers' mean patience %v); an agent answers\n",
			c.Calls, gcsim.DefaultQueues, c.Duration, c.Patience)
		fmt.Fprintf(w, "an offer after %v, talks %v on average (uniform ±50%%), hangs up and wraps up; then off queue once idle.\n", c.Ring, c.Handle)
		fmt.Fprintf(w, "heartbeat %v; simulator rate limits raised to %s per window; RLIMIT_NOFILE %d\n\n", c.Heartbeat, formatInt(popLimit), l.NoFile)
	} else {
		fmt.Fprintf(w, "each agent: one notification channel (its presence and routingStatus topics), a presence change every %v\n", c.Period)
		fmt.Fprintf(w, "(%s req/s in all) for %v; heartbeat %v; simulator rate limits raised to %s per window; RLIMIT_NOFILE %d\n\n",
			formatInt(int64(c.rate())), c.Duration, c.Heartbeat, formatInt(popLimit), l.NoFile)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, args...)...)
	}
	row("agents started", "%s of %s (every channel open in %v)", formatInt(int64(l.Started)), formatInt(int64(c.Agents)), l.OpenTime.Round(10*time.Millisecond))
	row("channels open at the end", "%s (the simulator holds %s sockets, %s channels)", formatInt(int64(l.ChannelsOpen)), formatCount(l.SimSockets), formatCount(l.SimChannels))
	var reqs int64
	var ops []string
	for _, op := range l.Ops {
		reqs += op.Count
		ops = append(ops, fmt.Sprintf("%s %s (p50 %s, p99 %s)", op.Op, formatInt(op.Count), formatDuration(op.P50), formatDuration(op.P99)))
	}
	row("API requests", "%s: %s", formatInt(reqs), formatOutcomes(l.Ops))
	for _, s := range ops {
		row("", "%s", s)
	}
	if f := l.Calls; f != nil {
		writeCalls(row, f)
	} else {
		row("API arrivals", "%s due, %s dropped (every agent busy), %s failed", formatInt(int64(l.Arrivals)), formatInt(int64(l.Dropped)), formatInt(l.IterErrors))
	}
	if l.FirstErr != "" {
		row("first error", "%s", l.FirstErr)
	}
	row("notification events", "%s received; %s expected, %s matched, %s lost; push latency p50 %s, p99 %s",
		formatInt(l.Events), formatInt(l.Expected), formatInt(l.Matched), formatInt(l.Lost), formatDuration(l.PushP50), formatDuration(l.PushP99))
	row("heartbeats", "%s received; longest gap %s; %d gaps over 1.5 intervals, %s heartbeats missed",
		formatInt(l.Heartbeats), formatDuration(l.MaxHeartbeatGap), l.Gaps, formatInt(l.MissedHeartbeats))
	row("sockets", "%s connects, %s drops, %s reconnects, %s clients gave up; closes: %s",
		formatInt(l.Connects), formatInt(l.Drops), formatInt(l.Reconnects), formatInt(l.Failures), formatCloses(l.Closes))
	verdict := "none"
	if r.Errors > 0 {
		verdict = formatInt(r.Errors) + " (failed or dropped requests, agents without a channel at the end, dropped sockets, clients that gave up, lost events)"
	}
	if l.Calls != nil {
		verdict = "none"
		if r.Errors > 0 {
			verdict = formatInt(r.Errors) + " (failed requests other than answers to callers who hung up, calls the agents could not handle, offers that rang out, NOT_RESPONDING, agents busy at the end, channels closed or dropped, lost events)"
		}
	}
	row("errors", "%s", verdict)
	if err := tw.Flush(); err != nil {
		return err
	}

	n := float64(c.Agents)
	perAgent := func(a, b uint64) string { return formatKiB((float64(b) - float64(a)) / n) }
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "  process\tCPU s\tCPU share\tRSS at end\tpeak RSS\tpeak RSS / agent\t\n")
	fmt.Fprintf(tw, "  loader\t%.1f\t%s\t%s\t%s\t%s\t\n", r.LoaderCPU.Seconds(), formatBusy(r.LoaderBusy),
		formatBytes(int64(l.End.RSS)), formatBytes(r.LoaderMaxRSS), formatKiB(float64(r.LoaderMaxRSS)/n))
	fmt.Fprintf(tw, "  simulator\t%.1f\t%s\t%s\t%s\t%s\t\n", r.SimCPU.Seconds(), formatBusy(r.SimBusy),
		formatBytes(int64(r.SimRSS)), formatBytes(r.SimMaxRSS), formatKiB(float64(r.SimMaxRSS)/n))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "  CPU over the loader's %v life (opening the channels included); others on the two CPUs: %s\n", r.Wall.Round(time.Second), formatShare(r.Others))
	fmt.Fprintf(w, "  loader per agent, channels open and idle (after a GC, less the process before the agents): heap + stacks %s (heap %s, stacks %s), RSS %s, %.2f goroutines\n",
		perAgent(l.Before.Heap+l.Before.Stacks, l.Open.Heap+l.Open.Stacks), perAgent(l.Before.Heap, l.Open.Heap), perAgent(l.Before.Stacks, l.Open.Stacks),
		perAgent(l.Before.RSS, l.Open.RSS), float64(l.Open.Goroutines-l.Before.Goroutines)/n)
	if f := l.Calls; f != nil && f.Handled > 0 {
		fmt.Fprintf(w, "  CPU per handled call (%s calls handled): loader %s, simulator %s (opening the channels included)\n", formatInt(f.Handled),
			formatDuration(r.LoaderCPU/time.Duration(f.Handled)), formatDuration(r.SimCPU/time.Duration(f.Handled)))
	}
	fmt.Fprintf(w, "  loader per agent, after the load: heap + stacks %s, RSS %s, %.2f goroutines; during the load at most %.2f goroutines per agent; after closing %d goroutines (%d before the agents)\n",
		perAgent(l.Before.Heap+l.Before.Stacks, l.End.Heap+l.End.Stacks), perAgent(l.Before.RSS, l.End.RSS), float64(l.End.Goroutines-l.Before.Goroutines)/n,
		float64(l.PeakGoroutines-l.Before.Goroutines)/n, l.AfterClose, l.Before.Goroutines)
	return nil
}

// formatOutcomes lists the outcomes of all operations: "ok 60,101".
func formatOutcomes(ops []popOp) string {
	sum := map[string]int64{}
	for _, op := range ops {
		for k, v := range op.Outcomes {
			sum[k] += v
		}
	}
	return joinCounts(sum, func(k string) string { return k })
}

// formatCloses lists how sockets ended: `"1000" 10,000`.
func formatCloses(m map[string]int64) string { return joinCounts(m, strconv.Quote) }

// joinCounts lists m's counts in the order of their keys, each key as
// name gives it: "ok 60,101, server_error 1"; "none" when m is empty.
func joinCounts(m map[string]int64, name func(string) string) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = name(k) + " " + formatInt(m[k])
	}
	return strings.Join(parts, ", ")
}

func formatCount(n int64) string {
	if n < 0 {
		return "?"
	}
	return formatInt(n)
}

// formatKiB prints bytes in KiB with one decimal: 11.1 KiB.
func formatKiB(b float64) string {
	return strconv.FormatFloat(b/1024, 'f', 1, 64) + " KiB"
}
