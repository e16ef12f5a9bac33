// Package streaming is gcsim's notification hub: Genesys Cloud notification
// channels, their topic subscriptions, and the WebSocket each channel's
// connectUri serves.
package streaming

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// Defaults used when a Config field is zero.
const (
	DefaultHeartbeatInterval   = 30 * time.Second
	DefaultMaxChannelsPerOwner = 20
	DefaultMaxTopicsPerChannel = 1000
	DefaultChannelTTL          = 24 * time.Hour
	DefaultSendBuffer          = 256
	DefaultSocketClosingGrace  = 60 * time.Second
)

// Errors returned by Hub methods; test with errors.Is.
var (
	ErrChannelNotFound = errors.New("streaming: channel not found")
	ErrTooManyTopics   = errors.New("streaming: too many topics")
	ErrClosed          = errors.New("streaming: hub closed")
)

// Config configures a Hub. Zero fields take the Default values.
type Config struct {
	HeartbeatInterval   time.Duration // default 30s
	MaxChannelsPerOwner int           // 20
	MaxTopicsPerChannel int           // 1000
	ChannelTTL          time.Duration // 24h
	SendBuffer          int           // per socket, messages; overflow => drop + close, counted
	SocketClosingGrace  time.Duration // 60s
	Now                 func() time.Time
}

// Channel is a notification channel as POST /api/v2/notifications/channels answers it.
type Channel struct {
	ID         string    `json:"id"`
	ConnectURI string    `json:"connectUri"`
	Expires    time.Time `json:"expires"`
	Owner      string    `json:"-"`
}

// Subscription is one topic of a channel, as the subscriptions endpoints answer it.
type Subscription struct {
	ID                 string   `json:"id"`
	State              string   `json:"state"`
	RejectionReason    string   `json:"rejectionReason,omitempty"`
	MissingPermissions []string `json:"missingPermissions,omitempty"`
	SelfURI            string   `json:"selfUri,omitempty"`
}

// Stats are the hub's counters.
type Stats struct {
	Channels, Sockets int64
}

// Hub holds notification channels and their sockets. Safe for concurrent use.
type Hub struct {
	cfg Config
	mu  sync.Mutex
}

// NewHub returns a Hub configured by cfg.
func NewHub(cfg Config) *Hub { return &Hub{cfg: cfg} }

// CreateChannel creates a channel for owner.
func (h *Hub) CreateChannel(owner string, wsBase string) (Channel, error) {
	return Channel{}, nil
}

// Channel returns the channel with the given id.
func (h *Hub) Channel(id string) (Channel, bool) { return Channel{}, false }

// Subscribe adds (or with replace, replaces) the channel's topics.
func (h *Hub) Subscribe(id string, topics []string, replace bool) ([]Subscription, error) {
	return nil, ErrChannelNotFound
}

// Unsubscribe removes every topic of the channel.
func (h *Hub) Unsubscribe(id string) error { return ErrChannelNotFound }

// Subscriptions lists the channel's topics.
func (h *Hub) Subscriptions(id string) ([]Subscription, error) { return nil, ErrChannelNotFound }

// Publish sends an event to every socket subscribed to topic and returns how many it reached.
func (h *Hub) Publish(topic string, eventBody any, correlationID string) int { return 0 }

// ServeWS serves the WebSocket of channel id (its connectUri).
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, id string) {
	http.Error(w, "streaming: not implemented", http.StatusNotImplemented)
}

// SocketClosing sends v2.system.socket_closing to channel id ("" = all), then closes after the grace.
func (h *Hub) SocketClosing(id string) {}

// Drop closes the socket(s) of channel id ("" = all) abruptly.
func (h *Hub) Drop(id string) {}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats { return Stats{} }

// Close closes every socket and stops the hub.
func (h *Hub) Close() {}
