//go:build unix

package harness_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/gcsim"
)

// sparseFile creates a file of size bytes without writing them.
func sparseFile(t *testing.T, name string, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}

// CXLOAD_CLIENTS_FILE and CXLOAD_PROFILE name a regular file of bounded
// size: a FIFO (which would block the run forever), an endless device
// (which would fill the memory) or an oversized file is refused at once,
// naming the variable, the file and the bound.
func TestResolveTargetRefusesNonRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	hugeClients := sparseFile(t, "clients.json", harness.MaxClientsFileSize+1)
	hugeProfile := sparseFile(t, "profile.json", gcsim.MaxProfileSize+1)
	type fileCase struct {
		name string
		env  map[string]string
		want []string
	}
	cases := []fileCase{
		{"clients FIFO", tenantEnv(map[string]string{harness.EnvClientsFile: fifo}),
			[]string{`CXLOAD_CLIENTS_FILE="` + fifo + `"`, "named pipe (FIFO)", "at most 1 MiB"}},
		{"clients over the bound", tenantEnv(map[string]string{harness.EnvClientsFile: hugeClients}),
			[]string{`CXLOAD_CLIENTS_FILE="` + hugeClients + `"`, "over the limit of 1 MiB"}},
		{"profile FIFO", map[string]string{harness.EnvProfile: fifo},
			[]string{`CXLOAD_PROFILE="` + fifo + `"`, "named pipe (FIFO)", "at most 16 MiB"}},
		{"profile over the bound", map[string]string{harness.EnvProfile: hugeProfile},
			[]string{`CXLOAD_PROFILE="` + hugeProfile + `"`, "over the limit of 16 MiB"}},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases,
			fileCase{"clients /dev/zero", tenantEnv(map[string]string{harness.EnvClientsFile: "/dev/zero"}),
				[]string{`CXLOAD_CLIENTS_FILE="/dev/zero"`, "a character device"}},
			fileCase{"clients /dev/urandom", tenantEnv(map[string]string{harness.EnvClientsFile: "/dev/urandom"}),
				[]string{`CXLOAD_CLIENTS_FILE="/dev/urandom"`, "a character device"}},
			fileCase{"profile /dev/zero", map[string]string{harness.EnvProfile: "/dev/zero"},
				[]string{`CXLOAD_PROFILE="/dev/zero"`, "a character device"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := harness.ResolveTarget(env(tc.env))
				done <- err
			}()
			select {
			case err := <-done:
				for _, w := range tc.want {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("ResolveTarget error %v; want it to contain %q", err, w)
					}
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("ResolveTarget still blocked after 10s")
			}
		})
	}
}
