// Package streaming is gcsim's notification hub: Genesys Cloud notification
// channels, their topic subscriptions, and the WebSocket that each channel's
// connectUri serves.
//
// The model follows the platform (see docs/genesys.md, "Notifications"):
//
//   - A channel belongs to an owner (gcsim passes an org/client/user key). An
//     owner holds at most Config.MaxChannelsPerOwner channels (20); creating
//     one more evicts the owner's least recently used channel, idle ones (no
//     socket) first. "Used" means created, subscribed or connected. A
//     connected channel that is evicted receives the event
//     v2.system.no_longer_subscribed.{channelId} and is then closed with
//     code 1000 and the reason "streaming: channel evicted"; afterwards its
//     id answers 404 like any unknown channel.
//   - A channel holds at most Config.MaxTopicsPerChannel topics (1000); a
//     request that would exceed it changes nothing and fails with
//     ErrTooManyTopics, whose message names the limit. Topics that are not
//     in TopicPatterns are answered with state "Rejected" and a
//     rejectionReason, and are not stored.
//   - A channel lives Config.ChannelTTL (24 h) from its creation or its last
//     subscription; an expired channel is gone (its socket, if any, is
//     closed with 1001 "streaming: channel expired").
//   - One connection per channel: a second connection to the same channel
//     replaces the first, which is closed with code 1008 and the reason
//     "streaming: replaced by a newer connection" after the events already
//     queued for it.
//   - Every socket gets a heartbeat, {"topicName":"channel.metadata",
//     "eventBody":{"message":"WebSocket Heartbeat"}}, every
//     Config.HeartbeatInterval, so a socket's first heartbeat comes between
//     0 and one interval after it connects. The sockets are spread over
//     heartbeatSlots phases of the interval by the order they connected in,
//     so that 10,000 sockets do not all get theirs in the same instant
//     (which would delay every event sent then). A client
//     text message {"message":"ping"} is answered with the channel.metadata
//     event {"message":"pong"}.
//   - SocketClosing sends v2.system.socket_closing and closes the socket
//     with 1001 "streaming: socket closing" after Config.SocketClosingGrace.
//     Sent to every socket, the warnings are spread over the first half of
//     the grace, each socket closing a full grace after its own.
//   - A client's close frame is answered (with the client's code) after the
//     messages already queued for the socket, as RFC 6455 allows, so a
//     client that leaves an old socket during a switchover still gets every
//     event queued for it. Nothing more is queued once the close frame has
//     arrived, and the drain is bounded: a client that stops reading loses
//     the socket 10 s after its close frame.
//   - Publish never blocks on a socket: each socket has a queue of at most
//     Config.SendBuffer messages, drained by a writer goroutine that exists
//     only while the queue is not empty. A message that finds the queue full
//     is dropped, the socket is closed abruptly, and Stats.Overflows counts
//     it. A write that takes longer than 10 s closes the socket too.
//
// An idle socket costs one reader goroutine, gorilla's connection with a
// 512-byte read buffer and no write buffer of its own (writes use prepared
// messages and a shared pool), and the kernel socket: one file descriptor,
// so n sockets need ulimit -n above n plus a few dozen. BenchmarkIdleSockets
// measures the memory per socket (figures in docs/performance.md).
//
// Zero Config fields take their defaults: a gcsim profile that means "close
// at once" must pass a negative SocketClosingGrace, and "no heartbeats" a
// negative HeartbeatInterval.
package streaming

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults used when a Config field is zero.
const (
	DefaultHeartbeatInterval   = 30 * time.Second
	DefaultMaxChannelsPerOwner = 20
	DefaultMaxTopicsPerChannel = 1000
	DefaultChannelTTL          = 24 * time.Hour
	DefaultSendBuffer          = 256
	DefaultSocketClosingGrace  = 60 * time.Second
)

// Timing of a socket's writes and closes.
const (
	// writeWait bounds one write to a socket; a reader that takes longer
	// loses its socket.
	writeWait = 10 * time.Second
	// closeWait bounds the wait for the client's answer to a close frame.
	closeWait = 5 * time.Second
	// readLimit is the largest client message the hub reads; clients only
	// send pings.
	readLimit = 4096
)

