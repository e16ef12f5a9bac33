package metrics

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// SchemaVersion is the schema of the result document this package writes.
const SchemaVersion = "cxload.result/v1"

// HistogramEncoding is the encoding of Histogram.Data: an HdrHistogram V2
// compressed snapshot, base64 (standard alphabet, padded), as in HdrHistogram
// log files: it starts with "HISTF". It is what hdrhistogram-go's
// Histogram.Encode(V2CompressedEncodingCookieBase) returns and Decode reads;
// do not base64 it again.
const HistogramEncoding = "hdr-v2-base64"

// doubleEncoded starts a histogram encoded twice: base64 of "HISTFA".
const doubleEncoded = "SElTVEZB"

// HistogramUnit is the unit of the values in a Histogram: microseconds.
const HistogramUnit = "us"

// Document is the result of one scenario (or one shard of it), as written in
// the test output by Emit and read back by DecodeDocument. See the package
// documentation for the schema.
//
// A Document is a plain value: reading it from several goroutines is safe,
// changing it (Merge, AssertThresholds) is not.
type Document struct {
	Schema     string                 `json:"schema"`
	Scenario   string                 `json:"scenario"`
	Shard      string                 `json:"shard,omitempty"`
	Labels     map[string]string      `json:"labels,omitempty"`
	Target     Target                 `json:"target"`
	Start      time.Time              `json:"start"`
	End        time.Time              `json:"end"`
	Operations []OpStats              `json:"operations"`
	RateLimits []RateLimitObservation `json:"rateLimits"`
	Identities Identities             `json:"identities"`
	Series     Series                 `json:"series"`
	WebSocket  *WebSocketStats        `json:"websocket,omitempty"`
	Thresholds []ThresholdResult      `json:"thresholds,omitempty"`
	Summary    string                 `json:"summary,omitempty"`
}

// Target says what the run was pointed at.
type Target struct {
	Kind   string `json:"kind"`   // "simulator" or "tenant"
	Region string `json:"region"` // region name for a tenant, "" for the simulator
}

// OpStats is the aggregate of one operation.
type OpStats struct {
	Op          string                    `json:"op"`
	Route       string                    `json:"route,omitempty"`
	Count       int64                     `json:"count"`
	Outcomes    map[string]int64          `json:"outcomes"` // by Outcome.String()
	Status429   int64                     `json:"status429"`
	BytesIn     int64                     `json:"bytesIn"`
	BytesOut    int64                     `json:"bytesOut"`
	Connections int64                     `json:"connections"` // requests that opened a new connection (Result.Connect > 0)
	RetryWaitMs float64                   `json:"retryWaitMs"`
	Attempts    int64                     `json:"attempts"`
	Latency     Histogram                 `json:"latency"` // service time of the last attempt, all outcomes
	Total       Histogram                 `json:"total"`   // CO-corrected: from intended send, retries included
	ByOutcome   map[string]OutcomeLatency `json:"byOutcome,omitempty"`
	RateHeaders *RateHeaders              `json:"rateHeaders,omitempty"`
}

// OutcomeLatency holds the histograms of one outcome of one operation.
type OutcomeLatency struct {
	Latency Histogram `json:"latency"`
	Total   Histogram `json:"total"`
}

// RateHeaders is the largest inin-ratelimit-* figures an operation's
// responses carried.
type RateHeaders struct {
	Allowed  int     `json:"allowed"`
	MaxCount int     `json:"maxCount"`
	MaxReset float64 `json:"maxResetSeconds"`
}

// Identities counts the distinct opaque identities the run used. The id lists
// are capped (256 each); when a list is complete (its length equals the
// count), Merge unions it exactly, otherwise it adds the counts.
type Identities struct {
	Tokens    int      `json:"tokens"`
	Clients   int      `json:"clients"`
	Users     int      `json:"users"`
	TokenIDs  []string `json:"tokenIds,omitempty"`
	ClientIDs []string `json:"clientIds,omitempty"`
	UserIDs   []string `json:"userIds,omitempty"`
}

