package gcsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// Faults are injected failures, per route family. Set them in the profile
// (active from the start), with [Server.SetFaults], or with
// PUT /admin/faults (same JSON). A zero Faults injects nothing.
//
//	{"families": {"*": {"latency": {"distribution": "uniform", "min": "5ms", "max": "50ms"}},
//	              "conversations.recordingstate": {"errorRate": 0.05, "retryAfter": "2s", "resetRate": 0.01}},
//	 "tokenOutage": false, "dropSockets": false, "socketClosing": false}
//
// Random choices come from a generator seeded by Profile.Seed, so a
// sequential run injects the same faults every time.
type Faults struct {
	// Families maps a route family (see Families) to its faults; "*" applies
	// to every family without its own entry.
	Families map[string]FaultSpec `json:"families,omitempty"`
	// TokenOutage makes POST /oauth/token answer 503 with Retry-After.
	TokenOutage bool `json:"tokenOutage,omitempty"`
	// DropSockets, an action, drops every notification WebSocket abruptly
	// (no close frame) when the faults are set. It is not remembered.
	DropSockets bool `json:"dropSockets,omitempty"`
	// SocketClosing, an action, sends v2.system.socket_closing on every
	// socket when the faults are set, and closes them after
	// notifications.socketClosingGrace (a maintenance storm). Not remembered.
	SocketClosing bool `json:"socketClosing,omitempty"`
	// SkipHeartbeats, an action, withholds the next N heartbeats of every
	// channel (a "missed heartbeat" fault). Not remembered.
	SkipHeartbeats int `json:"skipHeartbeats,omitempty"`
}

// FaultSpec is the faults of one route family.
type FaultSpec struct {
	// Latency is added before the request is handled.
	Latency Latency `json:"latency,omitzero"`
	// ErrorRate is the share of requests (0..1) answered 503 with Retry-After.
	ErrorRate float64 `json:"errorRate,omitempty"`
	// RetryAfter is the Retry-After of injected 503s (default 1s).
	RetryAfter Duration `json:"retryAfter,omitempty"`
	// ResetRate is the share of requests (0..1) whose connection is reset
	// without an answer.
	ResetRate float64 `json:"resetRate,omitempty"`
}

// Latency is a distribution of added latency.
type Latency struct {
	// Distribution is "fixed" (Mean), "uniform" (Min..Max) or "exponential"
	// (Min plus an exponential with mean Mean, capped at Max if Max > 0).
	Distribution string   `json:"distribution,omitempty"`
	Min          Duration `json:"min,omitempty"`
	Max          Duration `json:"max,omitempty"`
	Mean         Duration `json:"mean,omitempty"`
}

func (f Faults) clone() Faults {
	c := f
	if f.Families != nil {
		c.Families = make(map[string]FaultSpec, len(f.Families))
		for k, v := range f.Families {
			c.Families[k] = v
		}
	}
	return c
}

func (f Faults) validate(path string) error {
	if f.SkipHeartbeats < 0 {
		return fmt.Errorf("gcsim: profile: %s.skipHeartbeats: %d must be >= 0", path, f.SkipHeartbeats)
	}
	keys := make([]string, 0, len(f.Families))
	for k := range f.Families {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := fmt.Sprintf("%s.families[%q]", path, k)
		if k != "*" && !genesys.KnownFamily(k) {
			return fmt.Errorf("gcsim: profile: %s: unknown route family; use \"*\" or one of %v", p, genesys.Families())
		}
		v := f.Families[k]
		if v.ErrorRate < 0 || v.ErrorRate > 1 || math.IsNaN(v.ErrorRate) {
			return fmt.Errorf("gcsim: profile: %s.errorRate: %v must be between 0 and 1", p, v.ErrorRate)
		}
		if v.ResetRate < 0 || v.ResetRate > 1 || math.IsNaN(v.ResetRate) {
			return fmt.Errorf("gcsim: profile: %s.resetRate: %v must be between 0 and 1", p, v.ResetRate)
		}
		if v.RetryAfter < 0 {
			return fmt.Errorf("gcsim: profile: %s.retryAfter: must be >= 0", p)
		}
		l := v.Latency
		if l.Min < 0 || l.Max < 0 || l.Mean < 0 {
			return fmt.Errorf("gcsim: profile: %s.latency: durations must be >= 0", p)
		}
		switch l.Distribution {
		case "":
			if l != (Latency{}) {
				return fmt.Errorf("gcsim: profile: %s.latency.distribution: required when latency is set; want fixed, uniform or exponential", p)
			}
		case "fixed", "exponential":
		case "uniform":
			if l.Max < l.Min {
				return fmt.Errorf("gcsim: profile: %s.latency.max: %v is below min %v", p, l.Max.Std(), l.Min.Std())
			}
		default:
			return fmt.Errorf("gcsim: profile: %s.latency.distribution: unknown %q; want fixed, uniform or exponential", p, l.Distribution)
		}
	}
	return nil
}

