package gcsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// Call control: GET/PATCH /api/v2/conversations/calls[/{id}], participant
// state (answer, hold, mute, disconnect), blind transfer, wrap-up; and the
// analytics view of a call.

// getCalls is GET /api/v2/conversations/calls: the user's active calls
// (CallConversationEntityListing).
func (s *Server) getCalls(c *reqCtx) {
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	all := userConversations(s, c.tok.user.ID, func(conv *conversation) callConversationJSON { return s.callJSON(conv, false) })
	s.writeJSON(c, http.StatusOK, page(c.route.template, q, all, size, number))
}

// getCall is GET /api/v2/conversations/calls/{id} (CallConversation).
func (s *Server) getCall(c *reqCtx) {
	writeConversation(s, c, func(conv *conversation) callConversationJSON { return s.callJSON(conv, false) })
}

// patchCall is PATCH /api/v2/conversations/calls/{id}: recordingState, or
// state "disconnected" to end the call for everyone. It answers the
// Conversation model.
func (s *Server) patchCall(c *reqCtx) {
	var body struct {
		State          string `json:"state"`
		RecordingState string `json:"recordingState"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if body.RecordingState != "" && !validRecordingState(body.RecordingState) {
		s.badRequest(c, fmt.Sprintf("recordingState %q: want one of ACTIVE, PAUSED, NONE", body.RecordingState))
		return
	}
	if body.State != "" && body.State != "disconnected" {
		s.badRequest(c, fmt.Sprintf("state %q: PATCH /api/v2/conversations/calls/{id} only takes \"disconnected\"; "+
			"change one party with PATCH .../participants/{participantId}", body.State))
		return
	}
	ev := &events{corr: c.corr}
	s.state.convMu.Lock()
	conv := s.state.convs[c.params[0]]
	var out conversationJSON
	if conv != nil {
		if body.RecordingState != "" {
			conv.RecordingState = strings.ToLower(body.RecordingState)
		}
		if body.State == "disconnected" && !conv.ended() {
			s.dequeueLocked(conv)
			s.endLocked(conv, c.nowTime, "client", ev)
		} else {
			s.conversationEventsLocked(conv, ev)
		}
		out = s.conversationJSON(conv, false)
	}
	s.state.convMu.Unlock()
	if conv == nil {
		s.conversationNotFound(c)
		return
	}
	s.writeJSON(c, http.StatusOK, out)
	s.publish(ev)
}

// callParticipant finds {id} and {participantId}, answering 404 when
// either is unknown; the caller holds convMu.
func (s *Server) callParticipantLocked(c *reqCtx) (*conversation, *participant, string) {
	conv := s.state.convs[c.params[0]]
	if conv == nil {
		return nil, nil, "The conversation " + c.params[0] + " was not found."
	}
	p := conv.participant(c.params[1])
	if p == nil {
		return nil, nil, "The participant " + c.params[1] + " is not on conversation " + c.params[0] + "."
	}
	return conv, p, ""
}

// patchParticipant is PATCH .../calls/{id}/participants/{participantId}
// (MediaParticipantRequest): state connected answers an alerting call,
// disconnected hangs up, held and muted toggle. 202 without a body (void
// in the SDK).
func (s *Server) patchParticipant(c *reqCtx) {
	var body struct {
		State         string       `json:"state"`
		Held          *bool        `json:"held"`
		Muted         *bool        `json:"muted"`
		Recording     *bool        `json:"recording"`
		Confined      *bool        `json:"confined"`
		WrapupSkipped *bool        `json:"wrapupSkipped"`
		Wrapup        *wrapupInput `json:"wrapup"`
		ResumeTime    string       `json:"resumeTime"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if body.State != "" && body.State != "connected" && body.State != "disconnected" {
		s.writeError(c, http.StatusBadRequest, "bad.request", fmt.Sprintf("state %q: the simulator takes \"connected\" (answer) or \"disconnected\" (hang up)", body.State),
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "invalid.value", FieldName: "state"}}})
		return
	}
	ev := &events{corr: c.corr}
	now := c.nowTime
	s.state.convMu.Lock()
	conv, p, missing := s.callParticipantLocked(c)
	var conflict string
	switch {
	case missing != "":
	case p.State == "disconnected" && (body.State != "" || body.Held != nil || body.Muted != nil):
		conflict = "participant " + p.ID + " is disconnected"
	case body.State == "connected" && p.State != "alerting" && p.State != "connected":
		conflict = "participant " + p.ID + " is " + p.State + ", not alerting"
	case body.Held != nil && *body.Held && body.State != "disconnected" && p.State != "connected" && body.State != "connected":
		conflict = "participant " + p.ID + " is " + p.State + ": only a connected call can be held"
	}
	if missing == "" && conflict == "" {
		if body.Wrapup != nil {
			p.Wrapup = body.Wrapup.rec(now)
		}
		if body.State == "connected" && p.State == "alerting" {
			s.answerLocked(conv, p, now, ev)
		}
		if body.Muted != nil {
			p.Muted = *body.Muted
		}
		if body.Held != nil && *body.Held != p.Held && body.State != "disconnected" {
			p.Held = *body.Held
			if p.Held {
				p.HoldStart = now
				p.segment("hold", now)
			} else {
				p.HoldStart = time.Time{}
				p.segment("interact", now)
			}
		}
		if body.State == "disconnected" {
			s.hangUpLocked(conv, p, now, ev)
		} else {
			s.conversationEventsLocked(conv, ev)
		}
	}
	s.state.convMu.Unlock()
	switch {
	case missing != "":
		s.writeError(c, http.StatusNotFound, "not.found", missing, nil)
	case conflict != "":
		s.writeError(c, http.StatusBadRequest, "bad.request", "gcsim: "+conflict, nil)
	default:
		s.writeStatus(c, http.StatusAccepted)
		s.publish(ev)
	}
}

