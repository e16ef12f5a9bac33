package streaming

import (
	"fmt"
	"strings"
)

// TopicPatterns lists the topic forms the hub accepts. "{id}" stands for one
// dot-free identifier (a user, queue or conversation id: letters, digits, '-'
// and '_'). It is a subset of Genesys Cloud's 237 topics: the ones a
// contact-center load touches. There is no bare v2.conversations.{id}
// topic in Genesys, so it is refused like any unknown topic. A compound
// topic, base?a&b (v2.users.{id}?presence&routingStatus), counts as one
// topic of a channel's limit and delivers each base.a as that topic would;
// every base.a must be one of TopicPatterns. System topics
// (v2.system.*) are delivered without subscribing and cannot be subscribed.
var TopicPatterns = []string{
	"v2.users.{id}.presence",
	"v2.users.{id}.routingStatus",
	"v2.users.{id}.conversations",
	"v2.users.{id}.conversations.calls",
	"v2.users.{id}.conversationsummary",
	"v2.users.{id}.activity",
	"v2.users.{id}.station",
	"v2.routing.queues.{id}.conversations",
	"v2.routing.queues.{id}.conversations.calls",
	"v2.routing.queues.{id}.users",
	"v2.analytics.queues.{id}.observations",
	"v2.conversations.{id}.transcription",
}

// ValidateTopic reports whether topic is one of TopicPatterns. The error is
// the rejectionReason a subscription gets: it says what is wrong and how to
// write the topic.
func ValidateTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("streaming: topic %q: empty; write e.g. v2.users.{id}.presence", topic)
	}
	if strings.HasPrefix(topic, "v2.system.") {
		return fmt.Errorf("streaming: topic %q: system topics are delivered without subscribing", topic)
	}
	if strings.Contains(topic, "*") {
		return fmt.Errorf("streaming: topic %q: wildcard topics are not supported by the simulator; subscribe each topic", topic)
	}
	if base, subs, ok := strings.Cut(topic, "?"); ok {
		if subs == "" {
			return fmt.Errorf("streaming: topic %q: compound topic without sub-topics; write e.g. %s?presence&routingStatus", topic, base)
		}
		for _, sub := range strings.Split(subs, "&") {
			if sub == "" {
				return fmt.Errorf("streaming: topic %q: empty sub-topic between '&'s", topic)
			}
			if err := ValidateTopic(base + "." + sub); err != nil {
				return fmt.Errorf("streaming: topic %q: sub-topic %q: %w", topic, sub, err)
			}
		}
		return nil
	}
	if strings.Contains(topic, "&") {
		return fmt.Errorf("streaming: topic %q: '&' only separates the sub-topics of a compound topic base?a&b", topic)
	}
	parts := strings.Split(topic, ".")
	for _, p := range TopicPatterns {
		pp := strings.Split(p, ".")
		if len(pp) != len(parts) {
			continue
		}
		literal, ids := true, true
		for i := range pp {
			if pp[i] == "{id}" {
				ids = ids && validID(parts[i])
			} else if pp[i] != parts[i] {
				literal = false
				break
			}
		}
		if literal && ids {
			return nil
		}
		if literal {
			return fmt.Errorf("streaming: topic %q: bad id for %s; an id is 1 to 128 letters, digits, '-' or '_'", topic, p)
		}
	}
	return fmt.Errorf("streaming: topic %q: unknown topic; the simulator knows %s", topic, strings.Join(TopicPatterns, ", "))
}

// Patterns returns the TopicPatterns entries that topic delivers: one for a
// plain topic, one per sub-topic of a compound one; nil if ValidateTopic
// refuses it.
func Patterns(topic string) []string {
	if ValidateTopic(topic) != nil {
		return nil
	}
	var out []string
	for _, t := range expandTopic(topic) {
		parts := strings.Split(t, ".")
		for _, p := range TopicPatterns {
			pp := strings.Split(p, ".")
			if len(pp) != len(parts) {
				continue
			}
			match := true
			for i := range pp {
				match = match && (pp[i] == "{id}" || pp[i] == parts[i])
			}
			if match {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// expandTopic returns the topics a subscription delivers: a compound topic
// base?a&b delivers base.a and base.b, each event under its own full
// name (v2.users.{id}.presence), as Genesys sends them; any other topic
// delivers itself.
func expandTopic(topic string) []string {
	base, subs, ok := strings.Cut(topic, "?")
	if !ok {
		return []string{topic}
	}
	var out []string
	for _, sub := range strings.Split(subs, "&") {
		out = append(out, base+"."+sub)
	}
	return out
}

func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
