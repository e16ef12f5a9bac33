package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/auth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeLogin is an in-memory OAuth token endpoint: no sockets, so it works
// inside a synctest bubble. fail(n) decides whether the n-th request fails.
type fakeLogin struct {
	expiresIn  int
	retryAfter string // when set, failures are 429 with this Retry-After
	fail       func(n int64) bool
	requests   atomic.Int64
	perClient  sync.Map // client id -> *atomic.Int64
}

const failBody = `{"error":"invalid_client","description":"bad secret sim-secret","debug":"tok-LEAK"}`

func (f *fakeLogin) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	return w.Result(), nil
}

func (f *fakeLogin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	id, _, _ := r.BasicAuth()
	c, _ := f.perClient.LoadOrStore(id, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	w.Header().Set("Content-Type", "application/json")
	if r.FormValue("grant_type") != "client_credentials" {
		w.WriteHeader(400)
		return
	}
	if f.fail != nil && f.fail(n) {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":"too_many_requests","description":"slow down"}`)
			return
		}
		w.WriteHeader(401)
		fmt.Fprint(w, failBody)
		return
	}
	exp := f.expiresIn
	if exp == 0 {
		exp = 86399
	}
	fmt.Fprintf(w, `{"access_token":"tok-%s-%d","token_type":"bearer","expires_in":%d}`, id, n, exp)
}

func (f *fakeLogin) count(id string) int64 {
	c, ok := f.perClient.Load(id)
	if !ok {
		return 0
	}
	return c.(*atomic.Int64).Load()
}

var twoClients = []auth.Credentials{{ClientID: "sim-client", Secret: "sim-secret"}, {ClientID: "sim-client-2", Secret: "sim-secret-2"}}

func newPool(t testing.TB, f *fakeLogin, cfg auth.Config) *auth.Pool {
	t.Helper()
	cfg.TokenURL = "http://login.invalid/oauth/token"
	cfg.HTTPClient = &http.Client{Transport: f}
	if cfg.Clients == nil {
		cfg.Clients = twoClients
	}
	if cfg.CreateLimit == 0 {
		cfg.CreateLimit = rate.Inf
	}
	p, err := auth.NewPool(cfg)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	return p
}

// Concurrent use of every token of a pool creates each token exactly once.
func TestConcurrentUseOneRefreshPerToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    auth.Config
		tokens int
	}{
		{"shared", auth.Config{Policy: auth.Shared}, 1},
		{"per-client", auth.Config{Policy: auth.PerClient, TokensPerClient: 3}, 6},
		{"per-agent", auth.Config{Policy: auth.PerAgent, Agents: 20}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeLogin{}
				p := newPool(t, f, tc.cfg)
				var wg sync.WaitGroup
				ids := sync.Map{}
				for g := range 50 {
					wg.Go(func() {
						for i := range 20 {
							tok, err := p.Token(t.Context(), g*20+i)
							if err != nil {
								t.Errorf("Token: %v", err)
								return
							}
							ids.Store(tok.ID, true)
						}
					})
				}
				wg.Wait()
				n := 0
				ids.Range(func(any, any) bool { n++; return true })
				if got := f.requests.Load(); got != int64(tc.tokens) {
					t.Errorf("token requests = %d, want %d", got, tc.tokens)
				}
				if n != tc.tokens {
					t.Errorf("distinct tokens = %d, want %d", n, tc.tokens)
				}
				if s := p.Stats(); s.Created != int64(tc.tokens) || s.Failures != 0 {
					t.Errorf("Stats = %+v, want Created %d", s, tc.tokens)
				}
			})
		})
	}
}

// A token is replaced RefreshMargin (+ jitter) before it expires, by one
// caller, and not before.
func TestRefreshAheadOfExpiry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter time.Duration
		rnd    float64
		at     time.Duration // refresh time after creation
	}{
		{"no jitter", -1, 0.5, 600*time.Second - 60*time.Second},
		{"jitter drawn 0.5", 20 * time.Second, 0.5, 600*time.Second - 60*time.Second - 10*time.Second},
		{"jitter drawn 0", 20 * time.Second, 0, 600*time.Second - 60*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeLogin{expiresIn: 600}
				p := newPool(t, f, auth.Config{RefreshMargin: time.Minute, RefreshJitter: tc.jitter, Rand: func() float64 { return tc.rnd }})
				first, err := p.Token(t.Context(), 0)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(tc.at - time.Second)
				if tok, _ := p.Token(t.Context(), 0); tok != first {
					t.Fatalf("token replaced at %v, before %v", tc.at-time.Second, tc.at)
				}
				time.Sleep(time.Second)
				var wg sync.WaitGroup
				for range 10 {
					wg.Go(func() {
						if tok, err := p.Token(t.Context(), 0); err != nil || tok.Expiry.Before(first.Expiry) {
							t.Errorf("Token = %v, %v", tok, err)
						}
					})
				}
				wg.Wait()
				if got := f.requests.Load(); got != 2 {
					t.Errorf("token requests = %d, want 2 (one create, one refresh)", got)
				}
				if tok, _ := p.Token(t.Context(), 0); tok == first {
					t.Errorf("token not replaced at %v", tc.at)
				}
			})
		})
	}
}

