package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/genesys"
)

// Channel is a notification channel as POST /api/v2/notifications/channels
// answers it.
type Channel struct {
	ID         string    `json:"id"`
	ConnectURI string    `json:"connectUri"`
	Expires    time.Time `json:"expires"`
}

// HTTPError is a REST call of the channel API that did not answer 2xx.
type HTTPError struct {
	Method, Path string
	Status       int
	Code         string // the ErrorBody's code, e.g. "too.many.requests"
	Message      string // the ErrorBody's message
	// RetryAfter is the answer's Retry-After (seconds or an HTTP-date), 0
	// if none.
	RetryAfter time.Duration
}

// Error describes the call, the status and the ErrorBody code and message;
// it never contains the token.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("notify: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// errChannelGone is a connectUri that answered 404: evicted or expired.
var errChannelGone = errors.New("notify: channel gone (404): evicted by a newer channel of the same user or app, or expired")

// Operation names of the channel API's REST calls, as recorded.
const (
	OpChannelCreate    = "channel.create"     // POST /api/v2/notifications/channels
	OpChannelSubscribe = "channel.subscribe"  // PUT .../channels/{id}/subscriptions
	OpChannelAddTopics = "channel.topics.add" // POST .../channels/{id}/subscriptions
)

// do sends a REST call of the channel API through Options.API (so it is
// limited, retried, refreshed on 401, recorded and admitted by the gate)
// and decodes a 2xx answer into out. A final status outside 2xx is an
// *HTTPError. Errors never contain the token.
func (c *Client) do(ctx context.Context, op, method, route string, params []string, body, out any) error {
	_, err := c.o.API.DoJSON(ctx, &api.Request{Op: op, Method: method, Route: route, Params: params}, body, out)
	var se *api.StatusError
	if !errors.As(err, &se) {
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		return nil
	}
	resp := se.Response
	he := &HTTPError{Method: method, Path: route, Status: resp.Status}
	if d, ok := genesys.ParseRetryAfter(resp.Header.Get(genesys.HeaderRetryAfter), c.o.Now()); ok {
		he.RetryAfter = d
	}
	// A field of another type than ErrorBody's loses that field only:
	// encoding/json fills the others.
	var eb genesys.ErrorBody
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(resp.Body, &eb); err == nil || errors.As(err, &te) {
		he.Code, he.Message = eb.Code, eb.Message
	}
	return he
}

// createChannel is POST /api/v2/notifications/channels.
func (c *Client) createChannel(ctx context.Context) (Channel, error) {
	const path = "/api/v2/notifications/channels"
	var ch Channel
	if err := c.do(ctx, OpChannelCreate, http.MethodPost, path, nil, nil, &ch); err != nil {
		return Channel{}, err
	}
	if ch.ID == "" || ch.ConnectURI == "" {
		return Channel{}, fmt.Errorf("notify: POST %s: answer has no id or connectUri", path)
	}
	return ch, nil
}

// subscribe is PUT /api/v2/notifications/channels/{id}/subscriptions: the
// topics become the channel's only ones. A rejected topic is an error that
// names it and the server's reason.
func (c *Client) subscribe(ctx context.Context, id string, topics []string) error {
	_, err := c.subscriptions(ctx, http.MethodPut, id, topics)
	return err
}

// postTopics is POST /api/v2/notifications/channels/{id}/subscriptions: the
// topics are added to the channel's. It returns the rejected ones.
func (c *Client) postTopics(ctx context.Context, id string, topics []string) (rejected map[string]bool, err error) {
	return c.subscriptions(ctx, http.MethodPost, id, topics)
}

func (c *Client) subscriptions(ctx context.Context, method, id string, topics []string) (map[string]bool, error) {
	const route = "/api/v2/notifications/channels/{id}/subscriptions"
	path := "/api/v2/notifications/channels/" + id + "/subscriptions"
	op := OpChannelSubscribe
	if method == http.MethodPost {
		op = OpChannelAddTopics
	}
	body := make([]topicID, len(topics))
	for i, t := range topics {
		body[i].ID = t
	}
	var out struct {
		Entities []struct {
			ID              string `json:"id"`
			State           string `json:"state"`
			RejectionReason string `json:"rejectionReason"`
		} `json:"entities"`
	}
	if err := c.do(ctx, op, method, route, []string{id}, body, &out); err != nil {
		return nil, err
	}
	var bad []string
	rejected := map[string]bool{}
	for _, e := range out.Entities {
		if e.State != "" && !strings.EqualFold(e.State, "Permitted") {
			bad = append(bad, fmt.Sprintf("%q %s: %s", e.ID, e.State, e.RejectionReason))
			rejected[e.ID] = true
		}
	}
	if len(bad) > 0 {
		return rejected, fmt.Errorf("notify: %s %s: %d topic(s) not subscribed: %s", method, path, len(bad), strings.Join(bad, "; "))
	}
	return nil, nil
}

type topicID struct {
	ID string `json:"id"`
}

// newChannel creates a channel and subscribes the client's topics.
func (c *Client) newChannel(ctx context.Context) (Channel, error) {
	ch, err := c.createChannel(ctx)
	if err != nil {
		return Channel{}, err
	}
	c.mu.Lock()
	topics := c.topics
	c.mu.Unlock()
	if len(topics) > 0 {
		if err := c.subscribe(ctx, ch.ID, topics); err != nil {
			return Channel{}, err
		}
	}
	return ch, nil
}
