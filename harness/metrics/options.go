package metrics

import (
	"time"

	"github.com/cxload/cxload/harness/result"
)

// DefaultSeriesInterval is the bucket width of result.Document.Series.
const DefaultSeriesInterval = time.Second

// Option configures a Recorder.
type Option func(*config)

type config struct {
	now      func() time.Time
	scenario string
	shard    string
	run      string
	labels   map[string]string
	target   result.Target
	interval time.Duration
	known    map[string]KnownLimit
	maxOps   int

	newObserver func(scenario, shard string) Observer
}

// DefaultMaxOperations is how many distinct operations a Recorder keeps apart
// by default; see WithMaxOperations.
const DefaultMaxOperations = 100

// WithMaxOperations sets how many distinct operations the recorder keeps
// apart (default DefaultMaxOperations); results of further operations are
// recorded under result.OtherOp. It bounds memory when a caller names operations by
// concrete paths ("/api/v2/users/8f3e...") instead of route templates.
func WithMaxOperations(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxOps = n
		}
	}
}

// KnownLimit is a rate limit known in advance (from the simulator's profile or
// /api/v2/organizations/limits), used to fill in the allowed count and window
// of a bucket when responses do not say.
type KnownLimit struct {
	Key       string        // bucket key, e.g. "token.rate.per.minute"
	Namespace string        // limit namespace, if known
	Scope     string        // documented scope, e.g. "token"
	Allowed   int           // requests allowed per window
	Window    time.Duration // window length
}

// WithNow sets the clock (default time.Now). The recorder's start is the
// clock's value when NewRecorder runs; series and progress are relative to it.
func WithNow(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithScenario sets result.Document.Scenario (typically t.Name()).
func WithScenario(name string) Option { return func(c *config) { c.scenario = name } }

// WithShard sets result.Document.Shard, e.g. "1/4".
func WithShard(shard string) Option { return func(c *config) { c.shard = shard } }

// WithRun sets result.Document.Run, the run's id, which the shards of one
// run share.
func WithRun(id string) Option { return func(c *config) { c.run = id } }

// WithLabels sets result.Document.Labels. The map is copied.
func WithLabels(labels map[string]string) Option {
	return func(c *config) {
		c.labels = make(map[string]string, len(labels))
		for k, v := range labels {
			c.labels[k] = v
		}
	}
}

// WithTarget sets result.Document.Target: kind "simulator" or "tenant", and the region.
func WithTarget(kind, region string) Option {
	return func(c *config) { c.target = result.Target{Kind: kind, Region: region} }
}

// WithSeriesInterval sets the bucket width of result.Document.Series (default
// DefaultSeriesInterval). Non-positive values are ignored.
func WithSeriesInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.interval = d
		}
	}
}

// WithKnownLimits declares rate limits known in advance; a bucket that the run
// sees takes its allowed count and window from here when responses do not
// carry them.
func WithKnownLimits(limits ...KnownLimit) Option {
	return func(c *config) {
		if c.known == nil {
			c.known = make(map[string]KnownLimit)
		}
		for _, l := range limits {
			c.known[l.Key] = l
		}
	}
}
