package telemetry_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/telemetry"

	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is an environment for FromEnv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// logs collects log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

const secret = "s3cret-api-key"

// runID is a run id as harness derives it from GitHub's GITHUB_RUN_ID and
// GITHUB_RUN_ATTEMPT.
const runID = "4711-2"

// inputs is what the test run recorded, per operation and outcome, to
// check sums against.
type inputs struct {
	mu         sync.Mutex
	latencySum map[string]float64 // "op/outcome" → Σ seconds, as recorded
	totalSum   map[string]float64
}

// run records a run of 4 operations over every outcome from 4 goroutines:
// latencies log-uniform from 1 ms to 5 s (a span well within
// telemetry.MaxSpan), some retries, bytes and new connections.
func run(rec *metrics.Recorder) *inputs {
	in := &inputs{latencySum: map[string]float64{}, totalSum: map[string]float64{}}
	statuses := []int{200, 200, 200, 200, 200, 200, 429, 404, 500, 0}
	ops := []string{"presence.set", "queues.list", "users.get", "conversations.call"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 2500 {
				op := ops[rng.IntN(len(ops))]
				st := statuses[rng.IntN(len(statuses))]
				lat := time.Duration(math.Exp(math.Log(1e3)+rng.Float64()*math.Log(5e6/1e3))) * time.Microsecond
				res := &metrics.Result{
					Op: op, Method: "GET", Route: "/api/v2/" + op, Status: st, Outcome: result.OutcomeFor(st),
					Start: time.Unix(0, 0), Latency: lat, Total: lat, Attempts: 1,
					BytesIn: int64(rng.IntN(5000)), BytesOut: int64(rng.IntN(300)),
				}
				if i%7 == 0 {
					res.Attempts, res.RetryWait = 3, 150*time.Millisecond
					res.Total = lat + 2*time.Second
				}
				if i%11 == 0 {
					res.Connect = 3 * time.Millisecond
				}
				if st == 0 && i%2 == 0 {
					res.Attempts = 0 // refused before sending
				}
				rec.Record(res)
				k := op + "/" + res.Outcome.String()
				in.mu.Lock()
				in.latencySum[k] += float64(result.Micros(res.Latency)) / 1e6
				in.totalSum[k] += float64(result.Micros(res.Total)) / 1e6
				in.mu.Unlock()
			}
		})
	}
	wg.Wait()
	return in
}

// What the receiver holds after a run equals the run's result document:
// the counts per operation and outcome, the counters, the histograms'
// counts and sums, and their quantiles within telemetry.QuantileError of
// the document's HdrHistogram figures; every series names the document's
// run. (TestPeriodicExportAndClose: a recorder without a run id exports no
// cxload.run.)
func TestExportEqualsResultDocument(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			rcv := newReceiver(t, nil)
			e := env{
				telemetry.EnvEndpoint:         rcv.URL,
				telemetry.EnvHeaders:          "Authorization=Bearer%20" + secret + ",X-Team=cx",
				telemetry.EnvResource:         "deployment.environment=loadtest,team=cx",
				telemetry.EnvInterval:         "3600000", // only Close exports: the figures are final
				telemetry.EnvMetricsExporter:  "otlp",
				telemetry.EnvProtocol:         "http/protobuf",
				telemetry.EnvMetricsTimeout:   "5000",
				telemetry.EnvTemporality:      "cumulative",
				telemetry.EnvServiceName:      "",
				telemetry.EnvMetricsCompress:  map[bool]string{false: "none", true: "gzip"}[gz],
				telemetry.EnvMetricsHeaders:   "",
				telemetry.EnvMetricsEndpoint:  "",
				telemetry.EnvSDKDisabled:      "false",
				telemetry.EnvCertificate:      "",
				telemetry.EnvMetricsClientKey: "",
			}
			var lg logs
			exp, err := telemetry.FromEnv(e.get, lg.logf)
			if err != nil || exp == nil {
				t.Fatalf("FromEnv = %v, %v; want an exporter", exp, err)
			}
			rec := metrics.NewRecorder(metrics.WithScenario("TestExport"), metrics.WithShard("2/4"), metrics.WithRun(runID),
				metrics.WithObserver(exp.ObserverFor(runID)))
			in := run(rec)
			doc := rec.Snapshot()
			exp.Close()

			if lines := lg.all(); len(lines) > 0 || exp.Failed() != 0 {
				t.Fatalf("exporting logged %q and counted %d failures, want none", lines, exp.Failed())
			}
			rcv.mu.Lock()
			h := rcv.headers[len(rcv.headers)-1]
			res := rcv.resource
			gotGzip := h.Get("Content-Encoding") == "gzip"
			rcv.mu.Unlock()
			if got := h.Get("Authorization"); got != "Bearer "+secret || h.Get("X-Team") != "cx" {
				t.Errorf("receiver got Authorization %q, X-Team %q; want the headers of %s", got, h.Get("X-Team"), telemetry.EnvHeaders)
			}
			if gotGzip != gz {
				t.Errorf("Content-Encoding gzip = %v, want %v", gotGzip, gz)
			}
			if res["service.name"] != "cxload" || res["deployment.environment"] != "loadtest" || res["team"] != "cx" {
				t.Errorf("resource = %v, want service.name=cxload and the attributes of %s", res, telemetry.EnvResource)
			}
			if doc.Run != runID {
				t.Fatalf("document run = %q, want %q", doc.Run, runID)
			}
			checkDocument(t, rcv, doc, in, "TestExport", "2/4", doc.Run)
		})
	}
}

