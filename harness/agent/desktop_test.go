package agent_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
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
	"github.com/cxload/cxload/harness/result"
)

// desktopSim starts the simulator with profile p (nil: the default) on an
// in-memory pipe, and a population of n agents whose channels (harness/
// notify) feed both the agents and d. For tests inside a synctest bubble.
func desktopSim(t *testing.T, p *gcsim.Profile, n int, d *agent.Desktop) (*gcsim.Server, *agent.Population, *metrics.Recorder) {
	t.Helper()
	return desktopSimFiltered(t, p, n, d, nil)
}

// desktopSimFiltered is desktopSim whose desktop sees only the events keep
// keeps (nil: all), as when an event is still on its way.
func desktopSimFiltered(t *testing.T, p *gcsim.Profile, n int, d *agent.Desktop, keep func(notify.Event) bool) (*gcsim.Server, *agent.Population, *metrics.Recorder) {
	t.Helper()
	srv := gcsim.NewUnstartedServer(p)
	srv.Listener.Close()
	srv.Listener = gcsim.NewPipeListener()
	srv.Start()
	pool, err := auth.NewPool(auth.Config{
		TokenURL:    srv.URL() + "/oauth/token",
		Clients:     []auth.Credentials{{ClientID: gcsim.DefaultClientID, Secret: gcsim.DefaultClientSecret}},
		Policy:      auth.PerAgent,
		Agents:      n,
		HTTPClient:  srv.Client(),
		CreateLimit: rate.Inf,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := metrics.NewRecorder()
	c, err := api.New(api.Config{BaseURL: srv.URL(), Tokens: pool, Recorder: rec, HTTPClient: srv.Client(), Agents: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Client().CloseIdleConnections()
		srv.Close()
	})
	users, err := agent.LoadUsers(t.Context(), c, n)
	if err != nil {
		t.Fatal(err)
	}
	onEvent := d.HandleEvent
	if keep != nil {
		onEvent = func(ev notify.Event) {
			if keep(ev) {
				d.HandleEvent(ev)
			}
		}
	}
	opts := notify.Options{API: c, Recorder: rec, OnEvent: onEvent,
		Dialer: &websocket.Dialer{NetDialContext: srv.DialContext, ReadBufferSize: 1024, WriteBufferSize: 1024}}
	pop, err := agent.NewPopulation(agent.Config{API: c, Users: users, Channel: agent.NotifyChannels(opts)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pop.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv, pop, rec
}

// opCount is how many requests o recorded, 0 for none.
func opCount(o *result.OpStats) int64 {
	if o == nil {
		return 0
	}
	return o.Count
}

// runAll runs d for every agent of pop and returns their errors.
func runAll(ctx context.Context, d *agent.Desktop, pop *agent.Population) []error {
	var wg sync.WaitGroup
	as := pop.Agents()
	errs := make([]error, len(as))
	for i, a := range as {
		wg.Go(func() { errs[i] = d.Run(ctx, a) })
	}
	wg.Wait()
	return errs
}

// TestDesktopCalls: with Calls, every agent takes exactly that many calls,
// each queued on its own queue when it is ready; held calls are held once,
// transferred ones come back and are taken again.
func TestDesktopCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const agents, calls = 2, 6 // agents 0 and 1: queues 0 and 1
		var srv *gcsim.Server
		var talking sync.Map
		d := &agent.Desktop{
			Talk: 2 * time.Second, HoldShare: 1, TransferShare: 0.5,
			WrapupCodes: []string{gcsim.WrapupCodeID(0), gcsim.WrapupCodeID(1)}, Seed: 7, Calls: calls,
			Queue: func(ctx context.Context, a *agent.Agent) error {
				_, err := srv.InjectCalls(gcsim.QueueID(a.ID), 1)
				return err
			},
			WhileTalking: func(ctx context.Context, a *agent.Agent, rng *rand.Rand) error {
				n, _ := talking.LoadOrStore(a.ID, new(int))
				*n.(*int)++
				return nil
			},
		}
		srv, pop, rec := desktopSim(t, nil, agents, d)
		for i, err := range runAll(t.Context(), d, pop) {
			if err != nil {
				t.Errorf("agent %d: Run: %v", i, err)
			}
		}
		synctest.Wait()
		st := d.Stats()
		if st.Queued != agents*calls || st.Conversations != agents*calls || st.Answered != st.Conversations+st.Transferred {
			t.Errorf("Stats = queued %d, conversations %d, answered %d, transferred %d; want %d, %d and answered = conversations + transferred",
				st.Queued, st.Conversations, st.Answered, st.Transferred, agents*calls, agents*calls)
		}
		if st.Transferred == 0 || st.Held != st.Answered || st.Missed != 0 || st.Breaks != 0 || st.Requeues != 0 {
			t.Errorf("Stats = %d transferred, %d held, %d missed, %d breaks, %d requeues; want some transferred (share 0.5 of %d), all %d answers held, none of the rest",
				st.Transferred, st.Held, st.Missed, st.Breaks, st.Requeues, st.Answered, st.Answered)
		}
		if len(st.HandleTime) != st.Answered || len(st.SpeedOfAnswer) != st.Conversations || len(st.OfferLatency) != st.Answered {
			t.Errorf("measured %d handle times, %d speeds of answer, %d offer latencies; want %d, %d, %d",
				len(st.HandleTime), len(st.SpeedOfAnswer), len(st.OfferLatency), st.Answered, st.Conversations, st.Answered)
		}
		for i := range agents {
			if n, _ := talking.Load(i); n == nil || *n.(*int) < calls {
				t.Errorf("agent %d: WhileTalking called %v times, want once per answer (at least %d)", i, n, calls)
			}
		}
		if got := st.Transitions["IDLE→INTERACTING"]; got != st.Answered {
			t.Errorf("Transitions[IDLE→INTERACTING] = %d, want one per answer (%d); all: %v", got, st.Answered, st.Transitions)
		}
		doc := rec.Snapshot()
		for op, want := range map[string]int{agent.OpCallAnswer: st.Answered, agent.OpCallHold: 2 * st.Answered,
			agent.OpCallTransfer: st.Transferred, agent.OpCallDisconnect: st.Answered - st.Transferred, agent.OpCallWrapup: st.Answered} {
			if got := opCount(doc.Op(op)); got != int64(want) {
				t.Errorf("recorded %d %s, want %d", got, op, want)
			}
		}
		for _, a := range pop.Agents() {
			if s := a.State(); s.RoutingStatus != agent.RoutingOffQueue || s.Call != "" {
				t.Errorf("%v after its shift: %+v, want OFF_QUEUE and no call", a, s)
			}
		}
	})
}

// TestDesktopTimes: the speed of answer is the ring delay (the agent is
// idle when the call comes in) and the handle time is talk plus after-call
// work, on the fake clock.
func TestDesktopTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ring, acw, talk = 1500 * time.Millisecond, 3 * time.Second, 5 * time.Second
		var srv *gcsim.Server
		d := &agent.Desktop{RingMin: ring, RingMax: ring, WrapupMin: acw, WrapupMax: acw, Talk: talk,
			WrapupCodes: []string{gcsim.WrapupCodeID(0)}, Calls: 3,
			Queue: func(ctx context.Context, a *agent.Agent) error {
				_, err := srv.InjectCalls(gcsim.QueueID(a.ID), 1)
				return err
			}}
		srv, pop, _ := desktopSim(t, nil, 1, d)
		if err := d.Run(t.Context(), pop.Agent(0)); err != nil {
			t.Fatal(err)
		}
		st := d.Stats()
		if len(st.SpeedOfAnswer) != 3 || len(st.HandleTime) != 3 {
			t.Fatalf("Stats = %+v, want 3 speeds of answer and handle times", st)
		}
		for i, asa := range st.SpeedOfAnswer {
			// The server's startTime has millisecond precision.
			if asa < ring-time.Millisecond || asa > ring+time.Millisecond {
				t.Errorf("SpeedOfAnswer[%d] = %v, want the ring delay %v", i, asa, ring)
			}
		}
		for i, h := range st.HandleTime {
			// Talk is exponential, capped at four times its mean.
			if h < acw || h > acw+4*talk {
				t.Errorf("HandleTime[%d] = %v, want after-call work %v plus a talk time of at most %v", i, h, acw, 4*talk)
			}
		}
		if st.AverageSpeedOfAnswer() < ring-time.Millisecond || st.AverageHandleTime() < acw {
			t.Errorf("averages: speed of answer %v, handle time %v; want about %v and at least %v", st.AverageSpeedOfAnswer(), st.AverageHandleTime(), ring, acw)
		}
	})
}

