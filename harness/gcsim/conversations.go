package gcsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// Route families conversations, conversations.calls, conversations.recordingstate,
// recordings.screensessions and analytics.conversations.

func (s *Server) newConversationID() string {
	n := s.state.callSeq.Add(1)
	return fmt.Sprintf("00000000-0000-4000-c000-%012x", n)
}

func (s *Server) postCall(c *reqCtx) {
	var body struct {
		PhoneNumber     string   `json:"phoneNumber"`
		CallFromQueueID string   `json:"callFromQueueId"`
		CallQueueID     string   `json:"callQueueId"`
		CallUserID      string   `json:"callUserId"`
		Priority        int      `json:"priority"`
		LanguageID      string   `json:"languageId"`
		RoutingSkillsID []string `json:"routingSkillsIds"`
		ConversationIDs []string `json:"conversationIds"`
		Participants    []struct {
			Address string `json:"address"`
		} `json:"participants"`
		UUIData string `json:"uuiData"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if body.PhoneNumber == "" && body.CallQueueID == "" && body.CallUserID == "" && len(body.Participants) == 0 {
		s.writeError(c, http.StatusBadRequest, "bad.request", "A call needs a target: phoneNumber, callQueueId, callUserId or participants.",
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "missing.field", FieldName: "phoneNumber"}}})
		return
	}
	for _, q := range []string{body.CallQueueID, body.CallFromQueueID} {
		if q != "" && s.dir.queueByID[q] == nil {
			s.writeError(c, http.StatusBadRequest, "bad.request", "queue "+q+" does not exist", nil)
			return
		}
	}
	if u := body.CallUserID; u != "" && s.dir.byID[u] == nil {
		s.writeError(c, http.StatusBadRequest, "bad.request", "user "+u+" does not exist", nil)
		return
	}
	ev := &events{corr: c.corr}
	s.state.convMu.Lock()
	conv := s.outboundLocked(c.tok.user, body.CallUserID, body.CallQueueID, body.PhoneNumber, c.nowTime, ev)
	s.state.convMu.Unlock()
	s.writeJSON(c, http.StatusOK, map[string]string{"id": conv.ID, "name": conv.ID, "selfUri": "/api/v2/conversations/calls/" + conv.ID})
	s.publish(ev)
}

// outboundLocked places a call from user: to another user (alerting until
// answered), to a queue (routed like an inbound call), to a number (the far
// end answers at once), or to the caller itself (one participant).
func (s *Server) outboundLocked(from *User, toUser, toQueue, number string, now time.Time, ev *events) *conversation {
	conv := &conversation{ID: s.newConversationID(), Direction: "outbound", RecordingState: "active", Start: now}
	me := s.addParticipant(conv, "user", now)
	me.UserID, me.Name, me.State, me.Initial, me.Direction, me.Connected = from.ID, from.Name, "connected", "dialing", "outbound", now
	me.segment("interact", now)
	s.addConversationLocked(conv, now, ev)
	s.state.acd.agents[from.index].direct++
	s.refreshLocked(from.index, now, ev)
	switch {
	case toUser != "" && toUser != from.ID:
		u := s.dir.byID[toUser]
		p := s.addParticipant(conv, "user", now)
		p.UserID, p.Name, p.State, p.Initial, p.Direction, p.Alerting = u.ID, u.Name, "alerting", "alerting", "inbound", now
		p.segment("alert", now)
	case toQueue != "":
		q := s.dir.queueByID[toQueue]
		conv.QueueID = q.ID
		acd := s.addParticipant(conv, "acd", now)
		acd.QueueID, acd.Name, acd.State, acd.Initial, acd.Direction, acd.Connected = q.ID, q.Name, "connected", "connected", "inbound", now
		s.conversationEventsLocked(conv, ev)
		s.enqueueLocked(conv, now, ev)
		return conv
	case number != "":
		p := s.addParticipant(conv, "external", now)
		p.Address, p.State, p.Initial, p.Direction, p.Connected = "tel:"+number, "connected", "connected", "outbound", now
		p.segment("interact", now)
	}
	s.conversationEventsLocked(conv, ev)
	return conv
}

// addConversationLocked stores conv. Past maxConversations the oldest is
// forgotten, ended first (disconnectType "system") if it was not, so that
// no agent stays on a call nobody can reach.
func (s *Server) addConversationLocked(conv *conversation, now time.Time, ev *events) {
	o := s.state
	o.convs[conv.ID] = conv
	o.convOrder = append(o.convOrder, conv.ID)
	if len(o.convOrder) > maxConversations {
		if old := o.convs[o.convOrder[0]]; old != nil {
			if !old.ended() {
				s.dequeueLocked(old)
				s.endLocked(old, now, "system", ev)
			}
			for _, p := range old.parts {
				if p.WrapupRequired && p.AcwEnd.IsZero() {
					s.endAcwLocked(old, p, now, ev)
				}
			}
			old.stopTimers()
		}
		delete(o.convs, o.convOrder[0])
		o.convOrder = o.convOrder[1:]
	}
}

// hasUser reports whether user id is a participant of conv.
func (c *conversation) hasUser(id string) bool {
	for _, p := range c.parts {
		if p.UserID == id {
			return true
		}
	}
	return false
}

// getConversations is GET /api/v2/conversations: the user's active
// conversations (ConversationEntityListing).
func (s *Server) getConversations(c *reqCtx) {
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	all := userConversations(s, c.tok.user.ID, func(conv *conversation) conversationJSON { return s.conversationJSON(conv, false) })
	s.writeJSON(c, http.StatusOK, page(c.route.template, q, all, size, number))
}

// userConversations renders the conversations user id is on that have not ended.
func userConversations[T any](s *Server, id string, render func(*conversation) T) []T {
	var out []T
	s.state.convMu.Lock()
	defer s.state.convMu.Unlock()
	for _, cid := range s.state.convOrder {
		if conv := s.state.convs[cid]; conv != nil && !conv.ended() && conv.hasUser(id) {
			out = append(out, render(conv))
		}
	}
	return out
}

// getConversation is GET /api/v2/conversations/{id}: the Conversation model,
// whose participants[].calls[].id is the communication id wrap-up needs.
func (s *Server) getConversation(c *reqCtx) {
	writeConversation(s, c, func(conv *conversation) conversationJSON { return s.conversationJSON(conv, false) })
}

// writeConversation answers the conversation c.params[0] rendered by
// render (under the conversations' lock), or 404 when there is none.
func writeConversation[T any](s *Server, c *reqCtx, render func(*conversation) T) {
	s.state.convMu.Lock()
	conv := s.state.convs[c.params[0]]
	var out T
	if conv != nil {
		out = render(conv)
	}
	s.state.convMu.Unlock()
	if conv == nil {
		s.conversationNotFound(c)
		return
	}
	s.writeJSON(c, http.StatusOK, out)
}

func (s *Server) conversationNotFound(c *reqCtx) {
	s.writeError(c, http.StatusNotFound, "not.found", "The conversation "+c.params[0]+" was not found.",
		&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "conversation.not.found", EntityID: c.params[0]}}})
}

var recordingStates = []string{"active", "paused", "none"}

func validRecordingState(v string) bool {
	for _, s := range recordingStates {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// patchRecordingState is PATCH /api/v2/conversations/{id}/recordingstate:
// 202 without a body (void in the SDK); an unknown conversation is 404.
func (s *Server) patchRecordingState(c *reqCtx) { s.setRecordingState(c, http.StatusAccepted) }

// putCallRecordingState is PUT /api/v2/conversations/calls/{id}/recordingstate
// (a supervisor's secure pause): like patchRecordingState.
func (s *Server) putCallRecordingState(c *reqCtx) { s.setRecordingState(c, http.StatusAccepted) }

func (s *Server) setRecordingState(c *reqCtx, status int) {
	var body struct {
		RecordingState string `json:"recordingState"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if !validRecordingState(body.RecordingState) {
		s.writeError(c, http.StatusBadRequest, "bad.request", fmt.Sprintf("recordingState %q: want one of ACTIVE, PAUSED, NONE", body.RecordingState),
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "invalid.value", FieldName: "recordingState"}}})
		return
	}
	ev := &events{corr: c.corr}
	s.state.convMu.Lock()
	conv := s.state.convs[c.params[0]]
	if conv != nil {
		conv.RecordingState = strings.ToLower(body.RecordingState)
		s.conversationEventsLocked(conv, ev)
	}
	s.state.convMu.Unlock()
	if conv == nil {
		s.conversationNotFound(c)
		return
	}
	s.writeStatus(c, status)
	s.publish(ev)
}

