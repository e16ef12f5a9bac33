package agent

import (
	"context"
	"fmt"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/notify"
)

// NotifyChannels returns a [Config].Channel that opens each agent's
// notification channel with harness/notify: opts as given, plus the agent's
// topics and, for its REST calls, the agent's own token from tokens (the
// pool of the API client, so the token policy applies to channels too).
// Share one opts.Collector and opts.Recorder between the agents of a run.
//
// Genesys allows 20 channels per user or app: with client-credentials
// tokens every channel of an OAuth client has the same owner, so more than
// 20 agents per client evict each other's channels (notify counts the
// evictions). Plan the clients, or user tokens, for the population.
func NotifyChannels(opts notify.Options, tokens api.TokenSource) func(ctx context.Context, a *Agent, topics []string) (Channel, error) {
	return func(ctx context.Context, a *Agent, topics []string) (Channel, error) {
		if tokens == nil {
			return nil, fmt.Errorf("agent: NotifyChannels: nil token source: give the pool of the API client")
		}
		o := opts
		o.Topics = append(append([]string(nil), opts.Topics...), topics...)
		id := a.ID
		o.Token = func(ctx context.Context) (string, error) {
			tok, err := tokens.Token(ctx, id)
			if err != nil {
				return "", err
			}
			return tok.Value(), nil
		}
		c, err := notify.Open(ctx, o)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
