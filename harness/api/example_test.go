package api_test

import (
	"context"
	"fmt"

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
	limits := api.NewLimits(nil, api.DefaultBuckets()...)
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
