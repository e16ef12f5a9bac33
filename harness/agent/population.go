package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/harness/workload"
)

// Operation names recorded for the agent helpers (metrics.Result.Op).
const (
	OpUsersList           = "users.list"
	OpPresenceDefinitions = "presence.definitions"
	OpPresenceSet         = "presence.set"
	OpRoutingStatusSet    = "routingstatus.set"
	OpRoutingStatusGet    = "routingstatus.get"
	OpSubscribe           = "notifications.subscribe" // for a Channel that subscribes through the API client; notify measures its own
	OpCallCreate          = "call.create"
	OpRecordingSet        = "recording.set"
	OpCallGet             = "call.get"
	OpCallAnswer          = "call.answer"
	OpCallHold            = "call.hold"
	OpCallDisconnect      = "call.disconnect"
	OpCallWrapup          = "call.wrapup"
	OpCallTransfer        = "call.transfer"
)

// Routing statuses. The system sets them (presence On Queue gives IDLE, a
// call INTERACTING or COMMUNICATING); see [Agent.GoOnQueue].
const (
	RoutingOffQueue      = "OFF_QUEUE"
	RoutingIdle          = "IDLE"
	RoutingInteracting   = "INTERACTING"
	RoutingNotResponding = "NOT_RESPONDING"
	RoutingCommunicating = "COMMUNICATING"
)

// System presences an agent moves between.
const (
	PresenceOnQueue   = "On Queue"
	PresenceAvailable = "Available"
	PresenceOffline   = "Offline"
)

// A Channel is an agent's open notification channel, as far as the
// population needs it: harness/notify's *notify.Client is one (see
// [NotifyChannels]).
type Channel interface {
	// Close closes the channel's connection and waits for its goroutines.
	Close() error
}

// A Subscriber is a [Channel] that can add topics after it was opened.
type Subscriber interface {
	Channel
	Subscribe(ctx context.Context, topics ...string) error
}

// An Expecter is a [Channel] that measures push latency: Expect registers
// an event the agent is about to cause (matched by the correlation id in the
// event's metadata, on topic), Forget withdraws it when the request failed
// and no event will come.
type Expecter interface {
	Channel
	Expect(correlationID, topic string, sentAt time.Time)
	Forget(correlationID, topic string)
}

// Config configures a [Population].
type Config struct {
	// API is the client shared by all agents; agent k sends with
	// API.Agent(k), whose token the client's token source picks by its
	// policy (auth.Shared, auth.PerClient, auth.PerAgent). Required.
	API *api.Client
	// Users are the identities of the whole population (all shards): agent
	// k is Users[k]. See [LoadUsers] and [ReadUsers]. Required, non-empty.
	Users []User
	// Shard is this machine's part; it owns agents k with k mod n = i−1.
	Shard shard.Shard
	// Presences maps presence names (system presence or label, any case,
	// spaces or underscores) to presence definition ids. Nil: read once
	// from GET /api/v2/presence/definitions on first use.
	Presences map[string]string
	// Channel opens agent a's notification channel subscribed to topics;
	// it is called once per agent, on its first SubscribeTopics. Its ctx
	// lives until Population.Close (not just the calling iteration), so the
	// channel may keep it. Nil: SubscribeTopics fails.
	Channel func(ctx context.Context, a *Agent, topics []string) (Channel, error)
	// PushLatency makes the helpers send their own ININ-Correlation-Id and,
	// when the agent's channel is an [Expecter] subscribed to the topic the
	// request changes, expect the event there, so the channel measures the
	// push latency from the request to the event. The simulator echoes a
	// client's correlation id into the event; whether a tenant does is
	// unconfirmed (docs/genesys.md), so a [ContentExpecter] also matches
	// the event by content.
	PushLatency bool
}

