package testjson_test

import (
	"fmt"
	"strings"

	"github.com/cxload/cxload/reports/testjson"
)

func ExampleReader() {
	// go test -json output: a line cut in two pieces, a benchmark
	// sample without a Test field, and a line that is not JSON.
	input := `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: hel"}
{"Action":"output","Package":"p","Test":"TestA","Output":"lo\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.01}
{"Action":"output","Package":"p","Output":"BenchmarkX-2 \t 1000 \t 1234 ns/op\n"}
not json
{"Action":"pass","Package":"p","Elapsed":0.5}
`
	r := testjson.NewReader(strings.NewReader(input), "example.json")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *testjson.Line:
			fmt.Printf("line %q\n", rec.Text)
		case *testjson.Event:
			fmt.Printf("%s %q\n", rec.Action, rec.Test)
		case *testjson.Benchmark:
			v := rec.Result.Values[0]
			fmt.Printf("benchmark %s: %.4g %s\n", rec.Result.Name, v.Value, v.Unit)
		case *testjson.SyntaxError:
			fmt.Println("error:", rec)
		}
	}
	if err := r.Err(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// run "TestA"
	// line "    a_test.go:9: hello"
	// pass "TestA"
	// line "BenchmarkX-2 \t 1000 \t 1234 ns/op"
	// line "not json"
	// pass ""
	// benchmark X-2: 1.234e-06 sec/op
}
