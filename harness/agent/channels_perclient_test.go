package agent_test

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
)

// Agents open their channels as Genesys allows with the pool the shift
// scenario uses for client-credentials tokens (auth.PerClient, two tokens
// of one OAuth client): more agents than one OAuth client may hold
// channels (20) share its channels, on a simulator that keeps Genesys'
// limit, and no channel is evicted.
func TestSharedChannelsPerClientPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = notify.MaxChannelsPerUser + 5
		srv := gcsim.NewUnstartedServer(nil)
		srv.Listener.Close()
		srv.Listener = gcsim.NewPipeListener()
		srv.Start()
		if got := srv.Profile().Notifications.MaxChannelsPerOwner; got != notify.MaxChannelsPerUser {
			t.Fatalf("the simulator allows %d channels per OAuth client, want Genesys' %d", got, notify.MaxChannelsPerUser)
		}
		pool, err := auth.NewPool(auth.Config{
			TokenURL: srv.URL() + "/oauth/token",
			Clients:  []auth.Credentials{{ClientID: gcsim.DefaultClientID, Secret: gcsim.DefaultClientSecret}},
			Policy:   auth.PerClient, TokensPerClient: 2, Agents: n,
			HTTPClient: srv.Client(), CreateLimit: rate.Inf,
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Recorder: metrics.NewRecorder(), HTTPClient: srv.Client(), Agents: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.Close()
			srv.Client().CloseIdleConnections()
			srv.Close()
		})
		col := notify.NewCollector()
		chans := &agent.Channels{ // Genesys' limits: no MaxTopicsPerChannel, MaxChannelsPerClient
			Options: notify.Options{API: c, Collector: col,
				Dialer: &websocket.Dialer{NetDialContext: srv.DialContext, ReadBufferSize: 1024, WriteBufferSize: 1024}},
			Tokens: pool,
		}
		users, err := agent.LoadUsers(t.Context(), c, n)
		if err != nil {
			t.Fatal(err)
		}
		pop, err := agent.NewPopulation(agent.Config{API: c, Users: users, Channel: chans.Open})
		if err != nil {
			t.Fatal(err)
		}
		defer pop.Close()
		var wg sync.WaitGroup
		for _, a := range pop.Agents() {
			wg.Go(func() {
				if err := a.SubscribeTopics(t.Context()); err != nil {
					t.Errorf("%v: opening its channel: %v", a, err)
				}
			})
		}
		wg.Wait()
		if got := chans.Count(); got > notify.MaxChannelsPerUser {
			t.Errorf("%d agents opened %d channels on one OAuth client, over Genesys' %d", n, got, notify.MaxChannelsPerUser)
		}
		if got, want := chans.Summary(), "25 agents' topics on 1 channels of 1 OAuth clients"; got != want {
			t.Errorf("Summary() = %q, want %q (shared channels of the OAuth client)", got, want)
		}
		if ev := col.Stats().Evictions; ev != 0 {
			t.Errorf("%d channels evicted, want none", ev)
		}
	})
}
