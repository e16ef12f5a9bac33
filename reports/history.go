package reports

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// History is a record of runs, kept either as a JSON-lines file (one run per
// line) or as a directory with one JSON file per entry. Both can live in git
// or in a CI artifact.
//
// A history never rewrites or removes a file it did not write. A directory
// history owns only its run files, named cxload-run-*.json and marked with
// "schema": HistorySchema; other files in the directory are left alone (Load
// names them in one problem). A file history refuses to write over an
// existing file none of whose lines is a run.
//
// Writes are atomic: the new content goes to a temporary file in the same
// directory, is synced, then renamed over the old one, so a crash mid-write
// leaves the old history intact. A lock file (path + ".lock", or ".lock"
// inside a directory) serializes writers, so two concurrent appends do not
// lose each other's runs; the writer holding it also removes the temporary
// files that killed writers left behind.
//
// Each entry is one run, or one shard of one matrix cell of a run: entries
// with the same run ID and the same labels (shard and cell) replace each
// other (the newest wins); entries with the same ID and different labels
// are merged by Runs. A run without results (see Run.HasResults) is never
// appended.
type History struct {
	path string
	dir  bool
}

// OpenHistory opens the history at path. An existing directory, or a path
// ending in a slash, is a directory history; anything else is a JSON-lines
// file. Nothing is created until the first write.
func OpenHistory(path string) (*History, error) {
	if path == "" {
		return nil, errors.New("reports: history: empty path")
	}
	h := &History{path: filepath.Clean(path)}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		h.dir = true
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		h.dir = strings.HasSuffix(path, "/") || strings.HasSuffix(path, string(filepath.Separator))
	default:
		return nil, fmt.Errorf("reports: history: %w", err)
	}
	return h, nil
}

// Path returns the history's path.
func (h *History) Path() string { return h.path }

// HistorySchema marks the run files of a directory history.
const HistorySchema = "cxload.history/v1"

// runFilePrefix starts the names of a directory history's run files.
const runFilePrefix = "cxload-run-"

// runFile is the content of a directory history's run file: the run, with
// the marker that says the history wrote it.
type runFile struct {
	Schema string `json:"schema"`
	*Run
}

// entry is one stored run and, for malformed lines, its raw bytes.
type entry struct {
	run  *Run
	raw  []byte // a line that did not decode; kept verbatim on rewrite
	file string // the run file it was read from, in a directory history
}

// HasResults reports whether the run holds any test, benchmark or scenario
// result. A run without (empty or unreadable input, a failed build) is never
// appended to a history nor chosen as a baseline: a comparison with it would
// find nothing to compare and so hide every regression.
func (r *Run) HasResults() bool {
	return len(r.Tests) > 0 || len(r.Benchmarks) > 0 || len(r.Scenarios) > 0 || len(r.Metrics) > 0
}

// entryKey identifies an entry: the run ID and all its labels, which name
// the shard and the matrix cell.
func entryKey(r *Run) string {
	if len(r.Env.Labels) == 0 {
		return r.ID
	}
	labels, _ := json.Marshal(r.Env.Labels) // keys sorted: one cell, one key
	return r.ID + "\x00" + string(labels)
}

// Load returns the entries of the history in stored order, and the lines or
// files it could not read as problems (file:line and what is wrong). A
// missing history is empty.
func (h *History) Load() ([]*Run, []Problem, error) {
	ents, probs, err := h.load()
	if err != nil {
		return nil, nil, err
	}
	var runs []*Run
	for _, e := range ents {
		if e.run != nil {
			runs = append(runs, e.run)
		}
	}
	return runs, probs, nil
}

func (h *History) load() ([]entry, []Problem, error) {
	if h.dir {
		return h.loadDir()
	}
	data, err := os.ReadFile(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reports: history: %w", err)
	}
	ents, probs, err := decodeLines(h.path, data)
	if err != nil {
		return nil, nil, err
	}
	if len(probs) > 0 && !hasRun(ents) {
		// Not a history at all (a capture, package.json): one problem,
		// not one per line.
		return ents, []Problem{{File: h.path, Line: probs[0].Line, Msg: fmt.Sprintf(
			"not a history: none of its %d lines is a run (the first: %s); the file is left alone", len(probs), probs[0].Msg)}}, nil
	}
	for i := range probs {
		probs[i].Msg += " (the line is kept as is; fix or delete it)"
	}
	return ents, probs, nil
}

