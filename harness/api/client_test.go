package api_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// handlerTransport serves requests with a handler in memory: no sockets, so
// it works inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

// tokens is a TokenSource with one token per agent; Invalidate replaces it.
type tokens struct {
	mu          sync.Mutex
	gen         map[int]int
	invalidated atomic.Int64
}

func (s *tokens) Token(_ context.Context, agent int) (*auth.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == nil {
		s.gen = map[int]int{}
	}
	return auth.NewToken(fmt.Sprintf("tok-%d-%d", agent, s.gen[agent]), "client", time.Now().Add(time.Hour)), nil
}

func (s *tokens) Invalidate(*auth.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated.Add(1)
	for k := range s.gen {
		s.gen[k]++
	}
	if s.gen == nil {
		s.gen = map[int]int{}
	}
	s.gen[0]++
}

func newClient(t testing.TB, h http.HandlerFunc, cfg api.Config) *api.Client {
	t.Helper()
	cfg.BaseURL = "http://api.invalid"
	cfg.HTTPClient = &http.Client{Transport: handlerTransport{h}}
	if cfg.Tokens == nil {
		cfg.Tokens = &tokens{}
	}
	if cfg.Rand == nil {
		cfg.Rand = func() float64 { return 0 }
	}
	c, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tooMany(w http.ResponseWriter, key string, allowed int, retryAfter string) {
	w.Header().Set("Retry-After", retryAfter)
	w.Header().Set("inin-ratelimit-count", fmt.Sprint(allowed))
	w.Header().Set("inin-ratelimit-allowed", fmt.Sprint(allowed))
	w.Header().Set("ININ-Correlation-Id", "corr-429")
	w.WriteHeader(429)
	fmt.Fprintf(w, `{"message":"Rate limit exceeded the maximum [%d] requests within [60] seconds","code":"too.many.requests","status":429,"limit":{"key":%q,"namespace":"platform.api","value":%d}}`, allowed, key, allowed)
}

// Retry-After (seconds or date) is waited for, plus jitter, and the wait is
// recorded apart from service time.
func TestRetryAfterHonoured(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ra     func(now time.Time) string
		jitter float64
		want   time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, -1, 7 * time.Second},
		{"seconds with jitter", func(time.Time) string { return "10" }, 0.5, 12500 * time.Millisecond}, // 10s + 0.25*0.5... see Rand
		{"http date", func(now time.Time) string { return now.Add(20 * time.Second).UTC().Format(http.TimeFormat) }, -1, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				var sent []time.Time
				c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
					sent = append(sent, time.Now())
					if n.Add(1) == 1 {
						tooMany(w, "token.rate.per.minute", 300, tc.ra(time.Now()))
						return
					}
					fmt.Fprint(w, `{"ok":true}`)
				}, api.Config{Retry: api.RetryPolicy{Jitter: tc.jitter}, Rand: func() float64 { return 0.5 }})
				start := time.Now()
				resp, err := c.GetJSON(t.Context(), "/api/v2/users", nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(sent) != 2 || sent[1].Sub(sent[0]) != tc.want {
					t.Fatalf("sent at %v, want a gap of %v", sent, tc.want)
				}
				r := resp.Result
				if r.Attempts != 2 || r.RetryWait != tc.want || r.Total != time.Since(start) || r.Latency != 0 || r.Outcome != result.OK {
					t.Errorf("Result = %+v; want 2 attempts, RetryWait %v, Total = elapsed, Latency 0 (fake clock)", r, tc.want)
				}
				if r.ThrottledBy != "token.rate.per.minute" || r.Scope != string(genesys.ScopeToken) {
					t.Errorf("ThrottledBy, Scope = %q, %q; want the token bucket", r.ThrottledBy, r.Scope)
				}
			})
		})
	}
}

