package genesys_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/genesys"
)

func TestScopeOfKey(t *testing.T) {
	for key, want := range map[string]genesys.Scope{
		"token.rate.per.minute":                        genesys.ScopeToken,
		"client.credentials.token.rate.per.minute":     genesys.ScopeToken,
		"org.app.user.rate.per.minute":                 genesys.ScopeClientUser,
		"org.rate.per.minute":                          genesys.ScopeOrg,
		"conversations.recordingstate.rate.per.minute": genesys.ScopeEndpointUser,
		"": "",
	} {
		if got := genesys.ScopeOfKey(key); got != want {
			t.Errorf("ScopeOfKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestParseScope(t *testing.T) {
	for _, s := range genesys.Scopes() {
		if got, err := genesys.ParseScope(string(s)); got != s || err != nil {
			t.Errorf("ParseScope(%q) = %q, %v; want %q, nil", s, got, err, s)
		}
	}
	_, err := genesys.ParseScope("user")
	if err == nil || !strings.Contains(err.Error(), `"user"`) || !strings.Contains(err.Error(), "token, client-user, endpoint-user, org, client") {
		t.Errorf("ParseScope(\"user\") error = %v; want it to name the value and list the scopes", err)
	}
}
