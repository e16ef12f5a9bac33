package genesys_test

import (
	"testing"

	"github.com/cxload/cxload/harness/genesys"
)

func TestLookupRegion(t *testing.T) {
	for _, in := range []string{"eu-west-1", "mypurecloud.ie", "api.mypurecloud.ie", "login.mypurecloud.ie",
		"streaming.mypurecloud.ie", "https://api.mypurecloud.ie/", " EU-WEST-1 "} {
		r, ok := genesys.LookupRegion(in)
		if !ok || r.Name != "eu-west-1" {
			t.Errorf("LookupRegion(%q) = %+v, %v; want eu-west-1", in, r, ok)
		}
	}
	if r, ok := genesys.LookupRegion("mars-1"); ok {
		t.Errorf("LookupRegion(mars-1) = %+v, true", r)
	}
}

func TestRegionHosts(t *testing.T) {
	r, _ := genesys.LookupRegion("eu-west-1")
	if got := r.APIBase(); got != "https://api.mypurecloud.ie" {
		t.Errorf("APIBase() = %q", got)
	}
	if got := r.LoginBase(); got != "https://login.mypurecloud.ie" {
		t.Errorf("LoginBase() = %q", got)
	}
	if got := r.StreamingHost(); got != "streaming.mypurecloud.ie" {
		t.Errorf("StreamingHost() = %q", got)
	}
}