// Close codes and reasons the hub sends.
const (
	CloseEvicted   = websocket.CloseNormalClosure   // 1000, channel evicted by a newer one of its owner
	CloseReplaced  = websocket.ClosePolicyViolation // 1008, a second connection took the channel
	CloseGoingAway = websocket.CloseGoingAway       // 1001, socket closing, channel expired, hub closed
)

// Errors returned by Hub methods; test with errors.Is.
var (
	ErrChannelNotFound = errors.New("streaming: channel not found")
	ErrTooManyTopics   = errors.New("streaming: too many topics")
	ErrClosed          = errors.New("streaming: hub closed")
)

// Config configures a Hub. Zero fields take the Default values.
type Config struct {
	HeartbeatInterval   time.Duration // default 30s; < 0 disables heartbeats
	MaxChannelsPerOwner int           // default 20
	MaxTopicsPerChannel int           // default 1000
	ChannelTTL          time.Duration // default 24h
	SendBuffer          int           // per socket, messages (default 256); overflow => drop + close, counted
	SocketClosingGrace  time.Duration // default 60s; < 0 closes at once
	// TopicTakeover makes a subscription take its topics from the owner's
	// other channels: see Hub.Subscribe.
	TopicTakeover bool
	Now           func() time.Time
}

func (c Config) withDefaults() Config {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.MaxChannelsPerOwner <= 0 {
		c.MaxChannelsPerOwner = DefaultMaxChannelsPerOwner
	}
	if c.MaxTopicsPerChannel <= 0 {
		c.MaxTopicsPerChannel = DefaultMaxTopicsPerChannel
	}
	if c.ChannelTTL <= 0 {
		c.ChannelTTL = DefaultChannelTTL
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	if c.SocketClosingGrace == 0 {
		c.SocketClosingGrace = DefaultSocketClosingGrace
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Channel is a notification channel as POST /api/v2/notifications/channels
// answers it: {"id","connectUri","expires"}, expires in UTC with
// milliseconds as the SDK's datetimes are. Owner, Connected and Topics are
// not part of the JSON.
type Channel struct {
	ID         string
	ConnectURI string
	Expires    time.Time
	Owner      string
	Connected  bool // a socket is open on it
	Topics     int  // number of subscribed topics
}

// MarshalJSON writes the SDK's Channel model.
func (c Channel) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID         string `json:"id"`
		ConnectURI string `json:"connectUri"`
		Expires    string `json:"expires"`
	}{c.ID, c.ConnectURI, c.Expires.UTC().Format("2006-01-02T15:04:05.000Z")})
}

// Subscription states.
const (
	StatePermitted = "Permitted"
	StateRejected  = "Rejected"
)

// Subscription is one topic of a channel, as the subscriptions endpoints
// answer it inside {"entities": [...]}.
type Subscription struct {
	ID                 string   `json:"id"`
	State              string   `json:"state"`
	RejectionReason    string   `json:"rejectionReason,omitempty"`
	MissingPermissions []string `json:"missingPermissions,omitempty"`
	SelfURI            string   `json:"selfUri,omitempty"`
}

// Stats are the hub's counters. Channels and Sockets are current values; the
// rest count since NewHub.
type Stats struct {
	Channels        int64 `json:"channels"`        // open channels
	Sockets         int64 `json:"sockets"`         // open sockets
	ChannelsCreated int64 `json:"channelsCreated"` // CreateChannel successes
	Evicted         int64 `json:"evicted"`         // channels evicted by an owner's newer channel
	Expired         int64 `json:"expired"`         // channels past their TTL
	TopicsAccepted  int64 `json:"topicsAccepted"`  // topics subscribed (Permitted)
	TopicsRejected  int64 `json:"topicsRejected"`  // topics Rejected
	TopicLimit      int64 `json:"topicLimit"`      // Subscribe calls refused by MaxTopicsPerChannel
	Connects        int64 `json:"connects"`        // WebSocket upgrades
	Replaced        int64 `json:"replaced"`        // sockets closed because a newer one took their channel
	Disconnects     int64 `json:"disconnects"`     // sockets ended, for any reason
	Heartbeats      int64 `json:"heartbeats"`      // heartbeats queued
	Withheld        int64 `json:"withheld"`        // heartbeats withheld by SkipHeartbeats
	Pongs           int64 `json:"pongs"`           // answers to {"message":"ping"}
	Published       int64 `json:"published"`       // Publish calls
	Delivered       int64 `json:"delivered"`       // events queued to sockets by Publish
	Overflows       int64 `json:"overflows"`       // sockets closed because their send buffer was full
	WriteErrors     int64 `json:"writeErrors"`     // sockets closed because a write failed or timed out
	Drops           int64 `json:"drops"`           // sockets dropped by Drop
	SocketClosings  int64 `json:"socketClosings"`  // v2.system.socket_closing warnings sent
	Revoked         int64 `json:"revoked"`         // channels closed by TokenRevoked
}

