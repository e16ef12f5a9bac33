package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// How a History is kept on disk: one file of JSON lines, or a directory of
// one file per run, each written atomically under the history's lock.

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
	h.removeStaleTemps()
	loaded, _, err := h.load()
	if err != nil {
		return err
	}
	if !h.dir && len(loaded) > 0 && !hasRun(loaded) {
		return fmt.Errorf("reports: history %s: not a history (none of its lines is a run); it is left alone: give the path of a history or of a new file", h.path)
	}
	ents, err := fn(slices.Clone(loaded))
	if err != nil {
		return err
	}
	if h.dir {
		return h.writeDir(loaded, ents)
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
	return WriteFileAtomic(h.path, buf.Bytes())
}

// removeStaleTemps removes the temporary files of writes to this history
// that never finished (their writer was killed). It runs under the lock,
// when no writer of this history is writing, so every such file is stale.
// Only names writeFileAtomic gives are touched.
func (h *History) removeStaleTemps() {
	dir, isTemp := filepath.Dir(h.path), func(name string) bool {
		return isTempOf(name, filepath.Base(h.path))
	}
	if h.dir {
		dir, isTemp = h.path, func(name string) bool {
			i := strings.LastIndex(name, ".tmp-")
			return i > 0 && isRunFile(name[1:i]) && isTempOf(name, name[1:i])
		}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if de.Type().IsRegular() && isTemp(de.Name()) {
			os.Remove(filepath.Join(dir, de.Name())) // best effort: the next writer tries again
		}
	}
}

// isTempOf reports whether name is a temporary file writeFileAtomic made
// for the file base: "." + base + ".tmp-" and CreateTemp's random digits.
func isTempOf(name, base string) bool {
	digits, ok := strings.CutPrefix(name, "."+base+".tmp-")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

// runFileName returns the file of an entry in a directory history: the
// prefix, the run ID made safe for file names, and a hash of the entry's
// key, so that entries with different keys never share a file.
func runFileName(r *Run) string {
	var sb strings.Builder
	sb.WriteString(runFilePrefix)
	for i, c := range r.ID {
		if i >= 64 {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
			sb.WriteRune(c)
		default:
			sb.WriteByte('_')
		}
	}
	sum := sha256.Sum256([]byte(entryKey(r)))
	fmt.Fprintf(&sb, "-%x.json", sum[:8])
	return sb.String()
}

// writeDir writes the entries of a directory history, one run file each,
// and removes the run files loaded that no entry keeps. It writes over no
// file it did not load as a run file.
func (h *History) writeDir(loaded, ents []entry) error {
	owned := make(map[string]bool)
	for _, e := range loaded {
		if e.file != "" {
			owned[e.file] = true
		}
	}
	keep := make(map[string]bool)
	for _, e := range ents {
		if e.run == nil {
			continue
		}
		path := filepath.Join(h.path, runFileName(e.run))
		keep[path] = true
		data, err := json.Marshal(runFile{Schema: HistorySchema, Run: e.run})
		if err != nil {
			return fmt.Errorf("reports: history: run %s: %w", e.run.ID, err)
		}
		data = append(data, '\n')
		if !owned[path] {
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("reports: history: %s exists but is not a run file of this history; it is left alone: move it away", path)
			}
		} else if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := WriteFileAtomic(path, data); err != nil {
			return err
		}
	}
	for path := range owned {
		if !keep[path] {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("reports: history: %w", err)
			}
		}
	}
	return nil
}

// WriteFileAtomic writes data to a temporary file next to path, syncs it and
// renames it over path, then syncs the directory: a reader of path sees the
// old content or the new, never part of it.
func WriteFileAtomic(path string, data []byte) (err error) {
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
