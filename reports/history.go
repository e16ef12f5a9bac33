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
// line) or as a directory with one JSON file per run. Both can live in git
// or in a CI artifact.
//
// Writes are atomic: the new content goes to a temporary file in the same
// directory, is synced, then renamed over the old one, so a crash mid-write
// leaves the old history intact. A lock file (path + ".lock", or ".lock"
// inside a directory) serializes writers, so two concurrent appends do not
// lose each other's runs.
//
// Each entry is one run or one shard of a run: entries with the same run ID
// and the same shard label replace each other (the newest wins); entries
// with the same ID and different shards are merged by Runs.
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

// entry is one stored run and, for malformed lines, its raw bytes.
type entry struct {
	run *Run
	raw []byte // a line that did not decode; kept verbatim on rewrite
}

func entryKey(r *Run) string { return r.ID + "\x00" + r.Env.Labels[ShardLabel] }

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
	return decodeLines(h.path, data)
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
			probs = append(probs, Problem{File: name, Line: n, Msg: err.Error() + " (the line is kept as is; fix or delete it)"})
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
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("malformed run: %v at byte %d", err, se.Offset)
		}
		return nil, fmt.Errorf("malformed run: %v", err)
	}
	if r.ID == "" {
		return nil, errors.New("run has no id")
	}
	return &r, nil
}

func (h *History) loadDir() ([]entry, []Problem, error) {
	names, err := filepath.Glob(filepath.Join(h.path, "*.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("reports: history: %w", err)
	}
	var ents []entry
	var probs []Problem
	for _, name := range names {
		data, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned meanwhile
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reports: history: %w", err)
		}
		e, p, err := decodeLines(name, data)
		if err != nil {
			return nil, nil, err
		}
		for _, x := range e {
			if x.run != nil {
				ents = append(ents, x)
			}
		}
		probs = append(probs, p...)
	}
	slices.SortStableFunc(ents, func(a, b entry) int { return a.run.Env.Start.Compare(b.run.Env.Start) })
	return ents, probs, nil
}

// Append adds runs to the history. An entry with the same run ID and shard
// as an added run is replaced.
func (h *History) Append(runs ...*Run) error {
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

// dedupe keeps the last entry of each (run ID, shard), at the position of the
// last one.
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
// another branch or CI artifact), deduplicated like Append.
func (h *History) MergeFrom(other *History) error {
	runs, _, err := other.Load()
	if err != nil {
		return err
	}
	return h.Append(runs...)
}

// update runs fn on the entries under the lock and writes the result
// atomically.
func (h *History) update(fn func([]entry) ([]entry, error)) error {
	lockPath := h.path + ".lock"
	if h.dir {
		if err := os.MkdirAll(h.path, 0o755); err != nil {
			return fmt.Errorf("reports: history: %w", err)
		}
		lockPath = filepath.Join(h.path, ".lock")
	} else if err := os.MkdirAll(filepath.Dir(h.path), 0o755); err != nil {
		return fmt.Errorf("reports: history: %w", err)
	}
	unlock, err := lockFile(lockPath)
	if err != nil {
		return fmt.Errorf("reports: history: lock %s: %w", lockPath, err)
	}
	defer unlock()
	ents, _, err := h.load()
	if err != nil {
		return err
	}
	ents, err = fn(ents)
	if err != nil {
		return err
	}
	if h.dir {
		return h.writeDir(ents)
	}
	var buf bytes.Buffer
	for _, e := range ents {
		if e.run == nil {
			buf.Write(e.raw)
			buf.WriteByte('\n')
			continue
		}
		data, err := json.Marshal(e.run)
		if err != nil {
			return fmt.Errorf("reports: history: run %s: %w", e.run.ID, err)
		}
		buf.Write(data)
		buf.WriteByte('\n')
	}
	return writeFileAtomic(h.path, buf.Bytes())
}

// runFileName returns the file of an entry in a directory history.
func runFileName(r *Run) string {
	name := r.ID
	if s := r.Env.Labels[ShardLabel]; s != "" {
		name += "~shard-" + s
	}
	var sb strings.Builder
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			sb.WriteRune(c)
		default:
			sb.WriteByte('_')
		}
	}
	return sb.String() + ".json"
}

func (h *History) writeDir(ents []entry) error {
	keep := make(map[string]bool)
	for _, e := range ents {
		if e.run == nil {
			continue
		}
		name := runFileName(e.run)
		keep[name] = true
		data, err := json.Marshal(e.run)
		if err != nil {
			return fmt.Errorf("reports: history: run %s: %w", e.run.ID, err)
		}
		path := filepath.Join(h.path, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, append(data, '\n')) {
			continue
		}
		if err := writeFileAtomic(path, append(data, '\n')); err != nil {
			return err
		}
	}
	names, _ := filepath.Glob(filepath.Join(h.path, "*.json"))
	for _, name := range names {
		if !keep[filepath.Base(name)] {
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("reports: history: %w", err)
			}
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path, then syncs the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("reports: write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: not every platform syncs directories
		d.Close()
	}
	return nil
}

// WriteFileAtomic writes data to path atomically (temporary file, sync,
// rename), for reports written next to a history.
func WriteFileAtomic(path string, data []byte) error { return writeFileAtomic(path, data) }
