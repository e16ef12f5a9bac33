package api

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/genesys"
	"golang.org/x/time/rate"
)

// DefaultWindow is assumed for a bucket whose window nobody stated: every
// documented Genesys limit is per minute.
const DefaultWindow = genesys.DefaultWindow

// A Bucket is a rate limit the client knows: how many requests its scope may
// make per window, and on which route families.
type Bucket struct {
	Key       string        // e.g. "token.rate.per.minute"
	Namespace string        // e.g. "platform.api"
	Scope     genesys.Scope // token, client-user, endpoint-user or org; "" = genesys.ScopeOfKey(Key)
	Allowed   int           // requests per window
	Window    time.Duration // default DefaultWindow
	Families  []string      // route families (genesys.Family) it applies to; empty = every route
	Source    string        // where it came from: "profile", "tenant", "learned" (429 body), "headers"
}

// Limits is the client-side limiter: one token bucket
// (golang.org/x/time/rate) per Bucket and scope instance (per token, per
// client, per family and client, or one for the organization). A bucket of
// Allowed requests per Window becomes a rate.Limiter with burst
// b = max(1, Allowed/20) and rate (Allowed−b)/Window, so that no interval of
// one window, however aligned with the server's fixed windows, sees more
// than Allowed requests.
//
// Limits learns: a 429 naming an unknown limit.key adds a bucket for that key
// (scope from the key, figure from limit.value or the message, families: the
// route's), and inin-ratelimit-* headers correct the matching instance's
// tokens down to what the server says remains, or pause it until the window
// resets when it is full. A Limits is safe for concurrent use.
type Limits struct {
	enabled bool
	family  func(route string) string

	mu      sync.RWMutex
	buckets []*Bucket
	byKey   map[string]int
	routes  map[string][]ref // route template -> applicable buckets
	insts   map[instKey]*instance
}

type instKey struct {
	bucket int
	id     string // token id, client id, or "" for org
	family string // endpoint-user only
}

type instance struct {
	lim    *rate.Limiter
	paused atomic.Int64 // unix nanoseconds until which the scope is paused
}

// identity is who makes a request, for choosing scope instances.
type identity struct {
	token, client, user string
}

// NewLimits returns a client-side limiter seeded with buckets. family maps
// a route template to its family (nil: genesys.Family).
func NewLimits(family func(route string) string, buckets ...Bucket) *Limits {
	return newLimits(true, family, buckets)
}

// ObserveLimits returns a Limits that never delays a request and learns
// nothing: it only attributes a 429 to the bucket its body names, with that
// bucket's scope when it is one of buckets. Use it to send at full rate and
// see the server's limits refuse (429 storms on purpose).
func ObserveLimits(family func(route string) string, buckets ...Bucket) *Limits {
	return newLimits(false, family, buckets)
}

func newLimits(enabled bool, family func(route string) string, buckets []Bucket) *Limits {
	if family == nil {
		family = genesys.Family
	}
	l := &Limits{enabled: enabled, family: family, byKey: map[string]int{},
		routes: map[string][]ref{}, insts: map[instKey]*instance{}}
	for _, b := range buckets {
		l.add(b)
	}
	return l
}

// Enabled reports whether l delays requests: false for ObserveLimits.
func (l *Limits) Enabled() bool { return l != nil && l.enabled }

// Buckets returns a copy of the known buckets, seeded and learned.
func (l *Limits) Buckets() []Bucket {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]Bucket, len(l.buckets))
	for i, b := range l.buckets {
		out[i] = *b
		out[i].Families = append([]string(nil), b.Families...)
	}
	return out
}

// add registers b (or updates the known bucket of that key); l.mu held or
// not yet shared.
func (l *Limits) add(b Bucket) int {
	if b.Window <= 0 {
		b.Window = DefaultWindow
	}
	if b.Scope == "" {
		b.Scope = genesys.ScopeOfKey(b.Key)
	}
	if i, ok := l.byKey[b.Key]; ok {
		old := l.buckets[i]
		if b.Allowed > 0 && b.Allowed != old.Allowed {
			old.Allowed = b.Allowed
			lim, burst := limiterFor(*old)
			now := time.Now()
			for k, in := range l.insts {
				if k.bucket == i {
					in.lim.SetLimitAt(now, lim)
					in.lim.SetBurstAt(now, burst)
				}
			}
		}
		for _, f := range b.Families {
			if !slices.Contains(old.Families, f) && len(old.Families) > 0 {
				old.Families = append(old.Families, f)
				clear(l.routes)
			}
		}
		return i
	}
	if b.Allowed <= 0 {
		return -1
	}
	l.buckets = append(l.buckets, &b)
	l.byKey[b.Key] = len(l.buckets) - 1
	clear(l.routes)
	return len(l.buckets) - 1
}

