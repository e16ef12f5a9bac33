package gcsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cxload/cxload/harness/genesys"
)

// Route families users, users.presences, users.routingstatus and
// presencedefinitions: the directory and each user's presence and routing status.

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
	// With expand=presence and expand=routingStatus.
	Presence      *presenceJSON      `json:"presence,omitempty"`
	RoutingStatus *routingStatusJSON `json:"routingStatus,omitempty"`
}

// expandUser adds the parts of u that the query's expand asks for
// (presence, routingStatus; other expansions are not modelled and left
// out).
func (s *Server) expandUser(out *userJSON, u *User, q url.Values) {
	var presence, routing bool
	for _, v := range q["expand"] {
		for e := range strings.SplitSeq(v, ",") {
			presence = presence || e == "presence"
			routing = routing || e == "routingStatus"
		}
	}
	if !presence && !routing {
		return
	}
	st := &s.state.users[u.index]
	st.mu.Lock()
	defer st.mu.Unlock()
	if presence {
		p := s.presenceJSON(u, presenceSource, st)
		out.Presence = &p
	}
	if routing {
		out.RoutingStatus = &routingStatusJSON{UserID: u.ID, Status: st.routingStatus, StartTime: st.routingSinceText}
	}
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
	// id (repeated or comma-separated) lists the users wanted; unknown ids
	// are left out.
	var only []*User
	for _, v := range q["id"] {
		for id := range strings.SplitSeq(v, ",") {
			if u := s.dir.byID[id]; u != nil {
				only = append(only, u)
			}
		}
	}
	n := len(s.dir.users)
	if q.Has("id") {
		n = len(only)
	}
	at := func(i int) *User {
		if q.Has("id") {
			return only[i]
		}
		return &s.dir.users[i]
	}
	lo := min((number-1)*size, n)
	hi := min(lo+size, n)
	ents := make([]userJSON, 0, hi-lo)
	for i := lo; i < hi; i++ {
		u := userJSONOf(at(i))
		s.expandUser(&u, at(i), q)
		ents = append(ents, u)
	}
	// Paging fields from a slice of empty structs: no per-user allocation.
	l := page("/api/v2/users", q, make([]struct{}, n), size, number)
	s.writeJSON(c, http.StatusOK, listing[userJSON]{Entities: ents, PageSize: l.PageSize, PageNumber: l.PageNumber,
		Total: l.Total, PageCount: l.PageCount, FirstURI: l.FirstURI, SelfURI: l.SelfURI, NextURI: l.NextURI,
		PreviousURI: l.PreviousURI, LastURI: l.LastURI})
}