type counters struct {
	channelsCreated, evicted, expired, topicsAccepted, topicsRejected, topicLimit,
	connects, replaced, disconnects, heartbeats, withheld, pongs, published, delivered,
	overflows, writeErrors, drops, socketClosings, revoked atomic.Int64
}

// Hub holds notification channels and their sockets. Its methods are safe for
// concurrent use. A Hub runs one goroutine for heartbeats and expiry, one
// reader goroutine per socket, and a writer goroutine per socket only while
// that socket has messages queued; Close ends them all.
type Hub struct {
	cfg Config
	up  websocket.Upgrader

	mu       sync.RWMutex
	closed   bool
	channels map[string]*channel
	owners   map[string][]*channel
	topics   map[string]map[*channel]struct{}
	sockets  map[*socket]struct{}
	timers   map[*time.Timer]struct{}
	seq      uint64 // LRU clock

	stop chan struct{}
	wg   sync.WaitGroup
	n    counters

	heartbeat, pong *websocket.PreparedMessage
	nsock           uint64 // sockets registered so far, for their heartbeat slots; guarded by mu
}

type channel struct {
	id, owner, uri string
	who            Who
	expires        time.Time
	used           uint64 // h.seq at last use
	topics         []string
	topicSet       map[string]struct{}
	refs           map[string]int // delivered topic -> how many of topics cover it (compound topics cover several)
	sock           *socket
	skip           atomic.Int32 // heartbeats to withhold
}

// NewHub returns a running Hub configured by cfg.
func NewHub(cfg Config) *Hub {
	h := &Hub{
		cfg:      cfg.withDefaults(),
		channels: make(map[string]*channel),
		owners:   make(map[string][]*channel),
		topics:   make(map[string]map[*channel]struct{}),
		sockets:  make(map[*socket]struct{}),
		timers:   make(map[*time.Timer]struct{}),
		stop:     make(chan struct{}),
	}
	h.up = websocket.Upgrader{
		ReadBufferSize:  512,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	h.heartbeat = mustPrepare(envelope{TopicName: "channel.metadata", EventBody: message{"WebSocket Heartbeat"}})
	h.pong = mustPrepare(envelope{TopicName: "channel.metadata", EventBody: message{"pong"}})
	h.wg.Add(1)
	go h.loop()
	return h
}

// envelope is the Genesys notification envelope.
type envelope struct {
	TopicName string    `json:"topicName"`
	Version   string    `json:"version,omitempty"`
	EventBody any       `json:"eventBody"`
	Metadata  *metadata `json:"metadata,omitempty"`
}

type metadata struct {
	CorrelationID string `json:"CorrelationId"`
}

type message struct {
	Message string `json:"message"`
}

func mustPrepare(e envelope) *websocket.PreparedMessage {
	data, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		panic(err)
	}
	return pm
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return "streaming-0-" + hex.EncodeToString(b[:])
}

// Who names a channel's organization, user and OAuth client in its system
// messages.
type Who struct {
	OrganizationID, UserID, OAuthClientID string
}

// SystemMessage is the body of the v2.system.* events, the SDK's
// SystemMessageSystemMessage. SystemTopicType is one of no_longer_subscribed,
// subscription_changed and token_revoked (socket_closing has none); Reason
// one of another_channel_subscribed and user_tokens_revoked, or empty.
type SystemMessage struct {
	ChannelID        string `json:"channelId,omitempty"`
	SystemTopicType  string `json:"systemTopicType,omitempty"`
	CorrelationID    string `json:"correlationId,omitempty"`
	OrganizationID   string `json:"organizationId,omitempty"`
	UserID           string `json:"userId,omitempty"`
	OAuthClientID    string `json:"oauthClientId,omitempty"`
	OAuthClientOrgID string `json:"oauthClientOrgId,omitempty"`
	Reason           string `json:"reason,omitempty"`
	Message          string `json:"message"`
}

