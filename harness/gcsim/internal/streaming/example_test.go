package streaming_test

import (
	"fmt"

	"github.com/cxload/cxload/harness/gcsim/internal/streaming"
)

func ExampleHub_Subscribe() {
	hub := streaming.NewHub(streaming.Config{MaxTopicsPerChannel: 2})
	defer hub.Close()
	ch, _ := hub.CreateChannel("sim-org/sim-client/", "ws://127.0.0.1:8080")
	subs, _ := hub.Subscribe(ch.ID, []string{"v2.users.u1.presence", "v2.users.u1.routingstatus"}, false)
	for _, s := range subs {
		fmt.Println(s.ID, s.State)
	}
	_, err := hub.Subscribe(ch.ID, []string{"v2.users.u2.presence", "v2.users.u3.presence"}, false)
	fmt.Println(err != nil)
	// Output:
	// v2.users.u1.presence Permitted
	// v2.users.u1.routingstatus Rejected
	// true
}
