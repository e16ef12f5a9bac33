package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cxload/cxload/harness/genesys"
	"github.com/cxload/cxload/internal/clip"
)

// StatusError is returned by the JSON helpers for a final status outside
// 2xx. It holds the whole response.
type StatusError struct {
	Response *Response
}

// Error says which request, the status, the attempts and the limit that
// throttled it, and the start of the server's message.
func (e *StatusError) Error() string {
	r := &e.Response.Result
	s := fmt.Sprintf("api: %s %s: %d %s after %d attempt(s)", r.Method, r.Route, r.Status, http.StatusText(r.Status), r.Attempts)
	if r.ThrottledBy != "" {
		s += fmt.Sprintf(" (limit %s, scope %s)", r.ThrottledBy, r.Scope)
	}
	// A field of another type than ErrorBody's (a proxy's body, a number
	// as a string) loses that field only: encoding/json fills the others.
	var eb genesys.ErrorBody
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(e.Response.Body, &eb); (err == nil || errors.As(err, &te)) && (eb.Message != "" || eb.Code != "") {
		s += ": " + clip.String(strings.TrimSpace(eb.Code+" "+eb.Message), 200)
	}
	if r.Err != "" {
		s += ": " + r.Err
	}
	return s
}

// GetJSON sends GET route (its {parameters} filled from params) and decodes a
// 2xx JSON answer into out (nil: ignore the body).
func (c *Client) GetJSON(ctx context.Context, route string, out any, params ...string) (*Response, error) {
	return c.DoJSON(ctx, &Request{Method: http.MethodGet, Route: route, Params: params}, nil, out)
}

// SendJSON sends method route with in encoded as JSON (nil: no body) and
// decodes a 2xx JSON answer into out (nil: ignore the body).
func (c *Client) SendJSON(ctx context.Context, method, route string, in, out any, params ...string) (*Response, error) {
	return c.DoJSON(ctx, &Request{Method: method, Route: route, Params: params}, in, out)
}

// DoJSON is Do with in encoded as req.Body (unless nil) and a 2xx answer
// decoded into out (unless nil). A final status outside 2xx gives a
// *StatusError holding the whole response. A 2xx whose body cannot be
// decoded into out is a failed request: DoJSON returns the decoding error
// (naming the request and out's type), and resp.Result, as recorded, has
// Outcome metrics.ServerError, the 2xx status and that error as Err.
func (c *Client) DoJSON(ctx context.Context, req *Request, in, out any) (*Response, error) {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("api: %s %s: encoding request body: %v", req.Method, req.Route, err)
		}
		req.Body = b
	}
	resp, err := c.do(ctx, req, out)
	if err != nil {
		return resp, err // no response, or a 2xx that could not be decoded
	}
	if resp.Status < 200 || resp.Status > 299 {
		return resp, &StatusError{Response: resp}
	}
	return resp, nil
}