// With no valid token, failures are retried with backoff and then succeed.
func TestFailureRetriedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLogin{fail: func(n int64) bool { return n <= 2 }}
		var events []auth.RefreshEvent
		var mu sync.Mutex
		p := newPool(t, f, auth.Config{Backoff: 2 * time.Second, Rand: func() float64 { return 0 },
			OnRefresh: func(e auth.RefreshEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }})
		start := time.Now()
		tok, err := p.Token(t.Context(), 0)
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		// backoff(1) = 1s (half of 2s, jitter 0), backoff(2) = 2s.
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("waited %v, want 3s of backoff", d)
		}
		if len(events) != 3 || events[0].Err == nil || events[1].Err == nil || events[2].Err != nil || events[2].TokenID != tok.ID {
			t.Errorf("events = %+v, want 2 failures then success", events)
		}
		if s := p.Stats(); s.Created != 1 || s.Failures != 2 {
			t.Errorf("Stats = %+v, want 1 created, 2 failures", s)
		}
	})
}

// A failed refresh ahead of expiry keeps the old token and backs off.
func TestFailedRefreshKeepsValidToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		f := &fakeLogin{expiresIn: 600, fail: func(int64) bool { return down.Load() }}
		p := newPool(t, f, auth.Config{RefreshMargin: time.Minute, RefreshJitter: -1, Backoff: 10 * time.Second, Rand: func() float64 { return 0 }})
		first, err := p.Token(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		down.Store(true)
		time.Sleep(541 * time.Second)
		for range 5 { // one attempt, then back off for 5s
			if tok, err := p.Token(t.Context(), 0); tok != first || err != nil {
				t.Fatalf("Token = %v, %v; want the old token", tok, err)
			}
		}
		if got := f.requests.Load(); got != 2 {
			t.Errorf("token requests = %d, want 2", got)
		}
		time.Sleep(5 * time.Second)
		down.Store(false)
		tok, err := p.Token(t.Context(), 0)
		if err != nil || tok == first {
			t.Errorf("after backoff Token = %v, %v; want a new token", tok, err)
		}
		if s := p.Stats(); s.Failures != 1 || s.Created != 2 {
			t.Errorf("Stats = %+v", s)
		}
	})
}

// When every attempt fails the error says why, without secret or body.
func TestGiveUpErrorIsRedacted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLogin{fail: func(int64) bool { return true }}
		p := newPool(t, f, auth.Config{MaxAttempts: 3})
		tok, err := p.Token(t.Context(), 0)
		if err == nil || tok != nil {
			t.Fatalf("Token = %v, %v; want error", tok, err)
		}
		msg := err.Error()
		for _, want := range []string{"auth:", "401", "invalid_client", "gave up after 3 attempts"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		for _, leak := range []string{"sim-secret", "tok-LEAK"} {
			if strings.Contains(msg, leak) {
				t.Errorf("error %q leaks %q", msg, leak)
			}
		}
		if got := f.requests.Load(); got != 3 {
			t.Errorf("token requests = %d, want 3", got)
		}
	})
}

// A burst of 401s on one token (Invalidate from many goroutines) causes one refresh.
func TestInvalidateOneRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLogin{}
		p := newPool(t, f, auth.Config{})
		first, _ := p.Token(t.Context(), 0)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				p.Invalidate(first)
				if tok, err := p.Token(t.Context(), 0); err != nil || tok == first {
					t.Errorf("Token = %v, %v", tok, err)
				}
			})
		}
		wg.Wait()
		if got := f.requests.Load(); got != 2 {
			t.Errorf("token requests = %d, want 2", got)
		}
	})
}

// Token creation is paced per client to CreateLimit.
func TestCreationPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLogin{}
		p := newPool(t, f, auth.Config{Policy: auth.PerAgent, Agents: 10, CreateLimit: 1, CreateBurst: 1})
		start := time.Now()
		var wg sync.WaitGroup
		for a := range 10 {
			wg.Go(func() {
				if _, err := p.Token(t.Context(), a); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// Two clients, 5 tokens each at 1/s with burst 1: the last at 4s.
		if d := time.Since(start); d != 4*time.Second {
			t.Errorf("10 tokens over 2 clients at 1/s took %v, want 4s", d)
		}
		if f.count("sim-client") != 5 || f.count("sim-client-2") != 5 {
			t.Errorf("per client = %d, %d; want 5, 5", f.count("sim-client"), f.count("sim-client-2"))
		}
	})
}

// A canceled context ends a blocked Token call with the context's error.
func TestTokenContextCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLogin{fail: func(int64) bool { return true }}
		p := newPool(t, f, auth.Config{Backoff: time.Hour, MaxBackoff: 2 * time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := p.Token(ctx, 0)
		if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("Token = %v, want deadline exceeded", err)
		}
	})
}

