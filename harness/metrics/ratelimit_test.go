package metrics_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
)

// End to end through the recorder: the observations a run produces.
func TestRateLimitObservations(t *testing.T) {
	t0 := epoch
	tests := []struct {
		name      string
		opts      []metrics.Option
		results   []*metrics.Result
		key       string
		scope     string
		source    string
		allowed   int
		window    float64
		winSource string
		rejected  int64
	}{
		{
			name: "one hot token among four",
			results: []*metrics.Result{
				ok("presence.set", "t1", "c1", t0), ok("presence.set", "t2", "c1", t0), ok("presence.set", "t3", "c1", t0), ok("presence.set", "t4", "c1", t0),
				throttled("presence.set", "token.rate.per.minute", "t1", "c1", t0.Add(time.Second)),
				throttled("presence.set", "token.rate.per.minute", "t1", "c1", t0.Add(2*time.Second)),
			},
			key: "token.rate.per.minute", scope: "token", source: "server", allowed: 300, window: 60, winSource: "ratelimit-reset", rejected: 2,
		},
		{
			name: "resource limit on one endpoint, shared token",
			results: []*metrics.Result{
				ok("presence.set", "t1", "c1", t0.Add(time.Second)),
				throttled("recording.set", "conversations.recordingstate.rate.per.minute", "t1", "c1", t0.Add(time.Second)),
				ok("presence.set", "t1", "c1", t0.Add(2*time.Second)),
			},
			key: "conversations.recordingstate.rate.per.minute", scope: "endpoint", source: "server", allowed: 300, window: 60, winSource: "ratelimit-reset", rejected: 1,
		},
		{
			name: "every token of one client",
			results: []*metrics.Result{
				throttled("a", "org.app.user.rate.per.minute", "t1", "c1", t0), throttled("b", "org.app.user.rate.per.minute", "t2", "c1", t0),
			},
			key: "org.app.user.rate.per.minute", scope: "client", source: "server", allowed: 300, window: 60, winSource: "ratelimit-reset", rejected: 2,
		},
		{
			name: "two clients: org, window from the known profile",
			opts: []metrics.Option{metrics.WithKnownLimits(metrics.KnownLimit{Key: "org.rate.per.minute", Scope: "org", Allowed: 5000, Window: 30 * time.Second})},
			results: []*metrics.Result{
				throttled("a", "org.rate.per.minute", "t1", "c1", t0), throttled("a", "org.rate.per.minute", "t2", "c2", t0),
			},
			key: "org.rate.per.minute", scope: "org", source: "server", allowed: 300, window: 30, winSource: "profile", rejected: 2,
		},
		{
			// The headers describe the visible client-user bucket (3000);
			// the 429 body names the hidden bucket that rejected (40); the
			// window is its Retry-After, not the headers' reset.
			name: "hidden limit: the body's figure, not the headers'",
			results: func() []*metrics.Result {
				r := throttled("presence.set", "users.presences.rate.per.minute", "t1", "c1", t0)
				r.RateLimit.Allowed, r.RateLimit.Count, r.RateLimit.Value = 3000, 41, 40
				return []*metrics.Result{r}
			}(),
			key: "users.presences.rate.per.minute", scope: "undetermined", source: "server", allowed: 40, window: 20, winSource: "retry-after", rejected: 1,
		},
		{
			name: "client-side limiter: its own scope",
			results: []*metrics.Result{
				{Op: "a", Outcome: result.Throttled, ThrottledBy: "token", Scope: "client-side:token", TokenID: "t1", ClientID: "c1", Start: t0},
			},
			key: "token", scope: "token", source: "client-side", rejected: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			rec := metrics.NewRecorder(append([]metrics.Option{metrics.WithNow(c.Now)}, tt.opts...)...)
			for _, r := range tt.results {
				rec.Record(r)
			}
			c.Advance(10 * time.Second)
			doc := rec.Snapshot()
			rl := doc.RateLimit(tt.key)
			if rl == nil {
				t.Fatalf("RateLimit(%q) = nil; observations %+v", tt.key, doc.RateLimits)
			}
			if rl.Scope != tt.scope || rl.Source != tt.source || rl.Allowed != tt.allowed || rl.WindowSeconds != tt.window || rl.WindowSource != tt.winSource || rl.Rejected != tt.rejected {
				t.Errorf("observation = scope %q (%s) source %q allowed %d window %v (%s) rejected %d;\nwant scope %q source %q allowed %d window %v (%s) rejected %d",
					rl.Scope, rl.ScopeReason, rl.Source, rl.Allowed, rl.WindowSeconds, rl.WindowSource, rl.Rejected,
					tt.scope, tt.source, tt.allowed, tt.window, tt.winSource, tt.rejected)
			}
			if rl.FirstRejection.IsZero() || rl.FirstRejection.After(rl.LastRejection) {
				t.Errorf("first, last rejection = %v, %v", rl.FirstRejection, rl.LastRejection)
			}
			th := result.MustParseThreshold("rejected(" + tt.key + ", " + tt.source + ") == " + strconv.FormatInt(tt.rejected, 10))
			if r := th.Eval(doc); !r.OK {
				t.Errorf("%s", r.Detail)
			}
			if !strings.Contains(doc.Summary, tt.key) {
				t.Errorf("summary does not name the limit %s: %q", tt.key, doc.Summary)
			}
		})
	}
}

