package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/notify"
)

// NotifyChannels returns a [Config].Channel that opens each agent's own
// notification channel with harness/notify: opts as given, plus the
// agent's topics, its REST calls sent by opts.API.Agent(agent) (the agent's
// own token; the client's limiter, retries, recorder and gate). Share one
// opts.Collector and opts.Recorder between the agents of a run. Every event
// also goes to the agent's [Agent.HandleEvent] (then to opts.OnEvent, if
// set), so that its offered calls reach [Agent.NextOffer].
//
// It is (&Channels{Options: opts}).Open: one channel per agent, which
// Genesys allows only with user tokens (20 channels per user or OAuth
// client). With client-credentials tokens use [Channels] with Tokens set.
func NotifyChannels(opts notify.Options) func(ctx context.Context, a *Agent, topics []string) (Channel, error) {
	return (&Channels{Options: opts}).Open
}

// Channels opens the agents' notification channels. Genesys allows 20
// channels per owner, a user or (for client-credentials tokens) an OAuth
// client, and 1000 topics per channel. So with an [auth.PerUser] pool each
// agent opens its own channel, and otherwise the agents whose tokens belong
// to one OAuth client share its channels: each channel carries the topics
// of as many agents as fit in MaxTopicsPerChannel, and a client has at most
// MaxChannelsPerClient. Events are routed by topic to the agents that
// subscribed it ([Agent.HandleEvent], then Options.OnEvent once per event);
// an agent's Expect and Forget go to its channel. [CheckChannels] says
// before a run whether a population fits.
//
// Set the fields before the first Open. It is safe for concurrent use.
type Channels struct {
	// Options configures every channel (see [NotifyChannels]); API is required.
	Options notify.Options
	// Tokens is the API client's token source. Agents share channels per
	// OAuth client of their token unless it is an *auth.Pool with policy
	// auth.PerUser. Nil: every agent opens its own channel.
	Tokens api.TokenSource
	// MaxTopicsPerChannel and MaxChannelsPerClient default to Genesys'
	// limits, notify.MaxTopicsPerChannel and notify.MaxChannelsPerUser.
	MaxTopicsPerChannel, MaxChannelsPerClient int

	mu      sync.Mutex
	clients map[string][]*sharedChannel // OAuth client (hash id) → its channels
	own     int                         // agents with their own channel
}

// shared reports whether agents share channels.
func (cs *Channels) shared() bool {
	if cs.Tokens == nil {
		return false
	}
	p, ok := cs.Tokens.(*auth.Pool)
	return !ok || p.Policy() != auth.PerUser
}

func (cs *Channels) limits() (topics, channels int) {
	topics, channels = cs.MaxTopicsPerChannel, cs.MaxChannelsPerClient
	if topics <= 0 {
		topics = notify.MaxTopicsPerChannel
	}
	if channels <= 0 {
		channels = notify.MaxChannelsPerUser
	}
	return topics, channels
}

// Open opens (or joins) agent a's channel, subscribed to topics; it is a
// [Config].Channel.
func (cs *Channels) Open(ctx context.Context, a *Agent, topics []string) (Channel, error) {
	opts := cs.Options
	if opts.API == nil {
		return nil, errors.New("agent: Channels: notify.Options.API is nil: give the population's API client")
	}
	if !cs.shared() {
		o := opts
		o.Topics = append(append([]string(nil), opts.Topics...), topics...)
		o.API = opts.API.Agent(a.ID)
		o.OnEvent = func(ev notify.Event) { // the agent hears of its offered calls (Agent.NextOffer)
			a.HandleEvent(ev.TopicName, ev.EventBody)
			if opts.OnEvent != nil {
				opts.OnEvent(ev)
			}
		}
		c, err := notify.Open(ctx, o)
		if err != nil {
			return nil, err
		}
		cs.mu.Lock()
		cs.own++
		cs.mu.Unlock()
		return c, nil
	}
	tok, err := cs.Tokens.Token(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("agent: %v: finding the OAuth client of its channel: %w", a, err)
	}
	v := &sharedView{cs: cs, a: a}
	if err := cs.join(ctx, v, tok.ClientID, topics); err != nil {
		return nil, err
	}
	return v, nil
}

