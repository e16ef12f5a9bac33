package result_test

import (
	"slices"
	"strings"
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

// shardDoc is one shard's document of a scenario that answered with
// findings, a headline and its own evidence, as loadtest's finish writes them.
func shardDoc(sh string, evidence string, head []string, fs ...result.Finding) *result.Document {
	d := metrics.NewRecorder(metrics.WithRun("r1"), metrics.WithShard(sh)).Snapshot()
	d.Findings, d.Headline, d.Summary = fs, head, evidence
	return d
}

// Each shard of a discovery or burst measures the same limits with its share
// of the load: the merged document answers with every shard's findings, one
// per limit where the shards agree, and both where they differ (each naming
// its shard); the headline lines of all shards, each once; and each shard's
// evidence.
func TestMergeCarriesFindings(t *testing.T) {
	org := result.Finding{Key: "org.limit", Allowed: 300, WindowSeconds: 60, Scope: "org", Families: []string{"users"}, Evidence: []string{"shard one's 429s"}}
	org2 := org
	org2.Families, org2.Evidence = []string{"presence"}, []string{"shard two's 429s"}
	tokA := result.Finding{Key: "token.limit", Allowed: 40, WindowSeconds: 20, Scope: "token"}
	tokB := result.Finding{Key: "token.limit", Allowed: 38, WindowSeconds: 20, Scope: "token"}
	only2 := result.Finding{Key: "hidden.limit", Allowed: 10, WindowSeconds: 1, Hidden: true}

	a := shardDoc("1/2", "It rejected 40 of 300.", []string{"Discovery established 2 limits.", "Raise the pool."}, org, tokA)
	b := shardDoc("2/2", "It rejected 38 of 290.", []string{"Discovery established 2 limits.", "Use two clients."}, org2, tokB, only2)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, f := range a.Findings {
		got = append(got, f.String())
	}
	wantFs := []result.Finding{
		{Key: "org.limit", Allowed: 300, WindowSeconds: 60, Scope: "org", Families: []string{"users", "presence"}, Evidence: []string{"shard one's 429s", "shard two's 429s"}},
		{Key: "token.limit", Allowed: 40, WindowSeconds: 20, Scope: "token", Evidence: []string{"measured by shard 1/2"}},
		{Key: "token.limit", Allowed: 38, WindowSeconds: 20, Scope: "token", Evidence: []string{"measured by shard 2/2"}},
		only2,
	}
	if len(a.Findings) != len(wantFs) {
		t.Fatalf("merged findings = %q, want %d: one org.limit, both token.limit, hidden.limit", got, len(wantFs))
	}
	for i, w := range wantFs {
		g := a.Findings[i]
		if g.String() != w.String() || !slices.Equal(g.Evidence, w.Evidence) || !slices.Equal(g.Families, w.Families) {
			t.Errorf("finding %d = %s %q, want %s %q", i, g, g.Evidence, w, w.Evidence)
		}
	}
	if lim := a.Limits(); len(lim) != len(wantFs) || lim[3].Finding == nil || lim[3].Key != "hidden.limit" {
		t.Errorf("Limits() after merge = %d rows, want %d, the last the second shard's hidden.limit", len(lim), len(wantFs))
	}

	wantHead := []string{"Discovery established 2 limits.", "Raise the pool.", "Use two clients."}
	if !slices.Equal(a.Headline, wantHead) {
		t.Errorf("merged Headline = %q, want %q", a.Headline, wantHead)
	}
	if want := "Shard 1/2: It rejected 40 of 300. Shard 2/2: It rejected 38 of 290."; a.Summary != want {
		t.Errorf("merged Summary = %q, want %q", a.Summary, want)
	}

	// A third shard that agrees with one of the differing findings joins it,
	// naming itself; one of the same answer and evidence adds nothing.
	c := shardDoc("3/3", "", nil, result.Finding{Key: "token.limit", Allowed: 38, WindowSeconds: 20, Scope: "token"}, org)
	if err := a.Merge(c); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Findings); n != len(wantFs) {
		t.Fatalf("after a third shard: %d findings, want %d", n, len(wantFs))
	}
	if ev, want := a.Findings[2].Evidence, []string{"measured by shard 2/2", "measured by shard 3/3"}; !slices.Equal(ev, want) {
		t.Errorf("token.limit of 38 after a third shard measured it: evidence %q, want %q", ev, want)
	}
	if ev := a.Findings[0].Evidence; len(ev) != 2 {
		t.Errorf("org.limit after a third identical one: evidence %q, want the two shards' sentences", ev)
	}
	if want := "Shard 1/2: It rejected 40 of 300. Shard 2/2: It rejected 38 of 290."; a.Summary != want {
		t.Errorf("Summary after a shard without evidence of its own = %q, want %q", a.Summary, want)
	}
}

// Documents whose scenario wrote no summary of their own get the generic
// one, of the merged totals.
func TestMergeGenericSummary(t *testing.T) {
	clk := newClock()
	rec := func(sh string, n int) *result.Document {
		r := metrics.NewRecorder(metrics.WithShard(sh), metrics.WithNow(clk.Now))
		for range n {
			r.Record(ok("op", "t", "c", clk.Now()))
		}
		return r.Snapshot()
	}
	a, b := rec("1/2", 3), rec("2/2", 4)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if want := result.Summarize(a); a.Summary != want || !strings.HasPrefix(a.Summary, "7 requests") {
		t.Errorf("merged generic Summary = %q, want %q of 7 requests", a.Summary, want)
	}
}
