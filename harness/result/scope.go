package result

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Scopes returned by InferScope. They are not genesys.Scope on purpose:
// genesys.Scope is a limit's declared scope, while these name what the
// evidence of one run can tell apart (a "user" or "endpoint" pattern fits
// client-user and endpoint-user alike, and "undetermined" is an answer). A
// document reports the inferred scope, and the declared one only for the
// client-side limiter or when the evidence cannot decide (scopeFor).
const (
	ScopeToken        = "token"        // one token among several was rejected while the others passed
	ScopeUser         = "user"         // several tokens of one user were rejected while other users passed
	ScopeClient       = "client"       // several tokens, all of one OAuth client, were rejected
	ScopeOrg          = "org"          // several OAuth clients were rejected, one before it could have spent a bucket of its own
	ScopeEndpoint     = "endpoint"     // one operation was rejected while other operations succeeded
	ScopeUndetermined = "undetermined" // the evidence cannot tell the scopes apart
)

// InferScope infers a rate-limit bucket's scope from who it rejected. It is a
// pure function; the rules, first match wins:
//
//  1. no identities on the rejected requests: undetermined;
//  2. rejected requests of two or more OAuth clients: org when one of them
//     was rejected before it could have spent a bucket of its own
//     (Evidence.ClientsEarly), otherwise undetermined, since one bucket
//     per client (or per user, token or endpoint) rejects every client that
//     spends it too;
//  3. one token rejected while the run used others: token;
//  4. one operation rejected while other operations succeeded meanwhile: endpoint;
//  5. several tokens of one user rejected while the run had other users: user;
//  6. several tokens, all of one OAuth client, rejected: client;
//  7. otherwise (one token in the whole run): undetermined, since a token,
//     client or org limit would look the same.
//
// The reason is one sentence of evidence, for the result document.
func InferScope(e Evidence) (scope, reason string) {
	switch {
	case e.Tokens == 0 && e.Clients == 0 && e.Users == 0:
		return ScopeUndetermined, "the rejected requests carried no token, client or user identity"
	case e.Clients >= 2 && e.ClientsEarly > 0:
		return ScopeOrg, fmt.Sprintf("requests of %d OAuth clients were rejected, one after only %d requests of its own had been sent, fewer than the bucket allows: one bucket across clients", e.Clients, e.FewestBefore)
	case e.Clients >= 2:
		return ScopeUndetermined, fmt.Sprintf("requests of %d OAuth clients were rejected, none shown to be rejected before it could have spent a bucket of its own: org-wide or one bucket per client would look the same", e.Clients)
	case e.Tokens == 1 && e.TokensSeen > 1:
		return ScopeToken, fmt.Sprintf("1 of %d tokens was rejected while the others passed", e.TokensSeen)
	case len(e.Ops) == 1 && len(e.OpsPassing) > 0:
		return ScopeEndpoint, fmt.Sprintf("only %s was rejected while %s succeeded", e.Ops[0], strings.Join(e.OpsPassing, ", "))
	case e.Tokens > 1 && e.Users == 1 && e.UsersSeen > 1:
		return ScopeUser, fmt.Sprintf("%d tokens of 1 user were rejected while %d other users passed", e.Tokens, e.UsersSeen-1)
	case e.Tokens > 1 && e.Clients <= 1:
		if e.TokensSeen > e.Tokens {
			return ScopeClient, fmt.Sprintf("%d of %d tokens, all of one OAuth client, were rejected together", e.Tokens, e.TokensSeen)
		}
		return ScopeClient, fmt.Sprintf("all %d tokens, all of one OAuth client, were rejected together", e.Tokens)
	default:
		return ScopeUndetermined, "only one token was in use: a token, client or org limit would look the same"
	}
}

