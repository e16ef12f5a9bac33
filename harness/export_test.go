package harness

import "time"

// SetExit replaces what ends the process after a signal's restore, for a
// helper process that checks the target before it exits.
func SetExit(f func(code int)) { exit = f }

// SetSignalGrace shortens how long a signal's restore waits for Close.
func SetSignalGrace(d time.Duration) { signalGrace = d }
