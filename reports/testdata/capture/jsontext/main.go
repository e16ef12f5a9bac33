// Command jsontext prints the output text of a `go test -json` stream, as
// `go test -v` would have printed it; make-captures.sh uses it to hand the
// same benchmark run to benchstat.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 64<<20)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for sc.Scan() {
		var ev struct{ Action, Output string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Fprintln(os.Stderr, "jsontext:", err)
			os.Exit(1)
		}
		if ev.Action == "output" {
			w.WriteString(ev.Output)
		}
	}
}