// When the 5xx policy gives up, the last response comes back whole.
func TestServerErrorGivesUpWithLastResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			w.Header().Set("X-Attempt", fmt.Sprint(i))
			w.Header().Set("ININ-Correlation-Id", fmt.Sprintf("corr-%d", i))
			w.WriteHeader(503)
			fmt.Fprintf(w, `{"message":"unavailable %d","code":"service.unavailable","status":503}`, i)
		}, api.Config{Retry: api.RetryPolicy{MaxAttempts: 3, Backoff: time.Second}})
		start := time.Now()
		resp, err := c.GetJSON(t.Context(), "/api/v2/users/{id}", nil, "u1")
		var se *api.StatusError
		if !errors.As(err, &se) || se.Response != resp {
			t.Fatalf("err = %v, want *StatusError holding the response", err)
		}
		if resp.Status != 503 || resp.Header.Get("X-Attempt") != "3" || string(resp.Body) != `{"message":"unavailable 3","code":"service.unavailable","status":503}` {
			t.Errorf("response = %d %v %s; want the 3rd 503 whole", resp.Status, resp.Header, resp.Body)
		}
		r := resp.Result
		if r.Attempts != 3 || r.Outcome != result.ServerError || r.CorrelationID != "corr-3" || r.Route != "/api/v2/users/{id}" {
			t.Errorf("Result = %+v", r)
		}
		// Backoff 1s then 2s.
		if d := time.Since(start); d != 3*time.Second || r.RetryWait != 3*time.Second {
			t.Errorf("took %v, RetryWait %v; want 3s", d, r.RetryWait)
		}
		if !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "after 3 attempt(s)") || !strings.Contains(err.Error(), "unavailable 3") {
			t.Errorf("error = %q", err)
		}
	})
}

// Which responses are retried, and how often.
func TestRetryDecisions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		status   int
		header   map[string]string
		attempts int
		err      string
	}{
		{"GET 503 retried", "GET", 503, nil, 4, ""},
		{"GET 501 not retried", "GET", 501, nil, 1, ""},
		{"POST 503 not retried", "POST", 503, nil, 1, ""},
		{"POST 429 retried", "POST", 429, map[string]string{"Retry-After": "1"}, 4, ""},
		{"404 not retried", "GET", 404, nil, 1, ""},
		{"429 Retry-After over cap", "GET", 429, map[string]string{"Retry-After": "3600"}, 1, "more than RetryPolicy.MaxRetryAfter"},
		{"429 without Retry-After uses reset", "GET", 429, map[string]string{"inin-ratelimit-reset": "2"}, 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
					n.Add(1)
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tc.status)
				}, api.Config{})
				resp, err := c.Do(t.Context(), &api.Request{Method: tc.method, Route: "/api/v2/conversations/calls"})
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if int(n.Load()) != tc.attempts || resp.Result.Attempts != tc.attempts {
					t.Errorf("server saw %d, Attempts = %d; want %d", n.Load(), resp.Result.Attempts, tc.attempts)
				}
				if !strings.Contains(resp.Result.Err, tc.err) || (tc.err == "" && resp.Result.Err != "") {
					t.Errorf("Result.Err = %q, want %q", resp.Result.Err, tc.err)
				}
			})
		})
	}
}

// A 401 invalidates the token and retries once with a new one.
func TestUnauthorizedRefreshesOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failWith int // the server answers 401 to this many requests
		status   int
		attempts int
	}{
		{"recovers", 1, 200, 2},
		{"stays 401", 5, 401, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				var auths []string
				src := &tokens{}
				c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
					auths = append(auths, r.Header.Get("Authorization"))
					if n.Add(1) <= int64(tc.failWith) {
						w.WriteHeader(401)
						return
					}
				}, api.Config{Tokens: src})
				resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != tc.status || resp.Result.Attempts != tc.attempts || src.invalidated.Load() != 1 {
					t.Errorf("status %d, attempts %d, invalidations %d; want %d, %d, 1", resp.Status, resp.Result.Attempts, src.invalidated.Load(), tc.status, tc.attempts)
				}
				if len(auths) != 2 || auths[0] == auths[1] {
					t.Errorf("Authorization headers %q: want two different tokens", auths)
				}
			})
		})
	}
}