// Agents map onto tokens as the policy says.
func TestSlotFor(t *testing.T) {
	for _, tc := range []struct {
		cfg   auth.Config
		agent int
		size  int
		slot  int
	}{
		{auth.Config{Policy: auth.Shared}, 7, 1, 0},
		{auth.Config{Policy: auth.PerClient}, 7, 2, 1},
		{auth.Config{Policy: auth.PerClient, TokensPerClient: 4}, 7, 8, 7},
		{auth.Config{Policy: auth.PerAgent, Agents: 5}, 7, 5, 2},
		{auth.Config{Policy: auth.PerAgent, Agents: 5}, -7, 5, 3},          // negative ids wrap
		{auth.Config{Policy: auth.PerAgent, Agents: 5}, math.MinInt, 5, 2}, // no overflow
	} {
		p := newPool(t, &fakeLogin{}, tc.cfg)
		if p.Size() != tc.size || p.SlotFor(tc.agent) != tc.slot {
			t.Errorf("%v: Size = %d, SlotFor(%d) = %d; want %d, %d", tc.cfg.Policy, p.Size(), tc.agent, p.SlotFor(tc.agent), tc.size, tc.slot)
		}
	}
}

func TestNewPoolErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"no url", auth.Config{Clients: twoClients}, "TokenURL is empty"},
		{"no clients", auth.Config{TokenURL: "x"}, "Clients is empty"},
		{"no secret", auth.Config{TokenURL: "x", Clients: []auth.Credentials{{ClientID: "a"}}}, "Clients[0]: client id and secret"},
		{"bad policy", auth.Config{TokenURL: "x", Clients: twoClients, Policy: 9}, "unknown Policy(9)"},
	} {
		_, err := auth.NewPool(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewPool = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []auth.Policy{auth.Shared, auth.PerClient, auth.PerAgent} {
		if got, err := auth.ParsePolicy(p.String()); got != p || err != nil {
			t.Errorf("ParsePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := auth.ParsePolicy("each"); err == nil || !strings.Contains(err.Error(), `"each"`) {
		t.Errorf("ParsePolicy(each) = %v", err)
	}
}

// No way of printing credentials, tokens or pools shows a secret.
func TestRedaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLogin{}
		p := newPool(t, f, auth.Config{})
		tok, err := p.Token(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, v := range []any{twoClients[0], &twoClients[0], twoClients, tok, *tok, p} {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				fmt.Fprintf(&buf, verb+"\n", v)
			}
		}
		lg := slog.New(slog.NewJSONHandler(&buf, nil))
		lg.Info("x", "cred", twoClients[0], "tok", tok)
		lg2 := slog.New(slog.NewTextHandler(&buf, nil))
		lg2.Info("x", "cred", twoClients[1], "tok", tok)
		_ = json.NewEncoder(&buf).Encode(tok)
		out := buf.String()
		secret := tok.Value()
		for _, leak := range []string{"sim-secret", secret} {
			if strings.Contains(out, leak) {
				t.Errorf("output leaks %q:\n%s", leak, out)
			}
		}
		if !strings.Contains(out, auth.Redacted) || !strings.Contains(out, tok.ID) {
			t.Errorf("output lacks %s or token id:\n%s", auth.Redacted, out)
		}
	})
}

// A 429 from the token endpoint is retried after its Retry-After when that
// is longer than the backoff.
func TestTokenEndpointRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLogin{fail: func(n int64) bool { return n == 1 }, retryAfter: "7"}
		p := newPool(t, f, auth.Config{Backoff: time.Second, Rand: func() float64 { return 0 }})
		start := time.Now()
		if _, err := p.Token(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("second attempt after %v, want the 7s Retry-After", d)
		}
	})
}

// Retry-After may be an HTTP-date (RFC 9110) rather than seconds: the pool
// waits until that date too.
func TestTokenEndpointRetryAfterDate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		f := &fakeLogin{fail: func(n int64) bool { return n == 1 }, retryAfter: start.Add(7 * time.Second).UTC().Format(http.TimeFormat)}
		p := newPool(t, f, auth.Config{Backoff: time.Second, Rand: func() float64 { return 0 }})
		if _, err := p.Token(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("second attempt after %v, want the 7s that Retry-After %q asks", d, f.retryAfter)
		}
	})
}

// BenchmarkPoolToken is the hot path: a valid token, no lock.
func BenchmarkPoolToken(b *testing.B) {
	p := newPool(b, &fakeLogin{}, auth.Config{Policy: auth.PerAgent, Agents: 64})
	ctx := context.Background()
	for a := range 64 {
		if _, err := p.Token(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		a := 0
		for pb.Next() {
			if _, err := p.Token(ctx, a); err != nil {
				b.Fatal(err)
			}
			a++
		}
	})
}
