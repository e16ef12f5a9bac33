package reports_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/reports"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// mkRun returns a small run with one benchmark.
func mkRun(id string, day int, shard string, values ...float64) *reports.Run {
	r := &reports.Run{ID: id, Env: reports.Env{Start: t0.Add(time.Duration(day) * 24 * time.Hour), Commit: "c" + id}}
	if shard != "" {
		r.Env.Labels = map[string]string{reports.ShardLabel: shard}
	}
	if len(values) > 0 {
		r.Benchmarks = []reports.Benchmark{{Package: "p", Name: "X-2", Unit: "sec/op", Values: values}}
	}
	r.Tests = []reports.Test{{Package: "p", Name: "TestA" + shard, Verdict: reports.Pass}}
	return r
}

func ids(runs []*reports.Run) []string {
	var out []string
	for _, r := range runs {
		s := r.ID
		if sh := r.Env.Labels[reports.ShardLabel]; sh != "" {
			s += "@" + sh
		}
		out = append(out, s)
	}
	return out
}

// historyPaths returns a file history and a directory history in temp dirs.
func historyPaths(t testing.TB) map[string]string {
	t.Helper()
	dir := t.TempDir()
	return map[string]string{
		"file": filepath.Join(dir, "sub", "history.jsonl"),
		"dir":  filepath.Join(dir, "hist") + "/",
	}
}

func TestHistoryAppendDedupePrune(t *testing.T) {
	for mode, path := range historyPaths(t) {
		t.Run(mode, func(t *testing.T) {
			h, err := reports.OpenHistory(path)
			require.NoError(t, err)
			runs, probs, err := h.Load()
			require.NoError(t, err)
			assert.Empty(t, runs, "a missing history is empty")
			assert.Empty(t, probs)

			require.NoError(t, h.Append(mkRun("a", 1, "", 1, 2, 3)))
			require.NoError(t, h.Append(mkRun("b", 2, "1/2"), mkRun("b", 2, "2/2")))
			// Appending a again replaces it: dedupe by run id and shard.
			require.NoError(t, h.Append(mkRun("a", 1, "", 4, 5, 6)))
			require.NoError(t, h.Append(mkRun("c", 3, "")))

			runs, probs, err = h.Load()
			require.NoError(t, err)
			assert.Empty(t, probs)
			assert.ElementsMatch(t, []string{"a", "b@1/2", "b@2/2", "c"}, ids(runs))
			for _, r := range runs {
				if r.ID == "a" {
					assert.Equal(t, []float64{4, 5, 6}, r.Benchmarks[0].Values, "the newest entry wins")
				}
			}

			merged, probs, err := h.Runs()
			require.NoError(t, err)
			assert.Empty(t, probs)
			assert.Equal(t, []string{"a", "b", "c"}, ids(merged), "shards merged, oldest first")
			assert.Len(t, merged[1].Tests, 2, "tests of both shards")

			n, err := h.Prune(2)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			merged, _, err = h.Runs()
			require.NoError(t, err)
			assert.Equal(t, []string{"b", "c"}, ids(merged))

			_, err = h.Prune(-1)
			assert.ErrorContains(t, err, "keep=-1")
		})
	}
}

func TestHistoryMalformedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	h, err := reports.OpenHistory(path)
	require.NoError(t, err)
	require.NoError(t, h.Append(mkRun("a", 1, "")))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	bad := `{"id":"x","env":{"start":"yesterday"}}`
	require.NoError(t, os.WriteFile(path, append(append(data, "not json at all\n"...), bad+"\n"...), 0o644))

	runs, probs, err := h.Load()
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, ids(runs))
	require.Len(t, probs, 2)
	assert.Equal(t, path+":2", fmt.Sprintf("%s:%d", probs[0].File, probs[0].Line))
	assert.Contains(t, probs[0].Msg, "malformed run")
	assert.Equal(t, 3, probs[1].Line)
	assert.Contains(t, probs[1].Msg, "yesterday")

	// Writing keeps the malformed lines as they were: nothing is lost.
	require.NoError(t, h.Append(mkRun("b", 2, "")))
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), "not json at all\n")
	assert.Contains(t, string(data), bad+"\n")
}

