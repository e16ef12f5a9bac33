package gcsim

import (
	"net/http"
	"strings"
)

// Route family routing.queues: GET /api/v2/routing/queues[/{id}].

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
	name := q.Get("name")
	var match []*Queue
	for i := range s.dir.queues {
		if name == "" || nameMatches(name, s.dir.queues[i].Name) {
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

// nameMatches applies a queue name filter as the Routing API documents it:
// the exact name, with leading and trailing asterisks allowed as
// wildcards. Case is ignored (Genesys does not say).
func nameMatches(pattern, name string) bool {
	p, n := strings.ToLower(pattern), strings.ToLower(name)
	lead, trail := strings.HasPrefix(p, "*"), len(p) > 1 && strings.HasSuffix(p, "*")
	core := strings.Trim(p, "*")
	switch {
	case lead && trail:
		return strings.Contains(n, core)
	case lead:
		return strings.HasSuffix(n, core)
	case trail:
		return strings.HasPrefix(n, core)
	}
	return n == core
}
