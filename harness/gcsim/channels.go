package gcsim

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/gcsim/internal/streaming"
)

// Route families tokens, notifications and streaming: the caller's token, notification
// channels and their subscriptions, and the channel WebSocket.

// getTokenMe is GET /api/v2/tokens/me: the SDK's TokenInfo. It names no
// user and no creation or expiry date (the model has none);
// dateTokenIdles is the token's expiry.
func (s *Server) getTokenMe(c *reqCtx) {
	t := c.tok
	org := idName{ID: s.profile.Org.ID, Name: s.profile.Org.Name}
	type oauthClient struct {
		ID                  string   `json:"id"`
		Name                string   `json:"name"`
		AuthorizedGrantType string   `json:"authorizedGrantType"`
		State               string   `json:"state"`
		Organization        idName   `json:"organization"`
		Scope               []string `json:"scope"`
	}
	grant := "CLIENT-CREDENTIALS"
	if t.user != nil {
		grant = "PASSWORD" // the simulator's user grant; see docs/genesys.md, OAuth
	}
	s.writeJSON(c, http.StatusOK, struct {
		Organization     idName      `json:"organization"`
		HomeOrganization idName      `json:"homeOrganization"`
		AuthorizedScope  []string    `json:"authorizedScope"`
		DateTokenIdles   string      `json:"dateTokenIdles"`
		OAuthClient      oauthClient `json:"OAuthClient"`
	}{org, org, []string{}, time.Unix(0, t.expires).UTC().Format(isoMillis),
		oauthClient{ID: t.client.ID, Name: t.client.Name, AuthorizedGrantType: grant, State: "active", Organization: org, Scope: []string{}}})
}

// headTokenMe is HEAD /api/v2/tokens/me: 200 while the token is valid (the
// authentication before it answers 401 otherwise).
func (s *Server) headTokenMe(c *reqCtx) { s.writeStatus(c, http.StatusOK) }

// deleteTokenMe is DELETE /api/v2/tokens/me: it revokes the request's token.
func (s *Server) deleteTokenMe(c *reqCtx) {
	c.tok.revoked.Store(true)
	s.writeStatus(c, http.StatusNoContent)
	s.closeChannelsOf(func(t *token) bool { return t == c.tok })
}

// closeChannelsOf ends the channels created with a revoked token (those
// revoked says are), with v2.system.token_revoked.{id} to their sockets:
// see streaming.Hub.TokenRevoked.
func (s *Server) closeChannelsOf(revoked func(*token) bool) {
	var ids []string
	s.state.chanMu.Lock()
	for id, t := range s.state.chanToken {
		if revoked(t) {
			ids = append(ids, id)
			delete(s.state.chanToken, id)
		}
	}
	s.state.chanMu.Unlock()
	s.hub.TokenRevoked(ids...)
}

// Notification channels: the REST side of the hub.

func (s *Server) postChannel(c *reqCtx) {
	// The connectUri uses the host the client called, so it is right behind
	// a port forward or when the handler is mounted elsewhere.
	wsBase := s.wsURL
	if c.r.Host != "" && s.tenant == nil { // a tenant's streaming host is its own
		wsBase = "ws://" + c.r.Host
	}
	who := streaming.Who{OrganizationID: s.profile.Org.ID, OAuthClientID: c.tok.client.ID}
	if c.tok.user != nil {
		who.UserID = c.tok.user.ID
	}
	ch, err := s.hub.CreateChannelFor(c.tok.owner(s.profile.Org.ID), wsBase, who)
	if err != nil {
		s.hubError(c, err)
		return
	}
	s.state.chanMu.Lock()
	s.state.chanToken[ch.ID] = c.tok
	if s.state.chanSeq++; s.state.chanSeq%1024 == 0 { // forget evicted and expired channels
		for id := range s.state.chanToken {
			if _, ok := s.hub.Channel(id); !ok {
				delete(s.state.chanToken, id)
			}
		}
	}
	s.state.chanMu.Unlock()
	s.writeJSON(c, http.StatusOK, ch)
}

