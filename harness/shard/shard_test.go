package agent_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/agent"
	"github.com/cxload/cxload/harness/api"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want agent.Shard
	}{
		{"1/1", agent.Shard{Index: 1, Count: 1}},
		{"2/4", agent.Shard{Index: 2, Count: 4}},
		{"4/4", agent.Shard{Index: 4, Count: 4}},
		{" 3 / 7 ", agent.Shard{Index: 3, Count: 7}},
		{"", agent.Shard{Index: 1, Count: 1}},
	}
	for _, tt := range tests {
		got, err := agent.ParseShard(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseShard(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseShardErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // besides the value and the expected form
	}{
		{"2", ""},
		{"0/4", "index 0 out of range"},
		{"5/4", "index 5 out of range"},
		{"-1/4", "index -1 out of range"},
		{"1/0", "count 0 < 1"},
		{"a/4", `index "a"`},
		{"1/b", `count "b"`},
		{"1/4/2", `count "4/2"`},
	}
	for _, tt := range tests {
		_, err := agent.ParseShard(tt.in)
		if err == nil {
			t.Errorf("ParseShard(%q) = nil error, want one", tt.in)
			continue
		}
		msg := err.Error()
		for _, w := range []string{"agent: ", fmt.Sprintf("%q", tt.in), "i/n", "1 ≤ i ≤ n", tt.want} {
			if !strings.Contains(msg, w) {
				t.Errorf("ParseShard(%q) error %q, want it to contain %q", tt.in, msg, w)
			}
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	t.Setenv(agent.ShardEnv, "3/8")
	if got, err := agent.ShardFromEnv(); err != nil || got != (agent.Shard{Index: 3, Count: 8}) {
		t.Errorf("ShardFromEnv() with %s=3/8 = %v, %v", agent.ShardEnv, got, err)
	}
	t.Setenv(agent.ShardEnv, "")
	if got, err := agent.ShardFromEnv(); err != nil || !got.Whole() {
		t.Errorf("ShardFromEnv() with %s empty = %v, %v, want 1/1", agent.ShardEnv, got, err)
	}
	t.Setenv(agent.ShardEnv, "9/8")
	_, err := agent.ShardFromEnv()
	if err == nil || !strings.Contains(err.Error(), `CXLOAD_SHARD="9/8"`) {
		t.Errorf("ShardFromEnv() with %s=9/8 error = %v, want it to name the variable", agent.ShardEnv, err)
	}
}

func TestShardZeroIsWhole(t *testing.T) {
	var s agent.Shard
	if !s.Whole() || s.String() != "1/1" || !s.Owns(5) || s.Split(7) != 7 || s.Validate() != nil {
		t.Errorf("zero Shard: Whole=%v String=%q Owns(5)=%v Split(7)=%d Validate=%v, want the whole run",
			s.Whole(), s.String(), s.Owns(5), s.Split(7), s.Validate())
	}
}

func shards(n int) []agent.Shard {
	out := make([]agent.Shard, n)
	for i := range out {
		out[i] = agent.Shard{Index: i + 1, Count: n}
	}
	return out
}

// TestShardSplit checks that budgets split so the parts add up exactly,
// differ by at most one, and match the number of agents each shard owns.
func TestShardSplit(t *testing.T) {
	for n := 1; n <= 9; n++ {
		for _, total := range []int{0, 1, 2, 3, 7, 10, 299, 300, 301, 500, 10_000} {
			sum, lo, hi := 0, total, 0
			for _, s := range shards(n) {
				p := s.Split(total)
				sum += p
				lo, hi = min(lo, p), max(hi, p)
				if owned := len(s.Agents(total)); owned != p {
					t.Errorf("shard %v: Split(%d) = %d but it owns %d agents", s, total, p, owned)
				}
				if p64 := s.Split64(uint64(total)); p64 != uint64(p) {
					t.Errorf("shard %v: Split64(%d) = %d, Split = %d", s, total, p64, p)
				}
			}
			if sum != total || hi-lo > 1 {
				t.Errorf("n=%d total=%d: parts sum to %d (want %d), spread %d..%d", n, total, sum, total, lo, hi)
			}
		}
	}
}

// TestShardsTogetherEqualOneRun is the acceptance property: shards 1/4 … 4/4
// together issue exactly the arrivals (same count, same times) and use
// exactly the agents of one unsharded run.
func TestShardsTogetherEqualOneRun(t *testing.T) {
	pacers := []struct {
		name string
		p    agent.Schedule
	}{
		{"k6 stages", mustStages(t, 0, agent.Stage{Duration: 10 * time.Second, Target: 50}, agent.Stage{Duration: 30 * time.Second, Target: 50}, agent.Stage{Duration: 5 * time.Second, Target: 0})},
		{"constant 7/s for 13s", agent.ConstantPacer{Freq: 7, Duration: 13 * time.Second}},
		{"fractional ramp", mustStages(t, 0.3, agent.Stage{Duration: 17 * time.Second, Target: 9.1})},
	}
	for _, pc := range pacers {
		whole := simulate(t, pc.p, 1_000_000)
		for _, n := range []int{1, 2, 3, 4, 7} {
			t.Run(fmt.Sprintf("%s/n=%d", pc.name, n), func(t *testing.T) {
				var union []time.Duration
				for _, s := range shards(n) {
					part := simulate(t, s.Pacer(pc.p), 1_000_000)
					if want := s.Split(len(whole)); len(part) != want {
						t.Errorf("shard %v: %d arrivals, want %d", s, len(part), want)
					}
					union = append(union, part...)
				}
				slices.Sort(union)
				if !slices.Equal(union, whole) {
					t.Errorf("shards together: %d arrivals, unsharded %d; the times differ", len(union), len(whole))
				}
			})
		}
	}
	const population = 500
	var agents []int
	for _, s := range shards(4) {
		agents = append(agents, s.Agents(population)...)
	}
	slices.Sort(agents)
	if want := (agent.Shard{}).Agents(population); !slices.Equal(agents, want) {
		t.Errorf("shards 1/4..4/4 together own %d agents, want each of the %d exactly once", len(agents), population)
	}
}

func TestShardPacerRate(t *testing.T) {
	p := agent.Shard{Index: 2, Count: 4}.Pacer(agent.ConstantPacer{Freq: 100})
	if got := p.Rate(0); got != 25 {
		t.Errorf("shard 2/4 of 100/s: Rate = %v, want 25", got)
	}
	if got := (agent.Shard{Index: 1, Count: 3}).SplitRate(300); got != 100 {
		t.Errorf("SplitRate(300) for 1/3 = %v, want 100", got)
	}
}

func TestShardBuckets(t *testing.T) {
	bs := []api.Bucket{
		{Key: "client.credentials.token.rate.per.minute", Scope: api.ScopeToken, Allowed: 300},
		{Key: "org.app.user.rate.per.minute", Scope: api.ScopeClientUser, Allowed: 3000},
		{Key: "conversations.recordingstate.rate.per.minute", Scope: api.ScopeEndpointUser, Allowed: 100, Families: []string{"recordingstate"}},
		{Key: "org.rate.per.minute", Scope: api.ScopeOrg, Allowed: 7},
	}
	sum := make([]int, len(bs))
	for _, s := range shards(3) {
		part := s.Buckets(bs)
		for i, b := range part {
			sum[i] += b.Allowed
			if b.Key != bs[i].Key || b.Scope != bs[i].Scope || !slices.Equal(b.Families, bs[i].Families) {
				t.Errorf("shard %v bucket %d = %+v, want %+v but for Allowed", s, i, b, bs[i])
			}
		}
		if part[0].Allowed != 300 {
			t.Errorf("shard %v: token bucket Allowed = %d, want 300 (each machine has its own tokens)", s, part[0].Allowed)
		}
	}
	for i, b := range bs[1:] {
		if sum[i+1] != b.Allowed {
			t.Errorf("%s: shards' parts sum to %d, want %d", b.Key, sum[i+1], b.Allowed)
		}
	}
}
