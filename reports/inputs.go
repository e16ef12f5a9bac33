package reports

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"maps"
	"strings"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports/testjson"
)

// InputSet finds inputs of one run that repeat each other: the same content
// twice (one file given twice, or a copy), or two inputs holding the result
// document of the same scenario, matrix cell and shard. Reading both would
// count their results twice.
//
// Wrap each input with Reader, pass its records to Add, and call Done at its
// end; the first repetition found is the error of Add or Done. An InputSet
// is not safe for concurrent use.
type InputSet struct {
	content map[[sha256.Size]byte]string // content hash -> first input
	docs    map[string]string            // scenario, cell, shard -> first input
	name    string                       // the input being read
	h       hash.Hash
	n       int64
	seen    map[string]bool // document keys of the input being read
}

// DuplicateInputError is an input that repeats an earlier one.
type DuplicateInputError struct {
	First, Second string // the inputs' names
	// Scenario, Cell and Shard name the result document both hold; all
	// are empty when the inputs have the same content.
	Scenario, Cell, Shard string
}

func (e *DuplicateInputError) Error() string {
	if e.Scenario == "" {
		return fmt.Sprintf("%s has the same content as %s: give each input once, or its results count twice", e.Second, e.First)
	}
	what := "scenario " + e.Scenario
	if e.Cell != "" {
		what += " [" + e.Cell + "]"
	}
	if e.Shard != "" {
		what += " shard " + e.Shard
	} else {
		what += " (unsharded)"
	}
	return fmt.Sprintf("%s and %s both hold the results of %s: give each shard once, or its counts double", e.First, e.Second, what)
}

// Reader starts the input name and returns r, read through a hash of its
// content.
func (s *InputSet) Reader(name string, r io.Reader) io.Reader {
	if s.content == nil {
		s.content = make(map[[sha256.Size]byte]string)
		s.docs = make(map[string]string)
	}
	s.name, s.h, s.n, s.seen = name, sha256.New(), 0, make(map[string]bool)
	return io.TeeReader(r, countWriter{s})
}

type countWriter struct{ s *InputSet }

func (w countWriter) Write(p []byte) (int, error) {
	w.s.n += int64(len(p))
	return w.s.h.Write(p)
}

// Add notes a record of the current input. It returns a
// *DuplicateInputError when the record is a result document an earlier
// input already held.
func (s *InputSet) Add(rec testjson.Record) error {
	l, ok := rec.(*testjson.Line)
	if !ok {
		return nil
	}
	i := strings.Index(l.Text, result.Prefix)
	if i < 0 || !resultLine.MatchString(l.Text[:i]) {
		return nil
	}
	// Only the head of the document matters here; a document that does
	// not decode is the Builder's problem to report.
	var head struct {
		Scenario string            `json:"scenario"`
		Shard    string            `json:"shard"`
		Labels   map[string]string `json:"labels"`
	}
	if json.Unmarshal([]byte(l.Text[i+len(result.Prefix):]), &head) != nil {
		return nil
	}
	labels := maps.Clone(head.Labels)
	shard := cmp.Or(head.Shard, labels[ShardLabel])
	delete(labels, ShardLabel)
	name := cmp.Or(head.Scenario, l.Test)
	cell := formatLabels(labels)
	key := name + "\x00" + cell + "\x00" + shard
	if first, ok := s.docs[key]; ok && !s.seen[key] {
		return &DuplicateInputError{First: first, Second: s.name, Scenario: name, Cell: cell, Shard: shard}
	}
	s.docs[key] = s.name
	s.seen[key] = true
	return nil
}

// Done ends the current input. It returns a *DuplicateInputError when an
// earlier input had the same, non-empty, content.
func (s *InputSet) Done() error {
	if s.h == nil || s.n == 0 {
		return nil
	}
	var sum [sha256.Size]byte
	s.h.Sum(sum[:0])
	if first, ok := s.content[sum]; ok {
		return &DuplicateInputError{First: first, Second: s.name}
	}
	s.content[sum] = s.name
	return nil
}