// TestHistoryFailedWriteKeepsOld: a write that fails half-way leaves the
// history as it was, and no temporary file behind.
func TestHistoryFailedWriteKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.jsonl")
	h, err := reports.OpenHistory(path)
	require.NoError(t, err)
	require.NoError(t, h.Append(mkRun("a", 1, "", 1)))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	err = h.Append(mkRun("b", 2, "", math.NaN())) // NaN cannot be encoded
	require.Error(t, err)
	assert.Contains(t, err.Error(), "run b")

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), ".tmp-"), "temporary file left: %s", e.Name())
	}
}

// TestHistoryConcurrentAppends: writers serialized by the lock lose nothing.
func TestHistoryConcurrentAppends(t *testing.T) {
	for mode, path := range historyPaths(t) {
		t.Run(mode, func(t *testing.T) {
			const writers, each = 6, 5
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Each writer opens its own History, as separate
					// processes would.
					h, err := reports.OpenHistory(path)
					if err != nil {
						errs <- err
						return
					}
					for i := 0; i < each; i++ {
						errs <- h.Append(mkRun(fmt.Sprintf("w%d-%d", w, i), w*each+i, ""))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			h, err := reports.OpenHistory(path)
			require.NoError(t, err)
			runs, probs, err := h.Load()
			require.NoError(t, err)
			assert.Empty(t, probs)
			assert.Len(t, runs, writers*each)
		})
	}
}

func TestHistoryMergeFrom(t *testing.T) {
	paths := historyPaths(t)
	a, err := reports.OpenHistory(paths["file"])
	require.NoError(t, err)
	b, err := reports.OpenHistory(paths["dir"])
	require.NoError(t, err)
	require.NoError(t, a.Append(mkRun("x", 1, ""), mkRun("y", 3, "")))
	require.NoError(t, b.Append(mkRun("y", 3, ""), mkRun("z", 2, "")))
	require.NoError(t, a.MergeFrom(b))
	runs, _, err := a.Runs()
	require.NoError(t, err)
	assert.Equal(t, []string{"x", "z", "y"}, ids(runs))
}

func TestBaseline(t *testing.T) {
	// e has no results (empty input appended by an older version): it is
	// skipped, so prev is c.
	empty := &reports.Run{ID: "e", Env: reports.Env{Start: t0.Add(3*24*time.Hour + time.Hour)}}
	hist := []*reports.Run{mkRun("a", 1, ""), mkRun("b", 2, ""), mkRun("c", 3, ""), empty, mkRun("d", 4, "")}
	cur := mkRun("d", 4, "")
	for _, tc := range []struct {
		spec    string
		want    []string
		wantErr string
	}{
		{"", []string{"c"}, ""},     // previous run, not the current one
		{"prev", []string{"c"}, ""}, // same
		{"median:2", []string{"b", "c"}, ""},
		{"median:10", []string{"a", "b", "c"}, ""}, // as many as there are
		{"a", []string{"a"}, ""},                   // by id
		{"median:0", nil, "median:N with N >= 1"},
		{"median:x", nil, "median:N"},
		{"nope", nil, `no run with that id`},
		{"e", nil, `the run has no test results`}, // never a baseline, even by id
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := reports.Baseline(hist, cur, tc.spec)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(got))
		})
	}
}

