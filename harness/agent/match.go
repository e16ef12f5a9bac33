package agent

import (
	"strings"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/notify"
)

// A ContentExpecter is an [Expecter] that also matches an event by what it
// says (a key of notify.ContentOf), for a platform that does not echo the
// request's correlation id. notify.Client and the agents' views of
// [Channels] are ContentExpecters.
type ContentExpecter interface {
	Expecter
	ExpectContent(correlationID, topic, content string, sentAt time.Time)
}

// expect registers on exp the event on topic that req, with body in, is
// about to cause: by content as well when exp can and the content is known.
func (a *Agent) expect(exp Expecter, corr, topic string, req *api.Request, in any, sentAt time.Time) {
	if ce, ok := exp.(ContentExpecter); ok {
		if content := a.expectedContent(req, in, topic); content != "" {
			ce.ExpectContent(corr, topic, content, sentAt)
			return
		}
	}
	exp.Expect(corr, topic, sentAt)
}

// expectedContent returns the content key (notify.PresenceContent, ...) of
// the event on topic that req causes: the user is the topic's; the
// presence definition, the routing status the system derives from it, or
// the conversation and the agent's call state come from the request.
// Empty: not known before the answer (a new call's conversation id).
func (a *Agent) expectedContent(req *api.Request, in any, topic string) string {
	var conv string
	if len(req.Params) > 0 {
		conv = req.Params[0]
	}
	switch req.Op {
	case OpPresenceSet:
		switch {
		case strings.HasSuffix(topic, ".presence"):
			if b, ok := in.(map[string]any); ok {
				if pd, ok := b["presenceDefinition"].(map[string]string); ok && pd["id"] != "" {
					return notify.PresenceContent(pd["id"])
				}
			}
		case strings.HasSuffix(topic, ".routingStatus"): // SetPresence expects it only when On Queue is entered or left
			a.mu.Lock()
			was := normalizePresence(a.state.PresenceName) == normalizePresence(PresenceOnQueue)
			a.mu.Unlock()
			if was {
				return notify.RoutingStatusContent("OFF_QUEUE")
			}
			return notify.RoutingStatusContent("IDLE")
		}
	case OpCallAnswer, OpCallDisconnect:
		if b, ok := in.(map[string]string); ok {
			return notify.CallContent(conv, b["state"])
		}
	case OpCallTransfer:
		return notify.CallContent(conv, "disconnected") // the agent leaves the call
	case OpCallHold, OpCallWrapup, OpRecordingSet:
		return notify.CallContent(conv, "")
	}
	return ""
}