// limiterFor turns a bucket into token-bucket parameters (see Limits).
func limiterFor(b Bucket) (rate.Limit, int) {
	burst := max(1, b.Allowed/20)
	if b.Allowed <= 1 {
		return rate.Every(b.Window), 1
	}
	return rate.Limit(float64(b.Allowed-burst) / b.Window.Seconds()), burst
}

// ref is a bucket as the hot path needs it: its index and its scope, which
// never changes once the bucket is added.
type ref struct {
	i     int
	scope genesys.Scope
}

// applicable returns the buckets that apply to route.
func (l *Limits) applicable(route string) []ref {
	l.mu.RLock()
	refs, ok := l.routes[route]
	l.mu.RUnlock()
	if ok {
		return refs
	}
	fam := l.family(route)
	l.mu.Lock()
	defer l.mu.Unlock()
	refs = []ref{}
	for i, b := range l.buckets {
		if len(b.Families) == 0 || slices.Contains(b.Families, fam) {
			refs = append(refs, ref{i: i, scope: b.Scope})
		}
	}
	l.routes[route] = refs
	return refs
}

// ref returns bucket i's ref.
func (l *Limits) ref(i int) ref {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return ref{i: i, scope: l.buckets[i].Scope}
}

func keyFor(r ref, id identity) instKey {
	switch r.scope {
	case genesys.ScopeToken:
		return instKey{bucket: r.i, id: id.token}
	case genesys.ScopeClientUser:
		if id.user != "" {
			return instKey{bucket: r.i, id: id.client, family: id.user}
		}
		return instKey{bucket: r.i, id: id.client}
	case genesys.ScopeEndpointUser:
		u := id.user
		if u == "" {
			u = id.client // client credentials: the app is the user
		}
		return instKey{bucket: r.i, id: u}
	}
	return instKey{bucket: r.i}
}

