package reports

import (
	"encoding/json"
	"io"
)

// reportJSON is the JSON form of a Report.
type reportJSON struct {
	Schema     string      `json:"schema"`
	Verdict    string      `json:"verdict"` // pass, fail, regressed
	Run        *Run        `json:"run"`
	Summaries  []Summary   `json:"summaries,omitempty"`
	Comparison *Comparison `json:"comparison,omitempty"`
}

// JSONSchema names the schema of Report.JSON.
const JSONSchema = "cxload.report/v1"

// Verdict returns "fail" when a test or build failed, "regressed" when the
// comparison found regressions, and "pass" otherwise.
func (r *Report) Verdict() string {
	switch {
	case r.Run.Failed():
		return Fail
	case r.Comparison != nil && r.Comparison.Regressions() > 0:
		return "regressed"
	}
	return Pass
}

// JSON writes the run, its scenario headlines and the comparison as one
// indented JSON object (schema JSONSchema), for other tools.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reportJSON{Schema: JSONSchema, Verdict: r.Verdict(), Run: r.Run, Summaries: r.summaries, Comparison: r.Comparison})
}

// JSON writes the comparison as indented JSON.
func (c *Comparison) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