// A 429 pauses only the scope it names: the throttled token waits for
// Retry-After, another token goes on at once.
func TestPauseOnlyThrottledScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		seen := map[string][]time.Time{}
		var first atomic.Bool
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			a := r.Header.Get("Authorization")
			mu.Lock()
			seen[a] = append(seen[a], time.Now())
			mu.Unlock()
			if strings.Contains(a, "tok-0-") && first.CompareAndSwap(false, true) {
				tooMany(w, "token.rate.per.minute", 300, "30")
			}
		}, api.Config{Limits: api.NewLimits(nil, api.Bucket{Key: "token.rate.per.minute", Scope: genesys.ScopeToken, Allowed: 300})})
		if _, err := c.Agent(0).Do(t.Context(), &api.Request{Route: "/api/v2/users", Method: "GET",
			Header: http.Header{"X-No-Retry": {"1"}}}); err != nil {
			t.Fatal(err)
		}
		// Agent 0 retried after 30 s; during that time agent 1 was not paused,
		// and agent 0's scope stayed paused for new requests too.
		start := time.Now()
		if _, err := c.Agent(1).Do(t.Context(), &api.Request{Route: "/api/v2/users"}); err != nil || time.Since(start) != 0 {
			t.Errorf("agent 1 waited %v (err %v), want 0", time.Since(start), err)
		}
		a0 := seen["Bearer tok-0-0"]
		if len(a0) != 2 || a0[1].Sub(a0[0]) != 30*time.Second {
			t.Errorf("agent 0 sent at %v; want two requests 30s apart", a0)
		}
	})
}

// A second request on a paused scope waits too, even without its own 429,
// and the wait is recorded as RetryWait; with limiting off it does not wait.
func TestPausedScopeDelaysOtherRequests(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprint("limiting=", enabled), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int64
				c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
					if n.Add(1) == 1 {
						tooMany(w, "token.rate.per.minute", 300, "10")
					}
				}, api.Config{Retry: api.RetryPolicy{MaxAttempts: 1},
					Limits: limitsOf(enabled, api.Bucket{Key: "token.rate.per.minute", Scope: genesys.ScopeToken, Allowed: 300})})
				resp, _ := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
				if resp.Status != 429 || resp.Result.Outcome != result.Throttled {
					t.Fatalf("first = %d", resp.Status)
				}
				start := time.Now()
				resp, _ = c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
				want := 10 * time.Second
				if !enabled {
					want = 0
				}
				if d := time.Since(start); d != want || resp.Result.RetryWait != want || resp.Status != 200 {
					t.Errorf("second waited %v, RetryWait %v, status %d; want %v", d, resp.Result.RetryWait, resp.Status, want)
				}
			})
		})
	}
}

// When the limiter needs longer than the context allows, the request is not
// sent and the result names the client-side scope.
func TestClientSideRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		rec := metrics.NewRecorder()
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1) },
			api.Config{Recorder: rec, Limits: api.NewLimits(nil, api.Bucket{Key: "token.rate.per.minute", Scope: genesys.ScopeToken, Allowed: 20, Window: time.Minute})})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var refused *api.Response
		for range 3 { // burst of 20/20 = 1, rate 19/min: the 2nd waits ~3.2s > 1s
			resp, err := c.Do(ctx, &api.Request{Route: "/api/v2/users"})
			if err != nil {
				refused = resp
				break
			}
		}
		if refused == nil || n.Load() != 1 {
			t.Fatalf("sent %d; want 1 sent and the next refused", n.Load())
		}
		r := refused.Result
		if r.Outcome != result.Throttled || r.ThrottledBy != "token.rate.per.minute" || r.Scope != "client-side:token" || r.Attempts != 0 || r.Status != 0 {
			t.Errorf("refused Result = %+v", r)
		}
	})
}

// Headers that say a bucket is fuller than the client thinks correct it: a
// later request waits for the server's window instead of drawing a 429.
func TestHeadersCorrectLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("inin-ratelimit-count", "100")
			w.Header().Set("inin-ratelimit-allowed", "100")
			w.Header().Set("inin-ratelimit-reset", "42")
		}, api.Config{Limits: api.NewLimits(nil, api.Bucket{Key: "conversations.recordingstate.rate.per.minute", Scope: genesys.ScopeEndpointUser, Allowed: 100, Families: []string{"conversations.recordingstate"}})})
		route := "/api/v2/conversations/{id}/recordingstate"
		if _, err := c.Do(t.Context(), &api.Request{Method: "PATCH", Route: route, Params: []string{"c1"}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := c.Do(t.Context(), &api.Request{Method: "PATCH", Route: route, Params: []string{"c2"}}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 42*time.Second {
			t.Errorf("second request waited %v, want the 42s reset", d)
		}
		// Another family is not affected.
		start = time.Now()
		if _, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"}); err != nil || time.Since(start) != 0 {
			t.Errorf("other family waited %v", time.Since(start))
		}
	})
}

