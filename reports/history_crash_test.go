package reports_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cxload/cxload/reports"
)

// envCrashChild makes the test binary run TestHistoryCrashChild: a writer
// process that appends to the history named by the variable until killed.
const envCrashChild = "CXLOAD_HISTORY_CRASH_CHILD"

// TestHistoryCrashChild is the writer process of TestHistoryKilledWriter;
// it is skipped in a normal run. It appends runs "<prefix>-<i>" (each large
// enough that a write takes a while) and prints "appended <id>" after each
// Append returned, so the parent knows which runs were acknowledged.
func TestHistoryCrashChild(t *testing.T) {
	spec := os.Getenv(envCrashChild)
	if spec == "" {
		t.Skip("helper process of TestHistoryKilledWriter")
	}
	path, prefix, _ := strings.Cut(spec, "|")
	h, err := reports.OpenHistory(path)
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	deadline := time.Now().Add(time.Minute) // bounded even if nobody kills it
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if err := h.Append(bigRun(id, i)); err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(3)
		}
		fmt.Printf("appended %s\n", id)
	}
	os.Exit(0)
}

// bigRun is a run whose JSON is about 40 KB, so that rewriting a history of
// a few dozen of them takes long enough to be killed in the middle.
func bigRun(id string, day int) *reports.Run {
	r := mkRun(id, day, "")
	vals := make([]float64, 2000)
	for i := range vals {
		vals[i] = float64(i) * 1.000001
	}
	r.Benchmarks = []reports.Benchmark{{Package: "p", Name: "Big-2", Unit: "sec/op", Values: vals}}
	return r
}

// writer is a running child writer process.
type writer struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	acked []string
	errs  []string
	done  chan struct{}
}

func startWriter(t *testing.T, path, prefix string) *writer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHistoryCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashChild+"="+path+"|"+prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &writer{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			if id, ok := strings.CutPrefix(line, "appended "); ok {
				w.acked = append(w.acked, id)
			} else if e, ok := strings.CutPrefix(line, "error "); ok {
				w.errs = append(w.errs, e)
			}
			w.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	return w
}

// count returns how many appends the writer acknowledged so far.
func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitAcked waits until the writer acknowledged n appends (or 30 s).
func (w *writer) waitAcked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		got, errs := len(w.acked), w.errs
		w.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("writer failed: %v", errs)
		}
		if got >= n {
			return
		}
		select {
		case <-w.done:
			t.Fatalf("writer exited after %d appends, before %d", got, n)
		case <-time.After(time.Millisecond):
		}
	}
	t.Fatalf("writer acknowledged fewer than %d appends in 30s", n)
}

