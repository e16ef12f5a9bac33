package result

import (
	"fmt"
	"strings"
)

// ShardLabel is the label that holds the shard of a run when a report
// groups documents by labels; a document holds its own shard in Shard.
const ShardLabel = "shard"

// ParseLabels parses a document's labels as CXLOAD_LABELS writes them,
// "key=value,key=value". Keys must be non-empty and unique; spaces around
// items are ignored; an empty string has no labels.
func ParseLabels(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	labels := make(map[string]string)
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("label %d %q: want key=value, e.g. CXLOAD_LABELS=region=sim,agents=500", i+1, item)
		}
		if _, dup := labels[k]; dup {
			return nil, fmt.Errorf("label %d: key %q given twice", i+1, k)
		}
		labels[k] = strings.TrimSpace(v)
	}
	return labels, nil
}
