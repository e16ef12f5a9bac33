package result

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ReadTestOutput reads the result documents in a go test -json stream (one
// test2json event a line), by scenario. It joins each test's output events
// up to the newline, since test2json splits a long line over several
// events. A document that does not decode is named in the error and the
// rest are still read; only a read error stops it.
func ReadTestOutput(r io.Reader) (map[string][]*Document, error) {
	out := map[string][]*Document{}
	pending := map[string]*strings.Builder{}
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var ev struct {
			Action, Test, Output string
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Action != "output" {
			continue
		}
		b := pending[ev.Test]
		if b == nil {
			b = &strings.Builder{}
			pending[ev.Test] = b
		}
		b.WriteString(ev.Output)
		if !strings.HasSuffix(ev.Output, "\n") {
			continue
		}
		line := b.String()
		b.Reset()
		i := strings.Index(line, Prefix)
		if i < 0 {
			continue
		}
		doc, err := Decode([]byte(strings.TrimSpace(line[i+len(Prefix):])))
		if err != nil {
			errs = append(errs, fmt.Errorf("result document of %s: %w", ev.Test, err))
			continue
		}
		out[doc.Scenario] = append(out[doc.Scenario], doc)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}
