package faultsuite

import (
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/notify"
	"github.com/cxload/cxload/harness/result"
)

func presenceTopic(agent int) string { return "v2.users." + gcsim.UserID(agent) + ".presence" }

// openChannels opens one notification client per agent on the rig, each
// subscribed to its agent's presence topic, sharing col and the rig's
// recorder.
func openChannels(t testing.TB, r *rig, n int, hb time.Duration, col *notify.Collector) []*notify.Client {
	t.Helper()
	out := make([]*notify.Client, n)
	for i := range out {
		o := notify.Options{
			API:               r.api.Agent(i),
			Topics:            []string{presenceTopic(i)},
			Dialer:            &websocket.Dialer{NetDialContext: r.sim.DialContext, ReadBufferSize: 1024, WriteBufferSize: 1024},
			HeartbeatInterval: hb, PingInterval: -1, ExpectTimeout: 30 * time.Second,
			Rand: func() float64 { return 0.5 }, Collector: col, Recorder: r.rec,
		}
		c, err := notify.Open(t.Context(), o)
		if err != nil {
			t.Fatalf("notify.Open %d: %v", i, err)
		}
		out[i] = c
	}
	return out
}

// causeEvents changes every agent's presence once through the API client,
// each change expected on the agent's channel by its correlation id, and
// returns what the callers saw.
func causeEvents(t testing.TB, r *rig, clients []*notify.Client, round int) *load {
	t.Helper()
	l := &load{}
	for i, c := range clients {
		corr := fmt.Sprintf("00000000-0000-4000-8000-%04d%08d", round, i)
		req := patchPresence(i, round)
		req.Header = http.Header{"Inin-Correlation-Id": {corr}}
		c.Expect(corr, presenceTopic(i), time.Now())
		l.issued++
		resp, err := r.api.Agent(i).Do(t.Context(), req)
		if err != nil {
			l.errs = append(l.errs, err)
		}
		if resp != nil {
			l.results = append(l.results, resp.Result)
		}
	}
	return l
}

