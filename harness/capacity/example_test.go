package capacity_test

import (
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/capacity"
	"github.com/cxload/cxload/harness/genesys"
)

// Sizing a pool for 60 presence changes per second under Genesys' documented
// limits (300 per token and 3000 per OAuth client per minute), with two
// OAuth clients.
func ExampleSize() {
	p, err := capacity.Size(api.DefaultBuckets(), genesys.FamilyPresence, 60, 2)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d clients × %d tokens reach %.0f req/s\n", p.Clients, p.TokensPerClient, p.Reach.Rate)
	fmt.Println("bottleneck:", p.Reach.Bottleneck.Key)
	fmt.Printf("next: %s at %.0f req/s\n", p.Next.Bottleneck.Key, p.Next.Rate)
	// Output:
	// 2 clients × 6 tokens reach 60 req/s
	// bottleneck: client.credentials.token.rate.per.minute
	// next: org.app.user.rate.per.minute at 100 req/s
}

// What to change when a pool of one token of each of two OAuth clients
// meets the per-token limit, and what reads as hypothetical.
func ExampleAdvice() {
	p, err := capacity.Size(api.DefaultBuckets(), genesys.FamilyPresence, 60, 2)
	if err != nil {
		panic(err)
	}
	one := capacity.Of(api.DefaultBuckets(), genesys.FamilyPresence, 1, 1)
	fmt.Printf("one token reaches %s under %s (%s)\n", capacity.RateWords(one.Rate), one.Bottleneck.Key, capacity.PerWindow(one.Bottleneck))
	fmt.Println(capacity.Advice(one.Bottleneck, p.Clients))
	fmt.Println(capacity.Advice(api.Bucket{Key: "hypothetical.users.presences.rate.per.minute", Allowed: 40, Window: 20 * time.Second}, p.Clients))
	// Output:
	// one token reaches 5.00 req/s (300 per minute) under client.credentials.token.rate.per.minute (300 per 60s)
	// spread the load over more tokens (a token pool, per-client or per-agent) and pace each below 300 per 60s
	// hypothetical.users.presences.rate.per.minute is hypothetical: a limit of this simulator profile that no Genesys source documents; under it (per user and endpoint (its endpoints), across OAuth clients: a client-credentials token counts as its OAuth client's user, so more tokens of one client do not help) pace below 40 per 20s. On a tenant, find the real limits with TestRateLimitDiscovery
}