// An unknown limit named by a 429 body is learned with its scope and family.
func TestLearnsLimitFrom429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		lim := api.NewLimits(nil)
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				tooMany(w, "architect.ivrs.rate.per.minute", 100, "5")
			}
		}, api.Config{Limits: lim})
		resp, err := c.Do(t.Context(), &api.Request{Method: "PUT", Route: "/api/v2/architect/ivrs/{id}", Params: []string{"i1"}})
		if err != nil || resp.Status != 200 || resp.Result.ThrottledBy != "architect.ivrs.rate.per.minute" || resp.Result.Scope != string(genesys.ScopeEndpointUser) {
			t.Fatalf("resp = %+v, %v", resp.Result, err)
		}
		b := lim.Buckets()
		if len(b) != 1 || b[0].Allowed != 100 || b[0].Window != time.Minute || b[0].Source != "learned" || len(b[0].Families) != 1 || b[0].Families[0] != "architect.ivrs" {
			t.Errorf("Buckets = %+v", b)
		}
	})
}

// A transport error on GET is retried; the result says what failed.
func TestTransportErrorRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		c, err := api.New(api.Config{BaseURL: "http://api.invalid", Tokens: &tokens{}, Rand: func() float64 { return 0 },
			HTTPClient: &http.Client{Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
				n.Add(1)
				return nil, errors.New("connection reset by peer")
			})}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
		if err == nil || !strings.Contains(err.Error(), "connection reset") || n.Load() != 4 {
			t.Fatalf("err = %v after %d attempts; want connection reset after 4", err, n.Load())
		}
		if r := resp.Result; r.Outcome != result.TransportError || r.Status != 0 || !strings.Contains(r.Err, "connection reset") {
			t.Errorf("Result = %+v", r)
		}
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A canceled context ends a retry wait; the result is Canceled and keeps
// the last response. A wait that would pass the deadline is not started.
func TestContextEndsRetryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) { tooMany(w, "token.rate.per.minute", 300, "50") }, api.Config{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(10*time.Second, cancel)
		resp, err := c.Do(ctx, &api.Request{Route: "/api/v2/users"})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want canceled", err)
		}
		if r := resp.Result; r.Outcome != result.Canceled || r.Status != 429 || r.RetryWait != 10*time.Second {
			t.Errorf("Result = %+v; want Canceled with the 429 kept and 10s waited", r)
		}

		ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		resp, err = c.Do(ctx, &api.Request{Route: "/api/v2/users"})
		if err != nil || time.Since(start) != 0 {
			t.Fatalf("err = %v after %v, want the 429 at once", err, time.Since(start))
		}
		if r := resp.Result; r.Outcome != result.Throttled || r.Attempts != 1 || !strings.Contains(r.Err, "would pass the context deadline") {
			t.Errorf("Result = %+v", r)
		}
	})
}

// Intended send time makes Total include queueing before the send.
func TestIntendedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {}, api.Config{})
		intended := time.Now()
		time.Sleep(3 * time.Second) // the agent fell behind its schedule
		resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users", Intended: intended})
		if err != nil {
			t.Fatal(err)
		}
		if r := resp.Result; r.Total != 3*time.Second || !r.Intended.Equal(intended) || !r.Start.Equal(intended.Add(3*time.Second)) {
			t.Errorf("Result = %+v; want Total 3s from Intended", r)
		}
	})
}

