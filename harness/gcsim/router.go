package gcsim

import (
	"net/http"
	"sort"
	"strings"
)

// Route families: groups of routes that share resource limits and faults.
// Limit.Families and Faults.Families name them.
const (
	FamilyOAuth               = "oauth.token"
	FamilyQueues              = "routing.queues"
	FamilyUsers               = "users"
	FamilyPresence            = "users.presences"
	FamilyRoutingStatus       = "users.routingstatus"
	FamilyPresenceDefinitions = "presencedefinitions"
	FamilyCalls               = "conversations.calls"
	FamilyConversations       = "conversations"
	FamilyRecordingState      = "conversations.recordingstate"
	FamilyAnalytics           = "analytics.conversations"
	FamilyScreenSessions      = "recordings.screensessions"
	FamilyLimits              = "organizations.limits"
	FamilyNotifications       = "notifications"
	FamilyTokens              = "tokens"
	FamilyStreaming           = "streaming"
)

// Families lists every route family, sorted.
func Families() []string {
	f := []string{FamilyOAuth, FamilyQueues, FamilyUsers, FamilyPresence, FamilyRoutingStatus,
		FamilyPresenceDefinitions, FamilyCalls, FamilyConversations, FamilyRecordingState,
		FamilyAnalytics, FamilyScreenSessions, FamilyLimits, FamilyNotifications, FamilyTokens, FamilyStreaming}
	sort.Strings(f)
	return f
}

func knownFamily(f string) bool {
	for _, k := range Families() {
		if k == f {
			return true
		}
	}
	return false
}

type routeKind uint8

const (
	kindAPI   routeKind = iota // /api/v2, bearer token, rate limits
	kindOAuth                  // /oauth/token
	kindWS                     // /channels/{id}
)

type handlerFunc func(s *Server, c *reqCtx)

// route is one method + path template.
type route struct {
	idx         int
	method      string
	template    string
	family      string
	kind        routeKind
	userContext bool // needs a user token (client credentials get 400)
	handle      handlerFunc
	rules       []*limitRule // enabled limits that apply (precomputed)
}

// routeTable is every route the simulator serves.
func routeTable() []*route {
	r := func(method, tmpl, family string, h handlerFunc) *route {
		return &route{method: method, template: tmpl, family: family, handle: h}
	}
	routes := []*route{
		{method: http.MethodPost, template: "/oauth/token", family: FamilyOAuth, kind: kindOAuth},
		{method: http.MethodGet, template: "/channels/{id}", family: FamilyStreaming, kind: kindWS},
		r("GET", "/api/v2/routing/queues", FamilyQueues, (*Server).getQueues),
		r("GET", "/api/v2/routing/queues/{id}", FamilyQueues, (*Server).getQueue),
		r("GET", "/api/v2/users", FamilyUsers, (*Server).getUsers),
		r("GET", "/api/v2/users/me", FamilyUsers, (*Server).getMe),
		r("GET", "/api/v2/users/{id}", FamilyUsers, (*Server).getUser),
		r("GET", "/api/v2/users/{id}/presences/{source}", FamilyPresence, (*Server).getPresence),
		r("PATCH", "/api/v2/users/{id}/presences/{source}", FamilyPresence, (*Server).patchPresence),
		r("GET", "/api/v2/users/{id}/routingstatus", FamilyRoutingStatus, (*Server).getRoutingStatus),
		r("PUT", "/api/v2/users/{id}/routingstatus", FamilyRoutingStatus, (*Server).putRoutingStatus),
		r("GET", "/api/v2/presencedefinitions", FamilyPresenceDefinitions, (*Server).getPresenceDefinitions),
		r("GET", "/api/v2/presence/definitions", FamilyPresenceDefinitions, (*Server).getPresenceDefinitions),
		r("POST", "/api/v2/conversations/calls", FamilyCalls, (*Server).postCall),
		r("GET", "/api/v2/conversations", FamilyConversations, (*Server).getConversations),
		r("PATCH", "/api/v2/conversations/{id}/recordingstate", FamilyRecordingState, (*Server).patchRecordingState),
		r("PUT", "/api/v2/conversations/screenshares/{id}/recordingstate", FamilyRecordingState, (*Server).putScreenshareRecordingState),
		r("POST", "/api/v2/analytics/conversations/details/query", FamilyAnalytics, (*Server).postAnalyticsQuery),
		r("GET", "/api/v2/recordings/screensessions/details", FamilyScreenSessions, (*Server).getScreenSessionDetails),
		r("GET", "/api/v2/organizations/limits/namespaces", FamilyLimits, (*Server).getLimitNamespaces),
		r("GET", "/api/v2/organizations/limits/namespaces/{namespace}", FamilyLimits, (*Server).getLimitNamespace),
		r("GET", "/api/v2/organizations/limits/namespaces/{namespace}/defaults", FamilyLimits, (*Server).getLimitNamespaceDefaults),
		r("GET", "/api/v2/organizations/limits/docs", FamilyLimits, (*Server).getLimitDocs),
		r("POST", "/api/v2/notifications/channels", FamilyNotifications, (*Server).postChannel),
		r("GET", "/api/v2/notifications/channels", FamilyNotifications, (*Server).getChannels),
		r("HEAD", "/api/v2/notifications/channels/{id}", FamilyNotifications, (*Server).headChannel),
		r("GET", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, (*Server).getSubscriptions),
		r("POST", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, (*Server).postSubscriptions),
		r("PUT", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, (*Server).putSubscriptions),
		r("DELETE", "/api/v2/notifications/channels/{id}/subscriptions", FamilyNotifications, (*Server).deleteSubscriptions),
		r("GET", "/api/v2/tokens/me", FamilyTokens, (*Server).getTokenMe),
		r("DELETE", "/api/v2/tokens/me", FamilyTokens, (*Server).deleteTokenMe),
	}
	for _, rt := range routes {
		switch rt.template {
		case "/api/v2/users/me", "/api/v2/conversations":
			rt.userContext = true
		}
	}
	return routes
}