// RateLimitObservation is what the run saw of one rate-limit bucket: the
// answer to "which limit, what scope".
type RateLimitObservation struct {
	Key            string    `json:"key"`
	Namespace      string    `json:"namespace,omitempty"`
	Scope          string    `json:"scope"`                   // inferred from evidence (see InferScope); a client-side limiter's own scope
	ScopeReason    string    `json:"scopeReason,omitempty"`   // why InferScope chose it
	DeclaredScope  string    `json:"declaredScope,omitempty"` // as stated by the client (Result.Scope)
	Allowed        int       `json:"allowed"`                 // requests per window; 0 = unknown
	WindowSeconds  float64   `json:"windowSeconds"`           // 0 = unknown
	WindowSource   string    `json:"windowSource,omitempty"`  // "profile", "ratelimit-reset", "retry-after"
	Rejected       int64     `json:"rejected"`                // requests it rejected (at least one attempt)
	Recovered      int64     `json:"recovered"`               // of which a retry later got through
	FirstRejection time.Time `json:"firstRejection,omitzero"`
	LastRejection  time.Time `json:"lastRejection,omitzero"`
	Evidence       Evidence  `json:"evidence"`
	Source         string    `json:"source"`                         // "server" or "client-side"
	Samples        []string  `json:"sampleCorrelationIds,omitempty"` // correlation ids of the first rejections, for a support case
}

// Evidence is what the run saw about who shared a throttling bucket; it is the
// input of InferScope.
type Evidence struct {
	Tokens      int      `json:"tokens"`               // distinct tokens the bucket rejected
	Clients     int      `json:"clients"`              // distinct OAuth clients it rejected
	Users       int      `json:"users"`                // distinct non-empty users it rejected
	TokensSeen  int      `json:"tokensSeen"`           // distinct tokens in the whole run
	ClientsSeen int      `json:"clientsSeen"`          // distinct clients in the whole run
	UsersSeen   int      `json:"usersSeen"`            // distinct non-empty users in the whole run
	Ops         []string `json:"ops,omitempty"`        // operations the bucket rejected
	OpsPassing  []string `json:"opsPassing,omitempty"` // other operations that succeeded while it rejected
	TokenIDs    []string `json:"tokenIds,omitempty"`   // opaque ids, capped at 256
	ClientIDs   []string `json:"clientIds,omitempty"`  // opaque ids, capped at 256
	UserIDs     []string `json:"userIds,omitempty"`    // opaque ids, capped at 256
}

// Series holds per-interval counts of completed requests, relative to
// Document.Start: element i covers [Start+i·Interval, Start+(i+1)·Interval).
type Series struct {
	IntervalMs int64   `json:"intervalMs"`
	Requests   []int64 `json:"requests"`
	Throttled  []int64 `json:"throttled"`
	Errors     []int64 `json:"errors"` // http_error + server_error + transport_error
}

// WebSocketStats aggregates notification-channel activity.
type WebSocketStats struct {
	Connects          int64     `json:"connects"`
	Heartbeats        int64     `json:"heartbeats"`
	MaxHeartbeatGapMs float64   `json:"maxHeartbeatGapMs"`
	Drops             int64     `json:"drops"`
	Reconnects        int64     `json:"reconnects"`
	Events            int64     `json:"events"`
	Lost              int64     `json:"lost"`
	PushLatency       Histogram `json:"pushLatency"`
}

// ThresholdResult is the verdict of one threshold on a document.
type ThresholdResult struct {
	Expr   string `json:"expr"`
	Value  string `json:"value"` // the measured value, formatted like the threshold's
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"` // one paragraph: what was measured, on what
}

// Histogram is a latency distribution in microseconds, HdrHistogram V2
// compressed and base64 encoded, so that histograms from several shards
// merge exactly. Histograms made by Snapshot and DecodeDocument keep the
// decoded form; otherwise every read decodes Data. Reads are safe from
// several goroutines.
type Histogram struct {
	Encoding string `json:"encoding"` // HistogramEncoding
	Unit     string `json:"unit"`     // HistogramUnit
	Data     string `json:"data"`

	h *hdr.Histogram // decoded Data, or nil
}

func encodeHist(h *hdr.Histogram) (Histogram, error) {
	if h == nil {
		h = newHist()
	}
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase) // already base64: "HISTF..."
	if err != nil {
		return Histogram{}, fmt.Errorf("metrics: encode histogram: %w", err)
	}
	return Histogram{Encoding: HistogramEncoding, Unit: HistogramUnit, Data: string(b), h: h}, nil
}

