package result

import (
	"fmt"
	"math"
	"strings"
)

// Finding is a scenario's own answer about one rate limit: which limit, how
// many requests per which window (and where the window came from), which
// scope (and the evidence for it), and what to change. A scenario that set
// out to establish a limit records it once, in Document.Findings; readers
// show the findings as the answer and infer from the recorded 429s
// (Document.RateLimits) only for the limits no finding names (see Limits).
type Finding struct {
	Key           string   `json:"key"` // the limit's key; "" for a 429 that named none
	Namespace     string   `json:"namespace,omitempty"`
	Allowed       int      `json:"allowed"`                // requests per window; 0 = not established
	WindowSeconds float64  `json:"windowSeconds"`          // 0 = not established
	WindowSource  string   `json:"windowSource,omitempty"` // where the window came from
	Scope         string   `json:"scope,omitempty"`        // "" = not established
	Families      []string `json:"families,omitempty"`     // route families it covers; none = every route
	Method        string   `json:"method,omitempty"`       // how it was established, e.g. "experiment"
	Hidden        bool     `json:"hidden,omitempty"`       // not listed by the organization's limits API
	Evidence      []string `json:"evidence,omitempty"`     // one sentence each
	Advice        string   `json:"advice,omitempty"`       // what to change
}

// Figure returns "40 per 20s", "40 per window" or "?".
func (f Finding) Figure() string { return perWindowWords(f.Allowed, f.WindowSeconds) }

// String returns the finding in one sentence, without its evidence.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(cmpOr(f.Key, "an unnamed limit"))
	if f.Hidden {
		b.WriteString(" (hidden)")
	}
	fmt.Fprintf(&b, ": %s", f.Figure())
	if f.WindowSource != "" {
		fmt.Fprintf(&b, " (window from %s)", f.WindowSource)
	}
	fmt.Fprintf(&b, ", scope %s", cmpOr(f.Scope, "not established"))
	if len(f.Families) > 0 {
		fmt.Fprintf(&b, ", on %s", strings.Join(f.Families, ", "))
	}
	if f.Method != "" {
		fmt.Fprintf(&b, "; %s", f.Method)
	}
	if f.Advice != "" {
		fmt.Fprintf(&b, ". What to change: %s", strings.TrimSuffix(f.Advice, "."))
	}
	return b.String() + "."
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func perWindowWords(allowed int, window float64) string {
	switch {
	case allowed <= 0:
		return "?"
	case window <= 0:
		return fmt.Sprintf("%d per window", allowed)
	}
	return fmt.Sprintf("%d per %ss", allowed, fmtFloat(window))
}

// LimitAnswer is one row of "which limit, what figure, what scope": a
// scenario's finding, or, where it recorded none, what the 429s suggest.
type LimitAnswer struct {
	Key           string
	Allowed       int
	WindowSeconds float64
	WindowSource  string
	Scope         string
	ScopeReason   string // the evidence for the scope
	// Finding is the scenario's finding; nil when the row is inferred.
	Finding *Finding
	// Observed is what the run's 429s showed of the limit (server-side
	// first); nil when they showed nothing.
	Observed *RateLimitObservation
	// Disagreements lists, one sentence each, where the inference from the
	// 429s differs from the finding.
	Disagreements []string
}

// Inferred reports whether the row comes from the 429s alone.
func (a LimitAnswer) Inferred() bool { return a.Finding == nil }

// Limits returns the document's answers about its rate limits: first every
// finding (with the observation of the same key, and where the inference
// from it disagrees), then every limit the run observed but no finding
// names, inferred from its 429s.
func (d *Document) Limits() []LimitAnswer {
	var out []LimitAnswer
	named := map[string]bool{}
	for i := range d.Findings {
		f := &d.Findings[i]
		a := LimitAnswer{Key: f.Key, Allowed: f.Allowed, WindowSeconds: f.WindowSeconds, WindowSource: f.WindowSource,
			Scope: f.Scope, ScopeReason: strings.Join(f.Evidence, "; "), Finding: f}
		if f.Key != "" {
			named[f.Key] = true
			if rl := d.RateLimit(f.Key); rl != nil {
				a.Observed = rl
				a.Disagreements = disagreements(f, rl)
			}
		}
		out = append(out, a)
	}
	for i := range d.RateLimits {
		rl := &d.RateLimits[i]
		if rl.Key != "" && named[rl.Key] {
			continue
		}
		out = append(out, LimitAnswer{Key: rl.Key, Allowed: rl.Allowed, WindowSeconds: rl.WindowSeconds, WindowSource: rl.WindowSource,
			Scope: rl.Scope, ScopeReason: rl.ScopeReason, Observed: rl})
	}
	return out
}

// disagreements compares a finding with what the 429s of its key suggest.
// Unknown figures (0, "undetermined") agree with anything; the window
// agrees within 2 s or 5 %. A window estimated from Retry-After or
// inin-ratelimit-reset (the time left, at most the window) is a lower
// bound: only a longer one disagrees.
func disagreements(f *Finding, rl *RateLimitObservation) []string {
	var out []string
	if f.Allowed > 0 && rl.Allowed > 0 && f.Allowed != rl.Allowed {
		out = append(out, fmt.Sprintf("the 429s suggest %d per window, the finding %d", rl.Allowed, f.Allowed))
	}
	fw, ow := f.WindowSeconds, rl.WindowSeconds
	diff, bound := math.Abs(fw-ow), ""
	if rl.WindowSource != "profile" {
		diff, bound = ow-fw, "at least "
	}
	if fw > 0 && ow > 0 && diff > max(2, 0.05*fw) {
		src := ""
		if rl.WindowSource != "" {
			src = " (from " + rl.WindowSource + ")"
		}
		out = append(out, fmt.Sprintf("the 429s suggest a window of %s%ss%s, the finding %ss", bound, fmtFloat(ow), src, fmtFloat(fw)))
	}
	if f.Scope != "" && !ScopeFits(rl.Scope, f.Scope) {
		out = append(out, fmt.Sprintf("the 429s suggest scope %s (%s), the finding %s", rl.Scope, rl.ScopeReason, f.Scope))
	}
	return out
}

// ScopeFits reports whether an inferred scope (InferScope's vocabulary) is
// what a limit of declared scope (genesys' vocabulary: token, client-user,
// endpoint-user, org, client) would show. "undetermined" fits any.
func ScopeFits(inferred, declared string) bool {
	if inferred == "" || inferred == ScopeUndetermined || inferred == declared {
		return true
	}
	fits := map[string][]string{
		ScopeToken:    {"token"},
		ScopeUser:     {"client-user", "endpoint-user"},
		ScopeClient:   {"client", "client-user", "endpoint-user"}, // a client's tokens share client-user and endpoint-user buckets
		ScopeOrg:      {"org"},
		ScopeEndpoint: {"endpoint-user"},
	}
	for _, s := range fits[inferred] {
		if s == declared {
			return true
		}
	}
	return false
}