// getChannels is GET /api/v2/notifications/channels: the channels created
// with the caller's token, and with ?includechannels=oauthclient those of
// its OAuth client and user's other tokens, without their id and
// connectUri.
func (s *Server) getChannels(c *reqCtx) {
	var include string
	switch v := strings.ToLower(c.r.URL.Query().Get("includechannels")); v {
	case "", "token", "oauthclient":
		include = v
	default:
		s.badRequest(c, fmt.Sprintf("includechannels %q: want token or oauthclient", v))
		return
	}
	owner := c.tok.owner(s.profile.Org.ID)
	ents := []streaming.Channel{}
	s.state.chanMu.Lock()
	for id, t := range s.state.chanToken {
		ch, ok := s.hub.Channel(id)
		if !ok {
			delete(s.state.chanToken, id) // evicted or expired
			continue
		}
		switch {
		case t == c.tok:
			ents = append(ents, ch)
		case include == "oauthclient" && ch.Owner == owner:
			// "Channel Ids for other access tokens will not be shown,
			// but will be presented to show their existence."
			ents = append(ents, streaming.Channel{Expires: ch.Expires})
		}
	}
	s.state.chanMu.Unlock()
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].ID > ents[j].ID }) // the caller's own first
	s.writeJSON(c, http.StatusOK, map[string]any{"entities": ents})
}

// channel finds channel {id} of the caller or answers 404.
func (s *Server) channel(c *reqCtx) bool {
	ch, ok := s.hub.Channel(c.params[0])
	if !ok || (ch.Owner != "" && ch.Owner != c.tok.owner(s.profile.Org.ID)) {
		s.writeError(c, http.StatusNotFound, "not.found", "The channel "+c.params[0]+" was not found.", nil)
		return false
	}
	return true
}

func (s *Server) headChannel(c *reqCtx) {
	if _, ok := s.hub.Channel(c.params[0]); !ok {
		s.writeStatus(c, http.StatusNotFound)
		return
	}
	s.writeStatus(c, http.StatusOK)
}

func (s *Server) hubError(c *reqCtx, err error) {
	switch {
	case errors.Is(err, streaming.ErrChannelNotFound):
		s.writeError(c, http.StatusNotFound, "not.found", "The channel "+c.params[0]+" was not found.", nil)
	case errors.Is(err, streaming.ErrTooManyTopics):
		s.writeError(c, http.StatusBadRequest, "bad.request", err.Error(), nil)
	case errors.Is(err, streaming.ErrClosed):
		s.writeError(c, http.StatusServiceUnavailable, "service.unavailable", "The notification service is shutting down.", nil)
	default:
		s.writeError(c, http.StatusBadRequest, "bad.request", err.Error(), nil)
	}
}

func (s *Server) writeSubscriptions(c *reqCtx, subs []streaming.Subscription, err error) {
	if err != nil {
		s.hubError(c, err)
		return
	}
	if subs == nil {
		subs = []streaming.Subscription{}
	}
	s.writeJSON(c, http.StatusOK, map[string]any{"entities": subs})
}

func (s *Server) getSubscriptions(c *reqCtx) {
	if !s.channel(c) {
		return
	}
	subs, err := s.hub.Subscriptions(c.params[0])
	s.writeSubscriptions(c, subs, err)
}

func (s *Server) readTopics(c *reqCtx) ([]string, bool) {
	var body []struct {
		ID string `json:"id"`
	}
	if !s.readJSON(c, &body, false) {
		return nil, false
	}
	topics := make([]string, len(body))
	for i, t := range body {
		topics[i] = t.ID
	}
	return topics, true
}

func (s *Server) postSubscriptions(c *reqCtx) { s.subscribe(c, false) }
func (s *Server) putSubscriptions(c *reqCtx)  { s.subscribe(c, true) }