func (l *Limits) instance(k instKey) *instance {
	l.mu.RLock()
	in := l.insts[k]
	l.mu.RUnlock()
	if in != nil {
		return in
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if in = l.insts[k]; in == nil {
		lim, burst := limiterFor(*l.buckets[k.bucket])
		in = &instance{lim: rate.NewLimiter(lim, burst)}
		l.insts[k] = in
	}
	return in
}

// refusal says which bucket kept a request from being sent.
type refusal struct {
	key   string
	scope genesys.Scope
	wait  time.Duration
}

func (r *refusal) Error() string {
	return fmt.Sprintf("api: client-side limit %s (scope %s) needs %v, more than the context allows", r.key, r.scope, r.wait)
}

// wait blocks until every bucket applicable to route has room for one
// request of id and no scope is paused. It returns the time
// waited. When ctx's deadline comes before that, it waits for nothing, gives
// back the reserved tokens (not those of buckets that had one at once) and
// returns a *refusal naming the bucket; when ctx ends, ctx's error.
func (l *Limits) wait(ctx context.Context, route string, id identity) (time.Duration, error) {
	if !l.Enabled() {
		return 0, nil
	}
	refs := l.applicable(route)
	if len(refs) == 0 {
		return 0, nil
	}
	// A fresh reading (not the caller's): a limiter asked about a time long
	// before its last reservation would grant extra tokens.
	now := time.Now()
	nowNs := now.UnixNano()
	var resv [8]*rate.Reservation
	n := 0
	var longest time.Duration
	worst := -1
	for _, r := range refs {
		in := l.instance(keyFor(r, id))
		d := time.Duration(in.paused.Load() - nowNs)
		if d <= 0 && in.lim.AllowN(now, 1) {
			continue // a token now and no pause: the common case, no allocation
		}
		if n < len(resv) {
			r := in.lim.ReserveN(now, 1)
			resv[n] = r
			n++
			if rd := r.DelayFrom(now); rd > d {
				d = rd
			}
		}
		if d > longest {
			longest, worst = d, r.i
		}
	}
	if longest <= 0 {
		return 0, nil
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(longest).After(dl) {
		for _, r := range resv[:n] {
			r.CancelAt(now)
		}
		l.mu.RLock()
		b := l.buckets[worst]
		l.mu.RUnlock()
		return 0, &refusal{key: b.Key, scope: b.Scope, wait: longest}
	}
	t := time.NewTimer(longest)
	defer t.Stop()
	select {
	case <-t.C:
		return longest, nil
	case <-ctx.Done():
		for _, r := range resv[:n] {
			r.CancelAt(now)
		}
		return time.Since(now), ctx.Err()
	}
}

// observation is what one response said about limits.
type observation struct {
	route      string
	id         identity
	status     int
	headers    genesys.RateLimitHeaders
	body       *genesys.LimitBody // 429 only
	retryAfter time.Duration
	now        time.Time
}

// observe corrects the buckets from a response and returns the key and scope
// of the bucket that a 429 names ("" otherwise).
func (l *Limits) observe(o observation) (key string, scope genesys.Scope) {
	if o.status == 429 && o.body != nil && o.body.Key != "" {
		key = o.body.Key
		scope = genesys.ScopeOfKey(key)
	}
	if !l.Enabled() {
		if key != "" {
			l.mu.RLock()
			if i, ok := l.byKey[key]; ok {
				scope = l.buckets[i].Scope
			}
			l.mu.RUnlock()
		}
		return key, scope
	}
	if key != "" {
		i, ok := l.bucketIndex(key)
		if !ok || (o.body.Value > 0 && o.body.Value != l.bucketAllowed(i)) {
			b := Bucket{Key: key, Namespace: o.body.Namespace, Scope: scope, Source: "learned",
				Allowed: firstPositive(o.body.Value, o.body.MsgAllowed, o.headers.Allowed), Window: o.body.MsgWindow}
			if b.Scope == genesys.ScopeEndpointUser {
				b.Families = []string{l.family(o.route)}
			}
			l.mu.Lock()
			i = l.add(b)
			l.mu.Unlock()
			ok = i >= 0
		}
		if ok {
			l.mu.RLock()
			scope = l.buckets[i].Scope
			l.mu.RUnlock()
			pause := firstPositiveDur(o.retryAfter, o.body.MsgRetry, o.headers.Reset, time.Second)
			in := l.instance(keyFor(l.ref(i), o.id))
			setMax(&in.paused, o.now.Add(pause).UnixNano())
		}
		return key, scope
	}
	if !o.headers.Present {
		return "", ""
	}
	// A limiter holds at most Allowed/20 tokens (its burst): when the server
	// says more than that remain, there is nothing to correct. This keeps
	// the common response off the limiter's locks.
	if o.status != 429 && o.headers.Allowed-o.headers.Count > o.headers.Allowed/20+1 {
		return "", ""
	}
	// Headers describe the bucket nearest its limit: find it by its figure.
	refs := l.applicable(o.route)
	match := -1
	l.mu.RLock()
	for _, r := range refs {
		if l.buckets[r.i].Allowed == o.headers.Allowed {
			match = r.i
			break
		}
	}
	l.mu.RUnlock()
	if match < 0 {
		fam := l.family(o.route)
		l.mu.Lock()
		match = l.add(Bucket{Key: "inin-ratelimit:" + fam, Scope: genesys.ScopeEndpointUser, Allowed: o.headers.Allowed,
			Families: []string{fam}, Source: "headers"})
		l.mu.Unlock()
		if match < 0 {
			return "", ""
		}
	}
	in := l.instance(keyFor(l.ref(match), o.id))
	remaining := float64(o.headers.Allowed - o.headers.Count)
	if remaining <= 0 && o.headers.Reset > 0 {
		setMax(&in.paused, o.now.Add(o.headers.Reset).UnixNano())
	}
	if excess := in.lim.TokensAt(o.now) - max(remaining, 0); excess >= 1 {
		in.lim.ReserveN(o.now, int(excess)) // give up tokens the server says are spent
	}
	return "", ""
}

func (l *Limits) bucketIndex(key string) (int, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i, ok := l.byKey[key]
	return i, ok
}

func (l *Limits) bucketAllowed(i int) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.buckets[i].Allowed
}

func setMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func firstPositive(v ...int) int {
	for _, x := range v {
		if x > 0 {
			return x
		}
	}
	return 0
}

func firstPositiveDur(v ...time.Duration) time.Duration {
	for _, x := range v {
		if x > 0 {
			return x
		}
	}
	return 0
}