// checkDocument compares what rcv holds with doc: every series carries
// scenario, shard and, unless it is "", run.
func checkDocument(t *testing.T, rcv *receiver, doc *result.Document, in *inputs, scenario, shard, run string) {
	t.Helper()
	key := func(op, outcome string) string {
		attrs := map[string]string{
			telemetry.AttrScenario: scenario, telemetry.AttrShard: shard,
			telemetry.AttrOperation: op, telemetry.AttrOutcome: outcome,
		}
		if run != "" {
			attrs[telemetry.AttrRun] = run
		}
		return attrKey(attrs)
	}
	requests := rcv.series("cxload.requests")
	var exported int
	for _, op := range doc.Operations {
		var attempts, s429, bin, bout, conns, wait float64
		for o, n := range op.Outcomes {
			k := key(op.Op, o)
			if got := sum(requests[k]); got != float64(n) {
				t.Errorf("cxload.requests{%s} = %v, want the document's %d", k, got, n)
			}
			exported++
			attempts += sum(rcv.series("cxload.attempts")[k])
			s429 += sum(rcv.series("cxload.status_429")[k])
			bin += sum(rcv.series("cxload.bytes.received")[k])
			bout += sum(rcv.series("cxload.bytes.sent")[k])
			conns += sum(rcv.series("cxload.connections")[k])
			wait += sum(rcv.series("cxload.retry.wait")[k])

			for _, hist := range []struct {
				name string
				doc  result.Histogram
				sum  float64
			}{
				{"cxload.request.latency", op.ByOutcome[o].Latency, in.latencySum[op.Op+"/"+o]},
				{"cxload.request.total", op.ByOutcome[o].Total, in.totalSum[op.Op+"/"+o]},
			} {
				m := rcv.series(hist.name)[k]
				if m.GetExponentialHistogram() == nil {
					t.Errorf("%s{%s}: got %v, want an exponential histogram", hist.name, k, m)
					continue
				}
				if m.GetUnit() != "s" {
					t.Errorf("%s unit = %q, want s", hist.name, m.GetUnit())
				}
				p := m.GetExponentialHistogram().GetDataPoints()[0]
				if int64(p.GetCount()) != hist.doc.Count() {
					t.Errorf("%s{%s} count = %d, want the document's %d", hist.name, k, p.GetCount(), hist.doc.Count())
				}
				if math.Abs(p.GetSum()-hist.sum) > 1e-9*hist.sum {
					t.Errorf("%s{%s} sum = %v s, want the recorded %v s", hist.name, k, p.GetSum(), hist.sum)
				}
				if docSum := hist.doc.Mean().Seconds() * float64(hist.doc.Count()); math.Abs(p.GetSum()-docSum) > 0.001*docSum {
					t.Errorf("%s{%s} sum = %v s, want within 0.1%% of the document's mean × count %v s", hist.name, k, p.GetSum(), docSum)
				}
				if p.GetScale() < 4 {
					t.Errorf("%s{%s} scale = %d, want ≥ 4 for values within telemetry.MaxSpan", hist.name, k, p.GetScale())
				}
				for _, pc := range []float64{50, 90, 99, 99.9, 100} {
					want := hist.doc.Percentile(pc).Seconds()
					got := quantile(p, pc)
					if math.Abs(got-want) > telemetry.QuantileError*want {
						t.Errorf("%s{%s} p%v = %v s, want within %.2f%% of the document's %v s", hist.name, k, pc, got, 100*telemetry.QuantileError, want)
					}
				}
			}
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"cxload.attempts", attempts, float64(op.Attempts)},
			{"cxload.status_429", s429, float64(op.Status429)},
			{"cxload.bytes.received", bin, float64(op.BytesIn)},
			{"cxload.bytes.sent", bout, float64(op.BytesOut)},
			{"cxload.connections", conns, float64(op.Connections)},
		} {
			if c.got != c.want {
				t.Errorf("%s of %s = %v, want the document's %v", c.name, op.Op, c.got, c.want)
			}
		}
		if want := op.RetryWaitMs / 1e3; math.Abs(wait-want) > 1e-9*want {
			t.Errorf("cxload.retry.wait of %s = %v s, want the document's %v s", op.Op, wait, want)
		}
	}
	if exported != len(requests) || exported == 0 {
		t.Errorf("receiver holds %d request series, the document %d operation/outcome pairs", len(requests), exported)
	}
}

