//go:build load

package loadtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/reports"
)

// EnvMatrixDir names the directory scripts/matrix.sh fills; TestMatrixCompare
// checks it and is skipped without it.
const EnvMatrixDir = "CXLOAD_MATRIX_DIR"

// TestMatrixCompare is scripts/matrix.sh's verdict. In CXLOAD_MATRIX_DIR it
// finds the shards' go test -json legs (legs/), the report scripts/report
// merged from them as the CI merge job does (merged.json), a single-process
// run of the same load (single/ and single.json), and the simulator's
// counters after each (single-stats.json, shards-stats.json). It checks:
//
//   - counts: every operation's requests and outcomes in the merged report
//     equal the single-process run's exactly;
//   - percentiles: the merged report's p50/p90/p99/max of every operation
//     equal, within the histograms' precision (3 significant digits), those
//     of the shards' own histograms merged here independently of
//     scripts/report (the two runs differ in timing, so their percentiles
//     are shown side by side, not compared);
//   - budget: the simulator rejected nothing during the sharded run (no
//     bucket of any limit overflowed, no 429), and it saw the same requests
//     per route and status as during the single-process run;
//   - completeness: every leg's documents carry the run id (run-id) and
//     their shard i/n, which in CXLOAD_MATRIX_MODE=k8s is the leg's
//     JOB_COMPLETION_INDEX+1 (leg-<index>.json); and the merge without
//     shard 2's leg failed, naming that shard and the legs it had
//     (dropped.status, dropped.stderr).
func TestMatrixCompare(t *testing.T) {
	dir := os.Getenv(EnvMatrixDir)
	if dir == "" {
		t.Skipf("%s is not set: scripts/matrix.sh runs this check", EnvMatrixDir)
	}
	touchRun()
	single := reportScenarios(t, filepath.Join(dir, "single.json"))
	merged := reportScenarios(t, filepath.Join(dir, "merged.json"))
	legs, err := filepath.Glob(filepath.Join(dir, "legs", "*.json"))
	if err != nil || len(legs) == 0 {
		t.Fatalf("no shard legs in %s/legs: %v", dir, err)
	}
	shardDocs := map[string][]*result.Document{}
	for _, leg := range legs {
		for name, docs := range legDocuments(t, leg) {
			shardDocs[name] = append(shardDocs[name], docs...)
		}
	}
	if len(merged) == 0 {
		t.Fatalf("merged.json has no scenario documents")
	}
	for _, name := range sortedKeys(merged) {
		m, s := merged[name], single[name]
		if s == nil {
			t.Errorf("scenario %s is in the merged report but not in the single-process run", name)
			continue
		}
		logf(t, "%s: merged %d shard(s) %v; %d requests merged, %d single-process", name, len(shardDocs[name]), m.Shards, m.Doc.All().Count, s.Doc.All().Count)
		compareCounts(t, name, m.Doc, s.Doc, len(legs))
		comparePercentiles(t, name, m.Doc, shardDocs[name], s.Doc)
	}
	checkBudget(t, filepath.Join(dir, "single-stats.json"), filepath.Join(dir, "shards-stats.json"), len(legs))
	checkLegs(t, dir, legs, os.Getenv("CXLOAD_MATRIX_MODE") == "k8s")
}

