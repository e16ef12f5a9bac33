//go:build load

package loadtest

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness"
	"github.com/cxload/cxload/harness/shard"
)

// FuzzParseKnobs: any CXLOAD_* scenario knobs parse without panicking; each
// problem is on its own line, starts with "loadtest: " and names its
// variable; an accepted external simulator URL points at this machine
// (network only to loopback) by what a URL parser, and so the HTTP client,
// sees; accepted numbers are within what the knob takes.
func FuzzParseKnobs(f *testing.F) {
	for _, s := range [][7]string{
		{"500", "30s", "10", "1%", "http://127.0.0.1:8080", "1/4", "region=sim"},
		{"0", "-1s", "NaN", "101%", "https://127.0.0.1:8080", "5/4", "=x"},
		{"1_000", "0s", "0.5", "0.01", "http://localhost:9999/", "2/4", "region=sim,shard=2/4"},
		{"", "", "", "", "http://[::1]:8080", "", ""},
		{"x", "1h", "1e9", "-0", "http://10.0.0.1:80", "1/1", "a=1,a=2"},
		// bounds: huge, infinite, overflowing
		{"1_000_000_000", "25h", "1e300", "1", "", "1/1001", ""},
		{"100000", "24h", "1000000", "1", "", "1000/1000", ""},
		{"99999999999999999999", "1e300h", "+Inf", "1", "", "", ""},
		{"1", "1m", "1", "1", "http://127.0.0.1.example.com:80", "1/1", ""},
		// all of 127.0.0.0/8 is loopback, as is IPv4-mapped ::ffff:127.0.0.1.
		{"1", "1m", "1", "1", "http://127.0.1.0", "1/1", ""},
		{"1", "1m", "1", "1", "http://[::ffff:127.0.0.1]:80", "1/1", ""},
		{"1", "1m", "1", "1", "http://[fe80::1%25lo]:80", "1/1", ""},
		// userinfo: the part before "@" is not the host.
		{"1", "1m", "1", "1", "http://localhost:80@example.com/", "1/1", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	f.Fuzz(func(t *testing.T, agents, duration, rate, max429, simURL, shardEnv, labels string) {
		env := map[string]string{
			EnvAgents: agents, EnvDuration: duration, EnvRamp: duration, EnvRate: rate, EnvTimeScale: rate,
			EnvMax429Rate: max429, EnvSimURL: simURL, EnvShard: shardEnv, EnvLabels: labels, EnvSeed: agents,
		}
		k, err := parseKnobs(func(name string) string { return env[name] })
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "loadtest: CXLOAD_") {
					t.Fatalf("problem %q does not start with \"loadtest: \" and the variable\nall: %v", line, err)
				}
			}
			return
		}
		if k.Agents < 0 || k.Duration < 0 || k.Ramp < 0 || k.Rate < 0 || (k.TimeScale != 0 && k.TimeScale < 1) || k.Max429Rate < 0 || k.Max429Rate > 1 {
			t.Fatalf("accepted out-of-range knobs: %+v", k)
		}
		if k.Agents > harness.MaxAgents || k.Duration > harness.MaxDuration || k.Ramp > harness.MaxDuration || k.Rate > harness.MaxRate ||
			k.TimeScale > MaxTimeScale || k.Shard.Count > shard.Max {
			t.Fatalf("accepted knobs over their bounds: %+v", k)
		}
		if k.SimURL != "" {
			u, err := url.Parse(k.SimURL)
			if err != nil {
				t.Fatalf("%s=%q accepted, but it is not a URL: %v", EnvSimURL, simURL, err)
			}
			// The oracle is net/netip, not the net.ParseIP the code uses:
			// all of 127.0.0.0/8 and ::1 (also IPv4-mapped) are loopback.
			h := u.Hostname()
			if a, err := netip.ParseAddr(h); h != "localhost" && (err != nil || !a.Unmap().IsLoopback()) {
				t.Fatalf("%s=%q accepted as loopback, but an HTTP client would dial %q", EnvSimURL, simURL, h)
			}
		}
	})
}
