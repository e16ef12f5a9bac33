package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/harness/metrics"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 1 * time.Second, Factor: 2}
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0, 50 * time.Millisecond},             // half of Min
		{0, 0.999999, 99999950 * time.Nanosecond}, // just under Min
		{1, 0.5, 150 * time.Millisecond},          // 200ms: 100 + 0.5*100
		{3, 0, 400 * time.Millisecond},            // 800ms / 2
		{4, 0, 500 * time.Millisecond},            // 1600ms capped to Max
		{60, 1, 1 * time.Second},                  // no overflow for large n
	}
	for _, tt := range tests {
		if got := b.Delay(tt.n, tt.r); got != tt.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestDedupe(t *testing.T) {
	ev := func(topic, corr, body string) *envelope {
		e := &envelope{TopicName: topic, EventBody: []byte(body)}
		e.Metadata.CorrelationID = corr
		return e
	}
	d := &dedupe{seen: make(map[uint64][2]int32)}
	steps := []struct {
		slot int
		ev   *envelope
		want bool // delivered
	}{
		{0, ev("a", "c1", "{}"), true},  // old socket first
		{1, ev("a", "c1", "{}"), false}, // same event on the new socket
		{1, ev("a", "c2", "{}"), true},  // another correlation id
		{1, ev("b", "c1", "{}"), true},  // another topic
		{1, ev("a", "c1", "{1}"), true}, // another body
		{1, ev("a", "c1", "{}"), true},  // the same event a second time on new: a real repeat
		{0, ev("a", "c1", "{}"), false}, // ...which old also delivers
		{0, ev("a", "c2", "{}"), false},
	}
	for i, s := range steps {
		if got := d.first(s.slot, s.ev); got != s.want {
			t.Errorf("step %d: first(slot %d, %s/%s) = %v, want %v", i, s.slot, s.ev.TopicName, s.ev.Metadata.CorrelationID, got, s.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	c := newAPI(t, "http://127.0.0.1:1", nil, func(context.Context) (string, error) { return "x", nil })
	tooMany := make([]string, MaxTopicsPerChannel+1)
	for i := range tooMany {
		tooMany[i] = presenceTopic(i)
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no API client", Options{}, "Options.API is nil"},
		{"too many topics", Options{API: c, Topics: tooMany}, "1001 topics; Genesys allows 1000 per channel"},
		{"empty topic", Options{API: c, Topics: []string{"a", ""}}, "Options.Topics[1] is empty"},
	}
	for _, tt := range tests {
		_, err := Open(context.Background(), tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "notify: ") {
			t.Errorf("%s: Open = %v, want error containing %q", tt.name, err, tt.want)
		}
	}

	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, nil)
		// A topic the server rejects: the error names it and the reason.
		_, err := Open(context.Background(), simOptions(t, s, presenceTopic(0), "v2.users.x.bogus"))
		if err == nil || !strings.Contains(err.Error(), `"v2.users.x.bogus" Rejected`) {
			t.Errorf("Open(rejected topic) = %v, want the topic and its rejection", err)
		}
		// A bad token: an HTTPError with the status, and no token in the text.
		o := simOptions(t, s)
		o.API = newAPI(t, s.URL(), s.Client(), func(context.Context) (string, error) { return "secret-token-value", nil })
		_, err = Open(context.Background(), o)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || strings.Contains(err.Error(), "secret-token-value") {
			t.Errorf("Open(bad token) = %v, want a 401 HTTPError without the token", err)
		}
	})
}

func TestHeartbeatsAtInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = 20 * time.Second
		c := mustOpen(t, o)
		time.Sleep(95 * time.Second)
		synctest.Wait()
		st := c.Stats()
		if st.Heartbeats != 3 || len(st.Gaps) != 0 || st.MaxHeartbeatGap > 30*time.Second {
			t.Errorf("after 95 s: Heartbeats %d, Gaps %v, MaxHeartbeatGap %v; want 3, none, <= 30s", st.Heartbeats, st.Gaps, st.MaxHeartbeatGap)
		}
		if st.Pongs != 4 {
			t.Errorf("Pongs %d; want 4 (pings at 20, 40, 60, 80 s)", st.Pongs)
		}
		if st.Connects != 1 || st.Drops != 0 {
			t.Errorf("Connects %d, Drops %d; want 1, 0", st.Connects, st.Drops)
		}
		c.Close()
		if got := c.Stats().Closes; got["1000"] != 1 {
			t.Errorf("after Close: Closes = %v, want one normal closure 1000", got)
		}
	})
}

