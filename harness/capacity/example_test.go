package capacity_test

import (
	"fmt"

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