// A request rejected once and then let through on a retry counts as a
// rejection of the bucket, and as recovered; its outcome stays ok.
func TestRateLimitRecovered(t *testing.T) {
	rec := metrics.NewRecorder()
	r := throttled("a", "token.rate.per.minute", "t1", "c1", epoch)
	rec.Record(r)
	r.Status, r.Outcome, r.Attempts = 200, result.OK, 2 // ThrottledBy stays set, as the api client leaves it
	rec.Record(r)
	doc := rec.Snapshot()
	rl := doc.RateLimit("token.rate.per.minute")
	if rl.Rejected != 2 || rl.Recovered != 1 {
		t.Errorf("rejected, recovered = %d, %d; want 2, 1", rl.Rejected, rl.Recovered)
	}
	if a := doc.Op("a"); a.Outcomes["ok"] != 1 || a.Outcomes["throttled"] != 1 || a.Attempts != 3 {
		t.Errorf("outcomes = %v, attempts %d", a.Outcomes, a.Attempts)
	}
	if !strings.Contains(doc.Summary, "rejected 2 (1 got through on a retry)") {
		t.Errorf("summary = %q", doc.Summary)
	}
}

// An Outcome left at its zero value is classified from an error status.
func TestRecordClassifiesUnsetOutcome(t *testing.T) {
	rec := metrics.NewRecorder()
	rec.Record(&metrics.Result{Op: "a", Status: 503})
	rec.Record(&metrics.Result{Op: "a", Status: 429, ThrottledBy: "org.rate.per.minute"})
	rec.Record(&metrics.Result{Op: "a", Status: 201})
	a := rec.Snapshot().Op("a")
	if a.Outcomes["server_error"] != 1 || a.Outcomes["throttled"] != 1 || a.Outcomes["ok"] != 1 {
		t.Errorf("outcomes = %v", a.Outcomes)
	}
}

// A bucket keeps the correlation ids of its first rejections (for a support
// case), and they survive a merge without duplicates.
func TestRateLimitSamples(t *testing.T) {
	rec := metrics.NewRecorder()
	for i := 0; i < 5; i++ {
		r := throttled("a", "token.rate.per.minute", "t1", "c1", epoch)
		r.CorrelationID = "corr-" + strconv.Itoa(i)
		r.Connect = time.Millisecond
		rec.Record(r)
	}
	doc := rec.Snapshot()
	rl := doc.RateLimit("token.rate.per.minute")
	if got := strings.Join(rl.Samples, ","); got != "corr-0,corr-1,corr-2" {
		t.Errorf("samples = %s", got)
	}
	if c := doc.Op("a").Connections; c != 5 {
		t.Errorf("connections = %d, want 5", c)
	}
	other := &result.Document{Schema: result.SchemaVersion, RateLimits: []result.RateLimitObservation{{Key: "token.rate.per.minute", Source: "server", Samples: []string{"corr-1", "corr-9"}}}}
	if err := doc.Merge(other); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(doc.RateLimit("token.rate.per.minute").Samples, ","); got != "corr-0,corr-1,corr-2" {
		t.Errorf("merged samples = %s", got)
	}
}