// subscribe answers POST (add) and PUT (replace) of a channel's topics. A
// topic the profile denies (Notifications.DeniedTopics) fails the whole
// request with 403, nothing subscribed, unless ignoreErrors=true: then the
// others are subscribed and the denied ones answered Rejected with their
// missingPermissions, as Genesys documents. A topic the simulator does not
// know is answered Rejected with a rejectionReason either way; whether
// Genesys fails the request for it without ignoreErrors is unconfirmed.
func (s *Server) subscribe(c *reqCtx, replace bool) {
	if !s.channel(c) {
		return
	}
	var ignore bool
	switch v := strings.ToLower(c.r.URL.Query().Get("ignoreErrors")); v {
	case "", "false":
	case "true":
		ignore = true
	default:
		s.badRequest(c, fmt.Sprintf("ignoreErrors %q: want true or false", v))
		return
	}
	topics, ok := s.readTopics(c)
	if !ok {
		return
	}
	var allowed, names []string
	var denied []streaming.Subscription
	seen := map[string]bool{}
	for _, t := range topics {
		perms := s.missingPermissions(t)
		if len(perms) == 0 {
			allowed = append(allowed, t)
			continue
		}
		if !seen[t] {
			seen[t] = true
			names = append(names, fmt.Sprintf("%s (%s)", t, strings.Join(perms, ", ")))
			denied = append(denied, streaming.Subscription{ID: t, State: streaming.StateRejected, MissingPermissions: perms,
				RejectionReason: "missing permissions: " + strings.Join(perms, ", "),
				SelfURI:         "/api/v2/notifications/channels/" + c.params[0] + "/subscriptions"})
		}
	}
	if len(denied) > 0 && !ignore {
		s.writeError(c, http.StatusForbidden, "missing.permissions", fmt.Sprintf("The token lacks permissions for %d topic(s), so nothing was subscribed: %s. Subscribe without them, or send ignoreErrors=true to subscribe the others.",
			len(denied), strings.Join(names, "; ")), nil)
		return
	}
	subs, err := s.hub.Subscribe(c.params[0], allowed, replace)
	s.writeSubscriptions(c, append(subs, denied...), err)
}

// missingPermissions returns the permissions the profile's DeniedTopics
// say a token lacks for topic (each sub-topic of a compound one).
func (s *Server) missingPermissions(topic string) []string {
	if len(s.profile.Notifications.DeniedTopics) == 0 {
		return nil
	}
	var out []string
	for _, p := range streaming.Patterns(topic) {
		for _, perm := range s.profile.Notifications.DeniedTopics[p] {
			if !slices.Contains(out, perm) {
				out = append(out, perm)
			}
		}
	}
	return out
}

func (s *Server) deleteSubscriptions(c *reqCtx) {
	if !s.channel(c) {
		return
	}
	if err := s.hub.Unsubscribe(c.params[0]); err != nil {
		s.hubError(c, err)
		return
	}
	s.writeStatus(c, http.StatusNoContent)
}

// serveWS is GET /channels/{id} on the streaming host.
func (s *Server) serveWS(c *reqCtx) {
	s.wsMu.Lock()
	if s.closed.Load() {
		s.wsMu.Unlock()
		s.writeError(c, http.StatusServiceUnavailable, "service.unavailable", "The server is closing.", nil)
		return
	}
	s.wsWG.Add(1)
	s.wsMu.Unlock()
	defer s.wsWG.Done()
	w := &wsWriter{ResponseWriter: c.w}
	s.hub.ServeWS(w, c.r, c.params[0])
	c.status = w.status
	if w.hijacked {
		c.status = http.StatusSwitchingProtocols
	}
	s.stats.count(c)
}

// wsWriter records what the hub answered: an upgrade (hijack) or a status.
type wsWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *wsWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *wsWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *wsWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("gcsim: the response writer cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *wsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