// systemLocked prepares a system event for channel c on topic.
func (c *channel) system(topic, typ, reason, msg string) *websocket.PreparedMessage {
	return mustPrepare(envelope{TopicName: topic, Version: "2", EventBody: SystemMessage{
		ChannelID: c.id, SystemTopicType: typ, OrganizationID: c.who.OrganizationID, UserID: c.who.UserID,
		OAuthClientID: c.who.OAuthClientID, OAuthClientOrgID: c.who.OrganizationID, Reason: reason, Message: msg}})
}

// CreateChannel creates a channel for owner (gcsim's org/client/user key)
// whose connectUri is wsBase + "/channels/" + id. If owner already holds
// MaxChannelsPerOwner channels, its least recently used one is evicted first,
// idle channels before connected ones.
func (h *Hub) CreateChannel(owner string, wsBase string) (Channel, error) {
	return h.CreateChannelFor(owner, wsBase, Who{})
}

// CreateChannelFor is CreateChannel for a channel whose system messages
// name who.
func (h *Hub) CreateChannelFor(owner string, wsBase string, who Who) (Channel, error) {
	now := h.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return Channel{}, ErrClosed
	}
	for _, c := range slices.Clone(h.owners[owner]) {
		if !now.Before(c.expires) {
			h.removeLocked(c, "expired")
		}
	}
	for len(h.owners[owner]) >= h.cfg.MaxChannelsPerOwner {
		h.removeLocked(lru(h.owners[owner]), "evicted")
	}
	id := newID()
	h.seq++
	c := &channel{
		id: id, owner: owner, uri: wsBase + "/channels/" + id, who: who,
		expires: now.Add(h.cfg.ChannelTTL), used: h.seq,
		topicSet: make(map[string]struct{}),
	}
	h.channels[id] = c
	h.owners[owner] = append(h.owners[owner], c)
	h.n.channelsCreated.Add(1)
	return c.snapshot(), nil
}

// lru returns the least recently used idle channel of list, or the least
// recently used one if none is idle.
func lru(list []*channel) *channel {
	var idle, any *channel
	for _, c := range list {
		if c.sock == nil && (idle == nil || c.used < idle.used) {
			idle = c
		}
		if any == nil || c.used < any.used {
			any = c
		}
	}
	if idle != nil {
		return idle
	}
	return any
}

func (c *channel) snapshot() Channel {
	return Channel{ID: c.id, ConnectURI: c.uri, Expires: c.expires, Owner: c.owner,
		Connected: c.sock != nil, Topics: len(c.topics)}
}

// removeLocked deletes c; why is "evicted", "revoked" or "expired". Its socket, if any,
// is told and closed. h.mu must be held.
func (h *Hub) removeLocked(c *channel, why string) {
	delete(h.channels, c.id)
	list := h.owners[c.owner]
	if i := slices.Index(list, c); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(h.owners, c.owner)
	} else {
		h.owners[c.owner] = list
	}
	h.unindexAllLocked(c)
	c.topics, c.topicSet = nil, nil
	s := c.sock
	c.sock = nil
	switch why {
	case "evicted":
		h.n.evicted.Add(1)
		if s != nil {
			s.ch = nil
			s.enqueue(c.system("v2.system.no_longer_subscribed."+c.id, "no_longer_subscribed", "",
				fmt.Sprintf("channel %s evicted: its owner opened more than %d channels", c.id, h.cfg.MaxChannelsPerOwner)))
			s.closeGraceful(CloseEvicted, "streaming: channel evicted")
		}
	case "revoked":
		h.n.revoked.Add(1)
		if s != nil {
			s.ch = nil
			s.enqueue(c.system("v2.system.token_revoked."+c.id, "token_revoked", "user_tokens_revoked",
				fmt.Sprintf("channel %s closed: the access token that created it was revoked; get a new token and create a new channel", c.id)))
			s.closeGraceful(CloseEvicted, "streaming: token revoked")
		}
	default:
		h.n.expired.Add(1)
		if s != nil {
			s.ch = nil
			s.closeGraceful(CloseGoingAway, "streaming: channel expired")
		}
	}
}

