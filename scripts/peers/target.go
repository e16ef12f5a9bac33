package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// targetProc is the target server running in a child process.
type targetProc struct {
	url   string
	pid   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// startTarget starts the target child pinned to its CPU and waits for
// the URL it prints.
func (o *options) startTarget(ctx context.Context) (*targetProc, error) {
	// The target outlives every loader; bound it by all of them.
	timeout := time.Duration(o.runs*(len(allLoaders)+len(pacedLoaders))+1) * o.loaderTimeout()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	cmd := o.command(ctx, o.cpus[1], o.self, childCmd, "target", o.targetKind)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("peers: target: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("peers: target: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("peers: starting the target: %w", err)
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
			return nil, fmt.Errorf("peers: target printed %q instead of its http://127.0.0.1 URL; its stderr: %s", line, stderr.String())
		}
		t.url = line
		return t, nil
	case <-time.After(30 * time.Second):
		t.stop()
		return nil, fmt.Errorf("peers: the target did not print its URL within 30s; its stderr: %s", stderr.String())
	}
}

// stop closes the target's stdin, which makes it shut down, and waits for
// it; after 10 s it is killed.
func (t *targetProc) stop() {
	_ = t.stdin.Close()
	select {
	case <-t.done:
	case <-time.After(10 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
}
