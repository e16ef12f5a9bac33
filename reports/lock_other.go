//go:build !unix

package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// lockWait bounds how long a writer waits for another to finish.
const lockWait = 30 * time.Second

// lockFile creates path exclusively, retrying until lockWait, and returns the
// function that removes it. Unlike flock, a crashed writer leaves the file
// behind; the error then says to delete it.
func lockFile(path string) (func(), error) {
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("held for over %v; if no report is running, delete %s", lockWait, path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
