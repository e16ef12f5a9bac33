//go:build load

package loadtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// TestLegDocumentsJoinsSplitLines: legDocuments, which reads the shard legs
// of scripts/matrix.sh, joins output events that test2json split.
func TestLegDocumentsJoinsSplitLines(t *testing.T) {
	touchRun()
	rec := newTestRecorder()
	doc := rec.Snapshot()
	doc.Scenario = "TestX"
	data, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	line := "    x_test.go:1: " + "cxload-result: " + string(data) + "\n"
	var b strings.Builder
	for i := 0; i < len(line); i += 100 { // test2json cuts long lines
		end := min(i+100, len(line))
		ev, _ := json.Marshal(map[string]string{"Action": "output", "Test": "TestX", "Output": line[i:end]})
		b.Write(ev)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "leg.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := legDocuments(t, path)
	if len(got["TestX"]) != 1 || got["TestX"][0].Scenario != "TestX" {
		t.Errorf("legDocuments = %v, want one document of TestX", got)
	}
}

func newTestRecorder() *metrics.Recorder {
	rec := metrics.NewRecorder(metrics.WithScenario("TestX"))
	rec.Record(&metrics.Result{Op: "queues.list", Method: "GET", Route: routeQueues, Status: 200, Outcome: result.OK,
		Start: time.Now(), Latency: time.Millisecond, Total: time.Millisecond, Attempts: 1})
	return rec
}
