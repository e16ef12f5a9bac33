// Package capacity plans a token pool against Genesys Cloud's rate limits:
// how many OAuth clients and tokens a load needs to send a rate to one route
// family, the rate that pool reaches, the limit that sets it and the limit
// that comes next.
//
// The model is the platform's: a limit (an api.Bucket) allows Allowed
// requests per Window to each instance of its scope. A token-scoped limit
// has one instance per access token; a client-user or endpoint-user limit
// has one per OAuth client, because a client-credentials token has no user
// and counts as its client; an organization limit has one. A pool of T
// tokens over C clients can therefore send instances × Allowed / Window
// requests per second under each limit, and the smallest of these is what
// it reaches.
//
// The functions are pure: they read the buckets they are given (the
// target's known limits, e.g. api.DefaultBuckets or what
// api.FetchLimits read) and send nothing.
package capacity

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/genesys"
)

// MaxRate bounds the rate Size plans for, in requests per second; it is the
// bound of a run's rate (harness.MaxRate), beyond any organization's API
// allocation.
const MaxRate = 1_000_000

// Reach is what a pool can send to a route family under the known limits.
type Reach struct {
	// Rate in requests per second; +Inf when no known limit applies.
	Rate float64
	// Bottleneck is the limit that sets Rate; zero when none applies.
	Bottleneck api.Bucket
	// Instances is how many buckets of Bottleneck the pool fills in
	// parallel: its tokens, its clients or 1.
	Instances int
}

// Limited reports whether a known limit applies (Bottleneck is set).
func (r Reach) Limited() bool { return r.Bottleneck.Allowed > 0 }

// Of returns the sustained rate a pool of tokens spread over clients can
// send to family: for each limit that applies, its instances × Allowed /
// Window; the smallest wins. Limits of other families, of scope client
// (token creation, which limits the token endpoint) and with Allowed ≤ 0
// do not apply.
func Of(buckets []api.Bucket, family string, tokens, clients int) Reach {
	rs := reaches(buckets, family, tokens, clients)
	if len(rs) == 0 {
		return Reach{Rate: math.Inf(1)}
	}
	return rs[0]
}

// reaches returns the rate each applicable limit allows the pool, smallest
// first (ties in bucket order).
func reaches(buckets []api.Bucket, family string, tokens, clients int) []Reach {
	var out []Reach
	for _, b := range buckets {
		b, ok := applicable(b, family)
		if !ok {
			continue
		}
		inst := 1
		switch b.Scope {
		case genesys.ScopeToken:
			inst = tokens
		case genesys.ScopeClientUser, genesys.ScopeEndpointUser:
			inst = clients
		}
		out = append(out, Reach{Rate: float64(inst) * perSecond(b), Bottleneck: b, Instances: inst})
	}
	slices.SortStableFunc(out, func(a, b Reach) int { return cmp.Compare(a.Rate, b.Rate) })
	return out
}

// applicable returns b with its scope and window as the client-side limiter
// reads them (genesys.ScopeOfKey for a missing scope, api.DefaultWindow for
// a missing window), and whether it limits family.
func applicable(b api.Bucket, family string) (api.Bucket, bool) {
	if b.Allowed <= 0 || len(b.Families) > 0 && !slices.Contains(b.Families, family) {
		return b, false
	}
	if b.Scope == "" {
		b.Scope = genesys.ScopeOfKey(b.Key)
	}
	if b.Window <= 0 {
		b.Window = api.DefaultWindow
	}
	return b, b.Scope != genesys.ScopeClient
}

func perSecond(b api.Bucket) float64 { return float64(b.Allowed) / b.Window.Seconds() }

// A Pool is a token pool sized for a rate.
type Pool struct {
	Rate            float64 // requested, requests per second
	Clients         int     // OAuth clients to use
	TokensPerClient int
	// Reach is what the pool reaches: Reach.Rate is at most Rate, and
	// below it when a limit binds that more tokens or clients cannot lift.
	// Reach.Bottleneck is the limit nearest to binding: the one that
	// stops the pool, or the first to bind if the load grows.
	Reach Reach
	// Next is the limit in line after Reach.Bottleneck for this pool: the
	// one that would bind if the bottleneck were lifted. Next.Rate is
	// +Inf when no other limit applies.
	Next Reach
	// NeedClients is how many OAuth clients the rate would need under a
	// client-scoped limit; 0 when the available clients suffice.
	NeedClients int
}

// Tokens is the pool's size.
func (p Pool) Tokens() int { return p.Clients * p.TokensPerClient }

// Size sizes a token pool that sends rate requests per second to family
// with up to available OAuth clients: enough tokens for every token-scoped
// limit and enough clients, up to the available ones, for every client-user
// and endpoint-user limit. An organization limit is left as it is: no pool
// lifts it. Size returns an error for a rate that is not a number from
// above 0 to MaxRate, or fewer than one available client.
func Size(buckets []api.Bucket, family string, rate float64, available int) (Pool, error) {
	if !(rate > 0 && rate <= MaxRate) {
		return Pool{}, fmt.Errorf("capacity: rate %g req/s: want a number above 0, at most %d (capacity.MaxRate)", rate, MaxRate)
	}
	if available < 1 {
		return Pool{}, fmt.Errorf("capacity: %d OAuth clients available: want at least 1", available)
	}
	p := Pool{Rate: rate, Clients: 1}
	tokens := 1
	for _, b := range buckets {
		b, ok := applicable(b, family)
		if !ok {
			continue
		}
		// The epsilon keeps a rate that is exactly k buckets' worth at k.
		need := int(math.Ceil(rate/perSecond(b) - 1e-9))
		switch b.Scope {
		case genesys.ScopeToken:
			tokens = max(tokens, need)
		case genesys.ScopeClientUser, genesys.ScopeEndpointUser:
			if need > available {
				p.NeedClients = max(p.NeedClients, need)
			}
			p.Clients = max(p.Clients, min(need, available))
		}
	}
	p.TokensPerClient = max(1, (tokens+p.Clients-1)/p.Clients)
	rs := reaches(buckets, family, p.Tokens(), p.Clients)
	p.Reach, p.Next = Reach{Rate: math.Inf(1)}, Reach{Rate: math.Inf(1)}
	if len(rs) > 0 {
		p.Reach = rs[0]
	}
	if len(rs) > 1 {
		p.Next = rs[1]
	}
	p.Reach.Rate = min(p.Reach.Rate, rate)
	return p, nil
}
