package api_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
)

// A client for the embedded simulator: a token pool, the profile's limits,
// a recorder, and one request whose result carries the route template.
func ExampleClient_GetJSON() {
	srv := gcsim.NewServer(nil)
	defer srv.Close()

	pool, err := auth.NewPool(auth.Config{
		TokenURL:   srv.URL() + "/oauth/token",
		Clients:    []auth.Credentials{{ClientID: "sim-client", Secret: "sim-secret"}},
		HTTPClient: srv.Client(),
	})
	if err != nil {
		panic(err)
	}
	limits := api.NewLimits(true, nil, api.DefaultBuckets()...)
	rec := metrics.NewRecorder()
	c, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Recorder: rec, Limits: limits, HTTPClient: srv.Client()})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	var queue struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	resp, err := c.GetJSON(context.Background(), "/api/v2/routing/queues/{id}", &queue, gcsim.QueueID(0))
	if err != nil {
		panic(err)
	}
	r := resp.Result
	fmt.Println(resp.Status, queue.Name)
	fmt.Println(r.Method, r.Route, r.Outcome, r.Attempts)
	fmt.Println("rate-limit headers:", r.RateLimit.Allowed > 0, "correlation id:", r.CorrelationID != "")
	// Output:
	// 200 Queue 001
	// GET /api/v2/routing/queues/{id} ok 1
	// rate-limit headers: true correlation id: true
}

// Retry-After comes as seconds or as an HTTP date.
func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	for _, v := range []string{"5", "Thu, 26 Nov 2026 23:01:00 GMT", "soon"} {
		d, ok := api.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 5s true
	// 1m0s true
	// 0s false
}

// A 429 body names the bucket that rejected the request.
func ExampleParseLimitBody() {
	body := []byte(`{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds",
		"code":"too.many.requests","status":429,
		"limit":{"key":"token.rate.per.minute","namespace":"platform.api","value":300}}`)
	lb, ok := api.ParseLimitBody(body)
	fmt.Println(ok, lb.Key, lb.Value, lb.MsgWindow, api.ScopeOfKey(lb.Key))
	// Output:
	// true token.rate.per.minute 300 1m0s token
}

// Route families group endpoints for resource limits.
func ExampleDefaultFamily() {
	fmt.Println(api.DefaultFamily("/api/v2/users/{id}/presences/{source}"))
	fmt.Println(api.DefaultFamily("/api/v2/conversations/{id}/recordingstate"))
	// Output:
	// users.presences
	// conversations.recordingstate
}
