package gcsim

import (
	"fmt"
	"strings"
	"time"
)

// The call model: a conversation, its participants and their media (one
// call each), the segments analytics reports, and the bodies Genesys' SDK
// defines for them (field names from harness/gcsim/testdata/sdk-models.json).

// conversation is a call; guarded by orgState.convMu.
type conversation struct {
	ID             string
	QueueID        string // the ACD queue of an inbound call
	Direction      string // inbound (ACD) or outbound (POST /api/v2/conversations/calls)
	RecordingState string // active, paused or none
	Start, End     time.Time
	parts          []*participant

	queued   bool   // waiting in its queue, not offered
	answered bool   // an agent connected once
	queuedIn string // the queue queueSeq is a place in
	queueSeq uint64 // its place in queuedIn: calls are offered in entry order
	patience *time.Timer
}

// participant is one party of a call and its media.
type participant struct {
	ID, CallID      string
	Purpose         string // customer, acd, agent, user, external
	UserID, QueueID string
	Name, Address   string
	State, Initial  string // alerting, connected, disconnected
	Direction       string
	Held, Muted     bool
	DisconnectType  string
	Start, Alerting time.Time
	Connected, End  time.Time
	HoldStart       time.Time
	AlertingTimeout time.Duration
	WrapupRequired  bool
	Wrapup          *wrapupRec
	AcwStart        time.Time
	AcwEnd          time.Time
	timer           *time.Timer // alert timeout, then after-call work timeout
	segs            []segment
}

// segment is an analytics segment: alert, interact, hold, wrapup.
type segment struct {
	Type       string
	Start, End time.Time
}

type wrapupRec struct {
	Code, Name, Notes string
	Duration          int
	EndTime           time.Time
}

func (s *Server) addParticipant(conv *conversation, purpose string, now time.Time) *participant {
	n := s.state.partSeq.Add(1)
	p := &participant{ID: fmt.Sprintf("00000000-0000-4000-d000-%012x", n), CallID: fmt.Sprintf("00000000-0000-4000-e000-%012x", n),
		Purpose: purpose, Start: now}
	conv.parts = append(conv.parts, p)
	return p
}

