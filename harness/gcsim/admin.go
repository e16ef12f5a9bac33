package gcsim

import (
	"fmt"
	"io"
	"net/http"
	"sort"

	json "github.com/go-json-experiment/json"
)

// limitJSON is one entry of the organization limits listings.
type limitJSON struct {
	Key       string `json:"key"`
	Namespace string `json:"namespace"`
	Value     int64  `json:"value"`
}

// visibleLimits returns the enabled, not hidden limits of namespace ns ("" = all),
// plus request.bytes.max in platform.api.
func visibleLimits(p *Profile, ns string) []limitJSON {
	var out []limitJSON
	for _, l := range p.Limits {
		if l.Disabled || l.Hidden || (ns != "" && l.Namespace != ns) {
			continue
		}
		out = append(out, limitJSON{Key: l.Key, Namespace: l.Namespace, Value: int64(l.Allowed)})
	}
	if ns == "" || ns == DefaultNamespace {
		out = append(out, limitJSON{Key: KeyRequestBytesMax, Namespace: DefaultNamespace, Value: p.RequestBytesMax})
	}
	return out
}

func namespaces(p *Profile) []string {
	set := map[string]bool{DefaultNamespace: true}
	for _, l := range p.Limits {
		if !l.Disabled && !l.Hidden {
			set[l.Namespace] = true
		}
	}
	var out []string
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// getLimitNamespaces is GET /api/v2/organizations/limits/namespaces.
func (s *Server) getLimitNamespaces(c *reqCtx) {
	type ns struct {
		Name string `json:"name"`
	}
	var ents []ns
	for _, n := range namespaces(s.profile) {
		ents = append(ents, ns{Name: n})
	}
	q := c.r.URL.Query()
	size, number, err := paging(q)
	if err != nil {
		s.badRequest(c, err.Error())
		return
	}
	s.writeJSON(c, http.StatusOK, page(c.route.template, q, ents, size, number))
}

func (s *Server) writeNamespace(c *reqCtx, p *Profile) {
	ns := c.params[0]
	found := false
	for _, n := range namespaces(s.profile) {
		found = found || n == ns
	}
	if !found {
		s.writeError(c, http.StatusNotFound, "not.found", "The limits namespace "+ns+" was not found.", nil)
		return
	}
	lims := visibleLimits(p, ns)
	if lims == nil {
		lims = []limitJSON{}
	}
	s.writeJSON(c, http.StatusOK, map[string]any{"entities": lims})
}

// getLimitNamespace is GET /api/v2/organizations/limits/namespaces/{namespace}:
// the effective limits (the profile's).
func (s *Server) getLimitNamespace(c *reqCtx) { s.writeNamespace(c, s.profile) }

// getLimitNamespaceDefaults is .../{namespace}/defaults: the platform
// defaults (DefaultProfile's values for the profile's keys).
func (s *Server) getLimitNamespaceDefaults(c *reqCtx) {
	d := DefaultProfile()
	byKey := map[string]Limit{}
	for _, l := range d.Limits {
		byKey[l.Key] = l
	}
	p := s.profile.clone()
	for i, l := range p.Limits {
		if dl, ok := byKey[l.Key]; ok {
			p.Limits[i].Allowed = dl.Allowed
		}
	}
	p.RequestBytesMax = d.RequestBytesMax
	s.writeNamespace(c, p)
}

// getLimitDocs is GET /api/v2/organizations/limits/docs.
func (s *Server) getLimitDocs(c *reqCtx) {
	type doc struct {
		Key         string `json:"key"`
		Namespace   string `json:"namespace"`
		Value       int64  `json:"value"`
		Scope       Scope  `json:"scope,omitempty"`
		Window      int64  `json:"windowSeconds,omitempty"`
		Description string `json:"description"`
	}
	var out []doc
	for _, l := range s.profile.Limits {
		if l.Disabled || l.Hidden {
			continue
		}
		out = append(out, doc{Key: l.Key, Namespace: l.Namespace, Value: int64(l.Allowed), Scope: l.Scope,
			Window:      ceilSeconds(int64(l.Window)),
			Description: fmt.Sprintf("%d requests per %s per %v", l.Allowed, l.Scope, l.Window.Std())})
	}
	out = append(out, doc{Key: KeyRequestBytesMax, Namespace: DefaultNamespace, Value: s.profile.RequestBytesMax,
		Description: "largest request body, in bytes"})
	s.writeJSON(c, http.StatusOK, map[string]any{"entities": out})
}

// serveAdmin serves the admin paths, outside /api/v2 and without auth or limits:
//
//	GET  /admin/stats          Stats as JSON
//	GET  /admin/faults         the active Faults
//	PUT  /admin/faults         replace the Faults (POST works too)
//	POST /admin/reset          empty every rate-limit window and zero the counters
//	POST /admin/revoke         {"token": "..."} or {"clientId": "..."}: revoke tokens
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	c := &reqCtx{s: s, w: w, r: r, corr: newCorrelationID()}
	w.Header()[hdrCorrelation] = []string{c.corr}
	switch {
	case r.URL.Path == "/admin/stats" && r.Method == http.MethodGet:
		s.writeJSON(c, http.StatusOK, s.Stats())
	case r.URL.Path == "/admin/faults" && r.Method == http.MethodGet:
		s.writeJSON(c, http.StatusOK, s.Faults())
	case r.URL.Path == "/admin/faults" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		var f Faults
		if !s.readAdmin(c, &f) {
			return
		}
		if err := f.validate("faults"); err != nil {
			s.badRequest(c, err.Error())
			return
		}
		s.SetFaults(f)
		s.writeJSON(c, http.StatusOK, s.Faults())
	case r.URL.Path == "/admin/reset" && r.Method == http.MethodPost:
		s.Reset()
		s.writeStatus(c, http.StatusNoContent)
	case r.URL.Path == "/admin/revoke" && r.Method == http.MethodPost:
		var body struct {
			Token    Secret `json:"token"`
			ClientID string `json:"clientId"`
		}
		if !s.readAdmin(c, &body) {
			return
		}
		n := 0
		if body.Token != "" && s.RevokeToken(string(body.Token)) {
			n++
		}
		if body.ClientID != "" {
			n += s.RevokeClientTokens(body.ClientID)
		}
		s.writeJSON(c, http.StatusOK, map[string]int{"revoked": n})
	default:
		s.writeError(c, http.StatusNotFound, "not.found",
			"Unknown admin path; use GET /admin/stats, GET|PUT /admin/faults, POST /admin/reset, POST /admin/revoke.", nil)
	}
}

// readAdmin decodes a strict JSON body (unknown fields refused, with paths).
func (s *Server) readAdmin(c *reqCtx, v any) bool {
	data, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	if err != nil {
		s.badRequest(c, "gcsim: admin: reading the body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(data, v, json.RejectUnknownMembers(true)); err != nil {
		s.badRequest(c, jsonError("admin", data, err).Error())
		return false
	}
	return true
}

// Reset empties every rate-limit window and zeroes the counters. Tokens,
// channels, faults and directory state are kept.
func (s *Server) Reset() {
	s.auth.resetBuckets()
	s.stats.reset()
	for _, c := range s.auth.clients {
		c.issued.Store(0)
	}
}
