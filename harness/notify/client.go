package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/backoff"
	"github.com/cxload/cxload/harness/metrics"
)

// Platform limits (docs/genesys.md, "Notifications").
const (
	// MaxTopicsPerChannel is Genesys' limit of topics on one channel.
	MaxTopicsPerChannel = 1000
	// MaxChannelsPerUser is Genesys' limit of channels per user or app: the
	// 21st evicts the least recently used one, idle ones first.
	MaxChannelsPerUser = 20
)

// Defaults of Options.
const (
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultPingInterval      = 60 * time.Second
	DefaultReadLimit         = 64 << 10
	DefaultWriteWait         = 10 * time.Second
	DefaultCloseWait         = 2 * time.Second
	DefaultExpectTimeout     = 60 * time.Second
	DefaultMaxReconnects     = 10
	// gapFactor: a heartbeat later than gapFactor intervals after the
	// previous one ends a Gap.
	gapFactor = 1.5
)

// DefaultBackoff is the reconnect backoff of Options.Backoff.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2}

// Backoff paces reconnects: Delay(n, r) is the wait before reconnect
// attempt n (0-based), Min·Factor^n capped at Max, with equal jitter.
type Backoff = backoff.Backoff

// Options configures a Client. API is required.
type Options struct {
	// API sends the channel API's REST calls (create, subscribe), with its
	// token (for one agent: client.Agent(i)), limiter, retries, 401 refresh,
	// recorder and gate: they are operations OpChannelCreate and
	// OpChannelSubscribe like any other request of the run.
	API *api.Client
	// Gate, if set, admits every WebSocket dial and is told its status, as
	// api.Client's Gate is for requests: the production guard's budget
	// counts the dials. Pass the same gate as the API client's.
	Gate api.Gate
	// Topics are subscribed on every channel the client creates, at most
	// MaxTopicsPerChannel.
	Topics []string
	// Dialer opens the WebSockets; nil means 1 KiB read and write buffers, a
	// shared write-buffer pool, a 10 s handshake timeout, and API's Dial
	// and TLSConfig (api.Client.DialConfig). Set its NetDialContext to
	// reach an in-memory listener.
	Dialer *websocket.Dialer
	// HeartbeatInterval is the server's heartbeat interval (Genesys: 30 s).
	// A heartbeat more than 1.5 intervals after the previous one is a Gap.
	HeartbeatInterval time.Duration
	// DeadAfter: a socket silent this long is closed and reconnected
	// (default 3 heartbeat intervals).
	DeadAfter time.Duration
	// PingInterval is how often the client sends {"message":"ping"} (default
	// 60 s; < 0 never). Expired expectations are swept at the same tick.
	PingInterval time.Duration
	// ReadLimit is the largest message read (default 64 KiB).
	ReadLimit int64
	// WriteWait bounds a write; CloseWait bounds the wait for the server's
	// answer to a close frame.
	WriteWait, CloseWait time.Duration
	// ExpectTimeout: an expected event that has not arrived this long after
	// its sentAt is lost (default 60 s).
	ExpectTimeout time.Duration
	// Backoff paces reconnects after a drop; MaxReconnects attempts (default
	// 10) per drop, then the client gives up (Err says why).
	Backoff       Backoff
	MaxReconnects int
	// Rand returns numbers in [0, 1) for the backoff jitter; nil means math/rand/v2.
	Rand func() float64
	// Now is the clock of every timestamp; nil means time.Now.
	Now func() time.Time
	// Collector gathers what the client sees; share one between the clients
	// of a run. Nil means a private one.
	Collector *Collector
	// Recorder receives connects, heartbeats (with gaps), drops,
	// reconnects, matched events (with push latency) and lost events: the
	// websocket part of its result document. Nil means the Collector's
	// (see Collector). The clients of one Collector share one Recorder.
	Recorder *metrics.Recorder
	// OnEvent, if set, is called on the reader goroutine for every delivered
	// event; it must not block.
	OnEvent func(Event)
}

var writePool sync.Pool

