package helperproc_test

import (
	"fmt"
	"io"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/internal/helperproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const envHelper = "CXLOAD_HELPERPROC_TEST"

// TestHelperEcho is TestStart's helper process.
func TestHelperEcho(t *testing.T) {
	if os.Getenv(envHelper) == "" {
		t.Skip("helper process of TestStart")
	}
	fmt.Println("noise before the ready line")
	fmt.Printf("ready pid %d\n", os.Getpid())
	fmt.Println("noise after it")
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// Start returns the rest of the ready line from another process; stop ends
// that process and leaves no goroutine behind (goleak).
func TestStart(t *testing.T) {
	rest, stop := helperproc.Start(t, "TestHelperEcho", envHelper+"=1", "ready ", "")
	stop()
	var pid int
	if _, err := fmt.Sscanf(rest, "pid %d", &pid); err != nil || pid == os.Getpid() || pid <= 0 {
		t.Fatalf("ready line rest %q: want another process's pid (%v)", rest, err)
	}
	if p, err := os.FindProcess(pid); err == nil && p.Signal(nil) == nil {
		t.Errorf("helper %d still runs after stop", pid)
	}
}

// held keeps TestLiveBytes' allocation on the heap and reachable: a local
// slice that does not escape may be placed elsewhere or found dead early.
var held []byte

// LiveBytes counts what a live allocation adds.
func TestLiveBytes(t *testing.T) {
	before, _ := helperproc.LiveBytes()
	held = make([]byte, 4<<20)
	after, _ := helperproc.LiveBytes()
	held = nil
	// Other objects may be freed meanwhile (a few bytes under -race), so
	// the bound is most of the 4 MiB, not all of it.
	if after-before < 4<<20-64<<10 {
		t.Errorf("live bytes grew by %d with 4 MiB held; want about that", after-before)
	}
}
