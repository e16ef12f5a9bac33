package gcsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// FuzzParseProfile: any bytes either parse into a valid profile or give an
// error that starts with "gcsim: profile: " and names where (a JSON path or
// a line) before saying what is wrong. A parsed profile written back with
// MarshalJSON parses to the same profile, and its String and GoString never
// show a client secret.
func FuzzParseProfile(f *testing.F) {
	def, err := gcsim.DefaultProfile().MarshalJSON()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(def), `{}`, `{"seed":7}`, `{"org":{"id":"o","name":"O"}}`,
		`{"clients":[{"id":"c","secret":"FAKE-SECRET-7f3a9c","accessTokenValiditySeconds":300,"grantTypes":["client_credentials"]}]}`,
		`{"limits":[{"key":"k","namespace":"n","scope":"token","allowed":5,"window":"10s"}]}`,
		`{"limits":[{"key":"k","namespace":"n","scope":"org","allowed":0,"window":"10s"}]}`,
		`{"faults":{"families":{"*":{"errorRate":0.5,"retryAfter":"2s"}},"tokenOutage":true}}`,
		`{"faults":{"families":{"nope":{}}}}`, `{"notifications":{"heartbeatInterval":"1s","sendBuffer":1}}`,
		`{"directory":{"agents":3,"queues":1,"presenceDefinitions":["Available"]}}`,
		`{"limits":[{"window":"1x"}]}`, `{"org":5}`, `{"seed":-1}`, `[]`, `{`, ``, `{"unknown":1}`, "{\n\"org\":\n{\"id\":1}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return // a large directory makes a slow test, not a finding
		}
		// A parse this slow is a finding: crash the worker so the fuzzer keeps the input.
		wd := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("gcsim: ParseProfile took over 10s on %q", data)) })
		defer wd.Stop()
		p, err := gcsim.ParseProfile(data)
		if err != nil {
			checkProfileError(t, data, err)
			return
		}
		if p.Directory.Agents > 5000 || p.Directory.Queues > 5000 {
			return // round-tripping a huge directory is slow, not wrong
		}
		out, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed profile: %v\ninput: %q", err, data)
		}
		back, err := gcsim.ParseProfile(out)
		if err != nil {
			t.Fatalf("a marshaled profile does not parse: %v\ninput: %q\nmarshaled: %s", err, data, out)
		}
		if !reflect.DeepEqual(comparable(t, p), comparable(t, back)) {
			t.Fatalf("round trip changed the profile\ninput:  %q\nfirst:  %s\nsecond: %s", data, out, mustMarshal(t, back))
		}
		checkNoSecrets(t, p)
	})
}

// checkProfileError checks the shape of a ParseProfile error.
func checkProfileError(t *testing.T, data []byte, err error) {
	t.Helper()
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "gcsim: profile: ")
	if !ok {
		t.Fatalf("error %q does not start with \"gcsim: profile: \"\ninput: %q", msg, data)
	}
	// The place is a JSON path (which may itself be odd: a field named ":"),
	// a line, or both: "limits[2].window: ...", "org (line 1): ...",
	// "line 2: malformed JSON near ...".
	where, what, ok := strings.Cut(rest, ": ")
	if !ok || strings.TrimSpace(what) == "" || (strings.TrimSpace(where) == "" && !strings.Contains(rest, "(line ")) {
		t.Fatalf("error %q does not say where, then what\ninput: %q", msg, data)
	}
}

// comparable returns p as generic JSON, so that two profiles compare by
// what they say (Now is not JSON).
func comparable(t *testing.T, p *gcsim.Profile) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(mustMarshal(t, p), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustMarshal(t *testing.T, p *gcsim.Profile) []byte {
	t.Helper()
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkNoSecrets checks that String and GoString show no client secret nor
// the agents' password, where a secret is distinctive enough to look for (not
// part of what the profile shows publicly anyway).
func checkNoSecrets(t *testing.T, p *gcsim.Profile) {
	t.Helper()
	shown := p.String() + "\n" + p.GoString() + "\n" + fmt.Sprintf("%v %+v %#v", p, p, p)
	public := p.Org.ID + " " + p.Org.Name + " " + fmt.Sprint(p.Directory.PresenceDefinitions, p.Limits, p.Faults.Families, p.Seed)
	secrets := []string{string(p.Directory.AgentPassword)}
	for _, c := range p.Clients {
		secrets = append(secrets, string(c.Secret))
		public += " " + c.ID + " " + c.Name + " " + fmt.Sprint(c.GrantTypes, c.AccessTokenValiditySeconds)
	}
	for _, s := range secrets {
		if len(s) < 8 || strings.Contains(public, s) || strings.Contains(gcsim.DefaultProfile().String(), s) {
			continue
		}
		if bytes.Contains([]byte(shown), []byte(s)) {
			t.Fatalf("a secret %q shows in the profile's String/GoString/%%v:\n%s", s, shown)
		}
	}
}
