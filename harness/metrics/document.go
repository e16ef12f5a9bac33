package metrics

import (
	"time"
)

// SchemaVersion is the schema of the result document this package writes.
const SchemaVersion = "cxload.result/v1"

// HistogramEncoding is the encoding of Histogram.Data: an HdrHistogram V2
// compressed snapshot, base64 (standard alphabet, padded).
const HistogramEncoding = "hdr-v2-base64"

// Document is the result of one scenario (or one shard of it), as written in
// the test output by Emit and read back by DecodeDocument. A Document is a
// plain value: it is not safe for concurrent mutation.
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
	Op          string           `json:"op"`
	Route       string           `json:"route,omitempty"`
	Count       int64            `json:"count"`
	Outcomes    map[string]int64 `json:"outcomes"`
	BytesIn     int64            `json:"bytesIn"`
	BytesOut    int64            `json:"bytesOut"`
	RetryWaitMs float64          `json:"retryWaitMs"`
	Attempts    int64            `json:"attempts,omitempty"`
	Latency     Histogram        `json:"latency"` // service time of the last attempt
	Total       Histogram        `json:"total"`   // CO-corrected: from intended send, retries included
}

// Histogram is a latency distribution in microseconds, encoded so that
// histograms from several shards merge exactly.
type Histogram struct {
	Encoding string `json:"encoding"` // HistogramEncoding
	Unit     string `json:"unit"`     // "us"
	Data     string `json:"data"`
}

// RateLimitObservation is what the run saw of one rate-limit bucket: the
// answer to "which limit, what scope".
type RateLimitObservation struct {
	Key            string    `json:"key"`
	Namespace      string    `json:"namespace,omitempty"`
	Scope          string    `json:"scope"`                   // inferred from evidence (see InferScope)
	DeclaredScope  string    `json:"declaredScope,omitempty"` // as stated by the client (Result.Scope)
	ScopeReason    string    `json:"scopeReason,omitempty"`
	Allowed        int       `json:"allowed"`
	WindowSeconds  float64   `json:"windowSeconds"`
	Rejected       int64     `json:"rejected"`
	FirstRejection time.Time `json:"firstRejection,omitzero"`
	LastRejection  time.Time `json:"lastRejection,omitzero"`
	Evidence       Evidence  `json:"evidence"`
	Source         string    `json:"source"` // "server" or "client-side"
}

// Evidence is what the run saw about who shared a throttling bucket.
type Evidence struct {
	Tokens      int      `json:"tokens"`                // distinct tokens rejected by the bucket
	Clients     int      `json:"clients"`               // distinct OAuth clients rejected
	Users       int      `json:"users"`                 // distinct non-empty users rejected
	TokensSeen  int      `json:"tokensSeen,omitempty"`  // distinct tokens in the whole run
	ClientsSeen int      `json:"clientsSeen,omitempty"` // distinct clients in the whole run
	UsersSeen   int      `json:"usersSeen,omitempty"`   // distinct non-empty users in the whole run
	Ops         []string `json:"ops,omitempty"`         // operations the bucket rejected
	OpsPassing  []string `json:"opsPassing,omitempty"`  // other operations that succeeded while it rejected
	TokenIDs    []string `json:"tokenIds,omitempty"`    // opaque ids, capped, so shards merge
	ClientIDs   []string `json:"clientIds,omitempty"`   // opaque ids, capped
	UserIDs     []string `json:"userIds,omitempty"`     // opaque ids, capped
}

// Series holds per-interval counts relative to Document.Start.
type Series struct {
	IntervalMs int64   `json:"intervalMs"`
	Requests   []int64 `json:"requests"`
	Throttled  []int64 `json:"throttled"`
	Errors     []int64 `json:"errors"`
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
	Value  string `json:"value"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Merge adds other into d exactly: counts add, histograms merge, series add
// by index aligned on start time, rate-limit observations merge by key.
func (d *Document) Merge(other *Document) error { return nil }

// Encode returns the compact JSON of d.
func (d *Document) Encode() ([]byte, error) { return nil, nil }

// DecodeDocument parses a result document and checks its schema version.
func DecodeDocument(data []byte) (*Document, error) { return nil, nil }
