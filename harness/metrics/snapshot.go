package metrics

import (
	"maps"
	"slices"
	"time"

	"github.com/cxload/cxload/harness/result"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Snapshot returns a result.Document of everything recorded so far. It may run
// concurrently with Record; it locks one operation at a time, so each
// operation's figures are consistent but the document is not one instant of
// the whole recorder.
func (r *Recorder) Snapshot() *result.Document {
	d := r.snapshot(true)
	d.Summary = result.Summarize(d)
	return d
}

// snapshot builds the document; with encode false the histograms hold only
// their decoded form (enough to evaluate thresholds, cheaper by far).
func (r *Recorder) snapshot(encode bool) *result.Document {
	enc := func(h *hdr.Histogram) result.Histogram {
		if !encode {
			return result.Unencoded(h)
		}
		e, _ := result.EncodeHistogram(h) // cannot fail for histograms made by NewHDR
		return e
	}
	d := &result.Document{
		Schema:     result.SchemaVersion,
		Scenario:   r.cfg.scenario,
		Shard:      r.cfg.shard,
		Run:        r.cfg.run,
		Labels:     maps.Clone(r.cfg.labels),
		Target:     r.cfg.target,
		Start:      r.start,
		End:        r.cfg.now(),
		Operations: []result.OpStats{},
		RateLimits: []result.RateLimitObservation{},
		Series:     result.Series{IntervalMs: r.cfg.interval.Milliseconds()},
	}
	aggs := r.collect()
	var ids identities
	type bucketOps struct {
		b   *bucketAgg
		ops []string
	}
	var buckets []*bucketOps
	for _, a := range aggs {
		st := result.OpStats{
			Op:          a.name,
			Route:       a.route,
			Outcomes:    map[string]int64{},
			Status429:   a.status429,
			BytesIn:     a.bytesIn,
			BytesOut:    a.bytesOut,
			Connections: a.newConns,
			RetryWaitMs: float64(a.retryWait) / float64(time.Millisecond),
			Attempts:    a.attempts,
			ByOutcome:   map[string]result.OutcomeLatency{},
		}
		lat, tot := result.NewHDR(), result.NewHDR()
		for o := range a.outcomes {
			oa := &a.outcomes[o]
			if oa.latency == nil {
				continue
			}
			name := result.Outcome(o).String()
			st.Count += oa.count
			st.Outcomes[name] = oa.count
			lat.Merge(oa.latency)
			tot.Merge(oa.total)
			st.ByOutcome[name] = result.OutcomeLatency{Latency: enc(oa.latency), Total: enc(oa.total)}
		}
		st.Latency, st.Total = enc(lat), enc(tot)
		if a.hdrAllowed > 0 || a.hdrMaxCount > 0 || a.hdrMaxReset > 0 {
			st.RateHeaders = &result.RateHeaders{Allowed: a.hdrAllowed, MaxCount: a.hdrMaxCount, MaxReset: a.hdrMaxReset.Seconds()}
		}
		d.Operations = append(d.Operations, st)
		d.Series.Requests = addSeries(d.Series.Requests, a.requests)
		d.Series.Throttled = addSeries(d.Series.Throttled, a.throttled)
		d.Series.Errors = addSeries(d.Series.Errors, a.errors)
		ids.merge(&a.ids)
		for _, b := range a.buckets {
			var bo *bucketOps
			for _, x := range buckets {
				if x.b.key == b.key && x.b.clientSide == b.clientSide {
					bo = x
				}
			}
			if bo == nil {
				bo = &bucketOps{b: &bucketAgg{key: b.key, clientSide: b.clientSide}}
				buckets = append(buckets, bo)
			}
			mergeBucket([]*bucketAgg{bo.b}, b)
			bo.ops = append(bo.ops, a.name)
		}
	}
	// Pad the series to the same length, covering the whole run.
	n := max(len(d.Series.Requests), len(d.Series.Throttled), len(d.Series.Errors))
	if el := d.End.Sub(d.Start); el > 0 {
		n = max(n, min(int((el+r.cfg.interval-1)/r.cfg.interval), result.MaxSeries))
	}
	d.Series.Requests = pad(d.Series.Requests, n)
	d.Series.Throttled = pad(d.Series.Throttled, n)
	d.Series.Errors = pad(d.Series.Errors, n)

	d.Identities = result.Identities{
		Tokens: len(ids.tokens), Clients: len(ids.clients), Users: len(ids.users),
		TokenIDs: capIDs(ids.tokens), ClientIDs: capIDs(ids.clients), UserIDs: capIDs(ids.users),
	}

	for _, bo := range buckets {
		b := bo.b
		obs := result.RateLimitObservation{
			Key:            b.key,
			Namespace:      b.namespace,
			DeclaredScope:  b.scope,
			Allowed:        allowedOf(b.value, b.allowed),
			Rejected:       b.rejected,
			Recovered:      b.recovered,
			Samples:        slices.Clone(b.samples),
			FirstRejection: b.first,
			LastRejection:  b.last,
			Source:         "server",
		}
		if b.clientSide {
			obs.Source = "client-side"
		}
		if k, ok := r.cfg.known[b.key]; ok {
			if obs.Allowed == 0 {
				obs.Allowed = k.Allowed
			}
			if k.Window > 0 {
				obs.WindowSeconds, obs.WindowSource = k.Window.Seconds(), "profile"
			}
			if obs.Namespace == "" {
				obs.Namespace = k.Namespace
			}
			if obs.DeclaredScope == "" {
				obs.DeclaredScope = k.Scope
			}
		}
		if obs.WindowSeconds == 0 {
			obs.WindowSeconds, obs.WindowSource = result.EstimateWindow(b.maxReset, b.maxRetryAfter)
		}
		ops := slices.Compact(slices.Sorted(slices.Values(bo.ops)))
		obs.Evidence = result.Evidence{
			Tokens: len(b.ids.tokens), Clients: len(b.ids.clients), Users: len(b.ids.users),
			TokensSeen: d.Identities.Tokens, ClientsSeen: d.Identities.Clients, UsersSeen: d.Identities.Users,
			Ops:      ops,
			TokenIDs: capIDs(b.ids.tokens), ClientIDs: capIDs(b.ids.clients), UserIDs: capIDs(b.ids.users),
		}
		if obs.Allowed > 0 && !b.clientSide {
			clients := *r.clients.Load()
			for id := range b.ids.clients {
				c := clients[id]
				if c == nil {
					continue
				}
				if n, ok := c.sentBefore(b.key, b.clientSide); ok && n < int64(obs.Allowed) {
					if obs.Evidence.ClientsEarly == 0 || int(n) < obs.Evidence.FewestBefore {
						obs.Evidence.FewestBefore = int(n)
					}
					obs.Evidence.ClientsEarly++
				}
			}
		}
		// Which other operations succeeded while this bucket rejected?
		lo := int(b.first.Sub(r.start) / r.cfg.interval)
		hi := int(b.last.Sub(r.start) / r.cfg.interval)
		for _, a := range aggs {
			if slices.Contains(ops, a.name) {
				continue
			}
			for i := max(lo, 0); i <= hi && i < len(a.ok); i++ {
				if a.ok[i] > 0 {
					obs.Evidence.OpsPassing = append(obs.Evidence.OpsPassing, a.name)
					break
				}
			}
		}
		d.RateLimits = append(d.RateLimits, obs)
	}
	d.InferScopes()

	d.WebSocket = r.webSocket(enc)
	return d
}

func pad(s []int64, n int) []int64 {
	if len(s) < n {
		s = append(s, make([]int64, n-len(s))...)
	}
	if s == nil {
		s = []int64{}
	}
	return s
}

func capIDs(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(m))
	if len(ids) > result.MaxIDs {
		ids = ids[:result.MaxIDs]
	}
	return ids
}

// allowedOf is a bucket's allowance: the 429 body's limit.value names the
// bucket that rejected the request, while the inin-ratelimit-* headers
// describe whichever bucket is nearest its limit, which may be another one
// (or none, for a hidden limit). The body wins whenever it says anything.
func allowedOf(bodyValue, headerAllowed int) int {
	if bodyValue > 0 {
		return bodyValue
	}
	return headerAllowed
}
