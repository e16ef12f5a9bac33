// Package procfs reads the memory figures of a process from Linux's
// /proc/<pid>/status, for the scripts that report a loader's or a
// simulator's memory (the lab's peers and soak).
package procfs

import (
	"os"
	"strconv"
	"strings"
)

// StatusBytes returns a kB field of /proc/<pid>/status ("VmRSS:",
// "VmHWM:", ...; pid "self" for this process) in bytes; 0 where there is no
// such process, field or /proc.
func StatusBytes(pid, field string) uint64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(v); len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// RSS returns the resident set size (VmRSS) of process pid in bytes, 0
// where there is none.
func RSS(pid string) uint64 { return StatusBytes(pid, "VmRSS:") }
