package gcsim_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

func TestDefaultProfile(t *testing.T) {
	p := gcsim.DefaultProfile()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultProfile().Validate() = %v", err)
	}
	want := map[string]struct {
		allowed  int
		scope    genesys.Scope
		disabled bool
	}{
		genesys.KeyToken:                  {300, genesys.ScopeToken, false},
		genesys.KeyClientCredentialsToken: {300, genesys.ScopeToken, false},
		genesys.KeyOrgAppUser:             {3000, genesys.ScopeClientUser, false},
		gcsim.KeyRecordingState:           {100, genesys.ScopeEndpointUser, false},
		genesys.KeyOrg:                    {100000, genesys.ScopeOrg, true},
		gcsim.KeyTokenCreate:              {300, genesys.ScopeClient, false},
	}
	for _, l := range p.Limits {
		w, ok := want[l.Key]
		if !ok {
			t.Errorf("unexpected default limit %s", l.Key)
			continue
		}
		if l.Allowed != w.allowed || l.Scope != w.scope || l.Disabled != w.disabled || l.Window.Std().Seconds() != 60 {
			t.Errorf("limit %s = %d per %v scope %s disabled %v; want %d per 60s scope %s disabled %v",
				l.Key, l.Allowed, l.Window.Std(), l.Scope, l.Disabled, w.allowed, w.scope, w.disabled)
		}
		delete(want, l.Key)
	}
	for k := range want {
		t.Errorf("default limit %s missing", k)
	}
	if p.RequestBytesMax != 512000 || p.Directory.Agents != 1000 || p.Clients[0].AccessTokenValiditySeconds != 86399 {
		t.Errorf("defaults: request.bytes.max %d, agents %d, token validity %d", p.RequestBytesMax, p.Directory.Agents, p.Clients[0].AccessTokenValiditySeconds)
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
		{"unknown top-level field", `{"requestByteMax": 1}`, "gcsim: profile: requestByteMax (line 1): unknown field"},
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
		{"empty", "  \n", "gcsim: profile: (top level): empty; write {} to use the defaults"},
		{"odd field name", `{"faults":{"families":{"routing.queues":{"eror":1}}}}`, `faults.families["routing.queues"].eror (line 1): unknown field`},
		{"zero heartbeat", `{"notifications":{"heartbeatInterval":"0s"}}`, "notifications.heartbeatInterval: must be > 0"},
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
