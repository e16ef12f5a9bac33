// Command restore puts back what a killed cxload run changed on its
// target, from the run's state files:
//
//	go run ./scripts/restore [-state DIR]
//
// It reads the target from the environment like the harness
// (GENESYSCLOUD_* for a tenant, CXLOAD_SIM_URL for a simulator), lists
// what each state file of DIR (default $CXLOAD_STATE_DIR, else
// os.TempDir()/cxload-state) holds for that target, hangs up the calls the
// run placed, sets queue memberships and presence back, and removes the
// files it restored whole. It asks nothing. The load-test window and the
// request budget do not apply: it spends the cleanup reserve
// (harness.CleanupRequests and CleanupPerChange, within
// harness.CleanupTimeout per file). It exits 1 if anything could not be
// restored; those changes stay in their file for another try.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cxload/cxload/harness"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Stderr, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}

// run restores the state files named by args and the environment.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("state", "", "directory of the state files (default $"+harness.EnvStateDir+", else "+harness.DefaultStateDir()+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("restore: unexpected arguments %q: the only flag is -state DIR", fs.Args())
	}
	if *dir == "" {
		*dir = strings.TrimSpace(os.Getenv(harness.EnvStateDir))
	}
	cfg, err := harness.ResolveTarget(os.Getenv)
	if err != nil {
		return fmt.Errorf("restore: configuration refused:\n%w", err)
	}
	if cfg.Kind == harness.KindSimulator {
		return fmt.Errorf("restore: no target: set GENESYSCLOUD_* (the tenant the run changed) or %s (the simulator), as for the run", harness.EnvSimURL)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	got, err := harness.RestoreState(ctx, cfg, *dir, logf)
	if err == nil && len(got.Failed) > 0 {
		err = fmt.Errorf("restore: %d change(s) could not be put back; they stay in the state file", len(got.Failed))
	}
	fmt.Fprintf(stdout, "cxload restore: %v\n", got)
	return err
}