// join subscribes topics for v on a channel of client with room for them,
// opening one if none has room and the client has fewer than the maximum.
func (cs *Channels) join(ctx context.Context, v *sharedView, client string, topics []string) error {
	maxTopics, maxChannels := cs.limits()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.clients == nil {
		cs.clients = map[string][]*sharedChannel{}
	}
	topics = slices.Compact(slices.Sorted(slices.Values(topics)))
	need := len(topics) + len(cs.Options.Topics)
	if need > maxTopics {
		return fmt.Errorf("agent: %v: %d topics do not fit on one channel of %d topics", v.a, need, maxTopics)
	}
	if v.ch != nil { // a later Subscribe: stay on the agent's channel
		if v.ch.topics+len(topics) > maxTopics {
			return fmt.Errorf("agent: %v: its shared channel has %d of %d topics: subscribe all of an agent's topics at once", v.a, v.ch.topics, maxTopics)
		}
		return v.ch.add(ctx, v, topics)
	}
	chans := cs.clients[client]
	for _, ch := range chans {
		if !ch.closed && ch.topics+len(topics) <= maxTopics {
			return ch.add(ctx, v, topics)
		}
	}
	if len(chans) >= maxChannels {
		return fmt.Errorf("agent: %v: OAuth client %s already has %d channels of up to %d topics, Genesys' limit: add OAuth clients, or give agents user tokens (auth.PerUser); CheckChannels says how many a run needs",
			v.a, client, maxChannels, maxTopics)
	}
	ch := &sharedChannel{routes: map[string][]*Agent{}, topics: len(cs.Options.Topics)}
	o := cs.Options
	o.Topics = append(append([]string(nil), o.Topics...), topics...)
	o.API = o.API.Agent(v.a.ID) // the channel's owner is the client of this agent's token
	onEvent := cs.Options.OnEvent
	o.OnEvent = func(ev notify.Event) {
		for _, a := range ch.route(ev.TopicName) {
			a.HandleEvent(ev.TopicName, ev.EventBody)
		}
		if onEvent != nil {
			onEvent(ev)
		}
	}
	c, err := notify.Open(ctx, o)
	if err != nil {
		return err
	}
	ch.client = c
	cs.clients[client] = append(chans, ch)
	ch.attach(v, topics)
	return nil
}

// Summary says how the agents' topics are spread: "N agents' topics on M
// channels of K OAuth clients", or, with user tokens, "N agents on their
// own channels".
func (cs *Channels) Summary() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	agents, channels := 0, 0
	for _, chans := range cs.clients {
		for _, ch := range chans {
			channels++
			agents += ch.agents
		}
	}
	s := fmt.Sprintf("%d agents' topics on %d channels of %d OAuth clients", agents, channels, len(cs.clients))
	if cs.own > 0 {
		if agents == 0 {
			return fmt.Sprintf("%d agents on their own channels", cs.own)
		}
		s += fmt.Sprintf(", %d agents on their own channels", cs.own)
	}
	return s
}

// Count returns how many channels the agents opened: shared ones, and
// their own.
func (cs *Channels) Count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := cs.own
	for _, chans := range cs.clients {
		n += len(chans)
	}
	return n
}

// sharedChannel is one notify.Client carrying several agents' topics.
type sharedChannel struct {
	client *notify.Client
	topics int  // subscribed, including Options.Topics; guarded by Channels.mu
	agents int  // attached views; guarded by Channels.mu
	closed bool // guarded by Channels.mu

	mu     sync.RWMutex
	routes map[string][]*Agent // topic → agents that subscribed it
}

// add subscribes topics on the open channel and routes them to v's agent.
// The caller holds Channels.mu.
func (ch *sharedChannel) add(ctx context.Context, v *sharedView, topics []string) error {
	if err := ch.client.Subscribe(ctx, topics...); err != nil {
		return err
	}
	ch.attach(v, topics)
	return nil
}

func (ch *sharedChannel) attach(v *sharedView, topics []string) {
	if v.ch == nil {
		v.ch = ch
		ch.agents++
	}
	ch.topics += len(topics)
	ch.mu.Lock()
	for _, t := range topics {
		if !slices.Contains(ch.routes[t], v.a) {
			ch.routes[t] = append(ch.routes[t], v.a)
		}
	}
	ch.mu.Unlock()
	v.topics = append(v.topics, topics...)
}

