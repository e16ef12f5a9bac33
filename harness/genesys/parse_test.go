package genesys_test

import (
	"testing"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},                              // delay-seconds, Genesys' form
		{" 61 ", 61 * time.Second, true},                          // spaces trimmed
		{"0", 0, true},                                            // retry at once
		{"1.5", 1500 * time.Millisecond, true},                    // fractional, some proxies
		{"7.9399999999999995", 7940 * time.Millisecond, true},     // rounded to the ns, not truncated
		{"-3", 0, true},                                           // negative: no wait
		{"99999999999", 24 * time.Hour, true},                     // capped
		{"Thu, 26 Nov 2026 23:00:30 GMT", 30 * time.Second, true}, // HTTP-date
		{"Thursday, 26-Nov-26 23:01:00 GMT", time.Minute, true},   // RFC 850 date
		{"Thu, 26 Nov 2026 22:00:00 GMT", 0, true},                // past date
		{"", 0, false},                                            // absent
		{"soon", 0, false},                                        // garbage
		{"5s", 0, false},                                          // not a number
		{"NaN", 0, false},                                         // not a number
		{"1e400", 0, false},                                       // overflows float64
		{"Thu, 26 Nov 2026 25:00:00 GMT", 0, false},               // invalid hour
	} {
		got, ok := genesys.ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseRateLimitHeaders(t *testing.T) {
	for _, tc := range []struct {
		count, allowed, reset string
		want                  genesys.RateLimitHeaders
	}{
		{"12", "300", "48", genesys.RateLimitHeaders{Count: 12, Allowed: 300, Reset: 48 * time.Second, Present: true}},
		{"", "", "", genesys.RateLimitHeaders{}},                                                                        // no headers
		{"3", "0", "1", genesys.RateLimitHeaders{Count: 3, Reset: time.Second}},                                         // allowed 0 is not a limit
		{"x", "180", "", genesys.RateLimitHeaders{Allowed: 180, Present: true}},                                         // bad count ignored
		{"-1", "100", "-5", genesys.RateLimitHeaders{Allowed: 100, Present: true}},                                      // negatives ignored
		{"1", "1e3", "0.5", genesys.RateLimitHeaders{Count: 1, Reset: 500 * time.Millisecond}},                          // allowed must be an integer
		{"0", "0", "7.9399999999999995", genesys.RateLimitHeaders{Reset: 7940 * time.Millisecond}},                      // (7.94 s).Seconds(): rounded to 7.94 s, not truncated
		{"99999999999999", "300", "61", genesys.RateLimitHeaders{Allowed: 300, Reset: 61 * time.Second, Present: true}}, // absurd count ignored
	} {
		if got := genesys.ParseRateLimitHeaders(tc.count, tc.allowed, tc.reset); got != tc.want {
			t.Errorf("ParseRateLimitHeaders(%q, %q, %q) = %+v, want %+v", tc.count, tc.allowed, tc.reset, got, tc.want)
		}
	}
}

func TestParseLimitBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want genesys.LimitBody
		ok   bool
	}{
		{"gcsim 429", `{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds","code":"too.many.requests","status":429,"limit":{"key":"token.rate.per.minute","namespace":"platform.api","value":300}}`,
			genesys.LimitBody{Code: "too.many.requests", Message: "Rate limit exceeded the maximum [300] requests within [60] seconds", Key: "token.rate.per.minute", Namespace: "platform.api", Value: 300, MsgAllowed: 300, MsgWindow: time.Minute}, true},
		{"retry form, no limit", `{"message":"Rate limit exceeded the maximum. Retry the request in [5] seconds","code":"too.many.requests.retry.after","status":429}`,
			genesys.LimitBody{Code: "too.many.requests.retry.after", Message: "Rate limit exceeded the maximum. Retry the request in [5] seconds", MsgRetry: 5 * time.Second}, true},
		{"value as string ignored", `{"code":"too.many.requests","limit":{"key":"k","value":"300"}}`, genesys.LimitBody{Code: "too.many.requests", Key: "k"}, true},
		{"other error", `{"message":"Not found","code":"not.found","status":404}`, genesys.LimitBody{Code: "not.found", Message: "Not found"}, false},
		{"not json", `<html>busy</html>`, genesys.LimitBody{}, false},
		{"empty", ``, genesys.LimitBody{}, false},
		{"truncated", `{"code":"too.many`, genesys.LimitBody{}, false},
	} {
		got, ok := genesys.ParseLimitBody([]byte(tc.body))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: ParseLimitBody = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseLimitMessage(t *testing.T) {
	for _, tc := range []struct {
		msg     string
		allowed int
		window  time.Duration
		retry   time.Duration
	}{
		{"Rate limit exceeded the maximum [300] requests within [60] seconds", 300, time.Minute, 0},
		{"Rate limit exceeded the maximum. Retry the request in [12] seconds", 0, 0, 12 * time.Second},
		{"Rate limit exceeded the maximum [100] requests within [x] seconds", 0, 0, 0}, // one number only
		{"Rate limit exceeded", 0, 0, 0},
		{"[", 0, 0, 0},
		{"", 0, 0, 0},
	} {
		a, w, r := genesys.ParseLimitMessage(tc.msg)
		if a != tc.allowed || w != tc.window || r != tc.retry {
			t.Errorf("ParseLimitMessage(%q) = %d, %v, %v; want %d, %v, %v", tc.msg, a, w, r, tc.allowed, tc.window, tc.retry)
		}
	}
}

// TestParseRateLimitHeadersAllocs checks that parsing, absent headers
// included (the common case off Genesys), does not allocate per response.
func TestParseRateLimitHeadersAllocs(t *testing.T) {
	tests := []struct{ name, count, allowed, reset string }{
		{"all present", "3", "300", "42"},
		{"reset absent", "3", "300", ""},
		{"all absent", "", "", ""},
		{"reset blank", "3", "300", "  "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { genesys.ParseRateLimitHeaders(tt.count, tt.allowed, tt.reset) }); n != 0 {
				t.Errorf("ParseRateLimitHeaders(%q, %q, %q): %v allocs per call, want 0", tt.count, tt.allowed, tt.reset, n)
			}
		})
	}
}
