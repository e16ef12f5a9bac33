package gcsim

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/gcsim/internal/streaming"
)

// orgState is the mutable part of the organization.
type orgState struct {
	users []userState // by directory index

	convMu    sync.Mutex
	convs     map[string]*conversation
	convOrder []string // oldest first, bounded by maxConversations
	screens   map[string]string
	active    atomic.Int64 // active screen recordings
	callSeq   atomic.Int64

	chanMu    sync.Mutex
	chanToken map[string]*token // channel id -> token that created it
	chanSeq   int
}

const maxConversations = 100_000

// isoMillis is Genesys' date format.
const isoMillis = "2006-01-02T15:04:05.000Z"

type userState struct {
	mu            sync.Mutex
	presenceID    string
	presenceMsg   string
	presenceSince time.Time
	routingStatus string
	routingSince  time.Time
	// routingSinceText is routingSince formatted once, for the hot GET.
	routingSinceText string
}

type conversation struct {
	ID             string
	QueueID        string
	UserID         string
	RecordingState string
	Start          time.Time
}

func newOrgState(d *directory) *orgState {
	o := &orgState{users: make([]userState, len(d.users)), convs: map[string]*conversation{}, screens: map[string]string{},
		chanToken: map[string]*token{}}
	offline := ""
	for _, p := range d.presences {
		if p.SystemPresence == "OFFLINE" {
			offline = p.ID
		}
	}
	if offline == "" && len(d.presences) > 0 {
		offline = d.presences[0].ID
	}
	for i := range o.users {
		o.users[i].presenceID = offline
		o.users[i].routingStatus = "OFF_QUEUE"
		o.users[i].routingSinceText = time.Unix(0, 0).UTC().Format(isoMillis)
	}
	return o
}

// user finds the {id} user ("me" is not a parameter here) or answers 404.
func (s *Server) user(c *reqCtx) (*User, *userState) {
	u := s.dir.byID[c.params[0]]
	if u == nil {
		s.writeError(c, http.StatusNotFound, "not.found", "The user "+c.params[0]+" was not found.",
			&errorExtra{details: []ErrorDetail{{ErrorCode: "user.not.found", EntityID: c.params[0]}}})
		return nil, nil
	}
	return u, &s.state.users[u.index]
}

// paging reads pageSize and pageNumber like Genesys (defaults 25 and 1,
// pageSize at most 500).
func paging(q url.Values) (size, number int, err error) {
	size, number = 25, 1
	if v := q.Get("pageSize"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 500 {
			return 0, 0, fmt.Errorf("pageSize %q: must be an integer from 1 to 500", v)
		}
	}
	if v := q.Get("pageNumber"); v != "" {
		if number, err = strconv.Atoi(v); err != nil || number < 1 {
			return 0, 0, fmt.Errorf("pageNumber %q: must be an integer >= 1", v)
		}
	}
	return size, number, nil
}

// listing is the SDK's paged entity listing.
type listing[T any] struct {
	Entities    []T    `json:"entities"`
	PageSize    int    `json:"pageSize"`
	PageNumber  int    `json:"pageNumber"`
	Total       int    `json:"total"`
	PageCount   int    `json:"pageCount"`
	FirstURI    string `json:"firstUri"`
	SelfURI     string `json:"selfUri"`
	NextURI     string `json:"nextUri,omitempty"`
	PreviousURI string `json:"previousUri,omitempty"`
	LastURI     string `json:"lastUri"`
}

func page[T any](path string, q url.Values, all []T, size, number int) listing[T] {
	total := len(all)
	pages := (total + size - 1) / size
	lo := min((number-1)*size, total)
	hi := min(lo+size, total)
	uri := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("pageSize", strconv.Itoa(size))
		v.Set("pageNumber", strconv.Itoa(n))
		return path + "?" + v.Encode()
	}
	l := listing[T]{Entities: all[lo:hi], PageSize: size, PageNumber: number, Total: total, PageCount: pages,
		FirstURI: uri(1), SelfURI: uri(number), LastURI: uri(max(pages, 1))}
	if number < pages {
		l.NextURI = uri(number + 1)
	}
	if number > 1 {
		l.PreviousURI = uri(number - 1)
	}
	if l.Entities == nil {
		l.Entities = []T{}
	}
	return l
}

