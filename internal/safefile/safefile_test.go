package safefile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/internal/safefile"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readBounded is safefile.Read that fails t, instead of hanging the test
// binary, if Read blocks (as opening a FIFO without a writer does).
func readBounded(t *testing.T, path string, limit int64) ([]byte, error) {
	t.Helper()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := safefile.Read(path, limit)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Read(%s) still blocked after 10s", path)
		return nil, nil
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	atLimit := write("at-limit.json", 100)
	over := write("over.json", 101)
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(atLimit, link); err != nil {
		t.Fatal(err)
	}
	type readCase struct {
		name    string
		path    string
		want    int      // bytes read, when no error
		wantErr error    // wrapped sentinel
		msg     []string // parts of the message
	}
	tests := []readCase{
		// a file of exactly the limit is read whole.
		{name: "at the limit", path: atLimit, want: 100},
		// a symbolic link to a regular file is followed.
		{name: "symlink", path: link, want: 100},
		// one byte over is refused, naming the file, its size and the limit.
		{name: "over the limit", path: over, wantErr: safefile.ErrTooLarge, msg: []string{over, "101 bytes", "limit of 100 bytes"}},
		// a directory is not read.
		{name: "directory", path: dir, wantErr: safefile.ErrNotRegular, msg: []string{dir, "a directory"}},
		// a missing file: the os error, which names the path.
		{name: "missing", path: filepath.Join(dir, "nope.json"), wantErr: fs.ErrNotExist, msg: []string{"nope.json"}},
	}
	if runtime.GOOS == "linux" {
		// an endless device would fill the memory if read to its end.
		tests = append(tests, readCase{name: "/dev/zero", path: "/dev/zero", wantErr: safefile.ErrNotRegular, msg: []string{"/dev/zero", "a character device"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := readBounded(t, tt.path, 100)
			if tt.wantErr == nil {
				if err != nil || len(data) != tt.want {
					t.Fatalf("Read(%s) = %d bytes, %v; want %d bytes", tt.path, len(data), err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Read(%s) = %d bytes, %v; want an error wrapping %v", tt.path, len(data), err, tt.wantErr)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Read(%s) error %q does not contain %q", tt.path, err, m)
				}
			}
		})
	}
}

func TestSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{16 << 20, "16 MiB"},
		{1536 << 10, "1536 KiB"},
		{100, "100 bytes"},
		{1<<20 + 1, "1048577 bytes"},
	} {
		if got := safefile.Size(tt.n); got != tt.want {
			t.Errorf("Size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
