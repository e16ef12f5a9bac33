//go:build load

package loadtest

import (
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/notify"
)

// The shift's agents open their channels as Genesys allows: with
// client-credentials tokens more agents than one OAuth client may hold
// channels (20) share its channels, on a simulator that keeps that limit,
// and no channel is evicted; the layout says so.
func TestShiftChannelsAsGenesysAllows(t *testing.T) {
	skipRehearsal(t, "it counts the channels of client-credentials tokens on the embedded simulator")
	const agents = notify.MaxChannelsPerUser + 5
	t.Setenv(EnvAgents, "")
	r := newRig(t, rigOptions{tweak: timingTweak(time.Second, time.Second)})
	if got := r.prof.Notifications.MaxChannelsPerOwner; got != notify.MaxChannelsPerUser {
		t.Fatalf("the simulator allows %d channels per OAuth client, want Genesys' %d", got, notify.MaxChannelsPerUser)
	}
	r.tg.Start(plan(agents, 1, time.Second, 10*agents))
	pool := r.tg.NewPool(auth.Config{Policy: auth.PerClient, Clients: r.tg.Config.Clients[:1], TokensPerClient: 2})
	desk := &agent.Desktop{}
	pop, chans := r.shiftPopulation(t, pool, r.recorder(t), agents, agents, desk)
	defer pop.Close()
	if err := openAll(r.ctx, pop); err != nil {
		t.Fatalf("opening %d agents' channels on one OAuth client: %v", agents, err)
	}
	if n := chans.set.Count(); n > notify.MaxChannelsPerUser {
		t.Errorf("%d agents opened %d channels on one OAuth client, over Genesys' %d", agents, n, notify.MaxChannelsPerUser)
	}
	if d := chans.describe(); !strings.HasPrefix(d, "shared channels (client-credentials tokens)") {
		t.Errorf("layout %q, want shared channels for client-credentials tokens", d)
	}
	if ev := chans.col.Stats().Evictions; ev != 0 {
		t.Errorf("%d channels evicted, want none", ev)
	}
}
