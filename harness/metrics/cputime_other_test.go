//go:build !unix

package metrics_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