// step is a message a fake socket sends at offset at from its connect; a
// negative at sends it after the client's close frame, before the close
// answer (RFC 6455 allows data frames until the server's own Close).
type step struct {
	at  time.Duration
	msg string
}

const fakeHeartbeat = `{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`

func heartbeats(offsets ...time.Duration) []step {
	var out []step
	for _, o := range offsets {
		out = append(out, step{o, fakeHeartbeat})
	}
	return out
}

func fakeEvent(corr string) string {
	return `{"topicName":"v2.users.u1.presence","version":"2","eventBody":{"id":"` + corr + `"},"metadata":{"CorrelationId":"` + corr + `"}}`
}

// fakeStreaming is a minimal channel server for what gcsim cannot script:
// POST creates channels c1, c2, ... in turn, and a socket of channel ci
// sends scripts[i-1] (replayed on every connect).
func fakeStreaming(t testing.TB, scripts ...[]step) Options {
	t.Helper()
	l := gcsim.NewPipeListener()
	mux := http.NewServeMux()
	var created atomic.Int64
	mux.HandleFunc("POST /api/v2/notifications/channels", func(w http.ResponseWriter, r *http.Request) {
		n := created.Add(1)
		if n > 1 {
			time.Sleep(time.Second) // a later channel takes 1 s: the old socket's messages arrive first
		}
		fmt.Fprintf(w, `{"id":"c%d","connectUri":"ws://fake/channels/c%d"}`, n, n)
	})
	mux.HandleFunc("PUT /api/v2/notifications/channels/{id}/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"entities":[]}`)
	})
	up := websocket.Upgrader{}
	mux.HandleFunc("GET /channels/{id}", func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.PathValue("id"), "c%d", &i); err != nil || i < 1 || i > len(scripts) {
			http.NotFound(w, r)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.SetCloseHandler(func(int, string) error { return nil }) // answered below
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			for _, st := range scripts[i-1] {
				if st.at < 0 {
					continue
				}
				select {
				case <-done:
					return
				case <-time.After(time.Until(start.Add(st.at))):
				}
				ws.WriteMessage(websocket.TextMessage, []byte(st.msg))
			}
		}()
		for err == nil {
			_, _, err = ws.ReadMessage()
		}
		close(done)
		wg.Wait()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			for _, st := range scripts[i-1] {
				if st.at < 0 {
					ws.WriteMessage(websocket.TextMessage, []byte(st.msg))
				}
			}
			ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(ce.Code, ""), time.Now().Add(time.Second))
		}
	})
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-served })
	return Options{
		API: newAPI(t, "http://fake", &http.Client{Transport: &http.Transport{DialContext: l.DialContext}},
			func(context.Context) (string, error) { return "t", nil }),
		Dialer:       &websocket.Dialer{NetDialContext: l.DialContext},
		Rand:         func() float64 { return 0 },
		PingInterval: -1,
	}
}

func TestSwitchoverDeliversOverlapOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := fakeStreaming(t,
			// c1: warns, then still delivers e1 and e2 before the client closes it.
			[]step{{time.Second, `{"topicName":"v2.system.socket_closing","eventBody":{}}`},
				{time.Second, fakeEvent("e1")}, {time.Second, fakeEvent("e2")}, {time.Second, "not json"}},
			// c2: delivers e2 again (sent to both channels) and e3, then a heartbeat.
			[]step{{0, fakeEvent("e2")}, {0, fakeEvent("e3")}, {30 * time.Second, fakeHeartbeat}},
		)
		c := mustOpen(t, o)
		for _, e := range []string{"e1", "e2", "e3"} {
			c.Expect(e, "", time.Now())
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		st := c.Stats()
		if st.Events != 3 || st.Duplicates != 1 || st.Matched != 3 || st.Lost != 0 {
			t.Errorf("Events %d, Duplicates %d, Matched %d, Lost %d; want 3, 1, 3, 0", st.Events, st.Duplicates, st.Matched, st.Lost)
		}
		if st.Switchovers != 1 || st.Drops != 0 || c.ChannelID() != "c2" || st.Unparsable != 1 {
			t.Errorf("Switchovers %d, Drops %d, channel %s, Unparsable %d; want 1, 0, c2, 1", st.Switchovers, st.Drops, c.ChannelID(), st.Unparsable)
		}
	})
}

