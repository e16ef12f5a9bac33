package gcsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// TestDefaultProfile: the defaults are Genesys' documented platform.api
// limits and nothing else, the documented 429 form, and the unconfirmed
// switches at their stated defaults.
func TestDefaultProfile(t *testing.T) {
	p := gcsim.DefaultProfile()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultProfile().Validate() = %v", err)
	}
	want := map[string]struct {
		allowed int
		scope   genesys.Scope
		grant   string
	}{
		genesys.KeyToken:                  {300, genesys.ScopeToken, "password"},
		genesys.KeyClientCredentialsToken: {300, genesys.ScopeToken, "client_credentials"},
		genesys.KeyOrgAppUser:             {3000, genesys.ScopeClientUser, ""}, // counts client credentials: unconfirmed, the default switch
	}
	for _, l := range p.Limits {
		w, ok := want[l.Key]
		if !ok {
			t.Errorf("default limit %s (%d per %v): not one of Genesys' documented limits", l.Key, l.Allowed, l.Window)
			continue
		}
		if l.Allowed != w.allowed || l.Scope != w.scope || l.Grant != w.grant || l.Disabled || l.Hidden || l.Hypothetical ||
			l.Namespace != genesys.NamespacePlatformAPI || len(l.Families) != 0 || l.Window.Std().Seconds() != 60 {
			t.Errorf("limit %s = %+v; want %d per 60s, scope %s, grant %q, namespace platform.api, every route, enabled, visible, not hypothetical",
				l.Key, l, w.allowed, w.scope, w.grant)
		}
		delete(want, l.Key)
	}
	for k := range want {
		t.Errorf("default limit %s missing", k)
	}
	if p.RequestBytesMax != 512000 || p.Directory.Agents != 1000 || p.Clients[0].AccessTokenValiditySeconds != 86399 {
		t.Errorf("defaults: request.bytes.max %d, agents %d, token validity %d", p.RequestBytesMax, p.Directory.Agents, p.Clients[0].AccessTokenValiditySeconds)
	}
	if p.RateLimitMessage != "retryAfter" {
		t.Errorf("RateLimitMessage = %q, want \"retryAfter\" (the documented 429 form)", p.RateLimitMessage)
	}
	if u := p.Unconfirmed; !u.OrgAppUserClientCredentials || u.TokenCreationPerMinute != 0 {
		t.Errorf("Unconfirmed = %+v, want org.app.user counting client credentials and no token-creation limit", u)
	}
	// The banner's and summaries' words say which unconfirmed setting applies.
	if got := strings.Join(p.Settings(), "\n"); !strings.Contains(got, "unconfirmed: "+genesys.KeyOrgAppUser+" counts client-credentials tokens") || strings.Contains(got, "hypothetical") {
		t.Errorf("Settings() = %q, want the org.app.user setting marked unconfirmed and no hypothetical limit", got)
	}
}

// sdkNamespaces returns the SDK's enum of limit namespaces (Limit.namespace).
func sdkNamespaces(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "sdk-models.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Namespaces []string `json:"limit_namespaces"`
	}
	if err := json.Unmarshal(data, &m); err != nil || len(m.Namespaces) == 0 {
		t.Fatalf("testdata/sdk-models.json: limit_namespaces: %v", err)
	}
	ns := map[string]bool{}
	for _, n := range m.Namespaces {
		ns[n] = true
	}
	return ns
}

// TestProfileNamespaces: the default profile and every example profile use
// namespaces of the SDK's enum only; every limit of an example beyond the
// documented ones is marked hypothetical, in its flag and in its key (the
// reports see only the key).
func TestProfileNamespaces(t *testing.T) {
	ns := sdkNamespaces(t)
	documented := map[string]bool{genesys.KeyToken: true, genesys.KeyClientCredentialsToken: true, genesys.KeyOrgAppUser: true}
	check := func(name string, p *gcsim.Profile) {
		for i, l := range p.Limits {
			if !ns[l.Namespace] {
				t.Errorf("%s: limits[%d] %s: namespace %q is not in the SDK's Limit.namespace enum", name, i, l.Key, l.Namespace)
			}
			if !documented[l.Key] && (!l.Hypothetical || !strings.Contains(l.Key, "hypothetical")) {
				t.Errorf("%s: limits[%d] %s: not a documented limit, so it must be marked \"hypothetical\": true and say hypothetical in its key", name, i, l.Key)
			}
		}
	}
	check("DefaultProfile", gcsim.DefaultProfile())
	p := gcsim.DefaultProfile()
	p.Unconfirmed.TokenCreationPerMinute = 300
	q, err := gcsim.ParseProfile([]byte(`{"unconfirmed":{"tokenCreationPerMinute":300}}`))
	if err != nil {
		t.Fatal(err)
	}
	check("unconfirmed.tokenCreationPerMinute", q)
	files, _ := filepath.Glob(filepath.Join("..", "..", "scripts", "gcsim", "examples", "*.json"))
	hypothetical := 0
	for _, f := range files {
		p, err := gcsim.LoadProfile(f)
		if err != nil {
			t.Errorf("example profile: %v", err)
			continue
		}
		check(f, p)
		if strings.Contains(filepath.Base(f), "hypothetical") {
			hypothetical++
		}
	}
	if hypothetical == 0 {
		t.Errorf("no example profile named hypothetical-*.json in scripts/gcsim/examples (found %v)", files)
	}
}