// throttled builds a 429 result rejected by bucket key.
func throttled(op, key, tok, cli string, at time.Time) *metrics.Result {
	r := mkResult(op, 429, at, time.Millisecond)
	r.ThrottledBy = key
	r.TokenID, r.ClientID = tok, cli
	r.RateLimit = metrics.RateLimitInfo{Count: 301, Allowed: 300, Reset: 61 * time.Second, Key: key, Namespace: "platform.api", Value: 300, RetryAfter: 20 * time.Second}
	return r
}

func ok(op, tok, cli string, at time.Time) *metrics.Result {
	r := mkResult(op, 200, at, time.Millisecond)
	r.TokenID, r.ClientID = tok, cli
	return r
}

// discoveryProbes records what the discovery scenario's probes of a hidden
// limit of 40 per 20s per user and endpoint show: client c1 spends its 40 on
// op a and is rejected; client c2 spends 1 on a and 39 on b (same bucket)
// and is rejected on b. The 429s name the hidden limit (40) while their
// inin-ratelimit-* headers describe the token's bucket (300, reset 60s).
// secondAfter is how many requests c2 makes before its rejection.
func discoveryProbes(rec *metrics.Recorder, secondAfter int) {
	t0 := epoch
	hidden := func(op, tok, cli string, at time.Time) *metrics.Result {
		r := throttled(op, "hidden.presences.rate.per.minute", tok, cli, at)
		r.RateLimit = metrics.RateLimitInfo{Count: 41, Allowed: 300, Reset: 60 * time.Second, Key: r.ThrottledBy, Namespace: "presence", Value: 40, RetryAfter: 20 * time.Second}
		return r
	}
	at := t0
	for range 40 {
		at = at.Add(10 * time.Millisecond)
		rec.Record(ok("a", "t1", "c1", at))
	}
	rec.Record(hidden("a", "t1", "c1", at.Add(time.Millisecond)))
	for i := range secondAfter {
		at = at.Add(10 * time.Millisecond)
		op := "b"
		if i == 0 {
			op = "a"
		}
		rec.Record(ok(op, "t2", "c2", at))
	}
	r := hidden("b", "t2", "c2", at.Add(time.Millisecond))
	r.RateLimit.RetryAfter = 19 * time.Second
	rec.Record(r)
}

// The 429s of a limit found by discovery agree with the finding when they
// carry no evidence against it, and still disagree when they do.
func TestRateLimitObservationAgreesWithDiscovery(t *testing.T) {
	finding := result.Finding{Key: "hidden.presences.rate.per.minute", Allowed: 40, WindowSeconds: 20, WindowSource: "Retry-After on the 429", Scope: "endpoint-user"}
	tests := []struct {
		name        string
		secondAfter int    // requests of c2 before its rejection
		scope       string // inferred
		flags       string // "" = no disagreement
	}{
		// Each client spent its own 40: org or per client cannot be told apart.
		{"each client spent its own allowance", 40, result.ScopeUndetermined, ""},
		// c2 was rejected after 5 requests, fewer than 40: one bucket
		// across clients, which the finding (per user) contradicts.
		{"a client rejected before it could spend its own", 5, result.ScopeOrg, "the 429s suggest scope org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := metrics.NewRecorder(metrics.WithNow(newClock().Now))
			discoveryProbes(rec, tt.secondAfter)
			doc := rec.Snapshot()
			rl := doc.RateLimit(finding.Key)
			if rl == nil {
				t.Fatalf("RateLimit(%q) = nil", finding.Key)
			}
			if rl.Scope != tt.scope {
				t.Errorf("scope = %s (%s), want %s", rl.Scope, rl.ScopeReason, tt.scope)
			}
			// The window is the hidden bucket's own Retry-After, not the
			// reset of the token's bucket the headers describe.
			if rl.WindowSeconds != 20 || rl.WindowSource != "retry-after" {
				t.Errorf("window = %gs (%s), want 20s (retry-after)", rl.WindowSeconds, rl.WindowSource)
			}
			doc.Findings = []result.Finding{finding}
			got := strings.Join(doc.Limits()[0].Disagreements, "; ")
			switch {
			case tt.flags == "" && got != "":
				t.Errorf("disagreements = %q, want none", got)
			case tt.flags != "" && !strings.Contains(got, tt.flags):
				t.Errorf("disagreements = %q, want one containing %q", got, tt.flags)
			}
		})
	}
}