// Unset, or switched off by OTEL_SDK_DISABLED or OTEL_METRICS_EXPORTER=none,
// nothing is built: FromEnv returns nil, no goroutine starts, a recorder
// given the nil exporter's Observer gets no observer, and nothing reaches
// the receiver.
func TestUnsetExportsNothing(t *testing.T) {
	rcv := newReceiver(t, nil)
	for _, tc := range []struct {
		name string
		env  env
	}{
		{"no variable", env{}},
		{"only other OTEL variables", env{telemetry.EnvHeaders: "a=b", telemetry.EnvInterval: "10", telemetry.EnvResource: "a=b"}},
		{"SDK disabled", env{telemetry.EnvEndpoint: rcv.URL, telemetry.EnvSDKDisabled: "true"}},
		{"metrics exporter none", env{telemetry.EnvMetricsEndpoint: rcv.URL + "/v1/metrics", telemetry.EnvMetricsExporter: "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			exp, err := telemetry.FromEnv(tc.env.get, func(string, ...any) { t.Error("logged") })
			if exp != nil || err != nil {
				t.Fatalf("FromEnv = %v, %v; want nil, nil", exp, err)
			}
			if obs := exp.Observer("TestX", "1/1"); obs != nil {
				t.Fatalf("nil exporter's Observer = %v, want nil", obs)
			}
			rec := metrics.NewRecorder(metrics.WithObserver(exp.Observer))
			rec.Record(&metrics.Result{Op: "a", Status: 200, Latency: time.Millisecond})
			exp.Close()
			if exp.Failed() != 0 {
				t.Fatal("nil exporter counted failures")
			}
			goleak.VerifyNone(t, before)
		})
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.requests != 0 {
		t.Errorf("receiver got %d exports, want none", rcv.requests)
	}
}

// An export the collector refuses does not fail the run: it is counted,
// the first is logged once without the header's secret (which the
// collector echoes in its answer), and Close says how many failed.
func TestExportFailureIsCountedAndLoggedWithoutSecrets(t *testing.T) {
	rcv := newReceiver(t, func(r *receiver) { r.status, r.echo = 401, "Authorization" })
	var lg logs
	exp, err := telemetry.FromEnv(env{
		telemetry.EnvMetricsEndpoint: rcv.URL + "/v1/metrics",
		telemetry.EnvMetricsHeaders:  "Authorization=Bearer%20" + secret,
		telemetry.EnvInterval:        "10",
	}.get, lg.logf)
	if err != nil {
		t.Fatal(err)
	}
	rec := metrics.NewRecorder(metrics.WithObserver(exp.Observer))
	rec.Record(&metrics.Result{Op: "a", Status: 200, Latency: time.Millisecond})
	for range 2 { // two periodic exports, both refused
		select {
		case <-rcv.exported:
		case <-time.After(10 * time.Second):
			t.Fatal("no export within 10 s at an interval of 10 ms")
		}
	}
	exp.Close()
	lines := lg.all()
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2 (the first failure, the count at Close):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[0], "401") || !strings.Contains(lines[0], "[redacted]") {
		t.Errorf("first line = %q, want the status and the echoed secret redacted", lines[0])
	}
	if n := exp.Failed(); n < 2 || !strings.Contains(lines[1], fmt.Sprintf("%d of ", n)) {
		t.Errorf("Failed() = %d, last line %q; want ≥ 2 failures, counted", n, lines[1])
	}
	for _, l := range lines {
		if strings.Contains(l, secret) {
			t.Errorf("a log line shows the header's secret: %q", l)
		}
	}
}