// unindexAllLocked stops delivering every topic of c.
func (h *Hub) unindexAllLocked(c *channel) {
	for e := range c.refs {
		h.unindexLocked(e, c)
	}
	c.refs = nil
}

func (h *Hub) unindexLocked(topic string, c *channel) {
	set := h.topics[topic]
	delete(set, c)
	if len(set) == 0 {
		delete(h.topics, topic)
	}
}

// lookupLocked returns the live channel id, removing it if it has expired.
func (h *Hub) lookupLocked(id string) *channel {
	c := h.channels[id]
	if c == nil {
		return nil
	}
	if !h.cfg.Now().Before(c.expires) {
		h.removeLocked(c, "expired")
		return nil
	}
	return c
}

// Channel returns the channel with the given id; false if it does not exist,
// was evicted or has expired (HEAD answers 404).
func (h *Hub) Channel(id string) (Channel, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.lookupLocked(id)
	if c == nil {
		return Channel{}, false
	}
	return c.snapshot(), true
}

func notFound(id string) error {
	return fmt.Errorf("%w: %q (unknown, evicted or expired; create a new channel)", ErrChannelNotFound, id)
}

// Subscribe adds topics to channel id (POST), or with replace makes them its
// only topics (PUT), and extends the channel's life by ChannelTTL. It answers
// the channel's subscriptions (state Permitted) followed by the topics of
// this request that were rejected (state Rejected, with a rejectionReason).
// Duplicates are ignored. If the result would exceed MaxTopicsPerChannel it
// changes nothing and returns an error wrapping ErrTooManyTopics. With
// Config.TopicTakeover, a topic subscribed here is removed from the
// owner's other channels that hold it (the same topic string), and each
// of them that is connected gets v2.system.no_longer_subscribed.{id} with
// reason another_channel_subscribed, naming the topics and this channel.
func (h *Hub) Subscribe(id string, topics []string, replace bool) ([]Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.lookupLocked(id)
	if c == nil {
		return nil, notFound(id)
	}
	var accepted []string
	var rejected []Subscription
	seen := make(map[string]struct{}, len(topics))
	for _, t := range topics {
		if _, dup := seen[t]; dup {
			continue
		}
		seen[t] = struct{}{}
		if err := ValidateTopic(t); err != nil {
			rejected = append(rejected, Subscription{ID: t, State: StateRejected, RejectionReason: err.Error()})
			continue
		}
		accepted = append(accepted, t)
	}
	total := len(accepted)
	if !replace {
		for _, t := range accepted {
			if _, ok := c.topicSet[t]; ok {
				total--
			}
		}
		total += len(c.topics)
	}
	if total > h.cfg.MaxTopicsPerChannel {
		h.n.topicLimit.Add(1)
		return nil, fmt.Errorf("%w: channel %s would hold %d topics; the limit is %d topics per channel (MaxTopicsPerChannel): use another channel for the rest",
			ErrTooManyTopics, id, total, h.cfg.MaxTopicsPerChannel)
	}
	if replace {
		h.unindexAllLocked(c)
		c.topics = nil
		c.topicSet = make(map[string]struct{}, len(accepted))
	}
	for _, t := range accepted {
		if _, ok := c.topicSet[t]; ok {
			continue
		}
		c.topicSet[t] = struct{}{}
		c.topics = append(c.topics, t)
		if c.refs == nil {
			c.refs = make(map[string]int)
		}
		for _, e := range expandTopic(t) {
			if c.refs[e]++; c.refs[e] > 1 {
				continue
			}
			set := h.topics[e]
			if set == nil {
				set = make(map[*channel]struct{})
				h.topics[e] = set
			}
			set[c] = struct{}{}
		}
	}
	if h.cfg.TopicTakeover {
		h.takeLocked(c, accepted)
	}
	h.n.topicsAccepted.Add(int64(len(accepted)))
	h.n.topicsRejected.Add(int64(len(rejected)))
	c.expires = h.cfg.Now().Add(h.cfg.ChannelTTL)
	h.seq++
	c.used = h.seq
	for i := range rejected {
		rejected[i].SelfURI = c.selfURI()
	}
	return append(c.subscriptionsLocked(), rejected...), nil
}

