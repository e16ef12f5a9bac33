package auth_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
)

// A pool with one token per client over the simulator's two OAuth clients.
// Tokens print without their value.
func ExampleNewPool() {
	srv := gcsim.NewServer(nil)
	defer srv.Close()

	pool, err := auth.NewPool(auth.Config{
		TokenURL: srv.URL() + "/oauth/token",
		Clients: []auth.Credentials{
			{ClientID: "sim-client", Secret: "sim-secret"},
			{ClientID: "sim-client-2", Secret: "sim-secret-2"},
		},
		Policy:     auth.PerClient,
		HTTPClient: srv.Client(),
	})
	if err != nil {
		panic(err)
	}
	for agent := range 4 {
		tok, err := pool.Token(context.Background(), agent)
		if err != nil {
			panic(err)
		}
		fmt.Println(agent, tok.Slot, strings.HasSuffix(tok.String(), "Value: [REDACTED]}"))
	}
	fmt.Println(pool.Stats().Created, "tokens created")
	fmt.Println(pool.Policy(), pool.Size())
	// Output:
	// 0 0 true
	// 1 1 true
	// 2 0 true
	// 3 1 true
	// 2 tokens created
	// per-client 2
}

// Credentials never print their secret.
func ExampleCredentials_String() {
	c := auth.Credentials{ClientID: "sim-client", Secret: "sim-secret"}
	fmt.Println(c)
	fmt.Printf("%#v\n", c)
	// Output:
	// auth.Credentials{ClientID: sim-client, Secret: [REDACTED]}
	// auth.Credentials{ClientID: "sim-client", Secret: "[REDACTED]"}
}
