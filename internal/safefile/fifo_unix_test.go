//go:build unix

package safefile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cxload/cxload/internal/safefile"
)

// A FIFO (directly or behind a symbolic link) is refused at once: opening
// it for reading would wait for a writer forever.
func TestReadFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "profile.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link} {
		_, err := readBounded(t, p, 1<<20)
		if !errors.Is(err, safefile.ErrNotRegular) || !strings.Contains(err.Error(), "FIFO") || !strings.Contains(err.Error(), p) {
			t.Errorf("Read(%s) = %v; want an error naming the file as a FIFO, not a regular file", p, err)
		}
	}
}
