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