// checkLegs checks that each leg's documents name the run and their shard
// (for a Kubernetes leg, leg-<k>.json holds shard k+1/n), and that the merge
// of the legs without shard 2's failed, naming it.
func checkLegs(t *testing.T, dir string, legs []string, k8s bool) {
	t.Helper()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("scripts/matrix.sh left no %s: %v", name, err)
		}
		return strings.TrimSpace(string(data))
	}
	runID := read("run-id")
	n := len(legs)
	for _, leg := range legs {
		want := ""
		if k8s {
			var k int
			if _, err := fmt.Sscanf(filepath.Base(leg), "leg-%d.json", &k); err != nil {
				t.Errorf("%s: a Kubernetes leg is named leg-<JOB_COMPLETION_INDEX>.json", leg)
				continue
			}
			want = fmt.Sprintf("%d/%d", k+1, n)
		}
		docs := legDocuments(t, leg)
		if len(docs) == 0 {
			t.Errorf("%s: no result document", leg)
		}
		for name, ds := range docs {
			for _, d := range ds {
				if d.Run != runID {
					t.Errorf("%s: %s document run %q, want %q (CXLOAD_RUN_ID)", leg, name, d.Run, runID)
				}
				if !strings.HasSuffix(d.Shard, fmt.Sprintf("/%d", n)) || want != "" && d.Shard != want {
					t.Errorf("%s: %s document shard %q, want %s", leg, name, d.Shard, cmp.Or(want, fmt.Sprintf("i/%d", n)))
				}
			}
		}
	}
	if n < 2 {
		return
	}
	status, stderr, shard, dropped := read("dropped.status"), read("dropped.stderr"), read("dropped.shard"), read("dropped.leg")
	logf(t, "merge without %s: exit status %s: %s", filepath.Base(dropped), status, stderr)
	if status != "1" {
		t.Errorf("the merge without shard %s's leg exited %s, want 1", shard, status)
	}
	if want := "shard " + shard + " is missing"; !strings.Contains(stderr, want) {
		t.Errorf("the merge without shard %s's leg said %q, want it to contain %q", shard, stderr, want)
	}
	for _, leg := range legs {
		if leg != dropped && !strings.Contains(stderr, leg) {
			t.Errorf("the merge without shard %s's leg does not name the legs it had (%s): %q", shard, leg, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dropped.json")); err == nil {
		t.Errorf("the failed merge wrote dropped.json, want nothing written")
	}
}

func reportScenarios(t *testing.T, path string) map[string]*reports.Scenario {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the report: %v", err)
	}
	var rep struct {
		Schema string       `json:"schema"`
		Run    *reports.Run `json:"run"`
	}
	if err := json.Unmarshal(data, &rep); err != nil || rep.Run == nil {
		t.Fatalf("%s: not a scripts/report -json output: %v", path, err)
	}
	out := map[string]*reports.Scenario{}
	for i := range rep.Run.Scenarios {
		s := &rep.Run.Scenarios[i]
		out[s.Name] = s
	}
	return out
}

