package faultsuite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/result"
)

// corrupter wraps gcsim's handler and corrupts some of its answers, a
// fault gcsim does not inject: gcsim handles (and counts) every request,
// then the answer it wrote is replaced.
type corrupter struct {
	next http.Handler
	mu   sync.Mutex
	n    map[string]int  // requests seen per kind
	seen map[string]bool // presence requests seen (path and body)
	// corrupted answers, per kind
	truncated, bad429, badToken int
}

func (c *corrupter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := ""
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/oauth/token":
		kind = "token"
	case r.Method == http.MethodGet && r.URL.Path == queuesRoute:
		kind = "queues"
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/v2/users/"):
		kind = "presence"
	default:
		c.next.ServeHTTP(w, r)
		return
	}
	// A logical presence request is its path and body (distinct per request
	// in the test): its first attempt gets the garbage 429, its retry not.
	first := false
	if kind == "presence" {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		key := r.URL.Path + " " + string(b)
		c.mu.Lock()
		first = !c.seen[key]
		c.seen[key] = true
		c.mu.Unlock()
	}
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, r)
	c.mu.Lock()
	c.n[kind]++
	n := c.n[kind]
	c.mu.Unlock()
	body := rec.Body.Bytes()
	status := rec.Code
	switch {
	case kind == "token" && n == 1:
		// The first token answer is cut in the middle of the token.
		c.mu.Lock()
		c.badToken++
		c.mu.Unlock()
		body = body[:len(body)/2]
	case kind == "queues" && n%2 == 0:
		c.mu.Lock()
		c.truncated++
		c.mu.Unlock()
		body = body[:len(body)/2]
	case kind == "presence" && first:
		// A 429 whose body and Retry-After are garbage.
		c.mu.Lock()
		c.bad429++
		c.mu.Unlock()
		status, body = http.StatusTooManyRequests, []byte(`{"message":"Rate limit exceeded","code":"too.many.requests","limit":{"key":42,`)
		rec.Header().Set("Retry-After", "soon")
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// TestMalformedAnswers: truncated JSON from the token endpoint and the API,
// and 429s with a garbage body and Retry-After. The pool retries the bad
// token answer; a truncated 200 gives the caller an error naming the
// request and the type; each presence change's first answer is a garbage
// 429, retried (after the window reset the real headers announce). Every
// request is accounted for once, a truncated 200 as a failure
// (server_error, its status and the decoding error kept) in the caller's
// Result and the document alike, and nothing panics.
func TestMalformedAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &corrupter{n: map[string]int{}, seen: map[string]bool{}}
		r := newRig(t, rigConfig{
			wrap: func(next http.Handler) http.Handler { c.next = next; return c },
			auth: auth.Config{Policy: auth.Shared, TokensPerClient: 1, MaxAttempts: 3, Backoff: time.Second, Rand: func() float64 { return 0.5 }},
			api:  api.Config{Retry: api.RetryPolicy{MaxAttempts: 3, Backoff: time.Second, Jitter: -1, RetryUnsafe: true}, Agents: 4},
		})
		type queues struct {
			Entities []struct{ ID, Name string }
		}
		l := r.runWith(t, 4, 6, 5*time.Minute, func(ctx context.Context, cl *api.Client, a, i int) (*api.Response, error) {
			if i%2 == 0 {
				var q queues
				resp, err := cl.DoJSON(ctx, getQueues(a, i), nil, &q)
				if err == nil && len(q.Entities) == 0 {
					t.Errorf("GetJSON succeeded with no queues")
				}
				return resp, err
			}
			return cl.Do(ctx, patchPresence(a, i))
		})
		synctest.Wait()

		ps := r.pool.Stats()
		if c.badToken != 1 || ps.Failures != 1 || ps.Created != 1 {
			t.Errorf("pool: %d created, %d failed; want the truncated token answer (1) failed and retried once", ps.Created, ps.Failures)
		}
		if c.truncated == 0 || c.bad429 == 0 {
			t.Fatalf("corrupted nothing: %d truncated, %d bad 429s", c.truncated, c.bad429)
		}
		decodeErrs := 0
		for _, err := range l.errs {
			msg := err.Error()
			if strings.Contains(msg, "decoding 200 response into") {
				decodeErrs++
				if !strings.Contains(msg, "api: GET "+queuesRoute) {
					t.Errorf("decode error does not name the request: %q", msg)
				}
			} else {
				t.Errorf("unexpected error: %v", err)
			}
		}
		if decodeErrs != c.truncated {
			t.Errorf("%d truncated answers, %d decode errors", c.truncated, decodeErrs)
		}
		var retried429, undecodable int64
		for _, res := range l.results {
			if res.Op == "queues.list" && strings.Contains(res.Err, "decoding 200 response into") {
				undecodable++
				if res.Outcome != result.ServerError || res.Status != http.StatusOK {
					t.Errorf("undecodable 200: outcome %v, status %d; want server_error with status 200 kept", res.Outcome, res.Status)
				}
			}
			if res.Op == "presence.set" {
				if res.Outcome != result.OK {
					t.Errorf("presence.set after a garbage 429: %+v; want retried to ok", res)
				}
				retried429 += int64(res.Attempts - 1)
			}
		}
		if undecodable != int64(c.truncated) {
			t.Errorf("%d truncated answers, %d results with a decoding error as reason", c.truncated, undecodable)
		}
		if retried429 != int64(c.bad429) {
			t.Errorf("%d garbage 429s, %d retries", c.bad429, retried429)
		}
		doc := checkAccounted(t, r, l, http.MethodGet, queuesRoute)
		if got := routeCount(r.sim.Stats(), http.MethodPatch, "/api/v2/users/{id}/presences/{source}"); got != doc.Op("presence.set").Attempts {
			t.Errorf("gcsim answered %d presence requests, the document counts %d attempts", got, doc.Op("presence.set").Attempts)
		}
		if got := doc.Op("presence.set").Status429; got != 0 {
			t.Errorf("document counts %d final 429s; the garbage 429s were all retried", got)
		}
		op := doc.Op("queues.list")
		if errs, bad := op.Errors(), op.Outcome(result.ServerError); errs != int64(c.truncated) || bad != int64(c.truncated) {
			t.Errorf("%d answers were undecodable JSON and their callers got errors, but the document counts %d errors, %d server_error for queues.list (outcomes %v)",
				c.truncated, errs, bad, op.Outcomes)
		}
		if ok := op.Outcome(result.OK); ok != op.Count-int64(c.truncated) {
			t.Errorf("document counts %d ok of %d queues.list requests; want all but the %d truncated", ok, op.Count, c.truncated)
		}
	})
}
