package result_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/internal/resulttest"
)

// testJSON is what go test -json prints for line, output of test name:
// test2json cuts long lines into events of at most 100 bytes here.
func testJSON(t *testing.T, name, line string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(line); i += 100 {
		ev, err := json.Marshal(map[string]string{"Action": "output", "Test": name, "Output": line[i:min(i+100, len(line))]})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(ev)
		b.WriteByte('\n')
	}
	return b.String()
}

// ReadTestOutput joins the output events test2json split and decodes the
// document; a document that does not decode is named in the error, and
// the others are still read.
func TestReadTestOutputJoinsSplitLines(t *testing.T) {
	doc := resulttest.Sample(t)
	doc.Scenario = "TestX"
	data, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	line := "    x_test.go:1: " + result.Prefix + string(data) + "\n"
	in := `{"Action":"start"}` + "\n" + testJSON(t, "TestX", line)
	got, err := result.ReadTestOutput(strings.NewReader(in))
	if err != nil || len(got["TestX"]) != 1 || got["TestX"][0].Scenario != "TestX" || got["TestX"][0].Op("presence.set").Count != 1000 {
		t.Fatalf("ReadTestOutput = %v, %v; want one document of TestX with its 1000 presence.set requests", got, err)
	}

	bad := testJSON(t, "TestBad", "    x_test.go:2: "+result.Prefix+`{"schema":`+"\n")
	got, err = result.ReadTestOutput(strings.NewReader(bad + testJSON(t, "TestX", line)))
	if err == nil || !strings.Contains(err.Error(), "result document of TestBad") {
		t.Errorf("ReadTestOutput with a broken document: error %v, want one naming TestBad", err)
	}
	if len(got["TestX"]) != 1 {
		t.Errorf("ReadTestOutput with a broken document: %d documents of TestX, want 1 (the rest still read)", len(got["TestX"]))
	}
}
