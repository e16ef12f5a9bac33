package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/cxload/cxload/harness/api"
)

// The agent desktop: offered calls arrive as events on
// v2.users.{id}.conversations.calls; the agent answers, holds, hangs up,
// wraps up and transfers with the call control endpoints, each a named
// operation.

// An Offer is a call offered to the agent: the conversation and the
// agent's participant on it.
type Offer struct {
	ConversationID string
	ParticipantID  string
}

// offerBuffer is how many offers an agent keeps unread; older ones are
// dropped (an agent that does not read its offers lets them time out).
const offerBuffer = 16

// callEvent is the part of a call event (the SDK's
// ConversationCallEventTopicCallConversation) the agent reads.
type callEvent struct {
	ID           string `json:"id"`
	Participants []struct {
		ID      string `json:"id"`
		Purpose string `json:"purpose"`
		State   string `json:"state"`
		Held    bool   `json:"held"`
		User    *struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"participants"`
}

// HandleEvent feeds the agent a notification. Call events on the agent's
// v2.users.{id}.conversations.calls topic in which its participant is
// alerting become offers for [Agent.NextOffer]; events of its current call
// and of its routing status update its state. [NotifyChannels] calls it for
// every event; a channel of your own should too. Other topics are ignored.
func (a *Agent) HandleEvent(topic string, body []byte) {
	if topic == "v2.users."+a.User.ID+".routingStatus" {
		var ev struct {
			RoutingStatus struct {
				Status string `json:"status"`
			} `json:"routingStatus"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.RoutingStatus.Status != "" {
			a.update(func(s *State) { s.RoutingStatus = ev.RoutingStatus.Status })
		}
		return
	}
	if topic != "v2.users."+a.User.ID+".conversations.calls" {
		return
	}
	var ev callEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return
	}
	for _, p := range ev.Participants {
		if p.User == nil || p.User.ID != a.User.ID || (p.Purpose != "agent" && p.Purpose != "user") {
			continue
		}
		a.mu.Lock()
		current := a.state.Call == ev.ID && a.state.Participant == p.ID
		ch := a.offerChan()
		a.mu.Unlock()
		if current {
			a.update(func(s *State) { s.CallState, s.Held = p.State, p.Held })
			continue
		}
		if p.State == "alerting" {
			select {
			case ch <- Offer{ConversationID: ev.ID, ParticipantID: p.ID}:
			default: // full: the oldest offers have timed out by now
				select {
				case <-ch:
				default:
				}
				select {
				case ch <- Offer{ConversationID: ev.ID, ParticipantID: p.ID}:
				default:
				}
			}
		}
	}
}

// offerChan returns the agent's offer queue; a.mu is held.
func (a *Agent) offerChan() chan Offer {
	if a.offers == nil {
		a.offers = make(chan Offer, offerBuffer)
	}
	return a.offers
}

// NextOffer waits for the next call offered to the agent, as
// [Agent.HandleEvent] saw it, or for ctx to end.
func (a *Agent) NextOffer(ctx context.Context) (Offer, error) {
	a.mu.Lock()
	ch := a.offerChan()
	a.mu.Unlock()
	select {
	case o := <-ch:
		return o, nil
	case <-ctx.Done():
		return Offer{}, fmt.Errorf("agent: %v: waiting for an offered call: %w", a, context.Cause(ctx))
	}
}

