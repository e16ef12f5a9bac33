package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/internal/safefile"
)

// The variables naming what a tenant run may touch.
const (
	EnvUsers       = "CXLOAD_USERS"        // file of test user ids or emails, or group:<groupId> (tenant: required unless read-only)
	EnvQueues      = "CXLOAD_QUEUES"       // test queue ids or names, comma-separated, or a file of them
	EnvCallTargets = "CXLOAD_CALL_TARGETS" // user ids or phone numbers calls may go to, besides the fixture users
	EnvAllowWrites = "CXLOAD_ALLOW_WRITES" // write kinds the run may send to a tenant, e.g. presence,routing
	EnvAllowStorm  = "CXLOAD_ALLOW_STORM"  // 1: allow TestRecordingBurst's deliberate 429 storm on a tenant
)

// Write kinds: what CXLOAD_ALLOW_WRITES names. Every request that changes
// something on a tenant is of one kind (see WriteKind).
const (
	WritePresence  = "presence"  // PATCH /api/v2/users/{id}/presences/{source}
	WriteRouting   = "routing"   // PUT /api/v2/users/{id}/routingstatus: On Queue, Idle, Off Queue
	WriteQueues    = "queues"    // PATCH /api/v2/users/{id}/queues: queue membership
	WriteCalls     = "calls"     // placing and controlling calls
	WriteRecording = "recording" // pausing and resuming recordings
)

// WriteKinds lists the write kinds, in the order plans print them.
func WriteKinds() []string {
	return []string{WritePresence, WriteRouting, WriteQueues, WriteCalls, WriteRecording}
}

// MaxFixtureFileSize bounds CXLOAD_USERS and a CXLOAD_QUEUES file: 100,000
// emails take about 4 MiB.
const MaxFixtureFileSize = 16 << 20

// Fixtures are what a tenant run may touch and how: the test users and
// queues, whom calls may reach, the write kinds allowed and the storm opt-in.
type Fixtures struct {
	// UsersFrom is CXLOAD_USERS as set: a file's path or "group:<id>".
	UsersFrom string
	// Users are the file's entries, ids or emails, in order (nil for a group).
	Users []string
	// Group is the group id of "group:<id>".
	Group string
	// Queues are CXLOAD_QUEUES' ids or names, in order.
	Queues []string
	// CallTargets are CXLOAD_CALL_TARGETS' user ids or phone numbers.
	CallTargets []string
	// Writes are CXLOAD_ALLOW_WRITES' kinds, sorted as WriteKinds.
	Writes []string
	// Storm is CXLOAD_ALLOW_STORM=1.
	Storm bool
}

// usersHowTo says how to write CXLOAD_USERS.
const usersHowTo = "set " + EnvUsers + " to a file listing the test users' ids or emails, one per line (# starts a comment) or as a JSON array, or to group:<groupId> for the members of a group of test users"

// resolveFixtures reads the fixture variables of a tenant configuration.
func resolveFixtures(getenv func(string) string) (Fixtures, []error) {
	var f Fixtures
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("harness: "+format, args...)) }
	if v := strings.TrimSpace(getenv(EnvUsers)); v != "" {
		f.UsersFrom = v
		if id, ok := strings.CutPrefix(v, "group:"); ok {
			f.Group = strings.TrimSpace(id)
			if f.Group == "" || strings.ContainsAny(f.Group, "/?# ") {
				bad("%s=%q: want group:<groupId>, the id of a group of test users", EnvUsers, v)
			}
		} else {
			users, err := readFixtureFile(v, EnvUsers)
			switch {
			case err != nil:
				errs = append(errs, err)
			case len(users) == 0:
				bad("%s=%q: the file lists no user; %s", EnvUsers, v, usersHowTo)
			}
			f.Users = users
		}
	}
	if v := strings.TrimSpace(getenv(EnvQueues)); v != "" {
		if fi, err := os.Stat(v); err == nil && !fi.IsDir() {
			qs, err := readFixtureFile(v, EnvQueues)
			if err != nil {
				errs = append(errs, err)
			}
			f.Queues = qs
		} else {
			f.Queues = splitList(v)
		}
		if len(f.Queues) == 0 && len(errs) == 0 {
			bad("%s=%q: no queue; want queue ids or names, comma-separated, or a file with one per line", EnvQueues, v)
		}
	}
	if v := strings.TrimSpace(getenv(EnvCallTargets)); v != "" {
		f.CallTargets = splitList(v)
	}
	if v := strings.TrimSpace(getenv(EnvAllowWrites)); v != "" {
		for _, w := range splitList(strings.ToLower(v)) {
			switch {
			case w == "all" || w == "*":
				bad("%s=%q: name each write kind the run may send (%s); there is no %q", EnvAllowWrites, v, strings.Join(WriteKinds(), ","), w)
			case !slices.Contains(WriteKinds(), w):
				bad("%s=%q: unknown write kind %q; want a comma-separated list of %s", EnvAllowWrites, v, w, strings.Join(WriteKinds(), ", "))
			case !slices.Contains(f.Writes, w):
				f.Writes = append(f.Writes, w)
			}
		}
		slices.SortFunc(f.Writes, func(a, b string) int { return slices.Index(WriteKinds(), a) - slices.Index(WriteKinds(), b) })
	}
	if on, ok := envSwitch(getenv, EnvAllowStorm); ok {
		f.Storm = on
	} else {
		bad("%s=%q: want 1 (allow the deliberate 429 storm) or 0", EnvAllowStorm, getenv(EnvAllowStorm))
	}
	return f, errs
}