// TestDesktopNotResponding: an agent that lets its offers ring past the
// queue's alert timeout is marked NOT_RESPONDING, lets the call go, goes On
// Queue again and is offered the call anew; at Until it goes off queue and
// Run returns.
func TestDesktopNotResponding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.ACD.AlertTimeout = gcsim.Duration(2 * time.Second)
		start := time.Now()
		// Ring 10 s, past the 2 s alert timeout: the call goes back to the
		// queue at 2 s, the agent sees it gone at 10 s, finds itself
		// NOT_RESPONDING at 11 s, goes On Queue, is offered the call again
		// and lets it ring to 21 s, past the end of its shift at 15 s.
		d := &agent.Desktop{RingMin: 10 * time.Second, RingMax: 10 * time.Second,
			WrapupCodes: []string{gcsim.WrapupCodeID(0)}, Until: start.Add(15 * time.Second)}
		srv, pop, _ := desktopSim(t, p, 1, d)
		a := pop.Agent(0)
		if _, err := srv.InjectCalls(gcsim.QueueID(0), 1); err != nil {
			t.Fatal(err)
		}
		if err := d.Run(t.Context(), a); err != nil {
			t.Fatalf("Run: %v", err)
		}
		synctest.Wait()
		st := d.Stats()
		if st.Missed != 2 || st.Requeues != 1 || st.Answered != 0 {
			t.Errorf("Stats = %d missed, %d requeues, %d answered; want 2, 1, 0", st.Missed, st.Requeues, st.Answered)
		}
		if got := st.Transitions["INTERACTING→"+agent.RoutingNotResponding]; got != 2 {
			t.Errorf("Transitions[INTERACTING→NOT_RESPONDING] = %d, want 2; all: %v", got, st.Transitions)
		}
		if got := st.Transitions[agent.RoutingNotResponding+"→IDLE"]; got != 1 {
			t.Errorf("Transitions[NOT_RESPONDING→IDLE] = %d, want 1 (back On Queue); all: %v", got, st.Transitions)
		}
		if s := a.State(); s.RoutingStatus != agent.RoutingOffQueue {
			t.Errorf("after the shift: routing status %s, want OFF_QUEUE", s.RoutingStatus)
		}
		// The last offer rang to 21 s; then off queue and a short wait for offers on their way.
		if took := time.Since(start); took > 23*time.Second {
			t.Errorf("Run took %v, want it to end after the last ring (21 s) and the drain", took)
		}
	})
}

