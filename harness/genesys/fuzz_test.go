package genesys_test

import (
	"testing"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// The header and body parsers see whatever a server or proxy sends: they
// must never panic and must keep their documented bounds.

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "0", "-1", "1.5", "1e9", "NaN", "Thu, 26 Nov 2026 23:00:30 GMT", "", " 7 ", "+3", ".5"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := genesys.ParseRetryAfter(v, now)
		if d < 0 || d > 24*time.Hour || (!ok && d != 0) {
			t.Errorf("ParseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

func FuzzParseRateLimitHeaders(f *testing.F) {
	f.Add("12", "300", "48")
	f.Add("", "", "")
	f.Add("-1", "1e3", "NaN")
	f.Fuzz(func(t *testing.T, count, allowed, reset string) {
		h := genesys.ParseRateLimitHeaders(count, allowed, reset)
		if h.Count < 0 || h.Allowed < 0 || h.Reset < 0 || h.Reset > 24*time.Hour || h.Present != (h.Allowed > 0) {
			t.Errorf("ParseRateLimitHeaders(%q, %q, %q) = %+v", count, allowed, reset, h)
		}
	})
}

func FuzzParseLimitBody(f *testing.F) {
	f.Add([]byte(`{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds","code":"too.many.requests","status":429,"limit":{"key":"token.rate.per.minute","namespace":"platform.api","value":300}}`))
	f.Add([]byte(`{"code":"too.many.requests.retry.after","message":"Retry the request in [5] seconds"}`))
	f.Add([]byte(`{"limit":{"value":1e99}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		lb, _ := genesys.ParseLimitBody(body)
		if lb.Value < 0 || lb.MsgAllowed < 0 || lb.MsgWindow < 0 || lb.MsgRetry < 0 || lb.MsgWindow > 24*time.Hour || lb.MsgRetry > 24*time.Hour {
			t.Errorf("ParseLimitBody(%q) = %+v", body, lb)
		}
	})
}
