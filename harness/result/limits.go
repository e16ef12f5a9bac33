package result

// Bounds of a document, so that a bogus timestamp or an unbounded number of
// identities cannot grow one without limit. What lies beyond them still
// counts; it is just not listed.
const (
	// MaxSeries is the most intervals a Series holds: a week of seconds.
	MaxSeries = 7 * 24 * 3600
	// MaxIDs is the most opaque ids an identity list holds.
	MaxIDs = 256
	// MaxSamples is the most correlation ids of rejected requests an
	// observation keeps.
	MaxSamples = 3
)
