package harness_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/metrics"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// With OTEL_EXPORTER_OTLP_ENDPOINT set, a target's recorders export live,
// labelled with the run's scenario and shard, and Close sends the last
// figures. (harness/telemetry's tests compare every figure with the
// result document.)
func TestTargetExportsOpenTelemetry(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int64{} // "scenario shard outcome" → cxload.requests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() != "cxload.requests" {
						continue
					}
					for _, p := range m.GetSum().GetDataPoints() {
						a := map[string]string{}
						for _, kv := range p.GetAttributes() {
							a[kv.GetKey()] = kv.GetValue().GetStringValue()
						}
						got[a["cxload.scenario"]+" "+a["cxload.shard"]+" "+a["cxload.outcome"]] = p.GetAsInt() // cumulative: the latest is the total
					}
				}
			}
		}
	}))
	defer srv.Close()

	tg, err := harness.Open(t.Context(), harness.WithName("otel-run"), harness.WithLogf(t.Logf), harness.WithGetenv(env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL,
		"OTEL_METRIC_EXPORT_INTERVAL": "3600000", // only Close exports
		harness.EnvShard:              "3/4",
	})))
	if err != nil {
		t.Fatal(err)
	}
	rec := tg.NewRecorder()
	for i := range 10 {
		status := 200
		if i%5 == 0 {
			status = 429
		}
		rec.Record(&metrics.Result{Op: "users.get", Status: status, Latency: time.Millisecond})
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["otel-run 3/4 ok"] != 8 || got["otel-run 3/4 throttled"] != 2 || len(got) != 2 {
		t.Errorf("receiver holds cxload.requests %v, want otel-run 3/4: 8 ok, 2 throttled", got)
	}
}
