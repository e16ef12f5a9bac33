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

// figuresLocked counts the calls and members of queues in one pass over
// the conversations; o.convMu must be held.
func (s *Server) figuresLocked(queues []*Queue) []queueFigures {
	out := make([]queueFigures, len(queues))
	at := make(map[string]int, len(queues))
	var dups [][2]int // a queue named again: its index and its first one's
	for k, q := range queues {
		if first, dup := at[q.ID]; dup {
			dups = append(dups, [2]int{k, first})
			continue
		}
		out[k] = queueFigures{waiting: len(s.state.acd.waiting[q.index]), onQueue: map[string]int{}}
		at[q.ID] = k
		for i := q.index; i < len(s.dir.users); i += len(s.dir.queues) {
			if a := &s.state.acd.agents[i]; a.onQueue && a.joined {
				out[k].onQueue[s.routingStatus(a)]++
			}
		}
	}
	for _, conv := range s.state.convs {
		k, ok := at[conv.QueueID]
		if !ok || conv.ended() {
			continue
		}
		for _, p := range conv.parts {
			if p.Purpose == "agent" && p.State == "alerting" {
				out[k].alerting++
			} else if p.Purpose == "agent" && p.State == "connected" {
				out[k].interacting++
			}
		}
	}
	for _, d := range dups {
		out[d[0]] = out[d[1]]
	}
	return out
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
	sent    []queueFigures // by queue index: the figures of the last event
	pending map[int]bool   // queue indexes whose figures may have changed
	timer   *time.Timer    // sends the pending queues' events
}

// observeLocked notes that the figures of the queue with id queueID may
// have changed. Unless a send is already scheduled, the pending queues'
// events are sent ObservationInterval from now. o.convMu must be held.
func (s *Server) observeLocked(queueID string) {
	q := s.dir.queueByID[queueID]
	o := &s.state.acd
	if q == nil || o.closed {
		return
	}
	obs := &o.obs
	if obs.sent == nil {
		obs.sent, obs.pending = make([]queueFigures, len(s.dir.queues)), map[int]bool{}
	}
	obs.pending[q.index] = true
	if obs.timer == nil {
		obs.timer = o.afterFunc(ObservationInterval, s.sendObservations)
	}
}

// sendObservations publishes the observations of each pending queue that a
// channel subscribes to, if they differ from the last ones sent.
func (s *Server) sendObservations() {
	o := &s.state.acd
	s.state.convMu.Lock()
	o.obs.timer = nil
	if o.closed {
		s.state.convMu.Unlock()
		return
	}
	var queues []*Queue
	for i := range o.obs.pending {
		if q := &s.dir.queues[i]; s.hub.Subscribed(observationsTopic(q)) {
			queues = append(queues, q)
		}
	}
	clear(o.obs.pending)
	var send []*Queue
	var figs []queueFigures
	for k, f := range s.figuresLocked(queues) {
		q := queues[k]
		if !f.equal(o.obs.sent[q.index]) {
			o.obs.sent[q.index] = f
			send, figs = append(send, q), append(figs, f)
		}
	}
	s.state.convMu.Unlock()
	at := s.now().UTC().Format(isoMillis)
	for k, q := range send {
		s.hub.Publish(observationsTopic(q), observationEvent{Group: map[string]string{"queueId": q.ID, "mediaType": "voice"},
			Data: []observationInterval{{Interval: at + "/" + at, Metrics: figs[k].metrics(nil)}}}, newCorrelationID())
	}
}

func observationsTopic(q *Queue) string { return "v2.analytics.queues." + q.ID + ".observations" }