func (o *Options) normalize() error {
	if o.API == nil {
		return errors.New("notify: Options.API is nil: set the api.Client that sends the channel's REST calls (for one agent, client.Agent(i))")
	}
	if len(o.Topics) > MaxTopicsPerChannel {
		return fmt.Errorf("notify: Options.Topics has %d topics; Genesys allows %d per channel: split them over several clients", len(o.Topics), MaxTopicsPerChannel)
	}
	for i, t := range o.Topics {
		if t == "" {
			return fmt.Errorf("notify: Options.Topics[%d] is empty", i)
		}
	}
	if o.Dialer == nil {
		o.Dialer = &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &writePool,
			HandshakeTimeout: 10 * time.Second}
		if o.API != nil {
			// The streaming host is reached as the API host is: the same
			// dialer (a simulator's listener) and the same trusted roots.
			dial, tc := o.API.DialConfig()
			o.Dialer.NetDialContext = dial
			if tc != nil {
				o.Dialer.TLSClientConfig = tc.Clone()
			}
		}
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.DeadAfter <= 0 {
		o.DeadAfter = 3 * o.HeartbeatInterval
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.WriteWait <= 0 {
		o.WriteWait = DefaultWriteWait
	}
	if o.CloseWait <= 0 {
		o.CloseWait = DefaultCloseWait
	}
	if o.ExpectTimeout <= 0 {
		o.ExpectTimeout = DefaultExpectTimeout
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff
	}
	if o.MaxReconnects <= 0 {
		o.MaxReconnects = DefaultMaxReconnects
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Collector == nil {
		o.Collector = NewCollector()
	}
	if err := o.Collector.use(o.Recorder); err != nil {
		return err
	}
	o.Recorder = o.Collector.recorder()
	return nil
}

// Event is one notification the client delivered.
type Event struct {
	TopicName     string
	Version       string
	EventBody     json.RawMessage
	CorrelationID string // metadata.CorrelationId
	Channel       string // the channel it arrived on
	Received      time.Time
}

// envelope is the Genesys notification envelope.
type envelope struct {
	TopicName string          `json:"topicName"`
	Version   string          `json:"version"`
	EventBody json.RawMessage `json:"eventBody"`
	Metadata  struct {
		CorrelationID string `json:"CorrelationId"`
	} `json:"metadata"`
}

// Client is one notification channel and its WebSocket, kept open: it
// reconnects after a drop, switches to a new channel on
// v2.system.socket_closing, and measures what it sees into its Collector.
// Each connection has one reader goroutine; one more goroutine writes pings
// and close frames and runs the reconnects. Its methods are safe for
// concurrent use.
type Client struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// chMu serializes topic changes (Subscribe) with channel changes
	// (switchover, recovery), so that a new channel has every topic.
	chMu sync.Mutex

	mu      sync.Mutex
	topics  []string
	channel Channel
	expect  map[string]*expectation   // "topic\x00corr" or "\x00corr"
	content map[string][]*expectation // topic -> those with content, oldest first
	anon    int                       // expectations without a correlation id
	dd      *dedupe                   // during a switchover
	err     error                     // why the client stopped
}

// wsConn is one socket of a Client.
type wsConn struct {
	c       *Client
	ws      *websocket.Conn
	channel Channel
	slot    int           // 0 or 1: which side of a switchover's dedupe
	done    chan struct{} // the reader ended
	closing chan struct{} // v2.system.socket_closing arrived (closed once)
	once    sync.Once

	gone atomic.Bool // v2.system.no_longer_subscribed arrived: the channel is evicted
	byUs atomic.Bool // the client closed it

	// Owned by the reader until done is closed.
	connected, lastBeat time.Time
	err                 error
}

// Open creates a channel over REST, subscribes opts.Topics, connects its
// WebSocket and keeps it open until Close or until ctx is done. ctx also
// bounds Open's own requests.
func Open(ctx context.Context, opts Options) (*Client, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	c := &Client{o: opts, topics: append([]string(nil), opts.Topics...), done: make(chan struct{})}
	ch, err := c.newChannel(ctx)
	if err != nil {
		return nil, err
	}
	c.channel = ch
	w, err := c.dial(ctx, ch)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	go w.read()
	go c.run(w)
	return c, nil
}

// ChannelID returns the id of the client's current channel.
func (c *Client) ChannelID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.channel.ID
}

// Stats returns a snapshot of the client's Collector (shared with other
// clients if Options.Collector was).
func (c *Client) Stats() Stats { return c.o.Collector.Stats() }

