// Package safefile reads the files that a user's settings name (a simulator
// profile, an OAuth clients file, a users file) within a size bound, and
// refuses anything that is not a regular file: a FIFO would block the run
// forever, a device such as /dev/zero would fill the memory.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file (a FIFO, a device, a directory, a socket).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for a file over the size limit.
var ErrTooLarge = errors.New("file too large")

// Read returns the contents of the regular file at path (symbolic links
// followed), at most limit bytes. It looks at the path before opening it:
// opening a FIFO would block until a writer comes. Errors are
// *fs.PathError, so they name the file; one for a file over limit names
// the limit.
func Read(path string, limit int64) ([]byte, error) {
	if err := Check(path, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK (where there is one): should the path have become a FIFO
	// since Stat, the open returns at once and the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := check(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit { // it grew since Stat
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: over the limit of %s", ErrTooLarge, Size(limit))}
	}
	return data, nil
}

// Check reports, without opening the file, why Read(path, limit) would
// refuse it: it is missing, not a regular file, or over limit bytes.
func Check(path string, limit int64) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return check(path, fi, limit)
}

func check(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w but %s", ErrNotRegular, kind(fi.Mode()))}
	}
	if fi.Size() > limit {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %s, over the limit of %s", ErrTooLarge, Size(fi.Size()), Size(limit))}
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "of type " + m.Type().String()
}

// Size formats n bytes for an error: "16 MiB", "1536 KiB", "100 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