// takeLocked removes topics from the other channels of c's owner and tells
// their sockets. h.mu must be held.
func (h *Hub) takeLocked(c *channel, topics []string) {
	for _, o := range h.owners[c.owner] {
		if o == c {
			continue
		}
		var lost []string
		for _, t := range topics {
			if _, ok := o.topicSet[t]; !ok {
				continue
			}
			lost = append(lost, t)
			delete(o.topicSet, t)
			o.topics = slices.DeleteFunc(o.topics, func(x string) bool { return x == t })
			for _, e := range expandTopic(t) {
				if o.refs[e]--; o.refs[e] <= 0 {
					delete(o.refs, e)
					h.unindexLocked(e, o)
				}
			}
		}
		if len(lost) > 0 && o.sock != nil {
			o.sock.enqueue(o.system("v2.system.no_longer_subscribed."+o.id, "no_longer_subscribed", "another_channel_subscribed",
				fmt.Sprintf("channel %s no longer receives %s: channel %s subscribed to it", o.id, strings.Join(lost, ", "), c.id)))
		}
	}
}

func (c *channel) selfURI() string {
	return "/api/v2/notifications/channels/" + c.id + "/subscriptions"
}

func (c *channel) subscriptionsLocked() []Subscription {
	out := make([]Subscription, 0, len(c.topics))
	for _, t := range c.topics {
		out = append(out, Subscription{ID: t, State: StatePermitted, SelfURI: c.selfURI()})
	}
	return out
}

// Unsubscribe removes every topic of channel id (DELETE).
func (h *Hub) Unsubscribe(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.lookupLocked(id)
	if c == nil {
		return notFound(id)
	}
	h.unindexAllLocked(c)
	c.topics = nil
	c.topicSet = make(map[string]struct{})
	return nil
}

// Subscriptions lists the topics of channel id in subscription order (GET).
func (h *Hub) Subscriptions(id string) ([]Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.lookupLocked(id)
	if c == nil {
		return nil, notFound(id)
	}
	return c.subscriptionsLocked(), nil
}

// Subscribed reports whether a channel subscribes to topic, so that a
// publisher can skip building an event nobody receives.
func (h *Hub) Subscribed(topic string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.topics[topic]) > 0
}

// Publish sends an event on topic, in the Genesys envelope
// {"topicName","version":"2","eventBody","metadata":{"CorrelationId"}}, to
// every socket whose channel subscribes to topic, and returns how many
// sockets it was queued to. It never blocks on a socket. An empty
// correlationID leaves out metadata. eventBody must marshal to JSON
// (json.RawMessage is sent as is); if it does not, Publish returns 0.
func (h *Hub) Publish(topic string, eventBody any, correlationID string) int {
	h.n.published.Add(1)
	h.mu.RLock()
	n := len(h.topics[topic])
	h.mu.RUnlock()
	if n == 0 {
		return 0
	}
	e := envelope{TopicName: topic, Version: "2", EventBody: eventBody}
	if correlationID != "" {
		e.Metadata = &metadata{CorrelationID: correlationID}
	}
	data, err := json.Marshal(e)
	if err != nil {
		return 0
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return 0
	}
	reached := 0
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return 0
	}
	for c := range h.topics[topic] {
		if c.sock != nil && c.sock.enqueueCounted(pm, &h.n.delivered) {
			reached++
		}
	}
	return reached
}

