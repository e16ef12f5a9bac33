package harness_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/gcsim"
)

// groupMembersPage is the largest page the fake groups API serves,
// smaller than the page the harness asks for, so that it must follow
// pageCount.
const groupMembersPage = 4

// serveGroup answers GET /api/v2/groups/{group}/members as Genesys does (a
// paged listing of users; 404 for another group) with members, and passes
// every other request to next. The simulator has no groups API.
func serveGroup(group string, members []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rest, ok := strings.CutPrefix(r.URL.Path, "/api/v2/groups/")
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if rest != group+"/members" || r.Method != http.MethodGet {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"status":404,"code":"not.found","message":"group %s not found"}`, rest)
				return
			}
			n, _ := strconv.Atoi(r.URL.Query().Get("pageNumber"))
			n = max(n, 1)
			pages := (len(members) + groupMembersPage - 1) / groupMembersPage
			lo := min((n-1)*groupMembersPage, len(members))
			hi := min(lo+groupMembersPage, len(members))
			type user struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}
			out := struct {
				Entities   []user `json:"entities"`
				PageSize   int    `json:"pageSize"`
				PageNumber int    `json:"pageNumber"`
				Total      int    `json:"total"`
				PageCount  int    `json:"pageCount"`
			}{Entities: []user{}, PageSize: groupMembersPage, PageNumber: n, Total: len(members), PageCount: pages}
			for _, id := range members[lo:hi] {
				out.Entities = append(out.Entities, user{id, "Test user " + id})
			}
			json.NewEncoder(w).Encode(out)
		})
	}
}

// CXLOAD_USERS=group:<id> takes the group's members, every page of them,
// in order, and a run changes only them; asking for more than the group
// holds, or naming a group that does not exist, is refused naming
// CXLOAD_USERS.
func TestTenantGroupFixture(t *testing.T) {
	var members []string
	for i := 3; i < 30; i += 3 {
		members = append(members, gcsim.UserID(i))
	}
	if len(members) <= groupMembersPage {
		t.Fatalf("%d members fit one page: the test would not page", len(members))
	}
	sim, log := queueStandIn(t, 30, serveGroup("g-test", members))
	e := standInEnv(map[string]string{harness.EnvUsers: "group:g-test", harness.EnvAllowWrites: "presence", harness.EnvStateDir: t.TempDir()})
	tg, c := openStandIn(t, sim, e)
	ctx := t.Context()

	if _, err := tg.Users(ctx, c, len(members)+1); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("CXLOAD_USERS=group:g-test holds %d test user(s), the scenario needs %d", len(members), len(members)+1)) {
		t.Errorf("Users(%d) of a %d-member group = %v, want a refusal naming %s", len(members)+1, len(members), err, harness.EnvUsers)
	}
	users, err := tg.Users(ctx, c, len(members))
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	var got, want []string
	for i, u := range users {
		got, want = append(got, u.ID), append(want, members[i])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Users = %v, want the group's members in order %v", got, want)
	}
	for _, u := range users {
		if err := setPresence(ctx, c, sim, u.ID); err != nil {
			t.Fatalf("presence of member %s: %v", u.ID, err)
		}
	}
	pages := 0
	for _, l := range log.all() {
		if strings.HasPrefix(l, "GET /api/v2/groups/g-test/members?") {
			pages++
		}
		f := strings.Fields(l)
		if f[0] == http.MethodGet || !strings.HasPrefix(f[1], "/api/v2/users/") {
			continue
		}
		if u := strings.Split(f[1], "/")[4]; !slices.Contains(want, u) {
			t.Errorf("the stand-in got %q, a change to user %s outside the group", l, u)
		}
	}
	if wantPages := 2 * ((len(members) + groupMembersPage - 1) / groupMembersPage); pages != wantPages {
		t.Errorf("group members read in %d page requests, want %d (every page, twice: two Users calls)", pages, wantPages)
	}
	if err := tg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	e[harness.EnvUsers] = "group:g-none"
	tg, c = openStandIn(t, sim, e)
	if _, err := tg.Users(ctx, c, 1); err == nil || !strings.Contains(err.Error(), "CXLOAD_USERS=group:g-none: reading the group's members, page 1") || !strings.Contains(err.Error(), "404") {
		t.Errorf("Users of a group that does not exist = %v, want an error naming CXLOAD_USERS and the 404", err)
	}
}
