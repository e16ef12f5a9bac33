package metrics

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxCountedClients bounds the clients a Recorder counts, and
// maxWatchedBuckets the buckets it follows per client; beyond them a bucket
// cannot show that a client was rejected early (see result.Evidence's
// ClientsEarly).
const (
	maxCountedClients = 4096
	maxWatchedBuckets = 16
)

// clientCount counts one OAuth client's requests over every operation and,
// for each bucket that rejected it, how many of its requests had been sent
// before the bucket's first rejection of it: those completed by then, plus
// those sent earlier that completed later (in flight when the 429 came).
// Its methods are safe for concurrent use and do not allocate once the
// client is watched by every bucket that rejects it.
type clientCount struct {
	n     atomic.Int64
	first atomic.Pointer[[]*firstRejection] // replaced, never changed; guarded by mu when replaced
	mu    sync.Mutex
}

// firstRejection is a bucket's first rejection of a client.
type firstRejection struct {
	key        string
	clientSide bool
	at         time.Time    // when the rejected request was sent
	before     atomic.Int64 // requests of the client sent before at
}

// completed counts one request of the client, sent at start, and returns
// how many of the client's requests had completed before it.
func (c *clientCount) completed(start time.Time) int64 {
	prior := c.n.Add(1) - 1
	if fs := c.first.Load(); fs != nil {
		for _, f := range *fs {
			if start.Before(f.at) {
				f.before.Add(1)
			}
		}
	}
	return prior
}

// rejected notes a rejection by bucket (key, clientSide) of a request sent
// at, when prior requests of the client had completed; only the bucket's
// first rejection of the client is kept.
func (c *clientCount) rejected(key string, clientSide bool, at time.Time, prior int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old []*firstRejection
	if fs := c.first.Load(); fs != nil {
		old = *fs
	}
	for _, f := range old {
		if f.key == key && f.clientSide == clientSide {
			return
		}
	}
	if len(old) >= maxWatchedBuckets {
		return
	}
	f := &firstRejection{key: strings.Clone(key), clientSide: clientSide, at: at}
	f.before.Store(prior)
	fs := append(old[:len(old):len(old)], f)
	c.first.Store(&fs)
}

// sentBefore returns how many requests of the client had been sent before
// bucket (key, clientSide) first rejected it, and whether it was followed.
func (c *clientCount) sentBefore(key string, clientSide bool) (int64, bool) {
	if fs := c.first.Load(); fs != nil {
		for _, f := range *fs {
			if f.key == key && f.clientSide == clientSide {
				return f.before.Load(), true
			}
		}
	}
	return 0, false
}

// client returns the count of client id, adding it unless
// maxCountedClients are already counted (then nil).
func (r *Recorder) client(id string) *clientCount {
	if c, ok := (*r.clients.Load())[id]; ok {
		return c
	}
	r.clientsMu.Lock()
	defer r.clientsMu.Unlock()
	old := *r.clients.Load()
	if c, ok := old[id]; ok {
		return c
	}
	if len(old) >= maxCountedClients {
		return nil
	}
	m := maps.Clone(old)
	if m == nil {
		m = make(map[string]*clientCount)
	}
	c := new(clientCount)
	m[strings.Clone(id)] = c
	r.clients.Store(&m)
	return c
}
