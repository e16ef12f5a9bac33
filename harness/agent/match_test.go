package agent_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/notify"
)

// TestContentMatchingWithoutEcho: on a simulator that does not echo
// correlation ids, the agents' events on shared channels are matched to
// their requests by content: presence and routing status when they go on
// queue, the call state when one answers and hangs up. None is lost.
func TestContentMatchingWithoutEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 6
		p := gcsim.DefaultProfile()
		p.Notifications.EchoCorrelationID = false
		srv := gcsim.NewUnstartedServer(p)
		srv.Listener.Close()
		srv.Listener = gcsim.NewPipeListener()
		srv.Start()
		pool, err := auth.NewPool(auth.Config{TokenURL: srv.URL() + "/oauth/token", HTTPClient: srv.Client(), CreateLimit: rate.Inf,
			Clients: []auth.Credentials{{ClientID: gcsim.DefaultClientID, Secret: gcsim.DefaultClientSecret}}, Policy: auth.Shared, Agents: n})
		if err != nil {
			t.Fatal(err)
		}
		rec := metrics.NewRecorder()
		c, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Recorder: rec, HTTPClient: srv.Client(), Agents: n})
		if err != nil {
			t.Fatal(err)
		}
		s := &sim{srv: srv, api: c, rec: rec}
		t.Cleanup(func() {
			c.Close()
			srv.Client().CloseIdleConnections()
			srv.Close()
		})
		col := notify.NewCollector()
		chans := &agent.Channels{Tokens: pool, Options: notify.Options{API: c, Collector: col, Recorder: rec,
			Dialer: &websocket.Dialer{NetDialContext: srv.DialContext, ReadBufferSize: 1024, WriteBufferSize: 1024}}}
		pop := s.populationWith(t, n, agent.Config{Channel: chans.Open, PushLatency: true})
		ctx := t.Context()
		for _, a := range pop.Agents() {
			if err := a.SubscribeTopics(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.GoOnQueue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		a := pop.Agent(0)
		if _, err := srv.InjectUserCall(a.User.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		octx, cancel := context.WithTimeout(ctx, time.Second)
		o, err := a.NextOffer(octx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Answer(ctx, o); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := a.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st := col.Stats()
		if want := int64(2*n + 2); st.Expected != want || st.Matched != want || st.MatchedByContent != want || st.Lost != 0 {
			t.Errorf("expected %d, matched %d (by content %d), lost %d; want %d, all by content, none lost",
				st.Expected, st.Matched, st.MatchedByContent, st.Lost, want)
		}
	})
}
