package result_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/result"
)

// ParseThreshold never panics; what it accepts evaluates without panicking
// and says what it measured.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{
		"p99(presence.set) < 800ms", "rate(429) < 1%", "count(transport errors) == 0", "rps(op) >= 100",
		"max_heartbeat_gap < 45s", "p99.9(a, ok, total) <= 1s", "rejected(k, server) == 0", "rate(errors, a) < 0.5",
		"p(99) < 1", "((", "<", "p99() < 1s", "count(requests,) == 1",
	} {
		f.Add(s)
	}
	doc := sample(f)
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := result.ParseThreshold(expr)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "result: threshold ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			return
		}
		r := th.Eval(doc)
		if r.Detail == "" || r.Value == "" {
			t.Errorf("Eval(%q) = %+v: empty detail or value", expr, r)
		}
	})
}

// DecodeDocument never panics on bad input.
func FuzzDecodeDocument(f *testing.F) {
	b, err := sample(f).Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"schema":"cxload.result/v1","operations":[{"op":"a","latency":{"data":"HISTFAAAAB"}}]}`))
	f.Add([]byte(`{"schema":"cxload.result/v1","series":{"intervalMs":-1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := result.Decode(data)
		if err != nil {
			return
		}
		_ = result.Summarize(doc)
		_ = doc.Merge(doc)
	})
}