// ServeWS serves the WebSocket of channel id: the handler of its connectUri
// (GET /channels/{id}). An unknown channel gets 404 before any upgrade. A
// connection to a channel that already has one replaces it. ServeWS returns
// once the socket is set up; the hub serves it until the client leaves, the
// socket is dropped or closed, or Close.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, id string) {
	h.mu.Lock()
	c := h.lookupLocked(id)
	closed := h.closed
	h.mu.Unlock()
	if c == nil || closed {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		msg := notFound(id).Error()
		if closed {
			msg = ErrClosed.Error()
		}
		json.NewEncoder(w).Encode(map[string]any{"message": msg, "code": "not.found", "status": 404})
		return
	}
	// Register the socket before the upgrade answers the client, so that an
	// event published as soon as the client sees 101 is queued, not lost.
	s := &socket{h: h}
	h.mu.Lock()
	if h.closed || h.channels[id] != c {
		h.mu.Unlock()
		http.Error(w, notFound(id).Error(), http.StatusNotFound)
		return
	}
	if old := c.sock; old != nil {
		old.ch = nil
		h.n.replaced.Add(1)
		old.closeGraceful(CloseReplaced, "streaming: replaced by a newer connection")
	}
	c.sock, s.ch = s, c
	h.seq++
	c.used = h.seq
	s.slot = int(h.nsock % heartbeatSlots) // the first socket's heartbeats come on the interval's multiples
	h.nsock++
	h.sockets[s] = struct{}{}
	h.wg.Add(1) // the reader, or the cleanup below
	h.mu.Unlock()

	conn, err := h.up.Upgrade(w, r, nil)
	if err != nil { // Upgrade answered the client
		s.mu.Lock()
		s.closing = true
		s.queue = nil
		s.mu.Unlock()
		s.detach()
		h.wg.Done()
		return
	}
	conn.SetReadLimit(readLimit)
	conn.SetCloseHandler(ignoreClose) // read answers after the queued messages
	h.n.connects.Add(1)
	s.mu.Lock()
	s.conn = conn
	aborted := s.aborted
	if len(s.queue) > 0 {
		s.startLocked()
	}
	s.mu.Unlock()
	if aborted {
		conn.NetConn().Close()
	}
	go s.read()
}

// closingBatches is how many steps SocketClosing("") spreads its warnings
// over.
const closingBatches = 20

// SocketClosing sends v2.system.socket_closing to the socket of channel id,
// then closes it with 1001 after SocketClosingGrace. With id "" every socket
// is warned, but not in one instant: the warnings are spread over the first
// half of the grace, in closingBatches steps, and each socket still closes a
// full grace after its own warning. Each warned client switches to a new
// channel (two REST calls and a handshake); thousands of them in the same
// instant would be a load the simulator, which shares its machine with the
// clients, cannot serve within a grace shortened for a test.
func (h *Hub) SocketClosing(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	socks := h.targetsLocked(id)
	grace := h.cfg.SocketClosingGrace
	if grace < 0 || len(socks) <= 1 {
		h.warnLocked(socks, grace)
		return
	}
	n := len(socks)
	batches := min(n, closingBatches)
	for b := range batches {
		batch := socks[b*n/batches : (b+1)*n/batches]
		if b == 0 {
			h.warnLocked(batch, grace)
			continue
		}
		h.afterLocked(time.Duration(b)*(grace/2)/time.Duration(batches), func() { h.warnLocked(batch, grace) })
	}
}

// warnLocked sends v2.system.socket_closing to socks and closes them with
// 1001 after grace (at once if grace < 0). h.mu must be held.
func (h *Hub) warnLocked(socks []*socket, grace time.Duration) {
	var warned []*socket
	for _, s := range socks {
		if s.ch != nil && s.enqueue(s.ch.system("v2.system.socket_closing", "", "",
			"The socket will close; open a new channel and resubscribe.")) {
			warned = append(warned, s)
		}
	}
	h.n.socketClosings.Add(int64(len(warned)))
	closeAll := func() {
		for _, s := range warned {
			s.closeGraceful(CloseGoingAway, "streaming: socket closing")
		}
	}
	if grace < 0 || len(warned) == 0 {
		closeAll()
		return
	}
	h.afterLocked(grace, closeAll)
}

// afterLocked runs f with h.mu held after d, unless the hub has closed by
// then. h.mu must be held.
func (h *Hub) afterLocked(d time.Duration, f func()) {
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.closed {
			return
		}
		delete(h.timers, t)
		f()
	})
	h.timers[t] = struct{}{}
}

// targetsLocked returns the sockets of channel id, or all sockets for "".
func (h *Hub) targetsLocked(id string) []*socket {
	if id == "" {
		out := make([]*socket, 0, len(h.sockets))
		for s := range h.sockets {
			if s.ch != nil {
				out = append(out, s)
			}
		}
		return out
	}
	if c := h.channels[id]; c != nil && c.sock != nil {
		return []*socket{c.sock}
	}
	return nil
}

