package reports_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
	"github.com/cxload/cxload/reports/testjson"
)

// shardDocs reads the documents of one scenario from a capture, unmerged.
func shardDocs(t testing.TB, file, scenario string) []*result.Document {
	t.Helper()
	f, err := os.Open("testdata/" + file)
	require.NoError(t, err)
	defer f.Close()
	var docs []*result.Document
	r := testjson.NewReader(f, file)
	for r.Scan() {
		l, ok := r.Result().(*testjson.Line)
		if !ok {
			continue
		}
		if i := strings.Index(l.Text, result.Prefix); i >= 0 {
			d, err := result.Decode([]byte(l.Text[i:]))
			require.NoError(t, err)
			if d.Scenario == scenario {
				docs = append(docs, d)
			}
		}
	}
	require.NoError(t, r.Err())
	return docs
}

func findScenario(t testing.TB, run *reports.Run, name string) *reports.Scenario {
	t.Helper()
	for i := range run.Scenarios {
		if run.Scenarios[i].Name == name {
			return &run.Scenarios[i]
		}
	}
	t.Fatalf("scenario %s not in run", name)
	return nil
}

// TestShardsMergeExactly: the two shards of TestAgentsSharded in the real
// capture merge into one scenario whose counts are the sums and whose p99 is
// the p99 of the merged histogram, not an average of the shards' p99s.
func TestShardsMergeExactly(t *testing.T) {
	docs := shardDocs(t, "scenario-old.json", "TestAgentsSharded")
	require.Len(t, docs, 2)
	run := readCapture(t, "scenario-old.json")
	s := findScenario(t, run, "TestAgentsSharded")
	assert.ElementsMatch(t, []string{"1/2", "2/2"}, s.Shards)

	sum, err := reports.Summarize(s)
	require.NoError(t, err)
	for _, op := range sum.Ops {
		var count int64
		merged := hdrhistogram.New(1, 3_600_000_000, 3)
		var avgP99 float64
		for _, d := range docs {
			o := d.Op(op.Op)
			require.NotNil(t, o, op.Op)
			count += o.Count
			h, err := o.Total.Hist()
			require.NoError(t, err)
			merged.Merge(h)
			avgP99 += float64(h.ValueAtPercentile(99)) / 1e3 / float64(len(docs))
		}
		assert.Equal(t, count, op.Count, "%s count adds", op.Op)
		want := float64(merged.ValueAtPercentile(99)) / 1e3
		assert.InDelta(t, want, op.LatencyMs["p99"], want*0.001+0.001, "%s p99 from the merged histogram", op.Op)
		if op.Op == "presence.set" {
			// The shards differ (shard 2 is twice as slow), so an
			// average of p99s would be visibly wrong.
			assert.Greater(t, abs(avgP99-op.LatencyMs["p99"]), 1.0, "p99 must not be the average of the shards' p99s")
		}
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestMergeShardsAcrossRuns: two entries of one run id with different
// shard labels (two CI matrix jobs) merge into one run.
func TestMergeShardsAcrossRuns(t *testing.T) {
	a := readCapture(t, "scenario-old.json")
	b := readCapture(t, "scenario-old.json")
	a.ID, b.ID = "ci-7", "ci-7"
	a.Env.Labels = map[string]string{"shard": "1/2", "region": "sim"}
	b.Env.Labels = map[string]string{"shard": "2/2", "region": "sim"}
	runs, errs := reports.MergeShards([]*reports.Run{a, b})
	require.Empty(t, errs)
	require.Len(t, runs, 1)
	m := runs[0]
	assert.Equal(t, map[string]string{"region": "sim"}, m.Env.Labels, "shard label dropped, common labels kept")

	one, err := reports.Summarize(findScenario(t, a, "TestRecordingBurst/shared-token"))
	require.NoError(t, err)
	two, err := reports.Summarize(findScenario(t, m, "TestRecordingBurst/shared-token"))
	require.NoError(t, err)
	assert.Equal(t, 2*one.Requests, two.Requests)
	assert.Equal(t, 2*one.Throttled, two.Throttled)
	// The same histogram twice has the same percentiles.
	assert.Equal(t, one.Ops[0].LatencyMs["p99"], two.Ops[0].LatencyMs["p99"])
	// The inputs are untouched.
	again, err := reports.Summarize(findScenario(t, a, "TestRecordingBurst/shared-token"))
	require.NoError(t, err)
	assert.Equal(t, one.Requests, again.Requests)
}

// leg is one input of a merge: result documents of scenario TestX, cell
// "cell=a", one per shard, all of run id run, started at start.
type leg struct {
	name, run string
	shards    []string
	start     time.Time
}

func (l leg) records(t testing.TB) []testjson.Record {
	t.Helper()
	var out []testjson.Record
	for _, sh := range l.shards {
		data, err := json.Marshal(&result.Document{Schema: result.SchemaVersion, Scenario: "TestX", Shard: sh, Run: l.run,
			Labels: map[string]string{"cell": "a"}, Start: l.start})
		require.NoError(t, err)
		out = append(out, &testjson.Line{Package: "p", Test: "TestX", Text: result.Prefix + string(data)})
	}
	return out
}

func plan(t testing.TB, partial bool, legs ...leg) *reports.ShardPlan {
	t.Helper()
	var c reports.ShardCheck
	for _, l := range legs {
		for _, rec := range l.records(t) {
			c.Add(l.name, rec)
		}
	}
	return c.Plan(partial)
}

// TestShardCheck: every shard of a scenario's cell must be merged exactly
// once; a missing or duplicated shard is named with its inputs, a re-run of
// one run id replaces its earlier document.
func TestShardCheck(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	full := []leg{{"leg-0", "r1", []string{"1/4"}, t0}, {"leg-1", "r1", []string{"2/4"}, t0}, {"leg-2", "r1", []string{"3/4"}, t0}, {"leg-3", "r1", []string{"4/4"}, t0}}
	t.Run("complete", func(t *testing.T) {
		p := plan(t, false, full...)
		assert.NoError(t, p.Err())
		assert.Empty(t, p.Reruns)
	})
	t.Run("unsharded", func(t *testing.T) {
		assert.NoError(t, plan(t, false, leg{"one", "", []string{""}, t0}).Err())
	})
	t.Run("missing", func(t *testing.T) {
		p := plan(t, false, full[0], full[1], full[3])
		require.Len(t, p.Errors, 1)
		e := p.Errors[0]
		assert.Equal(t, reports.ShardError{Scenario: "TestX", Cell: "cell=a", Shard: "3/4", Kind: "missing", Inputs: []string{"leg-0", "leg-1", "leg-3"}}, *e)
		assert.ErrorContains(t, p.Err(), "scenario TestX [cell=a]: shard 3/4 is missing (the other shards are in leg-0, leg-1, leg-3): run that shard again (CXLOAD_SHARD=3/4, or the Indexed Job's index 2)")
		assert.ErrorContains(t, p.Err(), "-partial")
	})
	t.Run("missing last", func(t *testing.T) {
		p := plan(t, false, full[:3]...)
		require.Len(t, p.Errors, 1)
		assert.Equal(t, "4/4", p.Errors[0].Shard)
	})
	t.Run("duplicated across runs", func(t *testing.T) {
		p := plan(t, false, append(slices.Clone(full), leg{"old-leg-1", "r0", []string{"2/4"}, t0.Add(-time.Hour)})...)
		require.Len(t, p.Errors, 1)
		assert.Equal(t, "duplicated", p.Errors[0].Kind)
		assert.ErrorContains(t, p.Err(), "scenario TestX [cell=a]: shard 2/4 is in both leg-1 (run r1), old-leg-1 (run r0)")
		rec := leg{"old-leg-1", "r0", []string{"2/4"}, t0}.records(t)[0]
		assert.False(t, p.Skip("old-leg-1", rec), "without -partial nothing is merged, so nothing is skipped")
	})
	t.Run("duplicated without run id", func(t *testing.T) {
		p := plan(t, false, leg{"a", "", []string{"1/2", "2/2"}, t0}, leg{"b", "", []string{"2/2"}, t0})
		require.Len(t, p.Errors, 1)
		assert.Equal(t, "duplicated", p.Errors[0].Kind)
	})
	t.Run("duplicated, partial keeps the first", func(t *testing.T) {
		second := leg{"copy-of-leg-1", "r0", []string{"2/4"}, t0}
		p := plan(t, true, append(slices.Clone(full), second)...)
		require.Len(t, p.Errors, 1)
		assert.True(t, p.Skip("copy-of-leg-1", second.records(t)[0]))
		assert.False(t, p.Skip("leg-1", full[1].records(t)[0]))
	})
	t.Run("re-run replaces", func(t *testing.T) {
		// Kubernetes replaced the pod of index 1: same run id, later start.
		rerun := leg{"leg-1-rerun", "r1", []string{"2/4"}, t0.Add(time.Minute)}
		for _, order := range [][]leg{append(slices.Clone(full), rerun), append([]leg{rerun}, full...)} {
			p := plan(t, false, order...)
			require.NoError(t, p.Err())
			require.Len(t, p.Reruns, 1)
			assert.Contains(t, p.Reruns[0], "scenario TestX [cell=a]: shard 2/4 of run r1 was run again: leg-1-rerun (started 2026-01-02T03:01:00Z) replaces leg-1")
			assert.True(t, p.Skip("leg-1", full[1].records(t)[0]), "the earlier document is left out")
			assert.False(t, p.Skip("leg-1-rerun", rerun.records(t)[0]))
			assert.False(t, p.Skip("leg-0", full[0].records(t)[0]))
		}
	})
	t.Run("different counts", func(t *testing.T) {
		p := plan(t, false, leg{"a", "r1", []string{"1/2"}, t0}, leg{"b", "r1", []string{"2/4"}, t0})
		require.Len(t, p.Errors, 1)
		assert.Equal(t, "counts", p.Errors[0].Kind)
		assert.ErrorContains(t, p.Err(), "shards 1/2, 2/4 of different counts (in a, b)")
	})
	t.Run("one input, one shard twice", func(t *testing.T) {
		// go test -count=2 in one leg: the Builder's business, not a duplicate.
		assert.NoError(t, plan(t, false, leg{"a", "r1", []string{"1/1", "1/1"}, t0}).Err())
	})
}
