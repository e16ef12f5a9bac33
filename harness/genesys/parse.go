package genesys

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHeaderWait bounds any duration parsed from a header, so that a hostile
// or broken value cannot overflow or park a client for years.
const maxHeaderWait = 24 * time.Hour

// ParseRetryAfter parses a Retry-After value, either delay-seconds ("5",
// also "1.5", which Genesys does not send but some proxies do) or an
// HTTP-date, relative to now. ok is false for an empty or malformed value. A
// date in the past or a negative number gives 0; values are capped at 24 h.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if c := v[0]; c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return clampSeconds(f), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	return min(max(d, 0), maxHeaderWait), true
}

func clampSeconds(f float64) time.Duration {
	if f <= 0 {
		return 0
	}
	if f >= maxHeaderWait.Seconds() {
		return maxHeaderWait
	}
	// Rounded, not truncated: 7.94 s is 7939999999.999999 ns as a float.
	return time.Duration(math.Round(f * float64(time.Second)))
}

// RateLimitHeaders is what the inin-ratelimit-* headers of one response said
// about the bucket nearest its limit.
type RateLimitHeaders struct {
	Count   int           // inin-ratelimit-count: requests counted in the window
	Allowed int           // inin-ratelimit-allowed: requests allowed per window
	Reset   time.Duration // inin-ratelimit-reset: time until the window resets
	Present bool          // at least allowed was present and valid
}

// ParseRateLimitHeaders parses the values of inin-ratelimit-count,
// inin-ratelimit-allowed and inin-ratelimit-reset (seconds). Malformed or
// negative values are ignored (left zero); Present is true when allowed is a
// positive integer.
func ParseRateLimitHeaders(count, allowed, reset string) RateLimitHeaders {
	var h RateLimitHeaders
	if n, ok := atoiNonNeg(count); ok {
		h.Count = n
	}
	if n, ok := atoiNonNeg(allowed); ok && n > 0 {
		h.Allowed = n
		h.Present = true
	}
	// An absent header is the common case; ParseFloat would allocate a
	// *NumError for it on every response.
	if reset = strings.TrimSpace(reset); reset != "" {
		if f, err := strconv.ParseFloat(reset, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			h.Reset = clampSeconds(f)
		}
	}
	return h
}

// atoiNonNeg parses a small non-negative decimal integer without allocating.
func atoiNonNeg(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 12 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// LimitBody is the rate-limit part of an ErrorBody (a 429's body).
type LimitBody struct {
	Code      string // "too.many.requests" or "too.many.requests.retry.after"
	Message   string
	Key       string // limit.key, e.g. "token.rate.per.minute"
	Namespace string // limit.namespace
	Value     int    // limit.value: requests allowed per window
	// From the message, when it has the numbers:
	// "Rate limit exceeded the maximum [300] requests within [60] seconds"
	// or "... Retry the request in [5] seconds".
	MsgAllowed int
	MsgWindow  time.Duration
	MsgRetry   time.Duration
}

// ParseLimitBody parses the rate-limit part of an ErrorBody. ok is false
// when body is not a JSON object or has neither a limit nor a
// too.many.requests code. It is lenient where ErrorBody is strict: a
// limit.value that is not an integer (a float, a string) is ignored, not an
// error.
func ParseLimitBody(body []byte) (lb LimitBody, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return lb, false
	}
	var eb struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Limit   *struct {
			Key       string          `json:"key"`
			Namespace string          `json:"namespace"`
			Value     json.RawMessage `json:"value"`
		} `json:"limit"`
	}
	if json.Unmarshal(body, &eb) != nil {
		return lb, false
	}
	lb.Code, lb.Message = eb.Code, eb.Message
	if eb.Limit != nil {
		lb.Key, lb.Namespace = eb.Limit.Key, eb.Limit.Namespace
		var f float64
		if json.Unmarshal(eb.Limit.Value, &f) == nil && f > 0 && f < math.MaxInt32 {
			lb.Value = int(f)
		}
	}
	lb.MsgAllowed, lb.MsgWindow, lb.MsgRetry = ParseLimitMessage(eb.Message)
	if eb.Limit == nil && !strings.HasPrefix(eb.Code, "too.many.requests") {
		return lb, false
	}
	return lb, true
}

// ParseLimitMessage reads the numbers out of Genesys' 429 messages:
// "Rate limit exceeded the maximum [300] requests within [60] seconds" gives
// allowed 300 and window 60 s; "Rate limit exceeded the maximum. Retry the
// request in [5] seconds" gives retry 5 s. Missing numbers are zero.
func ParseLimitMessage(msg string) (allowed int, window, retry time.Duration) {
	nums := bracketNumbers(msg, 3)
	switch {
	case strings.Contains(msg, "within") && len(nums) >= 2:
		if nums[0] >= 0 && nums[0] < math.MaxInt32 {
			allowed = int(nums[0])
		}
		window = clampSeconds(nums[1])
	case strings.Contains(msg, "Retry the request in") && len(nums) >= 1:
		retry = clampSeconds(nums[len(nums)-1])
	}
	return allowed, window, retry
}

// bracketNumbers returns up to n numbers written as "[123]" in s.
func bracketNumbers(s string, n int) []float64 {
	var out []float64
	for len(out) < n {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			break
		}
		if f, err := strconv.ParseFloat(s[i+1:i+j], 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			out = append(out, f)
		}
		s = s[i+j+1:]
	}
	return out
}
