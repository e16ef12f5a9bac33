package result_test

import (
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/result"
)

// hiddenLimit is what discovery finds of a hidden per-endpoint limit, and
// what the run's 429s suggest of it: the scope questions rejected tokens of
// several OAuth clients, one before it could have spent its own bucket (so
// the 429s suggest org), and a Retry-After of 60s came (so they suggest a
// window of at least a minute).
func hiddenLimit() *result.Document {
	return &result.Document{
		Schema: result.SchemaVersion,
		Findings: []result.Finding{{
			Key: "users.presences.rate.per.minute", Allowed: 40, WindowSeconds: 20, WindowSource: "timing (re-probed until the count restarted)",
			Scope: "endpoint-user", Families: []string{"users.presences"}, Method: "found by experiment", Hidden: true,
			Evidence: []string{"a fresh token of another OAuth client was rejected too"}, Advice: "pace presence changes below 40 per 20s per user",
		}},
		RateLimits: []result.RateLimitObservation{
			{Key: "users.presences.rate.per.minute", Source: "server", Allowed: 40, WindowSeconds: 60, WindowSource: "retry-after",
				Scope: result.ScopeOrg, ScopeReason: "requests of 2 OAuth clients were rejected", Rejected: 3},
			{Key: "token.rate.per.minute", Source: "server", Allowed: 300, WindowSeconds: 60, Scope: result.ScopeToken, ScopeReason: "1 of 9 tokens was rejected while the others passed", Rejected: 1},
		},
	}
}

func TestLimitsPreferFindings(t *testing.T) {
	doc := hiddenLimit()
	got := doc.Limits()
	if len(got) != 2 {
		t.Fatalf("Limits() = %d rows, want 2 (the finding, then the limit no finding names): %+v", len(got), got)
	}
	f := got[0]
	if f.Inferred() || f.Key != "users.presences.rate.per.minute" || f.Allowed != 40 || f.WindowSeconds != 20 || f.Scope != "endpoint-user" {
		t.Errorf("row 0 = %s %d per %gs, scope %s (inferred %v); want the finding: 40 per 20s, endpoint-user", f.Key, f.Allowed, f.WindowSeconds, f.Scope, f.Inferred())
	}
	if f.Observed == nil || f.Observed.Rejected != 3 {
		t.Errorf("row 0 observed = %+v, want the 429s of its key", f.Observed)
	}
	d := strings.Join(f.Disagreements, "; ")
	for _, want := range []string{"window of at least 60s (from retry-after), the finding 20s", "scope org", "finding endpoint-user"} {
		if !strings.Contains(d, want) {
			t.Errorf("disagreements %q do not mention %q", d, want)
		}
	}
	if strings.Contains(d, "per window") {
		t.Errorf("disagreements %q flag the figure, on which they agree (40)", d)
	}
	if i := got[1]; !i.Inferred() || i.Key != "token.rate.per.minute" || i.Scope != result.ScopeToken || len(i.Disagreements) != 0 {
		t.Errorf("row 1 = %+v, want token.rate.per.minute inferred from its 429s", i)
	}
}

func TestLimitsAgreeing(t *testing.T) {
	doc := hiddenLimit()
	doc.RateLimits[0].WindowSeconds = 21 // within 2 s
	doc.RateLimits[0].Scope = result.ScopeUndetermined
	if d := doc.Limits()[0].Disagreements; len(d) != 0 {
		t.Errorf("disagreements = %q, want none: a window within 2 s and an undetermined scope agree", d)
	}
}

// A window estimated from the time left (Retry-After, inin-ratelimit-reset)
// is at least that long: a shorter one than the finding's agrees, a longer
// one does not; a window from the profile disagrees either way.
func TestLimitsWindowLowerBound(t *testing.T) {
	tests := []struct {
		window   float64
		source   string
		disagree bool
	}{
		{12, "retry-after", false},     // rejected 8 s before the window's end
		{12, "ratelimit-reset", false}, // likewise
		{60, "retry-after", true},      // at least 60 s: not 20
		{12, "profile", true},          // exactly 12 s: not 20
		{60, "profile", true},
	}
	for _, tt := range tests {
		doc := hiddenLimit()
		doc.RateLimits[0].WindowSeconds, doc.RateLimits[0].WindowSource = tt.window, tt.source
		doc.RateLimits[0].Scope = result.ScopeUndetermined
		d := doc.Limits()[0].Disagreements
		if got := len(d) > 0; got != tt.disagree {
			t.Errorf("window %gs from %s against the finding's 20s: disagreements = %q, want disagreement %v", tt.window, tt.source, d, tt.disagree)
		}
	}
}

func TestScopeFits(t *testing.T) {
	tests := []struct {
		inferred, declared string
		want               bool
	}{
		{result.ScopeUndetermined, "org", true},
		{result.ScopeToken, "token", true},
		{result.ScopeClient, "client-user", true}, // a client's tokens share its client-user bucket
		{result.ScopeEndpoint, "endpoint-user", true},
		{result.ScopeOrg, "endpoint-user", false},
		{result.ScopeToken, "org", false},
	}
	for _, tt := range tests {
		if got := result.ScopeFits(tt.inferred, tt.declared); got != tt.want {
			t.Errorf("ScopeFits(%s, %s) = %v, want %v", tt.inferred, tt.declared, got, tt.want)
		}
	}
}

// A document written before findings existed decodes with none, and one
// with findings keeps them through Encode and Decode.
func TestFindingsRoundTrip(t *testing.T) {
	old := `{"schema":"cxload.result/v1","scenario":"s","target":{"kind":"simulator","region":""},"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:10Z","operations":[],"rateLimits":[],"identities":{"tokens":0,"clients":0,"users":0},"series":{"intervalMs":1000,"requests":[],"throttled":[],"errors":[]},"thresholds":[{"expr":"p99(a) < 1s","value":"2ms","ok":true}]}`
	d, err := result.Decode([]byte(old))
	if err != nil {
		t.Fatalf("an older document does not decode: %v", err)
	}
	if d.Findings != nil || d.Headline != nil {
		t.Errorf("older document: findings %v, headline %v; want none", d.Findings, d.Headline)
	}
	doc := hiddenLimit()
	doc.Headline = []string{"users.presences.rate.per.minute allows 40 per 20s."}
	b, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := result.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Findings) != 1 || back.Findings[0].String() != doc.Findings[0].String() || len(back.Headline) != 1 {
		t.Errorf("round trip: %+v, want %+v", back.Findings, doc.Findings)
	}
}

func TestFindingString(t *testing.T) {
	got := hiddenLimit().Findings[0].String()
	want := "users.presences.rate.per.minute (hidden): 40 per 20s (window from timing (re-probed until the count restarted)), scope endpoint-user, on users.presences; found by experiment. What to change: pace presence changes below 40 per 20s per user."
	if got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}
