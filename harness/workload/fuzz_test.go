package workload_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/workload"
)

// FuzzParseStages: any stages value (compact or k6 JSON) either parses into
// stages with durations ≥ 0 and finite targets ≥ 0, which written back in
// both forms parse to the same stages, or gives an error that starts with
// "workload: stages" and names the stage or what was expected.
func FuzzParseStages(f *testing.F) {
	for _, s := range []string{
		"10s:50,30s:50,5s:0", "1m30s:0.5", " 0s : 7 ", `[{"duration":"10s","target":50},{"duration":"30s","target":0}]`,
		"", "10s", "10s:-1", "x:1", "10s:NaN", "10s:1e309", "-1s:1", `[{"duration":10,"target":1}]`, `[{"duration":"1s"}]`,
		`[{"duration":"1s","target":1,"extra":0}]`, `[`, "1h:1,", "9223372036854775807ns:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		stages, err := workload.ParseStages(s)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "workload: stages") || !strings.Contains(msg, "want") {
				t.Fatalf("ParseStages(%q) error %q: want it to start with \"workload: stages\" and say what is wanted", s, msg)
			}
			return
		}
		type jsonStage struct {
			Duration string  `json:"duration"`
			Target   float64 `json:"target"`
		}
		items := make([]string, len(stages))
		js := make([]jsonStage, len(stages))
		for i, st := range stages {
			if st.Duration < 0 || st.Target < 0 || math.IsNaN(st.Target) || math.IsInf(st.Target, 0) {
				t.Fatalf("ParseStages(%q) stage %d = %+v: negative or not finite", s, i, st)
			}
			items[i] = st.String()
			js[i] = jsonStage{Duration: st.Duration.String(), Target: st.Target}
		}
		if len(stages) == 0 {
			return // "[]": nothing to write back in the compact form
		}
		compact := strings.Join(items, ",")
		if back, err := workload.ParseStages(compact); err != nil || !reflect.DeepEqual(back, stages) {
			t.Fatalf("ParseStages(%q) = %v; written back %q -> %v, %v", s, stages, compact, back, err)
		}
		data, err := json.Marshal(js)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := workload.ParseStages(string(data)); err != nil || !reflect.DeepEqual(back, stages) {
			t.Fatalf("ParseStages(%q) = %v; written back as JSON %s -> %v, %v", s, stages, data, back, err)
		}
	})
}
