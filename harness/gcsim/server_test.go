package gcsim_test

import (
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
)

// TestCloseUnstarted: Close on a server never started releases its
// listener, and a second Close does nothing.
func TestCloseUnstarted(t *testing.T) {
	s := gcsim.NewUnstartedServer(nil)
	s.Close()
	s.Close()
}

// TestStartTwice: a second Start panics, like httptest.
func TestStartTwice(t *testing.T) {
	s := gcsim.NewServer(nil)
	defer s.Close()
	defer func() {
		if recover() == nil {
			t.Error("second Start did not panic")
		}
	}()
	s.Start()
}

// TestBadProfilePanics: NewServer refuses an invalid profile loudly.
func TestBadProfilePanics(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Limits[0].Allowed = 0
	defer func() {
		if r := recover(); r == nil {
			t.Error("NewUnstartedServer with a bad profile did not panic")
		}
	}()
	gcsim.NewUnstartedServer(p)
}

// TestProfileIsACopy: changing the profile after NewServer has no effect.
func TestProfileIsACopy(t *testing.T) {
	p := gcsim.DefaultProfile()
	s := newServer(t, p)
	p.Limits[0].Allowed = 1
	s.Profile().Limits[0].Allowed = 2
	if got := s.Profile().Limits[0].Allowed; got != 300 {
		t.Errorf("Profile().Limits[0].Allowed = %d, want 300", got)
	}
}
