package result

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Merge adds other into d exactly: counts add, histograms merge, series add by
// index aligned on start time (other's series is shifted by the whole number
// of intervals between the two starts), identities and rate-limit
// observations merge by key and source, and scopes are inferred again from the
// merged evidence. Start becomes the earlier start and End the later end.
// Every threshold either document carries is judged again on the merged
// document (see the package documentation). The series intervals must be
// equal.
//
// The scenario's answer merges too: findings by key (one finding where the
// shards agree, each shard's where they differ; see mergeFindings), the
// headline lines of both in order, each once, and the evidence each side's
// scenario wrote as its Summary (see mergeSummary).
func (d *Document) Merge(other *Document) error {
	if other == nil {
		return nil
	}
	// Before anything changes: each side's shard and the evidence its
	// scenario wrote (see mergeSummary).
	selfShard, selfEvidence, otherEvidence := d.Shard, evidenceOf(d), evidenceOf(other)
	if other.Schema != "" && other.Schema != SchemaVersion {
		return fmt.Errorf("result: merge: schema %q is not supported: want %q", other.Schema, SchemaVersion)
	}
	if d.Schema == "" {
		d.Schema = SchemaVersion
	}
	if d.Series.IntervalMs == 0 {
		d.Series.IntervalMs = other.Series.IntervalMs
	}
	if other.Series.IntervalMs != 0 && other.Series.IntervalMs != d.Series.IntervalMs {
		return fmt.Errorf("result: merge: series intervals differ (%d ms and %d ms)", d.Series.IntervalMs, other.Series.IntervalMs)
	}
	// Start alignment.
	if d.Start.IsZero() {
		d.Start = other.Start
	}
	iv := time.Duration(d.Series.IntervalMs) * time.Millisecond
	shiftOther, shiftSelf := 0, 0
	if iv > 0 && !other.Start.IsZero() {
		if off := other.Start.Sub(d.Start); off >= 0 {
			shiftOther = int(off / iv)
		} else {
			shiftSelf = int(-off / iv)
		}
	}
	if shiftOther+len(other.Series.Requests) > MaxSeries || shiftSelf+len(d.Series.Requests) > MaxSeries {
		return fmt.Errorf("result: merge: the documents start %v apart: their series (%d ms intervals) cannot be aligned within %d intervals; merge shards of one run",
			other.Start.Sub(d.Start), d.Series.IntervalMs, MaxSeries)
	}
	if !other.Start.IsZero() && other.Start.Before(d.Start) {
		d.Start = other.Start
	}
	if other.End.After(d.End) {
		d.End = other.End
	}
	d.Series.Requests = shiftAdd(shiftAdd(nil, d.Series.Requests, shiftSelf), other.Series.Requests, shiftOther)
	d.Series.Throttled = shiftAdd(shiftAdd(nil, d.Series.Throttled, shiftSelf), other.Series.Throttled, shiftOther)
	d.Series.Errors = shiftAdd(shiftAdd(nil, d.Series.Errors, shiftSelf), other.Series.Errors, shiftOther)

	if d.Scenario == "" {
		d.Scenario = other.Scenario
	}
	switch {
	case d.Shard == "":
		d.Shard = other.Shard
	case other.Shard != "" && other.Shard != d.Shard:
		d.Shard += "+" + other.Shard
	}
	switch {
	case d.Run == "":
		d.Run = other.Run
	case other.Run != "" && other.Run != d.Run:
		d.Run += "+" + other.Run
	}
	for k, v := range other.Labels {
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		if _, ok := d.Labels[k]; !ok {
			d.Labels[k] = v
		}
	}
	if d.Target == (Target{}) {
		d.Target = other.Target
	}

	for i := range other.Operations {
		o := &other.Operations[i]
		cur := d.Op(o.Op)
		if cur == nil {
			d.Operations = append(d.Operations, OpStats{Op: o.Op, Route: o.Route, Outcomes: map[string]int64{}})
			cur = &d.Operations[len(d.Operations)-1]
		}
		if err := cur.add(o, true); err != nil {
			return fmt.Errorf("result: merge: %w", err)
		}
	}
	sort.Slice(d.Operations, func(i, j int) bool { return d.Operations[i].Op < d.Operations[j].Op })

	d.Identities = mergeIdentities(d.Identities, other.Identities)

	for _, o := range other.RateLimits {
		var cur *RateLimitObservation
		for i := range d.RateLimits {
			if d.RateLimits[i].Key == o.Key && d.RateLimits[i].Source == o.Source {
				cur = &d.RateLimits[i]
			}
		}
		if cur == nil {
			d.RateLimits = append(d.RateLimits, RateLimitObservation{Key: o.Key, Source: o.Source})
			cur = &d.RateLimits[len(d.RateLimits)-1]
		}
		mergeObservation(cur, &o)
	}
	d.InferScopes()

	if other.WebSocket != nil {
		if d.WebSocket == nil {
			d.WebSocket = &WebSocketStats{}
		}
		w, o := d.WebSocket, other.WebSocket
		w.Connects += o.Connects
		w.Heartbeats += o.Heartbeats
		w.MaxHeartbeatGapMs = max(w.MaxHeartbeatGapMs, o.MaxHeartbeatGapMs)
		w.Drops += o.Drops
		w.Reconnects += o.Reconnects
		w.Events += o.Events
		w.Lost += o.Lost
		if err := w.PushLatency.merge(&o.PushLatency); err != nil {
			return fmt.Errorf("result: merge: websocket.pushLatency: %w", err)
		}
	}
	d.Thresholds = remergeThresholds(d, d.Thresholds, other.Thresholds)
	d.Findings = mergeFindings(d.Findings, other.Findings, selfShard, other.Shard)
	d.Headline = unionInOrder(d.Headline, other.Headline)
	d.Summary = mergeSummary(d, selfShard, selfEvidence, other.Shard, otherEvidence)
	return nil
}