func (s *Server) badRequest(c *reqCtx, msg string) {
	s.writeError(c, http.StatusBadRequest, "bad.request", msg, nil)
}

type queueJSON struct {
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
	AutoAnswerOnly        bool        `json:"autoAnswerOnly"`
	EnableTranscription   bool        `json:"enableTranscription"`
	SelfURI               string      `json:"selfUri"`
}

type acwSettings struct {
	WrapupPrompt string `json:"wrapupPrompt"`
	TimeoutMs    int    `json:"timeoutMs"`
}

type idName struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	SelfURI string `json:"selfUri,omitempty"`
}

// homeDivision is the organization's default division.
var homeDivision = idName{ID: "00000000-0000-4000-b000-000000000001", Name: "Home", SelfURI: "/api/v2/authorization/divisions/00000000-0000-4000-b000-000000000001"}

// created is the simulated creation date of directory objects.
const created = "2024-01-01T00:00:00.000Z"

func (s *Server) queueJSON(q *Queue) queueJSON {
	// Agent i is a member of queue i % queues.
	nq, na := max(len(s.dir.queues), 1), len(s.dir.users)
	n := na / nq
	if q.index < na%nq {
		n++
	}
	return queueJSON{ID: q.ID, Name: q.Name, Division: homeDivision, Description: "Simulated queue",
		DateCreated: created, DateModified: created, ModifiedBy: "gcsim", CreatedBy: "gcsim",
		MemberCount: n, UserMemberCount: n, JoinedMemberCount: n,
		ACWSettings: acwSettings{WrapupPrompt: "OPTIONAL", TimeoutMs: 30000}, SkillEvaluationMethod: "ALL",
		SelfURI: "/api/v2/routing/queues/" + q.ID}
}

func (s *Server) getQueues(c *reqCtx) {
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	name := strings.ToLower(strings.TrimSuffix(q.Get("name"), "*"))
	var match []*Queue
	for i := range s.dir.queues {
		if name == "" || strings.HasPrefix(strings.ToLower(s.dir.queues[i].Name), name) {
			match = append(match, &s.dir.queues[i])
		}
	}
	// Build JSON for the requested page only.
	l := page("/api/v2/routing/queues", q, match, size, number)
	out := listing[queueJSON]{PageSize: l.PageSize, PageNumber: l.PageNumber, Total: l.Total, PageCount: l.PageCount,
		FirstURI: l.FirstURI, SelfURI: l.SelfURI, NextURI: l.NextURI, PreviousURI: l.PreviousURI, LastURI: l.LastURI,
		Entities: make([]queueJSON, len(l.Entities))}
	for i, qu := range l.Entities {
		out.Entities[i] = s.queueJSON(qu)
	}
	s.writeJSON(c, http.StatusOK, out)
}

func (s *Server) getQueue(c *reqCtx) {
	qu := s.dir.queueByID[c.params[0]]
	if qu == nil {
		s.writeError(c, http.StatusNotFound, "not.found", "The queue "+c.params[0]+" was not found.", nil)
		return
	}
	s.writeJSON(c, http.StatusOK, s.queueJSON(qu))
}

type userJSON struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Division      idName `json:"division"`
	Email         string `json:"email"`
	State         string `json:"state"`
	Title         string `json:"title"`
	Department    string `json:"department"`
	Username      string `json:"username"`
	Version       int    `json:"version"`
	AcdAutoAnswer bool   `json:"acdAutoAnswer"`
	SelfURI       string `json:"selfUri"`
}

