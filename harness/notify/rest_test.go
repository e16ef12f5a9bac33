package notify

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A 429's Retry-After may be an HTTP-date (RFC 9110) rather than seconds;
// the HTTPError carries the wait either way, with the ErrorBody's code and
// message.
func TestHTTPErrorRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for _, ra := range []string{"7", now.Add(7 * time.Second).Format(http.TimeFormat)} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", ra)
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message":"Rate limit exceeded the maximum. Retry the request in [7] seconds","code":"too.many.requests.retry.after","status":429}`))
		}))
		c := &Client{o: Options{API: newAPI(t, srv.URL, srv.Client(), func(context.Context) (string, error) { return "t", nil }),
			Now: func() time.Time { return now }}}
		err := c.do(t.Context(), OpChannelCreate, http.MethodPost, "/api/v2/notifications/channels", nil, nil, nil)
		srv.Close()
		var he *HTTPError
		if !errors.As(err, &he) || he.RetryAfter != 7*time.Second || he.Code != "too.many.requests.retry.after" || he.Message == "" {
			t.Errorf("Retry-After %q: do = %#v, want an HTTPError with RetryAfter 7s, the code and the message", ra, err)
		}
	}
}