func (c *conversation) participant(id string) *participant {
	if c == nil {
		return nil
	}
	for _, p := range c.parts {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (c *conversation) ended() bool { return !c.End.IsZero() }

func (c *conversation) stopTimers() {
	if c.patience != nil {
		c.patience.Stop()
	}
	for _, p := range c.parts {
		if p.timer != nil {
			p.timer.Stop()
		}
	}
}

// segment closes the open segment and opens one of type t.
func (p *participant) segment(t string, now time.Time) {
	p.closeSegment(now)
	p.segs = append(p.segs, segment{Type: t, Start: now})
}

func (p *participant) closeSegment(now time.Time) {
	if n := len(p.segs); n > 0 && p.segs[n-1].End.IsZero() {
		p.segs[n-1].End = now
	}
}

func (p *participant) disconnect(now time.Time, why string) {
	p.State, p.End, p.DisconnectType, p.Held = "disconnected", now, why, false
	p.closeSegment(now)
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// endLocked disconnects every participant still on conv (why for the
// customer, "peer" for the others unless already set) and starts the
// agents' after-call work.
func (s *Server) endLocked(conv *conversation, now time.Time, why string, ev *events) {
	if conv.patience != nil {
		conv.patience.Stop()
	}
	conv.queued = false
	for _, p := range conv.parts {
		if p.State == "disconnected" {
			continue
		}
		was := p.State
		reason := "peer"
		if p.Purpose == "customer" {
			reason = why
		}
		p.disconnect(now, reason)
		s.agentLeftLocked(conv, p, was, now, ev)
	}
	conv.End = now
	s.conversationEventsLocked(conv, ev)
}

// agentLeftLocked updates an agent or user whose participant p left a call
// in state was: an answered ACD call goes to after-call work, an offer or
// a wrapped-up call frees the agent.
func (s *Server) agentLeftLocked(conv *conversation, p *participant, was string, now time.Time, ev *events) {
	i := s.userIndex(p.UserID)
	if i < 0 {
		return
	}
	a := &s.state.acd.agents[i]
	switch {
	case p.Purpose == "user":
		if was == "connected" {
			a.direct--
		}
	case was == "connected" && p.Wrapup == nil:
		p.WrapupRequired, p.AcwStart = true, now
		p.segment("wrapup", now)
		id, pid := conv.ID, p.ID
		p.timer = time.AfterFunc(s.profile.ACD.wrapupTimeout(), func() { s.wrapupTimedOut(id, pid) })
		return
	default:
		a.acd--
		if was == "alerting" {
			a.alerting--
		}
		if was == "connected" {
			a.lastHandled = now // wrapped up before hanging up: no after-call work
		}
	}
	if s.refreshLocked(i, now, ev) {
		if q := s.queueIndexOf(i); q >= 0 {
			s.dispatchLocked(q, now, ev)
		}
	}
}

// wrapupTimedOut ends after-call work the agent did not end.
func (s *Server) wrapupTimedOut(convID, partID string) {
	ev := &events{corr: newCorrelationID()}
	s.state.convMu.Lock()
	p := s.state.convs[convID].participant(partID)
	if !s.state.acd.closed && p != nil && p.WrapupRequired && p.Wrapup == nil {
		s.endAcwLocked(s.state.convs[convID], p, s.now(), ev)
	}
	s.state.convMu.Unlock()
	s.publish(ev)
}

// endAcwLocked ends p's after-call work and frees its agent.
func (s *Server) endAcwLocked(conv *conversation, p *participant, now time.Time, ev *events) {
	p.AcwEnd = now
	p.closeSegment(now)
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if i := s.userIndex(p.UserID); i >= 0 {
		s.state.acd.agents[i].acd--
		s.state.acd.agents[i].lastHandled = now
		s.conversationEventsLocked(conv, ev)
		if s.refreshLocked(i, now, ev) {
			if q := s.queueIndexOf(i); q >= 0 {
				s.dispatchLocked(q, now, ev)
			}
		}
	}
}

func isoOr(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(isoMillis)
}

// refJSON is the SDK's DomainEntityRef (selfUri empty in events, whose
// UriReference has only id and name).
type refJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	SelfURI string `json:"selfUri,omitempty"`
}

type wrapupJSON struct {
	Code            string `json:"code"`
	Name            string `json:"name,omitempty"` // Wrapup only, not in events
	Notes           string `json:"notes,omitempty"`
	DurationSeconds int    `json:"durationSeconds,omitempty"`
	EndTime         string `json:"endTime,omitempty"`
}

// mediaParticipantJSON is the SDK's CallMediaParticipant (GET
// /conversations/calls/{id}) and, with event set, its event form
// ConversationCallEventTopicCallMediaParticipant (initialState instead of
// startAlertingTime).
type mediaParticipantJSON struct {
	ID                string      `json:"id"`
	Name              string      `json:"name,omitempty"`
	Address           string      `json:"address,omitempty"`
	StartTime         string      `json:"startTime,omitempty"`
	StartAlertingTime string      `json:"startAlertingTime,omitempty"`
	ConnectedTime     string      `json:"connectedTime,omitempty"`
	EndTime           string      `json:"endTime,omitempty"`
	StartHoldTime     string      `json:"startHoldTime,omitempty"`
	Purpose           string      `json:"purpose"`
	State             string      `json:"state"`
	InitialState      string      `json:"initialState,omitempty"`
	Direction         string      `json:"direction,omitempty"`
	DisconnectType    string      `json:"disconnectType,omitempty"`
	Held              bool        `json:"held"`
	WrapupRequired    bool        `json:"wrapupRequired"`
	User              *refJSON    `json:"user,omitempty"`
	Queue             *refJSON    `json:"queue,omitempty"`
	WrapupTimeoutMs   int64       `json:"wrapupTimeoutMs,omitempty"`
	AlertingTimeoutMs int64       `json:"alertingTimeoutMs,omitempty"`
	Wrapup            *wrapupJSON `json:"wrapup,omitempty"`
	StartAcwTime      string      `json:"startAcwTime,omitempty"`
	EndAcwTime        string      `json:"endAcwTime,omitempty"`
	Muted             bool        `json:"muted"`
	Confined          bool        `json:"confined"`
	Recording         bool        `json:"recording"`
	RecordingState    string      `json:"recordingState"`
}

// callConversationJSON is the SDK's CallConversation and, with event set,
// ConversationCallEventTopicCallConversation (no selfUri).
type callConversationJSON struct {
	ID             string                 `json:"id"`
	Name           string                 `json:"name,omitempty"`
	Participants   []mediaParticipantJSON `json:"participants"`
	RecordingState string                 `json:"recordingState"`
	SecurePause    bool                   `json:"securePause"`
	SelfURI        string                 `json:"selfUri,omitempty"`
}

func (s *Server) callJSON(conv *conversation, event bool) callConversationJSON {
	out := callConversationJSON{ID: conv.ID, RecordingState: conv.RecordingState, Participants: make([]mediaParticipantJSON, 0, len(conv.parts))}
	if !event {
		out.SelfURI = "/api/v2/conversations/calls/" + conv.ID
	}
	for _, p := range conv.parts {
		m := mediaParticipantJSON{ID: p.ID, Name: p.Name, Address: p.Address, StartTime: isoOr(p.Start), ConnectedTime: isoOr(p.Connected),
			EndTime: isoOr(p.End), StartHoldTime: isoOr(p.HoldStart), Purpose: p.Purpose, State: p.State, Direction: p.Direction,
			DisconnectType: p.DisconnectType, Held: p.Held, WrapupRequired: p.WrapupRequired, AlertingTimeoutMs: p.AlertingTimeout.Milliseconds(),
			StartAcwTime: isoOr(p.AcwStart), EndAcwTime: isoOr(p.AcwEnd), Muted: p.Muted,
			Recording: conv.RecordingState == "active", RecordingState: conv.RecordingState}
		if event {
			m.InitialState = p.Initial
		} else {
			m.StartAlertingTime = isoOr(p.Alerting)
		}
		if p.WrapupRequired {
			m.WrapupTimeoutMs = s.profile.ACD.wrapupTimeout().Milliseconds()
		}
		if p.UserID != "" {
			m.User = &refJSON{ID: p.UserID}
			if !event {
				m.User.SelfURI = "/api/v2/users/" + p.UserID
			}
		}
		if p.QueueID != "" {
			m.Queue = &refJSON{ID: p.QueueID}
			if !event {
				m.Queue.SelfURI = "/api/v2/routing/queues/" + p.QueueID
			}
		}
		if w := p.Wrapup; w != nil {
			m.Wrapup = &wrapupJSON{Code: w.Code, Notes: w.Notes, DurationSeconds: w.Duration, EndTime: isoOr(w.EndTime)}
			if !event {
				m.Wrapup.Name = w.Name
			}
		}
		out.Participants = append(out.Participants, m)
	}
	return out
}

// callMediaJSON is the SDK's Call (Conversation model) and, with event set,
// ConversationEventTopicCall.
type callMediaJSON struct {
	State             string `json:"state"`
	InitialState      string `json:"initialState,omitempty"`
	ID                string `json:"id"`
	Direction         string `json:"direction,omitempty"`
	Recording         bool   `json:"recording"`
	RecordingState    string `json:"recordingState"`
	Muted             bool   `json:"muted"`
	Confined          bool   `json:"confined"`
	Held              bool   `json:"held"`
	DisconnectType    string `json:"disconnectType,omitempty"`
	StartHoldTime     string `json:"startHoldTime,omitempty"`
	StartAlertingTime string `json:"startAlertingTime,omitempty"` // Call only
	ConnectedTime     string `json:"connectedTime,omitempty"`
	DisconnectedTime  string `json:"disconnectedTime,omitempty"`
}

// participantJSON is the SDK's Participant (Conversation model) and, with
// event set, ConversationEventTopicParticipant.
type participantJSON struct {
	ID                string          `json:"id"`
	StartTime         string          `json:"startTime,omitempty"` // Participant only
	EndTime           string          `json:"endTime,omitempty"`
	ConnectedTime     string          `json:"connectedTime,omitempty"`
	Name              string          `json:"name,omitempty"`
	UserID            string          `json:"userId,omitempty"`
	QueueID           string          `json:"queueId,omitempty"`
	Purpose           string          `json:"purpose"`
	Address           string          `json:"address,omitempty"`
	WrapupRequired    bool            `json:"wrapupRequired"`
	WrapupTimeoutMs   int64           `json:"wrapupTimeoutMs,omitempty"`
	Wrapup            *wrapupJSON     `json:"wrapup,omitempty"`
	AlertingTimeoutMs int64           `json:"alertingTimeoutMs,omitempty"`
	StartAcwTime      string          `json:"startAcwTime,omitempty"`
	EndAcwTime        string          `json:"endAcwTime,omitempty"`
	Calls             []callMediaJSON `json:"calls"`
}

// conversationJSON is the SDK's Conversation (recordingState upper case,
// as its enum) and, with event set, ConversationEventTopicConversation
// (lower case, no times or selfUri).
type conversationJSON struct {
	ID             string            `json:"id"`
	StartTime      string            `json:"startTime,omitempty"`
	EndTime        string            `json:"endTime,omitempty"`
	Participants   []participantJSON `json:"participants"`
	RecordingState string            `json:"recordingState"`
	SelfURI        string            `json:"selfUri,omitempty"`
}

func (s *Server) conversationJSON(conv *conversation, event bool) conversationJSON {
	out := conversationJSON{ID: conv.ID, RecordingState: conv.RecordingState, Participants: make([]participantJSON, 0, len(conv.parts))}
	if !event {
		out.StartTime, out.EndTime, out.SelfURI = isoOr(conv.Start), isoOr(conv.End), "/api/v2/conversations/"+conv.ID
		out.RecordingState = strings.ToUpper(conv.RecordingState)
	}
	for _, p := range conv.parts {
		pj := participantJSON{ID: p.ID, EndTime: isoOr(p.End), ConnectedTime: isoOr(p.Connected), Name: p.Name, UserID: p.UserID,
			QueueID: p.QueueID, Purpose: p.Purpose, Address: p.Address, WrapupRequired: p.WrapupRequired,
			AlertingTimeoutMs: p.AlertingTimeout.Milliseconds(), StartAcwTime: isoOr(p.AcwStart), EndAcwTime: isoOr(p.AcwEnd)}
		if !event {
			pj.StartTime = isoOr(p.Start)
		}
		if p.WrapupRequired {
			pj.WrapupTimeoutMs = s.profile.ACD.wrapupTimeout().Milliseconds()
		}
		if w := p.Wrapup; w != nil {
			pj.Wrapup = &wrapupJSON{Code: w.Code, Notes: w.Notes, DurationSeconds: w.Duration, EndTime: isoOr(w.EndTime)}
			if !event {
				pj.Wrapup.Name = w.Name
			}
		}
		cm := callMediaJSON{State: p.State, ID: p.CallID, Direction: p.Direction, Recording: conv.RecordingState == "active",
			RecordingState: conv.RecordingState, Muted: p.Muted, Held: p.Held, DisconnectType: p.DisconnectType,
			StartHoldTime: isoOr(p.HoldStart), ConnectedTime: isoOr(p.Connected), DisconnectedTime: isoOr(p.End)}
		if event {
			cm.InitialState = p.Initial
		} else {
			cm.StartAlertingTime = isoOr(p.Alerting)
		}
		pj.Calls = []callMediaJSON{cm}
		out.Participants = append(out.Participants, pj)
	}
	return out
}

// conversationEventsLocked queues conv's events: the call topics
// (v2.users.{id}.conversations.calls of every user on it,
// v2.routing.queues.{id}.conversations.calls of its queue) and the
// all-media conversation topics (….conversations).
func (s *Server) conversationEventsLocked(conv *conversation, ev *events) {
	call := s.callJSON(conv, true)
	all := s.conversationJSON(conv, true)
	seen := map[string]bool{}
	for _, p := range conv.parts {
		if p.QueueID != "" && p.QueueID != conv.QueueID && !seen[p.QueueID] {
			seen[p.QueueID] = true
			s.observeLocked(p.QueueID) // a queue the call was transferred from
		}
		if p.UserID == "" || seen[p.UserID] {
			continue
		}
		seen[p.UserID] = true
		ev.add("v2.users."+p.UserID+".conversations.calls", call)
		ev.add("v2.users."+p.UserID+".conversations", all)
	}
	if conv.QueueID != "" {
		s.observeLocked(conv.QueueID)
		ev.add("v2.routing.queues."+conv.QueueID+".conversations.calls", call)
		ev.add("v2.routing.queues."+conv.QueueID+".conversations", all)
	}
}
