package gcsim

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/cxload/cxload/harness/genesys"
	jsonv2 "github.com/go-json-experiment/json"
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
	if ns == "" || ns == genesys.NamespacePlatformAPI {
		out = append(out, limitJSON{Key: genesys.KeyRequestBytesMax, Namespace: genesys.NamespacePlatformAPI, Value: p.RequestBytesMax})
	}
	return out
}

func namespaces(p *Profile) []string {
	set := map[string]bool{genesys.NamespacePlatformAPI: true}
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

// getLimitDocs is GET /api/v2/organizations/limits/docs: the SDK's
// LimitDocumentation, one namespace per namespace of the profile's limits
// (defaultValue is the profile's value; the simulator keeps no separate
// default).
func (s *Server) getLimitDocs(c *reqCtx) {
	type doc struct {
		Key          string `json:"key"`
		DefaultValue int64  `json:"defaultValue"`
		Description  string `json:"description"`
		Resource     string `json:"resource,omitempty"`
		Configurable bool   `json:"configurable"`
		Trackable    bool   `json:"trackable"`
	}
	type ns struct {
		Name         string `json:"name"`
		FriendlyName string `json:"friendlyName"`
		Limits       []doc  `json:"limits"`
	}
	var out []ns
	add := func(namespace string, d doc) {
		for i := range out {
			if out[i].Name == namespace {
				out[i].Limits = append(out[i].Limits, d)
				return
			}
		}
		out = append(out, ns{Name: namespace, FriendlyName: namespace, Limits: []doc{d}})
	}
	for _, l := range s.profile.Limits {
		if l.Disabled || l.Hidden {
			continue
		}
		add(l.Namespace, doc{Key: l.Key, DefaultValue: int64(l.Allowed), Trackable: true,
			Description: fmt.Sprintf("%d requests per %s per %v", l.Allowed, l.Scope, l.Window.Std())})
	}
	add(genesys.NamespacePlatformAPI, doc{Key: genesys.KeyRequestBytesMax, DefaultValue: s.profile.RequestBytesMax,
		Description: "largest request body, in bytes"})
	s.writeJSON(c, http.StatusOK, struct {
		URL        string `json:"url"`
		Namespaces []ns   `json:"namespaces"`
	}{"https://developer.genesys.cloud/organization/organization/limits", out})
}

// adminBodyMax is the largest admin request body. A faults or revoke
// document is a few hundred bytes; the limit only stops a runaway client.
const adminBodyMax = 1 << 20

// serveAdmin serves the admin paths, outside /api/v2 and without auth or limits:
//
//	GET  /admin/stats          Stats as JSON
//	GET  /admin/faults         the active Faults
//	PUT  /admin/faults         replace the Faults (POST works too)
//	POST /admin/reset          empty every rate-limit window and zero the counters
//	POST /admin/revoke         {"token": "..."} or {"clientId": "..."}: revoke tokens
//	POST /admin/calls          {"queueId": "...", "count": N}: queue N inbound calls (telephony);
//	                           {"userId": "...", "count": N}: N calls to the user's own number
//
// A web page must not reach them: a request with a foreign Origin, or whose
// Host is not a loopback name (a DNS-rebound name), is refused with 403, and
// a body must be declared application/json, which a page cannot send to
// another origin without the browser asking first.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	c := &reqCtx{s: s, w: w, r: r, corr: newCorrelationID()}
	w.Header()[genesys.HeaderCorrelationID] = []string{c.corr}
	if msg := adminRefusal(r); msg != "" {
		s.writeError(c, http.StatusForbidden, "forbidden", msg, nil)
		return
	}
	if r.ContentLength != 0 && !isJSONType(r.Header.Get(hdrContentType)) {
		s.writeError(c, http.StatusUnsupportedMediaType, "unsupported.media.type", fmt.Sprintf(
			"gcsim: admin: a body with Content-Type %q; send JSON with Content-Type: application/json "+
				"(curl: -H 'Content-Type: application/json', or --json)", r.Header.Get(hdrContentType)), nil)
		return
	}
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
	case r.URL.Path == "/admin/calls" && r.Method == http.MethodPost:
		var body struct {
			QueueID string `json:"queueId"`
			UserID  string `json:"userId"`
			Count   int    `json:"count"`
		}
		if !s.readAdmin(c, &body) {
			return
		}
		ids, err := s.adminCalls(body.QueueID, body.UserID, body.Count)
		if err != nil {
			s.badRequest(c, "gcsim: admin: calls: "+strings.TrimPrefix(err.Error(), "gcsim: "))
			return
		}
		s.writeJSON(c, http.StatusOK, map[string][]string{"conversationIds": ids})
	default:
		s.writeError(c, http.StatusNotFound, "not.found",
			"Unknown admin path; use GET /admin/stats, GET|PUT /admin/faults, POST /admin/reset, POST /admin/revoke, POST /admin/calls.", nil)
	}
}

