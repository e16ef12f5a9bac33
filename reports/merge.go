package reports

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/shard"
	"github.com/cxload/cxload/reports/testjson"
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
	groupByTest(m)
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

// ShardCheck finds, before the legs of a sharded run are merged, what would
// make the merged totals wrong: a shard of a scenario's cell that no input
// holds, a shard that two inputs hold, or shards of one cell split in
// different counts. A shard that two inputs hold under the same, non-empty
// run id (Document.Run) is a re-run, as when Kubernetes replaces a failed
// pod of an Indexed Job: the later document (by start) replaces the
// earlier one, and the plan says so.
//
// Add the records of every input, then call Plan. Documents count once per
// input: an input holding one shard twice (go test -count=2) is left to the
// Builder.
type ShardCheck struct {
	docs []legDoc
	seen map[string]bool // input, key: documents already noted
}

type legDoc struct {
	input                 string
	scenario, cell, shard string
	run                   string
	start                 time.Time
}

func (d legDoc) key() string { return d.scenario + "\x00" + d.cell + "\x00" + d.shard }

// docHead returns the head of a result document line: ok is false for
// other records and for documents that do not decode (the Builder reports
// those).
func docHead(rec testjson.Record) (d legDoc, ok bool) {
	l, isLine := rec.(*testjson.Line)
	if !isLine {
		return d, false
	}
	i := strings.Index(l.Text, result.Prefix)
	if i < 0 || !resultLine.MatchString(l.Text[:i]) {
		return d, false
	}
	var head struct {
		Scenario string            `json:"scenario"`
		Shard    string            `json:"shard"`
		Run      string            `json:"run"`
		Labels   map[string]string `json:"labels"`
		Start    time.Time         `json:"start"`
	}
	if json.Unmarshal([]byte(l.Text[i+len(result.Prefix):]), &head) != nil {
		return d, false
	}
	labels := maps.Clone(head.Labels)
	d.shard = cmp.Or(head.Shard, labels[ShardLabel])
	delete(labels, ShardLabel)
	d.scenario = cmp.Or(head.Scenario, l.Test)
	d.cell = formatLabels(labels)
	d.run, d.start = head.Run, head.Start
	return d, true
}

// Add notes a record of the input named input.
func (c *ShardCheck) Add(input string, rec testjson.Record) {
	d, ok := docHead(rec)
	if !ok {
		return
	}
	d.input = input
	if c.seen == nil {
		c.seen = make(map[string]bool)
	}
	if k := input + "\x00" + d.key(); !c.seen[k] {
		c.seen[k] = true
		c.docs = append(c.docs, d)
	}
}

// ShardError is a shard of a scenario's cell that is missing, duplicated,
// or counted differently from its siblings.
type ShardError struct {
	Scenario, Cell string
	Shard          string   // "i/n"; for Kind "counts", the shards found
	Kind           string   // "missing", "duplicated" or "counts"
	Inputs         []string // the inputs holding the cell's documents (duplicated: this shard's, with their run ids)
}

func (e *ShardError) what() string {
	s := "scenario " + e.Scenario
	if e.Cell != "" {
		s += " [" + e.Cell + "]"
	}
	return s
}

func (e *ShardError) Error() string {
	in := strings.Join(e.Inputs, ", ")
	switch e.Kind {
	case "missing":
		return fmt.Sprintf("%s: shard %s is missing (the other shards are in %s): run that shard again (CXLOAD_SHARD=%s, or the Indexed Job's index %s) and merge again, or pass -partial for partial totals",
			e.what(), e.Shard, in, e.Shard, zeroBased(e.Shard))
	case "duplicated":
		return fmt.Sprintf("%s: shard %s is in both %s, which are not re-runs of one run id: its counts would add twice; give each shard once (remove the leg of the other run), or pass -partial to keep the first",
			e.what(), e.Shard, in)
	default:
		return fmt.Sprintf("%s: shards %s of different counts (in %s): merge the legs of one run, all split in the same number of shards",
			e.what(), e.Shard, in)
	}
}

// zeroBased returns the 0-based index of shard "i/n", as Kubernetes numbers
// an Indexed Job's pods.
func zeroBased(s string) string {
	sh, err := shard.Parse(s)
	if err != nil {
		return "?"
	}
	return strconv.Itoa(sh.Index - 1)
}

// ShardPlan is what ShardCheck.Plan found: the errors, the re-runs, and
// the documents to leave out of the merge.
type ShardPlan struct {
	// Errors are missing, duplicated and miscounted shards; the merge's
	// totals are partial when there are any.
	Errors []*ShardError
	// Reruns say which re-run document replaced which.
	Reruns []string
	skip   map[string]bool // input, key
}

