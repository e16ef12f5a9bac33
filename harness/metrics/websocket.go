package metrics

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cxload/cxload/harness/result"
)

// WSEventKind is the kind of a notification-channel event.
type WSEventKind uint8

// Kinds of WebSocketEvent.
const (
	WSConnect   WSEventKind = iota + 1 // a socket connected
	WSHeartbeat                        // a heartbeat arrived; Gap is the time since the previous one (or since connect)
	WSDrop                             // a socket closed unexpectedly
	WSReconnect                        // a socket was replaced after a drop or socket_closing
	WSEvent                            // an event arrived; PushLatency is publish-to-receive
	WSLost                             // N events were expected and never arrived
)

// WebSocketEvent is one notification-channel observation.
type WebSocketEvent struct {
	Kind        WSEventKind
	Gap         time.Duration // WSHeartbeat
	PushLatency time.Duration // WSEvent
	N           int64         // WSLost (0 counts as 1)
}

type wsAgg struct {
	seen                                          bool
	connects, heartbeats, drops, reconnects, lost int64
	events                                        int64
	maxGap                                        time.Duration
	push                                          *hdr.Histogram
}

// RecordWebSocket adds one notification-channel observation. It takes one
// lock shared by all notification events; they are far rarer than requests.
func (r *Recorder) RecordWebSocket(ev WebSocketEvent) {
	r.wsMu.Lock()
	defer r.wsMu.Unlock()
	w := &r.ws
	w.seen = true
	switch ev.Kind {
	case WSConnect:
		w.connects++
	case WSHeartbeat:
		w.heartbeats++
		w.maxGap = max(w.maxGap, ev.Gap)
	case WSDrop:
		w.drops++
	case WSReconnect:
		w.reconnects++
	case WSEvent:
		w.events++
		if w.push == nil {
			w.push = result.NewHDR()
		}
		_ = w.push.RecordValue(result.Micros(ev.PushLatency))
	case WSLost:
		w.lost += max(ev.N, 1)
	}
}

// WebSocket returns the notification-channel figures recorded so far, as in
// Snapshot's document but with the push latency histogram not encoded; nil
// if RecordWebSocket was never called.
func (r *Recorder) WebSocket() *result.WebSocketStats { return r.webSocket(result.Unencoded) }

func (r *Recorder) webSocket(enc func(*hdr.Histogram) result.Histogram) *result.WebSocketStats {
	r.wsMu.Lock()
	defer r.wsMu.Unlock()
	w := &r.ws
	if !w.seen {
		return nil
	}
	var wp *hdr.Histogram
	if w.push != nil {
		wp = w.push.Clone() // w.push keeps changing after the lock is released
	}
	return &result.WebSocketStats{
		Connects: w.connects, Heartbeats: w.heartbeats,
		MaxHeartbeatGapMs: float64(w.maxGap) / float64(time.Millisecond),
		Drops:             w.drops, Reconnects: w.reconnects, Events: w.events, Lost: w.lost,
		PushLatency: enc(wp),
	}
}
