package agent_test

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/auth"
)

// ReadUsersFile reads a regular file and refuses, naming the file, one
// over MaxUsersFileSize or an endless device (which would fill the memory).
func TestReadUsersFileBounds(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(good, []byte("u1\nu2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := agent.ReadUsersFile(good); err != nil || len(got) != 2 {
		t.Errorf("ReadUsersFile(%s) = %v, %v; want 2 users", good, got, err)
	}
	huge := filepath.Join(dir, "huge.txt")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(agent.MaxUsersFileSize + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	cases := []struct{ path, want string }{{huge, "over the limit of 16 MiB"}}
	if runtime.GOOS == "linux" {
		cases = append(cases, struct{ path, want string }{"/dev/zero", "a character device"})
	}
	for _, tc := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := agent.ReadUsersFile(tc.path)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadUsersFile(%s) = %v; want an error naming the file and %q", tc.path, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadUsersFile(%s) still reading after 10s", tc.path)
		}
	}
}

// LoadUsers of far more users than the directory holds says how many it
// has; it does not allocate for the users asked for first.
func TestLoadUsersHugeN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, 1, auth.Shared)
		_, err := agent.LoadUsers(t.Context(), s.api, math.MaxInt)
		if err == nil || !strings.Contains(err.Error(), "the directory has") {
			t.Errorf("LoadUsers(MaxInt) = %v; want the directory's size in an error", err)
		}
	})
}