// Err returns why the client stopped before Close (it gave up
// reconnecting), or nil.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the client has stopped: after Close, after its
// context ended, or when it gave up reconnecting.
func (c *Client) Done() <-chan struct{} { return c.done }

// Expect registers an event the caller caused at sentAt (e.g. the start of
// the REST call) and expects on topic ("" = any topic) with metadata
// CorrelationId correlationID. Its arrival records the push latency; no
// arrival within Options.ExpectTimeout, or before Close, counts as lost.
func (c *Client) Expect(correlationID, topic string, sentAt time.Time) {
	c.ExpectContent(correlationID, topic, "", sentAt)
}

// ExpectContent is [Client.Expect] for a platform that may not echo
// correlation ids: the event also matches by content, a key such as
// [PresenceContent] that [ContentOf] finds in it, on topic. Empty content
// is Expect; an empty correlationID matches by content only.
func (c *Client) ExpectContent(correlationID, topic, content string, sentAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expect == nil {
		c.expect = make(map[string]*expectation)
		c.content = make(map[string][]*expectation)
	}
	key := topic + "\x00" + correlationID
	if correlationID == "" {
		c.anon++
		key = fmt.Sprintf("\x01%d", c.anon) // no event has this id
	}
	e := &expectation{key: key, topic: topic, content: content, sentAt: sentAt}
	if old := c.expect[key]; old != nil { // registered twice: the new one replaces it
		old.done = true
		c.o.Collector.update(func(s *Stats) { s.Expected-- })
	}
	c.expect[key] = e
	if content != "" && topic != "" {
		c.content[topic] = append(c.content[topic], e)
	}
	c.o.Collector.update(func(s *Stats) { s.Expected++ })
}

// Forget withdraws an expectation registered with Expect, for a request
// that failed and so will cause no event. An unknown pair is a no-op.
func (c *Client) Forget(correlationID, topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := topic + "\x00" + correlationID
	e, ok := c.expect[key]
	if !ok {
		return
	}
	e.done = true
	delete(c.expect, key)
	if e.content != "" {
		c.compact(topic)
	}
	c.o.Collector.update(func(s *Stats) { s.Expected-- })
}

// Subscribe adds topics to the client's channel (POST
// .../subscriptions); they are also subscribed on every later channel of a
// switchover or recovery. The channel's total stays within
// MaxTopicsPerChannel. A rejected topic is an error naming it and the
// server's reason, and is not kept.
func (c *Client) Subscribe(ctx context.Context, topics ...string) error {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	c.mu.Lock()
	have := make(map[string]bool, len(c.topics))
	for _, t := range c.topics {
		have[t] = true
	}
	var add []string
	for i, t := range topics {
		if t == "" {
			c.mu.Unlock()
			return fmt.Errorf("notify: Subscribe: topics[%d] is empty", i)
		}
		if !have[t] {
			have[t] = true
			add = append(add, t)
		}
	}
	total, id := len(c.topics)+len(add), c.channel.ID
	c.mu.Unlock()
	if len(add) == 0 {
		return nil
	}
	if total > MaxTopicsPerChannel {
		return fmt.Errorf("notify: Subscribe: channel %s would hold %d topics; Genesys allows %d per channel: open another client for the rest", id, total, MaxTopicsPerChannel)
	}
	rejected, err := c.postTopics(ctx, id, add)
	if err != nil && rejected == nil {
		return err
	}
	c.mu.Lock()
	for _, t := range add {
		if !rejected[t] {
			c.topics = append(c.topics, t)
		}
	}
	c.mu.Unlock()
	return err
}

// Close closes the socket with a normal-closure frame, waits at most
// Options.CloseWait for the server's answer, counts the expected events
// that never came as lost, and waits for the client's goroutines.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}

func (c *Client) record(ev metrics.WebSocketEvent) { c.o.Recorder.RecordWebSocket(ev) }