// Hist returns the decoded histogram (values in microseconds). An empty Data
// decodes to an empty histogram. The result is shared with h: do not modify it.
func (h Histogram) Hist() (*hdr.Histogram, error) {
	if h.h != nil {
		return h.h, nil
	}
	if h.Data == "" {
		return newHist(), nil
	}
	if h.Encoding != "" && h.Encoding != HistogramEncoding {
		return nil, fmt.Errorf("metrics: histogram encoding %q is not supported (want %q)", h.Encoding, HistogramEncoding)
	}
	if h.Unit != "" && h.Unit != HistogramUnit {
		return nil, fmt.Errorf("metrics: histogram unit %q is not supported (want %q)", h.Unit, HistogramUnit)
	}
	data := []byte(h.Data)
	if strings.HasPrefix(h.Data, doubleEncoded) {
		// base64 of base64: tolerated, since early writers produced it
		if raw, err := base64.StdEncoding.DecodeString(h.Data); err == nil {
			data = raw
		}
	}
	d, err := hdr.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("metrics: histogram data is not an HdrHistogram V2 compressed snapshot in base64 (\"HISTF...\"): %w", err)
	}
	return d, nil
}

// decode caches the decoded form of Data in h.
func (h *Histogram) decode() error {
	d, err := h.Hist()
	if err != nil {
		return err
	}
	h.h = d
	return nil
}

func (h Histogram) hist() *hdr.Histogram {
	d, err := h.Hist()
	if err != nil {
		return newHist()
	}
	return d
}

// Count returns the number of recorded values (0 if Data cannot be decoded).
func (h Histogram) Count() int64 { return h.hist().TotalCount() }

// Percentile returns the value at percentile p (0 < p <= 100), e.g. 99 or
// 99.9, within 0.1%. It returns 0 for an empty or undecodable histogram.
func (h Histogram) Percentile(p float64) time.Duration {
	d := h.hist()
	if d.TotalCount() == 0 {
		return 0
	}
	return time.Duration(d.ValueAtPercentile(p)) * time.Microsecond
}

// Max returns the largest recorded value (within 0.1%).
func (h Histogram) Max() time.Duration {
	d := h.hist()
	if d.TotalCount() == 0 {
		return 0
	}
	return time.Duration(d.Max()) * time.Microsecond
}

// Min returns the smallest recorded value (within 0.1%).
func (h Histogram) Min() time.Duration {
	d := h.hist()
	if d.TotalCount() == 0 {
		return 0
	}
	return time.Duration(d.Min()) * time.Microsecond
}

// Mean returns the mean of the recorded values.
func (h Histogram) Mean() time.Duration {
	return time.Duration(h.hist().Mean() * float64(time.Microsecond))
}

// merge adds other into h and re-encodes h.
func (h *Histogram) merge(other *Histogram) error { return h.mergeEnc(other, true) }

// mergeEnc adds other into h; without encode, h keeps only the decoded form.
func (h *Histogram) mergeEnc(other *Histogram, encode bool) error {
	a, err := h.Hist()
	if err != nil {
		return err
	}
	b, err := other.Hist()
	if err != nil {
		return err
	}
	m := a.Clone()
	if dropped := m.Merge(b); dropped > 0 {
		return fmt.Errorf("metrics: merge histograms: %d values out of range", dropped)
	}
	if !encode {
		*h = Histogram{Encoding: HistogramEncoding, Unit: HistogramUnit, h: m}
		return nil
	}
	e, err := encodeHist(m)
	if err != nil {
		return err
	}
	*h = e
	return nil
}

// Op returns the statistics of operation name, or nil if the document has
// none. The pointer refers into d.Operations.
func (d *Document) Op(name string) *OpStats {
	for i := range d.Operations {
		if d.Operations[i].Op == name {
			return &d.Operations[i]
		}
	}
	return nil
}

// OpNames returns the names of the document's operations, sorted.
func (d *Document) OpNames() []string {
	names := make([]string, 0, len(d.Operations))
	for _, o := range d.Operations {
		names = append(names, o.Op)
	}
	sort.Strings(names)
	return names
}

// All returns the statistics of all operations together, named "*". Its
// histograms are not encoded (their Data is empty): read them through their
// methods (Percentile, Hist, ...).
func (d *Document) All() *OpStats {
	all := &OpStats{Op: "*", Outcomes: map[string]int64{}}
	for i := range d.Operations {
		// errors cannot happen for documents that decoded; ignore them here
		_ = all.add(&d.Operations[i], false)
	}
	return all
}

// Duration returns End - Start.
func (d *Document) Duration() time.Duration { return d.End.Sub(d.Start) }

// RateLimit returns the observation of bucket key (server-side first, then
// client-side), or nil.
func (d *Document) RateLimit(key string) *RateLimitObservation {
	var found *RateLimitObservation
	for i := range d.RateLimits {
		if d.RateLimits[i].Key == key {
			if d.RateLimits[i].Source != "client-side" {
				return &d.RateLimits[i]
			}
			if found == nil {
				found = &d.RateLimits[i]
			}
		}
	}
	return found
}