// A collector that cannot be reached delays nothing but Close, by at most
// the export timeout.
func TestUnreachableCollector(t *testing.T) {
	rcv := newReceiver(t, nil)
	url := rcv.URL
	rcv.Close() // nothing listens there now
	var lg logs
	exp, err := telemetry.FromEnv(env{telemetry.EnvEndpoint: url, telemetry.EnvTimeout: "2000", telemetry.EnvInterval: "3600000"}.get, lg.logf)
	if err != nil {
		t.Fatal(err)
	}
	rec := metrics.NewRecorder(metrics.WithObserver(exp.Observer))
	rec.Record(&metrics.Result{Op: "a", Status: 200, Latency: time.Millisecond})
	start := time.Now()
	exp.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v, want at most the 2 s export timeout", d)
	}
	if exp.Failed() != 1 || len(lg.all()) != 2 {
		t.Errorf("Failed() = %d, logged %q; want the last export's failure, logged and counted", exp.Failed(), lg.all())
	}
}

// Exports come every OTEL_METRIC_EXPORT_INTERVAL while the run goes on,
// and Close leaves no goroutine and no connection behind while the
// collector is still up.
func TestPeriodicExportAndClose(t *testing.T) {
	rcv := newReceiver(t, nil)
	before := goleak.IgnoreCurrent()
	exp, err := telemetry.FromEnv(env{telemetry.EnvEndpoint: rcv.URL + "/", telemetry.EnvInterval: "10"}.get, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := metrics.NewRecorder(metrics.WithScenario("TestPeriodic"), metrics.WithObserver(exp.Observer))
	for i := range 3 {
		rec.Record(&metrics.Result{Op: "a", Status: 200, Latency: time.Millisecond})
		select {
		case <-rcv.exported:
		case <-time.After(10 * time.Second):
			t.Fatalf("export %d did not come within 10 s at an interval of 10 ms", i+1)
		}
	}
	exp.Close()
	exp.Close() // again: nothing
	goleak.VerifyNone(t, before)
	m := rcv.series("cxload.requests")[attrKey(map[string]string{
		telemetry.AttrScenario: "TestPeriodic", telemetry.AttrShard: "1/1",
		telemetry.AttrOperation: "a", telemetry.AttrOutcome: "ok",
	})]
	if got := sum(m); got != 3 {
		t.Errorf("cxload.requests of an unsharded run = %v (series %v), want 3 with cxload.shard=1/1", got, rcv.series("cxload.requests"))
	}
	if m.GetSum().GetAggregationTemporality() != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
		t.Errorf("temporality = %v, want cumulative by default", m.GetSum().GetAggregationTemporality())
	}
}

