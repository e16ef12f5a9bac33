package agent_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cxload/cxload/harness/agent"
)

// FuzzParseShard: any CXLOAD_SHARD value either parses into a shard with
// 1 ≤ i ≤ n, whose String parses back to it, or gives an error that names
// the value and shows the expected form.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"1/1", "2/4", " 3 / 8 ", "", "0/1", "5/4", "1/0", "-1/2", "a/b", "1", "1/2/3", "9223372036854775807/9223372036854775807", "+1/+2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := agent.ParseShard(s)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "agent: shard ") || !strings.Contains(msg, `"i/n"`) {
				t.Fatalf("ParseShard(%q) error %q: want it to start with \"agent: shard\" and show the form \"i/n\"", s, msg)
			}
			return
		}
		if sh.Index < 1 || sh.Index > sh.Count {
			t.Fatalf("ParseShard(%q) = %+v: want 1 <= i <= n", s, sh)
		}
		if err := sh.Validate(); err != nil {
			t.Fatalf("ParseShard(%q) = %+v, which does not validate: %v", s, sh, err)
		}
		back, err := agent.ParseShard(sh.String())
		if err != nil || back != sh {
			t.Fatalf("ParseShard(%q) = %+v; its String %q parses as %+v, %v", s, sh, sh.String(), back, err)
		}
	})
}

// FuzzParseStages: any stages value (compact or k6 JSON) either parses into
// stages with durations ≥ 0 and finite targets ≥ 0, which written back in
// both forms parse to the same stages, or gives an error that starts with
// "agent: stages" and names the stage or what was expected.
func FuzzParseStages(f *testing.F) {
	for _, s := range []string{
		"10s:50,30s:50,5s:0", "1m30s:0.5", " 0s : 7 ", `[{"duration":"10s","target":50},{"duration":"30s","target":0}]`,
		"", "10s", "10s:-1", "x:1", "10s:NaN", "10s:1e309", "-1s:1", `[{"duration":10,"target":1}]`, `[{"duration":"1s"}]`,
		`[{"duration":"1s","target":1,"extra":0}]`, `[`, "1h:1,", "9223372036854775807ns:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stages, err := agent.ParseStages(s)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "agent: stages") || !strings.Contains(msg, "want") {
				t.Fatalf("ParseStages(%q) error %q: want it to start with \"agent: stages\" and say what is wanted", s, msg)
			}
			return
		}
		type jsonStage struct {
			Duration string  `json:"duration"`
			Target   float64 `json:"target"`
		}
		items := make([]string, len(stages))
		js := make([]jsonStage, len(stages))
		for i, st := range stages {
			if st.Duration < 0 || st.Target < 0 || math.IsNaN(st.Target) || math.IsInf(st.Target, 0) {
				t.Fatalf("ParseStages(%q) stage %d = %+v: negative or not finite", s, i, st)
			}
			items[i] = st.String()
			js[i] = jsonStage{Duration: st.Duration.String(), Target: st.Target}
		}
		if len(stages) == 0 {
			return // "[]": nothing to write back in the compact form
		}
		compact := strings.Join(items, ",")
		if back, err := agent.ParseStages(compact); err != nil || !reflect.DeepEqual(back, stages) {
			t.Fatalf("ParseStages(%q) = %v; written back %q -> %v, %v", s, stages, compact, back, err)
		}
		data, err := json.Marshal(js)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := agent.ParseStages(string(data)); err != nil || !reflect.DeepEqual(back, stages) {
			t.Fatalf("ParseStages(%q) = %v; written back as JSON %s -> %v, %v", s, stages, data, back, err)
		}
	})
}

// FuzzReadUsers: any users file (JSON array or one id per line) either
// reads into users with ids, which written back as JSON (and, when the ids
// allow, one per line) read the same, or gives an error that starts with
// "agent: users" and names the file.
func FuzzReadUsers(f *testing.F) {
	for _, s := range []string{
		`[{"id":"00000000-0000-4000-8000-000000000001","name":"Agent 0001"},{"id":"u2"}]`,
		"u1\nu2\n# comment\n\n  u3  \n", "u1 u2\n", "u1,u2", `[{"id":""}]`, `[{"id":5}]`, `[`, "", "\r\n#x\r\nu9\r\n", `[] trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(time.Now())
		users, err := agent.ReadUsers(strings.NewReader(string(data)), "users.txt")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "agent: users users.txt") {
				t.Fatalf("ReadUsers error %q: want it to start with \"agent: users users.txt\"", msg)
			}
			return
		}
		lineSafe := true
		for i, u := range users {
			if strings.TrimSpace(u.ID) == "" {
				t.Fatalf("user %d has no id: %+v\ninput: %q", i, u, data)
			}
			if strings.ContainsAny(u.ID, " \t\r\n,\v\f\u0085\u00a0") || strings.HasPrefix(u.ID, "#") || strings.TrimSpace(u.ID) != u.ID {
				lineSafe = false
			}
		}
		if len(users) == 0 {
			return
		}
		if lineSafe && !strings.HasPrefix(users[0].ID, "[") {
			var ids []string
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			back, err := agent.ReadUsers(strings.NewReader(strings.Join(ids, "\n")), "users.txt")
			if err != nil || len(back) != len(users) {
				t.Fatalf("ids %q one per line read as %v, %v", ids, back, err)
			}
			for i := range back {
				if back[i].ID != users[i].ID {
					t.Fatalf("ids %q one per line read as %v", ids, back)
				}
			}
		}
		for _, u := range users {
			if !utf8.ValidString(u.ID) || !utf8.ValidString(u.Name) {
				return // JSON would replace the invalid bytes
			}
		}
		enc, err := json.Marshal(users)
		if err != nil {
			t.Fatal(err)
		}
		back, err := agent.ReadUsers(strings.NewReader(string(enc)), "users.txt")
		if err != nil || !reflect.DeepEqual(back, users) {
			t.Fatalf("users %v written as JSON %s read as %v, %v", users, enc, back, err)
		}
	})
}

// watchdog fails loudly when one input took more than 10 s.
func watchdog(start time.Time) {
	if d := time.Since(start); d > 10*time.Second {
		panic("agent: fuzz input took " + d.String())
	}
}