// TokenRevoked ends the channels ids, whose access token was revoked: a
// connected one gets v2.system.token_revoked.{id} (reason
// user_tokens_revoked) and is closed with 1000 "streaming: token revoked";
// afterwards each id answers 404. Genesys documents that a channel may close
// when its token expires; closing it on revocation is the simulator's choice,
// so that a client which keeps a channel of a revoked token finds out.
func (h *Hub) TokenRevoked(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if c := h.channels[id]; c != nil {
			h.removeLocked(c, "revoked")
		}
	}
}

// Drop closes the socket of channel id ("" = every socket) abruptly, without
// a close frame: the fault "WebSocket drop". The channel stays; a client may
// reconnect to it.
func (h *Hub) Drop(id string) {
	h.mu.RLock()
	socks := h.targetsLocked(id)
	h.mu.RUnlock()
	for _, s := range socks {
		h.n.drops.Add(1)
		s.abort()
	}
}

// SkipHeartbeats withholds the next n heartbeats of channel id ("" = every
// channel): the fault "missed heartbeat". n <= 0 resumes them.
func (h *Hub) SkipHeartbeats(id string, n int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	set := func(c *channel) { c.skip.Store(int32(max(n, 0))) }
	if id == "" {
		for _, c := range h.channels {
			set(c)
		}
		return
	}
	if c := h.channels[id]; c != nil {
		set(c)
	}
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	st := Stats{Channels: int64(len(h.channels)), Sockets: int64(len(h.sockets))}
	h.mu.RUnlock()
	n := &h.n
	st.ChannelsCreated = n.channelsCreated.Load()
	st.Evicted = n.evicted.Load()
	st.Expired = n.expired.Load()
	st.TopicsAccepted = n.topicsAccepted.Load()
	st.TopicsRejected = n.topicsRejected.Load()
	st.TopicLimit = n.topicLimit.Load()
	st.Connects = n.connects.Load()
	st.Replaced = n.replaced.Load()
	st.Disconnects = n.disconnects.Load()
	st.Heartbeats = n.heartbeats.Load()
	st.Withheld = n.withheld.Load()
	st.Pongs = n.pongs.Load()
	st.Published = n.published.Load()
	st.Delivered = n.delivered.Load()
	st.Overflows = n.overflows.Load()
	st.WriteErrors = n.writeErrors.Load()
	st.Drops = n.drops.Load()
	st.SocketClosings = n.socketClosings.Load()
	st.Revoked = n.revoked.Load()
	return st
}

// heartbeatSlots is how many phases of the heartbeat interval the sockets
// are spread over: every interval/heartbeatSlots one slot's sockets get
// their heartbeat.
const heartbeatSlots = 10

// loop sends heartbeats, a slot at a time, and removes expired channels
// once per interval.
func (h *Hub) loop() {
	defer h.wg.Done()
	period := h.cfg.HeartbeatInterval
	if period <= 0 {
		period = DefaultHeartbeatInterval
	}
	t := time.NewTicker(period / heartbeatSlots)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-h.stop:
			return
		case <-t.C:
			slot := tick % heartbeatSlots
			if h.cfg.HeartbeatInterval > 0 {
				h.beat(slot)
			}
			if slot == 0 {
				h.sweep()
			}
		}
	}
}

// beat queues a heartbeat for the sockets of slot.
func (h *Hub) beat(slot int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return
	}
	for s := range h.sockets {
		c := s.ch
		if c == nil || s.slot != slot {
			continue
		}
		if k := c.skip.Load(); k > 0 {
			c.skip.Add(-1)
			h.n.withheld.Add(1)
			continue
		}
		s.enqueueCounted(h.heartbeat, &h.n.heartbeats)
	}
}

func (h *Hub) sweep() {
	now := h.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for _, c := range h.channels {
		if !now.Before(c.expires) {
			h.removeLocked(c, "expired")
		}
	}
}

// Close closes every socket with 1001 "going away", waits at most closeWait
// for the clients to answer, drops the rest, and stops the hub. Channels are
// forgotten. Close is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return
	}
	for t := range h.timers {
		t.Stop()
	}
	h.timers = nil
	for s := range h.sockets {
		s.closeGraceful(CloseGoingAway, "streaming: server closing")
	}
	h.closed = true
	close(h.stop)
	h.mu.Unlock()

	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	h.mu.RLock()
	for s := range h.sockets {
		s.abort()
	}
	h.mu.RUnlock()
	<-done
}
