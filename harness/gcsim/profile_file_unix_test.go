//go:build unix

package gcsim_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// LoadProfile refuses, at once and naming the file, what is not a regular
// profile file of at most MaxProfileSize: a FIFO (opening it would wait
// for a writer forever), an endless device (reading it would fill the
// memory), a directory, a file over the bound.
func TestLoadProfileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// sparse: one byte over the bound without writing it
	if err := f.Truncate(gcsim.MaxProfileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cases := []struct{ name, path, want string }{
		{"fifo", fifo, "a named pipe (FIFO)"},
		{"over the bound", huge, "over the limit of 16 MiB"},
		{"directory", dir, "a directory"},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases,
			struct{ name, path, want string }{"/dev/zero", "/dev/zero", "a character device"},
			struct{ name, path, want string }{"/dev/urandom", "/dev/urandom", "a character device"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := gcsim.LoadProfile(tc.path)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("LoadProfile(%s) = %v; want an error naming the file and %q", tc.path, err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("LoadProfile(%s) still blocked after 10s", tc.path)
			}
		})
	}
}