// TestSwitchoverReadsOldSocketToItsClose: events the server sends on the
// old socket after the client's close frame, before its close answer, are
// delivered: the client reads the old socket until the close handshake
// completes.
func TestSwitchoverReadsOldSocketToItsClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := fakeStreaming(t,
			// c1: warns; e1 and e2 were queued for it only, and come after
			// the client's close frame.
			[]step{{time.Second, `{"topicName":"v2.system.socket_closing","eventBody":{}}`},
				{-1, fakeEvent("e1")}, {-1, fakeEvent("e2")}},
			[]step{{30 * time.Second, fakeHeartbeat}},
		)
		c := mustOpen(t, o)
		for _, e := range []string{"e1", "e2"} {
			c.Expect(e, "", time.Now())
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		st := c.Stats()
		if st.Events != 2 || st.Matched != 2 || st.Lost != 0 || st.Duplicates != 0 {
			t.Errorf("Events %d, Matched %d, Lost %d, Duplicates %d; want 2, 2, 0, 0", st.Events, st.Matched, st.Lost, st.Duplicates)
		}
		if st.Switchovers != 1 || st.Drops != 0 || c.ChannelID() != "c2" || st.Closes["1000"] != 1 {
			t.Errorf("Switchovers %d, Drops %d, channel %s, Closes %v; want 1, 0, c2, the old socket's handshake answered with 1000",
				st.Switchovers, st.Drops, c.ChannelID(), st.Closes)
		}
	})
}

func TestWithheldHeartbeatIsGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := fakeStreaming(t, heartbeats(30*time.Second, 60*time.Second, 120*time.Second, 150*time.Second)) // the one at 90 s is withheld
		start := time.Now()
		c := mustOpen(t, o)
		time.Sleep(155 * time.Second)
		synctest.Wait()
		st := c.Stats()
		want := Gap{Channel: "c1", From: start.Add(60 * time.Second), To: start.Add(120 * time.Second), Length: 60 * time.Second, Missed: 1}
		if st.Heartbeats != 4 || len(st.Gaps) != 1 || st.Gaps[0] != want {
			t.Fatalf("Heartbeats %d, Gaps %+v; want 4 and %+v", st.Heartbeats, st.Gaps, want)
		}
		if st.MaxHeartbeatGap != 60*time.Second || st.MissedHeartbeats != 1 || st.Drops != 0 {
			t.Errorf("MaxHeartbeatGap %v, MissedHeartbeats %d, Drops %d; want 60s, 1, 0", st.MaxHeartbeatGap, st.MissedHeartbeats, st.Drops)
		}

		// Silence past DeadAfter (3 intervals = 90 s after the last message at
		// 150 s) is a drop; the gap up to it is recorded, and the client
		// reconnects (its first heartbeat on the new socket comes 30 s later).
		time.Sleep(90 * time.Second)
		synctest.Wait()
		st = c.Stats()
		if st.Drops != 1 || st.Reconnects != 1 || st.Closes["error: i/o timeout"] != 1 {
			t.Errorf("after 90 s of silence: Drops %d, Reconnects %d, Closes %v; want 1, 1, one i/o timeout", st.Drops, st.Reconnects, st.Closes)
		}
		if len(st.Gaps) != 2 || st.Gaps[1].From != start.Add(150*time.Second) || st.Gaps[1].Missed != 2 {
			t.Errorf("Gaps = %+v, want a second gap from 150 s with 2 missed", st.Gaps)
		}
	})
}

func TestPushLatencyAndLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(p *gcsim.Profile) {
			p.Faults.Families = map[string]gcsim.FaultSpec{
				genesys.FamilyPresence: {Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(250 * time.Millisecond)}},
			}
		})
		o := simOptions(t, s, presenceTopic(0), presenceTopic(1))
		o.ExpectTimeout = 10 * time.Second
		o.PingInterval = 5 * time.Second
		var got []Event
		var mu sync.Mutex
		o.OnEvent = func(e Event) { mu.Lock(); got = append(got, e); mu.Unlock() }
		c := mustOpen(t, o)

		c.Expect("corr-1", presenceTopic(0), time.Now())
		setPresence(t, s, o, 0, "corr-1")
		c.Expect("corr-2", "", time.Now())
		setPresence(t, s, o, 1, "corr-2")
		c.Expect("never", "", time.Now())
		setPresence(t, s, o, 1, "unexpected") // delivered, not matched
		synctest.Wait()
		st := c.Stats()
		if st.Events != 3 || st.Matched != 2 || st.PushLatency.Count != 2 || !near(st.PushLatency.Max, 250*time.Millisecond) {
			t.Errorf("Events %d, Matched %d, PushLatency %+v; want 3, 2, two of 250ms", st.Events, st.Matched, st.PushLatency)
		}
		if st.EventsPerTopic[presenceTopic(0)] != 1 || st.EventsPerTopic[presenceTopic(1)] != 2 {
			t.Errorf("EventsPerTopic = %v", st.EventsPerTopic)
		}
		mu.Lock()
		if len(got) != 3 || got[0].CorrelationID != "corr-1" || got[0].TopicName != presenceTopic(0) || got[0].Channel != c.ChannelID() {
			t.Errorf("OnEvent got %+v", got)
		}
		mu.Unlock()
		time.Sleep(15 * time.Second) // past ExpectTimeout and a sweep
		if st := c.Stats(); st.Lost != 1 || st.Expected != 3 {
			t.Errorf("Lost %d, Expected %d; want 1, 3", st.Lost, st.Expected)
		}
	})
}

func TestSocketClosingSwitchoverLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Channel calls take 1 s, so the switchover spans several events.
		s := newSim(t, func(p *gcsim.Profile) {
			notifyProfile(30*time.Second, time.Minute)(p)
			p.Faults.Families = map[string]gcsim.FaultSpec{
				genesys.FamilyNotifications: {Latency: gcsim.Latency{Distribution: "fixed", Mean: gcsim.Duration(time.Second)}},
			}
		})
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = -1
		c := mustOpen(t, o)
		first := c.ChannelID()

		// One presence change every 300 ms for 10 s, across the switchover.
		var sent atomic.Int64
		stop := make(chan struct{})
		pubDone := make(chan struct{})
		go func() {
			defer close(pubDone)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(300 * time.Millisecond):
				}
				corr := fmt.Sprintf("corr-%d", i)
				c.Expect(corr, presenceTopic(0), time.Now())
				setPresence(t, s, o, 0, corr)
				sent.Add(1)
			}
		}()
		time.Sleep(2 * time.Second)
		s.SetFaults(gcsim.Faults{SocketClosing: true, Families: s.Faults().Families})
		time.Sleep(8 * time.Second)
		close(stop)
		<-pubDone
		time.Sleep(time.Second)
		synctest.Wait()

		st := c.Stats()
		n := sent.Load()
		if st.SocketClosings != 1 || st.Switchovers != 1 || st.Reconnects != 1 || st.Drops != 0 {
			t.Errorf("SocketClosings %d, Switchovers %d, Reconnects %d, Drops %d; want 1, 1, 1, 0", st.SocketClosings, st.Switchovers, st.Reconnects, st.Drops)
		}
		if st.Expected != n || st.Matched != n || st.Events != n || st.Lost != 0 {
			t.Errorf("sent %d: Expected %d, Matched %d, Events %d, Lost %d; want all %d delivered once", n, st.Expected, st.Matched, st.Events, st.Lost, n)
		}
		if c.ChannelID() == first {
			t.Errorf("channel %s kept after socket_closing, want a new one", first)
		}
		if st.Closes["1000"] != 1 {
			t.Errorf("Closes = %v, want the old socket closed normally by the client", st.Closes)
		}
		t.Logf("sent %d, duplicates %d, recover %v", n, st.Duplicates, st.MaxRecoverTime)
	})
}