// putScreenshareRecordingState is PUT /api/v2/conversations/screenshares/{id}/recordingstate
// (deprecated by Genesys): 202 without a body.
func (s *Server) putScreenshareRecordingState(c *reqCtx) {
	var body struct {
		RecordingState string `json:"recordingState"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if !validRecordingState(body.RecordingState) {
		s.writeError(c, http.StatusBadRequest, "bad.request", fmt.Sprintf("recordingState %q: want one of active, paused, none", body.RecordingState), nil)
		return
	}
	id, state := c.params[0], strings.ToLower(body.RecordingState)
	s.state.convMu.Lock()
	old := s.state.screens[id]
	s.state.screens[id] = state
	if old == "active" && state != "active" {
		s.state.active.Add(-1)
	} else if old != "active" && state == "active" {
		s.state.active.Add(1)
	}
	if state == "none" {
		delete(s.state.screens, id)
	}
	s.state.convMu.Unlock()
	s.writeStatus(c, http.StatusAccepted) // void in the SDK, like the other recording-state answers
}

func (s *Server) getScreenSessionDetails(c *reqCtx) {
	s.writeJSON(c, http.StatusOK, map[string]int64{"count": s.state.active.Load()})
}

func (s *Server) postAnalyticsQuery(c *reqCtx) {
	var body struct {
		Interval string `json:"interval"`
		Paging   *struct {
			PageSize   int `json:"pageSize"`
			PageNumber int `json:"pageNumber"`
		} `json:"paging"`
		Order               string         `json:"order"`
		OrderBy             string         `json:"orderBy"`
		SegmentFilters      []detailFilter `json:"segmentFilters"`
		ConversationFilters []detailFilter `json:"conversationFilters"`
		EvaluationFilters   []any          `json:"evaluationFilters"`
		SurveyFilters       []any          `json:"surveyFilters"`
		Aggregations        []any          `json:"aggregations"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	from, to, ok := strings.Cut(body.Interval, "/")
	var tf, tt time.Time
	var err1, err2 error
	if ok {
		tf, err1 = time.Parse(time.RFC3339Nano, from)
		tt, err2 = time.Parse(time.RFC3339Nano, to)
	}
	if !ok || err1 != nil || err2 != nil || !tt.After(tf) {
		s.writeError(c, http.StatusBadRequest, "bad.request",
			fmt.Sprintf("interval %q: required, an ISO-8601 interval such as 2026-01-01T00:00:00.000Z/2026-01-02T00:00:00.000Z", body.Interval),
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "invalid.value", FieldName: "interval"}}})
		return
	}
	for _, err := range []error{checkFilters("conversationFilters", body.ConversationFilters, conversationDimensions),
		checkFilters("segmentFilters", body.SegmentFilters, segmentDimensions)} {
		if err != nil {
			s.badRequest(c, "gcsim: "+err.Error())
			return
		}
	}
	switch {
	case body.Order != "" && body.Order != "asc" && body.Order != "desc":
		s.badRequest(c, fmt.Sprintf("order %q: want asc or desc", body.Order))
		return
	case body.OrderBy != "" && body.OrderBy != "conversationStart":
		s.badRequest(c, fmt.Sprintf("gcsim: orderBy %q: the simulator orders by conversationStart only", body.OrderBy))
		return
	}
	size, number := 25, 1
	if body.Paging != nil {
		if body.Paging.PageSize > 0 {
			size = min(body.Paging.PageSize, 100)
		}
		if body.Paging.PageNumber > 0 {
			number = body.Paging.PageNumber
		}
	}
	var all []analyticsConversation
	s.state.convMu.Lock()
	for _, id := range s.state.convOrder {
		cv := s.state.convs[id]
		if !inInterval(cv, tf, tt) || !matchesFilters(cv, body.ConversationFilters, body.SegmentFilters) {
			continue
		}
		all = append(all, analyticsOf(cv))
	}
	s.state.convMu.Unlock()
	if body.Order == "desc" {
		slices.Reverse(all)
	}
	lo := min((number-1)*size, len(all))
	hi := min(lo+size, len(all))
	out := map[string]any{"totalHits": len(all)}
	if hi > lo {
		out["conversations"] = all[lo:hi]
	}
	s.writeJSON(c, http.StatusOK, out)
}
