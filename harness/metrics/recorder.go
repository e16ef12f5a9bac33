package metrics

import (
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/result"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Recorder aggregates Results into per-operation, per-outcome latency
// histograms (service time and CO-corrected total), counters, per-interval
// series and rate-limit observations. Snapshot turns what it holds into a
// result.Document.
//
// A Recorder is safe for concurrent use. Each operation has its own mutex,
// so that results of different operations are recorded in parallel; once an
// operation and outcome have been seen, Record does not allocate.
//
// Memory: each (operation, outcome) holds two histograms of about 190 KB
// each.
type Recorder struct {
	cfg   config
	start time.Time

	ops   atomic.Pointer[map[opKey]*opEntry] // replaced, never changed, when an operation is added
	opsMu sync.Mutex                         // serialises adding operations
	other atomic.Pointer[opEntry]            // result.OtherOp, once there are too many operations

	wsMu sync.Mutex
	ws   wsAgg

	obs Observer // WithObserver's, or nil

	// clients counts each OAuth client's requests over every operation, so
	// that a bucket can tell how many a client had sent when it first
	// rejected it. Replaced, never changed, when a client is added;
	// clientsMu serialises adding.
	clients   atomic.Pointer[map[string]*clientCount]
	clientsMu sync.Mutex
}

type opKey struct{ op, method, route string }

// opEntry is one operation's aggregate and the mutex that guards it.
type opEntry struct {
	name, route string
	mu          sync.Mutex
	agg         aggregate
}

// aggregate is what the results of one operation add up to.
type aggregate struct {
	outcomes  [result.NumOutcomes]outcomeAgg
	status429 int64
	bytesIn   int64
	bytesOut  int64
	newConns  int64
	retryWait time.Duration
	attempts  int64

	// per-interval series, index = interval since recorder start
	requests, throttled, errors, ok []int64

	// header evidence (any response)
	hdrAllowed  int
	hdrMaxCount int
	hdrMaxReset time.Duration

	ids identities // seen in all results

	// the count of the last result's client (Recorder.clients), cached
	cli   *clientCount
	cliID string

	buckets []*bucketAgg
}

// identities are the distinct token, client and user IDs seen, with a
// one-entry cache per kind: a run of results of one agent costs a string
// comparison each, no map lookup.
type identities struct {
	tokens, clients, users    map[string]struct{}
	lastTok, lastCli, lastUsr string
}

// record adds res's identities.
func (s *identities) record(res *Result) {
	if res.TokenID != "" && res.TokenID != s.lastTok {
		s.tokens = addID(s.tokens, res.TokenID)
		s.lastTok = res.TokenID
	}
	if res.ClientID != "" && res.ClientID != s.lastCli {
		s.clients = addID(s.clients, res.ClientID)
		s.lastCli = res.ClientID
	}
	if res.UserID != "" && res.UserID != s.lastUsr {
		s.users = addID(s.users, res.UserID)
		s.lastUsr = res.UserID
	}
}

// merge adds src's identities (their strings are already the recorder's
// own copies).
func (s *identities) merge(src *identities) {
	s.tokens = addKeys(s.tokens, src.tokens)
	s.clients = addKeys(s.clients, src.clients)
	s.users = addKeys(s.users, src.users)
}

func addKeys(dst, src map[string]struct{}) map[string]struct{} {
	if dst == nil && len(src) > 0 {
		dst = make(map[string]struct{}, len(src))
	}
	for k := range src {
		dst[k] = struct{}{}
	}
	return dst
}

type outcomeAgg struct {
	count   int64
	latency *hdr.Histogram
	total   *hdr.Histogram
}

type bucketAgg struct {
	key, namespace, scope string
	clientSide            bool
	rejected, recovered   int64
	first, last           time.Time
	allowed               int
	value                 int
	maxReset              time.Duration
	maxRetryAfter         time.Duration
	ids                   identities
	samples               []string // first correlation ids of rejected requests
}

// NewRecorder returns a Recorder whose clock starts now.
func NewRecorder(opts ...Option) *Recorder {
	r := &Recorder{}
	r.cfg.interval = DefaultSeriesInterval
	r.cfg.maxOps = DefaultMaxOperations
	for _, o := range opts {
		o(&r.cfg)
	}
	if r.cfg.now == nil {
		r.cfg.now = time.Now
	}
	r.start = r.cfg.now()
	r.ops.Store(new(map[opKey]*opEntry))
	r.clients.Store(new(map[string]*clientCount))
	if r.cfg.newObserver != nil {
		r.obs = r.cfg.newObserver(r.cfg.scenario, r.cfg.shard)
	}
	return r
}

// entries returns every operation's entry, result.OtherOp's included.
func (r *Recorder) entries() []*opEntry {
	var es []*opEntry
	for _, e := range *r.ops.Load() {
		es = append(es, e)
	}
	if e := r.other.Load(); e != nil {
		es = append(es, e)
	}
	return es
}

// Start returns the recorder's start time (result.Document.Start).
func (r *Recorder) Start() time.Time { return r.start }

func (r *Recorder) entry(res *Result) *opEntry {
	k := opKey{op: res.Op}
	if res.Op == "" {
		k = opKey{method: res.Method, route: res.Route}
	}
	if e, ok := (*r.ops.Load())[k]; ok {
		return e
	}
	if e := r.other.Load(); e != nil {
		return e
	}
	return r.addEntry(k, res)
}

func (r *Recorder) addEntry(k opKey, res *Result) *opEntry {
	r.opsMu.Lock()
	defer r.opsMu.Unlock()
	old := *r.ops.Load()
	if e, ok := old[k]; ok {
		return e
	}
	if len(old) >= r.cfg.maxOps {
		e := r.other.Load()
		if e == nil {
			e = &opEntry{name: result.OtherOp}
			r.other.Store(e)
		}
		return e
	}
	name := k.op
	if name == "" {
		name = strings.TrimSpace(k.method + " " + k.route)
		if name == "" {
			name = "unnamed"
		}
	}
	e := &opEntry{name: name, route: res.Route}
	m := maps.Clone(old)
	if m == nil {
		m = make(map[opKey]*opEntry)
	}
	m[k] = e
	r.ops.Store(&m)
	return e
}

// Record adds one result. It does not retain res. It takes one mutex per
// operation and does not allocate once the result's operation, outcome,
// identities and series interval have been seen (BenchmarkRecord measures it).
func (r *Recorder) Record(res *Result) {
	e := r.entry(res)
	e.mu.Lock()
	o := r.recordLocked(&e.agg, res)
	e.mu.Unlock()
	if r.obs != nil {
		r.obs.Observe(e.name, o, res)
	}
}

// recordLocked adds res to s and returns the outcome it is counted under.
func (r *Recorder) recordLocked(s *aggregate, res *Result) result.Outcome {
	o := res.Outcome
	if o == result.OK && res.Status >= 400 {
		o = result.OutcomeFor(res.Status) // an unset result.Outcome with an error status
	}
	if o >= result.NumOutcomes {
		o = result.TransportError
	}
	oa := &s.outcomes[o]
	if oa.latency == nil {
		oa.latency, oa.total = result.NewHDR(), result.NewHDR()
	}
	oa.count++
	_ = oa.latency.RecordValue(result.Micros(res.Latency))
	total := res.Total
	if total <= 0 {
		total = res.Latency
	}
	_ = oa.total.RecordValue(result.Micros(total))
	if res.Status == 429 {
		s.status429++
	}
	s.bytesIn += res.BytesIn
	s.bytesOut += res.BytesOut
	if res.Connect > 0 {
		s.newConns++
	}
	s.retryWait += res.RetryWait
	if res.Attempts > 0 { // 0: nothing reached the server (refused before sending)
		s.attempts += int64(res.Attempts)
	}

	// Completion time, relative to the recorder's start.
	var done time.Time
	switch {
	case !res.Intended.IsZero():
		done = res.Intended.Add(total)
	case !res.Start.IsZero():
		done = res.Start.Add(total)
	default:
		done = r.cfg.now()
	}
	if idx := int64(done.Sub(r.start) / r.cfg.interval); idx < result.MaxSeries {
		if idx < 0 {
			idx = 0
		}
		s.requests = bump(s.requests, idx)
		switch o {
		case result.OK:
			s.ok = bump(s.ok, idx)
		case result.Throttled:
			s.throttled = bump(s.throttled, idx)
		case result.HTTPError, result.ServerError, result.TransportError:
			s.errors = bump(s.errors, idx)
		}
	}

	rl := &res.RateLimit
	if rl.Allowed > s.hdrAllowed {
		s.hdrAllowed = rl.Allowed
	}
	if rl.Count > s.hdrMaxCount {
		s.hdrMaxCount = rl.Count
	}
	if rl.Reset > s.hdrMaxReset {
		s.hdrMaxReset = rl.Reset
	}

	s.ids.record(res)
	at := res.Start
	if at.IsZero() {
		at = done
	}
	var cli *clientCount
	var prior int64
	if res.ClientID != "" {
		if res.ClientID != s.cliID {
			s.cli, s.cliID = r.client(res.ClientID), res.ClientID
		}
		if cli = s.cli; cli != nil {
			prior = cli.completed(at)
		}
	}

	if o == result.Throttled || res.ThrottledBy != "" {
		b := r.recordBucket(s, res, at, o != result.Throttled)
		if cli != nil {
			cli.rejected(b.key, b.clientSide, at, prior)
		}
	}
	return o
}

// bump adds one at index idx, growing the slice (amortised) when needed.
func bump(s []int64, idx int64) []int64 {
	if idx >= int64(len(s)) {
		if idx < int64(cap(s)) {
			s = s[:idx+1]
		} else {
			n := make([]int64, idx+1, max(2*cap(s), int(idx)+1, 64))
			copy(n, s)
			s = n
		}
	}
	s[idx]++
	return s
}

func addID(m map[string]struct{}, id string) map[string]struct{} {
	if m == nil {
		m = make(map[string]struct{})
	}
	if _, ok := m[id]; !ok {
		m[strings.Clone(id)] = struct{}{}
	}
	return m
}

// recordBucket adds a rejection to its bucket and returns the bucket.
func (r *Recorder) recordBucket(s *aggregate, res *Result, at time.Time, recovered bool) *bucketAgg {
	key := res.ThrottledBy
	if key == "" {
		key = res.RateLimit.Key
	}
	if key == "" {
		key = "unknown"
	}
	clientSide := strings.HasPrefix(res.Scope, "client-side:")
	var b *bucketAgg
	for _, bb := range s.buckets {
		if bb.key == key && bb.clientSide == clientSide {
			b = bb
			break
		}
	}
	if b == nil {
		b = &bucketAgg{key: strings.Clone(key), clientSide: clientSide}
		s.buckets = append(s.buckets, b)
	}
	rl := &res.RateLimit
	if b.namespace == "" && rl.Namespace != "" {
		b.namespace = strings.Clone(rl.Namespace)
	}
	if b.scope == "" && res.Scope != "" {
		b.scope = strings.Clone(res.Scope)
	}
	b.rejected++
	if res.CorrelationID != "" && len(b.samples) < result.MaxSamples {
		b.samples = append(b.samples, strings.Clone(res.CorrelationID))
	}
	if recovered {
		b.recovered++
	}
	if b.first.IsZero() || at.Before(b.first) {
		b.first = at
	}
	if at.After(b.last) {
		b.last = at
	}
	b.allowed = max(b.allowed, rl.Allowed)
	b.value = max(b.value, rl.Value)
	if resetDescribes(rl) {
		b.maxReset = max(b.maxReset, rl.Reset)
	}
	b.maxRetryAfter = max(b.maxRetryAfter, rl.RetryAfter)
	b.ids.record(res)
	return b
}

// resetDescribes reports whether a 429's inin-ratelimit-reset tells the
// window of the bucket that rejected it. The headers describe one bucket,
// often the token's, while the body's limit names the one that rejected:
// the reset belongs to the rejecting bucket only when the headers' allowance
// is the body's limit.value, or, when the body names no value, when there
// is no Retry-After (the rejecting bucket's own word) to prefer.
func resetDescribes(rl *RateLimitInfo) bool {
	if rl.Value > 0 {
		return rl.Allowed == rl.Value
	}
	return rl.RetryAfter <= 0
}

// opAgg is a copy of one operation's aggregate.
type opAgg struct {
	name, route string
	aggregate
}

func addSeries(dst, src []int64) []int64 {
	if len(src) > len(dst) {
		n := make([]int64, len(src))
		copy(n, dst)
		dst = n
	}
	for i, v := range src {
		dst[i] += v
	}
	return dst
}

// collect copies every operation's aggregate, holding one operation's lock at
// a time.
func (r *Recorder) collect() []*opAgg {
	es := r.entries()
	aggs := make([]*opAgg, 0, len(es))
	for _, e := range es {
		a := &opAgg{name: e.name, route: e.route}
		e.mu.Lock()
		a.merge(&e.agg)
		e.mu.Unlock()
		aggs = append(aggs, a)
	}
	// Several keys (Op set, or Method+Route) may share a name: fold them.
	sort.Slice(aggs, func(i, j int) bool { return aggs[i].name < aggs[j].name })
	out := aggs[:0]
	for _, a := range aggs {
		if n := len(out); n > 0 && out[n-1].name == a.name {
			out[n-1].merge(&a.aggregate)
			continue
		}
		out = append(out, a)
	}
	return out
}

// merge adds src's outcomes, counters, series, header evidence,
// identities and buckets into d.
func (d *aggregate) merge(src *aggregate) {
	for o := range src.outcomes {
		so := &src.outcomes[o]
		if so.latency == nil {
			continue
		}
		do := &d.outcomes[o]
		if do.latency == nil {
			do.latency, do.total = result.NewHDR(), result.NewHDR()
		}
		do.count += so.count
		do.latency.Merge(so.latency)
		do.total.Merge(so.total)
	}
	d.status429 += src.status429
	d.bytesIn += src.bytesIn
	d.bytesOut += src.bytesOut
	d.newConns += src.newConns
	d.retryWait += src.retryWait
	d.attempts += src.attempts
	d.requests = addSeries(d.requests, src.requests)
	d.throttled = addSeries(d.throttled, src.throttled)
	d.errors = addSeries(d.errors, src.errors)
	d.ok = addSeries(d.ok, src.ok)
	d.hdrAllowed = max(d.hdrAllowed, src.hdrAllowed)
	d.hdrMaxCount = max(d.hdrMaxCount, src.hdrMaxCount)
	d.hdrMaxReset = max(d.hdrMaxReset, src.hdrMaxReset)
	d.ids.merge(&src.ids)
	for _, b := range src.buckets {
		d.buckets = mergeBucket(d.buckets, b)
	}
}

// mergeBucket folds b into the list (by key and source), copying what it keeps.
func mergeBucket(list []*bucketAgg, b *bucketAgg) []*bucketAgg {
	var d *bucketAgg
	for _, x := range list {
		if x.key == b.key && x.clientSide == b.clientSide {
			d = x
			break
		}
	}
	if d == nil {
		d = &bucketAgg{key: b.key, clientSide: b.clientSide}
		list = append(list, d)
	}
	if d.namespace == "" {
		d.namespace = b.namespace
	}
	if d.scope == "" {
		d.scope = b.scope
	}
	d.rejected += b.rejected
	d.recovered += b.recovered
	for _, c := range b.samples {
		if len(d.samples) < result.MaxSamples {
			d.samples = append(d.samples, c)
		}
	}
	if !b.first.IsZero() && (d.first.IsZero() || b.first.Before(d.first)) {
		d.first = b.first
	}
	if b.last.After(d.last) {
		d.last = b.last
	}
	d.allowed = max(d.allowed, b.allowed)
	d.value = max(d.value, b.value)
	d.maxReset = max(d.maxReset, b.maxReset)
	d.maxRetryAfter = max(d.maxRetryAfter, b.maxRetryAfter)
	d.ids.merge(&b.ids)
	return list
}