// scopeFor is the scope an observation reports: for a client-side limiter,
// the scope it was configured with; otherwise InferScope, falling back to the
// declared scope when the evidence cannot decide.
func scopeFor(source string, e Evidence, declared string) (string, string) {
	if source == "client-side" && declared != "" {
		return strings.TrimPrefix(declared, "client-side:"), "the client-side limiter's own scope"
	}
	s, why := InferScope(e)
	if s == ScopeUndetermined && declared != "" {
		return declared, why + "; scope as declared: " + declared
	}
	return s, why
}

// Summarize describes a document in plain words: volume and peak rate, what
// was throttled by which limit and scope, errors, and the slowest operation.
func Summarize(d *Document) string {
	all := d.All()
	if all.Count == 0 {
		return "no requests were recorded"
	}
	var b strings.Builder
	peak := int64(0)
	for _, v := range d.Series.Requests {
		peak = max(peak, v)
	}
	iv := time.Duration(d.Series.IntervalMs) * time.Millisecond
	fmt.Fprintf(&b, "%d requests in %s", all.Count, FormatDuration(d.Duration()))
	if iv > 0 && peak > 0 {
		fmt.Fprintf(&b, " (peak %s req/s)", fmtFloat(float64(peak)/iv.Seconds()))
	}
	thr := all.Outcome(Throttled)
	if thr == 0 {
		b.WriteString("; none throttled")
	} else {
		fmt.Fprintf(&b, "; %d throttled (%s)", thr, fmtPercent(float64(thr)/float64(all.Count)))
	}
	if e := all.Errors(); e > 0 {
		fmt.Fprintf(&b, "; %d errors", e)
	}
	b.WriteString(".")
	for _, rl := range d.RateLimits {
		fmt.Fprintf(&b, " Limit %s", rl.Key)
		if rl.Source == "client-side" {
			b.WriteString(" (client-side)")
		}
		fmt.Fprintf(&b, " rejected %d", rl.Rejected)
		if rl.Recovered > 0 {
			fmt.Fprintf(&b, " (%d got through on a retry)", rl.Recovered)
		}
		if rl.Allowed > 0 && rl.WindowSeconds > 0 {
			fmt.Fprintf(&b, ", allows %d per %ss", rl.Allowed, fmtFloat(rl.WindowSeconds))
		} else if rl.Allowed > 0 {
			fmt.Fprintf(&b, ", allows %d per window", rl.Allowed)
		}
		fmt.Fprintf(&b, "; scope %s (%s).", rl.Scope, rl.ScopeReason)
	}
	if o := d.Op(OtherOp); o != nil {
		fmt.Fprintf(&b, " %d results were recorded as operation %s: the run had more distinct operations than the recorder keeps apart (name operations by route template, or raise WithMaxOperations).", o.Count, OtherOp)
	}
	var slow *OpStats
	var slowP99 time.Duration
	for i := range d.Operations {
		o := &d.Operations[i]
		if p := o.Latency.Percentile(99); slow == nil || p > slowP99 {
			slow, slowP99 = o, p
		}
	}
	if slow != nil {
		fmt.Fprintf(&b, " Slowest service p99: %s %s.", slow.Op, FormatDuration(slowP99))
	}
	return b.String()
}

// EstimateWindow estimates a bucket's window from the largest
// inin-ratelimit-reset and Retry-After the run saw of that bucket (pass 0
// for a reset of headers that describe another bucket): the larger of the
// two, snapped to a whole minute when within 2 s of one (a 60 s window
// reports a reset of up to 61 s). Both are times left, so the estimate is a
// lower bound. It returns 0 and "" when there is no evidence.
func EstimateWindow(maxReset, maxRetryAfter time.Duration) (seconds float64, source string) {
	switch {
	case maxReset <= 0 && maxRetryAfter <= 0:
		return 0, ""
	case maxReset >= maxRetryAfter:
		seconds, source = maxReset.Seconds(), "ratelimit-reset"
	default:
		seconds, source = maxRetryAfter.Seconds(), "retry-after"
	}
	if m := math.Round(seconds/60) * 60; m > 0 && math.Abs(seconds-m) <= 2 {
		seconds = m
	}
	return seconds, source
}
