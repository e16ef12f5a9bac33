// Package panicky is a throwaway package for the failure captures.
package panicky

import "testing"

func TestFine(t *testing.T) {}

func TestFails(t *testing.T) {
	t.Log("about to fail")
	t.Errorf("got 3 answers, want 4")
}

func TestPanics(t *testing.T) {
	var m map[string]int
	m["boom"] = 1
}
