package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/notify"
)

// sharedChannels opens n agents' channels on one OAuth client's shared
// channels of maxTopics topics, at most maxChannels of them.
func sharedChannels(t *testing.T, n, maxTopics, maxChannels int) (*sim, *agent.Population, *agent.Channels, *notify.Collector, []error) {
	s, pool := newSimPool(t, n, auth.Shared)
	col := notify.NewCollector()
	chans := &agent.Channels{
		Options: notify.Options{API: s.api, Collector: col, Recorder: s.rec,
			Dialer: &websocket.Dialer{NetDialContext: s.srv.DialContext, ReadBufferSize: 1024, WriteBufferSize: 1024}},
		Tokens: pool, MaxTopicsPerChannel: maxTopics, MaxChannelsPerClient: maxChannels,
	}
	p := s.populationWith(t, n, agent.Config{Channel: chans.Open, PushLatency: true})
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, a := range p.Agents() {
		wg.Go(func() {
			if err := a.SubscribeTopics(t.Context()); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return s, p, chans, col, errs
}

// TestSharedChannels: 50 agents of one OAuth client, 4 topics each, on
// channels of at most 80 topics share 3 channels; each agent's events
// (its presence and routing status, its offered calls) reach it and no
// other agent, and push latency is measured on the shared channels.
func TestSharedChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 50
		s, p, chans, col, errs := sharedChannels(t, n, 80, 20)
		if len(errs) > 0 {
			t.Fatal(errs[0])
		}
		if got, want := chans.Summary(), "50 agents' topics on 3 channels of 1 OAuth clients"; got != want {
			t.Errorf("Summary() = %q, want %q", got, want)
		}
		ctx := t.Context()
		for _, a := range p.Agents() {
			if err := a.GoOnQueue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		st := col.Stats()
		if st.Connects != 3 || st.Evictions != 0 || st.Drops != 0 {
			t.Errorf("notify stats: %d connects, %d evictions, %d drops; want 3, 0, 0", st.Connects, st.Evictions, st.Drops)
		}
		if st.Matched != 2*n || st.Lost != 0 {
			t.Errorf("push latency: %d matched, %d lost; want %d and 0", st.Matched, st.Lost, 2*n)
		}
		// A call to agent k is offered to agent k only, whichever channel carries it.
		for _, k := range []int{0, 19, 20, 49} {
			a := p.Agent(k)
			conv, err := s.srv.InjectUserCall(a.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			for _, b := range p.Agents() {
				octx, cancel := context.WithTimeout(ctx, time.Millisecond)
				o, err := b.NextOffer(octx)
				cancel()
				switch {
				case b == a && (err != nil || o.ConversationID != conv):
					t.Errorf("agent %d: offer %+v, %v; want call %s", k, o, err, conv)
				case b != a && err == nil:
					t.Errorf("call to agent %d offered to %v", k, b)
				}
			}
		}
		// A later subscription stays on the agent's channel: refused on the
		// two full channels (80 topics), accepted on the third (40).
		added, full := 0, 0
		for _, a := range p.Agents() {
			err := a.SubscribeTopics(ctx, "v2.users."+a.User.ID+".station")
			switch {
			case err == nil:
				added++
			case strings.Contains(err.Error(), "80 of 80 topics"):
				full++
			default:
				t.Errorf("%v: adding a topic: %v", a, err)
			}
		}
		if added != 10 || full != 40 {
			t.Errorf("adding a topic: %d agents added it, %d refused (full channel); want 10 and 40", added, full)
		}
	})
}

// TestSharedChannelsCap: with at most 2 channels of 80 topics per client,
// 40 agents fit and the others are refused with the fix.
func TestSharedChannelsCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, chans, col, errs := sharedChannels(t, 50, 80, 2)
		if len(errs) != 10 {
			t.Fatalf("%d agents refused, want 10: %v", len(errs), errs)
		}
		if msg := errs[0].Error(); !strings.Contains(msg, "already has 2 channels") || !strings.Contains(msg, "add OAuth clients, or give agents user tokens") {
			t.Errorf("refusal = %q, want the limit and the fix", msg)
		}
		if got := col.Stats().Connects; got != 2 {
			t.Errorf("%d channels opened, want 2", got)
		}
		if got, want := chans.Summary(), "40 agents' topics on 2 channels of 1 OAuth clients"; got != want {
			t.Errorf("Summary() = %q, want %q", got, want)
		}
	})
}

func TestCheckChannels(t *testing.T) {
	tests := []struct {
		agents, topics, clients int
		perUser                 bool
		want, wantErr           string
	}{
		// 250 agents of 4 topics fill one channel.
		{250, 4, 1, false, "250 agents' topics on 1 channels of 1 OAuth clients", ""},
		{251, 4, 1, false, "251 agents' topics on 2 channels of 1 OAuth clients", ""},
		// 20 channels × 250 agents is one client's most.
		{5000, 4, 1, false, "5000 agents' topics on 20 channels of 1 OAuth clients", ""},
		{5001, 4, 1, false, "", "use 2 OAuth clients, or user tokens"},
		{5001, 4, 2, false, "5001 agents' topics on 21 channels of 2 OAuth clients", ""},
		// Fewer agents than clients: unused clients are not counted.
		{3, 4, 9, false, "3 agents' topics on 3 channels of 3 OAuth clients", ""},
		{10000, 4, 1, true, "10000 agents on their own channels", ""},
		{10, 1001, 1, true, "", "exceed Genesys' 1000 per channel"},
		{10, 4, 0, false, "", "give at least one"},
	}
	for _, tt := range tests {
		got, err := agent.CheckChannels(tt.agents, tt.topics, tt.clients, tt.perUser)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CheckChannels(%d, %d, %d, %v) = %q, %v; want an error containing %q", tt.agents, tt.topics, tt.clients, tt.perUser, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CheckChannels(%d, %d, %d, %v) = %q, %v; want %q", tt.agents, tt.topics, tt.clients, tt.perUser, got, err, tt.want)
		}
	}
}
