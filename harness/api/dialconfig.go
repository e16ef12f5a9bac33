package api

import (
	"context"
	"crypto/tls"
	"net"
)

// DialConfig returns the Dial and TLSConfig c was made with (nil when not
// set), so that other connections to the same target, such as
// notification WebSockets, are dialled and verified the same way.
func (c *Client) DialConfig() (dial func(ctx context.Context, network, addr string) (net.Conn, error), tlsConfig *tls.Config) {
	return c.cfg.Dial, c.cfg.TLSConfig
}

// UnnamedLimit is Result.ThrottledBy of a 429 whose body names no limit
// (an edge, CDN or proxy in front of the API rather than a Genesys limit):
// the report counts it as a limit of that name.
const UnnamedLimit = "unnamed"
