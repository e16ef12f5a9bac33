//go:build load

package loadtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// stampPath is a file every scenario opens and TestMain rewrites after the
// tests ran. go test caches a result only if the files a test opened are
// unchanged and not younger than 2 s when the test binary exits; this one
// is always brand new then, so a load run is never "(cached)", even without
// -count=1.
var stampPath = filepath.Join(os.TempDir(), "cxload-loadtest.stamp")

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
