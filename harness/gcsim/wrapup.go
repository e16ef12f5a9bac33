package gcsim

import (
	"fmt"
	"net/http"
)

// Wrap-up codes, queue membership and queue observations.

// WrapupCodeID returns the deterministic id of wrap-up code i (0-based) of
// [WrapupCodes].
func WrapupCodeID(i int) string { return fmt.Sprintf("00000000-0000-4000-f000-%012x", i+1) }

// WrapupCodes are the organization's wrap-up codes, by name; code i has
// the id WrapupCodeID(i). Every queue offers them all.
var WrapupCodes = []string{"Resolved", "Follow-up", "Transferred", "Abandoned", "Other"}

type wrapupCodeJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Division     idName `json:"division"`
	Description  string `json:"description"`
	DateCreated  string `json:"dateCreated"`
	DateModified string `json:"dateModified"`
	CreatedBy    string `json:"createdBy"`
	ModifiedBy   string `json:"modifiedBy"`
	SelfURI      string `json:"selfUri"`
}

var wrapupCodeList = func() []wrapupCodeJSON {
	out := make([]wrapupCodeJSON, len(WrapupCodes))
	for i, name := range WrapupCodes {
		out[i] = wrapupCodeJSON{ID: WrapupCodeID(i), Name: name, Division: homeDivision, Description: "Simulated wrap-up code",
			DateCreated: created, DateModified: created, CreatedBy: "gcsim", ModifiedBy: "gcsim",
			SelfURI: "/api/v2/routing/wrapupcodes/" + WrapupCodeID(i)}
	}
	return out
}()

func wrapupCodeByID(id string) *wrapupCodeJSON {
	for i := range wrapupCodeList {
		if wrapupCodeList[i].ID == id {
			return &wrapupCodeList[i]
		}
	}
	return nil
}

// getWrapupCodes is GET /api/v2/routing/wrapupcodes (WrapupCodeEntityListing).
func (s *Server) getWrapupCodes(c *reqCtx) {
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	s.writeJSON(c, http.StatusOK, page(c.route.template, q, wrapupCodeList, size, number))
}

// getParticipantWrapupCodes is GET .../participants/{participantId}/wrapupcodes:
// the codes the participant may use ([]WrapupCode).
func (s *Server) getParticipantWrapupCodes(c *reqCtx) {
	s.state.convMu.Lock()
	_, _, missing := s.callParticipantLocked(c)
	s.state.convMu.Unlock()
	if missing != "" {
		s.writeError(c, http.StatusNotFound, "not.found", missing, nil)
		return
	}
	s.writeJSON(c, http.StatusOK, wrapupCodeList)
}

// userQueueJSON is the SDK's UserQueue: a queue (without Queue's
// autoAnswerOnly, which UserQueue lacks) and whether the user joined it.
type userQueueJSON struct {
	ID                    string      `json:"id"`
	Name                  string      `json:"name"`
	Division              idName      `json:"division"`
	Description           string      `json:"description"`
	DateCreated           string      `json:"dateCreated"`
	DateModified          string      `json:"dateModified"`
	ModifiedBy            string      `json:"modifiedBy"`
	CreatedBy             string      `json:"createdBy"`
	MemberCount           int         `json:"memberCount"`
	UserMemberCount       int         `json:"userMemberCount"`
	JoinedMemberCount     int         `json:"joinedMemberCount"`
	ACWSettings           acwSettings `json:"acwSettings"`
	SkillEvaluationMethod string      `json:"skillEvaluationMethod"`
	EnableTranscription   bool        `json:"enableTranscription"`
	Joined                bool        `json:"joined"`
	SelfURI               string      `json:"selfUri"`
}