// Every request becomes exactly one result in the recorder.
func TestOneResultPerRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		rec := metrics.NewRecorder()
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%2 == 1 {
				w.WriteHeader(503)
			}
		}, api.Config{Recorder: rec})
		for i := range 10 {
			if _, err := c.Do(t.Context(), &api.Request{Op: "users.get", Route: "/api/v2/users/{id}", Params: []string{fmt.Sprint(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		doc := rec.Snapshot()
		if doc == nil {
			t.Fatal("Recorder.Snapshot returned nil")
		}
		var count int64
		for _, op := range doc.Operations {
			if op.Op == "users.get" {
				count = op.Count
			}
		}
		if count != 10 {
			t.Errorf("recorded %d results for users.get, want 10 (server saw %d attempts)", count, n.Load())
		}
	})
}

func TestNewErrors(t *testing.T) {
	for _, base := range []string{"", "api.mypurecloud.com", "ftp://x", "http://",
		"https://api.example?x=1", "https://api.example/#top", "https://user:pw-secret@api.example", "ftp://user:pw-secret@api.example"} {
		_, err := api.New(api.Config{BaseURL: base})
		if err == nil || !strings.Contains(err.Error(), "BaseURL") {
			t.Errorf("New(BaseURL %q) = %v, want error naming BaseURL", base, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("New(BaseURL %q): the error shows the password: %v", base, err)
		}
	}
}

// Learning buckets while many agents send must not race (run with -race).
func TestConcurrentLearning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		lim := api.NewLimits(nil)
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			switch {
			case i%7 == 0:
				tooMany(w, fmt.Sprintf("family%d.rate.per.minute", i%5), 100, "1")
			default:
				w.Header().Set("inin-ratelimit-count", "299")
				w.Header().Set("inin-ratelimit-allowed", "300")
				w.Header().Set("inin-ratelimit-reset", "1")
			}
		}, api.Config{Limits: lim, Retry: api.RetryPolicy{MaxAttempts: 2}})
		var wg sync.WaitGroup
		for a := range 8 {
			wg.Go(func() {
				for i := range 30 {
					route := fmt.Sprintf("/api/v2/fam%d/{id}", (a+i)%5)
					if _, err := c.Agent(a).Do(t.Context(), &api.Request{Route: route, Params: []string{"x"}}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if len(lim.Buckets()) == 0 {
			t.Errorf("nothing learned")
		}
	})
}

// gate admits n attempts, then refuses.
type gate struct {
	n    atomic.Int64
	done atomic.Int64
}

var errStop = errors.New("stop: budget spent")

func (g *gate) Admit() error {
	if g.n.Add(-1) < 0 {
		return errStop
	}
	return nil
}
func (g *gate) Done(int) { g.done.Add(1) }

// A refused attempt ends the request as Canceled with the gate's error, even
// when an earlier attempt got a response.
func TestGateRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{}
		g.n.Store(1)
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, api.Config{Gate: g})
		resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
		if !errors.Is(err, errStop) || resp.Result.Outcome != result.Canceled || resp.Status != 503 || resp.Result.Attempts != 1 || g.done.Load() != 1 {
			t.Errorf("Do = %v, %+v; want the gate's error, Canceled, the 503 kept", err, resp.Result)
		}
		resp, err = c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
		if !errors.Is(err, errStop) || resp.Result.Outcome != result.Canceled || resp.Result.Attempts != 0 || !strings.Contains(resp.Result.Err, "budget spent") {
			t.Errorf("Do = %v, %+v", err, resp.Result)
		}
	})
}

// Over a real loopback connection, the request that opens the connection
// reports its dial time, later ones on the same connection report none,
// and every one reports the time to first byte.
func TestTraceTimings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	defer srv.Close()
	c, err := api.New(api.Config{BaseURL: srv.URL, Agents: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []metrics.Result
	for range 3 {
		resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.Result)
	}
	if got[0].Connect <= 0 || got[1].Connect != 0 || got[2].Connect != 0 {
		t.Errorf("Connect = %v, %v, %v; want >0 then 0 (connection reused)", got[0].Connect, got[1].Connect, got[2].Connect)
	}
	for i, r := range got {
		if r.FirstByte <= 0 || r.FirstByte > r.Latency {
			t.Errorf("request %d: FirstByte %v, Latency %v", i, r.FirstByte, r.Latency)
		}
	}
}

// countingGate admits everything and records what it is told.
type countingGate struct {
	mu       sync.Mutex
	admits   int
	statuses []int
}

func (g *countingGate) Admit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admits++
	return nil
}

func (g *countingGate) Done(status int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.statuses = append(g.statuses, status)
}