// TestNotificationFaults: gcsim drops every socket, or sends socket_closing
// to every socket (a maintenance storm), three times while agents cause
// events on their channels. Each client recovers (one socket per agent at
// the end, none given up), every expected event is delivered or counted
// lost (a storm loses none), and the document's websocket part agrees with
// the clients.
func TestNotificationFaults(t *testing.T) {
	const (
		agents = 6
		rounds = 3
		hb     = 5 * time.Second
	)
	for _, tc := range []struct {
		name  string
		fault gcsim.Faults
		check func(t *testing.T, st notify.Stats, sim gcsim.Stats, ws *result.WebSocketStats)
	}{
		{
			name:  "drops",
			fault: gcsim.Faults{DropSockets: true},
			check: func(t *testing.T, st notify.Stats, sim gcsim.Stats, ws *result.WebSocketStats) {
				if sim.Faults.SocketDrops != rounds || sim.Sockets.Drops != agents*rounds {
					t.Errorf("gcsim dropped %d sockets in %d faults, want %d in %d", sim.Sockets.Drops, sim.Faults.SocketDrops, agents*rounds, rounds)
				}
				if st.Drops != agents*rounds || st.Reconnects != agents*rounds || ws.Drops != st.Drops || ws.Reconnects != st.Reconnects {
					t.Errorf("clients saw %d drops and %d reconnects, document %d and %d; want %d each",
						st.Drops, st.Reconnects, ws.Drops, ws.Reconnects, agents*rounds)
				}
			},
		},
		{
			name:  "socket_closing storms",
			fault: gcsim.Faults{SocketClosing: true},
			check: func(t *testing.T, st notify.Stats, sim gcsim.Stats, ws *result.WebSocketStats) {
				if sim.Faults.SocketClosingStorms != rounds || sim.Sockets.SocketClosings != agents*rounds {
					t.Errorf("gcsim sent %d socket_closing in %d storms, want %d in %d", sim.Sockets.SocketClosings, sim.Faults.SocketClosingStorms, agents*rounds, rounds)
				}
				if st.Switchovers != agents*rounds || st.Drops != 0 || ws.Drops != 0 || ws.Reconnects != agents*rounds {
					t.Errorf("clients: %d switchovers, %d drops; document %d drops, %d reconnects; want %d switchovers and reconnects, no drop",
						st.Switchovers, st.Drops, ws.Drops, ws.Reconnects, agents*rounds)
				}
				// Events sent in the grace period arrive on the old socket,
				// or on both: none may be doubled, and none should be lost.
				if st.Events != st.Matched {
					t.Errorf("%d events delivered for %d matched: a storm doubled events", st.Events, st.Matched)
				}
				// The client reads the old socket until gcsim answers its
				// close frame, and gcsim answers it after the events queued
				// for that socket: an event published after the new channel
				// was subscribed but before its socket connected, queued to
				// the old socket only, still arrives.
				if st.Lost != 0 {
					t.Errorf("%d of %d events caused at a socket_closing storm were lost; want none: every event the server sent to either socket must arrive",
						st.Lost, st.Expected)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, rigConfig{
					profile: func(p *gcsim.Profile) {
						p.Notifications.HeartbeatInterval = gcsim.Duration(hb)
						p.Notifications.SocketClosingGrace = gcsim.Duration(3 * time.Second)
						p.Notifications.MaxChannelsPerOwner = 4 * agents
					},
					api: api.Config{Retry: api.RetryPolicy{MaxAttempts: 1}, Agents: agents},
				})
				col := notify.NewCollector()
				clients := openChannels(t, r, agents, hb, col)
				synctest.Wait()
				all := &load{}
				add := func(l *load) {
					all.issued += l.issued
					all.results = append(all.results, l.results...)
					all.errs = append(all.errs, l.errs...)
				}
				start := time.Now()
				for round := range rounds {
					add(causeEvents(t, r, clients, 2*round)) // before the fault: delivered
					synctest.Wait()
					r.sim.SetFaults(tc.fault)
					add(causeEvents(t, r, clients, 2*round+1)) // at the fault
					time.Sleep(4 * hb)                         // recovery and a few heartbeats
					synctest.Wait()
				}
				if d := time.Since(start); d != rounds*4*hb {
					t.Errorf("the rounds took %v, want %v", d, rounds*4*hb)
				}
				if got := r.sim.Stats().Sockets.Sockets; got != agents {
					t.Errorf("gcsim holds %d sockets after the faults, want %d (one per agent)", got, agents)
				}
				for i, c := range clients {
					if err := c.Close(); err != nil {
						t.Errorf("client %d: Close: %v", i, err)
					}
					if err := c.Err(); err != nil {
						t.Errorf("client %d gave up: %v", i, err)
					}
				}
				synctest.Wait()
				st := col.Stats()
				if st.Failures != 0 {
					t.Errorf("%d clients gave up", st.Failures)
				}
				if st.Expected != int64(2*rounds*agents) || st.Matched+st.Lost != st.Expected {
					t.Errorf("%d expected events (want %d): %d matched + %d lost; every expected event must be delivered or counted lost",
						st.Expected, 2*rounds*agents, st.Matched, st.Lost)
				}
				doc := checkAccounted(t, r, all, http.MethodPatch, "/api/v2/users/{id}/presences/{source}")
				if doc.Op("presence.set").Outcome(result.OK) != all.issued {
					t.Errorf("presence changes: %v; want all ok", doc.Op("presence.set").Outcomes)
				}
				// The channels' REST calls go through the API client: recorded
				// as operations, one per request the simulator answered.
				for _, c := range []struct{ op, method, route string }{
					{notify.OpChannelCreate, http.MethodPost, "/api/v2/notifications/channels"},
					{notify.OpChannelSubscribe, http.MethodPut, "/api/v2/notifications/channels/{id}/subscriptions"},
				} {
					got, want := int64(0), routeCount(r.sim.Stats(), c.method, c.route)
					if o := doc.Op(c.op); o != nil {
						got = o.Count
					}
					if got != want || want == 0 {
						t.Errorf("%s: the document counts %d, the simulator answered %d %s %s", c.op, got, want, c.method, c.route)
					}
				}
				ws := doc.WebSocket
				if ws == nil {
					t.Fatal("the document has no websocket part")
				}
				if ws.Lost != st.Lost || ws.Connects != st.Connects {
					t.Errorf("document websocket %+v disagrees with the clients: %d connects, %d lost", *ws, st.Connects, st.Lost)
				}
				tc.check(t, st, r.sim.Stats(), ws)
				t.Logf("%s: %d connects, %d drops, %d switchovers, %d expected, %d matched, %d lost, longest recovery %v",
					tc.name, st.Connects, st.Drops, st.Switchovers, st.Expected, st.Matched, st.Lost, st.MaxRecoverTime)
			})
		})
	}
}
