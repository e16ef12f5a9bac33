//go:build load

package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/result"
)

// Operation names of the requests the scenarios send themselves (the agent
// helpers name theirs, e.g. agent.OpPresenceSet).
const (
	opRecordingSet   = agent.OpRecordingSet // PATCH /api/v2/conversations/{id}/recordingstate
	opScreenStart    = "screenrecordings.start"
	opQueuesList     = "queues.list"
	opDetailsQuery   = "analytics.details.query"
	opChannelCreate  = "channel.create"
	opChannelSub     = "channel.subscribe"
	routeRecording   = "/api/v2/conversations/{id}/recordingstate"
	routeScreenStart = "/api/v2/analytics/screenrecordings/{recordingId}/start"
	routeQueues      = "/api/v2/routing/queues"
	routeDetails     = "/api/v2/analytics/conversations/details/query"
	routeCalls       = "/api/v2/conversations/calls"
	routeChannels    = "/api/v2/notifications/channels"
	routeChannelSubs = "/api/v2/notifications/channels/{id}/subscriptions"
)

// parallel runs f(i) for i in [0, n) on at most workers goroutines and
// returns the first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n || ctx.Err() != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := f(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// createCalls places one call to each of the given agents (callUserId) and
// returns the conversation ids by agent id.
func createCalls(ctx context.Context, c *api.Client, users []agent.User, ids []int) (map[int]string, error) {
	out := make(map[int]string, len(ids))
	var mu sync.Mutex
	err := parallel(ctx, len(ids), 8, func(ctx context.Context, i int) error {
		k := ids[i]
		var body struct {
			ID string `json:"id"`
		}
		req := &api.Request{Op: agent.OpCallCreate, Method: http.MethodPost, Route: routeCalls}
		if _, err := c.Agent(k).DoJSON(ctx, req, map[string]string{"callUserId": users[k].ID}, &body); err != nil {
			return fmt.Errorf("placing a call to agent %d: %w", k, err)
		}
		mu.Lock()
		out[k] = body.ID
		mu.Unlock()
		return nil
	})
	return out, err
}

// recordingToggle returns the request that sets the recording state of conv:
// paused on even iterations, active on odd ones (calls start active).
func recordingToggle(conv string, n uint64, intended time.Time) *api.Request {
	state := "paused"
	if n%2 == 1 {
		state = "active"
	}
	body, _ := json.Marshal(map[string]string{"recordingState": state})
	return &api.Request{Op: opRecordingSet, Method: http.MethodPatch, Route: routeRecording, Params: []string{conv},
		Body: body, Intended: intended}
}

// sizePool is capacity.Size for a scenario: a rate it cannot plan for
// ends the test.
func sizePool(t testing.TB, buckets []api.Bucket, family string, rate float64, available int) capacity.Pool {
	t.Helper()
	p, err := capacity.Size(buckets, family, rate, available)
	if err != nil {
		t.Fatalf("loadtest: sizing the token pool for %s: %v", family, err)
	}
	return p
}

// profileLimit returns the limit of p named key, if any.
func profileLimit(p *gcsim.Profile, key string) (gcsim.Limit, bool) {
	if p == nil {
		return gcsim.Limit{}, false
	}
	for _, l := range p.Limits {
		if l.Key == key {
			return l, true
		}
	}
	return gcsim.Limit{}, false
}

// realBuckets returns the target's known limits with their real windows
// (before a -short window scaling), unsplit.
func (r *rig) realBuckets() []api.Bucket {
	bs := r.tg.Buckets()
	if r.scale <= 1 || r.real == nil {
		return bs
	}
	for i := range bs {
		if l, ok := profileLimit(r.real, bs[i].Key); ok {
			bs[i].Window = l.Window.Std()
		}
	}
	return bs
}

// scaleNote says how the simulator's windows were shortened, "" if not.
func (r *rig) scaleNote() string {
	if r.scale <= 1 {
		return ""
	}
	return fmt.Sprintf("To fit -short, the simulator ran with every rate-limit window divided by %g (e.g. 60s → %v), same allowed counts; the limits and rates quoted here are for the profile's real windows.",
		r.scale, time.Duration(float64(time.Minute)/r.scale).Round(time.Millisecond))
}

// reset empties the simulator's rate-limit windows between phases; on a
// tenant it waits until the windows the previous phase filled have passed.
func (r *rig) reset(wait time.Duration) {
	r.t.Helper()
	switch {
	case r.tg != nil && r.tg.Sim != nil:
		r.tg.Sim.Reset()
	case r.ext != "":
		resp, err := r.hc.Post(r.ext+"/admin/reset", "application/json", nil)
		if err != nil {
			r.t.Fatalf("loadtest: POST %s/admin/reset: %v", r.ext, err)
		}
		resp.Body.Close()
	default:
		if wait > 0 {
			logf(r.t, "waiting %v for the tenant's rate-limit windows to pass", wait)
			select {
			case <-time.After(wait):
			case <-r.ctx.Done():
			}
		}
	}
}

// withT returns a copy of r reporting to t (a subtest).
func (r *rig) withT(t testing.TB) *rig {
	c := *r
	c.t = t
	return &c
}

// topFinding returns the server-side limit that rejected the most requests.
func topFinding(doc *result.Document) (result.RateLimitObservation, bool) {
	var best result.RateLimitObservation
	found := false
	for _, rl := range doc.RateLimits {
		if rl.Source != "server" {
			continue
		}
		if !found || rl.Rejected > best.Rejected {
			best, found = rl, true
		}
	}
	return best, found
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// plan is a harness.Plan with the estimate filled in.
func plan(agents int, rate float64, d time.Duration, requests int64) harness.Plan {
	return harness.Plan{Agents: agents, Rate: rate, Duration: d, Requests: requests}
}

// ceilDiv is ⌈a/b⌉ for positive b.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