func (s *Server) getUser(c *reqCtx) {
	if u, _ := s.user(c); u != nil {
		out := userJSONOf(u)
		s.expandUser(&out, u, c.r.URL.Query())
		s.writeJSON(c, http.StatusOK, out)
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
	return presenceJSON{ID: source, Name: source, Source: source, SourceID: source, Primary: true, Message: st.presenceMsg,
		PresenceDefinition: def, ModifiedDate: st.presenceSince.UTC().Format(isoMillis),
		SelfURI: "/api/v2/users/" + u.ID + "/presences/" + source}
}

func (s *Server) getPresence(c *reqCtx) {
	u, st := s.user(c)
	if u == nil {
		return
	}
	if !strings.EqualFold(c.params[1], "purecloud") {
		s.writeError(c, http.StatusNotFound, "not.found", "The presence source "+c.params[1]+" was not found; use purecloud.", nil)
		return
	}
	st.mu.Lock()
	p := s.presenceJSON(u, presenceSource, st)
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
	// Genesys documents three bodies, combinable: a presenceDefinition, a
	// message alone, or primary (this source is the only one, always
	// primary).
	var body struct {
		PresenceDefinition *struct {
			ID string `json:"id"`
		} `json:"presenceDefinition"`
		Message *string `json:"message"`
		Primary *bool   `json:"primary"`
	}
	if !s.readJSON(c, &body, false) {
		return
	}
	if body.PresenceDefinition == nil && body.Message == nil && body.Primary == nil {
		s.writeError(c, http.StatusBadRequest, "bad.request", "the body needs presenceDefinition.id, message or primary",
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "missing.field", FieldName: "presenceDefinition.id"}}})
		return
	}
	var pd *PresenceDefinition
	if body.PresenceDefinition != nil {
		if body.PresenceDefinition.ID == "" {
			s.writeError(c, http.StatusBadRequest, "bad.request", "presenceDefinition.id is required in a presenceDefinition",
				&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "missing.field", FieldName: "presenceDefinition.id"}}})
			return
		}
		if pd = s.dir.presByID[body.PresenceDefinition.ID]; pd == nil {
			s.writeError(c, http.StatusBadRequest, "bad.request", "presenceDefinition.id "+body.PresenceDefinition.ID+" is not a presence definition of this organization (GET /api/v2/presence/definitions lists them)", nil)
			return
		}
	}
	if body.Primary != nil && !*body.Primary {
		s.badRequest(c, "primary false: PURECLOUD is the simulator's only presence source, so it stays primary")
		return
	}
	st.mu.Lock()
	if pd != nil {
		st.presenceID = pd.ID
	} else if pd = s.dir.presByID[st.presenceID]; pd == nil {
		st.mu.Unlock()
		s.badRequest(c, "the user has no presence definition to keep; send presenceDefinition.id")
		return
	}
	if body.Message != nil {
		st.presenceMsg = *body.Message
	}
	st.presenceSince = c.nowTime
	p := s.presenceJSON(u, presenceSource, st)
	st.mu.Unlock()
	s.writeJSON(c, http.StatusOK, p)
	s.hub.Publish("v2.users."+u.ID+".presence", map[string]any{
		"source":             "PURECLOUD",
		"presenceDefinition": map[string]string{"id": pd.ID, "systemPresence": pd.Name},
		"message":            p.Message,
		"modifiedDate":       p.ModifiedDate,
	}, s.eventCorr(c.corr))
	if body.PresenceDefinition == nil {
		return // a message or primary alone leaves the routing status as it is
	}
	// The system derives the routing status from the presence: On Queue is
	// IDLE (or INTERACTING with calls), anything else OFF_QUEUE.
	ev := &events{corr: c.corr}
	s.setOnQueue(u.index, pd.SystemPresence == onQueuePresence, c.nowTime, ev)
	s.publish(ev)
}

// presenceSource is the source of the presences the API sets.
const presenceSource = "PURECLOUD"

// onQueuePresence is the SystemPresence of the On Queue definition.
const onQueuePresence = "ON_QUEUE"

type routingStatusJSON struct {
	UserID    string `json:"userId"`
	Status    string `json:"status"`
	StartTime string `json:"startTime"`
}

var routingStatuses = []string{"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"}

// getRoutingStatus is GET /api/v2/users/{id}/routingstatus. An unknown
// user is OFF_QUEUE, as the SDK's RoutingStatus documents.
func (s *Server) getRoutingStatus(c *reqCtx) {
	var status, since string
	id := c.params[0]
	if u := s.dir.byID[id]; u != nil {
		st := &s.state.users[u.index]
		st.mu.Lock()
		status, since = st.routingStatus, st.routingSinceText
		st.mu.Unlock()
	} else if validUserID(id) {
		status = "OFF_QUEUE" // no startTime: the user never was in it
	} else {
		s.badRequest(c, fmt.Sprintf("user id %q: not a user id (letters, digits and '-', at most 64)", id))
		return
	}
	// Hand-written: this is the benchmark's hot GET.
	c.buf.Reset()
	c.buf.Grow(256) // keeps the pooled buffer's capacity: no allocation below
	b := c.buf.AvailableBuffer()
	b = append(b, `{"userId":"`...)
	b = append(b, id...)
	b = append(b, `","status":"`...)
	b = append(b, status...)
	if since != "" {
		b = append(b, `","startTime":"`...)
		b = append(b, since...)
	}
	b = append(b, "\"}\n"...)
	s.writeRaw(c, http.StatusOK, b)
}

