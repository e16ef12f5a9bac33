package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/cxload/cxload/harness/genesys"
)

// FetchLimits reads the organization's effective limits through c:
// GET /api/v2/organizations/limits/namespaces (paged), then
// GET /api/v2/organizations/limits/namespaces/{namespace} for each. The
// listing gives key, namespace and value only; scope comes from
// genesys.ScopeOfKey
// and the window is DefaultWindow. Buckets whose route families are unknown
// (resource limits) are returned with Families nil: callers that seed a
// limiter must not apply them to every route (see MergeBuckets).
func FetchLimits(ctx context.Context, c *Client) ([]Bucket, error) {
	var names []string
	for page := 1; page <= 50; page++ {
		var listing any
		req := &Request{Op: "limits.namespaces", Route: "/api/v2/organizations/limits/namespaces",
			Query: url.Values{"pageSize": {"100"}, "pageNumber": {fmt.Sprint(page)}}}
		if _, err := c.DoJSON(ctx, req, nil, &listing); err != nil {
			return nil, fmt.Errorf("api: reading limit namespaces: %w", err)
		}
		got, pageCount, err := namespaceNames(listing)
		if err != nil {
			return nil, fmt.Errorf("api: reading limit namespaces: %w", err)
		}
		names = append(names, got...)
		if page >= pageCount {
			break
		}
	}
	var out []Bucket
	for _, ns := range names {
		var lst struct {
			Entities []struct {
				Key       string  `json:"key"`
				Namespace string  `json:"namespace"`
				Value     float64 `json:"value"`
			} `json:"entities"`
		}
		req := &Request{Op: "limits.namespace", Route: "/api/v2/organizations/limits/namespaces/{namespace}", Params: []string{ns}}
		if _, err := c.DoJSON(ctx, req, nil, &lst); err != nil {
			return nil, fmt.Errorf("api: reading limits of namespace %s: %w", ns, err)
		}
		for _, e := range lst.Entities {
			if e.Key == "" || e.Value <= 0 || e.Value > 1e9 {
				continue
			}
			n := e.Namespace
			if n == "" {
				n = ns
			}
			out = append(out, Bucket{Key: e.Key, Namespace: n, Scope: genesys.ScopeOfKey(e.Key), Allowed: int(e.Value), Window: DefaultWindow, Source: "tenant"})
		}
	}
	return out, nil
}

// DefaultBuckets are Genesys' documented request-rate limits, used to seed
// a limiter when nothing better is known: 300 per token per minute (both
// keys; a token is counted under one of them) and 3000 per organization ×
// OAuth client × user per minute.
func DefaultBuckets() []Bucket {
	return []Bucket{
		fromDocumented(genesys.KeyClientCredentialsToken),
		fromDocumented(genesys.KeyOrgAppUser),
	}
}

// fromDocumented returns the documented limit of key as a Bucket.
func fromDocumented(key string) Bucket {
	for _, l := range genesys.DocumentedLimits() {
		if l.Key == key {
			return Bucket{Key: l.Key, Namespace: l.Namespace, Scope: l.Scope, Allowed: l.Allowed, Window: l.Window, Source: "default"}
		}
	}
	panic("api: no documented limit " + key)
}

// MergeBuckets returns base with the Allowed figure of every bucket whose
// key also appears in update replaced by update's. Keys only in update are
// not added: without route families a resource limit would throttle every
// route (the limiter learns those from 429s instead).
func MergeBuckets(base, update []Bucket) []Bucket {
	out := append([]Bucket(nil), base...)
	for i := range out {
		for _, u := range update {
			if u.Key == out[i].Key && u.Allowed > 0 {
				out[i].Allowed, out[i].Source = u.Allowed, u.Source
			}
		}
	}
	return out
}

// namespaceNames reads the namespaces listing leniently, since the API
// documents it as an untyped object: an array, or an object with
// "entities", "namespaces" or "items", of names or of objects naming one
// in "name", "namespace" or "id". pageCount is 1 when the listing has none.
func namespaceNames(v any) (names []string, pageCount int, err error) {
	pageCount = 1
	list, ok := v.([]any)
	if obj, isObj := v.(map[string]any); isObj {
		for _, k := range []string{"entities", "namespaces", "items"} {
			if l, found := obj[k].([]any); found {
				list, ok = l, true
				break
			}
		}
		if pc, found := obj["pageCount"].(float64); found && pc >= 1 {
			pageCount = int(pc)
		}
	}
	if !ok {
		return nil, 0, fmt.Errorf("want a list of namespaces (an array, or entities/namespaces/items), got %s", clipJSON(v))
	}
	for i, e := range list {
		switch e := e.(type) {
		case string:
			names = append(names, e)
			continue
		case map[string]any:
			found := false
			for _, k := range []string{"name", "namespace", "id"} {
				if n, isStr := e[k].(string); isStr && n != "" {
					names, found = append(names, n), true
					break
				}
			}
			if found {
				continue
			}
		}
		return nil, 0, fmt.Errorf("entry %d: want a name or an object with name, namespace or id, got %s", i, clipJSON(e))
	}
	return names, pageCount, nil
}

// clipJSON renders v for an error message, at most 100 bytes.
func clipJSON(v any) string {
	data, _ := json.Marshal(v)
	if len(data) > 100 {
		return string(data[:100]) + "…"
	}
	return string(data)
}
