package gcsim

import (
	"time"
)

// Queue observations: the figures of POST
// /api/v2/analytics/queues/observations/query and the
// v2.analytics.queues.{id}.observations events, both computed from the
// routing model.

// ObservationInterval is the shortest time between two
// v2.analytics.queues.{id}.observations events of one queue: changes within
// it are sent together, as one event with the figures at its end, so that
// 50 calls a second do not flood the channels. Genesys does not document
// its own pace (unconfirmed).
const ObservationInterval = time.Second

// queueFigures are a queue's observations at one instant.
type queueFigures struct {
	waiting, alerting, interacting int
	onQueue                        map[string]int // joined members On Queue, by routing status
}

// figuresLocked counts queue q's calls and members; o.convMu must be held.
func (s *Server) figuresLocked(q *Queue) queueFigures {
	f := queueFigures{waiting: len(s.state.acd.waiting[q.index]), onQueue: map[string]int{}}
	for _, conv := range s.state.convs {
		if conv.QueueID != q.ID || conv.ended() {
			continue
		}
		for _, p := range conv.parts {
			if p.Purpose == "agent" && p.State == "alerting" {
				f.alerting++
			} else if p.Purpose == "agent" && p.State == "connected" {
				f.interacting++
			}
		}
	}
	for i := q.index; i < len(s.dir.users); i += len(s.dir.queues) {
		if a := &s.state.acd.agents[i]; a.onQueue && a.joined {
			f.onQueue[routingStatusOf(a)]++
		}
	}
	return f
}

// observationDatum is one metric of QueueObservationQueryResponse's data
// (QueueObservationDataContainer) and of the event's metrics
// (StatEventQueueTopicMetricStats).
type observationDatum struct {
	Metric    string         `json:"metric"`
	Qualifier string         `json:"qualifier,omitempty"`
	Stats     map[string]int `json:"stats"`
}

// metrics lists the figures as oWaiting, oAlerting, oInteracting and
// oOnQueueUsers (one per routing status but OFF_QUEUE), keeping those that
// want names (all when want is empty).
func (f queueFigures) metrics(want map[string]bool) []observationDatum {
	out := []observationDatum{}
	add := func(metric, qual string, n int) {
		if len(want) == 0 || want[metric] {
			out = append(out, observationDatum{Metric: metric, Qualifier: qual, Stats: map[string]int{"count": n}})
		}
	}
	add("oWaiting", "", f.waiting)
	add("oAlerting", "", f.alerting)
	add("oInteracting", "", f.interacting)
	for _, st := range routingStatuses[1:] {
		add("oOnQueueUsers", st, f.onQueue[st])
	}
	return out
}

func (f queueFigures) equal(g queueFigures) bool {
	if f.waiting != g.waiting || f.alerting != g.alerting || f.interacting != g.interacting || len(f.onQueue) != len(g.onQueue) {
		return false
	}
	for k, v := range f.onQueue {
		if g.onQueue[k] != v {
			return false
		}
	}
	return true
}

// observationEvent is the SDK's StatEventQueueTopicStatsNotification.
type observationEvent struct {
	Group map[string]string     `json:"group"`
	Data  []observationInterval `json:"data"`
}

// observationInterval is StatEventQueueTopicIntervalMetrics. An
// observation is an instant: its interval starts and ends then (the form
// Genesys uses for it is unconfirmed).
type observationInterval struct {
	Interval string             `json:"interval"`
	Metrics  []observationDatum `json:"metrics"`
}

// observationsState tracks the observations events; guarded by
// orgState.convMu.
type observationsState struct {
	sent   []queueFigures      // by queue index: the figures of the last event
	timers map[int]*time.Timer // by queue index: the pending event's timer
}

// observeLocked notes that the figures of the queue with id queueID may
// have changed: unless one is pending, an event is scheduled for
// ObservationInterval from now. o.convMu must be held.
func (s *Server) observeLocked(queueID string) {
	q := s.dir.queueByID[queueID]
	o := &s.state.acd
	if q == nil || o.closed {
		return
	}
	obs := &o.obs
	if obs.sent == nil {
		obs.sent, obs.timers = make([]queueFigures, len(s.dir.queues)), map[int]*time.Timer{}
	}
	if obs.timers[q.index] == nil {
		obs.timers[q.index] = o.afterFunc(ObservationInterval, func() { s.sendObservations(q) })
	}
}

// sendObservations publishes queue q's observations if they differ from
// the last ones sent and somebody subscribes to them.
func (s *Server) sendObservations(q *Queue) {
	topic := "v2.analytics.queues." + q.ID + ".observations"
	o := &s.state.acd
	s.state.convMu.Lock()
	delete(o.obs.timers, q.index)
	if o.closed || !s.hub.Subscribed(topic) {
		s.state.convMu.Unlock()
		return
	}
	f := s.figuresLocked(q)
	same := f.equal(o.obs.sent[q.index])
	o.obs.sent[q.index] = f
	s.state.convMu.Unlock()
	if same {
		return
	}
	at := s.now().UTC().Format(isoMillis)
	s.hub.Publish(topic, observationEvent{Group: map[string]string{"queueId": q.ID, "mediaType": "voice"},
		Data: []observationInterval{{Interval: at + "/" + at, Metrics: f.metrics(nil)}}}, newCorrelationID())
}
