package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

func TestEmitWritesOneLine(t *testing.T) {
	doc := sample(t)
	ft := &fakeTB{}
	metrics.Emit(ft, doc)
	if len(ft.logs) != 1 || len(ft.errors) != 0 {
		t.Fatalf("Emit logged %d lines and %d errors, want 1 and 0", len(ft.logs), len(ft.errors))
	}
	line := ft.logs[0]
	if !strings.HasPrefix(line, result.Prefix) || strings.Contains(line, "\n") {
		t.Fatalf("line = %.80q..., want one line starting %q", line, result.Prefix)
	}
	got, err := result.Decode([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if got.Op("presence.set").Count != 1000 {
		t.Errorf("decoded count = %d", got.Op("presence.set").Count)
	}
}

// The line survives go test -json: test2json cuts it into pieces, and a reader
// that joins a test's output events until the newline gets the document back.
func TestEmitSurvivesTest2JSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool test2json")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	doc := sample(t)
	ft := &fakeTB{}
	metrics.Emit(ft, doc)
	if len(ft.logs[0]) < 2048 {
		t.Fatalf("document is only %d bytes; the test needs one long enough to be split", len(ft.logs[0]))
	}
	// What go test -v prints for a test that logs the line.
	var in bytes.Buffer
	in.WriteString("=== RUN   TestScenario\n")
	in.WriteString("    scenario_test.go:42: " + ft.logs[0] + "\n")
	in.WriteString("--- PASS: TestScenario (1.00s)\nPASS\n")
	cmd := exec.Command(goTool, "tool", "test2json")
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool test2json: %v", err)
	}
	pieces, joined := 0, ""
	var line strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct{ Action, Test, Output string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Action != "output" || ev.Test != "TestScenario" {
			continue
		}
		line.WriteString(ev.Output)
		if strings.Contains(line.String(), result.Prefix) {
			pieces++
		}
		if strings.HasSuffix(ev.Output, "\n") {
			if s := line.String(); strings.Contains(s, result.Prefix) {
				joined = s
			}
			line.Reset()
		}
	}
	if pieces < 2 {
		t.Errorf("test2json gave the line in %d piece(s); expected it to be split (is the 1 KiB limit gone?)", pieces)
	}
	got, err := result.Decode([]byte(joined))
	if err != nil {
		t.Fatalf("decode joined output: %v", err)
	}
	if got.All().Count != doc.All().Count {
		t.Errorf("joined document count = %d, want %d", got.All().Count, doc.All().Count)
	}
}

func TestProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := metrics.NewRecorder()
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var lines []string
		logf := func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
		}
		agents := 100
		var wg sync.WaitGroup
		wg.Go(func() { rec.Progress(ctx, 5*time.Second, logf, func() int { return agents }) })
		synctest.Wait() // Progress has taken its baseline

		for i := 0; i < 4000; i++ { // 800 req/s over the first 5 s
			st := 200
			if i%100 == 0 {
				st = 429
			}
			rec.Record(&metrics.Result{Op: "a", Status: st, Outcome: result.OutcomeFor(st), Latency: 45 * time.Millisecond, Start: time.Now()})
		}
		rec.Record(&metrics.Result{Op: "a", Status: 503, Outcome: result.ServerError, Latency: time.Millisecond, Start: time.Now()})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		time.Sleep(5 * time.Second) // a quiet interval
		synctest.Wait()
		cancel()
		wg.Wait()

		want := []string{
			"cxload-progress: elapsed=5s agents=100 rps=800 429s=40 errors=1 p99=45ms",
			"cxload-progress: elapsed=10s agents=100 rps=0 429s=40 errors=1 p99=45ms",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("progress lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestProgressNilAgents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := metrics.NewRecorder()
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
		defer cancel()
		var lines []string
		rec.Progress(ctx, 0, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }, nil)
		// default interval 5s: two lines in 12s
		if len(lines) != 2 || !strings.Contains(lines[0], "agents=- rps=0") || !strings.Contains(lines[0], "p99=0s") {
			t.Errorf("lines = %q", lines)
		}
	})
}
