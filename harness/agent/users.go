package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/internal/safefile"
)

// A User is the identity of an agent in the target's directory.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// usersPageSize is the page size of GET /api/v2/users (Genesys allows up to 500).
const usersPageSize = 100

// LoadUsers reads the first n users of the organization with GET
// /api/v2/users, page by page (operation "users.list"). On the simulator
// these are its agents, in order. It fails if the directory has fewer than
// n users, saying how many it has.
func LoadUsers(ctx context.Context, c *api.Client, n int) ([]User, error) {
	if n <= 0 {
		return nil, nil
	}
	// n may be far more than the directory holds: allocate as users come.
	users := make([]User, 0, min(n, usersPageSize))
	for page := 1; len(users) < n; page++ {
		var body struct {
			Entities  []User `json:"entities"`
			PageCount int    `json:"pageCount"`
			Total     int    `json:"total"`
		}
		req := &api.Request{Op: "users.list", Method: http.MethodGet, Route: "/api/v2/users",
			Query: url.Values{"pageSize": {strconv.Itoa(usersPageSize)}, "pageNumber": {strconv.Itoa(page)}}}
		if _, err := c.DoJSON(ctx, req, nil, &body); err != nil {
			return nil, fmt.Errorf("agent: loading users, page %d: %w", page, err)
		}
		for _, u := range body.Entities {
			if u.ID == "" {
				return nil, fmt.Errorf("agent: loading users, page %d: a user without id", page)
			}
			if len(users) < n {
				users = append(users, u)
			}
		}
		if len(body.Entities) == 0 || page >= body.PageCount {
			break
		}
	}
	if len(users) < n {
		return nil, fmt.Errorf("agent: the directory has %d users, the population needs %d: lower the number of agents or add users", len(users), n)
	}
	return users, nil
}

// ReadUsers reads users from r: either a JSON array of {"id","name"}
// objects (as in GET /api/v2/users' entities), or one user id per line
// (blank lines and lines starting with # are skipped). name is used in
// errors, e.g. the file's path.
func ReadUsers(r io.Reader, name string) ([]User, error) {
	br := bufio.NewReader(r)
	first, err := peekNonSpace(br)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("agent: users %s: %w", name, err)
	}
	if first == '[' {
		var users []User
		dec := json.NewDecoder(br)
		if err := dec.Decode(&users); err != nil {
			return nil, fmt.Errorf(`agent: users %s: %v: want a JSON array like [{"id":"…","name":"…"}]`, name, err)
		}
		for i, u := range users {
			if strings.TrimSpace(u.ID) == "" {
				return nil, fmt.Errorf(`agent: users %s: [%d].id is empty: every user needs an id`, name, i)
			}
		}
		return users, nil
	}
	var users []User
	sc := bufio.NewScanner(br)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if strings.ContainsAny(s, " \t,") {
			return nil, fmt.Errorf("agent: users %s:%d: %q: want one user id per line", name, line, s)
		}
		users = append(users, User{ID: s})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("agent: users %s: %w", name, err)
	}
	return users, nil
}

// MaxUsersFileSize bounds a users file: 100,000 users with UUID ids and
// names take about 10 MiB, so a real file stays under it while a wrong path
// (a log, a device) is refused before it fills the memory.
const MaxUsersFileSize = 16 << 20

// ReadUsersFile is [ReadUsers] on the regular file at path, of at most
// [MaxUsersFileSize].
func ReadUsersFile(path string) ([]User, error) {
	data, err := safefile.Read(path, MaxUsersFileSize)
	if err != nil {
		return nil, fmt.Errorf("agent: users: %w; want a users file (a JSON array or one id per line)", err)
	}
	return ReadUsers(bytes.NewReader(data), path)
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, br.UnreadByte()
		}
	}
}