// An answer refused because the call ended while the event saying so was
// still on its way is an offer let go, not an error: the desktop reads the
// conversation and finds its participant disconnected.
func TestDesktopAnswerRacesEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := gcsim.DefaultProfile()
		p.ACD.AlertTimeout = gcsim.Duration(2 * time.Second)
		d := &agent.Desktop{RingMin: 3 * time.Second, RingMax: 3 * time.Second,
			WrapupCodes: []string{gcsim.WrapupCodeID(0)}, Until: time.Now().Add(5 * time.Second)}
		// The desktop never sees a call's end: only offers and routing status.
		keep := func(ev notify.Event) bool { return !strings.Contains(string(ev.EventBody), `"disconnected"`) }
		srv, pop, rec := desktopSimFiltered(t, p, 1, d, keep)
		if _, err := srv.InjectCalls(gcsim.QueueID(0), 1); err != nil {
			t.Fatal(err)
		}
		if err := d.Run(t.Context(), pop.Agent(0)); err != nil {
			t.Fatalf("Run: %v, want the refused answer counted as an offer let go", err)
		}
		synctest.Wait()
		if st := d.Stats(); st.Missed < 1 || st.Refused < 1 || st.Answered != 0 {
			t.Errorf("Stats = %d missed (%d refused), %d answered; want the offer let go, its answer refused", st.Missed, st.Refused, st.Answered)
		}
		if got := opCount(rec.Snapshot().Op(agent.OpCallAnswer)); got < 1 {
			t.Errorf("%d answers sent, want the refused one: the test would prove nothing", got)
		}
	})
}