// What cannot be honoured is refused, naming the variable and the fix, and
// never showing a header's value.
func TestFromEnvRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  env
		want []string
	}{
		{"gRPC", env{telemetry.EnvEndpoint: "http://127.0.0.1:4317", telemetry.EnvProtocol: "grpc"},
			[]string{`OTEL_EXPORTER_OTLP_PROTOCOL="grpc"`, "http/protobuf", "4318"}},
		{"no scheme", env{telemetry.EnvEndpoint: "127.0.0.1:4318"},
			[]string{`OTEL_EXPORTER_OTLP_ENDPOINT="127.0.0.1:4318"`, "http://"}},
		{"credentials in the URL are not shown", env{telemetry.EnvMetricsEndpoint: "ftp://user:" + secret + "@127.0.0.1/"},
			[]string{`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="ftp://127.0.0.1/"`}},
		{"interval", env{telemetry.EnvEndpoint: "http://127.0.0.1:4318", telemetry.EnvInterval: "5s"},
			[]string{`OTEL_METRIC_EXPORT_INTERVAL="5s"`, "milliseconds"}},
		{"header list", env{telemetry.EnvEndpoint: "http://127.0.0.1:4318", telemetry.EnvHeaders: "Authorization " + secret},
			[]string{"OTEL_EXPORTER_OTLP_HEADERS: entry 1 is not key=value", "not shown"}},
		{"header encoding", env{telemetry.EnvEndpoint: "http://127.0.0.1:4318", telemetry.EnvMetricsHeaders: "api-key=" + secret + "%zz"},
			[]string{"OTEL_EXPORTER_OTLP_METRICS_HEADERS", `key "api-key"`, "percent-encoded"}},
		{"timeout", env{telemetry.EnvEndpoint: "http://127.0.0.1:4318", telemetry.EnvMetricsTimeout: "0"},
			[]string{`OTEL_EXPORTER_OTLP_METRICS_TIMEOUT="0"`}},
		{"exporter", env{telemetry.EnvEndpoint: "http://127.0.0.1:4318", telemetry.EnvMetricsExporter: "prometheus"},
			[]string{`OTEL_METRICS_EXPORTER="prometheus"`, "otlp"}},
		{"temporality", env{telemetry.EnvEndpoint: "http://127.0.0.1:4318", telemetry.EnvTemporality: "sometimes"},
			[]string{`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="sometimes"`}},
		{"compression", env{telemetry.EnvEndpoint: "http://127.0.0.1:4318", telemetry.EnvCompression: "zstd"},
			[]string{`OTEL_EXPORTER_OTLP_COMPRESSION="zstd"`, "gzip"}},
		{"certificate", env{telemetry.EnvEndpoint: "https://127.0.0.1:4318", telemetry.EnvCertificate: "/nonexistent/ca.pem"},
			[]string{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"}},
		{"client key alone", env{telemetry.EnvEndpoint: "https://127.0.0.1:4318", telemetry.EnvClientKey: "/k.pem"},
			[]string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, err := telemetry.FromEnv(tc.env.get, nil)
			if err == nil {
				exp.Close()
				t.Fatalf("FromEnv accepted %v", tc.env)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the secret: %q", err)
			}
		})
	}
}

// BenchmarkObserve measures what the export adds to Recorder.Record.
func BenchmarkObserve(b *testing.B) {
	rcv := newReceiver(b, nil)
	exp, err := telemetry.FromEnv(env{telemetry.EnvEndpoint: rcv.URL, telemetry.EnvInterval: "3600000"}.get, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Close()
	for _, tc := range []struct {
		name string
		opts []metrics.Option
	}{
		{"without", nil},
		{"with", []metrics.Option{metrics.WithObserver(exp.Observer)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rec := metrics.NewRecorder(tc.opts...)
			res := &metrics.Result{Op: "presence.set", Status: 200, Latency: 12 * time.Millisecond, Attempts: 1, BytesIn: 300}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec.Record(res)
				}
			})
		})
	}
}