func hasRun(ents []entry) bool {
	return slices.ContainsFunc(ents, func(e entry) bool { return e.run != nil })
}

func decodeLines(name string, data []byte) ([]entry, []Problem, error) {
	var ents []entry
	var probs []Problem
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<30)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		r, err := decodeRun(line)
		if err != nil {
			probs = append(probs, Problem{File: name, Line: n, Msg: err.Error()})
			ents = append(ents, entry{raw: slices.Clone(line)})
			continue
		}
		ents = append(ents, entry{run: r})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reports: history %s:%d: %w", name, n, err)
	}
	return ents, probs, nil
}

func decodeRun(data []byte) (*Run, error) {
	var r Run
	if err := decodeJSON(data, &r); err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, errors.New("run has no id")
	}
	return &r, nil
}

func decodeJSON(data []byte, v any) error {
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("malformed run: %v at byte %d", err, se.Offset)
		}
		return fmt.Errorf("malformed run: %v", err)
	}
	return nil
}

// isRunFile reports whether name is a run file of a directory history.
func isRunFile(name string) bool {
	return strings.HasPrefix(name, runFilePrefix) && strings.HasSuffix(name, ".json")
}

// decodeRunFile decodes a directory history's run file, which must carry
// the marker.
func decodeRunFile(data []byte) (*Run, error) {
	f := runFile{Run: new(Run)}
	if err := decodeJSON(data, &f); err != nil {
		return nil, err
	}
	if f.Schema != HistorySchema {
		return nil, fmt.Errorf("not a run file of a history: it lacks \"schema\": %q", HistorySchema)
	}
	if f.Run.ID == "" {
		return nil, errors.New("run has no id")
	}
	return f.Run, nil
}

// loadDir reads the run files of a directory history, oldest run first.
// Other JSON files are named in one problem and otherwise ignored.
func (h *History) loadDir() ([]entry, []Problem, error) {
	des, err := os.ReadDir(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reports: history: %w", err)
	}
	var ents []entry
	var probs []Problem
	var foreign []string
	for _, de := range des {
		name := de.Name()
		if !isRunFile(name) || !de.Type().IsRegular() {
			if !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".jsonl")) {
				foreign = append(foreign, name)
			}
			continue
		}
		path := filepath.Join(h.path, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned meanwhile
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reports: history: %w", err)
		}
		r, err := decodeRunFile(data)
		if err != nil {
			probs = append(probs, Problem{File: path, Line: 1, Msg: err.Error() + " (the file is kept as is; fix or delete it)"})
			continue
		}
		ents = append(ents, entry{run: r, file: path})
	}
	if len(foreign) > 0 {
		list := strings.Join(foreign[:min(len(foreign), 5)], ", ")
		if len(foreign) > 5 {
			list += fmt.Sprintf(" and %d more", len(foreign)-5)
		}
		probs = append(probs, Problem{File: h.path, Msg: fmt.Sprintf(
			"%d JSON files are not runs of this history and are left alone: %s (a directory history reads and writes only its own %s*.json files)",
			len(foreign), list, runFilePrefix)})
	}
	slices.SortStableFunc(ents, func(a, b entry) int { return a.run.Env.Start.Compare(b.run.Env.Start) })
	return ents, probs, nil
}

// Append adds runs to the history. An entry with the same run ID and labels
// (shard and cell) as an added run is replaced. A run without results (see
// Run.HasResults) is refused, and then nothing is appended.
func (h *History) Append(runs ...*Run) error {
	for _, r := range runs {
		if r != nil && !r.HasResults() {
			return fmt.Errorf("reports: history %s: run %s has no test results (no tests, benchmarks or scenarios); it is not appended, so that it never becomes a baseline", h.path, r.ID)
		}
	}
	return h.update(func(ents []entry) ([]entry, error) {
		return dedupe(append(ents, runEntries(runs)...)), nil
	})
}

func runEntries(runs []*Run) []entry {
	var ents []entry
	for _, r := range runs {
		if r != nil {
			ents = append(ents, entry{run: r})
		}
	}
	return ents
}

// dedupe keeps the last entry of each key (run ID and labels), at the
// position of the last one.
func dedupe(ents []entry) []entry {
	last := make(map[string]int)
	for i, e := range ents {
		if e.run != nil {
			last[entryKey(e.run)] = i
		}
	}
	out := ents[:0:0]
	for i, e := range ents {
		if e.run == nil || last[entryKey(e.run)] == i {
			out = append(out, e)
		}
	}
	return out
}