func userJSONOf(u *User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Division: homeDivision, Email: u.Email, State: "active",
		Title: "Agent", Department: "Contact Center", Username: u.Email, Version: 1, SelfURI: "/api/v2/users/" + u.ID}
}

func (s *Server) getUsers(c *reqCtx) {
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	lo := min((number-1)*size, len(s.dir.users))
	hi := min(lo+size, len(s.dir.users))
	ents := make([]userJSON, 0, hi-lo)
	for i := lo; i < hi; i++ {
		ents = append(ents, userJSONOf(&s.dir.users[i]))
	}
	// Paging fields from a slice of empty structs: no per-user allocation.
	l := page("/api/v2/users", q, make([]struct{}, len(s.dir.users)), size, number)
	s.writeJSON(c, http.StatusOK, listing[userJSON]{Entities: ents, PageSize: l.PageSize, PageNumber: l.PageNumber,
		Total: l.Total, PageCount: l.PageCount, FirstURI: l.FirstURI, SelfURI: l.SelfURI, NextURI: l.NextURI,
		PreviousURI: l.PreviousURI, LastURI: l.LastURI})
}

func (s *Server) getUser(c *reqCtx) {
	if u, _ := s.user(c); u != nil {
		s.writeJSON(c, http.StatusOK, userJSONOf(u))
	}
}

func (s *Server) getMe(c *reqCtx) { s.writeJSON(c, http.StatusOK, userJSONOf(c.tok.user)) }

type presenceJSON struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	Source             string          `json:"source"`
	SourceID           string          `json:"sourceId"`
	Primary            bool            `json:"primary"`
	Message            string          `json:"message"`
	PresenceDefinition presenceDefJSON `json:"presenceDefinition"`
	ModifiedDate       string          `json:"modifiedDate"`
	SelfURI            string          `json:"selfUri"`
}

type presenceDefJSON struct {
	ID             string `json:"id"`
	SystemPresence string `json:"systemPresence"`
	SelfURI        string `json:"selfUri"`
}

func (s *Server) presenceJSON(u *User, source string, st *userState) presenceJSON {
	pd := s.dir.presByID[st.presenceID]
	def := presenceDefJSON{ID: st.presenceID, SelfURI: "/api/v2/presencedefinitions/" + st.presenceID}
	if pd != nil {
		def.SystemPresence = pd.Name
	}
	mod := st.presenceSince
	if mod.IsZero() {
		mod = time.Unix(0, 0)
	}
	return presenceJSON{ID: source, Name: source, Source: source, SourceID: source, Primary: true, Message: st.presenceMsg,
		PresenceDefinition: def, ModifiedDate: mod.UTC().Format("2006-01-02T15:04:05.000Z"),
		SelfURI: "/api/v2/users/" + u.ID + "/presences/" + source}
}

func (s *Server) getPresence(c *reqCtx) {
	u, st := s.user(c)
	if u == nil {
		return
	}
	st.mu.Lock()
	p := s.presenceJSON(u, c.params[1], st)
	st.mu.Unlock()
	s.writeJSON(c, http.StatusOK, p)
}

