package reports_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/cxload/cxload/reports"
)

func ExampleReadRun() {
	input := `{"Time":"2026-11-20T10:00:00Z","Action":"run","Package":"p","Test":"TestOK"}
{"Time":"2026-11-20T10:00:01Z","Action":"pass","Package":"p","Test":"TestOK","Elapsed":1}
{"Time":"2026-11-20T10:00:01Z","Action":"run","Package":"p","Test":"TestBad"}
{"Time":"2026-11-20T10:00:01Z","Action":"output","Package":"p","Test":"TestBad","Output":"    bad_test.go:12: got 3, want 4\n"}
{"Time":"2026-11-20T10:00:02Z","Action":"fail","Package":"p","Test":"TestBad","Elapsed":1}
{"Time":"2026-11-20T10:00:02Z","Action":"fail","Package":"p","Elapsed":2}
`
	run, err := reports.ReadRun(reports.Env{Commit: "abc123"}, reports.NamedReader{Name: "run.json", R: strings.NewReader(input)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("id:", run.ID)
	for _, t := range run.Tests {
		fmt.Printf("%s: %s %q\n", t.Name, t.Verdict, t.Reason)
	}
	fmt.Println("failed:", run.Failed())
	// Output:
	// id: 20261120T100000.000Z-abc123
	// TestOK: pass ""
	// TestBad: fail "got 3, want 4"
	// failed: true
}

func ExampleCompare() {
	bench := func(id string, ns ...float64) *reports.Run {
		return &reports.Run{ID: id, Benchmarks: []reports.Benchmark{{Name: "Parse-8", Unit: "sec/op", Values: ns}}}
	}
	old := bench("old", 100e-9, 101e-9, 99e-9, 100e-9, 102e-9, 98e-9)
	cur := bench("new", 120e-9, 121e-9, 119e-9, 122e-9, 118e-9, 120e-9)
	c := reports.Compare([]*reports.Run{old}, cur, reports.CompareOptions{})
	for _, d := range c.Benchmarks {
		fmt.Println(d.Name, d.Unit, d.Delta, d.Stat, d.Verdict)
	}
	c.Text(os.Stdout)
	// Output:
	// Parse-8 sec/op +20.00% p=0.002 n=6 worse
	// baseline: run old; new: run new; alpha=0.05
	//
	// benchmark  unit    old         new         delta    p, n         verdict
	// Parse-8    sec/op  100.0n ±2%  120.0n ±2%  +20.00%  p=0.002 n=6  worse
}

func ExampleHistory() {
	dir, _ := os.MkdirTemp("", "history")
	defer os.RemoveAll(dir)
	h, _ := reports.OpenHistory(dir + "/history.jsonl")
	for _, id := range []string{"a", "b", "a"} { // "a" twice: deduplicated
		run := &reports.Run{ID: id, Tests: []reports.Test{{Name: "TestA", Verdict: reports.Pass}}}
		if err := h.Append(run); err != nil {
			fmt.Println(err)
		}
	}
	runs, problems, _ := h.Load()
	for _, r := range runs {
		fmt.Println(r.ID)
	}
	fmt.Println("problems:", len(problems))
	// Output:
	// b
	// a
	// problems: 0
}
