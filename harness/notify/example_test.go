package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/notify"
)

// Open a channel on the simulator, cause a presence event, and measure its
// push latency by correlation id.
func ExampleOpen() {
	sim := gcsim.NewServer(nil)
	defer sim.Close()
	token := exampleToken(sim)
	client, err := api.New(api.Config{BaseURL: sim.URL(), HTTPClient: sim.Client(),
		Tokens: staticToken{auth.NewToken(token, gcsim.DefaultClientID, time.Now().Add(time.Hour))}})
	if err != nil {
		fmt.Println(err)
		return
	}

	events := make(chan notify.Event, 1)
	topic := "v2.users." + gcsim.UserID(0) + ".presence"
	c, err := notify.Open(context.Background(), notify.Options{
		API:     client, // the channel's REST calls: limited, retried, recorded
		Topics:  []string{topic},
		OnEvent: func(e notify.Event) { events <- e },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	c.Expect("example-1", topic, time.Now()) // before the request that causes it
	req, _ := http.NewRequest("PATCH", sim.URL()+"/api/v2/users/"+gcsim.UserID(0)+"/presences/purecloud",
		strings.NewReader(`{"presenceDefinition":{"id":"`+gcsim.PresenceID(0)+`"}}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ININ-Correlation-Id", "example-1")
	resp, err := sim.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	e := <-events
	st := c.Stats()
	fmt.Println(e.TopicName == topic, e.CorrelationID)
	fmt.Println("events:", st.Events, "matched:", st.Matched, "latencies:", st.PushLatency.Count)
	// Output:
	// true example-1
	// events: 1 matched: 1 latencies: 1
}

// staticToken hands out one token (a scenario uses harness.Target.NewPool).
type staticToken struct{ tok *auth.Token }

func (s staticToken) Token(context.Context, int) (*auth.Token, error) { return s.tok, nil }
func (staticToken) Invalidate(*auth.Token)                            {}

func exampleToken(sim *gcsim.Server) string {
	req, _ := http.NewRequest("POST", sim.URL()+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth(gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := sim.Client().Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return body.AccessToken
}