func (s *Server) userQueues(i int) []userQueueJSON {
	q := s.queueIndexOf(i)
	if q < 0 {
		return []userQueueJSON{}
	}
	s.state.convMu.Lock()
	joined := s.state.acd.agents[i].joined
	s.state.convMu.Unlock()
	j := s.queueJSON(&s.dir.queues[q])
	return []userQueueJSON{{ID: j.ID, Name: j.Name, Division: j.Division, Description: j.Description, DateCreated: j.DateCreated,
		DateModified: j.DateModified, ModifiedBy: j.ModifiedBy, CreatedBy: j.CreatedBy, MemberCount: j.MemberCount,
		UserMemberCount: j.UserMemberCount, JoinedMemberCount: j.JoinedMemberCount, ACWSettings: j.ACWSettings,
		SkillEvaluationMethod: j.SkillEvaluationMethod, EnableTranscription: j.EnableTranscription, Joined: joined, SelfURI: j.SelfURI}}
}

// getUserQueues is GET /api/v2/users/{id}/queues (UserQueueEntityListing):
// agent i is a member of queue i % queues.
func (s *Server) getUserQueues(c *reqCtx) {
	u, _ := s.user(c)
	if u == nil {
		return
	}
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	s.writeJSON(c, http.StatusOK, page("/api/v2/users/"+u.ID+"/queues", q, s.userQueues(u.index), size, number))
}