// TestDesktopBreakEndsWithShift: an agent on a break when its shift ends
// goes off queue from it, not back On Queue.
func TestDesktopBreakEndsWithShift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		d := &agent.Desktop{Talk: time.Millisecond, Break: time.Hour, BreakShare: 1,
			WrapupCodes: []string{gcsim.WrapupCodeID(0)}, Until: start.Add(20 * time.Second)}
		srv, pop, rec := desktopSim(t, nil, 1, d)
		a := pop.Agent(0)
		if _, err := srv.InjectCalls(gcsim.QueueID(0), 1); err != nil {
			t.Fatal(err)
		}
		if err := d.Run(t.Context(), a); err != nil {
			t.Fatalf("Run: %v", err)
		}
		st := d.Stats()
		if st.Answered != 1 || st.Breaks != 1 {
			t.Errorf("Stats = %d answered, %d breaks; want 1 and 1", st.Answered, st.Breaks)
		}
		if took := time.Since(start); took > 21*time.Second {
			t.Errorf("Run took %v, want the break cut at the shift's end (20 s)", took)
		}
		// On Queue once at the start, Break, then Available: never On Queue after the break.
		if got := opCount(rec.Snapshot().Op(agent.OpPresenceSet)); got != 3 {
			t.Errorf("recorded %d %s, want 3 (On Queue, Break, Available)", got, agent.OpPresenceSet)
		}
		if s := a.State(); s.RoutingStatus != agent.RoutingOffQueue || s.PresenceName != agent.PresenceAvailable {
			t.Errorf("after the shift: %+v, want OFF_QUEUE and Available", s)
		}
	})
}

// TestDesktopErrors: a desktop that cannot run says which field is wrong
// before it sends anything.
func TestDesktopErrors(t *testing.T) {
	codes := []string{gcsim.WrapupCodeID(0)}
	until := time.Unix(1, 0)
	tests := []struct {
		name string
		d    *agent.Desktop
		want string
	}{
		{"no wrap-up codes", &agent.Desktop{Calls: 1}, "WrapupCodes is empty"},
		{"neither Calls nor Until", &agent.Desktop{WrapupCodes: codes}, "set exactly one"},
		{"both Calls and Until", &agent.Desktop{WrapupCodes: codes, Calls: 1, Until: until}, "set exactly one"},
		{"negative Calls", &agent.Desktop{WrapupCodes: codes, Calls: -1, Until: until}, "Calls -1: want at least 1"},
		{"ring bounds reversed", &agent.Desktop{WrapupCodes: codes, Calls: 1, RingMin: 3 * time.Second}, "ring delay 3s–2s (RingMin–RingMax)"},
		{"wrap-up bounds reversed", &agent.Desktop{WrapupCodes: codes, Calls: 1, WrapupMax: time.Millisecond}, "after-call work 200ms–1ms"},
		{"negative talk", &agent.Desktop{WrapupCodes: codes, Calls: 1, Talk: -time.Second}, "Talk -1s"},
		{"share above 1", &agent.Desktop{WrapupCodes: codes, Calls: 1, TransferShare: 1.5}, "TransferShare 1.5: want a share from 0 to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Run(t.Context(), nil)
			if err == nil || !strings.HasPrefix(err.Error(), "agent: Desktop: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