// faultState is the active faults and the seeded generator.
type faultState struct {
	active atomic.Pointer[Faults]
	on     atomic.Bool // any per-family fault set: the hot path skips everything otherwise
	mu     sync.Mutex
	rng    *rand.Rand
}

func (fs *faultState) set(f Faults, seed uint64) {
	f = f.clone()
	f.DropSockets, f.SocketClosing, f.SkipHeartbeats = false, false, 0
	fs.mu.Lock()
	if fs.rng == nil {
		fs.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	fs.mu.Unlock()
	fs.active.Store(&f)
	fs.on.Store(len(f.Families) > 0)
}

func (fs *faultState) tokenOutage() bool {
	f := fs.active.Load()
	return f != nil && f.TokenOutage
}

// draw returns the next pseudo-random number in [0,1).
func (fs *faultState) draw() float64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.rng.Float64()
}

func (fs *faultState) latency(l Latency) time.Duration {
	switch l.Distribution {
	case "fixed":
		return l.Mean.Std()
	case "uniform":
		return l.Min.Std() + time.Duration(fs.draw()*float64(l.Max-l.Min))
	case "exponential":
		d := l.Min.Std() + time.Duration(-math.Log(1-fs.draw())*float64(l.Mean))
		if l.Max > 0 && d > l.Max.Std() {
			d = l.Max.Std()
		}
		return d
	}
	return 0
}

// SetFaults replaces the active faults at run time and performs its actions
// (DropSockets, SocketClosing). It panics on invalid faults; PUT
// /admin/faults answers 400 instead.
func (s *Server) SetFaults(f Faults) {
	if err := f.validate("faults"); err != nil {
		panic(err)
	}
	s.faults.set(f, s.profile.Seed)
	if f.DropSockets {
		s.stats.faultDrops.add(1)
		s.hub.Drop("")
	}
	if f.SocketClosing {
		s.stats.faultClosing.add(1)
		s.hub.SocketClosing("")
	}
	if f.SkipHeartbeats > 0 {
		s.hub.SkipHeartbeats("", f.SkipHeartbeats)
	}
}

// Faults returns the active faults.
func (s *Server) Faults() Faults { return s.faults.active.Load().clone() }

// injectFaults applies the faults of the request's family. It returns
// false if it answered (503) or reset the connection.
func (s *Server) injectFaults(c *reqCtx) bool {
	if !s.faults.on.Load() {
		return true
	}
	f := s.faults.active.Load()
	spec, ok := f.Families[c.route.family]
	if !ok {
		if spec, ok = f.Families["*"]; !ok {
			return true
		}
	}
	if d := s.faults.latency(spec.Latency); d > 0 {
		s.stats.faultLatency.add(1)
		// The server's deadlines count from the request; the latency is
		// the simulator's own delay, not the client's. Without a deadline
		// to move (a Handler mounted elsewhere), the errors do not matter.
		rc := http.NewResponseController(c.w)
		now := time.Now()
		_ = rc.SetReadDeadline(now.Add(d + readTimeout))
		_ = rc.SetWriteDeadline(now.Add(d + writeTimeout))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
		}
	}
	if spec.ResetRate > 0 && s.faults.draw() < spec.ResetRate {
		s.stats.faultResets.add(1)
		c.status = 0
		if hj, ok := c.w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // send RST, not FIN
				}
				conn.Close()
				s.stats.count(c)
				return false
			}
		}
		panic(http.ErrAbortHandler)
	}
	if spec.ErrorRate > 0 && s.faults.draw() < spec.ErrorRate {
		s.stats.fault5xx.add(1)
		ra := spec.RetryAfter.Std()
		if ra <= 0 {
			ra = time.Second
		}
		c.w.Header()[genesys.HeaderRetryAfter] = []string{strconv.FormatInt(ceilSeconds(int64(ra)), 10)}
		s.writeError(c, http.StatusServiceUnavailable, "service.unavailable",
			"The service is currently unavailable (simulated fault).", nil)
		return false
	}
	return true
}
