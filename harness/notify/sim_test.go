package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/gcsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newSim starts gcsim on an in-memory pipe listener (for testing/synctest).
func newSim(t testing.TB, mutate func(p *gcsim.Profile)) *gcsim.Server {
	t.Helper()
	p := gcsim.DefaultProfile()
	if mutate != nil {
		mutate(p)
	}
	s := gcsim.NewUnstartedServer(p)
	s.Listener.Close()
	s.Listener = gcsim.NewPipeListener()
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// simToken returns a token source that gets one client-credentials token.
func simToken(t testing.TB, s *gcsim.Server) func(context.Context) (string, error) {
	t.Helper()
	var mu sync.Mutex
	var tok string
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if tok != "" {
			return tok, nil
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.SetBasicAuth("sim-client", "sim-secret")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := s.Client().Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			return "", fmt.Errorf("token: status %d, %v", resp.StatusCode, err)
		}
		tok = body.AccessToken
		return tok, nil
	}
}

// funcTokens is an api.TokenSource of one client's token.
type funcTokens func(context.Context) (string, error)

func (f funcTokens) Token(ctx context.Context, _ int) (*auth.Token, error) {
	v, err := f(ctx)
	if err != nil {
		return nil, err
	}
	return auth.NewToken(v, gcsim.DefaultClientID, time.Now().Add(time.Hour)), nil
}

func (funcTokens) Invalidate(*auth.Token) {}

// newAPI returns an api.Client sending with tok through hc, one attempt per
// request (so the tests see notify's own retries).
func newAPI(t testing.TB, base string, hc *http.Client, tok func(context.Context) (string, error)) *api.Client {
	t.Helper()
	c, err := api.New(api.Config{BaseURL: base, HTTPClient: hc, Tokens: funcTokens(tok), Retry: api.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func simOptions(t testing.TB, s *gcsim.Server, topics ...string) Options {
	t.Helper()
	return Options{
		API:    newAPI(t, s.URL(), s.Client(), simToken(t, s)),
		Dialer: &websocket.Dialer{NetDialContext: s.DialContext, ReadBufferSize: 1024, WriteBufferSize: 1024},
		Topics: topics,
		Rand:   func() float64 { return 0.5 },
	}
}

func mustOpen(t testing.TB, o Options) *Client {
	t.Helper()
	c, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func presenceTopic(i int) string { return "v2.users." + gcsim.UserID(i) + ".presence" }

// setPresence PATCHes agent i's presence with the correlation id corr.
func setPresence(t testing.TB, s *gcsim.Server, o Options, i int, corr string) {
	t.Helper()
	tok, err := simToken(t, s)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"presenceDefinition":{"id":"` + gcsim.PresenceID(0) + `"}}`
	req, _ := http.NewRequest("PATCH", s.URL()+"/api/v2/users/"+gcsim.UserID(i)+"/presences/purecloud", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ININ-Correlation-Id", corr)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Errorf("PATCH presence: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("PATCH presence: status %d", resp.StatusCode)
	}
}

// notifyProfile sets short, test-friendly notification timings.
func notifyProfile(hb, grace time.Duration) func(p *gcsim.Profile) {
	return func(p *gcsim.Profile) {
		p.Notifications.HeartbeatInterval = gcsim.Duration(hb)
		p.Notifications.SocketClosingGrace = gcsim.Duration(grace)
	}
}
