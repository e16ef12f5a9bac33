package gcsim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/cxload/cxload/harness/gcsim/internal/streaming"
	"github.com/cxload/cxload/harness/genesys"
)

// counter is an atomic counter on its own cache line, so that counters
// updated by different requests do not slow each other down.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

func (c *counter) add(d int64) { c.n.Add(d) }
func (c *counter) load() int64 { return c.n.Load() }

// statusSlots are the statuses counted per route; others go to the last slot.
var statusSlots = [...]int{0, 101, 200, 201, 202, 204, 400, 401, 404, 413, 429, 500, 503}

const otherSlot = len(statusSlots)

func slotOf(status int) int {
	for i, s := range statusSlots {
		if s == status {
			return i
		}
	}
	return otherSlot
}

type statsState struct {
	routes  []*route
	rules   []*limitRule
	byRoute [][otherSlot + 1]counter
	unknown counter // 404 for unknown paths

	authRejected [authRevoked + 1]counter

	faultLatency, fault5xx, faultResets, faultOutage, faultDrops, faultClosing counter
}

func newStatsState(rt *router, rules []*limitRule) *statsState {
	return &statsState{routes: rt.routes, rules: rules, byRoute: make([][otherSlot + 1]counter, len(rt.routes))}
}

// count records the response status of a request on a known route.
func (st *statsState) count(c *reqCtx) {
	if c.route == nil {
		return
	}
	st.byRoute[c.route.idx][slotOf(c.status)].add(1)
}

func (st *statsState) reset() {
	for i := range st.byRoute {
		for j := range st.byRoute[i] {
			st.byRoute[i][j].n.Store(0)
		}
	}
	st.unknown.n.Store(0)
	for i := range st.authRejected {
		st.authRejected[i].n.Store(0)
	}
	for _, r := range st.rules {
		r.admitted.n.Store(0)
		r.rejected.n.Store(0)
	}
	for _, c := range []*counter{&st.faultLatency, &st.fault5xx, &st.faultResets, &st.faultOutage, &st.faultDrops, &st.faultClosing} {
		c.n.Store(0)
	}
}

// Stats are the server's counters since start (or the last /admin/reset).
type Stats struct {
	// Requests counts responses per route template and status. Status 0
	// counts connections reset by a fault, -1 statuses outside the usual set.
	Requests []RouteStats `json:"requests"`
	// UnknownPaths counts 404s for paths and methods the simulator does not serve.
	UnknownPaths int64 `json:"unknownPaths"`
	// Buckets counts, per limit key, requests admitted and rejected (a
	// rejection is counted on each full bucket that caused it).
	Buckets []BucketStats `json:"buckets"`
	// Auth counts refused bearer tokens by reason.
	Auth AuthStats `json:"auth"`
	// Tokens counts tokens issued, per client id.
	Tokens map[string]int64 `json:"tokens"`
	// Faults counts injected faults.
	Faults FaultStats `json:"faults"`
	// Sockets are the notification hub's counters.
	Sockets SocketStats `json:"sockets"`
}

// RouteStats is the count of one status on one route.
type RouteStats struct {
	Method string `json:"method"`
	Route  string `json:"route"`
	Status int    `json:"status"` // 0 = reset by a fault, -1 = another status
	Count  int64  `json:"count"`
}

// BucketStats is the admitted and rejected counts of one limit.
type BucketStats struct {
	Key      string        `json:"key"`
	Scope    genesys.Scope `json:"scope"`
	Allowed  int64         `json:"allowed"`
	Rejected int64         `json:"rejected"`
}

// AuthStats counts bearer tokens refused with 401.
type AuthStats struct {
	Unknown int64 `json:"unknown"`
	Expired int64 `json:"expired"`
	Revoked int64 `json:"revoked"`
}

// FaultStats counts injected faults.
type FaultStats struct {
	Latency             int64 `json:"latency"`             // requests delayed
	ServiceUnavailable  int64 `json:"serviceUnavailable"`  // 503s injected
	Resets              int64 `json:"resets"`              // connections reset
	TokenOutage         int64 `json:"tokenOutage"`         // token requests refused by the outage
	SocketDrops         int64 `json:"socketDrops"`         // DropSockets actions
	SocketClosingStorms int64 `json:"socketClosingStorms"` // SocketClosing actions
}

// SocketStats are the notification hub's counters: channels and sockets
// open now; connects, heartbeats, pongs, events published and delivered,
// overflows of slow readers, drops, socket_closing warnings since start.
type SocketStats = streaming.Stats

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := s.stats
	out := Stats{UnknownPaths: st.unknown.load(), Tokens: map[string]int64{}}
	for i, r := range st.routes {
		for j := range st.byRoute[i] {
			n := st.byRoute[i][j].load()
			if n == 0 {
				continue
			}
			status := -1
			if j < otherSlot {
				status = statusSlots[j]
			}
			out.Requests = append(out.Requests, RouteStats{Method: r.method, Route: r.template, Status: status, Count: n})
		}
	}
	sort.SliceStable(out.Requests, func(a, b int) bool {
		x, y := out.Requests[a], out.Requests[b]
		if x.Route != y.Route {
			return x.Route < y.Route
		}
		if x.Method != y.Method {
			return x.Method < y.Method
		}
		return x.Status < y.Status
	})
	for _, r := range st.rules {
		out.Buckets = append(out.Buckets, BucketStats{Key: r.Key, Scope: r.Scope, Allowed: r.admitted.load(), Rejected: r.rejected.load()})
	}
	out.Auth = AuthStats{Unknown: st.authRejected[authUnknown].load(), Expired: st.authRejected[authExpired].load(),
		Revoked: st.authRejected[authRevoked].load()}
	for id, c := range s.auth.clients {
		out.Tokens[id] = c.issued.Load()
	}
	out.Faults = FaultStats{Latency: st.faultLatency.load(), ServiceUnavailable: st.fault5xx.load(), Resets: st.faultResets.load(),
		TokenOutage: st.faultOutage.load(), SocketDrops: st.faultDrops.load(), SocketClosingStorms: st.faultClosing.load()}
	out.Sockets = s.hub.Stats()
	return out
}

// Count returns how many responses of status the route (method and
// template, e.g. "GET", "/api/v2/routing/queues") got.
func (st Stats) Count(method, route string, status int) int64 {
	for _, r := range st.Requests {
		if r.Method == method && r.Route == route && r.Status == status {
			return r.Count
		}
	}
	return 0
}

// Bucket returns the counters of limit key.
func (st Stats) Bucket(key string) BucketStats {
	for _, b := range st.Buckets {
		if b.Key == key {
			return b
		}
	}
	return BucketStats{Key: key}
}

// FetchStats reads the counters of a simulator running in another process
// (go run ./scripts/gcsim) from its GET /admin/stats; baseURL is its URL,
// hc nil means http.DefaultClient. In the same process, call Stats.
func FetchStats(ctx context.Context, hc *http.Client, baseURL string) (Stats, error) {
	var st Stats
	if hc == nil {
		hc = http.DefaultClient
	}
	url := strings.TrimRight(baseURL, "/") + "/admin/stats"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, fmt.Errorf("gcsim: stats: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return st, fmt.Errorf("gcsim: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return st, fmt.Errorf("gcsim: GET %s: reading the answer: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("gcsim: GET %s: status %d (is this a gcsim server?)", url, resp.StatusCode)
	}
	if err := jsonv2.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("gcsim: GET %s: decoding the counters: %w", url, err)
	}
	return st, nil
}
