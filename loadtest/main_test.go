//go:build load

package loadtest

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness"
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

// changeUsers are the scenarios that act on users: on a tenant they need
// CXLOAD_USERS. Every benchmark does too. Discovery only reads.
var changeUsers = []string{"TestRecordingBurst", "TestNotificationStability", "TestAgentShift"}

// usersRefusal refuses, before any test runs and so before any request, a
// tenant run that selects a scenario acting on users when CXLOAD_USERS is
// unset, naming it; without it each such scenario would refuse in turn
// while discovery, first in the package, had already spent budget. The
// -run pattern is matched as go test matches a top-level name (its part
// before the first slash).
func usersRefusal() error {
	err := harness.UsersRequired(os.Getenv)
	if err == nil {
		return nil
	}
	var picked []string
	if f := flag.Lookup("test.run"); f != nil {
		pat, _, _ := strings.Cut(f.Value.String(), "/")
		re, rerr := regexp.Compile(pat)
		for _, name := range changeUsers {
			if rerr != nil || re.MatchString(name) {
				picked = append(picked, name)
			}
		}
	}
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		picked = append(picked, "the benchmarks (-bench)")
	}
	if len(picked) == 0 {
		return nil
	}
	return fmt.Errorf("%w\n  (this run includes %s, which act on users; to run only discovery, which reads: go test -tags load -count=1 -run '^TestRateLimitDiscovery$' ./loadtest)",
		err, strings.Join(picked, ", "))
}

func TestMain(m *testing.M) {
	flag.Parse()
	if err := usersRefusal(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
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
