// Package helperproc runs a test binary again as a helper process, for
// benchmarks that must keep the other side of a connection (a server, a
// simulator, thousands of clients) out of the process they measure.
//
// The helper is a test of the same binary that skips unless its
// environment variable is set, prints one line saying it is ready, and
// works until its stdin closes:
//
//	func TestHelperServer(t *testing.T) {
//		if os.Getenv("MY_HELPER") == "" {
//			t.Skip("helper process of BenchmarkX")
//		}
//		// ... listen ...
//		fmt.Printf("addr %s\n", ln.Addr())
//		io.Copy(io.Discard, os.Stdin)
//	}
//
//	addr, stop := helperproc.Start(b, "TestHelperServer", "MY_HELPER=1", "addr ", "")
//	defer stop()
package helperproc

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Start runs this test binary with -test.run=^test$ and env added to the
// environment, and waits for the first line of its standard output that
// starts with ready; it returns the rest of that line. A line starting with
// "error:" before it fails tb with that line and hint. The helper's
// standard error is this process's. stop closes the helper's stdin and
// waits for it to exit (killing it after 10 s); call it once.
func Start(tb testing.TB, test, env, ready, hint string) (rest string, stop func()) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("helperproc: starting %s: %v", test, err)
	}
	drained := make(chan struct{})
	stop = func() {
		stdin.Close()
		exited := make(chan struct{})
		go func() {
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
			}
		}()
		<-drained // Wait must come after the reads from stdout
		_ = cmd.Wait()
		close(exited)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if r, ok := strings.CutPrefix(line, ready); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout); close(drained) }()
			return r, stop
		}
		if strings.HasPrefix(line, "error:") {
			close(drained)
			stop()
			tb.Fatalf("helper process %s: %s %s", test, line, hint)
		}
	}
	close(drained)
	stop()
	tb.Fatalf("helper process %s ended before printing %q: %v %s", test, ready, sc.Err(), hint)
	return "", nil
}

// LiveBytes collects garbage twice and returns the live heap plus
// goroutine stacks, and the stacks alone: what a population of idle
// objects costs, measured before and after making it.
func LiveBytes() (total, stacks int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse), int64(ms.StackInuse)
}