// splitList splits a comma-separated list, trimming blanks and dropping empty items.
func splitList(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readFixtureFile reads a file of ids, emails or names: one per line
// (blank lines and # comments skipped) or a JSON array of strings or of
// objects with "id" or "email" (as GET /api/v2/users' entities).
func readFixtureFile(path, env string) ([]string, error) {
	data, err := safefile.Read(path, MaxFixtureFileSize)
	if err != nil {
		return nil, fmt.Errorf("harness: %s=%q: cannot read: %v; point it at a regular file of at most %s with one entry per line or a JSON array",
			env, path, errors.Unwrap(err), safefile.Size(MaxFixtureFileSize))
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(t, &raw); err != nil {
			return nil, fmt.Errorf(`harness: %s %s: invalid JSON: %v; want ["id-or-email", ...] or [{"id": "..."}, {"email": "..."}]`, env, path, err)
		}
		out := make([]string, 0, len(raw))
		for i, r := range raw {
			var s string
			var o struct{ ID, Email, Name string }
			switch {
			case json.Unmarshal(r, &s) == nil:
			case json.Unmarshal(r, &o) == nil:
				s = cmpOr(o.ID, o.Email, o.Name)
			}
			if s = strings.TrimSpace(s); s == "" {
				return nil, fmt.Errorf(`harness: %s %s: [%d]: want a non-empty string or an object with "id" or "email", got %s`, env, path, i, r)
			}
			out = append(out, s)
		}
		return out, nil
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(line)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if env == EnvUsers && strings.ContainsAny(s, " \t,;") {
			return nil, fmt.Errorf("harness: %s %s:%d: %q: want one user id or email per line", env, path, i+1, s)
		}
		out = append(out, s)
	}
	return out, nil
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Users returns the n users a scenario acts on. On a tenant they are the
// fixture users of CXLOAD_USERS, in order (emails resolved to ids with GET
// /api/v2/users, a group's members with GET /api/v2/groups/{id}/members),
// and fewer than n is an error naming the variable; it never takes other
// users of the organization. On a simulator they are the directory's first
// n users. The ids are also the users calls may reach.
func (tg *Target) Users(ctx context.Context, c *api.Client, n int) ([]agent.User, error) {
	if tg.Guard == nil {
		users, err := agent.LoadUsers(ctx, c, n)
		if err != nil && tg.Kind() == KindExternal {
			err = fmt.Errorf("%w (%s=%s serves its own profile: restart it with go run ./scripts/gcsim -profile FILE, FILE setting \"directory\": {\"agents\": %d} or more)",
				err, EnvSimURL, tg.Config.SimURL, n)
		}
		return users, err
	}
	fx := tg.Config.Guard.Fixtures
	if fx.UsersFrom == "" {
		return nil, errNoUsers
	}
	var users []agent.User
	var err error
	if fx.Group != "" {
		users, err = groupMembers(ctx, c, fx.Group)
	} else {
		users, err = resolveUsers(ctx, c, fx.Users)
	}
	if err != nil {
		return nil, fmt.Errorf("harness: %s=%s: %w", EnvUsers, fx.UsersFrom, err)
	}
	if len(users) < n {
		return nil, fmt.Errorf("harness: %s=%s holds %d test user(s), the scenario needs %d: add users to it or lower %s",
			EnvUsers, fx.UsersFrom, len(users), n, EnvAgents)
	}
	users = users[:n]
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	tg.Guard.allowCallees(ids...)
	return users, nil
}

// resolveUsers turns ids and emails into users: entries with an @ are
// looked up in the directory (GET /api/v2/users, paged, read only).
func resolveUsers(ctx context.Context, c *api.Client, entries []string) ([]agent.User, error) {
	users := make([]agent.User, len(entries))
	want := map[string]int{}
	for i, e := range entries {
		if strings.Contains(e, "@") {
			want[strings.ToLower(e)] = i
			continue
		}
		users[i] = agent.User{ID: e}
	}
	for page := 1; len(want) > 0; page++ {
		var body struct {
			Entities []struct {
				ID, Name, Email string
			} `json:"entities"`
			PageCount int `json:"pageCount"`
		}
		req := &api.Request{Op: "users.list", Route: "/api/v2/users",
			Query: url.Values{"pageSize": {"500"}, "pageNumber": {strconv.Itoa(page)}}}
		if _, err := c.DoJSON(ctx, req, nil, &body); err != nil {
			return nil, fmt.Errorf("resolving emails, page %d of the directory: %w", page, err)
		}
		for _, u := range body.Entities {
			if i, ok := want[strings.ToLower(u.Email)]; ok {
				users[i] = agent.User{ID: u.ID, Name: u.Name}
				delete(want, strings.ToLower(u.Email))
			}
		}
		if len(body.Entities) == 0 || page >= body.PageCount {
			break
		}
	}
	if len(want) > 0 {
		var missing []string
		for e := range want {
			missing = append(missing, e)
		}
		slices.Sort(missing)
		return nil, fmt.Errorf("no user has the email %s: correct the file or create the test users", strings.Join(missing, ", "))
	}
	return users, nil
}

// groupMembers reads the members of a group (GET /api/v2/groups/{id}/members, paged).
func groupMembers(ctx context.Context, c *api.Client, group string) ([]agent.User, error) {
	var users []agent.User
	for page := 1; ; page++ {
		var body struct {
			Entities  []agent.User `json:"entities"`
			PageCount int          `json:"pageCount"`
		}
		req := &api.Request{Op: "groups.members", Method: http.MethodGet, Route: "/api/v2/groups/{id}/members", Params: []string{group},
			Query: url.Values{"pageSize": {"100"}, "pageNumber": {strconv.Itoa(page)}}}
		if _, err := c.DoJSON(ctx, req, nil, &body); err != nil {
			return nil, fmt.Errorf("reading the group's members, page %d: %w", page, err)
		}
		users = append(users, body.Entities...)
		if len(body.Entities) == 0 || page >= body.PageCount {
			return users, nil
		}
	}
}

// Queues readies users to go On Queue on the fixture queues only and
// returns those queues' ids. On a tenant they are CXLOAD_QUEUES' (names
// resolved with GET /api/v2/routing/queues), and it is an error, naming
// the variable, when it is not set. Each user must be a member of one of
// them and joined to no other queue (On Queue makes a user routable on
// every queue it joined: a test user joined to a production queue would
// be offered its customers); the fixture queues a user has not joined are
// joined, which the run records and puts back at Close. It reads each
// user's queues and never changes a membership outside the fixture. On a
// simulator it does nothing and returns nil: the scenario picks its queues.
func (tg *Target) Queues(ctx context.Context, c *api.Client, users []agent.User) ([]string, error) {
	if tg.Guard == nil {
		return nil, nil
	}
	fx := tg.Config.Guard.Fixtures
	if len(fx.Queues) == 0 {
		return nil, fmt.Errorf("harness: %s is not set: agents going On Queue on a tenant take calls only from the test queues it names; set it to their ids or names, comma-separated, or to a file with one per line", EnvQueues)
	}
	ids, err := resolveQueues(ctx, c, fx.Queues)
	if err != nil {
		return nil, fmt.Errorf("harness: %s: %w", EnvQueues, err)
	}
	tg.Guard.allowQueues(ids...)
	fixture := map[string]bool{}
	for _, id := range ids {
		fixture[id] = true
	}
	for _, u := range users {
		qs, err := userQueues(ctx, c, u.ID)
		if err != nil {
			return nil, fmt.Errorf("harness: reading test user %s's queues: %w", u.ID, err)
		}
		type member struct {
			ID     string `json:"id"`
			Joined bool   `json:"joined"`
		}
		var join []member
		in := false
		for _, q := range qs {
			switch {
			case fixture[q.ID]:
				in = true
				if !q.Joined {
					join = append(join, member{q.ID, true})
				}
			case q.Joined:
				return nil, fmt.Errorf("harness: test user %s is joined to queue %s (%s), which is not in %s: On Queue it would be offered that queue's calls; take the user out of the queue, or add the queue to %s if it is a test queue",
					u.ID, q.ID, q.Name, EnvQueues, EnvQueues)
			}
		}
		if !in {
			return nil, fmt.Errorf("harness: test user %s is a member of none of the queues of %s (%s): add the user to one of them, or drop the user from %s",
				u.ID, EnvQueues, firstFew(fx.Queues), EnvUsers)
		}
		if len(join) > 0 {
			req := &api.Request{Op: "fixture.queues.join", Method: http.MethodPatch, Route: "/api/v2/users/{id}/queues", Params: []string{u.ID}}
			if _, err := c.DoJSON(ctx, req, join, nil); err != nil {
				return nil, fmt.Errorf("harness: joining test user %s to its %s queues: %w", u.ID, EnvQueues, err)
			}
		}
	}
	return ids, nil
}

// queueRef is a queue as GET /api/v2/users/{id}/queues and GET
// /api/v2/routing/queues list it.
type queueRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Joined bool   `json:"joined"`
}

// userQueues reads a user's queues (GET /api/v2/users/{id}/queues, paged).
func userQueues(ctx context.Context, c *api.Client, user string) ([]queueRef, error) {
	var out []queueRef
	for page := 1; ; page++ {
		var body struct {
			Entities  []queueRef `json:"entities"`
			PageCount int        `json:"pageCount"`
		}
		req := &api.Request{Op: "fixture.queues.get", Method: http.MethodGet, Route: "/api/v2/users/{id}/queues", Params: []string{user},
			Query: url.Values{"pageSize": {"100"}, "pageNumber": {strconv.Itoa(page)}}}
		if _, err := c.DoJSON(ctx, req, nil, &body); err != nil {
			return nil, err
		}
		out = append(out, body.Entities...)
		if len(body.Entities) == 0 || page >= body.PageCount {
			return out, nil
		}
	}
}

// resolveQueues turns CXLOAD_QUEUES' entries into queue ids: an id (a
// UUID) is taken as it is, a name is looked up (GET /api/v2/routing/queues?name=)
// and must match one queue exactly (case aside).
func resolveQueues(ctx context.Context, c *api.Client, entries []string) ([]string, error) {
	var ids []string
	for _, e := range entries {
		if isUUID(e) {
			ids = append(ids, e)
			continue
		}
		var found []queueRef
		for page := 1; ; page++ {
			var body struct {
				Entities  []queueRef `json:"entities"`
				PageCount int        `json:"pageCount"`
			}
			req := &api.Request{Op: "fixture.queues.find", Method: http.MethodGet, Route: "/api/v2/routing/queues",
				Query: url.Values{"name": {e}, "pageSize": {"100"}, "pageNumber": {strconv.Itoa(page)}}}
			if _, err := c.DoJSON(ctx, req, nil, &body); err != nil {
				return nil, fmt.Errorf("looking up queue %q: %w", e, err)
			}
			for _, q := range body.Entities {
				if strings.EqualFold(q.Name, e) {
					found = append(found, q)
				}
			}
			if len(body.Entities) == 0 || page >= body.PageCount {
				break
			}
		}
		switch len(found) {
		case 0:
			return nil, fmt.Errorf("no queue is named %q: correct the name or give the queue's id", e)
		case 1:
			ids = append(ids, found[0].ID)
		default:
			return nil, fmt.Errorf("%d queues are named %q: give the test queue's id instead", len(found), e)
		}
	}
	return ids, nil
}

// isUUID reports whether s has the form of a Genesys id.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}

// UsersRequired is the refusal a run that changes users gets on a tenant
// without CXLOAD_USERS, before anything is opened or sent; nil on a
// simulator, in a rehearsal (which names its own test users), or when
// CXLOAD_USERS is set. getenv is usually os.Getenv. A configuration that
// does not resolve is not judged here: the target reports it.
func UsersRequired(getenv func(string) string) error {
	if strings.TrimSpace(getenv(EnvUsers)) != "" || strings.TrimSpace(getenv(EnvRehearse)) == "1" {
		return nil
	}
	if cfg, err := ResolveTarget(getenv); err != nil || cfg.Kind != KindTenant {
		return nil
	}
	return errNoUsers
}

var errNoUsers = fmt.Errorf("harness: %s is not set: a scenario that acts on users needs named test users on a tenant; %s", EnvUsers, usersHowTo)
