package genesys_test

// Round-trip properties of the header and body parsers (the reliability
// suite's fuzz targets; fuzz_test.go holds the package's own bounds checks).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/genesys"
)

// fuzzNow is the fixed "now" of the Retry-After fuzz target.
var fuzzNow = time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)

// FuzzRetryAfterRoundTrip: any header value parses without panicking into a
// wait in [0, 24h]; malformed values give (0, false); a parsed wait written
// back as delay-seconds, or as an HTTP-date, parses to the same wait.
func FuzzRetryAfterRoundTrip(f *testing.F) {
	for _, s := range []string{"5", "0", "-3", "1.5", " 60 ", "86401", "1e9", "Wed, 26 Nov 2026 23:31:00 GMT",
		"Thu, 01 Jan 1970 00:00:00 GMT", "soon", "", "+7", ".5", "0x10", "NaN", "9999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := genesys.ParseRetryAfter(v, fuzzNow)
		if !ok {
			if d != 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v, false: a refused value must give 0", v, d)
			}
			return
		}
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %v: outside [0, 24h]", v, d)
		}
		// Round trip through both encodings Retry-After has, at second
		// precision (the header's own).
		whole := d.Truncate(time.Second)
		if got, ok := genesys.ParseRetryAfter(strconv.FormatInt(int64(whole/time.Second), 10), fuzzNow); !ok || got != whole {
			t.Fatalf("%q -> %v; as delay-seconds %d -> %v, %v", v, d, whole/time.Second, got, ok)
		}
		date := fuzzNow.Add(whole).UTC().Format(http.TimeFormat)
		if got, ok := genesys.ParseRetryAfter(date, fuzzNow); !ok || got != whole {
			t.Fatalf("%q -> %v; as HTTP-date %q -> %v, %v", v, d, date, got, ok)
		}
	})
}

// FuzzRateLimitHeadersRoundTrip: any inin-ratelimit-* values parse without
// panicking into non-negative figures, Present exactly when allowed is
// positive, and the figures written back as headers parse the same.
func FuzzRateLimitHeadersRoundTrip(f *testing.F) {
	for _, s := range [][3]string{{"12", "300", "45"}, {"300", "300", "0"}, {"", "", ""}, {"-1", "-300", "-5"},
		{"1.5", "300.0", "59.9"}, {" 7 ", " 300 ", " 60 "}, {"999999999999", "9999999999999", "1e12"}, {"x", "0", "NaN"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, count, allowed, reset string) {
		h := genesys.ParseRateLimitHeaders(count, allowed, reset)
		if h.Count < 0 || h.Allowed < 0 || h.Reset < 0 || h.Reset > 24*time.Hour {
			t.Fatalf("ParseRateLimitHeaders(%q, %q, %q) = %+v: negative or unbounded", count, allowed, reset, h)
		}
		if h.Present != (h.Allowed > 0) {
			t.Fatalf("ParseRateLimitHeaders(%q, %q, %q) = %+v: Present must mean Allowed > 0", count, allowed, reset, h)
		}
		back := genesys.ParseRateLimitHeaders(strconv.Itoa(h.Count), strconv.Itoa(h.Allowed), strconv.FormatFloat(h.Reset.Seconds(), 'f', -1, 64))
		if back != h {
			t.Fatalf("%+v written back parses as %+v", h, back)
		}
	})
}

// FuzzLimitBodyRoundTrip: any 429 body parses without panicking; an accepted
// body has a limit or a too.many.requests code, a non-negative value, and
// re-encoded as an ErrorBody parses to the same fields.
func FuzzLimitBodyRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"message":"Rate limit exceeded the maximum [300] requests within [60] seconds","code":"too.many.requests","status":429,` +
			`"limit":{"key":"token.rate.per.minute","namespace":"platform.api","value":300}}`,
		`{"message":"Rate limit exceeded the maximum. Retry the request in [5] seconds","code":"too.many.requests.retry.after","status":429}`,
		`{"code":"too.many.requests","limit":{"key":42,`, `{"limit":null}`, `{"limit":{"value":-1}}`, `{"limit":{"value":1e300}}`,
		`[]`, `not json`, ``, `{"code":"bad.request"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		lb, ok := genesys.ParseLimitBody(body)
		if !ok {
			return
		}
		if lb.Value < 0 || lb.MsgAllowed < 0 || lb.MsgWindow < 0 || lb.MsgRetry < 0 {
			t.Fatalf("ParseLimitBody(%q) = %+v: negative figures", body, lb)
		}
		eb := map[string]any{"code": lb.Code, "message": lb.Message,
			"limit": map[string]any{"key": lb.Key, "namespace": lb.Namespace, "value": lb.Value}}
		data, err := json.Marshal(eb)
		if err != nil {
			t.Fatal(err)
		}
		back, ok := genesys.ParseLimitBody(data)
		if !ok || back != lb {
			t.Fatalf("ParseLimitBody(%q) = %+v; re-encoded %s parses as %+v, %v", body, lb, data, back, ok)
		}
	})
}

// FuzzParseLimitMessage: any message parses without panicking into
// non-negative figures, and Genesys' two message forms written with the
// figures parse back to them.
func FuzzParseLimitMessage(f *testing.F) {
	for _, s := range []string{
		"Rate limit exceeded the maximum [300] requests within [60] seconds",
		"Rate limit exceeded the maximum. Retry the request in [5] seconds",
		"within [-1] [1e400]", "Retry the request in [", "[][[]]]", "within [300] seconds", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		allowed, window, retry := genesys.ParseLimitMessage(msg)
		if allowed < 0 || window < 0 || retry < 0 || window > 24*time.Hour || retry > 24*time.Hour {
			t.Fatalf("ParseLimitMessage(%q) = %d, %v, %v: negative or unbounded", msg, allowed, window, retry)
		}
		if window > 0 && window%time.Second == 0 {
			m := fmt.Sprintf("Rate limit exceeded the maximum [%d] requests within [%d] seconds", allowed, window/time.Second)
			if a, w, _ := genesys.ParseLimitMessage(m); a != allowed || w != window {
				t.Fatalf("%q -> %d, %v; written back %q -> %d, %v", msg, allowed, window, m, a, w)
			}
		}
		if retry > 0 && retry%time.Second == 0 {
			m := fmt.Sprintf("Rate limit exceeded the maximum. Retry the request in [%d] seconds", retry/time.Second)
			if _, _, r := genesys.ParseLimitMessage(m); r != retry {
				t.Fatalf("%q -> retry %v; written back %q -> %v", msg, retry, m, r)
			}
		}
	})
}
