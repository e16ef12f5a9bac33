package telemetry_test

import (
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an in-process OTLP/HTTP metrics receiver: it decodes each
// protobuf export and keeps, per series (metric and attributes), the
// latest point, which under cumulative temporality holds the totals.
type receiver struct {
	*httptest.Server
	status int    // answer with this status instead of 200 (0: 200)
	echo   string // header whose value an error answer echoes in its body

	mu       sync.Mutex
	requests int
	headers  []http.Header
	resource map[string]string
	points   map[string]map[string]*metricpb.Metric // metric name → attribute key → that series' latest export, one point
	exported chan struct{}                          // a value per export received
}

func newReceiver(t testing.TB, configure func(*receiver)) *receiver {
	t.Helper()
	r := &receiver{points: map[string]map[string]*metricpb.Metric{}, exported: make(chan struct{}, 1000)}
	if configure != nil {
		configure(r)
	}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve)) // 127.0.0.1
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/metrics" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/metrics with application/x-protobuf, got "+req.Method+" "+req.URL.Path, http.StatusBadRequest)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests++
	r.headers = append(r.headers, req.Header.Clone())
	if r.status != 0 {
		r.mu.Unlock()
		http.Error(w, "refused; you sent "+req.Header.Get(r.echo), r.status)
		r.signal()
		return
	}
	for _, rm := range msg.GetResourceMetrics() {
		r.resource = attrMap(rm.GetResource().GetAttributes())
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				r.add(m)
			}
		}
	}
	r.mu.Unlock()
	r.signal()
	b, _ = proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// signal tells a test waiting on exported that an export came.
func (r *receiver) signal() {
	select {
	case r.exported <- struct{}{}:
	default:
	}
}

// add keeps each of m's points as its series' latest, as a Metric of one point.
func (r *receiver) add(m *metricpb.Metric) {
	series := r.points[m.GetName()]
	if series == nil {
		series = map[string]*metricpb.Metric{}
		r.points[m.GetName()] = series
	}
	one := func(attrs []*commonpb.KeyValue, with func(*metricpb.Metric)) {
		c := &metricpb.Metric{Name: m.GetName(), Unit: m.GetUnit()}
		with(c)
		series[attrKey(attrMap(attrs))] = c
	}
	switch d := m.GetData().(type) {
	case *metricpb.Metric_Sum:
		for _, p := range d.Sum.GetDataPoints() {
			one(p.GetAttributes(), func(c *metricpb.Metric) {
				c.Data = &metricpb.Metric_Sum{Sum: &metricpb.Sum{AggregationTemporality: d.Sum.GetAggregationTemporality(), IsMonotonic: d.Sum.GetIsMonotonic(), DataPoints: []*metricpb.NumberDataPoint{p}}}
			})
		}
	case *metricpb.Metric_ExponentialHistogram:
		for _, p := range d.ExponentialHistogram.GetDataPoints() {
			one(p.GetAttributes(), func(c *metricpb.Metric) {
				c.Data = &metricpb.Metric_ExponentialHistogram{ExponentialHistogram: &metricpb.ExponentialHistogram{AggregationTemporality: d.ExponentialHistogram.GetAggregationTemporality(), DataPoints: []*metricpb.ExponentialHistogramDataPoint{p}}}
			})
		}
	default:
		series["unexpected data type"] = m
	}
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}

// attrKey is a series' attributes as one string, sorted: "k=v,k=v".
func attrKey(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// series returns the latest point of each series of metric name, by attribute key.
func (r *receiver) series(name string) map[string]*metricpb.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.points[name]
}

// sum returns the value of the counter series, 0 if it was never exported.
func sum(m *metricpb.Metric) float64 {
	if m == nil {
		return 0
	}
	p := m.GetSum().GetDataPoints()[0]
	if _, ok := p.GetValue().(*metricpb.NumberDataPoint_AsInt); ok {
		return float64(p.GetAsInt())
	}
	return p.GetAsDouble()
}

// quantile returns the upper bound of the bucket of p's exponential
// histogram that holds the value at percentile pc, ranked as
// hdrhistogram-go's ValueAtPercentile ranks it.
func quantile(p *metricpb.ExponentialHistogramDataPoint, pc float64) float64 {
	rank := max(uint64(pc/100*float64(p.GetCount())+0.5), 1)
	seen := p.GetZeroCount()
	if seen >= rank {
		return 0
	}
	base := math.Exp2(math.Exp2(-float64(p.GetScale())))
	pos := p.GetPositive()
	for i, c := range pos.GetBucketCounts() {
		seen += c
		if seen >= rank {
			return math.Pow(base, float64(int64(pos.GetOffset())+int64(i)+1))
		}
	}
	return math.Inf(1)
}
