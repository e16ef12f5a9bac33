package testjson_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/cxload/cxload/reports/testjson"
)

// BenchmarkReader measures reading speed on the real captures (scenario
// documents, benchmarks, failures) repeated to about 4 MB. b.SetBytes makes
// the result read in MB/s.
func BenchmarkReader(b *testing.B) {
	var one []byte
	for _, f := range []string{"../testdata/scenario-old.json", "../testdata/bench-old.json", "../testdata/failures.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, data...)
		if !bytes.HasSuffix(one, []byte("\n")) {
			one = append(one, '\n')
		}
	}
	input := bytes.Repeat(one, 4<<20/len(one)+1)
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		r := testjson.NewReader(bytes.NewReader(input), "bench")
		n := 0
		for r.Scan() {
			n++
		}
		if r.Err() != nil || n == 0 {
			b.Fatal(r.Err(), n)
		}
	}
}