// Plan checks the documents noted so far. With partial, a duplicated
// shard keeps its first input's document only (still reported in Errors),
// so that nothing counts twice.
func (c *ShardCheck) Plan(partial bool) *ShardPlan {
	p := &ShardPlan{skip: make(map[string]bool)}
	byKey := make(map[string][]legDoc)
	type cellKey struct{ scenario, cell string }
	byCell := make(map[cellKey][]legDoc)
	var cells []cellKey
	for _, d := range c.docs {
		byKey[d.key()] = append(byKey[d.key()], d)
		ck := cellKey{d.scenario, d.cell}
		if _, ok := byCell[ck]; !ok {
			cells = append(cells, ck)
		}
		byCell[ck] = append(byCell[ck], d)
	}
	for _, ck := range cells {
		docs := byCell[ck]
		var inputs []string
		counts := make(map[int]bool)
		have := make(map[int]bool)
		var shards []string
		for _, d := range docs {
			if !slices.Contains(inputs, d.input) {
				inputs = append(inputs, d.input)
			}
			sh, err := shard.Parse(d.shard)
			if err != nil {
				sh = shard.Shard{Index: 1, Count: 1} // the Builder merges it as it is
			}
			counts[sh.Count] = true
			have[sh.Index] = true
			if !slices.Contains(shards, sh.String()) {
				shards = append(shards, sh.String())
			}
			if same := byKey[d.key()]; len(same) > 1 && same[0] == d {
				p.resolve(same, partial)
			}
		}
		if len(counts) > 1 {
			slices.Sort(shards)
			p.Errors = append(p.Errors, &ShardError{Scenario: ck.scenario, Cell: ck.cell, Shard: strings.Join(shards, ", "), Kind: "counts", Inputs: inputs})
			continue
		}
		for n := range counts {
			for i := 1; i <= n; i++ {
				if !have[i] {
					p.Errors = append(p.Errors, &ShardError{Scenario: ck.scenario, Cell: ck.cell, Shard: fmt.Sprintf("%d/%d", i, n), Kind: "missing", Inputs: inputs})
				}
			}
		}
	}
	return p
}

// resolve handles one shard that several inputs hold: a re-run of one run
// id keeps the latest; anything else is a duplicate.
func (p *ShardPlan) resolve(same []legDoc, partial bool) {
	first := same[0]
	rerun := first.run != ""
	for _, d := range same[1:] {
		rerun = rerun && d.run == first.run
	}
	if rerun {
		keep := same[0]
		for _, d := range same[1:] {
			if !d.start.Before(keep.start) {
				keep = d
			}
		}
		var replaced []string
		for _, d := range same {
			if d != keep {
				p.skip[d.input+"\x00"+d.key()] = true
				replaced = append(replaced, d.input)
			}
		}
		e := ShardError{Scenario: first.scenario, Cell: first.cell}
		p.Reruns = append(p.Reruns, fmt.Sprintf("%s: shard %s of run %s was run again: %s (started %s) replaces %s",
			e.what(), cmp.Or(first.shard, "1/1"), first.run, keep.input, keep.start.UTC().Format(time.RFC3339), strings.Join(replaced, ", ")))
		return
	}
	var inputs []string
	for _, d := range same {
		label := d.input
		if d.run != "" {
			label += " (run " + d.run + ")"
		}
		inputs = append(inputs, label)
	}
	p.Errors = append(p.Errors, &ShardError{Scenario: first.scenario, Cell: first.cell, Shard: cmp.Or(first.shard, "1/1"), Kind: "duplicated", Inputs: inputs})
	if partial {
		for _, d := range same[1:] {
			p.skip[d.input+"\x00"+d.key()] = true
		}
	}
}

// Skip reports whether the record is a result document the merge leaves
// out: replaced by a re-run, or (with partial) a duplicate.
func (p *ShardPlan) Skip(input string, rec testjson.Record) bool {
	if len(p.skip) == 0 {
		return false
	}
	d, ok := docHead(rec)
	return ok && p.skip[input+"\x00"+d.key()]
}

// Err returns the plan's errors as one, or nil.
func (p *ShardPlan) Err() error {
	if len(p.Errors) == 0 {
		return nil
	}
	errs := make([]error, len(p.Errors))
	for i, e := range p.Errors {
		errs[i] = e
	}
	return errors.Join(errs...)
}
