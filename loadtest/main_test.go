//go:build load

package loadtest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// stampPath is a file every scenario opens and TestMain rewrites after the
// tests ran. go test caches a result only if the files a test opened are
// unchanged, and it checks only files inside the module, refusing to cache
// at all when one is younger than 2 s at the end of the run. This one is
// rewritten as the test binary exits, so a load run is never "(cached)",
// even without -count=1. It lives in the package directory (the tests' working
// directory) and is ignored by git (.gitignore).
const stampPath = ".cxload-run-stamp"

// touchRun opens the stamp, so that go test records it as an input.
func touchRun() {
	if f, err := os.Open(stampPath); err == nil {
		f.Close()
	}
}

func writeStamp() {
	// Several processes (matrix shards) may write it at once: each writes a
	// whole small file, any of them will do.
	_ = os.WriteFile(stampPath, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)+"\n"), 0o644)
}

func TestMain(m *testing.M) {
	writeStamp() // exists before the first test opens it
	before := goleak.IgnoreCurrent()
	code := m.Run()
	writeStamp() // younger than 2 s when go test looks: not cacheable
	if code == 0 {
		if err := goleak.Find(before); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the load tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// shortParallel runs the scenarios side by side under -short (the CI
// smoke run), each on its own simulator; a full run keeps them one after
// the other, so that they do not share the machine while measuring.
func shortParallel(t *testing.T) {
	if testing.Short() {
		t.Parallel()
	}
}
