package gcsim

import (
	"strings"

	"github.com/cxload/cxload/harness/genesys"
)

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

// handlers maps "METHOD template" of genesys.Routes to its handler; the
// token endpoint and the channel sockets are served apart (see routeKind).
var handlers = map[string]handlerFunc{
	"GET /api/v2/routing/queues":                                                    (*Server).getQueues,
	"GET /api/v2/routing/queues/{id}":                                               (*Server).getQueue,
	"GET /api/v2/users":                                                             (*Server).getUsers,
	"GET /api/v2/users/me":                                                          (*Server).getMe,
	"GET /api/v2/users/{id}":                                                        (*Server).getUser,
	"GET /api/v2/users/{id}/presences/{source}":                                     (*Server).getPresence,
	"PATCH /api/v2/users/{id}/presences/{source}":                                   (*Server).patchPresence,
	"GET /api/v2/users/{id}/routingstatus":                                          (*Server).getRoutingStatus,
	"PUT /api/v2/users/{id}/routingstatus":                                          (*Server).putRoutingStatus,
	"GET /api/v2/presencedefinitions":                                               (*Server).getPresenceDefinitions,
	"GET /api/v2/presence/definitions":                                              (*Server).getPresenceDefinitions,
	"GET /api/v2/users/{id}/queues":                                                 (*Server).getUserQueues,
	"PATCH /api/v2/users/{id}/queues":                                               (*Server).patchUserQueues,
	"GET /api/v2/routing/queues/{id}/members":                                       (*Server).getQueueMembers,
	"GET /api/v2/routing/wrapupcodes":                                               (*Server).getWrapupCodes,
	"POST /api/v2/conversations/calls":                                              (*Server).postCall,
	"GET /api/v2/conversations/calls":                                               (*Server).getCalls,
	"GET /api/v2/conversations/calls/{id}":                                          (*Server).getCall,
	"PATCH /api/v2/conversations/calls/{id}":                                        (*Server).patchCall,
	"PUT /api/v2/conversations/calls/{id}/recordingstate":                           (*Server).putCallRecordingState,
	"PATCH /api/v2/conversations/calls/{id}/participants/{participantId}":           (*Server).patchParticipant,
	"POST /api/v2/conversations/calls/{id}/participants/{participantId}/replace":    (*Server).postReplace,
	"GET /api/v2/conversations/calls/{id}/participants/{participantId}/wrapupcodes": (*Server).getParticipantWrapupCodes,
	"POST /api/v2/conversations/calls/{id}/participants/{participantId}/communications/{communicationId}/wrapup": (*Server).postWrapup,
	"GET /api/v2/conversations":                                        (*Server).getConversations,
	"GET /api/v2/conversations/{id}":                                   (*Server).getConversation,
	"PATCH /api/v2/conversations/{id}/recordingstate":                  (*Server).patchRecordingState,
	"PUT /api/v2/conversations/screenshares/{id}/recordingstate":       (*Server).putScreenshareRecordingState,
	"POST /api/v2/analytics/conversations/details/query":               (*Server).postAnalyticsQuery,
	"POST /api/v2/analytics/queues/observations/query":                 (*Server).postQueueObservations,
	"GET /api/v2/recordings/screensessions/details":                    (*Server).getScreenSessionDetails,
	"GET /api/v2/organizations/limits/namespaces":                      (*Server).getLimitNamespaces,
	"GET /api/v2/organizations/limits/namespaces/{namespace}":          (*Server).getLimitNamespace,
	"GET /api/v2/organizations/limits/namespaces/{namespace}/defaults": (*Server).getLimitNamespaceDefaults,
	"GET /api/v2/organizations/limits/docs":                            (*Server).getLimitDocs,
	"POST /api/v2/notifications/channels":                              (*Server).postChannel,
	"GET /api/v2/notifications/channels":                               (*Server).getChannels,
	"HEAD /api/v2/notifications/channels/{id}":                         (*Server).headChannel,
	"GET /api/v2/notifications/channels/{id}/subscriptions":            (*Server).getSubscriptions,
	"POST /api/v2/notifications/channels/{id}/subscriptions":           (*Server).postSubscriptions,
	"PUT /api/v2/notifications/channels/{id}/subscriptions":            (*Server).putSubscriptions,
	"DELETE /api/v2/notifications/channels/{id}/subscriptions":         (*Server).deleteSubscriptions,
	"GET /api/v2/tokens/me":                                            (*Server).getTokenMe,
	"HEAD /api/v2/tokens/me":                                           (*Server).headTokenMe,
	"DELETE /api/v2/tokens/me":                                         (*Server).deleteTokenMe,
}

// routeTable is every route the simulator serves: genesys.Routes, the one
// route table, each with its handler. It panics on a route without one
// (TestRouteTableServesGenesysRoutes runs it).
func routeTable() []*route {
	var routes []*route
	for _, g := range genesys.Routes() {
		rt := &route{method: g.Method, template: g.Template, family: g.Family, userContext: g.UserContext}
		switch g.Family {
		case genesys.FamilyOAuth:
			rt.kind = kindOAuth
		case genesys.FamilyStreaming:
			rt.kind = kindWS
		default:
			rt.handle = handlers[g.Method+" "+g.Template]
			if rt.handle == nil {
				panic("gcsim: no handler for " + g.Method + " " + g.Template)
			}
		}
		routes = append(routes, rt)
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
		if l.Scope == genesys.ScopeClient {
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
const maxParams = 3

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
