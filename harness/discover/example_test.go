package discover_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/discover"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// Discovering the limit behind the queues route on the embedded simulator,
// whose profile allows 20 requests per token per minute.
func ExampleRun() {
	p := gcsim.DefaultProfile()
	p.Limits = []gcsim.Limit{{Key: genesys.KeyClientCredentialsToken, Namespace: genesys.NamespacePlatformAPI,
		Scope: genesys.ScopeToken, Allowed: 20, Window: gcsim.Duration(time.Minute)}}
	srv := gcsim.NewServer(p)
	defer srv.Close()

	// One token per agent over the profile's two OAuth clients, no
	// client-side limiting, no retries.
	pool, err := auth.NewPool(auth.Config{TokenURL: srv.URL() + "/oauth/token", Policy: auth.PerAgent, Agents: 16,
		Clients:    []auth.Credentials{{ClientID: "sim-client", Secret: "sim-secret"}, {ClientID: "sim-client-2", Secret: "sim-secret-2"}},
		HTTPClient: srv.Client(), CreateLimit: rate.Inf})
	if err != nil {
		panic(err)
	}
	c, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, HTTPClient: srv.Client(),
		Limits: api.ObserveLimits(nil), Retry: api.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	queues := discover.Probe{Family: genesys.FamilyQueues, Request: func() *api.Request {
		return &api.Request{Op: "probe queues", Method: http.MethodGet, Route: "/api/v2/routing/queues"}
	}}
	declared, err := api.FetchLimits(context.Background(), c) // what the organization lists
	if err != nil {
		panic(err)
	}
	res, err := discover.Run(context.Background(), discover.Config{Client: c, Clients: 2, Probes: []discover.Probe{queues}, Declared: declared})
	if err != nil {
		panic(err)
	}
	for _, l := range res.Limits {
		fmt.Printf("%s: %d per %v (from the %s), scope %s, hidden %v\n", l.Key, l.Allowed, l.Window, l.WindowSource, l.Scope, l.Hidden)
	}
	// Output:
	// client.credentials.token.rate.per.minute: 20 per 1m0s (from the inin-ratelimit-reset at the first request), scope token, hidden false
}
