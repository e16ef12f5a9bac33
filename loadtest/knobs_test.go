//go:build load

package loadtest

import (
	"os"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/shard"
)

// The knobs of the load scenarios are the harness configuration's
// (harness.Knobs, harness.KnobSpecs; README "Load scenarios"); these are
// their names here.
const (
	EnvAgents      = harness.EnvAgents
	EnvConcurrency = harness.EnvConcurrency
	EnvDuration    = harness.EnvDuration
	EnvRamp        = harness.EnvRamp
	EnvThink       = harness.EnvThink
	EnvRate        = harness.EnvRate
	EnvIterations  = harness.EnvIterations
	EnvSeed        = harness.EnvSeed
	EnvP99         = harness.EnvP99
	EnvMax429Rate  = harness.EnvMax429Rate
	EnvProfileOut  = harness.EnvProfileOut
	EnvProbeMax    = harness.EnvProbeMax
	EnvSimURL      = harness.EnvSimURL
	EnvTimeScale   = harness.EnvTimeScale
	EnvLabels      = harness.EnvLabels
	EnvShard       = harness.EnvShard
)

// knobs are the scenario knobs with the run's settings a scenario needs
// before its target is open, as harness.ResolveTarget read them.
type knobs struct {
	harness.Knobs
	SimURL string      // CXLOAD_SIM_URL
	Shard  shard.Shard // CXLOAD_SHARD
}

// loadKnobs resolves the configuration and fails t with every problem if
// a knob is malformed. It also opens the run stamp, so that go test never
// caches a load run (see TestMain).
func loadKnobs(t testing.TB) knobs {
	t.Helper()
	touchRun()
	cfg, err := harness.ResolveTarget(os.Getenv)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return knobs{Knobs: cfg.Knobs, SimURL: cfg.SimURL, Shard: cfg.Shard}
}

// pick returns v if set (non-zero), else def, or defShort under -short.
func pick[T comparable](v, def, defShort T) T {
	var zero T
	if v != zero {
		return v
	}
	if testing.Short() {
		return defShort
	}
	return def
}