// When a reused keep-alive connection fails after the request was written,
// net/http's Transport re-sends a replayable request on a fresh connection
// by itself. Result.Attempts, the recorder and the Gate count every request
// the server received, not only the attempts the client made; a
// non-replayable request is not re-sent and counts one.
func TestTransportResendsCounted(t *testing.T) {
	for _, tc := range []struct {
		name         string
		method       string
		wantAttempts int   // Result.Attempts == requests the server got on /reset
		wantStatuses []int // what the Gate was told, in order
		wantOutcome  result.Outcome
	}{
		{name: "GET is re-sent on a fresh connection", method: http.MethodGet, wantAttempts: 2, wantStatuses: []int{0, 200}, wantOutcome: result.OK},
		{name: "POST is not re-sent", method: http.MethodPost, wantAttempts: 1, wantStatuses: []int{0}, wantOutcome: result.TransportError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resets, served atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/reset" {
					served.Add(1)
					if resets.Add(1) == 1 { // the first one, on the warm connection
						conn, _, err := w.(http.Hijacker).Hijack()
						if err != nil {
							t.Errorf("Hijack: %v", err)
							return
						}
						conn.Close()
						return
					}
				}
				fmt.Fprint(w, `{}`)
			}))
			defer srv.Close()
			g := &countingGate{}
			rec := metrics.NewRecorder()
			c, err := api.New(api.Config{BaseURL: srv.URL, Agents: 1, Gate: g, Recorder: rec, Retry: api.RetryPolicy{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Do(t.Context(), &api.Request{Op: "warm", Route: "/warm"}); err != nil {
				t.Fatal(err)
			}
			resp, _ := c.Do(t.Context(), &api.Request{Op: "reset", Method: tc.method, Route: "/reset"})
			if got := resp.Result.Attempts; got != tc.wantAttempts || int64(got) != served.Load() {
				t.Errorf("Result.Attempts = %d, server received %d; want %d", got, served.Load(), tc.wantAttempts)
			}
			if resp.Result.Outcome != tc.wantOutcome {
				t.Errorf("Outcome = %v (%+v), want %v", resp.Result.Outcome, resp.Result, tc.wantOutcome)
			}
			if got := rec.Snapshot().Op("reset").Attempts; got != served.Load() {
				t.Errorf("document counts %d attempts, the server received %d", got, served.Load())
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			// One admit and Done(200) for the warm-up, then the request's.
			if wantAdmits := 1 + tc.wantAttempts; g.admits != wantAdmits || fmt.Sprint(g.statuses[1:]) != fmt.Sprint(tc.wantStatuses) {
				t.Errorf("Gate: %d admits, statuses %v after the warm-up; want %d admits, %v", g.admits, g.statuses[1:], wantAdmits, tc.wantStatuses)
			}
		})
	}
}

// A 2xx whose body DoJSON cannot decode is a failed request in the Result
// the caller gets and in the document alike: Outcome ServerError, the
// status kept, the decoding error as Err and as DoJSON's error.
func TestDoJSONUndecodableIsFailure(t *testing.T) {
	type user struct{ ID, Name string }
	for _, tc := range []struct {
		name    string
		body    string
		out     any
		wantErr string // "" = success
	}{
		{name: "valid", body: `{"id":"u-1","name":"Agent"}`, out: &user{}},
		{name: "no out", body: `{"id":`, out: nil},
		{name: "empty body", body: ``, out: &user{}},
		{name: "truncated", body: `{"id":"u-1","na`, out: &user{}, wantErr: "decoding 200 response into *api_test.user: unexpected end of JSON input"},
		{name: "wrong type", body: `{"id":42}`, out: &user{}, wantErr: "decoding 200 response into *api_test.user: json: cannot unmarshal number"},
		{name: "not JSON", body: `<html>`, out: &user{}, wantErr: "decoding 200 response into *api_test.user: invalid character '<'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := metrics.NewRecorder()
			c := newClient(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tc.body) }, api.Config{Recorder: rec})
			resp, err := c.DoJSON(t.Context(), &api.Request{Op: "users.get", Method: http.MethodGet, Route: "/api/v2/users/{id}", Params: []string{"u-1"}}, nil, tc.out)
			if resp == nil {
				t.Fatalf("DoJSON returned no response (err %v)", err)
			}
			res := resp.Result
			op := rec.Snapshot().Op("users.get")
			if tc.wantErr == "" {
				if err != nil || res.Outcome != result.OK || res.Err != "" || op.Outcome(result.OK) != 1 {
					t.Errorf("DoJSON = %v, outcome %v, Err %q, document %v; want success", err, res.Outcome, res.Err, op.Outcomes)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "api: GET /api/v2/users/{id}: "+tc.wantErr) {
				t.Errorf("DoJSON error = %v; want one naming the request and containing %q", err, tc.wantErr)
			}
			if res.Outcome != result.ServerError || res.Status != 200 || err == nil || res.Err != err.Error() {
				t.Errorf("Result: outcome %v, status %d, Err %q; want server_error, 200, the error DoJSON returned", res.Outcome, res.Status, res.Err)
			}
			if op.Count != 1 || op.Outcome(result.ServerError) != 1 || op.Errors() != 1 {
				t.Errorf("document: count %d, outcomes %v, errors %d; want 1 server_error", op.Count, op.Outcomes, op.Errors())
			}
		})
	}
}