func (ch *sharedChannel) route(topic string) []*Agent {
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return ch.routes[topic]
}

// sharedView is one agent's handle on a shared channel: a [Subscriber] and
// [Expecter] whose Close leaves the channel, closing it with its last agent.
type sharedView struct {
	cs     *Channels
	a      *Agent
	ch     *sharedChannel
	topics []string
	left   bool
}

// Subscribe adds topics for the agent on its shared channel.
func (v *sharedView) Subscribe(ctx context.Context, topics ...string) error {
	return v.cs.join(ctx, v, "", topics)
}

// Expect registers an expected event on the shared channel.
func (v *sharedView) Expect(correlationID, topic string, sentAt time.Time) {
	v.ch.client.Expect(correlationID, topic, sentAt)
}

// ExpectContent registers an expected event, also matched by content.
func (v *sharedView) ExpectContent(correlationID, topic, content string, sentAt time.Time) {
	v.ch.client.ExpectContent(correlationID, topic, content, sentAt)
}

// Forget withdraws an expectation.
func (v *sharedView) Forget(correlationID, topic string) { v.ch.client.Forget(correlationID, topic) }

// Close stops routing the agent's topics; the last agent to leave closes
// the channel (its topics stay subscribed until then).
func (v *sharedView) Close() error {
	cs, ch := v.cs, v.ch
	cs.mu.Lock()
	if v.left {
		cs.mu.Unlock()
		return nil
	}
	v.left = true
	ch.mu.Lock()
	for _, t := range v.topics {
		ch.routes[t] = slices.DeleteFunc(ch.routes[t], func(a *Agent) bool { return a == v.a })
	}
	ch.mu.Unlock()
	ch.agents--
	last := ch.agents == 0
	if last {
		ch.closed = true
	}
	cs.mu.Unlock()
	if last {
		return ch.client.Close()
	}
	return nil
}

// CheckChannels checks before a run that agents with topicsPerAgent topics
// each fit Genesys' notification limits, and returns the plan in the words
// of [Channels.Summary]. With user tokens (perUser) every agent has its own
// channel; otherwise the agents, spread evenly over clients OAuth clients
// (1 for an auth.Shared pool), share at most 20 channels of 1000 topics per
// client. What cannot work is refused with the fix.
func CheckChannels(agents, topicsPerAgent, clients int, perUser bool) (string, error) {
	maxTopics, maxChannels := notify.MaxTopicsPerChannel, notify.MaxChannelsPerUser
	switch {
	case agents <= 0 || topicsPerAgent <= 0:
		return "", fmt.Errorf("agent: CheckChannels: %d agents with %d topics each: both must be > 0", agents, topicsPerAgent)
	case topicsPerAgent > maxTopics:
		return "", fmt.Errorf("agent: CheckChannels: %d topics per agent exceed Genesys' %d per channel", topicsPerAgent, maxTopics)
	case perUser:
		return fmt.Sprintf("%d agents on their own channels", agents), nil
	case clients <= 0:
		return "", fmt.Errorf("agent: CheckChannels: %d OAuth clients: give at least one, or user tokens", clients)
	}
	perChannel := maxTopics / topicsPerAgent // agents on one channel
	perClient := perChannel * maxChannels    // agents one client carries
	used := min(clients, agents)
	channels := 0
	for i := range used {
		n := agents / used
		if i < agents%used {
			n++
		}
		channels += (n + perChannel - 1) / perChannel
	}
	if agents > perClient*clients {
		need := (agents + perClient - 1) / perClient
		return "", fmt.Errorf("agent: CheckChannels: %d agents × %d topics need more than %d channels of %d topics on each of %d OAuth clients (Genesys allows %d channels per client, so at most %d agents per client): use %d OAuth clients, or user tokens (CXLOAD_USER_TOKENS, auth.PerUser)",
			agents, topicsPerAgent, maxChannels, maxTopics, clients, maxChannels, perClient, need)
	}
	return fmt.Sprintf("%d agents' topics on %d channels of %d OAuth clients", agents, channels, used), nil
}
