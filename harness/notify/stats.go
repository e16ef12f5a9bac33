package notify

import (
	"maps"
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cxload/cxload/harness/result"
)

// Bounds of a Collector's detail, so that a long run with many clients keeps
// a fixed size.
const (
	// MaxGaps is how many heartbeat gaps a Collector keeps with their
	// timestamps; later ones are only counted.
	MaxGaps = 100
	// maxTopicKeys caps EventsPerTopic; further topics count under
	// OtherTopics.
	maxTopicKeys = 10000
	// OtherTopics is the EventsPerTopic key of topics beyond the cap.
	OtherTopics = "(other topics)"

	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
)

// Gap is a missed heartbeat: two heartbeats (or the connect and the first
// heartbeat, or the last heartbeat and the socket's end) further apart than
// 1.5 heartbeat intervals.
type Gap struct {
	Channel string        `json:"channel"`
	From    time.Time     `json:"from"`   // the previous heartbeat, or the connect
	To      time.Time     `json:"to"`     // the heartbeat that ended the gap, or the socket's end
	Length  time.Duration `json:"length"` // To - From
	Missed  int           `json:"missed"` // heartbeats that should have come in between
}

// Summary describes a distribution of durations.
type Summary struct {
	Count                    int64
	Min, Mean, P50, P99, Max time.Duration
}

// Stats is a snapshot of a Collector. WebSocket maps it onto the websocket
// part of the result document.
type Stats struct {
	Connects         int64 // sockets opened, first ones and reconnects
	Heartbeats       int64 // heartbeats received
	MissedHeartbeats int64 // heartbeats missing in gaps (sum of Gap.Missed)
	MaxHeartbeatGap  time.Duration
	Gaps             []Gap            // the first MaxGaps gaps
	Drops            int64            // sockets that ended without the client closing them
	Reconnects       int64            // sockets replaced after a drop or a socket_closing
	Switchovers      int64            // socket_closing handled by a switch to a new channel
	SocketClosings   int64            // v2.system.socket_closing received
	Evictions        int64            // v2.system.no_longer_subscribed received
	Events           int64            // events delivered (heartbeats, pongs, system topics and duplicates excluded)
	Duplicates       int64            // events received on both sockets during a switchover, delivered once
	Expected         int64            // Expect calls
	Matched          int64            // expected events that arrived
	Lost             int64            // expected events that did not arrive within the expect timeout, or before Close
	Pongs            int64            // answers to the client's pings
	Failures         int64            // clients that gave up reconnecting
	Unparsable       int64            // messages that were not a JSON envelope
	Closes           map[string]int64 // how sockets ended: "1000 reason", "1006 ...", "error: i/o timeout"
	EventsPerTopic   map[string]int64

	ConnectTime Summary // dial to open socket
	PingRTT     Summary // ping to pong
	PushLatency Summary // Expect's sentAt to the event's arrival
	RecoverTime Summary // drop or socket_closing to the replacement socket

	push *hdr.Histogram
}

// WebSocket returns s as the websocket part of a cxload.result/v1 document.
// Its events count every delivered event; its push latency holds only the
// expected (matched) ones.
func (s Stats) WebSocket() result.WebSocketStats {
	ws := result.WebSocketStats{
		Connects:          s.Connects,
		Heartbeats:        s.Heartbeats,
		MaxHeartbeatGapMs: float64(s.MaxHeartbeatGap) / float64(time.Millisecond),
		Drops:             s.Drops,
		Reconnects:        s.Reconnects,
		Events:            s.Events,
		Lost:              s.Lost,
	}
	h := s.push
	if h == nil {
		h = hdr.New(1, histHighest, histDigits)
	}
	if b, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
		ws.PushLatency = result.Histogram{Encoding: result.HistogramEncoding, Unit: result.HistogramUnit,
			Data: string(b)} // Encode already returns base64 ("HISTF...")
	}
	return ws
}

// Topics returns the topics of EventsPerTopic, sorted.
func (s Stats) Topics() []string {
	out := make([]string, 0, len(s.EventsPerTopic))
	for t := range s.EventsPerTopic {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Collector aggregates the measurements of one or many clients. Share one
// Collector between the clients of a run: its histograms are the only large
// part, and a Client holds none of its own. Safe for concurrent use.
type Collector struct {
	mu                           sync.Mutex
	s                            Stats
	connect, ping, push, recover *hdr.Histogram
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector { return &Collector{} }

// Stats returns a snapshot.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Gaps = append([]Gap(nil), c.s.Gaps...)
	s.Closes = maps.Clone(c.s.Closes)
	s.EventsPerTopic = maps.Clone(c.s.EventsPerTopic)
	s.ConnectTime = summarize(c.connect)
	s.PingRTT = summarize(c.ping)
	s.PushLatency = summarize(c.push)
	s.RecoverTime = summarize(c.recover)
	if c.push != nil {
		s.push = hdr.Import(c.push.Export())
	}
	return s
}

func summarize(h *hdr.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Summary{Count: h.TotalCount(), Min: us(h.Min()), Mean: time.Duration(h.Mean() * float64(time.Microsecond)),
		P50: us(h.ValueAtQuantile(50)), P99: us(h.ValueAtQuantile(99)), Max: us(h.Max())}
}

func record(h **hdr.Histogram, d time.Duration) {
	if *h == nil {
		*h = hdr.New(1, histHighest, histDigits)
	}
	v := int64(d / time.Microsecond)
	(*h).RecordValue(min(max(v, 0), histHighest))
}

func (c *Collector) update(f func(s *Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *Collector) connected(d time.Duration) {
	c.mu.Lock()
	c.s.Connects++
	record(&c.connect, d)
	c.mu.Unlock()
}

// heartbeat records a heartbeat that arrived length after the previous one
// (arrived), or the silence before a socket's end (!arrived); g is the gap,
// if length made one.
func (c *Collector) heartbeat(arrived bool, length time.Duration, g *Gap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if arrived {
		c.s.Heartbeats++
	}
	if (arrived || g != nil) && length > c.s.MaxHeartbeatGap {
		c.s.MaxHeartbeatGap = length
	}
	if g != nil {
		c.s.MissedHeartbeats += int64(g.Missed)
		if len(c.s.Gaps) < MaxGaps {
			c.s.Gaps = append(c.s.Gaps, *g)
		}
	}
}

func (c *Collector) event(topic string, matched bool, latency time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Events++
	if c.s.EventsPerTopic == nil {
		c.s.EventsPerTopic = make(map[string]int64)
	}
	if _, ok := c.s.EventsPerTopic[topic]; !ok && len(c.s.EventsPerTopic) >= maxTopicKeys {
		topic = OtherTopics
	}
	c.s.EventsPerTopic[topic]++
	if matched {
		c.s.Matched++
		record(&c.push, latency)
	}
}

func (c *Collector) pong(rtt time.Duration, measured bool) {
	c.mu.Lock()
	c.s.Pongs++
	if measured {
		record(&c.ping, rtt)
	}
	c.mu.Unlock()
}

func (c *Collector) closed(key string) {
	c.mu.Lock()
	if c.s.Closes == nil {
		c.s.Closes = make(map[string]int64)
	}
	c.s.Closes[key]++
	c.mu.Unlock()
}

func (c *Collector) reconnected(recover time.Duration, switchover bool) {
	c.mu.Lock()
	c.s.Reconnects++
	if switchover {
		c.s.Switchovers++
	}
	record(&c.recover, recover)
	c.mu.Unlock()
}