// conversationJSON is the part of the SDK's Conversation the agent reads:
// participants and their calls' communication ids.
type conversationJSON struct {
	Participants []struct {
		ID      string `json:"id"`
		UserID  string `json:"userId"`
		Purpose string `json:"purpose"`
		Calls   []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"calls"`
	} `json:"participants"`
}

// FindOffer reads conversation conv (operation "call.get": GET
// /api/v2/conversations/{id}) and returns the agent's participant on it
// that is still on the call, for a call the agent learned of otherwise
// than by an event.
func (a *Agent) FindOffer(ctx context.Context, conv string) (Offer, error) {
	c, err := a.conversation(ctx, conv)
	if err != nil {
		return Offer{}, err
	}
	for _, p := range c.Participants {
		if p.UserID == a.User.ID && len(p.Calls) > 0 && p.Calls[0].State != "disconnected" {
			return Offer{ConversationID: conv, ParticipantID: p.ID}, nil
		}
	}
	return Offer{}, fmt.Errorf("agent: %v: not on conversation %s", a, conv)
}

// offerGone reports whether offer o's call is over for the agent (its
// participant disconnected: the caller hung up, or the alert timed out),
// reading the conversation (operation "call.get"). An answer refused while
// the event saying so is still on its way is a call let go, not an error.
func (a *Agent) offerGone(ctx context.Context, o Offer) bool {
	c, err := a.conversation(ctx, o.ConversationID)
	if err != nil {
		return false
	}
	for _, p := range c.Participants {
		if p.ID == o.ParticipantID {
			return len(p.Calls) > 0 && p.Calls[0].State == "disconnected"
		}
	}
	return false
}

func (a *Agent) conversation(ctx context.Context, conv string) (*conversationJSON, error) {
	var c conversationJSON
	req := &api.Request{Op: OpCallGet, Method: http.MethodGet, Route: "/api/v2/conversations/{id}", Params: []string{conv}}
	if err := a.do(ctx, req, nil, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// patchParticipant sends PATCH .../calls/{id}/participants/{participantId}.
func (a *Agent) patchParticipant(ctx context.Context, op, conv, part string, body any) error {
	req := &api.Request{Op: op, Method: http.MethodPatch, Route: "/api/v2/conversations/calls/{id}/participants/{participantId}",
		Params: []string{conv, part}}
	return a.do(ctx, req, body, nil, "v2.users."+a.User.ID+".conversations.calls")
}

// current returns the agent's current call and participant, or an error
// naming the helper that needs one.
func (a *Agent) current(helper string) (conv, part string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state.Call == "" || a.state.Participant == "" {
		return "", "", fmt.Errorf("agent: %v: %s: no current call: Answer an offer first", a, helper)
	}
	return a.state.Call, a.state.Participant, nil
}

// Answer answers an offered call (operation "call.answer": PATCH the
// participant with state connected) and makes it the agent's current call.
func (a *Agent) Answer(ctx context.Context, o Offer) error {
	if o.ConversationID == "" || o.ParticipantID == "" {
		return fmt.Errorf("agent: %v: Answer: the offer needs a conversation and a participant id, got %+v", a, o)
	}
	if err := a.patchParticipant(ctx, OpCallAnswer, o.ConversationID, o.ParticipantID, map[string]string{"state": "connected"}); err != nil {
		return err
	}
	a.mu.Lock()
	a.callToSelf, a.comm = true, ""
	a.mu.Unlock()
	a.update(func(s *State) {
		s.Call, s.Participant, s.CallState, s.Held, s.RecordingState = o.ConversationID, o.ParticipantID, "connected", false, ""
	})
	return nil
}

// Hold puts the current call on hold, or takes it off hold (operation
// "call.hold").
func (a *Agent) Hold(ctx context.Context, held bool) error {
	conv, part, err := a.current("Hold")
	if err != nil {
		return err
	}
	if err := a.patchParticipant(ctx, OpCallHold, conv, part, map[string]bool{"held": held}); err != nil {
		return err
	}
	a.update(func(s *State) { s.Held = held })
	return nil
}

// Disconnect hangs up the current call (operation "call.disconnect"). The
// call stays current, disconnected, until [Agent.Wrapup]: an ACD call
// needs a wrap-up before the agent is IDLE again.
func (a *Agent) Disconnect(ctx context.Context) error {
	conv, part, err := a.current("Disconnect")
	if err != nil {
		return err
	}
	if err := a.patchParticipant(ctx, OpCallDisconnect, conv, part, map[string]string{"state": "disconnected"}); err != nil {
		return err
	}
	a.update(func(s *State) { s.CallState, s.Held = "disconnected", false })
	return nil
}

// Wrapup wraps up the current call with a wrap-up code id (operation
// "call.wrapup": POST .../communications/{communicationId}/wrapup; the
// communication id is read once with "call.get") and ends it as the
// agent's current call.
func (a *Agent) Wrapup(ctx context.Context, code string) error {
	conv, part, err := a.current("Wrapup")
	if err != nil {
		return err
	}
	a.mu.Lock()
	comm := a.comm
	a.mu.Unlock()
	if comm == "" {
		c, err := a.conversation(ctx, conv)
		if err != nil {
			return err
		}
		for _, p := range c.Participants {
			if p.ID == part && len(p.Calls) > 0 {
				comm = p.Calls[0].ID
			}
		}
		if comm == "" {
			return fmt.Errorf("agent: %v: Wrapup: participant %s of conversation %s has no call", a, part, conv)
		}
	}
	req := &api.Request{Op: OpCallWrapup, Method: http.MethodPost,
		Route:  "/api/v2/conversations/calls/{id}/participants/{participantId}/communications/{communicationId}/wrapup",
		Params: []string{conv, part, comm}}
	if err := a.do(ctx, req, map[string]string{"code": code}, nil, "v2.users."+a.User.ID+".conversations.calls"); err != nil {
		return err
	}
	a.EndCall()
	return nil
}

// A Transfer says where [Agent.Transfer] sends a call: set one of QueueID
// and UserID.
type Transfer struct {
	QueueID string `json:"queueId,omitempty"`
	UserID  string `json:"userId,omitempty"`
}

// Transfer blind-transfers the current call (operation "call.transfer":
// POST .../participants/{participantId}/replace). The agent leaves the call
// and, for an ACD call, has its wrap-up to do.
func (a *Agent) Transfer(ctx context.Context, to Transfer) error {
	if (to.QueueID == "") == (to.UserID == "") {
		return fmt.Errorf("agent: %v: Transfer: set exactly one of QueueID and UserID, got %+v", a, to)
	}
	conv, part, err := a.current("Transfer")
	if err != nil {
		return err
	}
	req := &api.Request{Op: OpCallTransfer, Method: http.MethodPost,
		Route: "/api/v2/conversations/calls/{id}/participants/{participantId}/replace", Params: []string{conv, part}}
	if err := a.do(ctx, req, to, nil, "v2.users."+a.User.ID+".conversations.calls"); err != nil {
		return err
	}
	a.update(func(s *State) { s.CallState, s.Held = "disconnected", false })
	return nil
}
