package metrics

import (
	"testing"
	"time"

	"github.com/cxload/cxload/harness/result"
)

// An operation starts with one stripe; a recording goroutine that finds every
// active stripe busy activates more instead of waiting.
func TestStripesGrowUnderContention(t *testing.T) {
	r := NewRecorder(WithStripes(4))
	res := &Result{Op: "a", Status: 200, Latency: time.Millisecond}
	r.Record(res)
	e := (*r.ops.Load())[opKey{op: "a"}]
	if n := e.active.Load(); n != 1 {
		t.Fatalf("active stripes after an uncontended Record = %d, want 1", n)
	}
	if e.stripes[1].outcomes[result.OK].latency != nil {
		t.Fatal("an inactive stripe has histograms")
	}

	e.stripes[0].mu.Lock() // another goroutine is busy on stripe 0
	r.Record(res)          // must not block
	if n := e.active.Load(); n != 2 {
		t.Errorf("active stripes = %d, want 2", n)
	}
	if c := e.stripes[1].outcomes[result.OK].count; c != 1 {
		t.Errorf("stripe 1 count = %d, want 1", c)
	}
	e.stripes[1].mu.Lock() // both busy: grows to 4
	r.Record(res)
	e.stripes[0].mu.Unlock()
	e.stripes[1].mu.Unlock()
	if n := e.active.Load(); n != 4 {
		t.Errorf("active stripes = %d, want 4", n)
	}
	if got := r.Snapshot().Op("a").Count; got != 3 {
		t.Errorf("count = %d, want 3", got)
	}
}
