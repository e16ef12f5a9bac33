package gcsim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
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

// TestCloseWaitsForInFlight: Close lets a request in flight (held 5 s by a
// latency fault, on the fake clock) finish with its answer.
func TestCloseWaitsForInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		s.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{
			genesys.FamilyQueues: {Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(5 * time.Second)}}}})
		status := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", s.URL()+queuesPath, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := s.Client().Do(req)
			if err != nil {
				status <- -1
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
		synctest.Wait() // the request is inside the handler, sleeping
		start := time.Now()
		s.Close()
		// http.Server.Shutdown polls for idle connections every few hundred ms.
		if d := time.Since(start); d < 5*time.Second || d > 6*time.Second {
			t.Errorf("Close returned after %v, want 5s to 6s (the in-flight request's 5 s latency)", d)
		}
		if got := <-status; got != 200 {
			t.Errorf("in-flight request: status %d, want 200", got)
		}
	})
}

// FetchStats reads the same counters as Stats, over HTTP, and says what is
// wrong with a URL that is not a simulator.
func TestFetchStats(t *testing.T) {
	s := gcsim.NewServer(nil)
	defer s.Close()
	hc := s.Client()
	for range 3 {
		resp, err := hc.Get(s.URL() + "/api/v2/users/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got, err := gcsim.FetchStats(t.Context(), hc, s.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	sum := func(st gcsim.Stats) (n int64) {
		for _, r := range st.Requests {
			n += r.Count
		}
		return n
	}
	if g, w := sum(got), sum(s.Stats()); g != w || g < 3 {
		t.Errorf("FetchStats counts %d requests, Stats %d; want the same, at least 3", g, w)
	}
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if _, err := gcsim.FetchStats(t.Context(), nil, other.URL); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("FetchStats of a non-simulator: err = %v; want one naming status 404", err)
	}
}

// TestShutdownBounded: Shutdown waits for an in-flight request and a
// socket whose client does not answer the close frame only until its
// context ends, then cuts them and says so; with nothing open it returns
// nil at once.
func TestShutdownBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		tok := userToken(t, s, 0)
		_, ws := openChannel(t, s, tok) // never read: the close frame waits
		_ = ws
		s.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{
			genesys.FamilyQueues: {Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(time.Minute)}}}})
		answered := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest("GET", s.URL()+queuesPath, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := s.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			answered <- err
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want context.DeadlineExceeded (something was cut)", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Shutdown returned after %v, want 2s (its context)", d)
		}
		if err := <-answered; err == nil {
			t.Error("the request held a minute was answered; want it cut")
		}
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("second Shutdown = %v, want nil", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		s := newPipeServer(t, nil)
		token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret) // a kept-alive idle connection
		start := time.Now()
		if err := s.Shutdown(t.Context()); err != nil || time.Since(start) > time.Second {
			t.Errorf("Shutdown with nothing in flight = %v after %v, want nil at once", err, time.Since(start))
		}
	})
}
