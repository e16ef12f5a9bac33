// Package broken does not compile, on purpose: it makes the build failure in
// the failure capture.
package broken

import "testing"

func TestNeverRuns(t *testing.T) { notDefined() }
