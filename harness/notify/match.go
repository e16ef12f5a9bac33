package notify

import (
	"encoding/json"
	"strings"
	"time"
)

// Matching by content. Genesys Cloud may not echo a client's
// ININ-Correlation-Id in the events its request causes (docs/genesys.md,
// "Notifications"), so an expectation can also name what its event says: a
// content key, built with [PresenceContent], [RoutingStatusContent] or
// [CallContent], that [ContentOf] finds in the event. The topic names the
// user. An event is matched by correlation id first; an event whose id is
// not expected matches the oldest expectation on its topic with its
// content. Stats.MatchedByContent says how many were.

// PresenceContent is the content key of a presence event
// (v2.users.{id}.presence) with presence definition definitionID.
func PresenceContent(definitionID string) string { return "presence " + definitionID }

// RoutingStatusContent is the content key of a routing-status event
// (v2.users.{id}.routingStatus) with status, e.g. "IDLE" or "OFF_QUEUE".
func RoutingStatusContent(status string) string { return "routingStatus " + strings.ToUpper(status) }

// CallContent is the content key of a conversation event
// (v2.users.{id}.conversations[.calls]) of conversation conversationID in
// which the topic's user is in call state state ("connected",
// "disconnected", ...); an empty state matches any event of the
// conversation.
func CallContent(conversationID, state string) string {
	if state == "" {
		return "call " + conversationID
	}
	return "call " + conversationID + " " + strings.ToLower(state)
}

// ContentOf returns the content keys an event on topic with body answers
// to, most specific first, or nil for a topic or body it does not know. It
// reads leniently: unknown fields are ignored.
func ContentOf(topic string, body []byte) []string {
	user, kind, ok := userTopic(topic)
	if !ok {
		return nil
	}
	switch kind {
	case "presence":
		var b struct {
			PresenceDefinition struct {
				ID string `json:"id"`
			} `json:"presenceDefinition"`
		}
		if json.Unmarshal(body, &b) != nil || b.PresenceDefinition.ID == "" {
			return nil
		}
		return []string{PresenceContent(b.PresenceDefinition.ID)}
	case "routingStatus":
		var b struct {
			RoutingStatus struct {
				Status string `json:"status"`
			} `json:"routingStatus"`
		}
		if json.Unmarshal(body, &b) != nil || b.RoutingStatus.Status == "" {
			return nil
		}
		return []string{RoutingStatusContent(b.RoutingStatus.Status)}
	case "conversations", "conversations.calls":
		var b struct {
			ID           string `json:"id"`
			Participants []struct {
				UserID string `json:"userId"`
				User   struct {
					ID string `json:"id"`
				} `json:"user"`
				State string `json:"state"`
				Calls []struct {
					State string `json:"state"`
				} `json:"calls"`
			} `json:"participants"`
		}
		if json.Unmarshal(body, &b) != nil || b.ID == "" {
			return nil
		}
		var keys []string
		for i := len(b.Participants) - 1; i >= 0; i-- { // the latest participant of the user first
			p := b.Participants[i]
			if p.UserID != user && p.User.ID != user {
				continue
			}
			state := p.State
			if len(p.Calls) > 0 && p.Calls[0].State != "" {
				state = p.Calls[0].State
			}
			if state != "" {
				keys = append(keys, CallContent(b.ID, state))
			}
		}
		return append(keys, CallContent(b.ID, ""))
	}
	return nil
}

// userTopic splits v2.users.{id}.{kind}.
func userTopic(topic string) (user, kind string, ok bool) {
	rest, ok := strings.CutPrefix(topic, "v2.users.")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ".")
}

// expectation is one expected event; it is in Client.expect under its
// correlation key and, if it has content, in Client.content under its topic.
type expectation struct {
	key, topic, content string
	sentAt              time.Time
	done                bool
}

// byContent returns the oldest live expectation on topic answering to one
// of keys, removing it; the caller holds c.mu.
func (c *Client) byContent(topic string, keys []string) *expectation {
	list := c.content[topic]
	for _, k := range keys {
		for _, e := range list {
			if !e.done && e.content == k {
				e.done = true
				delete(c.expect, e.key)
				c.compact(topic)
				return e
			}
		}
	}
	return nil
}

// compact drops the finished expectations of topic's content list; the
// caller holds c.mu.
func (c *Client) compact(topic string) {
	list := c.content[topic]
	n := 0
	for _, e := range list {
		if !e.done {
			list[n] = e
			n++
		}
	}
	clear(list[n:])
	if n == 0 {
		delete(c.content, topic)
		return
	}
	c.content[topic] = list[:n]
}