// answerLocked connects an alerting agent or user: the queue's acd
// participant hands the call over.
func (s *Server) answerLocked(conv *conversation, p *participant, now time.Time, ev *events) {
	p.State, p.Connected = "connected", now
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.segment("interact", now)
	if p.Purpose == "agent" {
		conv.answered = true
		if i := s.userIndex(p.UserID); i >= 0 {
			s.state.acd.agents[i].alerting--
			s.refreshLocked(i, now, ev) // INTERACTING from now with unconfirmed.interactingAtConnect
		}
		if conv.patience != nil {
			conv.patience.Stop()
		}
		for _, q := range conv.parts {
			if q.Purpose == "acd" && q.State == "connected" {
				q.disconnect(now, "transfer")
			}
		}
	} else if i := s.userIndex(p.UserID); i >= 0 && p.Purpose == "user" {
		s.state.acd.agents[i].direct++
		s.refreshLocked(i, now, ev)
	}
}

// hangUpLocked disconnects p. On a two-party call that ends the call; an
// agent who answered goes to after-call work.
func (s *Server) hangUpLocked(conv *conversation, p *participant, now time.Time, ev *events) {
	was := p.State
	p.disconnect(now, "client")
	if i := s.userIndex(p.UserID); i >= 0 && was == "alerting" && p.Purpose == "agent" {
		// Declining an offer makes the agent NOT_RESPONDING, like an offer
		// that timed out (Genesys' help on agent statuses).
		s.state.acd.agents[i].notResponding = true
	}
	s.agentLeftLocked(conv, p, was, now, ev)
	live := 0
	for _, q := range conv.parts {
		if q.State != "disconnected" {
			live++
		}
	}
	if was == "alerting" && p.Purpose == "agent" {
		// A declined offer goes back to the queue, as on Genesys.
		s.conversationEventsLocked(conv, ev)
		s.enqueueLocked(conv, now, ev)
		return
	}
	if live <= 1 || p.Purpose == "customer" || (conv.answered && p.Purpose == "agent") {
		s.dequeueLocked(conv)
		s.endLocked(conv, now, "peer", ev)
		return
	}
	s.conversationEventsLocked(conv, ev)
}

// wrapupInput is the SDK's WrapupInput.
type wrapupInput struct {
	Code                  string   `json:"code"`
	Name                  string   `json:"name"`
	Notes                 string   `json:"notes"`
	Tags                  []string `json:"tags"`
	DurationSeconds       int      `json:"durationSeconds"`
	EndTime               string   `json:"endTime"`
	Provisional           bool     `json:"provisional"`
	DisableEndTimeUpdates bool     `json:"disableEndTimeUpdates"`
}

