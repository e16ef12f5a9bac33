package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/cxload/cxload/harness/result"
)

// MergeShards merges runs that share a run ID (the shards of one CI run)
// into one run each, and returns them ordered by start time. Merging is
// exact: benchmark samples are pooled, tests and packages keep the worst
// verdict, and the result documents of one scenario and matrix cell merge
// with result.Document.Merge (counts add, histograms merge), so the
// merged p99 comes from the merged histogram. The inputs are not modified.
func MergeShards(runs []*Run) ([]*Run, []error) {
	byID := make(map[string][]*Run)
	var ids []string
	for _, r := range runs {
		if _, ok := byID[r.ID]; !ok {
			ids = append(ids, r.ID)
		}
		byID[r.ID] = append(byID[r.ID], r)
	}
	var out []*Run
	var errs []error
	for _, id := range ids {
		m, err := mergeRun(byID[id])
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b *Run) int { return a.Env.Start.Compare(b.Env.Start) })
	return out, errs
}

func verdictWeight(v string) int {
	switch v {
	case Fail:
		return 2
	case Pass:
		return 1
	default:
		return 0
	}
}

func mergeRun(shards []*Run) (*Run, error) {
	if len(shards) == 1 {
		return shards[0], nil
	}
	for _, r := range shards {
		if r.Compacted {
			return shards[0], fmt.Errorf("reports: run %s: a shard arrived after the run was compacted; it cannot be merged exactly and is left out", r.ID)
		}
	}
	first := shards[0]
	m := &Run{ID: first.ID, Env: first.Env}
	m.Env.Labels = maps.Clone(first.Env.Labels)
	delete(m.Env.Labels, ShardLabel)
	var errs []error
	pkgIdx := make(map[string]int)
	testIdx := make(map[[2]string]int)
	benchIdx := make(map[[3]string]int)
	scenIdx := make(map[string]int)
	for _, r := range shards {
		if !r.Env.Start.IsZero() && (m.Env.Start.IsZero() || r.Env.Start.Before(m.Env.Start)) {
			m.Env.Start = r.Env.Start
		}
		if r.Env.End.After(m.Env.End) {
			m.Env.End = r.Env.End
		}
		m.Env.Commit = cmp.Or(m.Env.Commit, r.Env.Commit)
		m.Env.Branch = cmp.Or(m.Env.Branch, r.Env.Branch)
		m.Env.CPU = cmp.Or(m.Env.CPU, r.Env.CPU)
		// Keep only the labels all shards agree on.
		for k, v := range m.Env.Labels {
			if r.Env.Labels[k] != v {
				delete(m.Env.Labels, k)
			}
		}
		for _, p := range r.Packages {
			if i, ok := pkgIdx[p.Name]; ok {
				if verdictWeight(p.Verdict) > verdictWeight(m.Packages[i].Verdict) {
					m.Packages[i] = p
				}
				continue
			}
			pkgIdx[p.Name] = len(m.Packages)
			m.Packages = append(m.Packages, p)
		}
		for _, t := range r.Tests {
			k := [2]string{t.Package, t.Name}
			if i, ok := testIdx[k]; ok {
				if verdictWeight(t.Verdict) > verdictWeight(m.Tests[i].Verdict) {
					m.Tests[i] = t
				}
				continue
			}
			testIdx[k] = len(m.Tests)
			m.Tests = append(m.Tests, t)
		}
		for _, b := range r.Benchmarks {
			k := [3]string{b.Package, b.Name, b.Unit}
			if i, ok := benchIdx[k]; ok {
				m.Benchmarks[i].Values = append(m.Benchmarks[i].Values, b.Values...)
				continue
			}
			benchIdx[k] = len(m.Benchmarks)
			b.Values = slices.Clone(b.Values)
			m.Benchmarks = append(m.Benchmarks, b)
		}
		for _, s := range r.Scenarios {
			k := scenarioKey(s.Name, s.Labels)
			i, ok := scenIdx[k]
			if !ok {
				doc, err := cloneDoc(s.Doc)
				if err != nil {
					errs = append(errs, fmt.Errorf("run %s: scenario %s: %w", r.ID, s.Name, err))
					continue
				}
				s.Doc = doc
				s.Shards = slices.Clone(s.Shards)
				scenIdx[k] = len(m.Scenarios)
				m.Scenarios = append(m.Scenarios, s)
				continue
			}
			if err := m.Scenarios[i].Doc.Merge(s.Doc); err != nil {
				errs = append(errs, fmt.Errorf("run %s: scenario %s: merging shard %v: %w", r.ID, s.Name, s.Shards, err))
				continue
			}
			m.Scenarios[i].Shards = append(m.Scenarios[i].Shards, s.Shards...)
		}
		m.Problems = append(m.Problems, r.Problems...)
	}
	// The merged documents give new percentiles: compute them again.
	var merr []error
	m.Metrics, merr = scenarioMetrics(m)
	errs = append(errs, merr...)
	if len(errs) > 0 {
		return m, fmt.Errorf("reports: %v", errs)
	}
	return m, nil
}

// cloneDoc deep-copies a document, since Merge modifies its receiver.
func cloneDoc(d *result.Document) (*result.Document, error) {
	if d == nil {
		return nil, fmt.Errorf("no document")
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var c result.Document
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Baseline picks the runs to compare cur with from history runs (merged,
// oldest first), per spec:
//
//	"prev" or ""   the newest run before cur (other than cur itself)
//	"median:N"     the N newest runs before cur (compared by median; see Compare)
//	anything else  the run with that ID
//
// Runs without results (see Run.HasResults) are never a baseline.
func Baseline(history []*Run, cur *Run, spec string) ([]*Run, error) {
	var before []*Run
	for _, r := range history {
		if !r.HasResults() {
			continue
		}
		if cur != nil && r.ID == cur.ID {
			continue
		}
		if cur != nil && !cur.Env.Start.IsZero() && r.Env.Start.After(cur.Env.Start) {
			continue
		}
		before = append(before, r)
	}
	switch {
	case spec == "" || spec == "prev":
		if len(before) == 0 {
			return nil, nil
		}
		return before[len(before)-1:], nil
	case len(spec) > len("median:") && spec[:len("median:")] == "median:":
		var n int
		if _, err := fmt.Sscanf(spec[len("median:"):], "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != spec[len("median:"):] {
			return nil, fmt.Errorf("reports: baseline %q: want median:N with N >= 1, e.g. median:5", spec)
		}
		if len(before) > n {
			before = before[len(before)-n:]
		}
		return before, nil
	default:
		for _, r := range history {
			if r.ID == spec && !r.HasResults() {
				return nil, fmt.Errorf("reports: baseline %q: the run has no test results, so it cannot be a baseline (use prev, median:N or another run id)", spec)
			}
			if r.ID == spec {
				return []*Run{r}, nil
			}
		}
		return nil, fmt.Errorf("reports: baseline %q: no run with that id in the history (use prev, median:N or a run id)", spec)
	}
}
