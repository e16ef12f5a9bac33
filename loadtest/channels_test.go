//go:build load

package loadtest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
)

// channelTweak makes the simulator fit a notification run in seconds: the
// heartbeat interval and the socket_closing grace shortened, and every
// agent able to hold its own channel. On Genesys Cloud each agent would use
// its own user token (20 channels per user); the scenarios use
// client-credentials tokens, whose 20 channels per OAuth client the
// simulator raises instead (two per agent: a socket_closing switchover holds
// the old channel and the new one for a moment).
func channelTweak(hb, grace time.Duration, agents int) func(p *gcsim.Profile) {
	return func(p *gcsim.Profile) {
		p.Notifications.HeartbeatInterval = gcsim.Duration(hb)
		p.Notifications.SocketClosingGrace = gcsim.Duration(grace)
		p.Notifications.MaxChannelsPerOwner = max(p.Notifications.MaxChannelsPerOwner, 2*agents+20)
	}
}

// switchoversPerSecond is the pace of socket_closing switchovers the
// scenarios plan for on the simulator. Each warned client makes two REST
// calls, a WebSocket handshake and a close, all served on the machine that
// runs the clients. The simulator spreads its warnings over the first half
// of the grace (Genesys: about a minute, shortened to a heartbeat for runs
// of seconds), and each client has a full grace after its own: a grace of
// agents/switchoversPerSecond keeps both within what one machine serves,
// where one heartbeat for thousands of clients would close old sockets
// under clients still switching and lose the events sent meanwhile.
const switchoversPerSecond = 250

// switchTime is how long agents clients take to switch channels at
// switchoversPerSecond.
func switchTime(agents int) time.Duration {
	return time.Duration(agents) * time.Second / switchoversPerSecond
}

// closingGrace is the simulator's socket_closing grace for agents clients:
// a heartbeat, or their switchTime if longer.
func closingGrace(hb time.Duration, agents int) time.Duration {
	return max(hb, switchTime(agents))
}

// heartbeat returns the heartbeat interval the target uses.
func (r *rig) heartbeat() time.Duration {
	if r.prof != nil {
		return r.prof.Notifications.HeartbeatInterval.Std()
	}
	return notify.DefaultHeartbeatInterval
}

// closingGrace returns the simulator's socket_closing grace.
func (r *rig) closingGrace() time.Duration {
	if r.prof != nil {
		return r.prof.Notifications.SocketClosingGrace.Std()
	}
	return 0
}

// expecting adapts a notify.Client to agent.Expecter. notify has no way to
// withdraw an expectation, so Forget only counts: an event expected for a
// request that then failed is later counted lost by notify, and the
// scenario subtracts the forgotten ones (see forgotten).
type expecting struct {
	*notify.Client
	forgotten *atomic.Int64
}

func (e expecting) Forget(correlationID, topic string) { e.forgotten.Add(1) }

// channels opens notification channels for a population's agents: one
// notify.Client per agent with its own topics, sharing a collector and the
// scenario's recorder.
type channels struct {
	r         *rig
	api       *api.Client
	col       *notify.Collector
	rec       *metrics.Recorder
	hb        time.Duration
	forgotten atomic.Int64
	agents    int
}

func newChannels(r *rig, c *api.Client, rec *metrics.Recorder, agents int) *channels {
	return &channels{r: r, api: c, col: notify.NewCollector(), rec: rec, hb: r.heartbeat(), agents: agents}
}

// open is an agent.Config.Channel.
func (c *channels) open(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error) {
	cl, err := notify.Open(ctx, notify.Options{
		API:               c.api.Agent(a.ID), // limited, retried, recorded, counted by the guard
		Gate:              c.r.gate(),
		Topics:            topics,
		HeartbeatInterval: c.hb,
		// Short simulator heartbeats (1 s) would declare a socket dead after
		// 3 s of silence, which a loaded CI machine can produce: 10 s at least.
		DeadAfter:     max(3*c.hb, 10*time.Second),
		PingInterval:  2 * c.hb,
		ExpectTimeout: max(10*time.Second, 4*c.hb),
		Collector:     c.col,
		Recorder:      c.rec,
	})
	if err != nil {
		return nil, err
	}
	return expecting{Client: cl, forgotten: &c.forgotten}, nil
}

// openAll opens the channel of every agent of the population (8 at a time).
func openAll(ctx context.Context, pop *agent.Population) error {
	as := pop.Agents()
	return parallel(ctx, len(as), 8, func(ctx context.Context, i int) error {
		return as[i].SubscribeTopics(ctx)
	})
}

// settled waits until every expected event has arrived or been counted
// lost (or timeout), and reports whether it did.
func (c *channels) settled(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		s := c.col.Stats()
		if s.Matched+s.Lost+c.forgotten.Load() >= s.Expected {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reconnected waits until the collector has seen want more reconnects
// (switchovers, if switchovers) than base (or timeout).
func (c *channels) reconnected(base, want int64, switchovers bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		s := c.col.Stats()
		n := s.Reconnects
		if switchovers {
			n = s.Switchovers
		}
		if n-base >= want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gapLimit is the threshold on the longest heartbeat gap: three intervals
// and a second; under -short, where the simulator beats every second on a
// machine shared by the other scenarios, five intervals and two seconds.
func gapLimit(hb time.Duration) time.Duration {
	if testing.Short() {
		return 5*hb + 2*time.Second
	}
	return 3*hb + time.Second
}

// population loads agents users of the target's directory and builds the
// population of this shard's owned agents, each with a notification channel
// (push latency measured), sending through one client on pool. The caller
// closes the population.
func (r *rig) population(t testing.TB, pool *auth.Pool, rec *metrics.Recorder, agents, owned int) (*agent.Population, *channels) {
	t.Helper()
	c := r.client(api.Config{Tokens: pool, Recorder: rec, Agents: owned})
	users, err := r.loadUsers(c, agents)
	if err != nil {
		t.Fatalf("loading %d agents: %v", agents, err)
	}
	chans := newChannels(r, c, rec, agents)
	pop, err := agent.NewPopulation(agent.Config{API: c, Users: users, Shard: r.k.Shard, Channel: chans.open, PushLatency: true})
	if err != nil {
		t.Fatal(err)
	}
	return pop, chans
}
