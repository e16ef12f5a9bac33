//go:build load

package loadtest

import (
	"context"
	"fmt"
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

// timingTweak makes the simulator fit a notification run in seconds: the
// heartbeat interval and the socket_closing grace shortened. Genesys' limits
// of channels and topics stay as they are.
func timingTweak(hb, grace time.Duration) func(p *gcsim.Profile) {
	return func(p *gcsim.Profile) {
		p.Notifications.HeartbeatInterval = gcsim.Duration(hb)
		p.Notifications.SocketClosingGrace = gcsim.Duration(grace)
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

// channels opens notification channels for a population's agents, sharing
// a collector and the scenario's recorder: with set, as Genesys allows
// (agents' topics multiplexed on their OAuth client's channels, or with
// user tokens one channel per agent); a scenario may also open its own.
type channels struct {
	r         *rig
	api       *api.Client
	col       *notify.Collector
	rec       *metrics.Recorder
	hb        time.Duration
	withdrawn atomic.Int64 // expectations withdrawn for requests that failed
	agents    int
	set       *agent.Channels
	perUser   bool
}

func newChannels(r *rig, c *api.Client, rec *metrics.Recorder, agents int) *channels {
	return &channels{r: r, api: c, col: notify.NewCollector(), rec: rec, hb: r.heartbeat(), agents: agents}
}

// options are the notify options of every channel.
func (c *channels) options() notify.Options {
	return notify.Options{
		API:               c.api, // limited, retried, recorded, counted by the guard
		Gate:              c.r.gate(),
		HeartbeatInterval: c.hb,
		// Short simulator heartbeats (1 s) would declare a socket dead after
		// 3 s of silence, which a loaded CI machine can produce: 10 s at least.
		DeadAfter:     max(3*c.hb, 10*time.Second),
		PingInterval:  2 * c.hb,
		ExpectTimeout: max(10*time.Second, 4*c.hb),
		Collector:     c.col,
		Recorder:      c.rec,
	}
}

// open is an agent.Config.Channel: the agent joins its channel in set.
func (c *channels) open(ctx context.Context, a *agent.Agent, topics []string) (agent.Channel, error) {
	ch, err := c.set.Open(ctx, a, topics)
	if err != nil {
		return nil, err
	}
	return withdrawing{ch.(channel), &c.withdrawn}, nil
}

// channel is what set's channels are: notify.Client, or an agent's view of
// a shared one.
type channel interface {
	agent.ContentExpecter
	agent.Subscriber
}

// withdrawing counts the expectations a channel withdraws.
type withdrawing struct {
	channel
	n *atomic.Int64
}

func (w withdrawing) Forget(correlationID, topic string) {
	w.n.Add(1)
	w.channel.Forget(correlationID, topic)
}

// describe says how the agents' channels were opened, in a summary's words.
func (c *channels) describe() string {
	if c.perUser {
		return "per-agent channels (user tokens): " + c.set.Summary()
	}
	return "shared channels (client-credentials tokens): " + c.set.Summary()
}

// matching says how events were matched to the requests that caused them.
func matching(s notify.Stats) string {
	if s.MatchedByContent == 0 {
		return fmt.Sprintf("events matched to their requests by the echoed correlation id (%d)", s.Matched)
	}
	return fmt.Sprintf("events matched to their requests by content, the correlation id not echoed: %d of %d (user and presence, routing status or call state); by correlation id: %d",
		s.MatchedByContent, s.Matched, s.Matched-s.MatchedByContent)
}

// topicsPerAgent is how many topics an agent subscribes (agent.Agent.Topics).
var topicsPerAgent = len((&agent.Agent{User: agent.User{ID: "x"}}).Topics())

// checkChannels is the preflight of a channel scenario: agents (of every
// shard: they share the OAuth clients' channels) fit Genesys' limits of
// channels and topics on clients OAuth clients, or with user tokens. What
// cannot work fails the test with the fix.
func (r *rig) checkChannels(t testing.TB, agents, clients int, perUser bool) {
	t.Helper()
	plan, err := agent.CheckChannels(agents, topicsPerAgent, clients, perUser)
	if err != nil {
		t.Fatalf("loadtest: channels: %v", err)
	}
	logf(t, "channel plan: %s", plan)
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
		if s.Matched+s.Lost >= s.Expected {
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

// gapWords says how gapLimit bounds the heartbeat gap, for a summary.
const gapWords = "at most three heartbeat intervals and a second (five and two seconds under -short, on a machine shared by the other scenarios)"

// max429Words says where the 429 bound comes from, for a summary.
const max429Words = EnvMax429Rate + " sets the share (default 1%): a paced pool meets few 429s"

// population loads agents users of the target's directory and builds the
// population of this shard's owned agents, sending through one client on
// pool, with notification channels as Genesys allows them (chans.set; push
// latency measured). The caller closes the population.
func (r *rig) population(t testing.TB, pool *auth.Pool, rec *metrics.Recorder, agents, owned int) (*agent.Population, *channels) {
	t.Helper()
	c := r.tg.NewClient(api.Config{Tokens: pool, Recorder: rec, Agents: owned})
	users, err := r.tg.Users(r.ctx, c, agents)
	if err != nil {
		t.Fatalf("loading %d agents: %v", agents, err)
	}
	chans := newChannels(r, c, rec, agents)
	chans.perUser = pool.Policy() == auth.PerUser
	chans.set = &agent.Channels{Options: chans.options(), Tokens: pool}
	pop, err := agent.NewPopulation(agent.Config{API: c, Users: users, Shard: r.k.Shard, Channel: chans.open, PushLatency: true})
	if err != nil {
		t.Fatal(err)
	}
	return pop, chans
}
