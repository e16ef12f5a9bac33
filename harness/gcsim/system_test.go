package gcsim_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cxload/cxload/harness/gcsim"
)

// systemEvent reads the next event, which must be on topic, and decodes
// its body into the SDK's SystemMessage.
func systemEvent(tb testing.TB, ws *websocket.Conn, topic string) sdkmSystemmessagesystemmessage {
	tb.Helper()
	e := next(tb, ws)
	if e.TopicName != topic {
		tb.Fatalf("event on %s, want %s: %s", e.TopicName, topic, e.EventBody)
	}
	var m sdkmSystemmessagesystemmessage
	strict(tb, topic, e.EventBody, &m)
	return m
}

// closedWith reads until the socket closes and returns the close code.
func closedWith(tb testing.TB, ws *websocket.Conn) int {
	tb.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			tb.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}

// TestTokenRevoked: revoking a token (DELETE /api/v2/tokens/me, RevokeToken,
// or RevokeClientTokens) sends v2.system.token_revoked.{id} with the SDK's
// SystemMessage to each channel it created, closes their sockets with 1000
// and forgets the channels; other tokens' channels stay.
func TestTokenRevoked(t *testing.T) {
	s := newServer(t, nil)
	keep := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	revoke := map[string]func(tok string){
		"DELETE /api/v2/tokens/me": func(tok string) {
			if r := do(t, s, "DELETE", "/api/v2/tokens/me", tok, nil); r.Status != 204 {
				t.Fatalf("DELETE /api/v2/tokens/me: %d %s", r.Status, r.Body)
			}
		},
		"RevokeToken": func(tok string) { s.RevokeToken(tok) },
	}
	for name, rev := range revoke {
		t.Run(name, func(t *testing.T) {
			tok := userToken(t, s, 2)
			id, ws := openChannel(t, s, tok, "v2.users."+gcsim.UserID(2)+".presence")
			otherID, _ := openChannel(t, s, keep, "v2.users."+gcsim.UserID(2)+".presence")
			rev(tok)
			m := systemEvent(t, ws, "v2.system.token_revoked."+id)
			if m.ChannelId != id || m.SystemTopicType != "token_revoked" || m.Reason != "user_tokens_revoked" ||
				m.UserId != gcsim.UserID(2) || m.OauthClientId != gcsim.DefaultClientID || m.Message == "" {
				t.Errorf("token_revoked body = %+v, want channel %s, user %s, client %s, reason user_tokens_revoked", m, id, gcsim.UserID(2), gcsim.DefaultClientID)
			}
			if code := closedWith(t, ws); code != websocket.CloseNormalClosure {
				t.Errorf("socket closed with %d, want 1000", code)
			}
			if r := do(t, s, "HEAD", "/api/v2/notifications/channels/"+id, keep, nil); r.Status != 404 {
				t.Errorf("HEAD the revoked token's channel: %d, want 404", r.Status)
			}
			if r := do(t, s, "HEAD", "/api/v2/notifications/channels/"+otherID, keep, nil); r.Status != 200 {
				t.Errorf("HEAD another token's channel: %d, want 200", r.Status)
			}
		})
	}
}

// TestSystemMessages: socket_closing and no_longer_subscribed (eviction)
// carry the SDK's SystemMessage with the channel's id.
func TestSystemMessages(t *testing.T) {
	p := gcsim.DefaultProfile()
	p.Notifications.SocketClosingGrace = gcsim.Duration(10 * time.Second)
	s := newServer(t, p)
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	id, ws := openChannel(t, s, tok)
	s.SetFaults(gcsim.Faults{SocketClosing: true})
	if m := systemEvent(t, ws, "v2.system.socket_closing"); m.ChannelId != id || m.Message == "" || m.OrganizationId == "" {
		t.Errorf("socket_closing body = %+v, want channel %s, organization and message", m, id)
	}

	// An owner with one channel evicts it when it creates another.
	p.Notifications.MaxChannelsPerOwner = 1
	s = newServer(t, p)
	tok = token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	id, ws = openChannel(t, s, tok)
	if r := do(t, s, "POST", "/api/v2/notifications/channels", tok, nil); r.Status != 200 {
		t.Fatalf("POST channels: %d %s", r.Status, r.Body)
	}
	if m := systemEvent(t, ws, "v2.system.no_longer_subscribed."+id); m.ChannelId != id || m.SystemTopicType != "no_longer_subscribed" || m.Message == "" {
		t.Errorf("no_longer_subscribed body = %+v, want channel %s, type no_longer_subscribed", m, id)
	}
}

// TestChannelsOfOtherTokens: ?includechannels=oauthclient shows the
// channels of the client's other tokens without their ids.
func TestChannelsOfOtherTokens(t *testing.T) {
	s := newServer(t, nil)
	a := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	b := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	mine, _ := openChannel(t, s, a)
	openChannel(t, s, b)
	var l sdkmChannelentitylisting
	strict(t, "GET channels", do(t, s, "GET", "/api/v2/notifications/channels?includechannels=oauthclient", a, nil).Body, &l)
	if len(l.Entities) != 2 || l.Entities[0].Id != mine || l.Entities[1].Id != "" || l.Entities[1].ConnectUri != "" || l.Entities[1].Expires == "" {
		t.Errorf("channels = %+v, want %s then another token's channel without id or connectUri", l.Entities, mine)
	}
}