// node is a path-segment trie node; "{...}" segments match any one segment.
// Children are a short slice, searched linearly: for the few children a
// node has this is faster than hashing the segment.
type node struct {
	lit   []edge
	param *node
	by    map[string]*route // method -> route
}

type edge struct {
	seg  string
	next *node
}

func (n *node) child(seg string) *node {
	for i := range n.lit {
		if n.lit[i].seg == seg {
			return n.lit[i].next
		}
	}
	return nil
}

// router matches a method and path to a route without regular expressions
// or allocations: it walks the path segment by segment.
type router struct {
	root   node
	routes []*route
}

func newRouter(rules []*limitRule) *router {
	rt := &router{routes: routeTable()}
	for i, r := range rt.routes {
		r.idx = i
		for _, l := range rules {
			if l.Disabled || !ruleApplies(l, r) {
				continue
			}
			r.rules = append(r.rules, l)
		}
		n := &rt.root
		for _, seg := range strings.Split(strings.TrimPrefix(r.template, "/"), "/") {
			if strings.HasPrefix(seg, "{") {
				if n.param == nil {
					n.param = &node{}
				}
				n = n.param
				continue
			}
			c := n.child(seg)
			if c == nil {
				c = &node{}
				n.lit = append(n.lit, edge{seg, c})
			}
			n = c
		}
		if n.by == nil {
			n.by = map[string]*route{}
		}
		n.by[r.method] = r
	}
	return rt
}

func ruleApplies(l *limitRule, r *route) bool {
	if len(l.Families) == 0 {
		if l.Scope == ScopeClient {
			return r.kind == kindOAuth
		}
		return r.kind == kindAPI
	}
	for _, f := range l.Families {
		if f == r.family {
			return true
		}
	}
	return false
}

// maxParams is the most path parameters a route has.
const maxParams = 2

// match returns the route for method and path and its parameters, or nil.
// Literal segments win over parameters ("/users/me" before "/users/{id}").
func (rt *router) match(method, path string, params *[maxParams]string) *route {
	if len(path) == 0 || path[0] != '/' {
		return nil
	}
	n := rt.lookup(&rt.root, path[1:], params, 0)
	if n == nil {
		return nil
	}
	return n.by[method]
}

func (rt *router) lookup(n *node, rest string, params *[maxParams]string, np int) *node {
	seg, tail, more := strings.Cut(rest, "/")
	if seg == "" {
		return nil
	}
	if c := n.child(seg); c != nil {
		if !more {
			if c.by != nil {
				return c
			}
		} else if m := rt.lookup(c, tail, params, np); m != nil {
			return m
		}
	}
	if n.param == nil || np >= maxParams {
		return nil
	}
	params[np] = seg
	if !more {
		if n.param.by != nil {
			return n.param
		}
		return nil
	}
	return rt.lookup(n.param, tail, params, np+1)
}