func TestParseLabels(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{"", nil, ""},
		{"region=sim, agents=500", map[string]string{"region": "sim", "agents": "500"}, ""},
		{"a=1,,b=", map[string]string{"a": "1", "b": ""}, ""}, // empty items ignored, empty values allowed
		{"region", nil, `label 1 "region": want key=value`},
		{"a=1,a=2", nil, `key "a" given twice`},
	} {
		got, err := reports.ParseLabels(tc.in)
		if tc.wantErr != "" {
			assert.ErrorContains(t, err, tc.wantErr, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestEnvFromEnviron(t *testing.T) {
	vars := map[string]string{
		"GITHUB_SHA": "abc123", "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "cxload/cxload",
		"CXLOAD_LABELS": "region=sim", "CXLOAD_SHARD": "1/4",
	}
	env, err := reports.EnvFromEnviron(func(k string) string { return vars[k] })
	require.NoError(t, err)
	assert.Equal(t, "abc123", env.Commit)
	assert.Equal(t, "main", env.Branch)
	assert.Equal(t, "https://github.com/cxload/cxload/actions/runs/42", env.URL)
	run := reports.NewBuilder(env).Run()
	assert.Equal(t, "42-2", run.ID, "shards of one GitHub run share the id")
	assert.Equal(t, map[string]string{"region": "sim", "shard": "1/4"}, run.Env.Labels)

	vars["CXLOAD_LABELS"] = "oops"
	_, err = reports.EnvFromEnviron(func(k string) string { return vars[k] })
	assert.ErrorContains(t, err, "CXLOAD_LABELS")
}

// TestHistoryCompact: old runs lose their documents but keep what trends
// and comparisons use; their shards are merged first, exactly.
func TestHistoryCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	h, err := reports.OpenHistory(path)
	require.NoError(t, err)
	mk := func(id string, day int, shard string, files ...string) *reports.Run {
		r := readCapture(t, files...)
		r.ID = id
		r.Env.Start = t0.Add(time.Duration(day) * 24 * time.Hour)
		if shard != "" {
			r.Env.Labels = map[string]string{reports.ShardLabel: shard}
		}
		return r
	}
	require.NoError(t, h.Append(
		mk("a", 1, "1/2", "scenario-old.json", "bench-old.json"),
		mk("a", 1, "2/2", "scenario-old.json"),
		mk("b", 2, "", "scenario-new.json", "bench-new.json"),
		mk("c", 3, "", "scenario-old.json", "bench-old.json"),
	))
	before, _, err := h.Runs()
	require.NoError(t, err)
	sizeBefore := fileSize(t, path)

	n, err := h.Compact(1)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Less(t, fileSize(t, path), sizeBefore/2, "compaction drops the histograms")
	n, err = h.Compact(1)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "compacting again changes nothing")

	after, probs, err := h.Runs()
	require.NoError(t, err)
	assert.Empty(t, probs)
	require.Equal(t, []string{"a", "b", "c"}, ids(after))
	for i := range after {
		wantM, _ := reports.Metrics(before[i])
		gotM, _ := reports.Metrics(after[i])
		assert.Equal(t, wantM, gotM, "run %s keeps its metrics", after[i].ID)
		assert.Equal(t, before[i].Benchmarks, after[i].Benchmarks)
		assert.Equal(t, i < 2, after[i].Compacted)
	}
	assert.Nil(t, after[0].Scenarios[0].Doc)
	assert.NotNil(t, after[2].Scenarios[0].Doc, "the newest run keeps its documents")

	// A compacted run still works as a baseline and in trends.
	c := reports.Compare(after[1:2], after[2], reports.CompareOptions{})
	assert.NotEmpty(t, c.Metrics)
	assert.Empty(t, c.Warnings)
	var buf strings.Builder
	require.NoError(t, reports.NewReport(after[2], c, after).HTML(&buf))
	assert.Contains(t, buf.String(), "Scenario trends over 3 runs")
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// TestHistoryDirLeavesOtherFiles: a directory history reads and writes only
// its own run files. Pointed at a project folder, appending, pruning and
// compacting leave every other file as it was, and Load names them in one
// problem.
func TestHistoryDirLeavesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	others := map[string]string{
		"package.json":  "{\n  \"name\": \"x\"\n}\n",
		"tsconfig.json": "{}\n",
		"capture.json":  `{"Action":"start","Package":"p"}` + "\n",
		"README.md":     "# notes\n",
		// Named like a run file, but without the marker: not written by
		// the history, so never rewritten or removed by it.
		"cxload-run-foreign.json": `{"id":"foreign","tests":[{"name":"TestA","verdict":"pass"}]}` + "\n",
	}
	for name, data := range others {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	h, err := reports.OpenHistory(dir)
	require.NoError(t, err)
	require.NoError(t, h.Append(mkRun("a", 1, "")))
	require.NoError(t, h.Append(mkRun("b", 2, ""), mkRun("c", 3, "")))
	_, err = h.Prune(2)
	require.NoError(t, err)
	_, err = h.Compact(0)
	require.NoError(t, err)

	for name, data := range others {
		assert.Equal(t, data, readFileT(t, filepath.Join(dir, name)), "%s changed", name)
	}
	runs, probs, err := h.Load()
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "c"}, ids(runs))
	require.Len(t, probs, 2, "one problem for the foreign JSON files, one for the unmarked run file: %v", probs)
	var msgs []string
	for _, p := range probs {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	assert.Contains(t, all, "3 JSON files are not runs of this history and are left alone: capture.json, package.json, tsconfig.json")
	assert.Contains(t, all, "cxload-run-foreign.json:1: not a run file of a history")
}

// TestHistoryFileNotAHistory: a file history refuses to write over a file
// none of whose lines is a run (a capture given as -history by mistake),
// and says so in one problem, not one per line.
func TestHistoryFileNotAHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.json")
	capture := strings.Repeat(`{"Action":"output","Package":"p","Output":"ok\n"}`+"\n", 50)
	require.NoError(t, os.WriteFile(path, []byte(capture), 0o644))
	h, err := reports.OpenHistory(path)
	require.NoError(t, err)
	_, probs, err := h.Load()
	require.NoError(t, err)
	require.Len(t, probs, 1)
	assert.Contains(t, probs[0].Msg, "not a history: none of its 50 lines is a run")
	err = h.Append(mkRun("a", 1, ""))
	assert.ErrorContains(t, err, path+": not a history")
	assert.Equal(t, capture, readFileT(t, path))
}