// An attempt that reached no server (here: the dial is refused) counts no
// attempt in the Result, though the Gate admitted it (its budget errs on
// the safe side).
func TestRefusedDialCountsNoAttempt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	g := &countingGate{}
	c, err := api.New(api.Config{BaseURL: "http://" + addr, Agents: 1, Gate: g, Retry: api.RetryPolicy{MaxAttempts: 2, Backoff: time.Millisecond, Jitter: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"})
	if err == nil || resp.Result.Outcome != result.TransportError || resp.Result.Attempts != 0 || resp.Result.Err == "" {
		t.Errorf("Do = %v, %+v; want a transport error, 0 attempts sent, a reason", err, resp.Result)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.admits != 2 || fmt.Sprint(g.statuses) != "[0 0]" {
		t.Errorf("Gate: %d admits, statuses %v; want 2 admitted, told [0 0]", g.admits, g.statuses)
	}
}

// A client on NewTransport asks for no compression: net/http would
// otherwise add Accept-Encoding: gzip to every request (and allocate for it).
func TestNewTransportNoAcceptEncoding(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Values("Accept-Encoding"))
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	c, err := api.New(api.Config{BaseURL: srv.URL, Agents: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do(t.Context(), &api.Request{Route: "/api/v2/users"}); err != nil {
		t.Fatal(err)
	}
	if ae, _ := got.Load().([]string); len(ae) != 0 {
		t.Errorf("request carried Accept-Encoding %q; want none (NewTransport disables compression)", ae)
	}
}

// failingWriteConn fails every write with nothing written once broken is
// set, as a connection the peer has reset does.
type failingWriteConn struct {
	net.Conn
	broken *atomic.Bool
}

func (c *failingWriteConn) Write(p []byte) (int, error) {
	if c.broken.Load() {
		return 0, errors.New("test: connection broken")
	}
	return c.Conn.Write(p)
}

// When writing to a reused connection fails before any byte leaves,
// net/http's Transport sends the request again on a new connection, a POST
// too (nothing was written, so nothing can have been done). Only that
// second request reached the server: Result.Attempts, the recorder and the
// Gate count one.
func TestNothingWrittenResendCountsOnce(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	var first atomic.Pointer[atomic.Bool] // the first connection's switch
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		broken := new(atomic.Bool)
		first.CompareAndSwap(nil, broken)
		return &failingWriteConn{Conn: c, broken: broken}, nil
	}
	g := &countingGate{}
	rec := metrics.NewRecorder()
	c, err := api.New(api.Config{BaseURL: srv.URL, Agents: 1, Dial: dial, Gate: g, Recorder: rec, Retry: api.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do(t.Context(), &api.Request{Op: "warm", Route: "/warm"}); err != nil {
		t.Fatal(err)
	}
	first.Load().Store(true)
	resp, err := c.Do(t.Context(), &api.Request{Op: "post", Method: http.MethodPost, Route: "/api/v2/conversations", Body: []byte(`{}`)})
	if err != nil || resp.Status != 200 {
		t.Fatalf("POST: %v (status %d); want 200 after the Transport's re-send", err, resp.Status)
	}
	if got := resp.Result.Attempts; got != 1 || posts.Load() != 1 {
		t.Errorf("Result.Attempts = %d, the server got %d POSTs; want 1 each", got, posts.Load())
	}
	if op := rec.Snapshot().Op("post"); op.Attempts != 1 {
		t.Errorf("document counts %d attempts; want 1", op.Attempts)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.admits != 2 || fmt.Sprint(g.statuses) != "[200 200]" {
		t.Errorf("Gate: %d admits, statuses %v; want 2 (warm-up and POST), [200 200]", g.admits, g.statuses)
	}
}

// limitsOf returns a limiter of buckets, enforcing or observe-only.
func limitsOf(enforce bool, buckets ...api.Bucket) *api.Limits {
	if enforce {
		return api.NewLimits(nil, buckets...)
	}
	return api.ObserveLimits(nil, buckets...)
}