// dial opens the WebSocket of ch.
func (c *Client) dial(ctx context.Context, ch Channel) (*wsConn, error) {
	if g := c.o.Gate; g != nil {
		if err := g.Admit(); err != nil {
			return nil, fmt.Errorf("notify: connect channel %s: %w", ch.ID, err)
		}
	}
	ws, resp, err := c.o.Dialer.DialContext(ctx, ch.ConnectURI, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if g := c.o.Gate; g != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		g.Done(status)
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %s", errChannelGone, ch.ID)
		}
		return nil, fmt.Errorf("notify: connect channel %s: %w", ch.ID, err)
	}
	ws.SetReadLimit(c.o.ReadLimit)
	now := c.o.Now()
	w := &wsConn{c: c, ws: ws, channel: ch, done: make(chan struct{}), closing: make(chan struct{}),
		connected: now, lastBeat: now}
	c.record(metrics.WebSocketEvent{Kind: metrics.WSConnect})
	return w, nil
}

// run is the client's writer and supervisor: pings, switchovers, reconnects
// and the final close.
func (c *Client) run(cur *wsConn) {
	defer close(c.done)
	period := c.o.PingInterval
	if period < 0 {
		period = c.o.ExpectTimeout / 2
	}
	t := time.NewTicker(period)
	defer t.Stop()
	closing := cur.closing
	for cur != nil {
		select {
		case <-c.ctx.Done():
			c.closeConn(cur)
			cur = nil
		case <-closing:
			nw := c.switchover(cur)
			if nw == cur {
				closing = nil // failed: keep cur until it ends
			} else {
				cur, closing = nw, nw.closing
			}
		case <-cur.done:
			if cur = c.recover(cur); cur != nil {
				closing = cur.closing
			}
		case <-t.C:
			if c.o.PingInterval > 0 {
				c.ping(cur)
			}
			c.sweep(false)
		}
	}
	c.sweep(true)
}

var pingMsg = []byte(`{"message":"ping"}`)

func (c *Client) ping(w *wsConn) {
	w.ws.SetWriteDeadline(time.Now().Add(c.o.WriteWait))
	if err := w.ws.WriteMessage(websocket.TextMessage, pingMsg); err != nil {
		w.ws.NetConn().Close() // the reader ends; run reconnects
	}
}

// sweep counts expectations older than ExpectTimeout (all, if final) as lost.
func (c *Client) sweep(final bool) {
	now := c.o.Now()
	c.mu.Lock()
	var lost int64
	for k, e := range c.expect {
		if final || now.Sub(e.sentAt) >= c.o.ExpectTimeout {
			e.done = true
			delete(c.expect, k)
			lost++
		}
	}
	if lost > 0 {
		for t := range c.content {
			c.compact(t)
		}
	}
	c.mu.Unlock()
	if lost > 0 {
		c.record(metrics.WebSocketEvent{Kind: metrics.WSLost, N: lost})
	}
}

// closeConn closes w with a normal-closure frame and waits, at most
// CloseWait, for the server's answer, then for the reader.
func (c *Client) closeConn(w *wsConn) {
	w.byUs.Store(true)
	w.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(c.o.WriteWait))
	t := time.NewTimer(c.o.CloseWait)
	select {
	case <-w.done:
	case <-t.C:
	}
	t.Stop()
	w.ws.Close()
	<-w.done
	c.ended(w)
}

// ended records how w ended.
func (c *Client) ended(w *wsConn) {
	key := "error"
	var ce *websocket.CloseError
	switch {
	case errors.As(w.err, &ce):
		key = fmt.Sprintf("%d %s", ce.Code, ce.Text)
	case w.err != nil:
		msg := w.err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		key = "error: " + msg
	}
	c.o.Collector.closed(strings.TrimSpace(key))
	// The silence since the last heartbeat is a gap if it is long enough.
	end := c.o.Now()
	if g := c.gap(w, end); g != nil {
		c.o.Collector.gap(g)
	}
}

// gap returns the Gap between w's last heartbeat and at, or nil.
func (c *Client) gap(w *wsConn, at time.Time) *Gap {
	iv := c.o.HeartbeatInterval
	d := at.Sub(w.lastBeat)
	if float64(d) <= gapFactor*float64(iv) {
		return nil
	}
	return &Gap{Channel: w.channel.ID, From: w.lastBeat, To: at, Length: d, Missed: int((d+iv/2)/iv) - 1}
}