// evidenceOf returns the summary a scenario wrote for d: a scenario that
// answers writes a headline and its evidence together. Without a headline
// or findings, d's summary is the generic one Snapshot writes (Summarize),
// which the merge writes again from the merged totals; it returns "".
func evidenceOf(d *Document) string {
	if len(d.Headline) == 0 && len(d.Findings) == 0 {
		return ""
	}
	return d.Summary
}

// mergeSummary returns the merged document's summary: the evidence each side's
// scenario wrote, each once (a side's evidence the other already holds is not
// repeated), prefixed "Shard i/n:" where the shard is known so that each
// shard's figures read as its own; Summarize(d) when neither side wrote any.
func mergeSummary(d *Document, selfShard, self, otherShard, other string) string {
	switch {
	case self == "" && other == "":
		return Summarize(d)
	case other == "" || strings.Contains(self, other):
		return self
	case self == "":
		return other
	}
	label := func(shard, s string) string {
		if shard == "" || strings.Contains(shard, "+") || strings.HasPrefix(s, "Shard ") {
			return s // unknown, or merged before: already labeled where it could be
		}
		return "Shard " + shard + ": " + s
	}
	return label(selfShard, self) + " " + label(otherShard, other)
}

// unionInOrder returns a followed by the elements of b it lacks, each once.
func unionInOrder(a, b []string) []string {
	var out []string
	for _, s := range slices.Concat(a, b) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sameFigure reports whether two findings give one answer: the same key,
// figure (allowed per window), scope and visibility.
func sameFigure(a, b *Finding) bool {
	return a.Key == b.Key && a.Allowed == b.Allowed && a.WindowSeconds == b.WindowSeconds &&
		a.Scope == b.Scope && a.Hidden == b.Hidden
}

// mergeFindings merges the findings of two documents of one scenario. Each
// shard measures the same limits with its share of the load, so findings of
// one key that give the same answer (sameFigure) are one finding: the first
// side's wording, with the families and evidence of both, each once. Findings
// of one key that disagree are both kept, in order, each with an evidence
// sentence naming the shard that measured it: a reader sees the disagreement
// rather than a figure no shard measured.
func mergeFindings(a, b []Finding, aShard, bShard string) []Finding {
	out := slices.Clone(a)
	for i := range out {
		out[i].Families = slices.Clone(out[i].Families)
		out[i].Evidence = slices.Clone(out[i].Evidence)
	}
	for _, f := range b {
		var agree *Finding
		var others []int
		for i := range out {
			switch {
			case out[i].Key != f.Key:
			case sameFigure(&out[i], &f):
				agree = &out[i]
			default:
				others = append(others, i)
			}
		}
		if agree != nil {
			agree.Families = unionInOrder(agree.Families, f.Families)
			agree.Evidence = unionInOrder(agree.Evidence, f.Evidence)
			agree.Namespace = cmp.Or(agree.Namespace, f.Namespace)
			agree.WindowSource = cmp.Or(agree.WindowSource, f.WindowSource)
			agree.Method = cmp.Or(agree.Method, f.Method)
			agree.Advice = cmp.Or(agree.Advice, f.Advice)
			if len(others) > 0 {
				agree.Evidence = unionInOrder(agree.Evidence, []string{measuredBy(bShard)})
			}
			continue
		}
		f.Families = slices.Clone(f.Families)
		f.Evidence = slices.Clone(f.Evidence)
		if len(others) > 0 {
			for _, i := range others {
				if !slices.ContainsFunc(out[i].Evidence, isMeasuredBy) {
					out[i].Evidence = append(out[i].Evidence, measuredBy(aShard))
				}
			}
			if !slices.ContainsFunc(f.Evidence, isMeasuredBy) {
				f.Evidence = append(f.Evidence, measuredBy(bShard))
			}
		}
		out = append(out, f)
	}
	return out
}

const measuredPrefix = "measured by "

// measuredBy is the evidence sentence naming who measured a finding that
// another shard's disagrees with.
func measuredBy(shard string) string {
	if shard == "" {
		return measuredPrefix + "a document without a shard"
	}
	return measuredPrefix + "shard " + shard
}

func isMeasuredBy(s string) bool { return strings.HasPrefix(s, measuredPrefix) }

// shiftAdd adds src, shifted right by shift, into dst.
func shiftAdd(dst, src []int64, shift int) []int64 {
	if n := len(src) + shift; len(src) > 0 && n > len(dst) {
		dst = append(dst, make([]int64, n-len(dst))...)
	}
	for i, v := range src {
		dst[i+shift] += v
	}
	return dst
}

func mergeIDs(a []string, an int, b []string, bn int) ([]string, int) {
	complete := len(a) == an && len(b) == bn
	set := map[string]struct{}{}
	for _, x := range a {
		set[x] = struct{}{}
	}
	for _, x := range b {
		set[x] = struct{}{}
	}
	ids := sortedKeys(set)
	n := len(ids)
	if !complete {
		// The lists were capped: the exact union is unknown. Shards of one
		// run normally use disjoint identities, so add the counts (but never
		// report fewer than the ids in hand).
		n = max(an+bn-overlap(a, b), n)
	}
	if len(ids) > MaxIDs {
		ids = ids[:MaxIDs]
	}
	return ids, n
}

func overlap(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

func mergeIdentities(a, b Identities) Identities {
	var out Identities
	out.TokenIDs, out.Tokens = mergeIDs(a.TokenIDs, a.Tokens, b.TokenIDs, b.Tokens)
	out.ClientIDs, out.Clients = mergeIDs(a.ClientIDs, a.Clients, b.ClientIDs, b.Clients)
	out.UserIDs, out.Users = mergeIDs(a.UserIDs, a.Users, b.UserIDs, b.Users)
	return out
}

func mergeObservation(d, o *RateLimitObservation) {
	if d.Namespace == "" {
		d.Namespace = o.Namespace
	}
	if d.DeclaredScope == "" {
		d.DeclaredScope = o.DeclaredScope
	}
	d.Allowed = max(d.Allowed, o.Allowed)
	if o.WindowSeconds > d.WindowSeconds || (d.WindowSource != "profile" && o.WindowSource == "profile") {
		d.WindowSeconds, d.WindowSource = o.WindowSeconds, o.WindowSource
	}
	d.Rejected += o.Rejected
	d.Recovered += o.Recovered
	for _, c := range o.Samples {
		if len(d.Samples) < MaxSamples && !slices.Contains(d.Samples, c) {
			d.Samples = append(d.Samples, c)
		}
	}
	if !o.FirstRejection.IsZero() && (d.FirstRejection.IsZero() || o.FirstRejection.Before(d.FirstRejection)) {
		d.FirstRejection = o.FirstRejection
	}
	if o.LastRejection.After(d.LastRejection) {
		d.LastRejection = o.LastRejection
	}
	e, oe := &d.Evidence, &o.Evidence
	e.TokenIDs, e.Tokens = mergeIDs(e.TokenIDs, e.Tokens, oe.TokenIDs, oe.Tokens)
	e.ClientIDs, e.Clients = mergeIDs(e.ClientIDs, e.Clients, oe.ClientIDs, oe.Clients)
	e.UserIDs, e.Users = mergeIDs(e.UserIDs, e.Users, oe.UserIDs, oe.Users)
	e.Ops = unionSorted(e.Ops, oe.Ops)
	e.OpsPassing = unionSorted(e.OpsPassing, oe.OpsPassing)
	e.OpsPassing = slices.DeleteFunc(e.OpsPassing, func(s string) bool { return slices.Contains(e.Ops, s) })
}

func unionSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	sort.Strings(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortObservations(obs []RateLimitObservation) {
	sort.SliceStable(obs, func(i, j int) bool {
		if obs[i].Rejected != obs[j].Rejected {
			return obs[i].Rejected > obs[j].Rejected
		}
		if obs[i].Key != obs[j].Key {
			return obs[i].Key < obs[j].Key
		}
		return obs[i].Source < obs[j].Source
	})
}

// remergeThresholds judges on the merged document every expression either
// side carries, once each; an expression that does not parse is kept,
// failed, with the parse error as its detail.
func remergeThresholds(d *Document, a, b []ThresholdResult) []ThresholdResult {
	var out []ThresholdResult
	seen := make(map[string]bool)
	for _, r := range append(append([]ThresholdResult(nil), a...), b...) {
		if seen[r.Expr] {
			continue
		}
		seen[r.Expr] = true
		th, err := ParseThreshold(r.Expr)
		if err != nil {
			r.OK = false
			r.Detail = err.Error()
			out = append(out, r)
			continue
		}
		out = append(out, th.Eval(d))
	}
	return out
}

// InferScopes sets the seen counts of every rate-limit observation's
// evidence from d.Identities and its scope from that evidence (InferScope,
// or the limiter's own scope for a client-side one), and sorts the
// observations by key and source. Merge calls it; so does a writer that
// builds a Document.
func (d *Document) InferScopes() {
	for i := range d.RateLimits {
		rl := &d.RateLimits[i]
		rl.Evidence.TokensSeen = d.Identities.Tokens
		rl.Evidence.ClientsSeen = d.Identities.Clients
		rl.Evidence.UsersSeen = d.Identities.Users
		rl.Scope, rl.ScopeReason = scopeFor(rl.Source, rl.Evidence, rl.DeclaredScope)
	}
	sortObservations(d.RateLimits)
}
