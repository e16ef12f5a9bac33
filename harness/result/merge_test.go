package result_test

import (
	"testing"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// A document carries its run id (metrics.WithRun); merging shards of one run
// keeps it, and merging documents of two runs names both, as it does shards.
func TestMergeKeepsRun(t *testing.T) {
	doc := func(run, shard string) *result.Document {
		return metrics.NewRecorder(metrics.WithRun(run), metrics.WithShard(shard)).Snapshot()
	}
	a := doc("r1", "1/2")
	if a.Run != "r1" {
		t.Fatalf("Snapshot().Run = %q, want r1", a.Run)
	}
	if err := a.Merge(doc("r1", "2/2")); err != nil {
		t.Fatal(err)
	}
	if a.Run != "r1" || a.Shard != "1/2+2/2" {
		t.Errorf("merged shards of one run: Run %q Shard %q, want r1 and 1/2+2/2", a.Run, a.Shard)
	}
	b := doc("", "1/2")
	if err := b.Merge(doc("r2", "2/2")); err != nil || b.Run != "r2" {
		t.Errorf("merging into a document without run: Run %q, %v, want r2", b.Run, err)
	}
	if err := b.Merge(doc("r3", "2/2")); err != nil || b.Run != "r2+r3" {
		t.Errorf("merging two runs: Run %q, %v, want r2+r3", b.Run, err)
	}
}