func (w *wrapupInput) rec(now time.Time) *wrapupRec {
	r := &wrapupRec{Code: w.Code, Name: w.Name, Notes: w.Notes, Duration: w.DurationSeconds, EndTime: now}
	if code := wrapupCodeByID(w.Code); code != nil && r.Name == "" {
		r.Name = code.Name
	}
	return r
}

// postWrapup is POST .../participants/{participantId}/communications/{communicationId}/wrapup:
// 202 without a body (void in the SDK). It ends the participant's
// after-call work; before the call ends it is kept for the disconnect.
func (s *Server) postWrapup(c *reqCtx) {
	var body wrapupInput
	if !s.readJSON(c, &body, false) {
		return
	}
	if wrapupCodeByID(body.Code) == nil {
		s.writeError(c, http.StatusBadRequest, "bad.request",
			fmt.Sprintf("wrapup code %q is not a wrap-up code of this organization; GET /api/v2/routing/wrapupcodes lists them", body.Code),
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "invalid.value", FieldName: "code"}}})
		return
	}
	ev := &events{corr: c.corr}
	now := c.nowTime
	s.state.convMu.Lock()
	conv, p, missing := s.callParticipantLocked(c)
	if missing == "" && p.CallID != c.params[2] {
		missing = "The communication " + c.params[2] + " is not participant " + p.ID + "'s call (its calls[].id in GET /api/v2/conversations/{id})."
	}
	if missing == "" {
		p.Wrapup = body.rec(now)
		if p.WrapupRequired && p.AcwEnd.IsZero() {
			s.endAcwLocked(conv, p, now, ev)
		} else {
			s.conversationEventsLocked(conv, ev)
		}
	}
	s.state.convMu.Unlock()
	if missing != "" {
		s.writeError(c, http.StatusNotFound, "not.found", missing, nil)
		return
	}
	s.writeStatus(c, http.StatusAccepted)
	s.publish(ev)
}