// TestHistoryRefusesRunsWithoutResults: a run with no tests, benchmarks or
// scenarios (empty or garbage input) is never appended.
func TestHistoryRefusesRunsWithoutResults(t *testing.T) {
	for mode, path := range historyPaths(t) {
		t.Run(mode, func(t *testing.T) {
			h, err := reports.OpenHistory(path)
			require.NoError(t, err)
			require.NoError(t, h.Append(mkRun("a", 1, "")))
			empty := &reports.Run{ID: "empty", Env: reports.Env{Start: t0.Add(48 * time.Hour)}}
			err = h.Append(mkRun("b", 2, ""), empty)
			assert.ErrorContains(t, err, "run empty has no test results")
			runs, _, err := h.Load()
			require.NoError(t, err)
			assert.Equal(t, []string{"a"}, ids(runs), "nothing of a refused Append is written")
		})
	}
}

// TestHistoryCellsKeptApart: two matrix cells of one run, with the same
// shard label, are two entries, merged by Runs.
func TestHistoryCellsKeptApart(t *testing.T) {
	for mode, path := range historyPaths(t) {
		t.Run(mode, func(t *testing.T) {
			h, err := reports.OpenHistory(path)
			require.NoError(t, err)
			cell := func(scenario string) *reports.Run {
				r := mkRun("r", 1, "1/2")
				r.Env.Labels["scenario"] = scenario
				r.Tests[0].Name = "Test" + scenario
				return r
			}
			require.NoError(t, h.Append(cell("A")))
			require.NoError(t, h.Append(cell("B")))
			require.NoError(t, h.Append(cell("B"))) // the same cell again replaces it
			runs, _, err := h.Load()
			require.NoError(t, err)
			assert.Len(t, runs, 2)
			merged, _, err := h.Runs()
			require.NoError(t, err)
			require.Len(t, merged, 1)
			var tests []string
			for _, tt := range merged[0].Tests {
				tests = append(tests, tt.Name)
			}
			assert.ElementsMatch(t, []string{"TestA", "TestB"}, tests)
		})
	}
}

// TestHistoryRemovesStaleTemps: the temporary files that killed writers
// left next to the history are removed by the next writer; other files,
// even similar ones, stay.
func TestHistoryRemovesStaleTemps(t *testing.T) {
	for mode, path := range historyPaths(t) {
		t.Run(mode, func(t *testing.T) {
			h, err := reports.OpenHistory(path)
			require.NoError(t, err)
			require.NoError(t, h.Append(mkRun("a", 1, "")))
			dir, stale := filepath.Dir(filepath.Clean(path)), []string{".history.jsonl.tmp-123456"}
			if mode == "dir" {
				dir, stale = filepath.Clean(path), []string{".cxload-run-a-0011223344556677.json.tmp-42"}
			}
			kept := []string{".history.jsonl.tmp-x1", ".other.json.tmp-123", "notes.tmp-1", ".cxload-run-a.json.tmp-", "r.html"}
			for _, name := range append(slices.Clone(stale), kept...) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o644))
			}
			require.NoError(t, h.Append(mkRun("b", 2, "")))
			for _, name := range stale {
				assert.NoFileExists(t, filepath.Join(dir, name))
			}
			for _, name := range kept {
				assert.FileExists(t, filepath.Join(dir, name))
			}
		})
	}
}

func readFileT(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
