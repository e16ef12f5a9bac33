package agent_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cxload/cxload/harness/agent"
)

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
