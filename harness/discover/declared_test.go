package discover_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/api"
	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/harness/discover"
)

type oneToken struct{}

func (oneToken) Token(context.Context, int) (*auth.Token, error) {
	return auth.NewToken("tok", "client", time.Now().Add(time.Hour)), nil
}
func (oneToken) Invalidate(*auth.Token) {}

// A limits API answering in a shape cxload does not read leaves the
// discovery without declared limits, with a sentence saying so, not failed;
// a canceled context is an error.
func TestDeclaredLimitsUnknownShape(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"limits":{"platform.api":{"x":1}}}`))
	}))
	defer srv.Close()
	c, err := api.New(api.Config{BaseURL: srv.URL, Tokens: oneToken{}, Retry: api.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	declared, unread, err := discover.DeclaredLimits(t.Context(), c)
	if err != nil || declared != nil {
		t.Fatalf("DeclaredLimits = %v, %v; want no limits and no error", declared, err)
	}
	if !strings.Contains(unread, "fell back on rate-limit headers and 429s") {
		t.Errorf("unread = %q, want the fallback said", unread)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if declared, unread, err := discover.DeclaredLimits(ctx, c); err == nil || declared != nil || unread != "" {
		t.Errorf("DeclaredLimits(canceled) = %v, %q, %v; want an error only", declared, unread, err)
	}
}