// adminCalls injects count calls to a queue or to a user.
func (s *Server) adminCalls(queueID, userID string, count int) ([]string, error) {
	if (queueID == "") == (userID == "") {
		return nil, fmt.Errorf("give exactly one of queueId (calls queued for ACD) and userId (calls to the user's own number)")
	}
	if queueID != "" {
		return s.InjectCalls(queueID, count)
	}
	if count < 1 || count > maxInjectedCalls {
		return nil, fmt.Errorf("count %d: inject 1 to %d calls at once", count, maxInjectedCalls)
	}
	ids := make([]string, count)
	for i := range ids {
		id, err := s.InjectUserCall(userID)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// adminRefusal returns why r may not use the admin API, or "" if it may.
// Its Host must be a loopback name, which no web page can point at another
// address, unless r came over an in-memory pipe, which only the process
// itself can dial. An Origin, which browsers send, must be the server's own.
func adminRefusal(r *http.Request) string {
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); !ok || la.Network() != "pipe" {
		if !loopbackHost(r.Host) {
			return fmt.Sprintf("gcsim: admin: refused Host %q: the admin API answers only to a loopback name "+
				"(localhost, 127.0.0.1, [::1]); call it as http://127.0.0.1:PORT/admin/...", r.Host)
		}
	}
	origin, ok := r.Header["Origin"]
	if !ok {
		return ""
	}
	if len(origin) == 1 {
		if u, err := url.Parse(origin[0]); err == nil && (u.Scheme == "http" || u.Scheme == "https") &&
			u.Path == "" && strings.EqualFold(u.Host, r.Host) {
			return ""
		}
	}
	return fmt.Sprintf("gcsim: admin: refused a request from Origin %q: a web page of another origin may not "+
		"use the admin API; send the request without an Origin header (curl, a test, a script)", strings.Join(origin, ", "))
}

// loopbackHost reports whether host (a Host header, with or without a port)
// names the loopback interface: localhost, 127.0.0.0/8 or ::1.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// isJSONType reports whether a Content-Type is application/json, with any
// parameters (charset=utf-8).
func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// readAdmin decodes a strict JSON object body (unknown fields refused, with
// paths). On failure it answers 400 or 413 and returns false.
func (s *Server) readAdmin(c *reqCtx, v any) bool {
	data, err := io.ReadAll(io.LimitReader(c.r.Body, adminBodyMax+1))
	if err != nil {
		s.badRequest(c, "gcsim: admin: reading the body: "+err.Error())
		return false
	}
	if len(data) > adminBodyMax {
		s.writeError(c, http.StatusRequestEntityTooLarge, "request.entity.too.large",
			"gcsim: admin: the body is larger than the admin API's limit of 1 MiB; send one JSON object", nil)
		return false
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		s.badRequest(c, "gcsim: admin: the body is empty; send a JSON object (PUT /admin/faults with {} clears all faults)")
		return false
	}
	if got := jsonKindName(trimmed[0]); got != "" {
		s.badRequest(c, "gcsim: admin: want a JSON object, got "+got+" (PUT /admin/faults with {} clears all faults)")
		return false
	}
	if err := jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		s.badRequest(c, jsonError("admin", data, err).Error())
		return false
	}
	return true
}

// jsonKindName names the JSON value that starts with b, or returns "" for
// an object or for what is not JSON (left to the decoder to report).
func jsonKindName(b byte) string {
	switch {
	case b == 'n':
		return "null"
	case b == '"':
		return "a string"
	case b == '[':
		return "an array"
	case b == 't' || b == 'f':
		return "true or false"
	case b == '-' || '0' <= b && b <= '9':
		return "a number"
	}
	return ""
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
