package genesys_test

import (
	"fmt"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// Retry-After comes as seconds or as an HTTP date.
func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	for _, v := range []string{"5", "Thu, 26 Nov 2026 23:01:00 GMT", "soon"} {
		d, ok := genesys.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 5s true
	// 1m0s true
	// 0s false
}

// A 429 body names the bucket that rejected the request.
func ExampleParseLimitBody() {
	body := []byte(`{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds",
		"code":"too.many.requests","status":429,
		"limit":{"key":"token.rate.per.minute","namespace":"platform.api","value":300}}`)
	lb, ok := genesys.ParseLimitBody(body)
	fmt.Println(ok, lb.Key, lb.Value, lb.MsgWindow, genesys.ScopeOfKey(lb.Key))
	// Output:
	// true token.rate.per.minute 300 1m0s token
}

// Route families group endpoints for resource limits.
func ExampleFamily() {
	fmt.Println(genesys.Family("/api/v2/users/{id}/presences/{source}"))
	fmt.Println(genesys.Family("/api/v2/conversations/{id}/recordingstate"))
	fmt.Println(genesys.Family("/api/v2/architect/ivrs/{id}"))
	// Output:
	// users.presences
	// conversations.recordingstate
	// architect.ivrs
}