// patchUserQueues is PATCH /api/v2/users/{id}/queues with [{"id","joined"}]:
// join or leave the user's queues. A joined, IDLE agent may be offered a
// call at once. Each change is published on v2.routing.queues.{id}.users.
func (s *Server) patchUserQueues(c *reqCtx) {
	u, _ := s.user(c)
	if u == nil {
		return
	}
	var body []struct {
		ID     string `json:"id"`
		Joined *bool  `json:"joined"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	qi := s.queueIndexOf(u.index)
	for k, b := range body {
		if b.Joined == nil {
			s.badRequest(c, fmt.Sprintf("[%d].joined: required, true or false", k))
			return
		}
		if qi < 0 || b.ID != s.dir.queues[qi].ID {
			s.badRequest(c, fmt.Sprintf("[%d].id %q: user %s is not a member of that queue (GET /api/v2/users/%s/queues lists its queues)", k, b.ID, u.ID, u.ID))
			return
		}
	}
	ev := &events{corr: c.corr}
	s.state.convMu.Lock()
	for _, b := range body {
		a := &s.state.acd.agents[u.index]
		if a.joined == *b.Joined {
			continue
		}
		a.joined = *b.Joined
		s.observeLocked(b.ID)
		ev.add("v2.routing.queues."+b.ID+".users", queueUserEvent{ID: u.ID, User: idRef{ID: u.ID}, QueueID: b.ID, Joined: a.joined})
	}
	if len(body) > 0 && routable(&s.state.acd.agents[u.index]) {
		s.dispatchLocked(qi, c.nowTime, ev)
	}
	s.state.convMu.Unlock()
	q := c.r.URL.Query()
	s.writeJSON(c, http.StatusOK, page("/api/v2/users/"+u.ID+"/queues", q, s.userQueues(u.index), 25, 1))
	s.publish(ev)
}

// queueUserEvent is the SDK's QueueUserEventTopicQueueMember, the body of
// v2.routing.queues.{id}.users: a member joined or left the queue. The
// model has no routing status or presence, so the simulator publishes it
// on membership changes only.
type queueUserEvent struct {
	ID      string `json:"id"`
	User    idRef  `json:"user"`
	QueueID string `json:"queueId"`
	Joined  bool   `json:"joined"`
}

type idRef struct {
	ID string `json:"id"`
}

// queueMemberJSON is the SDK's QueueMember.
type queueMemberJSON struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	User          userJSON          `json:"user"`
	RingNumber    int               `json:"ringNumber"`
	Joined        bool              `json:"joined"`
	MemberBy      string            `json:"memberBy"`
	RoutingStatus routingStatusJSON `json:"routingStatus"`
	SelfURI       string            `json:"selfUri"`
}

// getQueueMembers is GET /api/v2/routing/queues/{id}/members
// (QueueMemberEntityListing).
func (s *Server) getQueueMembers(c *reqCtx) {
	qu := s.dir.queueByID[c.params[0]]
	if qu == nil {
		s.writeError(c, http.StatusNotFound, "not.found", "The queue "+c.params[0]+" was not found.", nil)
		return
	}
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	var all []queueMemberJSON
	s.state.convMu.Lock()
	for i := qu.index; i < len(s.dir.users); i += len(s.dir.queues) {
		u := &s.dir.users[i]
		st := &s.state.users[i]
		st.mu.Lock()
		rs := routingStatusJSON{UserID: u.ID, Status: st.routingStatus, StartTime: st.routingSinceText}
		st.mu.Unlock()
		all = append(all, queueMemberJSON{ID: u.ID, Name: u.Name, User: userJSONOf(u), RingNumber: 1,
			Joined: s.state.acd.agents[i].joined, MemberBy: "user", RoutingStatus: rs, SelfURI: "/api/v2/users/" + u.ID})
	}
	s.state.convMu.Unlock()
	l := page(c.route.template, q, all, size, number)
	// QueueMemberEntityListing has no total, pageCount or lastUri.
	s.writeJSON(c, http.StatusOK, struct {
		Entities    []queueMemberJSON `json:"entities"`
		PageNumber  int               `json:"pageNumber"`
		PageSize    int               `json:"pageSize"`
		FirstURI    string            `json:"firstUri"`
		NextURI     string            `json:"nextUri,omitempty"`
		PreviousURI string            `json:"previousUri,omitempty"`
		SelfURI     string            `json:"selfUri"`
	}{l.Entities, l.PageNumber, l.PageSize, l.FirstURI, l.NextURI, l.PreviousURI, l.SelfURI})
}

// postQueueObservations is POST /api/v2/analytics/queues/observations/query:
// oWaiting (queued, not offered), oAlerting, oInteracting (an agent
// connected) and oOnQueueUsers (members On Queue, qualified by routing
// status) of the queues in filter.predicates (dimension queueId), in the
// SDK's QueueObservationQueryResponse shape.
func (s *Server) postQueueObservations(c *reqCtx) {
	var body struct {
		Filter struct {
			Type       string `json:"type"`
			Predicates []struct {
				Type      string `json:"type"`
				Dimension string `json:"dimension"`
				Operator  string `json:"operator"`
				Value     string `json:"value"`
			} `json:"predicates"`
			Clauses []any `json:"clauses"`
		} `json:"filter"`
		Metrics       []string `json:"metrics"`
		DetailMetrics []string `json:"detailMetrics"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	var queues []*Queue
	for k, p := range body.Filter.Predicates {
		if p.Dimension != "queueId" {
			s.badRequest(c, fmt.Sprintf("filter.predicates[%d].dimension %q: the simulator filters on queueId", k, p.Dimension))
			return
		}
		q := s.dir.queueByID[p.Value]
		if q == nil {
			s.badRequest(c, fmt.Sprintf("filter.predicates[%d].value %q: not a queue of this organization", k, p.Value))
			return
		}
		queues = append(queues, q)
	}
	if len(queues) == 0 {
		s.badRequest(c, "filter.predicates: name at least one queue ({\"dimension\":\"queueId\",\"value\":\"<id>\"})")
		return
	}
	want := map[string]bool{}
	for _, m := range body.Metrics {
		want[m] = true
	}
	type result struct {
		Group map[string]string  `json:"group"`
		Data  []observationDatum `json:"data"`
	}
	out := struct {
		Results []result `json:"results"`
	}{Results: []result{}}
	s.state.convMu.Lock()
	for k, f := range s.figuresLocked(queues) {
		out.Results = append(out.Results, result{Group: map[string]string{"queueId": queues[k].ID, "mediaType": "voice"}, Data: f.metrics(want)})
	}
	s.state.convMu.Unlock()
	s.writeJSON(c, http.StatusOK, out)
}
