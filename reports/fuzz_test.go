package reports_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cxload/cxload/reports"
)

// FuzzHistoryFile: any bytes in a JSON-lines history load without error or
// panic; every non-blank line is either a run (with an ID) or a problem
// naming the file, its line and what is wrong; and appending a run to such a
// history keeps every run (one per run ID and labels), keeps the malformed
// lines (as problems), and adds the new run. A file none of whose lines is a
// run is not a history: one problem, and Append leaves it alone.
func FuzzHistoryFile(f *testing.F) {
	for _, s := range []string{
		`{"id":"r1","env":{"commit":"c1","start":"2026-11-01T00:00:00Z"}}` + "\n" +
			`{"id":"r2","env":{"labels":{"shard":"1/2"}},"tests":[{"package":"p","name":"TestA","verdict":"pass"}]}` + "\n",
		`{"id":"r1"}` + "\n" + `{"id":"r1"}` + "\n",
		`{"id":"r1","benchmarks":[{"name":"X-2","unit":"sec/op","values":[1,2,3]}]}` + "\n" + `not json` + "\n\n" + `{"id":""}` + "\n",
		`{"id":"r3","scenarios":[{"name":"S","doc":null}]}`,
		`{"id":"r4","env":{"labels":{"shard":"2/2","region":"sim"}}} trailing`,
		"{\"id\":\"r5\"}\r\n\t\n[1,2]\n{\"id\":5}\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "history.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := reports.OpenHistory(path)
		if err != nil {
			t.Fatal(err)
		}
		runs, probs, err := h.Load()
		if err != nil {
			t.Fatalf("Load of a readable file: %v\ninput: %q", err, data)
		}
		lines := 0
		for l := range bytes.Lines(data) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(runs) == 0 && len(probs) > 0 {
			if len(probs) != 1 || !strings.Contains(probs[0].Msg, "not a history") {
				t.Fatalf("a file without runs gave problems %v, want one saying it is not a history\ninput: %q", probs, data)
			}
			err := h.Append(&reports.Run{ID: "fuzz-added", Tests: []reports.Test{{Name: "TestA", Verdict: reports.Pass}}})
			if err == nil || !strings.Contains(err.Error(), "not a history") {
				t.Fatalf("Append to a file without runs: %v, want an error saying it is not a history\ninput: %q", err, data)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Fatalf("Append changed a file that is not a history\ninput: %q", data)
			}
			return
		}
		if len(runs)+len(probs) != lines {
			t.Fatalf("%d non-blank lines gave %d runs and %d problems\ninput: %q", lines, len(runs), len(probs), data)
		}
		total := bytes.Count(data, []byte("\n")) + 1
		for _, p := range probs {
			if p.File != path || p.Line < 1 || p.Line > total || p.Msg == "" {
				t.Fatalf("problem %+v: want file %s, a line in 1..%d and a message\ninput: %q", p, path, total, data)
			}
			if !strings.Contains(p.String(), fmt.Sprintf("%d", p.Line)) {
				t.Fatalf("problem %q does not say its line %d", p.String(), p.Line)
			}
		}
		keys := map[string]bool{}
		for _, r := range runs {
			if r.ID == "" {
				t.Fatalf("a run without ID loaded\ninput: %q", data)
			}
			keys[key(r)] = true
		}

		added := &reports.Run{ID: "fuzz-added", Tests: []reports.Test{{Name: "TestA", Verdict: reports.Pass}}}
		if err := h.Append(added); err != nil {
			t.Fatalf("Append to a loaded history: %v\ninput: %q", err, data)
		}
		keys[key(added)] = true
		runs2, probs2, err := h.Load()
		if err != nil {
			t.Fatalf("Load after Append: %v", err)
		}
		got := map[string]bool{}
		for _, r := range runs2 {
			if got[key(r)] {
				t.Fatalf("run %q twice after Append\ninput: %q", key(r), data)
			}
			got[key(r)] = true
		}
		if !maps.Equal(got, keys) {
			t.Fatalf("runs after Append %v, want %v\ninput: %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(keys)), data)
		}
		if len(probs2) != len(probs) {
			t.Fatalf("Append changed the malformed lines: %d problems before, %d after\ninput: %q", len(probs), len(probs2), data)
		}
	})
}

func key(r *reports.Run) string {
	return r.ID + "@" + fmt.Sprint(r.Env.Labels) // fmt sorts map keys
}

// FuzzParseLabels: any CXLOAD_LABELS value parses without panicking; an
// error names the item; parsed labels written back as "k=v,k=v" parse to
// the same labels.
func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"region=sim,agents=500", "", " a = b , c=d=e ", "a=1,a=2", "=x", "novalue", ",,,", "k=", "é=ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		labels, err := reports.ParseLabels(s)
		if err != nil {
			if !strings.Contains(err.Error(), "label") {
				t.Fatalf("ParseLabels(%q) error %q does not name the label", s, err)
			}
			return
		}
		var items []string
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			items = append(items, k+"="+labels[k])
		}
		back, err := reports.ParseLabels(strings.Join(items, ","))
		if err != nil || !maps.Equal(back, labels) {
			t.Fatalf("ParseLabels(%q) = %v; written back %q -> %v, %v", s, labels, strings.Join(items, ","), back, err)
		}
	})
}