// legDocuments reads the result documents of a go test -json file with
// result.ReadTestOutput, independently of the reports package.
func legDocuments(t *testing.T, path string) map[string][]*result.Document {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs, err := result.ReadTestOutput(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return docs
}

// perProcess are the setup requests every process makes once (reading the
// directory, the presence definitions and the wrap-up codes): n shards make
// them n times.
var perProcess = map[string]bool{
	"users.list": true, "presence.definitions": true, opWrapupCodes: true,
	"GET /api/v2/users": true, "GET /api/v2/presence/definitions": true, "GET " + routeWrapupCodes: true,
}

// channelLayout are the notification channel requests: agents share their
// OAuth client's channels within a process, so how many channels and
// subscription requests a run makes depends on how the agents are split
// over processes, not on the load. They are not compared; each shard's
// own thresholds judge its channels (no socket dropped, no event lost).
var channelLayout = map[string]bool{
	"channel.create": true, "channel.subscribe": true, "channel.topics.add": true,
	"GET /channels/{id}": true, "POST /api/v2/notifications/channels": true,
	"POST /api/v2/notifications/channels/{id}/subscriptions": true, "PUT /api/v2/notifications/channels/{id}/subscriptions": true,
}

func compareCounts(t *testing.T, name string, m, s *result.Document, shards int) {
	t.Helper()
	ops := map[string]bool{}
	for _, o := range m.OpNames() {
		ops[o] = true
	}
	for _, o := range s.OpNames() {
		ops[o] = true
	}
	for _, op := range sortedKeys(ops) {
		mo, so := m.Op(op), s.Op(op)
		if channelLayout[op] {
			logf(t, "  %-26s not compared (channels are shared per OAuth client within a process)", op)
			continue
		}
		switch {
		case mo == nil:
			t.Errorf("%s: operation %s: %d requests in the single-process run, none in the merged shards", name, op, so.Count)
			continue
		case so == nil:
			t.Errorf("%s: operation %s: %d requests in the merged shards, none in the single-process run", name, op, mo.Count)
			continue
		}
		want, wantOK := so.Count, so.Outcome(result.OK)
		if perProcess[op] {
			want, wantOK = int64(shards)*so.Count, int64(shards)*so.Outcome(result.OK)
		}
		if mo.Count != want || mo.Outcome(result.OK) != wantOK || len(mo.Outcomes) != len(so.Outcomes) || mo.Status429 != so.Status429 {
			t.Errorf("%s: operation %s: merged shards %d requests %v (429s %d), single process %d requests %v (429s %d): counts must be equal (setup operations: %d× the single process's)",
				name, op, mo.Count, mo.Outcomes, mo.Status429, so.Count, so.Outcomes, so.Status429, shards)
		} else {
			logf(t, "  %-26s count %6d = %6d  outcomes %v", op, mo.Count, want, mo.Outcomes)
		}
	}
}

// comparePercentiles checks the merged report against the shards'
// histograms merged here, op by op, within HdrHistogram's precision.
func comparePercentiles(t *testing.T, name string, m *result.Document, shards []*result.Document, s *result.Document) {
	t.Helper()
	if len(shards) == 0 {
		t.Errorf("%s: no shard documents in the legs", name)
		return
	}
	for _, op := range m.OpNames() {
		var own *hdr.Histogram
		for _, d := range shards {
			o := d.Op(op)
			if o == nil {
				continue
			}
			h, err := o.Latency.Hist()
			if err != nil {
				t.Fatalf("%s: %s: decoding a shard's histogram: %v", name, op, err)
			}
			if own == nil {
				own = h
			} else {
				own.Merge(h)
			}
		}
		if own == nil {
			t.Errorf("%s: operation %s is in the merged report but in no shard", name, op)
			continue
		}
		mo := m.Op(op)
		if mo.Latency.Count() != own.TotalCount() {
			t.Errorf("%s: %s: the merged histogram holds %d values, the shards %d", name, op, mo.Latency.Count(), own.TotalCount())
		}
		var line []string
		for _, p := range []float64{50, 90, 99, 100} {
			got := mo.Latency.Percentile(p)
			want := time.Duration(own.ValueAtPercentile(p)) * time.Microsecond
			if !withinPrecision(got, want) {
				t.Errorf("%s: %s: p%g of the merged report is %v, the shards' merged histograms say %v (beyond 3 significant digits)", name, op, p, got, want)
			}
			single := time.Duration(0)
			if so := s.Op(op); so != nil {
				single = so.Latency.Percentile(p)
			}
			line = append(line, fmt.Sprintf("p%g %v (shards %v, single process %v)", p, got, want, single))
		}
		logf(t, "  %-26s %s", op, strings.Join(line, "; "))
	}
}

// withinPrecision: HdrHistogram with 3 significant digits keeps values
// within 0.1% (and the unit, 1 µs).
func withinPrecision(a, b time.Duration) bool {
	d := math.Abs(float64(a - b))
	return d <= math.Max(float64(time.Microsecond), 0.001*math.Max(float64(a), float64(b)))
}

// checkBudget proves with the simulator's counters that the sharded run
// stayed within every limit and made the same requests as one process.
func checkBudget(t *testing.T, singlePath, shardsPath string, n int) {
	t.Helper()
	read := func(p string) gcsim.Stats {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading the simulator's counters: %v", err)
		}
		var st gcsim.Stats
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return st
	}
	single, shards := read(singlePath), read(shardsPath)
	for _, b := range shards.Buckets {
		logf(t, "  simulator bucket %-45s admitted %6d, rejected %d", b.Key, b.Allowed, b.Rejected)
		if b.Rejected != 0 {
			t.Errorf("the shards together exceeded limit %s: the simulator rejected %d requests (admitted %d)", b.Key, b.Rejected, b.Allowed)
		}
	}
	counts := func(st gcsim.Stats) map[string]int64 {
		m := map[string]int64{}
		for _, r := range st.Requests {
			if r.Route == "/oauth/token" {
				continue // each shard gets its own tokens
			}
			if r.Status == 429 {
				t.Errorf("the simulator answered %d requests of %s %s with 429", r.Count, r.Method, r.Route)
			}
			m[fmt.Sprintf("%s %s %d", r.Method, r.Route, r.Status)] += r.Count
		}
		return m
	}
	sc, mc := counts(single), counts(shards)
	keys := map[string]bool{}
	for k := range sc {
		keys[k] = true
	}
	for k := range mc {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	compared := 0
	for _, k := range ks {
		want := sc[k]
		if channelLayout[k[:strings.LastIndexByte(k, ' ')]] {
			continue
		}
		compared++
		if perProcess[k[:strings.LastIndexByte(k, ' ')]] { // "METHOD route status"
			want *= int64(n)
		}
		if want != mc[k] {
			t.Errorf("the simulator saw %s %d times during the single-process run and %d times during the sharded run (want %d)", k, sc[k], mc[k], want)
		}
	}
	logf(t, "  simulator: %d route/status counts equal between the runs (notification channel routes not compared); tokens issued: single %v, shards %v", compared, single.Tokens, shards.Tokens)
}
