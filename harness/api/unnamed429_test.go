package api_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/metrics"
)

// A 429 without a limit in its body or headers (an edge's or a gateway's,
// an HTML page) is retried after its Retry-After and reported under
// api.UnnamedLimit, rejected once and recovered; the client learns no
// bucket from it.
func TestUnnamed429CountedNotFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		lim := api.NewLimits(nil)
		rec := metrics.NewRecorder()
		c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "2")
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte("<html><body>Too Many Requests</body></html>"))
			}
		}, api.Config{Limits: lim, Recorder: rec})
		resp, err := c.Do(t.Context(), &api.Request{Op: "users.list", Method: "GET", Route: "/api/v2/users"})
		if err != nil || resp.Status != http.StatusOK || resp.Result.Attempts != 2 {
			t.Fatalf("Do = %+v, %v; want 200 after a retry", resp, err)
		}
		for _, b := range lim.Buckets() {
			if b.Key == "" {
				t.Errorf("a bucket without a key was learned: %+v", b)
			}
		}
		doc := rec.Snapshot()
		if len(doc.RateLimits) != 1 {
			t.Fatalf("rate limits %+v: want the unnamed one", doc.RateLimits)
		}
		if rl := doc.RateLimits[0]; rl.Key != api.UnnamedLimit || rl.Rejected != 1 || rl.Recovered != 1 || rl.Source != "server" {
			t.Errorf("rate limit %+v: want %s, 1 rejected, recovered, from the server", rl, api.UnnamedLimit)
		}
	})
}