// A switchover whose channel requests are refused with 429, as when every
// client of a socket_closing storm asks at once, waits for Retry-After and
// tries again within the grace: the client still switches channels before
// the old socket closes, and nothing counts as a drop.
func TestSocketClosingSwitchoverRetries429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, func(p *gcsim.Profile) {
			notifyProfile(30*time.Second, time.Minute)(p)
			// Opening uses both requests of the window; the switchover's
			// first attempt is refused until the window ends, 10 s after
			// the first request.
			p.Limits = append(p.Limits, gcsim.Limit{Key: "notifications.test.rate", Namespace: "notifications", Scope: genesys.ScopeToken,
				Allowed: 2, Window: gcsim.Duration(10 * time.Second), Families: []string{genesys.FamilyNotifications}})
		})
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = -1
		c := mustOpen(t, o)
		first := c.ChannelID()
		time.Sleep(time.Second)
		s.SetFaults(gcsim.Faults{SocketClosing: true})
		time.Sleep(20 * time.Second)
		synctest.Wait()

		st := c.Stats()
		if st.Switchovers != 1 || st.Drops != 0 || st.Reconnects != 1 {
			t.Errorf("Switchovers %d, Drops %d, Reconnects %d; want 1, 0, 1 (the switchover retried after the 429)", st.Switchovers, st.Drops, st.Reconnects)
		}
		if c.ChannelID() == first {
			t.Errorf("channel %s kept after socket_closing, want a new one", first)
		}
		if st.Closes["1000"] != 1 || len(st.Closes) != 1 {
			t.Errorf("Closes = %v, want only the old socket, closed normally by the client before the grace ended", st.Closes)
		}
		// The window ends 10 s after opening: the switchover waited for it.
		if st.MaxRecoverTime < 8*time.Second || st.MaxRecoverTime > 11*time.Second {
			t.Errorf("switchover took %v, want about 9 s (Retry-After)", st.MaxRecoverTime)
		}
		c.Expect("after", "", time.Now())
		setPresence(t, s, o, 0, "after")
		synctest.Wait()
		if st := c.Stats(); st.Matched != 1 {
			t.Errorf("event after the switchover: Matched %d, want 1", st.Matched)
		}
	})
}

func TestDroppedSocketReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = -1
		rec := metrics.NewRecorder()
		o.Recorder = rec
		c := mustOpen(t, o)
		first := c.ChannelID()
		s.SetFaults(gcsim.Faults{DropSockets: true})
		time.Sleep(time.Second)
		synctest.Wait()
		st := c.Stats()
		// Rand 0.5: the first attempt waits 100ms/2 + 0.5·100ms/2 = 75 ms.
		if st.Drops != 1 || st.Reconnects != 1 || st.Connects != 2 || !near(st.MaxRecoverTime, 75*time.Millisecond) {
			t.Errorf("Drops %d, Reconnects %d, Connects %d, MaxRecoverTime %v; want 1, 1, 2, 75ms", st.Drops, st.Reconnects, st.Connects, st.MaxRecoverTime)
		}
		if st.Closes["1006 unexpected EOF"] != 1 {
			t.Errorf("Closes = %v, want one 1006 unexpected EOF", st.Closes)
		}
		if c.ChannelID() != first {
			t.Errorf("channel changed after a drop, want the same channel reconnected")
		}
		c.Expect("after", "", time.Now())
		setPresence(t, s, o, 0, "after")
		synctest.Wait()
		if st := c.Stats(); st.Matched != 1 {
			t.Errorf("event after reconnect: Matched %d, want 1", st.Matched)
		}
		ws := rec.Snapshot().WebSocket
		if ws == nil || ws.Connects != 2 || ws.Drops != 1 || ws.Reconnects != 1 || ws.Events != 1 || ws.PushLatency.Count() != 1 {
			t.Errorf("Recorder's websocket part = %+v, want 2 connects, 1 drop, 1 reconnect, 1 event with latency", ws)
		}
	})
}

func TestEvictionOf21stChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		base := simOptions(t, s)
		clients := make([]*Client, MaxChannelsPerUser)
		for i := range clients {
			o := base
			o.Topics = []string{presenceTopic(i)}
			o.PingInterval = -1
			o.Collector = NewCollector()
			clients[i] = mustOpen(t, o)
			time.Sleep(time.Millisecond) // distinct use order
		}
		victim := clients[0].ChannelID()
		// A 21st channel of the same app: the least recently used one goes.
		tok, _ := simToken(t, s)(context.Background())
		req, _ := http.NewRequest("POST", s.URL()+"/api/v2/notifications/channels", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST channel: %v %v", resp, err)
		}
		resp.Body.Close()
		time.Sleep(time.Second)
		synctest.Wait()

		st := clients[0].Stats()
		if st.Evictions != 1 || st.Drops != 1 || st.Reconnects != 1 || clients[0].ChannelID() == victim {
			t.Errorf("evicted client: Evictions %d, Drops %d, Reconnects %d, channel changed %v; want 1, 1, 1, true",
				st.Evictions, st.Drops, st.Reconnects, clients[0].ChannelID() != victim)
		}
		for i, c := range clients[1:] {
			if st := c.Stats(); st.Drops != 0 || st.Evictions != 0 {
				t.Errorf("client %d: Drops %d, Evictions %d; want 0 (only the LRU channel is evicted)", i+1, st.Drops, st.Evictions)
			}
		}
		// The recovered client gets its events again.
		clients[0].Expect("e", "", time.Now())
		setPresence(t, s, base, 0, "e")
		synctest.Wait()
		if st := clients[0].Stats(); st.Matched != 1 {
			t.Errorf("after recovery: Matched %d, want 1", st.Matched)
		}
	})
}