// TestUnconfirmedSwitches: the switches read from JSON act on the limits.
func TestUnconfirmedSwitches(t *testing.T) {
	p, err := gcsim.ParseProfile([]byte(`{"unconfirmed":{"orgAppUserClientCredentials":false,"tokenCreationPerMinute":50}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]gcsim.Limit{}
	for _, l := range p.Limits {
		got[l.Key] = l
	}
	if l := got[genesys.KeyOrgAppUser]; l.Grant != "password" {
		t.Errorf("orgAppUserClientCredentials=false: %s grant = %q, want \"password\"", l.Key, l.Grant)
	}
	if l := got[gcsim.KeyTokenCreate]; l.Allowed != 50 || l.Scope != genesys.ScopeClient || !l.Hypothetical {
		t.Errorf("tokenCreationPerMinute=50: %s = %+v, want 50 per minute, scope client, hypothetical", gcsim.KeyTokenCreate, l)
	}
	// Left out, the switches keep their defaults, also in a partial object.
	p, err = gcsim.ParseProfile([]byte(`{"unconfirmed":{"tokenCreationPerMinute":0}}`))
	if err != nil || !p.Unconfirmed.OrgAppUserClientCredentials {
		t.Errorf("partial unconfirmed object: %+v, %v; want orgAppUserClientCredentials left true", p.Unconfirmed, err)
	}
	// Round trip: parsing the marshalled profile again changes nothing.
	p, _ = gcsim.ParseProfile([]byte(`{"unconfirmed":{"orgAppUserClientCredentials":false,"tokenCreationPerMinute":50}}`))
	data, _ := p.MarshalJSON()
	q, err := gcsim.ParseProfile(data)
	if err != nil || len(q.Limits) != len(p.Limits) {
		t.Errorf("round trip: %d limits, %v; want %d", len(q.Limits), err, len(p.Limits))
	}
}

func TestParseProfile(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // substring; "" = valid
	}{
		// An empty object keeps every default.
		{"empty object", `{}`, ""},
		{"override a scalar", `{"requestBytesMax": 1000}`, ""},
		{"sliding limit", `{"limits":[{"key":"a","namespace":"n","scope":"token","allowed":5,"window":"10s","windowMode":"sliding"}]}`, ""},
		{"unknown top-level field", `{"requestByteMax": 1}`, "gcsim: profile: requestByteMax (line 1): unknown field; remove it or fix its spelling (see the Profile schema in docs/simulator.md)"},
		{"unknown nested field", "{\n\"limits\": [{\"key\":\"a\",\"namespace\":\"n\",\"scope\":\"token\",\"allowed\":5,\"window\":\"1s\",\"windw\":1}]}", "limits[0].windw (line 2): unknown field"},
		{"wrong type", `{"directory": {"agents": "many"}}`, "directory.agents"},
		{"bad duration", `{"limits":[{"key":"a","namespace":"n","scope":"token","allowed":5,"window":"sixty"}]}`, `limits[0].window (line 1): want a duration such as "60s"`},
		{"malformed JSON", "{\n\"org\": {\"id\": \"x\",}\n}", "gcsim: profile: line 2: malformed JSON"},
		{"zero allowed", `{"limits":[{"key":"a","namespace":"n","scope":"token","allowed":0,"window":"60s"}]}`, "gcsim: profile: limits[0].allowed: must be > 0"},
		{"zero window", `{"limits":[{"key":"a","namespace":"n","scope":"token","allowed":1,"window":"0s"}]}`, "limits[0].window: must be > 0"},
		{"unknown scope", `{"limits":[{"key":"a","namespace":"n","scope":"user","allowed":1,"window":"1s"}]}`, `limits[0].scope: unknown scope "user"`},
		{"unknown family", `{"limits":[{"key":"a","namespace":"n","scope":"endpoint-user","allowed":1,"window":"1s","families":["recordings"]}]}`, `limits[0].families[0]: unknown route family "recordings"`},
		{"duplicate key", `{"limits":[{"key":"a","namespace":"n","scope":"token","allowed":1,"window":"1s"},{"key":"a","namespace":"n","scope":"org","allowed":1,"window":"1s"}]}`, `limits[1].key: duplicate`},
		{"token lifetime out of range", `{"clients":[{"id":"c","secret":"s","accessTokenValiditySeconds":10,"grantTypes":["client_credentials"]}]}`, "clients[0].accessTokenValiditySeconds: 10 is outside Genesys' range 300..172800"},
		{"unknown grant", `{"clients":[{"id":"c","secret":"s","accessTokenValiditySeconds":300,"grantTypes":["implicit"]}]}`, `clients[0].grantTypes[0]: unknown grant "implicit"`},
		{"no clients", `{"clients":[]}`, "clients: needs at least one OAuth client"},
		{"bad fault rate", `{"faults":{"families":{"*":{"errorRate":2}}}}`, `faults.families["*"].errorRate: 2 must be between 0 and 1`},
		{"bad fault family", `{"faults":{"families":{"nope":{"errorRate":0.5}}}}`, `faults.families["nope"]: unknown route family`},
		{"bad 429 form", `{"rateLimitMessage":"short"}`, `rateLimitMessage: unknown form "short"`},
		{"old 429 form", `{"rateLimitMessage":"window"}`, ""},
		{"negative token creation", `{"unconfirmed":{"tokenCreationPerMinute":-1}}`, "unconfirmed.tokenCreationPerMinute: -1 must be >= 0"},
		{"unknown switch", `{"unconfirmed":{"orgAppUser":false}}`, "unconfirmed.orgAppUser (line 1): unknown field"},
		{"empty", "  \n", "gcsim: profile: (top level): empty; write {} to use the defaults"},
		{"odd field name", `{"faults":{"families":{"routing.queues":{"eror":1}}}}`, `faults.families["routing.queues"].eror (line 1): unknown field`},
		{"zero heartbeat", `{"notifications":{"heartbeatInterval":"0s"}}`, "notifications.heartbeatInterval: must be > 0"},
		{"denied unknown topic", `{"notifications":{"deniedTopics":{"v2.users.{id}.nope":["x:y:z"]}}}`, `notifications.deniedTopics: "v2.users.{id}.nope" is not a topic pattern`},
		{"denied without permissions", `{"notifications":{"deniedTopics":{"v2.users.{id}.presence":[]}}}`, "notifications.deniedTopics: \"v2.users.{id}.presence\": name the missing permissions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := gcsim.ParseProfile([]byte(tt.json))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseProfile(%s) = %v, want no error", tt.json, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseProfile(%s) = %v, want error containing %q", tt.json, p, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseProfile(%s) error = %q, want it to contain %q", tt.json, err, tt.wantErr)
			}
		})
	}
}

func TestProfileRoundTrip(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Faults.Families = map[string]gcsim.FaultSpec{"*": {ErrorRate: 0.1}}
	data, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	q, err := gcsim.ParseProfile(data)
	if err != nil {
		t.Fatalf("ParseProfile(MarshalJSON(DefaultProfile())) = %v\n%s", err, data)
	}
	if string(q.Clients[0].Secret) != gcsim.DefaultClientSecret || len(q.Limits) != len(p.Limits) || q.Faults.Families["*"].ErrorRate != 0.1 {
		t.Errorf("round trip lost data: %s", data)
	}
}

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"directory":{"agents":5}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"limits":[{"key":"k","namespace":"n","scope":"token","allowed":-1,"window":"1m"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := gcsim.LoadProfile(good)
	if err != nil || p.Directory.Agents != 5 {
		t.Fatalf("LoadProfile(good) = %v, %v", p, err)
	}
	_, err = gcsim.LoadProfile(bad)
	if err == nil || !strings.Contains(err.Error(), bad+": gcsim: profile: limits[0].allowed") {
		t.Errorf("LoadProfile(bad) error = %v, want it to name the file and limits[0].allowed", err)
	}
	_, err = gcsim.LoadProfile(filepath.Join(dir, "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("LoadProfile(missing) error = %v, want it to name the file", err)
	}
}

// TestSecretsRedacted: secrets never appear in String, GoString, %v, %+v,
// %#v or slog output of profiles and clients.
func TestSecretsRedacted(t *testing.T) {
	p := gcsim.DefaultProfile()
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "client", p.Clients[0], "pw", p.Directory.AgentPassword)
	outs := []string{
		p.String(), p.GoString(), fmt.Sprint(p), fmt.Sprintf("%+v", *p), fmt.Sprintf("%#v", p),
		fmt.Sprint(p.Clients[0]), fmt.Sprintf("%#v", p.Clients), fmt.Sprintf("%+v", p.Directory), logBuf.String(),
	}
	for i, out := range outs {
		for _, secret := range []string{gcsim.DefaultClientSecret, gcsim.DefaultAgentPassword} {
			if strings.Contains(out, secret) {
				t.Errorf("output %d contains secret %q: %s", i, secret, out)
			}
		}
	}
	if !strings.Contains(logBuf.String(), "[REDACTED]") {
		t.Errorf("slog output lacks [REDACTED]: %s", logBuf.String())
	}
}
