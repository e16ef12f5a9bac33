//go:build !race

package main

// raceEnabled says the race detector is on: it allocates, so allocation
// counts are not checked.
const raceEnabled = false