// Outcome returns the count of outcome o.
func (s *OpStats) Outcome(o Outcome) int64 { return s.Outcomes[o.String()] }

// Errors returns the count of http_error, server_error and transport_error
// outcomes.
func (s *OpStats) Errors() int64 {
	return s.Outcome(HTTPError) + s.Outcome(ServerError) + s.Outcome(TransportError)
}

func (s *OpStats) add(o *OpStats, encode bool) error {
	s.Count += o.Count
	if s.Outcomes == nil {
		s.Outcomes = map[string]int64{}
	}
	for k, v := range o.Outcomes {
		s.Outcomes[k] += v
	}
	s.Status429 += o.Status429
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Connections += o.Connections
	s.RetryWaitMs += o.RetryWaitMs
	s.Attempts += o.Attempts
	if err := s.Latency.mergeEnc(&o.Latency, encode); err != nil {
		return fmt.Errorf("operation %q latency: %w", o.Op, err)
	}
	if err := s.Total.mergeEnc(&o.Total, encode); err != nil {
		return fmt.Errorf("operation %q total: %w", o.Op, err)
	}
	for k, v := range o.ByOutcome {
		if s.ByOutcome == nil {
			s.ByOutcome = map[string]OutcomeLatency{}
		}
		cur := s.ByOutcome[k]
		if err := cur.Latency.mergeEnc(&v.Latency, encode); err != nil {
			return fmt.Errorf("operation %q outcome %s latency: %w", o.Op, k, err)
		}
		if err := cur.Total.mergeEnc(&v.Total, encode); err != nil {
			return fmt.Errorf("operation %q outcome %s total: %w", o.Op, k, err)
		}
		s.ByOutcome[k] = cur
	}
	if o.RateHeaders != nil {
		if s.RateHeaders == nil {
			s.RateHeaders = &RateHeaders{}
		}
		s.RateHeaders.Allowed = max(s.RateHeaders.Allowed, o.RateHeaders.Allowed)
		s.RateHeaders.MaxCount = max(s.RateHeaders.MaxCount, o.RateHeaders.MaxCount)
		s.RateHeaders.MaxReset = max(s.RateHeaders.MaxReset, o.RateHeaders.MaxReset)
	}
	return nil
}