// switchover handles v2.system.socket_closing on old: a new channel with the
// same topics, its socket, then the old socket's close. Events sent to both
// are delivered once. When many sockets get socket_closing at once, their
// clients' channel requests meet the rate limits together: a refused
// attempt (429 or 5xx) is tried again after the larger of its Retry-After
// and Backoff.Delay, up to MaxReconnects attempts, while old keeps
// delivering. If the new channel cannot be set up, old is kept until it
// closes, and the drop path takes over.
func (c *Client) switchover(old *wsConn) *wsConn {
	start := c.o.Now() // the reader has started the dedupe
	var nw *wsConn
	for n := 0; ; n++ {
		c.chMu.Lock()
		ch, err := c.newChannel(c.ctx)
		if err == nil {
			nw, err = c.dial(c.ctx, ch)
		}
		if err == nil {
			nw.slot = 1 - old.slot
			c.mu.Lock()
			c.channel = ch
			c.mu.Unlock()
			c.chMu.Unlock()
			break
		}
		c.chMu.Unlock()
		wait, retry := c.retryDelay(err, n)
		if retry {
			t := time.NewTimer(wait)
			select {
			case <-c.ctx.Done():
				retry = false
			case <-t.C:
			}
			t.Stop()
		}
		if !retry {
			c.mu.Lock()
			c.dd = nil
			c.mu.Unlock()
			return old
		}
	}
	go nw.read()
	c.closeConn(old)
	c.mu.Lock()
	if c.dd != nil {
		c.dd.closeOn = nw // the next heartbeat or pong on nw ends the dedupe
	}
	c.mu.Unlock()
	c.o.Collector.recovered(c.o.Now().Sub(start), true)
	c.record(metrics.WebSocketEvent{Kind: metrics.WSReconnect})
	if c.o.PingInterval > 0 {
		c.ping(nw) // its pong ends the dedupe soon
	}
	return nw
}

// retryDelay says whether attempt n (0-based) of a switchover, which failed
// with err, is tried again, and after how long: only refusals the server
// expects to lift (429, 5xx), the larger of Retry-After and Backoff.Delay.
func (c *Client) retryDelay(err error, n int) (time.Duration, bool) {
	var he *HTTPError
	if n+1 >= c.o.MaxReconnects || c.ctx.Err() != nil || !errors.As(err, &he) ||
		he.Status != http.StatusTooManyRequests && he.Status < 500 {
		return 0, false
	}
	return max(he.RetryAfter, c.o.Backoff.Delay(n, c.o.Rand())), true
}

// recover handles the end of a socket the client did not close: it
// reconnects to the channel, or to a new one if the channel is gone, with
// backoff. It returns nil when the client stops.
func (c *Client) recover(old *wsConn) *wsConn {
	c.ended(old)
	if old.byUs.Load() {
		return nil
	}
	dropAt := c.o.Now()
	c.record(metrics.WebSocketEvent{Kind: metrics.WSDrop})
	needNew := old.gone.Load()
	c.mu.Lock()
	c.dd = nil
	c.mu.Unlock()
	var last error
	for n := range c.o.MaxReconnects {
		t := time.NewTimer(c.o.Backoff.Delay(n, c.o.Rand()))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if needNew {
			c.chMu.Lock()
			ch, err := c.newChannel(c.ctx)
			if err != nil {
				c.chMu.Unlock()
				last = err
				continue
			}
			c.mu.Lock()
			c.channel = ch
			c.mu.Unlock()
			c.chMu.Unlock()
			needNew = false
		}
		c.mu.Lock()
		ch := c.channel
		c.mu.Unlock()
		w, err := c.dial(c.ctx, ch)
		if errors.Is(err, errChannelGone) {
			needNew = true
		}
		if err != nil {
			last = err
			continue
		}
		c.o.Collector.recovered(c.o.Now().Sub(dropAt), false)
		c.record(metrics.WebSocketEvent{Kind: metrics.WSReconnect})
		go w.read()
		return w
	}
	if c.ctx.Err() != nil {
		return nil
	}
	c.mu.Lock()
	c.err = fmt.Errorf("notify: channel %s: gave up after %d reconnect attempts: %w", old.channel.ID, c.o.MaxReconnects, last)
	c.mu.Unlock()
	c.o.Collector.update(func(s *Stats) { s.Failures++ })
	return nil
}

// dedupe delivers an event seen on both sockets of a switchover once: per
// key (topic, correlation id, body), the count delivered is the larger of
// the two sockets' counts.
type dedupe struct {
	seen    map[uint64][2]int32
	closeOn *wsConn
}

