// Command report turns `go test -json` output into reports.
//
//	go test -tags load -count=1 -json ./loadtest | go run ./scripts/report
//	go run ./scripts/report [flags] FILE...
//	go run ./scripts/report compare [-format text|json] OLD NEW
//
// It prints a Markdown summary to stdout (and to -summary PATH, such as
// $GITHUB_STEP_SUMMARY), shows live progress on stderr while reading
// standard input, and can write a self-contained HTML report, a
// JSON report, and append the run to a history for trends and comparisons.
// Run it with -h for the flags.
//
// Exit status: 0 when all is well; 1 when tests failed (or, with
// -fail-on regressions, when the comparison found regressions) or the
// input could not be read; 2 for a bad command line.
package main

import (
	"context"
	"os"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}
