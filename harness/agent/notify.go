package agent

import (
	"context"
	"fmt"

	"github.com/cxload/cxload/harness/notify"
)

// NotifyChannels returns a [Config].Channel that opens each agent's
// notification channel with harness/notify: opts as given, plus the agent's
// topics, its REST calls sent by opts.API.Agent(agent) (the agent's own
// token, so the token policy applies to channels too; the client's limiter,
// retries, recorder and gate). Share one opts.Collector and opts.Recorder
// between the agents of a run. Every event also goes to the agent's
// [Agent.HandleEvent] (then to opts.OnEvent, if set), so that its offered
// calls reach [Agent.NextOffer].
//
// Genesys allows 20 channels per user or app: with client-credentials
// tokens every channel of an OAuth client has the same owner, so more than
// 20 agents per client evict each other's channels (notify counts the
// evictions). Plan the clients, or user tokens, for the population.
func NotifyChannels(opts notify.Options) func(ctx context.Context, a *Agent, topics []string) (Channel, error) {
	return func(ctx context.Context, a *Agent, topics []string) (Channel, error) {
		if opts.API == nil {
			return nil, fmt.Errorf("agent: NotifyChannels: notify.Options.API is nil: give the population's API client")
		}
		o := opts
		o.Topics = append(append([]string(nil), opts.Topics...), topics...)
		o.API = opts.API.Agent(a.ID)
		// The agent hears of its offered calls (Agent.NextOffer).
		o.OnEvent = func(ev notify.Event) {
			a.HandleEvent(ev.TopicName, ev.EventBody)
			if opts.OnEvent != nil {
				opts.OnEvent(ev)
			}
		}
		c, err := notify.Open(ctx, o)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