// near reports whether a histogram value is want within its precision (3
// significant digits).
func near(got, want time.Duration) bool {
	d := got - want
	return d >= -want/1000 && d <= want/1000
}

func TestWithheldHeartbeatOnGcsim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		start := time.Now() // the hub's heartbeat ticker starts with the server
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = -1
		c := mustOpen(t, o)
		time.Sleep(35 * time.Second)                 // heartbeat at 30 s
		s.SetFaults(gcsim.Faults{SkipHeartbeats: 1}) // the one at 60 s is withheld
		time.Sleep(60 * time.Second)                 // heartbeat at 90 s
		synctest.Wait()
		st := c.Stats()
		want := Gap{Channel: c.ChannelID(), From: start.Add(30 * time.Second), To: start.Add(90 * time.Second), Length: time.Minute, Missed: 1}
		if st.Heartbeats != 2 || len(st.Gaps) != 1 || st.Gaps[0] != want || st.MaxHeartbeatGap != time.Minute {
			t.Errorf("Heartbeats %d, Gaps %+v, MaxHeartbeatGap %v; want 2, [%+v], 1m", st.Heartbeats, st.Gaps, st.MaxHeartbeatGap, want)
		}
	})
}

func TestSubscribeAddsTopics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = -1
		c := mustOpen(t, o)
		if err := c.Subscribe(context.Background(), presenceTopic(1), presenceTopic(0)); err != nil {
			t.Fatalf("Subscribe = %v", err)
		}
		err := c.Subscribe(context.Background(), presenceTopic(2), "v2.users.x.bogus")
		if err == nil || !strings.Contains(err.Error(), `"v2.users.x.bogus" Rejected`) {
			t.Errorf("Subscribe(rejected) = %v, want the topic named", err)
		}
		many := make([]string, MaxTopicsPerChannel)
		for i := range many {
			many[i] = fmt.Sprintf("v2.routing.queues.q%d.users", i)
		}
		if err := c.Subscribe(context.Background(), many...); err == nil || !strings.Contains(err.Error(), "allows 1000 per channel") {
			t.Errorf("Subscribe(1000 more) = %v, want the limit named", err)
		}
		// After a switchover the added topics are on the new channel too.
		s.SetFaults(gcsim.Faults{SocketClosing: true})
		synctest.Wait()
		for i := range 3 {
			c.Expect(fmt.Sprint("c", i), presenceTopic(i), time.Now())
			setPresence(t, s, o, i, fmt.Sprint("c", i))
		}
		synctest.Wait()
		if st := c.Stats(); st.Switchovers != 1 || st.Matched != 3 {
			t.Errorf("after switchover: Switchovers %d, Matched %d; want 1, 3 (topics 0, 1, 2)", st.Switchovers, st.Matched)
		}
	})
}

func TestGivesUpAfterMaxReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = -1
		o.MaxReconnects = 3
		c := mustOpen(t, o)
		s.Close() // the server goes away for good
		select {
		case <-c.Done():
		case <-time.After(time.Minute):
			t.Fatal("client still running a minute after the server closed")
		}
		st := c.Stats()
		err := c.Err()
		if err == nil || !strings.Contains(err.Error(), "gave up after 3 reconnect attempts") || st.Failures != 1 || st.Drops != 1 || st.Reconnects != 0 {
			t.Errorf("Err = %v, Failures %d, Drops %d, Reconnects %d; want gave up after 3, 1, 1, 0", err, st.Failures, st.Drops, st.Reconnects)
		}
		if st.Closes["1001 streaming: server closing"] != 1 {
			t.Errorf("Closes = %v, want the server's 1001", st.Closes)
		}
	})
}