// A Population is the agents of a run that this shard owns, each with its
// identity, its view of the API client (hence its token) and its state.
// It is safe for concurrent use; each [Agent] is meant to be driven by one
// goroutine at a time (executors guarantee it: an agent runs one iteration
// at a time).
type Population struct {
	cfg    Config
	agents map[int]*Agent
	order  []*Agent

	life      context.Context // handed to Config.Channel; canceled by Close
	endOfLife context.CancelFunc

	presMu    sync.Mutex
	presences map[string]string // normalized name → id
}

// NewPopulation checks cfg and returns the population of cfg.Shard. It
// sends no request.
func NewPopulation(cfg Config) (*Population, error) {
	if cfg.API == nil {
		return nil, errors.New("agent: Config.API is nil: give the run's *api.Client")
	}
	if len(cfg.Users) == 0 {
		return nil, errors.New("agent: Config.Users is empty: load them with agent.LoadUsers or agent.ReadUsersFile")
	}
	if err := cfg.Shard.Validate(); err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(cfg.Users))
	for k, u := range cfg.Users {
		if u.ID == "" {
			return nil, fmt.Errorf("agent: Config.Users[%d].ID is empty", k)
		}
		if j, dup := seen[u.ID]; dup {
			return nil, fmt.Errorf("agent: Config.Users[%d] and [%d] are the same user %s: each agent needs its own", j, k, u.ID)
		}
		seen[u.ID] = k
	}
	p := &Population{cfg: cfg, agents: make(map[int]*Agent)}
	p.life, p.endOfLife = context.WithCancel(context.Background())
	if cfg.Presences != nil {
		p.presences = normalizePresences(cfg.Presences)
	}
	for _, k := range cfg.Shard.Agents(len(cfg.Users)) {
		a := &Agent{ID: k, User: cfg.Users[k], pop: p, api: cfg.API.Agent(k)}
		p.agents[k] = a
		p.order = append(p.order, a)
	}
	return p, nil
}

// Size is the size of the whole population (all shards).
func (p *Population) Size() int { return len(p.cfg.Users) }

// Shard is the shard whose agents p holds.
func (p *Population) Shard() shard.Shard { return p.cfg.Shard }

// Agent returns agent k, or nil if this shard does not own it.
func (p *Population) Agent(k int) *Agent { return p.agents[k] }

// Agents returns this shard's agents in increasing id order.
func (p *Population) Agents() []*Agent { return append([]*Agent(nil), p.order...) }

// Iter adapts a function of an agent to a [workload.IterFunc] for [workload.Open] and
// [workload.Closed]: it finds the iteration's agent and primes it with the
// iteration's intended start (see [Agent.Begin]).
func (p *Population) Iter(fn func(ctx context.Context, a *Agent, it workload.Iteration) error) workload.IterFunc {
	return func(ctx context.Context, it workload.Iteration) error {
		a := p.agents[it.Agent]
		if a == nil {
			return fmt.Errorf("agent: iteration for agent %d, which shard %v does not own", it.Agent, p.cfg.Shard)
		}
		a.Begin(it)
		return fn(ctx, a, it)
	}
}

// Count returns how many of this shard's agents have each routing status
// ("" for agents whose status was never set), for progress lines.
func (p *Population) Count() map[string]int {
	out := map[string]int{}
	for _, a := range p.order {
		out[a.State().RoutingStatus]++
	}
	return out
}

