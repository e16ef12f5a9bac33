package notify

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cxload/cxload/harness/metrics"
)

// The document's websocket figures are aggregated once, by the Recorder:
// the Collector reads them from it, so the clients' Stats and the result
// document agree, and a client with another Recorder is refused.
func TestCollectorReadsItsRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		rec := metrics.NewRecorder()
		col := NewCollector()
		var clients []*Client
		for i := range 2 {
			o := simOptions(t, s, presenceTopic(i))
			o.PingInterval = -1
			o.Collector, o.Recorder = col, rec
			clients = append(clients, mustOpen(t, o))
		}
		clients[0].Expect("corr-1", presenceTopic(0), time.Now())
		setPresence(t, s, simOptions(t, s), 0, "corr-1")
		time.Sleep(95 * time.Second)
		synctest.Wait()

		st, ws := col.Stats(), rec.Snapshot().WebSocket
		if ws == nil {
			t.Fatal("the recorder has no websocket figures")
		}
		for _, c := range []struct {
			name      string
			got, want int64
		}{
			{"connects", st.Connects, 2},
			{"recorder connects", ws.Connects, 2},
			{"heartbeats", st.Heartbeats, ws.Heartbeats},
			{"matched", st.Matched, 1},
			{"recorder events", ws.Events, 1},
			{"push latencies", st.PushLatency.Count, ws.PushLatency.Count()},
		} {
			if c.got != c.want {
				t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
			}
		}
		if st.Heartbeats < 4 {
			t.Errorf("heartbeats = %d after 95 s of two sockets at 30 s, want at least 4", st.Heartbeats)
		}

		o := simOptions(t, s, presenceTopic(2))
		o.Collector, o.Recorder = col, metrics.NewRecorder()
		if c, err := Open(context.Background(), o); err == nil {
			c.Close()
			t.Error("Open with a Collector and another Recorder succeeded, want an error")
		} else if !strings.Contains(err.Error(), "share one Recorder") {
			t.Errorf("Open error = %q, want it to say to share one Recorder", err)
		}
		for _, c := range clients {
			c.Close()
		}
	})
}

// A Collector with no Recorder given aggregates into one of its own.
func TestCollectorOwnRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, notifyProfile(30*time.Second, time.Minute))
		o := simOptions(t, s, presenceTopic(0))
		o.PingInterval = -1
		c := mustOpen(t, o)
		synctest.Wait()
		if st := c.Stats(); st.Connects != 1 {
			t.Errorf("Connects = %d, want 1", st.Connects)
		}
		c.Close()
	})
}