// kill SIGKILLs the writer and returns the runs it acknowledged.
func (w *writer) kill(t *testing.T) []string {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.cmd.Wait()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

// TestHistoryKilledWriter kills writer processes in the middle of appending
// (SIGKILL: no deferred cleanup, the lock released by the kernel), while
// another writer process appends to the same history, and checks after each
// kill that the history is readable (no problem lines), complete (every
// acknowledged run is there) and holds nothing else than acknowledged runs
// plus at most the one each killed writer had in flight; and that a new
// writer can still append (the lock died with the process).
func TestHistoryKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts writer processes")
	}
	for mode, path := range historyPaths(t) {
		t.Run(mode, func(t *testing.T) {
			acked := map[string]bool{}
			inFlight := map[string]bool{}
			const kills = 4
			var survivor *writer
			defer func() {
				if survivor != nil && survivor.cmd.ProcessState == nil {
					survivor.kill(t)
				}
			}()
			victims := 0
			kill := func(name string, min int) (interrupted bool) {
				victim := startWriter(t, path, name)
				victim.waitAcked(t, min)
				before := len(tempFiles(path))
				waitWriting(path, 5*time.Second)
				got := victim.kill(t)
				victims++
				for _, id := range got {
					acked[id] = true
				}
				inFlight[fmt.Sprintf("%s-%d", name, len(got))] = true
				checkHistory(t, path, acked, inFlight, survivor)
				return len(tempFiles(path)) > before // its temporary file stayed: killed inside a write
			}
			for k := range kills {
				if k == kills/2 {
					// From now on another writer appends at the same time.
					survivor = startWriter(t, path, "steady")
				}
				if survivor != nil {
					kill(fmt.Sprintf("victim%d", k), 3+k) // inside one of the two writers' writes, or between
					continue
				}
				// Alone, the writer is killed while its temporary file exists;
				// a small write may still finish first, so retry with a new
				// writer until a kill lands inside one (a temporary file stays).
				for try := 0; ; try++ {
					if kill(fmt.Sprintf("victim%d.%d", k, try), 3+k) {
						break
					}
					if try == 20 {
						t.Fatalf("kill %d: 20 writers killed, none inside a write", k)
					}
				}
			}
			survivor.waitAcked(t, survivor.count()+2) // it goes on after the kills
			for _, id := range survivor.kill(t) {
				acked[id] = true
			}
			inFlight[fmt.Sprintf("steady-%d", survivor.count())] = true
			checkHistory(t, path, acked, inFlight, nil)

			// The lock is free: a new writer appends.
			h, err := reports.OpenHistory(path)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- h.Append(mkRun("after", 99, "")) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Append after the kills: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Append after the kills waited 30s: a killed writer's lock is still held")
			}
			acked["after"] = true
			checkHistory(t, path, acked, inFlight, nil)
			// The writes the kills interrupted left temporary files; the
			// writer after them removed them all.
			if left := tempFiles(path); len(left) > 0 {
				t.Errorf("temporary files of killed writers left after the next append: %v", left)
			}
			t.Logf("%s: %d runs acknowledged, %d writers killed", mode, len(acked), victims+1)
		})
	}
}

// tempFiles returns the temporary files of atomic writes next to (or in) the
// history at path.
func tempFiles(path string) []string {
	dir := filepath.Dir(filepath.Clean(path))
	if strings.HasSuffix(path, "/") {
		dir = filepath.Clean(path)
	}
	names, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	return names
}

// waitWriting waits, at most d, until some writer is in the middle of a
// write (a new temporary file exists), so that a kill lands inside it, and
// reports whether one did.
func waitWriting(path string, d time.Duration) bool {
	before := len(tempFiles(path))
	for end := time.Now().Add(d); time.Now().Before(end); {
		if len(tempFiles(path)) > before {
			return true
		}
		time.Sleep(50 * time.Microsecond)
	}
	return false
}

// checkHistory loads the history and checks it against what writers
// acknowledged. A live writer's acknowledgements may come after the load:
// its runs are only required up to what it had acknowledged before.
func checkHistory(t *testing.T, path string, acked, inFlight map[string]bool, live *writer) {
	t.Helper()
	var liveBefore []string
	if live != nil {
		live.mu.Lock()
		liveBefore = append(liveBefore, live.acked...)
		live.mu.Unlock()
	}
	h, err := reports.OpenHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	runs, probs, err := h.Load()
	if err != nil {
		t.Fatalf("Load after a kill: %v", err)
	}
	if len(probs) > 0 {
		t.Fatalf("history %s unreadable after a kill: %v", path, probs)
	}
	have := map[string]int{}
	for _, r := range runs {
		have[r.ID]++
		if len(r.Benchmarks) > 0 && len(r.Benchmarks[0].Values) != 2000 {
			t.Errorf("run %s has %d benchmark values, want 2000: a partial entry", r.ID, len(r.Benchmarks[0].Values))
		}
	}
	for id, n := range have {
		if n > 1 {
			t.Errorf("run %s is in the history %d times", id, n)
		}
		if !acked[id] && !inFlight[id] && !strings.HasPrefix(id, "steady-") {
			t.Errorf("run %s is in the history but no writer acknowledged it nor had it in flight", id)
		}
	}
	for id := range acked {
		if have[id] == 0 {
			t.Errorf("acknowledged run %s is missing from the history", id)
		}
	}
	for _, id := range liveBefore {
		if have[id] == 0 {
			t.Errorf("run %s, acknowledged by the live writer, is missing", id)
		}
	}
}
