package gcsim

import (
	"fmt"
	"net/http"
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
	qid := body.CallQueueID
	if qid == "" {
		qid = body.CallFromQueueID
	}
	if qid != "" && s.dir.queueByID[qid] == nil {
		s.writeError(c, http.StatusBadRequest, "bad.request", "queue "+qid+" does not exist", nil)
		return
	}
	agent := body.CallUserID
	if agent != "" && s.dir.byID[agent] == nil {
		s.writeError(c, http.StatusBadRequest, "bad.request", "user "+agent+" does not exist", nil)
		return
	}
	if agent == "" && c.tok.user != nil {
		agent = c.tok.user.ID
	}
	conv := &conversation{ID: s.newConversationID(), QueueID: qid, UserID: agent, RecordingState: "active", Start: c.nowTime}
	s.state.addConversation(conv)
	s.writeJSON(c, http.StatusOK, map[string]string{"id": conv.ID, "name": conv.ID, "selfUri": "/api/v2/conversations/calls/" + conv.ID})
	s.publishConversation(conv, c.corr)
}

func (o *orgState) addConversation(conv *conversation) {
	o.convMu.Lock()
	defer o.convMu.Unlock()
	o.convs[conv.ID] = conv
	o.convOrder = append(o.convOrder, conv.ID)
	if len(o.convOrder) > maxConversations {
		delete(o.convs, o.convOrder[0])
		o.convOrder = o.convOrder[1:]
	}
}

func (s *Server) conversationEvent(conv *conversation) map[string]any {
	parts := []map[string]any{{"id": conv.ID + "-customer", "purpose": "customer", "state": "connected"}}
	if conv.UserID != "" {
		parts = append(parts, map[string]any{"id": conv.ID + "-agent", "purpose": "agent", "userId": conv.UserID, "queueId": conv.QueueID, "state": "alerting"})
	}
	return map[string]any{"id": conv.ID, "recordingState": conv.RecordingState, "participants": parts}
}

// publishConversation publishes a conversation change to its queue's,
// agent's and own topics.
func (s *Server) publishConversation(conv *conversation, corr string) {
	ev := s.conversationEvent(conv)
	if conv.QueueID != "" {
		s.hub.Publish("v2.routing.queues."+conv.QueueID+".conversations", ev, corr)
	}
	if conv.UserID != "" {
		s.hub.Publish("v2.users."+conv.UserID+".conversations", ev, corr)
	}
	s.hub.Publish("v2.conversations."+conv.ID, ev, corr)
}

func (s *Server) getConversations(c *reqCtx) {
	uid := c.tok.user.ID
	var ents []map[string]any
	s.state.convMu.Lock()
	for _, id := range s.state.convOrder {
		if conv := s.state.convs[id]; conv.UserID == uid {
			ents = append(ents, s.conversationEvent(conv))
		}
	}
	s.state.convMu.Unlock()
	if ents == nil {
		ents = []map[string]any{}
	}
	s.writeJSON(c, http.StatusOK, map[string]any{"entities": ents, "selfUri": "/api/v2/conversations"})
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

// patchRecordingState is PATCH /api/v2/conversations/{id}/recordingstate.
// Conversation ids the simulator did not create are accepted as existing
// (the simulator cannot know a tenant's conversations).
func (s *Server) patchRecordingState(c *reqCtx) {
	var body struct {
		RecordingState string `json:"recordingState"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if !validRecordingState(body.RecordingState) {
		s.writeError(c, http.StatusBadRequest, "bad.request", fmt.Sprintf("recordingState %q: want one of active, paused, none", body.RecordingState),
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "invalid.value", FieldName: "recordingState"}}})
		return
	}
	id := c.params[0]
	s.state.convMu.Lock()
	conv := s.state.convs[id]
	if conv == nil {
		conv = &conversation{ID: id, Start: c.nowTime}
	}
	conv.RecordingState = strings.ToLower(body.RecordingState)
	cp := *conv
	s.state.convMu.Unlock()
	s.writeJSON(c, http.StatusAccepted, map[string]string{"recordingState": cp.RecordingState})
	s.publishConversation(&cp, c.corr)
}

// putScreenshareRecordingState is PUT /api/v2/conversations/screenshares/{id}/recordingstate.
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
	s.writeJSON(c, http.StatusAccepted, map[string]string{"recordingState": state})
	s.hub.Publish("v2.conversations."+id, map[string]any{"id": id, "recordingState": state}, c.corr)
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
		Order               string `json:"order"`
		OrderBy             string `json:"orderBy"`
		SegmentFilters      []any  `json:"segmentFilters"`
		ConversationFilters []any  `json:"conversationFilters"`
		EvaluationFilters   []any  `json:"evaluationFilters"`
		SurveyFilters       []any  `json:"surveyFilters"`
		Aggregations        []any  `json:"aggregations"`
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
	size, number := 25, 1
	if body.Paging != nil {
		if body.Paging.PageSize > 0 {
			size = min(body.Paging.PageSize, 100)
		}
		if body.Paging.PageNumber > 0 {
			number = body.Paging.PageNumber
		}
	}
	type participant struct {
		ParticipantID string `json:"participantId"`
		Purpose       string `json:"purpose"`
		UserID        string `json:"userId,omitempty"`
	}
	type conv struct {
		ConversationID       string        `json:"conversationId"`
		ConversationStart    string        `json:"conversationStart"`
		OriginatingDirection string        `json:"originatingDirection"`
		Participants         []participant `json:"participants"`
	}
	var all []conv
	s.state.convMu.Lock()
	for _, id := range s.state.convOrder {
		cv := s.state.convs[id]
		if cv.Start.Before(tf) || !cv.Start.Before(tt) {
			continue
		}
		ps := []participant{{ParticipantID: cv.ID + "-customer", Purpose: "customer"}}
		if cv.UserID != "" {
			ps = append(ps, participant{ParticipantID: cv.ID + "-agent", Purpose: "agent", UserID: cv.UserID})
		}
		all = append(all, conv{ConversationID: cv.ID, ConversationStart: cv.Start.UTC().Format("2006-01-02T15:04:05.000Z"),
			OriginatingDirection: "outbound", Participants: ps})
	}
	s.state.convMu.Unlock()
	lo := min((number-1)*size, len(all))
	hi := min(lo+size, len(all))
	out := map[string]any{"totalHits": len(all)}
	if hi > lo {
		out["conversations"] = all[lo:hi]
	}
	s.writeJSON(c, http.StatusOK, out)
}