// Encode returns the compact, single-line JSON of d.
func (d *Document) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "p99(x) < 800ms" readable in the test output
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("metrics: encode document: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeDocument parses a result document. It accepts the text after the
// "cxload-result: " prefix (the prefix itself is tolerated), checks the
// schema version, and checks that every histogram decodes.
func DecodeDocument(data []byte) (*Document, error) {
	data = bytes.TrimSpace(data)
	if i := bytes.Index(data, []byte(ResultPrefix)); i >= 0 && !bytes.HasPrefix(data, []byte("{")) {
		data = bytes.TrimSpace(data[i+len(ResultPrefix):])
	}
	if len(data) == 0 {
		return nil, errors.New("metrics: decode document: empty input: want the JSON after " + strings.TrimSpace(ResultPrefix))
	}
	var probe struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("metrics: decode document: %w (a document split by go test -json must be joined first)", err)
	}
	if probe.Schema == nil {
		return nil, fmt.Errorf("metrics: decode document: no \"schema\" field: want %q", SchemaVersion)
	}
	if *probe.Schema != SchemaVersion {
		return nil, fmt.Errorf("metrics: decode document: schema %q is not supported: this reader understands %q", *probe.Schema, SchemaVersion)
	}
	var d Document
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("metrics: decode document: %w", err)
	}
	if err := d.forEachHist(func(path string, h *Histogram) error {
		if err := h.decode(); err != nil {
			return fmt.Errorf("metrics: decode document: %s: %w", path, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return &d, nil
}

func (d *Document) forEachHist(f func(path string, h *Histogram) error) error {
	for i := range d.Operations {
		o := &d.Operations[i]
		if err := f(fmt.Sprintf("operations[%d].latency", i), &o.Latency); err != nil {
			return err
		}
		if err := f(fmt.Sprintf("operations[%d].total", i), &o.Total); err != nil {
			return err
		}
		for _, k := range sortedKeys(o.ByOutcome) {
			v := o.ByOutcome[k]
			if err := f(fmt.Sprintf("operations[%d].byOutcome.%s.latency", i, k), &v.Latency); err != nil {
				return err
			}
			if err := f(fmt.Sprintf("operations[%d].byOutcome.%s.total", i, k), &v.Total); err != nil {
				return err
			}
			o.ByOutcome[k] = v
		}
	}
	if d.WebSocket != nil {
		if err := f("websocket.pushLatency", &d.WebSocket.PushLatency); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Merge adds other into d exactly: counts add, histograms merge, series add by
// index aligned on start time (other's series is shifted by the whole number
// of intervals between the two starts), identities and rate-limit
// observations merge by key and source, and scopes are inferred again from the
// merged evidence. Start becomes the earlier start and End the later end.
// Threshold results are dropped (they no longer describe the document): check
// again after merging. The series intervals must be equal.
func (d *Document) Merge(other *Document) error {
	if other == nil {
		return nil
	}
	if other.Schema != "" && other.Schema != SchemaVersion {
		return fmt.Errorf("metrics: merge: schema %q is not supported: want %q", other.Schema, SchemaVersion)
	}
	if d.Schema == "" {
		d.Schema = SchemaVersion
	}
	if d.Series.IntervalMs == 0 {
		d.Series.IntervalMs = other.Series.IntervalMs
	}
	if other.Series.IntervalMs != 0 && other.Series.IntervalMs != d.Series.IntervalMs {
		return fmt.Errorf("metrics: merge: series intervals differ (%d ms and %d ms)", d.Series.IntervalMs, other.Series.IntervalMs)
	}
	// Start alignment.
	if d.Start.IsZero() {
		d.Start = other.Start
	}
	iv := time.Duration(d.Series.IntervalMs) * time.Millisecond
	shiftOther, shiftSelf := 0, 0
	if iv > 0 && !other.Start.IsZero() {
		if off := other.Start.Sub(d.Start); off >= 0 {
			shiftOther = int(off / iv)
		} else {
			shiftSelf = int(-off / iv)
		}
	}
	if shiftOther+len(other.Series.Requests) > maxSeriesLen || shiftSelf+len(d.Series.Requests) > maxSeriesLen {
		return fmt.Errorf("metrics: merge: the documents start %v apart: their series (%d ms intervals) cannot be aligned within %d intervals; merge shards of one run",
			other.Start.Sub(d.Start), d.Series.IntervalMs, maxSeriesLen)
	}
	if !other.Start.IsZero() && other.Start.Before(d.Start) {
		d.Start = other.Start
	}
	if other.End.After(d.End) {
		d.End = other.End
	}
	d.Series.Requests = shiftAdd(shiftAdd(nil, d.Series.Requests, shiftSelf), other.Series.Requests, shiftOther)
	d.Series.Throttled = shiftAdd(shiftAdd(nil, d.Series.Throttled, shiftSelf), other.Series.Throttled, shiftOther)
	d.Series.Errors = shiftAdd(shiftAdd(nil, d.Series.Errors, shiftSelf), other.Series.Errors, shiftOther)

	if d.Scenario == "" {
		d.Scenario = other.Scenario
	}
	switch {
	case d.Shard == "":
		d.Shard = other.Shard
	case other.Shard != "" && other.Shard != d.Shard:
		d.Shard += "+" + other.Shard
	}
	for k, v := range other.Labels {
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		if _, ok := d.Labels[k]; !ok {
			d.Labels[k] = v
		}
	}
	if d.Target == (Target{}) {
		d.Target = other.Target
	}

	for i := range other.Operations {
		o := &other.Operations[i]
		cur := d.Op(o.Op)
		if cur == nil {
			d.Operations = append(d.Operations, OpStats{Op: o.Op, Route: o.Route, Outcomes: map[string]int64{}})
			cur = &d.Operations[len(d.Operations)-1]
		}
		if err := cur.add(o, true); err != nil {
			return fmt.Errorf("metrics: merge: %w", err)
		}
	}
	sort.Slice(d.Operations, func(i, j int) bool { return d.Operations[i].Op < d.Operations[j].Op })

	d.Identities = mergeIdentities(d.Identities, other.Identities)

	for _, o := range other.RateLimits {
		var cur *RateLimitObservation
		for i := range d.RateLimits {
			if d.RateLimits[i].Key == o.Key && d.RateLimits[i].Source == o.Source {
				cur = &d.RateLimits[i]
			}
		}
		if cur == nil {
			d.RateLimits = append(d.RateLimits, RateLimitObservation{Key: o.Key, Source: o.Source})
			cur = &d.RateLimits[len(d.RateLimits)-1]
		}
		mergeObservation(cur, &o)
	}
	for i := range d.RateLimits {
		rl := &d.RateLimits[i]
		rl.Evidence.TokensSeen = d.Identities.Tokens
		rl.Evidence.ClientsSeen = d.Identities.Clients
		rl.Evidence.UsersSeen = d.Identities.Users
		rl.Scope, rl.ScopeReason = scopeFor(rl.Source, rl.Evidence, rl.DeclaredScope)
	}
	sortObservations(d.RateLimits)

	if other.WebSocket != nil {
		if d.WebSocket == nil {
			d.WebSocket = &WebSocketStats{}
		}
		w, o := d.WebSocket, other.WebSocket
		w.Connects += o.Connects
		w.Heartbeats += o.Heartbeats
		w.MaxHeartbeatGapMs = max(w.MaxHeartbeatGapMs, o.MaxHeartbeatGapMs)
		w.Drops += o.Drops
		w.Reconnects += o.Reconnects
		w.Events += o.Events
		w.Lost += o.Lost
		if err := w.PushLatency.merge(&o.PushLatency); err != nil {
			return fmt.Errorf("metrics: merge: websocket.pushLatency: %w", err)
		}
	}
	d.Thresholds = nil
	d.Summary = Summarize(d)
	return nil
}

// shiftAdd adds src, shifted right by shift, into dst.
func shiftAdd(dst, src []int64, shift int) []int64 {
	if n := len(src) + shift; len(src) > 0 && n > len(dst) {
		dst = append(dst, make([]int64, n-len(dst))...)
	}
	for i, v := range src {
		dst[i+shift] += v
	}
	return dst
}

func mergeIDs(a []string, an int, b []string, bn int) ([]string, int) {
	complete := len(a) == an && len(b) == bn
	set := map[string]struct{}{}
	for _, x := range a {
		set[x] = struct{}{}
	}
	for _, x := range b {
		set[x] = struct{}{}
	}
	ids := sortedKeys(set)
	n := len(ids)
	if !complete {
		// The lists were capped: the exact union is unknown. Shards of one
		// run normally use disjoint identities, so add the counts (but never
		// report fewer than the ids in hand).
		n = max(an+bn-overlap(a, b), n)
	}
	if len(ids) > maxIDs {
		ids = ids[:maxIDs]
	}
	return ids, n
}

func overlap(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

func mergeIdentities(a, b Identities) Identities {
	var out Identities
	out.TokenIDs, out.Tokens = mergeIDs(a.TokenIDs, a.Tokens, b.TokenIDs, b.Tokens)
	out.ClientIDs, out.Clients = mergeIDs(a.ClientIDs, a.Clients, b.ClientIDs, b.Clients)
	out.UserIDs, out.Users = mergeIDs(a.UserIDs, a.Users, b.UserIDs, b.Users)
	return out
}

func mergeObservation(d, o *RateLimitObservation) {
	if d.Namespace == "" {
		d.Namespace = o.Namespace
	}
	if d.DeclaredScope == "" {
		d.DeclaredScope = o.DeclaredScope
	}
	d.Allowed = max(d.Allowed, o.Allowed)
	if o.WindowSeconds > d.WindowSeconds || (d.WindowSource != "profile" && o.WindowSource == "profile") {
		d.WindowSeconds, d.WindowSource = o.WindowSeconds, o.WindowSource
	}
	d.Rejected += o.Rejected
	d.Recovered += o.Recovered
	for _, c := range o.Samples {
		if len(d.Samples) < maxSamples && !slices.Contains(d.Samples, c) {
			d.Samples = append(d.Samples, c)
		}
	}
	if !o.FirstRejection.IsZero() && (d.FirstRejection.IsZero() || o.FirstRejection.Before(d.FirstRejection)) {
		d.FirstRejection = o.FirstRejection
	}
	if o.LastRejection.After(d.LastRejection) {
		d.LastRejection = o.LastRejection
	}
	e, oe := &d.Evidence, &o.Evidence
	e.TokenIDs, e.Tokens = mergeIDs(e.TokenIDs, e.Tokens, oe.TokenIDs, oe.Tokens)
	e.ClientIDs, e.Clients = mergeIDs(e.ClientIDs, e.Clients, oe.ClientIDs, oe.Clients)
	e.UserIDs, e.Users = mergeIDs(e.UserIDs, e.Users, oe.UserIDs, oe.Users)
	e.Ops = unionSorted(e.Ops, oe.Ops)
	e.OpsPassing = unionSorted(e.OpsPassing, oe.OpsPassing)
	e.OpsPassing = slices.DeleteFunc(e.OpsPassing, func(s string) bool { return slices.Contains(e.Ops, s) })
}

func unionSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	sort.Strings(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortObservations(obs []RateLimitObservation) {
	sort.SliceStable(obs, func(i, j int) bool {
		if obs[i].Rejected != obs[j].Rejected {
			return obs[i].Rejected > obs[j].Rejected
		}
		if obs[i].Key != obs[j].Key {
			return obs[i].Key < obs[j].Key
		}
		return obs[i].Source < obs[j].Source
	})
}

// Snapshot returns a Document of everything recorded so far. It may run
// concurrently with Record; it locks one stripe at a time, so the document is
// a consistent sum of each stripe but not one instant of the whole recorder.
func (r *Recorder) Snapshot() *Document {
	d := r.snapshot(true)
	d.Summary = Summarize(d)
	return d
}

// snapshot builds the document; with encode false the histograms hold only
// their decoded form (enough to evaluate thresholds, cheaper by far).
func (r *Recorder) snapshot(encode bool) *Document {
	enc := func(h *hdr.Histogram) Histogram {
		if !encode {
			if h == nil {
				h = newHist()
			}
			return Histogram{Encoding: HistogramEncoding, Unit: HistogramUnit, h: h}
		}
		e, _ := encodeHist(h) // cannot fail for histograms made by newHist
		return e
	}
	d := &Document{
		Schema:     SchemaVersion,
		Scenario:   r.cfg.scenario,
		Shard:      r.cfg.shard,
		Labels:     maps.Clone(r.cfg.labels),
		Target:     r.cfg.target,
		Start:      r.start,
		End:        r.cfg.now(),
		Operations: []OpStats{},
		RateLimits: []RateLimitObservation{},
		Series:     Series{IntervalMs: r.cfg.interval.Milliseconds()},
	}
	aggs := r.collect()
	var ids idSets
	type bucketOps struct {
		b   *bucketAgg
		ops []string
	}
	var buckets []*bucketOps
	for _, a := range aggs {
		st := OpStats{
			Op:          a.name,
			Route:       a.route,
			Outcomes:    map[string]int64{},
			Status429:   a.status429,
			BytesIn:     a.bytesIn,
			BytesOut:    a.bytesOut,
			Connections: a.newConns,
			RetryWaitMs: float64(a.retryWait) / float64(time.Millisecond),
			Attempts:    a.attempts,
			ByOutcome:   map[string]OutcomeLatency{},
		}
		lat, tot := newHist(), newHist()
		for o := range a.outcomes {
			oa := &a.outcomes[o]
			if oa.latency == nil {
				continue
			}
			name := Outcome(o).String()
			st.Count += oa.count
			st.Outcomes[name] = oa.count
			lat.Merge(oa.latency)
			tot.Merge(oa.total)
			st.ByOutcome[name] = OutcomeLatency{Latency: enc(oa.latency), Total: enc(oa.total)}
		}
		st.Latency, st.Total = enc(lat), enc(tot)
		if a.hdrAllowed > 0 || a.hdrMaxCount > 0 || a.hdrMaxReset > 0 {
			st.RateHeaders = &RateHeaders{Allowed: a.hdrAllowed, MaxCount: a.hdrMaxCount, MaxReset: a.hdrMaxReset.Seconds()}
		}
		d.Operations = append(d.Operations, st)
		d.Series.Requests = addSeries(d.Series.Requests, a.requests)
		d.Series.Throttled = addSeries(d.Series.Throttled, a.throttled)
		d.Series.Errors = addSeries(d.Series.Errors, a.errors)
		ids.add(a.ids.tokens, a.ids.clients, a.ids.users)
		for _, b := range a.buckets {
			var bo *bucketOps
			for _, x := range buckets {
				if x.b.key == b.key && x.b.clientSide == b.clientSide {
					bo = x
				}
			}
			if bo == nil {
				bo = &bucketOps{b: &bucketAgg{key: b.key, clientSide: b.clientSide}}
				buckets = append(buckets, bo)
			}
			mergeBucket([]*bucketAgg{bo.b}, b)
			bo.ops = append(bo.ops, a.name)
		}
	}
	// Pad the series to the same length, covering the whole run.
	n := max(len(d.Series.Requests), len(d.Series.Throttled), len(d.Series.Errors))
	if el := d.End.Sub(d.Start); el > 0 {
		n = max(n, min(int((el+r.cfg.interval-1)/r.cfg.interval), maxSeriesLen))
	}
	d.Series.Requests = pad(d.Series.Requests, n)
	d.Series.Throttled = pad(d.Series.Throttled, n)
	d.Series.Errors = pad(d.Series.Errors, n)

	d.Identities = Identities{
		Tokens: len(ids.tokens), Clients: len(ids.clients), Users: len(ids.users),
		TokenIDs: capIDs(ids.tokens), ClientIDs: capIDs(ids.clients), UserIDs: capIDs(ids.users),
	}

	for _, bo := range buckets {
		b := bo.b
		obs := RateLimitObservation{
			Key:            b.key,
			Namespace:      b.namespace,
			DeclaredScope:  b.scope,
			Allowed:        max(b.allowed, b.value),
			Rejected:       b.rejected,
			Recovered:      b.recovered,
			Samples:        slices.Clone(b.samples),
			FirstRejection: b.first,
			LastRejection:  b.last,
			Source:         "server",
		}
		if b.clientSide {
			obs.Source = "client-side"
		}
		if k, ok := r.cfg.known[b.key]; ok {
			if obs.Allowed == 0 {
				obs.Allowed = k.Allowed
			}
			if k.Window > 0 {
				obs.WindowSeconds, obs.WindowSource = k.Window.Seconds(), "profile"
			}
			if obs.Namespace == "" {
				obs.Namespace = k.Namespace
			}
			if obs.DeclaredScope == "" {
				obs.DeclaredScope = k.Scope
			}
		}
		if obs.WindowSeconds == 0 {
			obs.WindowSeconds, obs.WindowSource = EstimateWindow(b.maxReset, b.maxRetryAfter)
		}
		ops := unionSorted(nil, bo.ops)
		obs.Evidence = Evidence{
			Tokens: len(b.tokens), Clients: len(b.clients), Users: len(b.users),
			TokensSeen: d.Identities.Tokens, ClientsSeen: d.Identities.Clients, UsersSeen: d.Identities.Users,
			Ops:      ops,
			TokenIDs: capIDs(b.tokens), ClientIDs: capIDs(b.clients), UserIDs: capIDs(b.users),
		}
		// Which other operations succeeded while this bucket rejected?
		lo := int(b.first.Sub(r.start) / r.cfg.interval)
		hi := int(b.last.Sub(r.start) / r.cfg.interval)
		for _, a := range aggs {
			if slices.Contains(ops, a.name) {
				continue
			}
			for i := max(lo, 0); i <= hi && i < len(a.ok); i++ {
				if a.ok[i] > 0 {
					obs.Evidence.OpsPassing = append(obs.Evidence.OpsPassing, a.name)
					break
				}
			}
		}
		obs.Scope, obs.ScopeReason = scopeFor(obs.Source, obs.Evidence, obs.DeclaredScope)
		d.RateLimits = append(d.RateLimits, obs)
	}
	sortObservations(d.RateLimits)

	r.wsMu.Lock()
	if w := &r.ws; w.seen {
		var wp *hdr.Histogram
		if w.push != nil {
			wp = w.push.Clone() // w.push keeps changing after the lock is released
		}
		push := enc(wp)
		d.WebSocket = &WebSocketStats{
			Connects: w.connects, Heartbeats: w.heartbeats,
			MaxHeartbeatGapMs: float64(w.maxGap) / float64(time.Millisecond),
			Drops:             w.drops, Reconnects: w.reconnects, Events: w.events, Lost: w.lost,
			PushLatency: push,
		}
	}
	r.wsMu.Unlock()
	return d
}

func pad(s []int64, n int) []int64 {
	if len(s) < n {
		s = append(s, make([]int64, n-len(s))...)
	}
	if s == nil {
		s = []int64{}
	}
	return s
}

func capIDs(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	ids := sortedKeys(m)
	if len(ids) > maxIDs {
		ids = ids[:maxIDs]
	}
	return ids
}

// EstimateWindow estimates a bucket's window from the largest
// inin-ratelimit-reset and Retry-After the run saw: the larger of the two,
// snapped to a whole minute when within 2 s of one (a 60 s window reports a
// reset of up to 61 s). It returns 0 and "" when there is no evidence.
func EstimateWindow(maxReset, maxRetryAfter time.Duration) (seconds float64, source string) {
	switch {
	case maxReset <= 0 && maxRetryAfter <= 0:
		return 0, ""
	case maxReset >= maxRetryAfter:
		seconds, source = maxReset.Seconds(), "ratelimit-reset"
	default:
		seconds, source = maxRetryAfter.Seconds(), "retry-after"
	}
	if m := math.Round(seconds/60) * 60; m > 0 && math.Abs(seconds-m) <= 2 {
		seconds = m
	}
	return seconds, source
}
