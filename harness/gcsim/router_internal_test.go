package gcsim

import (
	"testing"

	"github.com/cxload/cxload/harness/genesys"
)

// TestRouteTableServesGenesysRoutes: the simulator serves exactly
// genesys.Routes, each with its family, and every handler belongs to one of
// them, so the clients' genesys.Family and the simulator's limits and
// faults name the same families.
func TestRouteTableServesGenesysRoutes(t *testing.T) {
	rt := newRouter(nil)
	want := genesys.Routes()
	if len(rt.routes) != len(want) {
		t.Fatalf("the router has %d routes, genesys.Routes %d", len(rt.routes), len(want))
	}
	served := 0
	for _, g := range want {
		var params [maxParams]string
		path := g.Template
		r := rt.match(g.Method, path, &params)
		if r == nil || r.template != g.Template || r.family != g.Family || r.userContext != g.UserContext {
			t.Errorf("%s %s: router gives %+v, want family %s, user context %v", g.Method, g.Template, r, g.Family, g.UserContext)
			continue
		}
		if r.handle != nil {
			served++
		}
	}
	if served != len(handlers) {
		t.Errorf("%d handlers serve genesys routes, %d are registered: a handler names a route genesys.Routes lacks", served, len(handlers))
	}
}
