package main

// What the run knows about the machine: its CPUs and load, and the CPU time
// of processes and CPUs, all from /proc (Linux).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where a run happened.
type machine struct {
	Date string `json:"date"`
	CPUs int    `json:"cpus"`
	CPU  string `json:"cpu"`
	Go   string `json:"go"`
	// Load averages (1, 5, 15 min) from /proc/loadavg before and after the
	// run: above the number of CPUs, other processes competed for them.
	LoadBefore string `json:"loadBefore,omitempty"`
	LoadAfter  string `json:"loadAfter,omitempty"`
}

// thisMachine describes this machine now.
func thisMachine() machine {
	return machine{
		Date:       time.Now().UTC().Format(time.RFC3339),
		CPUs:       runtime.NumCPU(),
		CPU:        cpuModel(),
		Go:         runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		LoadBefore: loadAvg(),
	}
}

// disturbed is the share of a CPU that other processes may take on the
// pinned CPUs during a run before the output warns.
const disturbed = 0.05

// busyLoad is the 1-minute load average from which the machine counts as
// busy before a run: a whole CPU's worth of other work.
const busyLoad = 1.0

// busy reports whether the first load average in loads is at least busyLoad.
func busy(loads string) bool {
	f := strings.Fields(loads)
	if len(f) == 0 {
		return false
	}
	x, err := strconv.ParseFloat(f[0], 64)
	return err == nil && x >= busyLoad
}

// procCPU returns the user+system CPU time of process pid so far, from
// /proc/<pid>/stat (in clock ticks of 10 ms, the Linux USER_HZ).
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(data)
}

// parseProcStatCPU reads utime and stime, fields 14 and 15 of a
// /proc/<pid>/stat line; the command name (field 2) may hold spaces and
// parentheses, so fields are counted after its closing parenthesis.
func parseProcStatCPU(stat []byte) (time.Duration, error) {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("peers: /proc stat %q: no command name", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("peers: /proc stat %q: too few fields", s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("peers: /proc stat %q: utime/stime are not numbers", s)
	}
	const tick = 10 * time.Millisecond // USER_HZ = 100 on Linux
	return time.Duration(utime+stime) * tick, nil
}

// allowedCPUs returns the CPUs this process may run on, from the
// Cpus_allowed_list of /proc/self/status, or nil.
func allowedCPUs() []int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return parseCPUList(strings.TrimSpace(v))
		}
	}
	return nil
}

// parseCPUList parses a Linux CPU list such as "0-3,8,10-11", or returns
// nil when it is malformed.
func parseCPUList(s string) []int {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil
			}
		}
		for c := a; c <= b && len(cpus) < 4096; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// loadAvg returns the three load averages of /proc/loadavg, or "".
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "unknown".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	return parseCPUModel(data)
}

// parseCPUModel returns the first "model name" of a /proc/cpuinfo text.
func parseCPUModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// cpuBusy returns the busy time of each CPU so far (all but idle and
// iowait, steal included), from /proc/stat.
func cpuBusy() (map[int]time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	return parseCPUBusy(data)
}

// parseCPUBusy reads the "cpuN user nice system idle iowait irq softirq
// steal ..." lines of /proc/stat, in ticks of 10 ms.
func parseCPUBusy(stat []byte) (map[int]time.Duration, error) {
	const tick = 10 * time.Millisecond // USER_HZ = 100 on Linux
	busy := map[int]time.Duration{}
	for line := range strings.Lines(string(stat)) {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		var total int64
		for i, v := range f[1:9] {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("peers: /proc/stat: %s: field %d %q is not a number", f[0], i+1, v)
			}
			if i != 3 && i != 4 { // idle, iowait
				total += x
			}
		}
		busy[n] = time.Duration(total) * tick
	}
	if len(busy) == 0 {
		return nil, errors.New("peers: /proc/stat: no cpuN lines")
	}
	return busy, nil
}
