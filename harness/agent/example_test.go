package agent_test

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
)

// A population of 3 agents on the simulator goes on queue; each helper is a
// named operation in the recorder.
func ExamplePopulation() {
	srv := gcsim.NewServer(nil)
	defer srv.Close()
	pool, err := auth.NewPool(auth.Config{
		TokenURL:    srv.URL() + "/oauth/token",
		Clients:     []auth.Credentials{{ClientID: gcsim.DefaultClientID, Secret: gcsim.DefaultClientSecret}},
		Policy:      auth.PerAgent, // one token per agent
		Agents:      3,
		HTTPClient:  srv.Client(),
		CreateLimit: rate.Inf, // the simulator allows 300 token creations per minute
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := metrics.NewRecorder()
	client, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Recorder: rec, HTTPClient: srv.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	ctx := context.Background()
	users, err := agent.LoadUsers(ctx, client, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	pop, err := agent.NewPopulation(agent.Config{API: client, Users: users})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pop.Close()
	for _, a := range pop.Agents() {
		if err := a.GoOnQueue(ctx); err != nil {
			fmt.Println(err)
			return
		}
		st := a.State()
		fmt.Println(a, st.PresenceName, st.RoutingStatus)
	}
	doc := rec.Snapshot()
	for _, op := range []string{agent.OpPresenceSet, agent.OpRoutingStatusGet} {
		fmt.Println(op, doc.Op(op).Count)
	}
	// Output:
	// agent 0 (Agent 0001) On Queue IDLE
	// agent 1 (Agent 0002) On Queue IDLE
	// agent 2 (Agent 0003) On Queue IDLE
	// presence.set 3
	// routingstatus.get 3
}
