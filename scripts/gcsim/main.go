// Command gcsim runs the Genesys Cloud simulator (harness/gcsim) as a
// standalone server that curl, k6, vegeta or JMeter can hit:
//
//	go run ./scripts/gcsim -addr 127.0.0.1:8080 [-profile FILE] [-log]
//
// It prints its API/login base URL, its WebSocket base and the credentials
// it accepts, serves until SIGINT or SIGTERM, then stops: in-flight
// requests get 5 s to finish and sockets are closed; a second signal stops
// it at once. It listens only on loopback addresses unless
// -allow-non-loopback is given.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err and returns the process exit code: 0 for success and
// -h, 2 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, err)
	return 2
}

// run parses args, serves until ctx is done or a SIGINT/SIGTERM arrives,
// and closes the server.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gcsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (host:port); a loopback host unless -allow-non-loopback")
	profile := fs.String("profile", "", "JSON profile file (default: the built-in default profile; see -print-profile)")
	allowRemote := fs.Bool("allow-non-loopback", false, "allow a non-loopback -addr (the simulator has well-known credentials: never expose it)")
	logRequests := fs.Bool("log", false, "log one line per request to stderr (tokens and secrets are never logged)")
	printProfile := fs.Bool("print-profile", false, "print the effective profile as JSON and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gcsim: unexpected argument %q; flags only (see -h)", fs.Arg(0))
	}
	if env := os.Getenv(envProfile); env != "" && *profile == "" {
		fmt.Fprintf(stderr, "gcsim: warning: %s=%s is ignored here (only go test's embedded simulator reads it); pass -profile %s to serve that profile\n", envProfile, env, env)
	}
	p := gcsim.DefaultProfile()
	custom := *profile != ""
	if custom {
		var err error
		if p, err = gcsim.LoadProfile(*profile); err != nil {
			return fmt.Errorf("-profile: %w", err)
		}
	}
	if *printProfile {
		data, err := p.MarshalJSON()
		if err != nil {
			return fmt.Errorf("gcsim: %w", err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, data, "", "  "); err != nil {
			return fmt.Errorf("gcsim: %w", err)
		}
		out.WriteByte('\n')
		_, err = stdout.Write(out.Bytes())
		return err
	}
	if err := checkLoopback(*addr, *allowRemote); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("gcsim: -addr %s: %w", *addr, err)
	}
	s := gcsim.NewUnstartedServer(p)
	s.Listener.Close()
	s.Listener = ln
	if *logRequests {
		s.RequestLog = stderr
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	s.Start()
	printBanner(stdout, s, p, custom)
	serve(ctx, sigs, s, stopGrace, stdout)
	return nil
}

// envProfile is harness.EnvProfile, the embedded simulator's profile
// variable: the command does not read it, and says so when it is set.
const envProfile = "CXLOAD_PROFILE"

// stopGrace is how long in-flight requests and sockets get to finish once
// a stop is asked; then their connections are cut. Long enough for any
// request without an injected latency, short enough not to keep a user
// waiting at Ctrl-C.
const stopGrace = 5 * time.Second

// serve waits until ctx is done or a signal arrives, then stops s: it waits
// at most grace for in-flight requests, and not at all after a second signal.
func serve(ctx context.Context, sigs <-chan os.Signal, s *gcsim.Server, grace time.Duration, stdout io.Writer) {
	select {
	case <-ctx.Done():
	case <-sigs:
	}
	fmt.Fprintf(stdout, "gcsim: shutting down: in-flight requests have %v to finish (signal again to stop at once)\n", grace)
	stop, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-stop.Done():
		}
	}()
	if err := s.Shutdown(stop); err != nil {
		fmt.Fprintln(stdout, "gcsim: stopped; requests and sockets still open were cut")
		return
	}
	fmt.Fprintln(stdout, "gcsim: stopped")
}

// checkLoopback refuses listen addresses reachable from other machines.
func checkLoopback(addr string, allow bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("gcsim: -addr %q: %v; want host:port such as 127.0.0.1:8080", addr, err)
	}
	if allow {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("gcsim: -addr %q is not a loopback address; use 127.0.0.1:PORT, or pass -allow-non-loopback if you really mean to expose a server with well-known credentials", addr)
}

// limitWords describes one limit on a banner line, saying when Genesys
// does not document it.
func limitWords(l gcsim.Limit) string {
	out := fmt.Sprintf("%s %d per %v, scope %s", l.Key, l.Allowed, l.Window, l.Scope)
	if l.Grant != "" {
		out += ", " + l.Grant + " tokens"
	}
	if len(l.Families) > 0 {
		out += ", on " + strings.Join(l.Families, ", ")
	}
	if l.Hidden {
		out += ", hidden"
	}
	if l.Hypothetical {
		out += " (HYPOTHETICAL: no Genesys source)"
	}
	return out
}

func printBanner(w io.Writer, s *gcsim.Server, p *gcsim.Profile, custom bool) {
	secret := func(v gcsim.Secret) string {
		// The defaults are public; a custom profile's secrets are not printed.
		if custom {
			return "[REDACTED] (see the profile)"
		}
		return string(v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gcsim: Genesys Cloud simulator\n")
	fmt.Fprintf(&b, "  API and login base: %s\n", s.URL())
	fmt.Fprintf(&b, "  WebSocket base:     %s  (connectUri = %s/channels/{id})\n", s.WSURL(), s.WSURL())
	fmt.Fprintf(&b, "  organization:       %s\n", p.Org.ID)
	for i, c := range p.Clients {
		label := "OAuth clients:"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(&b, "  %-19s %s / %s  (%s)\n", label, c.ID, secret(c.Secret), strings.Join(c.GrantTypes, ", "))
	}
	if p.Directory.AgentPassword != "" && p.Directory.Agents > 0 {
		users := s.Users()
		fmt.Fprintf(&b, "  user logins:        %s .. %s / %s  (grant_type=password)\n", users[0].Email, users[len(users)-1].Email, secret(p.Directory.AgentPassword))
	}
	eff := s.Profile() // the limits as served, the unconfirmed switches applied
	label := "rate limits:"
	for _, l := range eff.Limits {
		if l.Disabled {
			continue
		}
		fmt.Fprintf(&b, "  %-19s %s\n", label, limitWords(l))
		label = ""
	}
	fmt.Fprintf(&b, "  %-19s %d bytes (request.bytes.max)\n", "largest request:", eff.RequestBytesMax)
	for _, set := range eff.Settings() {
		fmt.Fprintf(&b, "  %-19s %s\n", "not documented:", set)
	}
	fmt.Fprintf(&b, "  admin:              GET /admin/stats, GET|PUT /admin/faults, POST /admin/reset, POST /admin/revoke, POST /admin/calls\n")
	if qs := s.Queues(); len(qs) > 0 {
		fmt.Fprintf(&b, "  inbound calls:      curl -s -H 'Content-Type: application/json' -d '{\"queueId\": \"%s\", \"count\": 1}' %s/admin/calls\n", qs[0].ID, s.URL())
	}
	if len(p.Clients) > 0 && !custom {
		fmt.Fprintf(&b, "  try:                curl -s -u %s:%s -d grant_type=client_credentials %s/oauth/token\n", p.Clients[0].ID, string(p.Clients[0].Secret), s.URL())
	}
	fmt.Fprintf(&b, "Serving until SIGINT or SIGTERM.\n")
	io.WriteString(w, b.String())
}