// postReplace is POST .../participants/{participantId}/replace: a blind
// transfer of the participant's call to a queue (queueId) or a user
// (userId). The transferring participant leaves (disconnectType
// "transfer") and goes to after-call work; the target is offered the call.
// 202 without a body.
func (s *Server) postReplace(c *reqCtx) {
	var body struct {
		TransferType string `json:"transferType"`
		UserID       string `json:"userId"`
		Address      string `json:"address"`
		UserName     string `json:"userName"`
		QueueID      string `json:"queueId"`
		Voicemail    bool   `json:"voicemail"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if (body.UserID == "") == (body.QueueID == "") {
		s.badRequest(c, "a blind transfer needs exactly one of userId and queueId (the simulator does not dial addresses)")
		return
	}
	if body.QueueID != "" && s.dir.queueByID[body.QueueID] == nil {
		s.badRequest(c, "queueId "+body.QueueID+" is not a queue of this organization")
		return
	}
	if body.UserID != "" && s.dir.byID[body.UserID] == nil {
		s.badRequest(c, "userId "+body.UserID+" is not a user of this organization")
		return
	}
	ev := &events{corr: c.corr}
	now := c.nowTime
	s.state.convMu.Lock()
	conv, p, missing := s.callParticipantLocked(c)
	conflict := ""
	if missing == "" && p.State != "connected" {
		conflict = "participant " + p.ID + " is " + p.State + ": only a connected call can be transferred"
	}
	if missing == "" && conflict == "" {
		p.disconnect(now, "transfer")
		s.agentLeftLocked(conv, p, "connected", now, ev)
		if body.QueueID != "" {
			conv.QueueID = body.QueueID
			q := s.dir.queueByID[body.QueueID]
			acd := s.addParticipant(conv, "acd", now)
			acd.QueueID, acd.Name, acd.State, acd.Initial, acd.Direction, acd.Connected = q.ID, q.Name, "connected", "connected", "inbound", now
			s.conversationEventsLocked(conv, ev)
			s.enqueueLocked(conv, now, ev)
		} else {
			u := s.dir.byID[body.UserID]
			t := s.addParticipant(conv, "user", now)
			t.UserID, t.Name, t.State, t.Initial, t.Direction, t.Alerting = u.ID, u.Name, "alerting", "alerting", "inbound", now
			t.segment("alert", now)
			s.conversationEventsLocked(conv, ev)
		}
	}
	s.state.convMu.Unlock()
	switch {
	case missing != "":
		s.writeError(c, http.StatusNotFound, "not.found", missing, nil)
	case conflict != "":
		s.badRequest(c, "gcsim: "+conflict)
	default:
		s.writeStatus(c, http.StatusAccepted)
		s.publish(ev)
	}
}

// Analytics details (AnalyticsConversationWithoutAttributes and below).
type analyticsConversation struct {
	ConversationID       string                 `json:"conversationId"`
	ConversationStart    string                 `json:"conversationStart"`
	ConversationEnd      string                 `json:"conversationEnd,omitempty"`
	OriginatingDirection string                 `json:"originatingDirection"`
	DivisionIDs          []string               `json:"divisionIds"`
	Participants         []analyticsParticipant `json:"participants"`
}

type analyticsParticipant struct {
	ParticipantID   string             `json:"participantId"`
	ParticipantName string             `json:"participantName,omitempty"`
	Purpose         string             `json:"purpose"`
	UserID          string             `json:"userId,omitempty"`
	Sessions        []analyticsSession `json:"sessions"`
}

type analyticsSession struct {
	SessionID string             `json:"sessionId"`
	MediaType string             `json:"mediaType"`
	Direction string             `json:"direction,omitempty"`
	Segments  []analyticsSegment `json:"segments"`
	Metrics   []analyticsMetric  `json:"metrics,omitempty"`
}

type analyticsSegment struct {
	SegmentStart   string `json:"segmentStart"`
	SegmentEnd     string `json:"segmentEnd,omitempty"`
	SegmentType    string `json:"segmentType"`
	QueueID        string `json:"queueId,omitempty"`
	DisconnectType string `json:"disconnectType,omitempty"`
	WrapUpCode     string `json:"wrapUpCode,omitempty"`
	WrapUpNote     string `json:"wrapUpNote,omitempty"`
}

type analyticsMetric struct {
	EmitDate string `json:"emitDate"`
	Name     string `json:"name"`
	Value    int64  `json:"value"`
}

// analyticsOf is a conversation as the details query reports it: one voice
// session per participant with its segments, and for an agent who handled
// the call the metrics tAlert, tTalk, tHeld, tAcw and tHandle (ms).
func analyticsOf(cv *conversation) analyticsConversation {
	out := analyticsConversation{ConversationID: cv.ID, ConversationStart: isoOr(cv.Start), ConversationEnd: isoOr(cv.End),
		OriginatingDirection: originatingDirection(cv), DivisionIDs: []string{homeDivision.ID}}
	for _, p := range cv.parts {
		sess := analyticsSession{SessionID: p.CallID, MediaType: "voice", Direction: p.Direction, Segments: []analyticsSegment{}}
		sums := map[string]time.Duration{}
		for k, sg := range p.segs {
			a := analyticsSegment{SegmentStart: isoOr(sg.Start), SegmentEnd: isoOr(sg.End), SegmentType: sg.Type, QueueID: p.QueueID}
			if k == len(p.segs)-1 && !sg.End.IsZero() {
				a.DisconnectType = p.DisconnectType
			}
			if sg.Type == "wrapup" && p.Wrapup != nil {
				a.WrapUpCode, a.WrapUpNote = p.Wrapup.Code, p.Wrapup.Notes
			}
			if !sg.End.IsZero() {
				sums[sg.Type] += sg.End.Sub(sg.Start)
			}
			sess.Segments = append(sess.Segments, a)
		}
		if p.Purpose == "agent" && !p.Connected.IsZero() && !p.AcwEnd.IsZero() {
			emit := isoOr(p.AcwEnd)
			for _, m := range []struct {
				name string
				d    time.Duration
			}{{"tAlert", sums["alert"]}, {"tTalk", sums["interact"]}, {"tHeld", sums["hold"]}, {"tAcw", sums["wrapup"]},
				{"tHandle", sums["interact"] + sums["hold"] + sums["wrapup"]}} {
				sess.Metrics = append(sess.Metrics, analyticsMetric{EmitDate: emit, Name: m.name, Value: m.d.Milliseconds()})
			}
		}
		out.Participants = append(out.Participants, analyticsParticipant{ParticipantID: p.ID, ParticipantName: p.Name,
			Purpose: p.Purpose, UserID: p.UserID, Sessions: []analyticsSession{sess}})
	}
	return out
}
