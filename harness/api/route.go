package api

import (
	"fmt"
	"net/url"
	"strings"
)

// url expands req's route template with its params and query.
func (c *Client) url(req *Request) (string, error) {
	var b strings.Builder
	b.Grow(len(c.base) + len(req.Route) + 32)
	b.WriteString(c.base)
	if err := ExpandRoute(&b, req.Route, req.Params); err != nil {
		return "", err
	}
	if len(req.Query) > 0 {
		b.WriteByte('?')
		b.WriteString(req.Query.Encode())
	}
	return b.String(), nil
}

// ExpandRoute writes route with each {name} replaced by the next of params,
// path-escaped. It fails when the counts differ or a brace is unclosed.
func ExpandRoute(b *strings.Builder, route string, params []string) error {
	if !strings.HasPrefix(route, "/") {
		return fmt.Errorf("api: route %q: must start with /", route)
	}
	n := 0
	for {
		i := strings.IndexByte(route, '{')
		if i < 0 {
			b.WriteString(route)
			break
		}
		j := strings.IndexByte(route[i:], '}')
		if j < 0 {
			return fmt.Errorf("api: route %q: unclosed {", route)
		}
		if n >= len(params) {
			return fmt.Errorf("api: route %q: no value for %s (got %d params)", route, route[i:i+j+1], len(params))
		}
		b.WriteString(route[:i])
		b.WriteString(url.PathEscape(params[n]))
		n++
		route = route[i+j+1:]
	}
	if n != len(params) {
		return fmt.Errorf("api: route has %d parameters, got %d values", n, len(params))
	}
	return nil
}