var seed = maphash.MakeSeed()

func (d *dedupe) first(slot int, env *envelope) bool {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(env.TopicName)
	h.WriteByte(0)
	h.WriteString(env.Metadata.CorrelationID)
	h.WriteByte(0)
	h.Write(env.EventBody)
	k := h.Sum64()
	n := d.seen[k]
	n[slot]++
	d.seen[k] = n
	return n[slot] > n[1-slot]
}

// read is the reader goroutine of w.
func (w *wsConn) read() {
	defer close(w.done)
	c := w.c
	for {
		w.ws.SetReadDeadline(time.Now().Add(c.o.DeadAfter))
		_, data, err := w.ws.ReadMessage()
		if err != nil {
			w.err = err
			w.ws.Close()
			return
		}
		now := c.o.Now()
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			c.o.Collector.update(func(s *Stats) { s.Unparsable++ })
			continue
		}
		switch {
		case env.TopicName == "channel.metadata":
			var m struct {
				Message string `json:"message"`
			}
			json.Unmarshal(env.EventBody, &m)
			switch m.Message {
			case "WebSocket Heartbeat":
				g := c.gap(w, now)
				length := now.Sub(w.lastBeat)
				w.lastBeat = now
				if g != nil {
					c.o.Collector.gap(g)
				}
				c.record(metrics.WebSocketEvent{Kind: metrics.WSHeartbeat, Gap: length})
			case "pong":
				c.o.Collector.update(func(s *Stats) { s.Pongs++ })
			}
			c.endDedupe(w)
		case env.TopicName == "v2.system.socket_closing":
			c.o.Collector.update(func(s *Stats) { s.SocketClosings++ })
			// Dedupe from here on, before reading on: everything after
			// this on w may also come on the new channel.
			c.mu.Lock()
			if c.dd == nil || c.dd.closeOn != nil { // none, or a finished switchover's
				c.dd = &dedupe{seen: make(map[uint64][2]int32)}
			}
			c.mu.Unlock()
			w.once.Do(func() { close(w.closing) })
		case strings.HasPrefix(env.TopicName, "v2.system.no_longer_subscribed"):
			c.o.Collector.update(func(s *Stats) { s.Evictions++ })
			w.gone.Store(true)
		case strings.HasPrefix(env.TopicName, "v2.system."):
			// token_revoked and others: nothing to deliver.
		default:
			c.deliver(w, &env, now)
		}
	}
}

func (c *Client) endDedupe(w *wsConn) {
	c.mu.Lock()
	if c.dd != nil && c.dd.closeOn == w {
		c.dd = nil
	}
	c.mu.Unlock()
}

// deliver counts, dedupes and matches one event.
func (c *Client) deliver(w *wsConn, env *envelope, now time.Time) {
	corr := env.Metadata.CorrelationID
	c.mu.Lock()
	if c.dd != nil && !c.dd.first(w.slot, env) {
		c.mu.Unlock()
		c.o.Collector.update(func(s *Stats) { s.Duplicates++ })
		return
	}
	var sentAt time.Time
	matched, byContent := false, false
	if corr != "" && len(c.expect) > 0 {
		for _, k := range [2]string{env.TopicName + "\x00" + corr, "\x00" + corr} {
			if e, ok := c.expect[k]; ok {
				sentAt, matched = e.sentAt, true
				e.done = true
				delete(c.expect, k)
				if e.content != "" {
					c.compact(e.topic)
				}
				break
			}
		}
	}
	if !matched && len(c.content[env.TopicName]) > 0 {
		if e := c.byContent(env.TopicName, ContentOf(env.TopicName, env.EventBody)); e != nil {
			sentAt, matched, byContent = e.sentAt, true, true
		}
	}
	c.mu.Unlock()
	if byContent {
		c.o.Collector.update(func(s *Stats) { s.MatchedByContent++ })
	}
	lat := now.Sub(sentAt)
	c.o.Collector.event(env.TopicName)
	if matched {
		c.record(metrics.WebSocketEvent{Kind: metrics.WSEvent, PushLatency: lat})
	}
	if c.o.OnEvent != nil {
		c.o.OnEvent(Event{TopicName: env.TopicName, Version: env.Version, EventBody: env.EventBody,
			CorrelationID: corr, Channel: w.channel.ID, Received: now})
	}
}
