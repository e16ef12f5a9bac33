package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// childCmd is the hidden first argument that makes the binary run as one of
// its own child processes: the target server or an in-process loader. The
// parent re-executes itself (os.Executable) so that every loader, in-process
// or not, is a separate process pinned the same way and measured by the
// same rusage.
const childCmd = "__peers-child"

// targetBody is the target's answer: 82 bytes of JSON, the size of a small
// Platform API entity.
const targetBody = `{"id":"3f2c6a1e-8b7d-4c2a-9e1f-5d6b7a8c9d0e","name":"Agent 1","state":"available"}`

// targetHandler answers every request with targetBody.
func targetHandler() http.Handler {
	body := []byte(targetBody)
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
}

// runChild runs a child: "target <kind> [pprof prefix]" serves on
// 127.0.0.1 until its stdin closes, printing its URL as the first line of
// stdout; "load" runs one loader and prints a loadReport as JSON; "gcsim"
// serves the simulator like "target"; "population" runs a population
// against it and prints a popLoad as JSON.
func runChild(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("peers: child: missing kind (want target, load, gcsim or population)")
	}
	switch args[0] {
	case "target":
		kind, pprofPrefix := targetRaw, ""
		if len(args) > 1 {
			kind = args[1]
		}
		if len(args) > 2 {
			pprofPrefix = args[2]
		}
		stopProfile, err := profileChild(pprofPrefix, stderr)
		if err != nil {
			return err
		}
		defer stopProfile()
		return serveTarget(ctx, kind, stdin, stdout)
	case "load":
		return runLoadChild(ctx, args[1:], stdout, stderr)
	case "gcsim":
		return serveSim(ctx, args[1:], stdin, stdout, stderr)
	case "population":
		return runPopulationChild(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("peers: child: unknown kind %q (want target, load, gcsim or population)", args[0])
	}
}

// serveTarget serves the target of kind (targetRaw or targetNetHTTP) on
// 127.0.0.1, prints its URL on stdout, and shuts down when stdin closes
// or ctx ends.
func serveTarget(ctx context.Context, kind string, stdin io.Reader, stdout io.Writer) error {
	if !slices.Contains(targetKinds, kind) {
		return fmt.Errorf("peers: child target: unknown kind %q (want %s)", kind, strings.Join(targetKinds, " or "))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("peers: target: %w", err)
	}
	var (
		serve    func() error
		shutdown func(context.Context) error
		closeNow func() error
	)
	if kind == targetNetHTTP {
		srv := &http.Server{Handler: targetHandler(), ReadHeaderTimeout: 10 * time.Second}
		serve = func() error { return srv.Serve(ln) }
		shutdown, closeNow = srv.Shutdown, srv.Close
	} else {
		raw := newRawServer(ln)
		serve, closeNow = raw.Serve, raw.Close
		shutdown = func(context.Context) error { return raw.Close() }
	}
	served := make(chan error, 1)
	go func() { served <- serve() }()
	if _, err := fmt.Fprintf(stdout, "http://%s/\n", ln.Addr()); err != nil {
		closeNow()
		<-served
		return fmt.Errorf("peers: target: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-stdinClosed(stdin):
	case err := <-served:
		closeNow()
		return fmt.Errorf("peers: target stopped serving: %v", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = shutdown(shutdownCtx)
	<-served
	return err
}

// stdinClosed is closed when stdin reaches its end: a child's parent
// closes the child's stdin to stop it, and if the parent dies the pipe
// closes too.
func stdinClosed(stdin io.Reader) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(done)
	}()
	return done
}

func runLoadChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peers child load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	loader := fs.String("loader", "bare", "bare or cxload")
	url := fs.String("url", "", "target URL")
	conns := fs.Int("conns", 50, "workers and connections")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	rate := fs.Float64("rate", 0, "requests per second; 0 = closed loop at full speed")
	pprofPrefix := fs.String("pprof", "", "write <prefix>.cpu.pprof and <prefix>.allocs.pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stopProfile, err := profileChild(*pprofPrefix, stderr)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *conns < 1 || *duration <= 0 || *rate < 0 || *url == "" {
		return fmt.Errorf("peers: child load: bad arguments %q", args)
	}
	var (
		rep      loadReport
		ms0, ms1 runtime.MemStats
	)
	runtime.ReadMemStats(&ms0)
	switch *loader {
	case "bare":
		rep, err = runBare(ctx, *url, *conns, *duration, *rate)
	case "cxload":
		rep, err = runCxload(ctx, *url, *conns, *duration, *rate)
	default:
		err = fmt.Errorf("peers: child load: unknown loader %q (want bare or cxload)", *loader)
	}
	if err != nil {
		return err
	}
	runtime.ReadMemStats(&ms1)
	if sent := rep.Requests - rep.Dropped; sent > 0 {
		rep.AllocsPerReq = float64(ms1.Mallocs-ms0.Mallocs) / float64(sent)
		rep.BytesPerReq = float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(sent)
	}
	return json.NewEncoder(stdout).Encode(rep)
}

func runBare(ctx context.Context, url string, conns int, duration time.Duration, rate float64) (loadReport, error) {
	client := newBareClient(conns)
	defer client.CloseIdleConnections()
	newSend, err := bareSend(client, url)
	if err != nil {
		return loadReport{}, err
	}
	if rate > 0 {
		rep := pacedLoop(ctx, conns, duration, rate, newSend)
		rep.Note = "sleep-until-due pacer, " + strconv.Itoa(conns) + " workers"
		return rep, nil
	}
	rep := closedLoop(ctx, conns, duration, newSend)
	rep.Note = "net/http, a new request per call (as client.Get), " + strconv.Itoa(conns) + " workers"
	return rep, nil
}

// profileChild starts a child's profiles into prefix (see startProfile),
// or nothing when prefix is empty; the returned func stops them and
// prints on stderr a failure to write them.
func profileChild(prefix string, stderr io.Writer) (stop func(), err error) {
	if prefix == "" {
		return func() {}, nil
	}
	stopProfile, err := startProfile(prefix)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := stopProfile(); err != nil {
			fmt.Fprintln(stderr, err)
		}
	}, nil
}

// startProfile starts a CPU profile into prefix.cpu.pprof and samples
// mutex contention; the returned func stops it and writes
// prefix.allocs.pprof and prefix.mutex.pprof.
func startProfile(prefix string) (stop func() error, err error) {
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return nil, fmt.Errorf("peers: -pprof: %w", err)
	}
	cpu, err := os.Create(prefix + ".cpu.pprof")
	if err != nil {
		return nil, fmt.Errorf("peers: -pprof: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("peers: -pprof: %w", err)
	}
	runtime.SetMutexProfileFraction(10)
	// Sample allocations finely enough to count them per request over a
	// run (the default samples one per 512 KiB) while keeping the CPU
	// profile's picture of malloc undistorted.
	runtime.MemProfileRate = 64 << 10
	return func() error {
		pprof.StopCPUProfile()
		if err := cpu.Close(); err != nil {
			return fmt.Errorf("peers: -pprof: %w", err)
		}
		for _, name := range []string{"allocs", "mutex"} {
			f, err := os.Create(prefix + "." + name + ".pprof")
			if err != nil {
				return fmt.Errorf("peers: -pprof: %w", err)
			}
			if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
				f.Close()
				return fmt.Errorf("peers: -pprof: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("peers: -pprof: %w", err)
			}
		}
		return nil
	}, nil
}
