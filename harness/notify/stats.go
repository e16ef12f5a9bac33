package notify

import (
	"errors"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/cxload/cxload/harness/metrics"
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

// Stats is a snapshot of a Collector. The figures marked "recorder" are
// those of the result document, read from the Collector's Recorder; the
// others are the Collector's own.
type Stats struct {
	Connects         int64            // recorder: sockets opened, first ones and reconnects
	Heartbeats       int64            // recorder: heartbeats received
	MissedHeartbeats int64            // heartbeats missing in gaps (sum of Gap.Missed)
	MaxHeartbeatGap  time.Duration    // recorder: the longest time between two heartbeats (or the connect and the first)
	Gaps             []Gap            // the first MaxGaps gaps, the silence before a socket's end included
	Drops            int64            // recorder: sockets that ended without the client closing them
	Reconnects       int64            // recorder: sockets replaced after a drop or a socket_closing
	Switchovers      int64            // socket_closing handled by a switch to a new channel
	SocketClosings   int64            // v2.system.socket_closing received
	Evictions        int64            // v2.system.no_longer_subscribed received
	Events           int64            // events delivered (heartbeats, pongs, system topics and duplicates excluded)
	Duplicates       int64            // events received on both sockets during a switchover, delivered once
	Expected         int64            // Expect calls
	Matched          int64            // recorder: expected events that arrived
	MatchedByContent int64            // of Matched, those matched by content, their correlation id not echoed
	Lost             int64            // recorder: expected events that did not arrive within the expect timeout, or before Close
	Pongs            int64            // answers to the client's pings
	Failures         int64            // clients that gave up reconnecting
	Unparsable       int64            // messages that were not a JSON envelope
	Closes           map[string]int64 // how sockets ended: "1000 reason", "1006 ...", "error: i/o timeout"
	EventsPerTopic   map[string]int64

	MaxRecoverTime time.Duration // the longest time from a drop or socket_closing to the replacement socket

	PushLatency Summary // recorder: Expect's sentAt to the event's arrival
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

// Collector gathers what the clients of a run see. The figures that go into
// the result document (connects, heartbeats, drops, reconnects, matched
// events with their push latency, lost events) are aggregated once, by the
// Collector's Recorder: the first Options.Recorder a client gives it, or a
// recorder of its own if the first client has none. The Collector itself
// counts only what the document does not hold: gaps, closes, topics,
// switchovers, evictions and the like. Share one Collector, and one
// Recorder, between the clients of a run. Safe for concurrent use.
type Collector struct {
	mu  sync.Mutex
	s   Stats
	rec *metrics.Recorder
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector { return &Collector{} }

// use sets c's Recorder to rec, or to one of c's own when rec is nil and c
// has none yet. A Collector reads one recorder: another one is an error.
func (c *Collector) use(rec *metrics.Recorder) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.rec == nil && rec == nil:
		c.rec = metrics.NewRecorder()
	case c.rec == nil:
		c.rec = rec
	case rec != nil && rec != c.rec:
		return errors.New("notify: Options.Recorder is not the Recorder of Options.Collector's other clients: share one Recorder between the clients of a Collector")
	}
	return nil
}

// recorder returns c's Recorder, nil until a client used c.
func (c *Collector) recorder() *metrics.Recorder {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec
}

// Stats returns a snapshot.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	s := c.s
	s.Gaps = append([]Gap(nil), c.s.Gaps...)
	s.Closes = maps.Clone(c.s.Closes)
	s.EventsPerTopic = maps.Clone(c.s.EventsPerTopic)
	rec := c.rec
	c.mu.Unlock()
	if rec == nil {
		return s
	}
	if ws := rec.WebSocket(); ws != nil {
		s.Connects, s.Heartbeats = ws.Connects, ws.Heartbeats
		s.MaxHeartbeatGap = time.Duration(ws.MaxHeartbeatGapMs * float64(time.Millisecond))
		s.Drops, s.Reconnects, s.Matched, s.Lost = ws.Drops, ws.Reconnects, ws.Events, ws.Lost
		s.PushLatency = summarize(ws.PushLatency)
	}
	return s
}

func summarize(h result.Histogram) Summary {
	if h.Count() == 0 {
		return Summary{}
	}
	return Summary{Count: h.Count(), Min: h.Min(), Mean: h.Mean(), P50: h.Percentile(50), P99: h.Percentile(99), Max: h.Max()}
}

func (c *Collector) update(f func(s *Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

// gap records a missed heartbeat.
func (c *Collector) gap(g *Gap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.MissedHeartbeats += int64(g.Missed)
	if len(c.s.Gaps) < MaxGaps {
		c.s.Gaps = append(c.s.Gaps, *g)
	}
}

// event counts a delivered event.
func (c *Collector) event(topic string) {
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
}

// recovered records a socket replaced after d, by a switchover or after a drop.
func (c *Collector) recovered(d time.Duration, switchover bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if switchover {
		c.s.Switchovers++
	}
	c.s.MaxRecoverTime = max(c.s.MaxRecoverTime, d)
}

func (c *Collector) closed(key string) {
	c.mu.Lock()
	if c.s.Closes == nil {
		c.s.Closes = make(map[string]int64)
	}
	c.s.Closes[key]++
	c.mu.Unlock()
}