// Prune keeps the newest keep runs (by run ID, counting all shards of a run
// as one, ordered by start time) and removes the rest. It returns the number
// of run IDs removed.
func (h *History) Prune(keep int) (int, error) {
	if keep < 0 {
		return 0, fmt.Errorf("reports: history: prune: keep=%d: must be >= 0", keep)
	}
	removed := 0
	err := h.update(func(ents []entry) ([]entry, error) {
		start := make(map[string]entry)
		for _, e := range ents {
			if e.run == nil {
				continue
			}
			if s, ok := start[e.run.ID]; !ok || e.run.Env.Start.Before(s.run.Env.Start) {
				start[e.run.ID] = e
			}
		}
		ids := make([]string, 0, len(start))
		for id := range start {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int {
			return cmp.Or(start[a].run.Env.Start.Compare(start[b].run.Env.Start), strings.Compare(a, b))
		})
		if len(ids) <= keep {
			return ents, nil
		}
		drop := make(map[string]bool)
		for _, id := range ids[:len(ids)-keep] {
			drop[id] = true
		}
		removed = len(drop)
		out := ents[:0:0]
		for _, e := range ents {
			if e.run == nil || !drop[e.run.ID] {
				out = append(out, e)
			}
		}
		return out, nil
	})
	return removed, err
}

// Compact keeps the result documents (with their histograms) of the newest
// keepFull runs only. Older runs have their shards merged and their
// documents dropped: their tests, benchmarks and scenario metrics (p99 per
// operation, throughput, 429 rate, WebSocket figures), which is what
// trends and comparisons use, remain. A history kept in git stays small.
// It returns the number of runs compacted.
func (h *History) Compact(keepFull int) (int, error) {
	if keepFull < 0 {
		return 0, fmt.Errorf("reports: history: compact: keep=%d: must be >= 0", keepFull)
	}
	compacted := 0
	err := h.update(func(ents []entry) ([]entry, error) {
		byID := make(map[string][]*Run)
		var ids []string
		for _, e := range ents {
			if e.run == nil {
				continue
			}
			if _, ok := byID[e.run.ID]; !ok {
				ids = append(ids, e.run.ID)
			}
			byID[e.run.ID] = append(byID[e.run.ID], e.run)
		}
		slices.SortStableFunc(ids, func(a, b string) int {
			return byID[a][0].Env.Start.Compare(byID[b][0].Env.Start)
		})
		if len(ids) <= keepFull {
			return ents, nil
		}
		old := make(map[string]*Run)
		for _, id := range ids[:len(ids)-keepFull] {
			shards := byID[id]
			if len(shards) == 1 && shards[0].Compacted {
				continue
			}
			m, err := mergeRun(shards)
			if err != nil {
				return nil, err
			}
			c := *m
			c.Metrics, _ = Metrics(m)
			c.Scenarios = nil
			for _, s := range m.Scenarios {
				s.Doc = nil
				c.Scenarios = append(c.Scenarios, s)
			}
			if c.Metrics == nil {
				c.Metrics = []ScenarioMetric{}
			}
			c.Compacted = true
			c.Env.Labels = maps.Clone(c.Env.Labels)
			delete(c.Env.Labels, ShardLabel)
			old[id] = &c
			compacted++
		}
		out := ents[:0:0]
		done := make(map[string]bool)
		for _, e := range ents {
			if e.run == nil {
				out = append(out, e)
				continue
			}
			c, ok := old[e.run.ID]
			switch {
			case !ok:
				out = append(out, e)
			case !done[e.run.ID]:
				done[e.run.ID] = true
				out = append(out, entry{run: c})
			}
		}
		return out, nil
	})
	return compacted, err
}

// MergeFrom adds the entries of other to h (for example, the history of
// another branch or CI artifact), deduplicated like Append. Entries without
// results are left out.
func (h *History) MergeFrom(other *History) error {
	runs, _, err := other.Load()
	if err != nil {
		return err
	}
	runs = slices.DeleteFunc(runs, func(r *Run) bool { return !r.HasResults() })
	return h.Append(runs...)
}

// Runs returns the history's runs with the shards of each run merged
// (MergeShards), oldest first.
func (h *History) Runs() ([]*Run, []Problem, error) {
	ents, probs, err := h.Load()
	if err != nil {
		return nil, nil, err
	}
	runs, errs := MergeShards(ents)
	for _, err := range errs {
		probs = append(probs, Problem{File: h.path, Msg: err.Error()})
	}
	return runs, probs, nil
}