// Close closes every agent's notification channel and returns the first
// error.
func (p *Population) Close() error {
	defer p.endOfLife()
	var first error
	for _, a := range p.order {
		if err := a.closeChannel(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// PresenceID returns the presence definition id of a presence name
// ("On Queue", "ON_QUEUE", "available"…) or id, reading the organization's
// definitions once if Config.Presences was nil.
func (p *Population) PresenceID(ctx context.Context, name string) (string, error) {
	p.presMu.Lock()
	defer p.presMu.Unlock()
	if p.presences == nil {
		m, err := loadPresences(ctx, p.cfg.API)
		if err != nil {
			return "", err
		}
		p.presences = m
	}
	if id, ok := p.presences[normalizePresence(name)]; ok {
		return id, nil
	}
	for _, id := range p.presences {
		if id == name {
			return id, nil
		}
	}
	names := make([]string, 0, len(p.presences))
	for n := range p.presences {
		names = append(names, n)
	}
	sort.Strings(names)
	return "", fmt.Errorf("agent: presence %q: not a presence of this organization (have %s)", name, strings.Join(names, ", "))
}

func normalizePresence(s string) string {
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

func normalizePresences(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[normalizePresence(k)] = v
	}
	return out
}

// loadPresences reads the organization's presence definitions from GET
// /api/v2/presence/definitions (unpaged) and maps each one's system
// presence ("OnQueue"), name and English label, normalized, to its id.
// Deactivated definitions are left out.
func loadPresences(ctx context.Context, c *api.Client) (map[string]string, error) {
	var body struct {
		Entities []struct {
			ID             string            `json:"id"`
			Name           string            `json:"name"`
			SystemPresence string            `json:"systemPresence"`
			LanguageLabels map[string]string `json:"languageLabels"`
			Type           string            `json:"type"` // System or User
			Deactivated    bool              `json:"deactivated"`
		} `json:"entities"`
	}
	req := &api.Request{Op: OpPresenceDefinitions, Method: http.MethodGet, Route: "/api/v2/presence/definitions"}
	if _, err := c.DoJSON(ctx, req, nil, &body); err != nil {
		return nil, fmt.Errorf("agent: reading presence definitions: %w", err)
	}
	out := map[string]string{}
	for _, e := range body.Entities {
		if e.Deactivated {
			continue
		}
		for _, n := range []string{e.SystemPresence, e.Name, e.LanguageLabels["en_US"]} {
			if n == "" {
				continue
			}
			// A system definition wins its system presence over a custom
			// one named like it or based on it (a User definition's
			// systemPresence is its base).
			if _, taken := out[normalizePresence(n)]; !taken || n == e.SystemPresence && e.Type != "User" {
				out[normalizePresence(n)] = e.ID
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("agent: the organization has no presence definitions")
	}
	return out, nil
}

// State is what an agent knows about itself, from the answers to its own
// requests.
type State struct {
	Presence       string    // presence definition id, "" if never set
	PresenceName   string    // the name it was set by
	RoutingStatus  string    // OFF_QUEUE, IDLE, …; "" if never set
	Call           string    // conversation id of the current call, "" if none
	Participant    string    // the agent's participant id on Call
	CallState      string    // the agent's media state on Call: alerting, connected, disconnected
	Held           bool      // the current call is on hold
	RecordingState string    // of the current call: active, paused, none
	Topics         int       // topics subscribed on its channel
	Changed        time.Time // when the state last changed
}

// An Agent is one simulated person: an identity, the API client view that
// carries its token, a notification channel, and its state. Its helpers
// each send one named operation through the API client (recorded in its
// recorder). They are not meant to be called concurrently for one agent.
type Agent struct {
	ID   int  // 0-based index in the whole population
	User User // identity in the directory

	pop *Population
	api *api.Client

	mu         sync.Mutex
	state      State
	intended   time.Time
	channel    Channel
	subscribed map[string]bool
	callToSelf bool // the current call was placed to the agent itself

	offers chan Offer // alerting calls seen on the agent's call topic
	comm   string     // communication id of the current call, when known
}

// String describes a without secrets, e.g. "agent 3 (Agent 0004)".
func (a *Agent) String() string {
	if a.User.Name != "" {
		return fmt.Sprintf("agent %d (%s)", a.ID, a.User.Name)
	}
	return fmt.Sprintf("agent %d (%s)", a.ID, a.User.ID)
}

// API returns the agent's view of the API client, for requests the helpers
// do not cover.
func (a *Agent) API() *api.Client { return a.api }

// State returns a copy of the agent's state.
func (a *Agent) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// Begin primes the agent with an iteration: its next request carries
// it.Intended as intended send time, so its latency is measured from when
// the executor meant the iteration to start (free of coordinated omission).
// Later requests of the iteration are measured from their own send.
func (a *Agent) Begin(it workload.Iteration) {
	a.mu.Lock()
	a.intended = it.Intended
	a.mu.Unlock()
}

// Topics returns the agent's own topics: presence, routing status,
// conversations and calls.
func (a *Agent) Topics() []string {
	id := a.User.ID
	return []string{"v2.users." + id + ".presence", "v2.users." + id + ".routingStatus", "v2.users." + id + ".conversations",
		"v2.users." + id + ".conversations.calls"}
}

// do sends one request with the pending intended time. If push latency is
// on, the events the request causes on topics the agent subscribed are
// expected on the agent's channel.
func (a *Agent) do(ctx context.Context, req *api.Request, in, out any, topics ...string) error {
	a.mu.Lock()
	req.Intended, a.intended = a.intended, time.Time{}
	var exp Expecter
	var expected []string
	if a.pop.cfg.PushLatency {
		exp, _ = a.channel.(Expecter)
		for _, t := range topics {
			if t != "" && a.subscribed[t] {
				expected = append(expected, t)
			}
		}
	}
	a.mu.Unlock()
	var corr string
	if exp != nil && len(expected) > 0 {
		corr = newCorrelationID()
		req.Header = http.Header{genesys.HeaderCorrelationID: {corr}}
		// Before the request: the event may arrive before the answer.
		for _, t := range expected {
			a.expect(exp, corr, t, req, in, time.Now())
		}
	}
	_, err := a.api.DoJSON(ctx, req, in, out)
	if err != nil {
		if corr != "" {
			for _, t := range expected {
				exp.Forget(corr, t)
			}
		}
		return fmt.Errorf("agent: %v: %w", a, err)
	}
	return nil
}

// newCorrelationID returns a random UUID-shaped correlation id.
func newCorrelationID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (a *Agent) update(f func(s *State)) {
	a.mu.Lock()
	f(&a.state)
	a.state.Changed = time.Now()
	a.mu.Unlock()
}

// SetPresence sets the agent's presence (operation "presence.set"): PATCH
// /api/v2/users/{id}/presences/purecloud with the definition of name, a
// presence name such as "On Queue" or a definition id. Entering or leaving
// On Queue also changes the routing status (the system's event on
// v2.users.{id}.routingStatus is expected too when push latency is on).
func (a *Agent) SetPresence(ctx context.Context, name string) error {
	id, err := a.pop.PresenceID(ctx, name)
	if err != nil {
		return err
	}
	body := map[string]any{"presenceDefinition": map[string]string{"id": id}}
	var out struct {
		PresenceDefinition struct {
			ID string `json:"id"`
		} `json:"presenceDefinition"`
	}
	req := &api.Request{Op: OpPresenceSet, Method: http.MethodPatch, Route: "/api/v2/users/{id}/presences/{source}",
		Params: []string{a.User.ID, "purecloud"}}
	topics := []string{"v2.users." + a.User.ID + ".presence"}
	a.mu.Lock()
	wasOnQueue := normalizePresence(a.state.PresenceName) == normalizePresence(PresenceOnQueue)
	a.mu.Unlock()
	if onQueue := normalizePresence(name) == normalizePresence(PresenceOnQueue); onQueue != wasOnQueue {
		topics = append(topics, "v2.users."+a.User.ID+".routingStatus")
	}
	if err := a.do(ctx, req, body, &out, topics...); err != nil {
		return err
	}
	if out.PresenceDefinition.ID != "" {
		id = out.PresenceDefinition.ID
	}
	a.update(func(s *State) { s.Presence, s.PresenceName = id, name })
	return nil
}

// SetRoutingStatus asks for a routing status (operation
// "routingstatus.set"): PUT /api/v2/users/{id}/routingstatus. The system
// sets routing statuses; the simulator takes only the current status and
// IDLE for a NOT_RESPONDING agent (see docs/simulator.md). Agents go on
// queue with [Agent.GoOnQueue].
func (a *Agent) SetRoutingStatus(ctx context.Context, status string) error {
	var out struct {
		Status string `json:"status"`
	}
	req := &api.Request{Op: OpRoutingStatusSet, Method: http.MethodPut, Route: "/api/v2/users/{id}/routingstatus",
		Params: []string{a.User.ID}}
	// No event is expected: the system publishes one only on a change.
	if err := a.do(ctx, req, map[string]string{"status": status}, &out); err != nil {
		return err
	}
	if out.Status == "" {
		out.Status = status
	}
	a.update(func(s *State) { s.RoutingStatus = out.Status })
	return nil
}

// GoOnQueue puts the agent on queue as Genesys does: presence "On Queue"
// (operation "presence.set"), after which the system sets the routing
// status; then it reads that status (operation "routingstatus.get"). It
// fails if the agent is still OFF_QUEUE; IDLE, or INTERACTING when a call
// was offered at once, is on queue.
func (a *Agent) GoOnQueue(ctx context.Context) error {
	if err := a.SetPresence(ctx, PresenceOnQueue); err != nil {
		return err
	}
	st, err := a.RoutingStatus(ctx)
	if err != nil {
		return err
	}
	if st == RoutingOffQueue {
		return fmt.Errorf("agent: %v: routing status is still %s after presence On Queue", a, st)
	}
	return nil
}

// RoutingStatus reads the agent's routing status (operation
// "routingstatus.get"): GET /api/v2/users/{id}/routingstatus.
func (a *Agent) RoutingStatus(ctx context.Context) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	req := &api.Request{Op: OpRoutingStatusGet, Method: http.MethodGet, Route: "/api/v2/users/{id}/routingstatus",
		Params: []string{a.User.ID}}
	if err := a.do(ctx, req, nil, &out); err != nil {
		return "", err
	}
	a.update(func(s *State) { s.RoutingStatus = out.Status })
	return out.Status, nil
}

// GoOffQueue takes the agent off queue: presence "Available" (one
// operation); the system sets the routing status OFF_QUEUE.
func (a *Agent) GoOffQueue(ctx context.Context) error {
	if err := a.SetPresence(ctx, PresenceAvailable); err != nil {
		return err
	}
	a.update(func(s *State) { s.RoutingStatus = RoutingOffQueue })
	return nil
}

// SubscribeTopics subscribes topics (by default the agent's own,
// [Agent.Topics]) on the agent's notification channel. The first call opens
// the channel with Config.Channel, subscribed to topics; later calls add
// topics if the channel is a [Subscriber], and fail otherwise. The channel
// records its own requests and measurements (harness/notify: connects,
// heartbeats, events, push latency).
func (a *Agent) SubscribeTopics(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		topics = a.Topics()
	}
	a.mu.Lock()
	ch := a.channel
	a.mu.Unlock()
	if ch == nil {
		if a.pop.cfg.Channel == nil {
			return fmt.Errorf("agent: %v: SubscribeTopics: Config.Channel is nil: give a function that opens a notification channel, e.g. agent.NotifyChannels", a)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("agent: %v: SubscribeTopics: %w", a, err)
		}
		ch, err := a.pop.cfg.Channel(a.pop.life, a, topics)
		if err != nil {
			return fmt.Errorf("agent: %v: opening its notification channel with %d topics: %w", a, len(topics), err)
		}
		a.mu.Lock()
		a.channel = ch
		a.mu.Unlock()
	} else {
		sub, ok := ch.(Subscriber)
		if !ok {
			return fmt.Errorf("agent: %v: its channel (%T) cannot add topics once open: subscribe them all in the first SubscribeTopics", a, ch)
		}
		if err := sub.Subscribe(ctx, topics...); err != nil {
			return fmt.Errorf("agent: %v: subscribing %d topics: %w", a, len(topics), err)
		}
	}
	a.mu.Lock()
	if a.subscribed == nil {
		a.subscribed = make(map[string]bool, len(topics))
	}
	for _, t := range topics {
		a.subscribed[t] = true
	}
	a.mu.Unlock()
	a.update(func(s *State) { s.Topics += len(topics) })
	return nil
}

// Channel returns the agent's notification channel, nil if not open.
func (a *Agent) Channel() Channel {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.channel
}

func (a *Agent) closeChannel() error {
	a.mu.Lock()
	ch := a.channel
	a.channel = nil
	a.mu.Unlock()
	if ch == nil {
		return nil
	}
	return ch.Close()
}

// A Call says whom a new call goes to (POST /api/v2/conversations/calls).
// Set one of PhoneNumber, CallQueueID or CallUserID.
type Call struct {
	PhoneNumber     string `json:"phoneNumber,omitempty"`
	CallFromQueueID string `json:"callFromQueueId,omitempty"`
	CallQueueID     string `json:"callQueueId,omitempty"`
	CallUserID      string `json:"callUserId,omitempty"`
}

// TakeCall places a call for the agent (operation "call.create"): POST
// /api/v2/conversations/calls, and makes it the agent's current call. A
// zero Call calls the agent itself (callUserId = its user id). Placing a
// call needs a user-context token: a client-credentials token gets 400
// (docs/genesys.md). Inbound calls come to the agent as offers instead
// (see [Agent.NextOffer] and [Agent.Answer]).
func (a *Agent) TakeCall(ctx context.Context, call Call) (conversationID string, err error) {
	if call == (Call{}) {
		call.CallUserID = a.User.ID
	}
	var topic string // the agent hears of the call if it is the callee
	if call.CallUserID == a.User.ID {
		topic = "v2.users." + a.User.ID + ".conversations"
	}
	var out struct {
		ID string `json:"id"`
	}
	req := &api.Request{Op: OpCallCreate, Method: http.MethodPost, Route: "/api/v2/conversations/calls"}
	if err := a.do(ctx, req, call, &out, topic); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("agent: %v: POST /api/v2/conversations/calls answered without a conversation id", a)
	}
	a.update(func(s *State) { s.Call, s.RecordingState = out.ID, "" })
	a.mu.Lock()
	a.callToSelf = topic != ""
	a.mu.Unlock()
	return out.ID, nil
}

// SetRecordingState changes the recording state of the agent's current
// call (operation "recording.set"): PATCH
// /api/v2/conversations/{id}/recordingstate with "active", "paused" or
// "none". It fails if the agent has no current call.
func (a *Agent) SetRecordingState(ctx context.Context, state string) error {
	a.mu.Lock()
	conv, toSelf := a.state.Call, a.callToSelf
	a.mu.Unlock()
	if conv == "" {
		return fmt.Errorf("agent: %v: SetRecordingState(%q): no current call: TakeCall first", a, state)
	}
	req := &api.Request{Op: OpRecordingSet, Method: http.MethodPatch, Route: "/api/v2/conversations/{id}/recordingstate",
		Params: []string{conv}}
	var topic string // the agent hears of it if it is a participant
	if toSelf {
		topic = "v2.users." + a.User.ID + ".conversations"
	}
	if err := a.do(ctx, req, map[string]string{"recordingState": state}, nil, topic); err != nil {
		return err
	}
	a.update(func(s *State) { s.RecordingState = state })
	return nil
}

// EndCall forgets the agent's current call without a request (see
// [Agent.Disconnect] to hang up).
func (a *Agent) EndCall() {
	a.update(func(s *State) { s.Call, s.RecordingState, s.Participant, s.CallState, s.Held = "", "", "", "", false })
	a.mu.Lock()
	a.callToSelf, a.comm = false, ""
	a.mu.Unlock()
}
