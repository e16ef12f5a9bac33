package result

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// SchemaVersion is the schema of the result document this package writes.
const SchemaVersion = "cxload.result/v1"

// Document is the result of one scenario (or one shard of it), as written in
// the test output by Emit and read back by Decode. See the package
// documentation for the schema.
//
// A Document is a plain value: reading it from several goroutines is safe,
// changing it (Merge, AssertThresholds) is not.
type Document struct {
	Schema     string                 `json:"schema"`
	Scenario   string                 `json:"scenario"`
	Shard      string                 `json:"shard,omitempty"`
	Run        string                 `json:"run,omitempty"` // the run's id (CXLOAD_RUN_ID): shards of one run share it
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
	// Findings are the scenario's own answers about rate limits, recorded
	// once; readers prefer them to the inference from RateLimits (Limits).
	Findings []Finding `json:"findings,omitempty"`
	// Headline is the scenario's answer as a short list (what it found,
	// the figure, what to change); Summary holds the evidence.
	Headline []string `json:"headline,omitempty"`
	Summary  string   `json:"summary,omitempty"`
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
	Attempts    int64                     `json:"attempts"` // attempts sent to the server (sum of Result.Attempts): requests refused before sending add none
	Latency     Histogram                 `json:"latency"`  // service time of the last attempt, all outcomes
	Total       Histogram                 `json:"total"`    // CO-corrected: from intended send, retries included
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
	// ClientsEarly counts the rejected clients of which the run had sent
	// fewer requests than the bucket allows before it first rejected them:
	// a bucket of their own could not have been spent yet.
	// FewestBefore is the fewest requests one of them had made by then.
	ClientsEarly int `json:"clientsEarly,omitempty"`
	FewestBefore int `json:"fewestBefore,omitempty"`
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
	Figure string `json:"figure,omitempty"` // latency thresholds: FigureService or FigureTotal
	Value  string `json:"value"`            // the measured value, formatted like the threshold's
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"` // one paragraph: what was measured, on what
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
		return nil, fmt.Errorf("result: encode document: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Decode parses a result document. It accepts the text after the
// "cxload-result: " prefix (the prefix itself is tolerated), checks the
// schema version, and checks that every histogram decodes.
func Decode(data []byte) (*Document, error) {
	data = bytes.TrimSpace(data)
	if i := bytes.Index(data, []byte(Prefix)); i >= 0 && !bytes.HasPrefix(data, []byte("{")) {
		data = bytes.TrimSpace(data[i+len(Prefix):])
	}
	if len(data) == 0 {
		return nil, errors.New("result: decode document: empty input: want the JSON after " + strings.TrimSpace(Prefix))
	}
	var d Document
	if err := unmarshalFast(data, &d); err != nil || d.Schema != SchemaVersion {
		d, err = decodeDocumentSlow(data)
		if err != nil {
			return nil, err
		}
	}
	// An operation whose requests had one outcome has the same histograms
	// as that outcome: each distinct histogram is decoded once.
	seen := make(map[Histogram]Histogram)
	if err := d.forEachHist(func(path func() string, h *Histogram) error {
		key := Histogram{Encoding: h.Encoding, Unit: h.Unit, Data: h.Data}
		if c, ok := seen[key]; ok {
			*h = c
			return nil
		}
		if err := h.check(); err != nil {
			return fmt.Errorf("result: decode document: %s: %w", path(), err)
		}
		seen[key] = *h
		return nil
	}); err != nil {
		return nil, err
	}
	return &d, nil
}

// unmarshalFast is json.Unmarshal, about twice as fast: encoding/json v2
// with the options that give encoding/json's behavior. Its errors are not
// worded as encoding/json's: on error, decode again with encoding/json.
func unmarshalFast(data []byte, v any) error {
	return jsonv2.Unmarshal(data, v, jsonv1.DefaultOptionsV1())
}

// decodeDocumentSlow decodes a document that json.Unmarshal did not take
// as is, with the error that says what is wrong with it: not JSON, no
// schema, another schema, or a field of the wrong type.
func decodeDocumentSlow(data []byte) (Document, error) {
	var probe struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Document{}, fmt.Errorf("result: decode document: %w (a document split by go test -json must be joined first)", err)
	}
	if probe.Schema == nil {
		return Document{}, fmt.Errorf("result: decode document: no \"schema\" field: want %q", SchemaVersion)
	}
	if *probe.Schema != SchemaVersion {
		return Document{}, fmt.Errorf("result: decode document: schema %q is not supported: this reader understands %q", *probe.Schema, SchemaVersion)
	}
	var d Document
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return Document{}, fmt.Errorf("result: decode document: %w", err)
	}
	return d, nil
}

func (d *Document) forEachHist(f func(path func() string, h *Histogram) error) error {
	for i := range d.Operations {
		o := &d.Operations[i]
		if err := f(func() string { return fmt.Sprintf("operations[%d].latency", i) }, &o.Latency); err != nil {
			return err
		}
		if err := f(func() string { return fmt.Sprintf("operations[%d].total", i) }, &o.Total); err != nil {
			return err
		}
		for _, k := range sortedKeys(o.ByOutcome) {
			v := o.ByOutcome[k]
			if err := f(func() string { return fmt.Sprintf("operations[%d].byOutcome.%s.latency", i, k) }, &v.Latency); err != nil {
				return err
			}
			if err := f(func() string { return fmt.Sprintf("operations[%d].byOutcome.%s.total", i, k) }, &v.Total); err != nil {
				return err
			}
			o.ByOutcome[k] = v
		}
	}
	if d.WebSocket != nil {
		if err := f(func() string { return "websocket.pushLatency" }, &d.WebSocket.PushLatency); err != nil {
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
