package reports_test

import (
	"os"
	"strings"
	"testing"

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
