package gcsim_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// statuses sends n requests and returns their statuses in order (0 for a
// transport error such as a reset connection).
func statuses(tb testing.TB, s *gcsim.Server, tok, path string, n int) []int {
	tb.Helper()
	out := make([]int, n)
	for i := range out {
		req, _ := http.NewRequest("GET", s.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.Client().Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		out[i] = resp.StatusCode
	}
	return out
}

// TestErrorRateFault: a 5xx rate on one family, deterministic for a seed,
// leaves other families alone.
func TestErrorRateFault(t *testing.T) {
	run := func() []int {
		s := newServer(t, nil)
		tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		s.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{
			genesys.FamilyQueues: {ErrorRate: 0.3, RetryAfter: gcsim.Duration(2 * time.Second)}}})
		got := statuses(t, s, tok, queuesPath, 100)
		for _, st := range statuses(t, s, tok, routingStatusPath(0), 20) {
			if st != 200 {
				t.Fatalf("unfaulted family: status %d", st)
			}
		}
		r := do(t, s, "GET", "/admin/stats", "", nil)
		if !strings.Contains(string(r.Body), `"serviceUnavailable":`) {
			t.Errorf("stats lack fault counters: %s", r.Body)
		}
		return got
	}
	a, b := run(), run()
	n503 := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("request %d: %d then %d: faults are not deterministic for one seed", i, a[i], b[i])
		}
		if a[i] == 503 {
			n503++
		} else if a[i] != 200 {
			t.Fatalf("request %d: status %d", i, a[i])
		}
	}
	if n503 < 15 || n503 > 45 {
		t.Errorf("%d of 100 requests got 503 at rate 0.3", n503)
	}
}

func TestFaultResponse(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	s.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{"*": {ErrorRate: 1, RetryAfter: gcsim.Duration(2 * time.Second)}}})
	r := do(t, s, "GET", queuesPath, tok, nil)
	if r.Status != 503 || r.Header.Get("Retry-After") != "2" || r.json(t)["code"] != "service.unavailable" {
		t.Errorf("fault: %d Retry-After %q body %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if got := s.Stats().Faults.ServiceUnavailable; got != 1 {
		t.Errorf("Stats().Faults.ServiceUnavailable = %d, want 1", got)
	}
}

// TestResetFault: a reset rate of 1 resets every connection of the family.
func TestResetFault(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	s.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{genesys.FamilyQueues: {ResetRate: 1}}})
	for i, st := range statuses(t, s, tok, queuesPath, 3) {
		if st != 0 {
			t.Errorf("request %d: status %d, want a transport error", i, st)
		}
	}
	// net/http retries an idempotent request once when a reused connection
	// dies before answering, so there may be more resets than requests.
	if got := s.Stats().Faults.Resets; got < 3 || got > 6 {
		t.Errorf("Stats().Faults.Resets = %d, want 3..6", got)
	}
	s.SetFaults(gcsim.Faults{})
	if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 200 {
		t.Errorf("after clearing faults: %d", r.Status)
	}
}

// TestLatencyFault measures added latency on the fake clock.
func TestLatencyFault(t *testing.T) {
	tests := []struct {
		name     string
		lat      gcsim.Latency
		min, max time.Duration
	}{
		{"fixed", gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(250 * time.Millisecond)}, 250 * time.Millisecond, 250 * time.Millisecond},
		{"uniform", gcsim.Latency{Distribution: "uniform", Min: gcsim.Duration(time.Second), Max: gcsim.Duration(2 * time.Second)}, time.Second, 2 * time.Second},
		{"exponential capped", gcsim.Latency{Distribution: "exponential", Min: gcsim.Duration(10 * time.Millisecond), Mean: gcsim.Duration(time.Second), Max: gcsim.Duration(3 * time.Second)}, 10 * time.Millisecond, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newPipeServer(t, nil)
				tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
				s.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{"*": {Latency: tt.lat}}})
				for i := 0; i < 20; i++ {
					start := time.Now()
					if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 200 {
						t.Fatalf("status %d", r.Status)
					}
					if d := time.Since(start); d < tt.min || d > tt.max {
						t.Errorf("request %d took %v, want %v..%v", i, d, tt.min, tt.max)
					}
				}
			})
		})
	}
}

func TestAdminFaults(t *testing.T) {
	s := newServer(t, nil)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	r := do(t, s, "PUT", "/admin/faults", "", `{"families":{"routing.queues":{"errorRate":1}}}`)
	if r.Status != 200 {
		t.Fatalf("PUT /admin/faults: %d %s", r.Status, r.Body)
	}
	if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 503 {
		t.Errorf("after PUT /admin/faults: %d, want 503", r.Status)
	}
	if r := do(t, s, "GET", "/admin/faults", "", nil); !strings.Contains(string(r.Body), `"routing.queues":{"errorRate":1`) {
		t.Errorf("GET /admin/faults = %s", r.Body)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"families":{"routing.queues":{"errorRate":1.5}}}`, "errorRate: 1.5 must be between 0 and 1"},
		{`{"families":{"routing.queues":{"eror":1}}}`, `families["routing.queues"].eror (line 1): unknown field`},
		{`{"families":{"*":{"latency":{"distribution":"gamma"}}}}`, `unknown "gamma"`},
	} {
		r := do(t, s, "PUT", "/admin/faults", "", bad.body)
		if r.Status != 400 || !strings.Contains(r.json(t)["message"].(string), bad.want) {
			t.Errorf("PUT %s: %d %s, want 400 containing %q", bad.body, r.Status, r.Body, bad.want)
		}
	}
	// The bad PUTs changed nothing.
	if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 503 {
		t.Errorf("after bad PUTs: %d, want 503", r.Status)
	}
	do(t, s, "PUT", "/admin/faults", "", `{}`)
	if r := do(t, s, "GET", queuesPath, tok, nil); r.Status != 200 {
		t.Errorf("after clearing: %d, want 200", r.Status)
	}
}

// TestAdminFaultsRoundTrip: Faults marshaled with encoding/json (as
// clients do) are accepted by PUT /admin/faults and read back equal.
func TestAdminFaultsRoundTrip(t *testing.T) {
	s := newServer(t, nil)
	f := gcsim.Faults{
		Families: map[string]gcsim.FaultSpec{
			"*": {Latency: gcsim.Latency{Distribution: "exponential", Min: gcsim.Duration(time.Millisecond),
				Mean: gcsim.Duration(5 * time.Millisecond), Max: gcsim.Duration(time.Second)}},
			genesys.FamilyRecordingState: {ErrorRate: 0.25, RetryAfter: gcsim.Duration(3 * time.Second), ResetRate: 0.01},
		},
		TokenOutage: true,
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, s, "PUT", "/admin/faults", "", string(data)); r.Status != 200 {
		t.Fatalf("PUT %s: %d %s", data, r.Status, r.Body)
	}
	var back gcsim.Faults
	if err := json.Unmarshal(do(t, s, "GET", "/admin/faults", "", nil).Body, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, f) || !reflect.DeepEqual(s.Faults(), f) {
		t.Errorf("GET /admin/faults = %+v, Faults() = %+v, want %+v", back, s.Faults(), f)
	}
}
