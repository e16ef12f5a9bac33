package procfs_test

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/cxload/cxload/scripts/lab/internal/procfs"
)

func TestStatusBytes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/<pid>/status is Linux's")
	}
	// A live 1 MiB slice is resident: this process's RSS and its peak are
	// at least that, the peak at least the current figure, and both come
	// the same for "self" and the process's own pid.
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = 1
	}
	rss, hwm := procfs.RSS("self"), procfs.StatusBytes("self", "VmHWM:")
	if rss < 1<<20 || hwm < rss {
		t.Errorf("RSS %d, VmHWM %d: want RSS >= 1 MiB (a resident slice) and VmHWM >= RSS", rss, hwm)
	}
	if own := procfs.StatusBytes(strconv.Itoa(os.Getpid()), "VmHWM:"); own < hwm {
		t.Errorf("VmHWM by pid %d, by self %d: the peak cannot fall", own, hwm)
	}
	runtime.KeepAlive(buf)
	for _, tc := range []struct{ pid, field string }{
		{"self", "NoSuchField:"},
		{"self", "Name:"}, // not a number
		{"0", "VmRSS:"},   // no such process
		{"../x", "VmRSS:"},
	} {
		if got := procfs.StatusBytes(tc.pid, tc.field); got != 0 {
			t.Errorf("StatusBytes(%q, %q) = %d, want 0", tc.pid, tc.field, got)
		}
	}
}