// A 429 whose headers describe its own bucket (the headers' allowance is the
// body's limit.value) gives the window from its reset; one whose headers
// describe another bucket does not, and without a Retry-After the window
// stays unknown.
func TestRateLimitWindowFromItsOwnBucket(t *testing.T) {
	tests := []struct {
		name      string
		info      metrics.RateLimitInfo
		window    float64
		winSource string
	}{
		{"headers of the same bucket", metrics.RateLimitInfo{Allowed: 300, Value: 300, Reset: 61 * time.Second, RetryAfter: 20 * time.Second}, 60, "ratelimit-reset"},
		{"headers of another bucket, Retry-After", metrics.RateLimitInfo{Allowed: 300, Value: 40, Reset: 61 * time.Second, RetryAfter: 20 * time.Second}, 20, "retry-after"},
		{"headers of another bucket, no Retry-After", metrics.RateLimitInfo{Allowed: 300, Value: 40, Reset: 61 * time.Second}, 0, ""},
		{"no limit in the body, Retry-After", metrics.RateLimitInfo{Allowed: 300, Reset: 61 * time.Second, RetryAfter: 7 * time.Second}, 7, "retry-after"},
		{"no limit in the body, headers only", metrics.RateLimitInfo{Allowed: 300, Reset: 61 * time.Second}, 60, "ratelimit-reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := metrics.NewRecorder(metrics.WithNow(newClock().Now))
			r := throttled("a", "k", "t1", "c1", epoch)
			r.RateLimit = tt.info
			rec.Record(r)
			rl := rec.Snapshot().RateLimit("k")
			if rl.WindowSeconds != tt.window || rl.WindowSource != tt.winSource {
				t.Errorf("window = %gs (%q), want %gs (%q)", rl.WindowSeconds, rl.WindowSource, tt.window, tt.winSource)
			}
		})
	}
}

// Requests of a client sent before its first rejection count toward what it
// had spent even when they complete after the 429 (they were in flight):
// a client whose 40 requests were all sent before its 429 is not rejected
// early, one that had sent 5 is.
func TestRateLimitClientInFlight(t *testing.T) {
	tests := []struct {
		name     string
		inFlight int // requests of c2 sent before its 429, completed after it
		scope    string
	}{
		{"40 in flight when the 429 came", 40, result.ScopeUndetermined},
		{"5 in flight when the 429 came", 5, result.ScopeOrg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := metrics.NewRecorder(metrics.WithNow(newClock().Now))
			hidden := func(cli, tok string, at time.Time) *metrics.Result {
				r := throttled("a", "k", tok, cli, at)
				r.RateLimit.Allowed, r.RateLimit.Value = 40, 40
				return r
			}
			t0 := epoch
			for i := range 40 {
				rec.Record(ok("a", "t1", "c1", t0.Add(time.Duration(i)*time.Millisecond)))
			}
			rec.Record(hidden("c1", "t1", t0.Add(time.Second)))
			sent := t0.Add(2 * time.Second)
			rec.Record(hidden("c2", "t2", sent.Add(time.Second))) // a fast 429, recorded first
			for range tt.inFlight {
				rec.Record(ok("a", "t2", "c2", sent)) // slow successes, sent before it
			}
			rl := rec.Snapshot().RateLimit("k")
			if rl.Scope != tt.scope {
				t.Errorf("scope = %s (%s), want %s", rl.Scope, rl.ScopeReason, tt.scope)
			}
		})
	}
}