// putRoutingStatus is PUT /api/v2/users/{id}/routingstatus. Routing
// status is set by the system ("users cannot directly change routing
// statuses"): the simulator takes the current status (no change) and IDLE
// for an On Queue agent that is NOT_RESPONDING; anything else is 400,
// naming the presence change that does it.
func (s *Server) putRoutingStatus(c *reqCtx) {
	u, st := s.user(c)
	if u == nil {
		return
	}
	var body struct {
		Status    string `json:"status"`
		StartTime string `json:"startTime"`
		UserID    string `json:"userId"`
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
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "invalid.value", FieldName: "status"}}})
		return
	}
	ev := &events{corr: c.corr}
	s.state.convMu.Lock()
	a := &s.state.acd.agents[u.index]
	cur := s.routingStatus(a)
	ok := body.Status == cur
	if body.Status == "IDLE" && cur == "NOT_RESPONDING" && a.acd == 0 && a.direct == 0 {
		a.notResponding, ok = false, true
		if s.refreshLocked(u.index, c.nowTime, ev) {
			if q := s.queueIndexOf(u.index); q >= 0 {
				s.dispatchLocked(q, c.nowTime, ev)
			}
		}
	}
	st.mu.Lock()
	out := routingStatusJSON{UserID: u.ID, Status: st.routingStatus, StartTime: st.routingSinceText}
	st.mu.Unlock()
	s.state.convMu.Unlock()
	if !ok {
		s.writeError(c, http.StatusBadRequest, "bad.request", fmt.Sprintf(
			"routing status %s -> %s: routing status is set by the system, not by clients; go on queue with PATCH "+
				"/api/v2/users/{id}/presences/purecloud to the On Queue presence (IDLE follows), leave it for OFF_QUEUE; "+
				"PUT takes only IDLE for an agent that is NOT_RESPONDING", cur, body.Status),
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "invalid.value", FieldName: "status"}}})
		return
	}
	s.writeJSON(c, http.StatusOK, out)
	s.publish(ev)
}

// validUserID reports whether id could be a user id.
func validUserID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// getPresenceDefinitions is GET /api/v2/presence/definitions, the SDK's
// unpaged OrganizationPresenceDefinitionEntityListing, and the deprecated
// GET /api/v2/presencedefinitions, a paged OrganizationPresenceEntityListing.
// A definition named like a system presence ("On Queue") is of type System
// with that systemPresence (OnQueue); any other name is a User definition
// without a systemPresence (a simulator has no base to give it).
func (s *Server) getPresenceDefinitions(c *reqCtx) {
	if c.route.template == "/api/v2/presence/definitions" {
		type def struct {
			ID             string            `json:"id"`
			Name           string            `json:"name"`
			Type           string            `json:"type"`
			LanguageLabels map[string]string `json:"languageLabels"`
			SystemPresence string            `json:"systemPresence,omitempty"`
			DivisionID     string            `json:"divisionId"`
			Deactivated    bool              `json:"deactivated"`
			SelfURI        string            `json:"selfUri"`
		}
		all := make([]def, len(s.dir.presences))
		for i, p := range s.dir.presences {
			sys := systemPresenceOf(p.Name)
			typ := "System"
			if sys == "" {
				typ = "User"
			}
			all[i] = def{ID: p.ID, Name: p.Name, Type: typ, LanguageLabels: map[string]string{"en_US": p.Name}, SystemPresence: sys,
				DivisionID: homeDivision.ID, SelfURI: "/api/v2/presence/definitions/" + p.ID}
		}
		s.writeJSON(c, http.StatusOK, struct {
			Total    int    `json:"total"`
			Entities []def  `json:"entities"`
			SelfURI  string `json:"selfUri"`
		}{len(all), all, c.route.template})
		return
	}
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

// systemPresences are the SDK's systemPresence values.
var systemPresences = []string{"Available", "Away", "Busy", "Offline", "Idle", "OnQueue", "Meal", "Training", "Meeting", "Break"}

// systemPresenceOf returns the system presence a definition's name spells
// ("On Queue", "ON_QUEUE" → "OnQueue"), or "".
func systemPresenceOf(name string) string {
	n := strings.NewReplacer(" ", "", "_", "").Replace(name)
	for _, sp := range systemPresences {
		if strings.EqualFold(n, sp) {
			return sp
		}
	}
	return ""
}
