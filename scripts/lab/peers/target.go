package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// targetProc is a server (the target, or the simulator) running in a
// child process.
type targetProc struct {
	url      string
	pid      int
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	done     chan error
	stopWait time.Duration // how long stop waits before it kills; 0 = 10 s
	stopOnce sync.Once
}

// startTarget starts the target child pinned to its CPU and waits for
// the URL it prints.
func (o *options) startTarget(ctx context.Context) (*targetProc, error) {
	// The target outlives every loader; bound it by all of them.
	timeout := time.Duration(o.runs*(len(allLoaders)+len(pacedLoaders))+1) * o.loaderTimeout()
	args := []string{childCmd, "target", o.targetKind}
	if o.pprof != "" {
		args = append(args, o.pprof+"/target-"+o.targetKind)
	}
	return o.startServer(ctx, timeout, "the target", args...)
}

// startServer starts a server child (args after the executable) pinned to
// the target CPU, killed after timeout, and waits for the URL it prints
// first; what names it in errors.
func (o *options) startServer(ctx context.Context, timeout time.Duration, what string, args ...string) (*targetProc, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	cmd := o.command(ctx, o.cpus[1], o.self, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("peers: %s: %w", what, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("peers: %s: %w", what, err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("peers: starting %s: %w", what, err)
	}
	t := &targetProc{pid: cmd.Process.Pid, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	first := make(chan string, 1)
	go func() {
		// Read the first line, then drain so the child never blocks on
		// a full pipe; Wait must come after the reads are done.
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		first <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, br)
		t.done <- cmd.Wait()
		cancel()
	}()
	select {
	case line := <-first:
		u, err := url.Parse(line)
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
			t.stop()
			return nil, fmt.Errorf("peers: %s printed %q instead of its http://127.0.0.1 URL; its stderr: %s", what, line, stderr.String())
		}
		t.url = line
		return t, nil
	case <-time.After(30 * time.Second):
		t.stop()
		return nil, fmt.Errorf("peers: %s did not print its URL within 30s; its stderr: %s", what, stderr.String())
	}
}

// stop closes the server's stdin, which makes it shut down, and waits for
// it; after stopWait (default 10 s) it is killed. Calls after the first
// do nothing.
func (t *targetProc) stop() {
	t.stopOnce.Do(func() {
		_ = t.stdin.Close()
		wait := t.stopWait
		if wait <= 0 {
			wait = 10 * time.Second
		}
		select {
		case <-t.done:
		case <-time.After(wait):
			_ = t.cmd.Process.Kill()
			<-t.done
		}
	})
}
