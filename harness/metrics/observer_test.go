package metrics_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// countingObserver counts results by operation and outcome.
type countingObserver struct {
	scenario, shard string
	mu              sync.Mutex
	counts          map[string]map[string]int64
}

func (o *countingObserver) Observe(op string, outcome result.Outcome, res *metrics.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts[op] == nil {
		o.counts[op] = map[string]int64{}
	}
	o.counts[op][outcome.String()]++
}

// The observer sees each result under the operation and outcome the
// document counts it under: beyond the operations kept apart it is
// result.OtherOp, and an error status with no outcome set is classed by
// status.
func TestObserverSeesWhatTheDocumentCounts(t *testing.T) {
	c := newClock()
	var obs *countingObserver
	rec := metrics.NewRecorder(metrics.WithNow(c.Now), metrics.WithScenario("TestObs"), metrics.WithShard("2/3"),
		metrics.WithMaxOperations(2),
		metrics.WithObserver(func(scenario, shard string) metrics.Observer {
			obs = &countingObserver{scenario: scenario, shard: shard, counts: map[string]map[string]int64{}}
			return obs
		}))
	if obs == nil || obs.scenario != "TestObs" || obs.shard != "2/3" {
		t.Fatalf("observer made with %+v, want scenario TestObs, shard 2/3", obs)
	}
	start := c.Now()
	rec.Record(mkResult("a", 200, start, time.Millisecond))
	rec.Record(mkResult("a", 429, start, time.Millisecond))
	rec.Record(mkResult("b", 200, start, time.Millisecond))
	rec.Record(mkResult("c", 200, start, time.Millisecond)) // a third operation: result.OtherOp
	unset := mkResult("b", 503, start, time.Millisecond)
	unset.Outcome = result.OK // not set by the caller: the status classes it
	rec.Record(unset)
	doc := rec.Snapshot()
	got := map[string]map[string]int64{}
	for _, op := range doc.Operations {
		got[op.Op] = op.Outcomes
	}
	if len(got) != len(obs.counts) {
		t.Fatalf("observer saw operations %v, document has %v", obs.counts, got)
	}
	for op, outs := range got {
		for o, n := range outs {
			if obs.counts[op][o] != n {
				t.Errorf("observer counted %s/%s %d times, document %d (observer saw %v)", op, o, obs.counts[op][o], n, obs.counts)
			}
		}
	}
}

// A recorder without an observer, or whose factory returns nil, records as before.
func TestObserverNil(t *testing.T) {
	rec := metrics.NewRecorder(metrics.WithObserver(func(string, string) metrics.Observer { return nil }))
	rec.Record(mkResult("a", 200, epoch, time.Millisecond))
	if n := rec.Snapshot().All().Count; n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}
}
