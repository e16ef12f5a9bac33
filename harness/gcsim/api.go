package gcsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// The organization's mutable state and what every route family shares:
// paging, error helpers.

// orgState is the mutable part of the organization.
type orgState struct {
	users []userState // by directory index

	convMu    sync.Mutex
	convs     map[string]*conversation
	convOrder []string // oldest first, bounded by maxConversations
	screens   map[string]string
	active    atomic.Int64 // active screen recordings
	callSeq   atomic.Int64
	partSeq   atomic.Int64
	acd       acdState // routing; guarded by convMu

	chanMu    sync.Mutex
	chanToken map[string]*token // channel id -> token that created it
	chanSeq   int
}

const maxConversations = 100_000

// isoMillis is Genesys' date format.
const isoMillis = "2006-01-02T15:04:05.000Z"

type userState struct {
	mu            sync.Mutex
	presenceID    string
	presenceMsg   string
	presenceSince time.Time
	routingStatus string
	routingSince  time.Time
	// routingSinceText is routingSince formatted once, for the hot GET.
	routingSinceText string
}

// newOrgState is the organization as the simulator starts it at time
// start: every user Offline and OFF_QUEUE since then.
func newOrgState(d *directory, seed uint64, start time.Time) *orgState {
	o := &orgState{users: make([]userState, len(d.users)), convs: map[string]*conversation{}, screens: map[string]string{},
		chanToken: map[string]*token{}, acd: newACDState(d, seed)}
	offline := ""
	for _, p := range d.presences {
		if p.SystemPresence == "OFFLINE" {
			offline = p.ID
		}
	}
	if offline == "" && len(d.presences) > 0 {
		offline = d.presences[0].ID
	}
	for i := range o.users {
		o.users[i].presenceID = offline
		o.users[i].presenceSince = start
		o.users[i].routingStatus = "OFF_QUEUE"
		o.users[i].routingSince, o.users[i].routingSinceText = start, start.UTC().Format(isoMillis)
	}
	return o
}

// user finds the {id} user ("me" is not a parameter here) or answers 404.
func (s *Server) user(c *reqCtx) (*User, *userState) {
	u := s.dir.byID[c.params[0]]
	if u == nil {
		s.writeError(c, http.StatusNotFound, "not.found", "The user "+c.params[0]+" was not found.",
			&errorExtra{details: []genesys.ErrorDetail{{ErrorCode: "user.not.found", EntityID: c.params[0]}}})
		return nil, nil
	}
	return u, &s.state.users[u.index]
}

// paging reads pageSize and pageNumber like Genesys (defaults 25 and 1,
// pageSize at most 500).
func paging(q url.Values) (size, number int, err error) {
	size, number = 25, 1
	if v := q.Get("pageSize"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 500 {
			return 0, 0, fmt.Errorf("pageSize %q: must be an integer from 1 to 500", v)
		}
	}
	if v := q.Get("pageNumber"); v != "" {
		if number, err = strconv.Atoi(v); err != nil || number < 1 {
			return 0, 0, fmt.Errorf("pageNumber %q: must be an integer >= 1", v)
		}
	}
	return size, number, nil
}

// listing is the SDK's paged entity listing.
type listing[T any] struct {
	Entities    []T    `json:"entities"`
	PageSize    int    `json:"pageSize"`
	PageNumber  int    `json:"pageNumber"`
	Total       int    `json:"total"`
	PageCount   int    `json:"pageCount"`
	FirstURI    string `json:"firstUri"`
	SelfURI     string `json:"selfUri"`
	NextURI     string `json:"nextUri,omitempty"`
	PreviousURI string `json:"previousUri,omitempty"`
	LastURI     string `json:"lastUri"`
}

func page[T any](path string, q url.Values, all []T, size, number int) listing[T] {
	total := len(all)
	pages := (total + size - 1) / size
	lo := min((number-1)*size, total)
	hi := min(lo+size, total)
	uri := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("pageSize", strconv.Itoa(size))
		v.Set("pageNumber", strconv.Itoa(n))
		return path + "?" + v.Encode()
	}
	l := listing[T]{Entities: all[lo:hi], PageSize: size, PageNumber: number, Total: total, PageCount: pages,
		FirstURI: uri(1), SelfURI: uri(number), LastURI: uri(max(pages, 1))}
	if number < pages {
		l.NextURI = uri(number + 1)
	}
	if number > 1 {
		l.PreviousURI = uri(number - 1)
	}
	if l.Entities == nil {
		l.Entities = []T{}
	}
	return l
}

func (s *Server) badRequest(c *reqCtx, msg string) {
	s.writeError(c, http.StatusBadRequest, "bad.request", msg, nil)
}