func (s *Server) patchPresence(c *reqCtx) {
	u, st := s.user(c)
	if u == nil {
		return
	}
	if !strings.EqualFold(c.params[1], "purecloud") {
		s.writeError(c, http.StatusNotFound, "not.found", "The presence source "+c.params[1]+" was not found; use purecloud.", nil)
		return
	}
	var body struct {
		PresenceDefinition *struct {
			ID string `json:"id"`
		} `json:"presenceDefinition"`
		Message *string `json:"message"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if body.PresenceDefinition == nil || body.PresenceDefinition.ID == "" {
		s.writeError(c, http.StatusBadRequest, "bad.request", "presenceDefinition.id is required",
			&errorExtra{details: []ErrorDetail{{ErrorCode: "missing.field", FieldName: "presenceDefinition.id"}}})
		return
	}
	pd := s.dir.presByID[body.PresenceDefinition.ID]
	if pd == nil {
		s.writeError(c, http.StatusBadRequest, "bad.request", "presenceDefinition.id "+body.PresenceDefinition.ID+" is not a presence definition of this organization (GET /api/v2/presencedefinitions lists them)", nil)
		return
	}
	st.mu.Lock()
	st.presenceID = pd.ID
	if body.Message != nil {
		st.presenceMsg = *body.Message
	}
	st.presenceSince = c.nowTime
	p := s.presenceJSON(u, "PURECLOUD", st)
	st.mu.Unlock()
	s.writeJSON(c, http.StatusOK, p)
	s.hub.Publish("v2.users."+u.ID+".presence", map[string]any{
		"source":             "PURECLOUD",
		"presenceDefinition": map[string]string{"id": pd.ID, "systemPresence": pd.Name},
		"message":            p.Message,
		"modifiedDate":       p.ModifiedDate,
	}, c.corr)
}

type routingStatusJSON struct {
	UserID    string `json:"userId"`
	Status    string `json:"status"`
	StartTime string `json:"startTime"`
}

var routingStatuses = []string{"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"}

func (s *Server) getRoutingStatus(c *reqCtx) {
	u, st := s.user(c)
	if u == nil {
		return
	}
	st.mu.Lock()
	status, since := st.routingStatus, st.routingSinceText
	st.mu.Unlock()
	// Hand-written: this is the benchmark's hot GET.
	c.buf.Reset()
	c.buf.Grow(256) // keeps the pooled buffer's capacity: no allocation below
	b := c.buf.AvailableBuffer()
	b = append(b, `{"userId":"`...)
	b = append(b, u.ID...)
	b = append(b, `","status":"`...)
	b = append(b, status...)
	b = append(b, `","startTime":"`...)
	b = append(b, since...)
	b = append(b, "\"}\n"...)
	s.writeRaw(c, http.StatusOK, b)
}

func (s *Server) putRoutingStatus(c *reqCtx) {
	u, st := s.user(c)
	if u == nil {
		return
	}
	var body struct {
		Status    string `json:"status"`
		StartTime string `json:"startTime"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	valid := false
	for _, v := range routingStatuses {
		valid = valid || v == body.Status
	}
	if !valid {
		s.writeError(c, http.StatusBadRequest, "bad.request", fmt.Sprintf("status %q: want one of %s", body.Status, strings.Join(routingStatuses, ", ")),
			&errorExtra{details: []ErrorDetail{{ErrorCode: "invalid.value", FieldName: "status"}}})
		return
	}
	start := c.nowTime
	if body.StartTime != "" {
		t, err := time.Parse(time.RFC3339Nano, body.StartTime)
		if err != nil {
			s.badRequest(c, fmt.Sprintf("startTime %q: want ISO-8601, e.g. 2026-01-02T15:04:05.000Z", body.StartTime))
			return
		}
		start = t
	}
	st.mu.Lock()
	out := routingStatusJSON{UserID: u.ID, Status: body.Status, StartTime: start.UTC().Format(isoMillis)}
	st.routingStatus, st.routingSince, st.routingSinceText = body.Status, start, out.StartTime
	st.mu.Unlock()
	s.writeJSON(c, http.StatusOK, out)
	s.hub.Publish("v2.users."+u.ID+".routingStatus", map[string]any{"routingStatus": out}, c.corr)
}

func (s *Server) getPresenceDefinitions(c *reqCtx) {
	type def struct {
		ID             string            `json:"id"`
		Name           string            `json:"name"`
		LanguageLabels map[string]string `json:"languageLabels"`
		SystemPresence string            `json:"systemPresence"`
		Deactivated    bool              `json:"deactivated"`
		Primary        bool              `json:"primary"`
		SelfURI        string            `json:"selfUri"`
	}
	all := make([]def, len(s.dir.presences))
	for i, p := range s.dir.presences {
		all[i] = def{ID: p.ID, Name: p.Name, LanguageLabels: map[string]string{"en_US": p.Name}, SystemPresence: p.Name,
			Primary: true, SelfURI: "/api/v2/presencedefinitions/" + p.ID}
	}
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	s.writeJSON(c, http.StatusOK, page(c.route.template, q, all, size, number))
}

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
			&errorExtra{details: []ErrorDetail{{ErrorCode: "missing.field", FieldName: "phoneNumber"}}})
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
			&errorExtra{details: []ErrorDetail{{ErrorCode: "invalid.value", FieldName: "recordingState"}}})
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
			&errorExtra{details: []ErrorDetail{{ErrorCode: "invalid.value", FieldName: "interval"}}})
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

// getTokenMe is GET /api/v2/tokens/me.
func (s *Server) getTokenMe(c *reqCtx) {
	t := c.tok
	out := map[string]any{
		"organization":      map[string]string{"id": s.profile.Org.ID, "name": s.profile.Org.Name},
		"OAuthClient":       map[string]any{"id": t.client.ID, "name": t.client.Name, "organization": map[string]string{"id": s.profile.Org.ID}},
		"authorizedScope":   []string{},
		"authenticatedUser": nil,
		"expirationDate":    time.Unix(0, t.expires).UTC().Format("2006-01-02T15:04:05.000Z"),
		"dateCreated":       time.Unix(0, t.issued).UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if t.user != nil {
		out["authenticatedUser"] = map[string]string{"id": t.user.ID, "selfUri": "/api/v2/users/" + t.user.ID}
	}
	s.writeJSON(c, http.StatusOK, out)
}

// deleteTokenMe is DELETE /api/v2/tokens/me: it revokes the request's token.
func (s *Server) deleteTokenMe(c *reqCtx) {
	c.tok.revoked.Store(true)
	s.writeStatus(c, http.StatusNoContent)
}

// Notification channels: the REST side of the hub.

func (s *Server) postChannel(c *reqCtx) {
	// The connectUri uses the host the client called, so it is right behind
	// a port forward or when the handler is mounted elsewhere.
	wsBase := s.wsURL
	if c.r.Host != "" {
		wsBase = "ws://" + c.r.Host
	}
	ch, err := s.hub.CreateChannel(c.tok.owner(s.profile.Org.ID), wsBase)
	if err != nil {
		s.hubError(c, err)
		return
	}
	s.state.chanMu.Lock()
	s.state.chanToken[ch.ID] = c.tok
	if s.state.chanSeq++; s.state.chanSeq%1024 == 0 { // forget evicted and expired channels
		for id := range s.state.chanToken {
			if _, ok := s.hub.Channel(id); !ok {
				delete(s.state.chanToken, id)
			}
		}
	}
	s.state.chanMu.Unlock()
	s.writeJSON(c, http.StatusOK, ch)
}

// getChannels is GET /api/v2/notifications/channels: the channels created
// with the caller's token, or with ?includechannels=oauthclient those of
// its OAuth client and user.
func (s *Server) getChannels(c *reqCtx) {
	var include string
	switch v := strings.ToLower(c.r.URL.Query().Get("includechannels")); v {
	case "", "token", "oauthclient":
		include = v
	default:
		s.badRequest(c, fmt.Sprintf("includechannels %q: want token or oauthclient", v))
		return
	}
	owner := c.tok.owner(s.profile.Org.ID)
	ents := []streaming.Channel{}
	s.state.chanMu.Lock()
	for id, t := range s.state.chanToken {
		ch, ok := s.hub.Channel(id)
		if !ok {
			delete(s.state.chanToken, id) // evicted or expired
			continue
		}
		if t == c.tok || (include == "oauthclient" && ch.Owner == owner) {
			ents = append(ents, ch)
		}
	}
	s.state.chanMu.Unlock()
	sort.Slice(ents, func(i, j int) bool { return ents[i].ID < ents[j].ID })
	s.writeJSON(c, http.StatusOK, map[string]any{"entities": ents})
}

// channel finds channel {id} of the caller or answers 404.
func (s *Server) channel(c *reqCtx) bool {
	ch, ok := s.hub.Channel(c.params[0])
	if !ok || (ch.Owner != "" && ch.Owner != c.tok.owner(s.profile.Org.ID)) {
		s.writeError(c, http.StatusNotFound, "not.found", "The channel "+c.params[0]+" was not found.", nil)
		return false
	}
	return true
}

func (s *Server) headChannel(c *reqCtx) {
	if _, ok := s.hub.Channel(c.params[0]); !ok {
		s.writeStatus(c, http.StatusNotFound)
		return
	}
	s.writeStatus(c, http.StatusOK)
}

func (s *Server) hubError(c *reqCtx, err error) {
	switch {
	case errors.Is(err, streaming.ErrChannelNotFound):
		s.writeError(c, http.StatusNotFound, "not.found", "The channel "+c.params[0]+" was not found.", nil)
	case errors.Is(err, streaming.ErrTooManyTopics):
		s.writeError(c, http.StatusBadRequest, "bad.request", err.Error(), nil)
	case errors.Is(err, streaming.ErrClosed):
		s.writeError(c, http.StatusServiceUnavailable, "service.unavailable", "The notification service is shutting down.", nil)
	default:
		s.writeError(c, http.StatusBadRequest, "bad.request", err.Error(), nil)
	}
}

func (s *Server) writeSubscriptions(c *reqCtx, subs []streaming.Subscription, err error) {
	if err != nil {
		s.hubError(c, err)
		return
	}
	if subs == nil {
		subs = []streaming.Subscription{}
	}
	s.writeJSON(c, http.StatusOK, map[string]any{"entities": subs})
}

func (s *Server) getSubscriptions(c *reqCtx) {
	if !s.channel(c) {
		return
	}
	subs, err := s.hub.Subscriptions(c.params[0])
	s.writeSubscriptions(c, subs, err)
}

func (s *Server) readTopics(c *reqCtx) ([]string, bool) {
	var body []struct {
		ID string `json:"id"`
	}
	if !s.readJSON(c, &body, false) {
		return nil, false
	}
	topics := make([]string, len(body))
	for i, t := range body {
		topics[i] = t.ID
	}
	return topics, true
}

func (s *Server) postSubscriptions(c *reqCtx) { s.subscribe(c, false) }
func (s *Server) putSubscriptions(c *reqCtx)  { s.subscribe(c, true) }

func (s *Server) subscribe(c *reqCtx, replace bool) {
	if !s.channel(c) {
		return
	}
	topics, ok := s.readTopics(c)
	if !ok {
		return
	}
	subs, err := s.hub.Subscribe(c.params[0], topics, replace)
	s.writeSubscriptions(c, subs, err)
}

func (s *Server) deleteSubscriptions(c *reqCtx) {
	if !s.channel(c) {
		return
	}
	if err := s.hub.Unsubscribe(c.params[0]); err != nil {
		s.hubError(c, err)
		return
	}
	s.writeStatus(c, http.StatusNoContent)
}

// serveWS is GET /channels/{id} on the streaming host.
func (s *Server) serveWS(c *reqCtx) {
	s.wsMu.Lock()
	if s.closed.Load() {
		s.wsMu.Unlock()
		s.writeError(c, http.StatusServiceUnavailable, "service.unavailable", "The server is closing.", nil)
		return
	}
	s.wsWG.Add(1)
	s.wsMu.Unlock()
	defer s.wsWG.Done()
	w := &wsWriter{ResponseWriter: c.w}
	s.hub.ServeWS(w, c.r, c.params[0])
	c.status = w.status
	if w.hijacked {
		c.status = http.StatusSwitchingProtocols
	}
	s.stats.count(c)
}

// wsWriter records what the hub answered: an upgrade (hijack) or a status.
type wsWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *wsWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *wsWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *wsWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("gcsim: the response writer cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *wsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
