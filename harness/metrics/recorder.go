package metrics

import (
	"context"
	"time"
)

// Option configures a Recorder.
type Option func(*config)

type config struct {
	now      func() time.Time
	scenario string
	shard    string
	labels   map[string]string
	target   Target
	interval time.Duration
}

// WithNow sets the clock (default time.Now).
func WithNow(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithScenario sets Document.Scenario.
func WithScenario(name string) Option { return func(c *config) { c.scenario = name } }

// WithShard sets Document.Shard, e.g. "1/4".
func WithShard(shard string) Option { return func(c *config) { c.shard = shard } }

// WithLabels sets Document.Labels.
func WithLabels(labels map[string]string) Option { return func(c *config) { c.labels = labels } }

// WithTarget sets Document.Target.
func WithTarget(kind, region string) Option {
	return func(c *config) { c.target = Target{Kind: kind, Region: region} }
}

// Recorder aggregates Results. It is safe for concurrent use.
type Recorder struct {
	cfg config
}

// NewRecorder returns a Recorder whose clock starts now.
func NewRecorder(opts ...Option) *Recorder {
	r := &Recorder{}
	for _, o := range opts {
		o(&r.cfg)
	}
	return r
}

// Record adds one result.
func (r *Recorder) Record(res *Result) {}

// Snapshot returns the document so far.
func (r *Recorder) Snapshot() *Document { return &Document{Schema: SchemaVersion} }

// Progress logs one progress line every interval until ctx ends.
func (r *Recorder) Progress(ctx context.Context, interval time.Duration, logf func(format string, args ...any), activeAgents func() int) {
}

// WSEventKind is the kind of a notification-channel event.
type WSEventKind uint8

// Kinds of WSEvent.
const (
	WSConnect   WSEventKind = iota + 1 // a socket connected
	WSHeartbeat                        // a heartbeat arrived; Gap is the time since the previous one
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
	N           int64         // WSLost (default 1)
}

// RecordWebSocket adds one notification-channel observation.
func (r *Recorder) RecordWebSocket(ev WebSocketEvent) {}
