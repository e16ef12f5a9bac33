// Package telemetry exports a run's figures live as OpenTelemetry metrics
// over OTLP/HTTP (protobuf), to the collector or backend that the standard
// OTEL_* variables name, so that a long run can be watched in the
// dashboards a team already uses while its result documents are written as
// usual.
//
// Nothing happens unless OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set: FromEnv then returns a nil
// *Exporter, builds no exporter and starts no goroutine, and a nil
// Exporter's methods do nothing.
//
//	exp, err := telemetry.FromEnv(os.Getenv, log.Printf)
//	if err != nil {
//		return err // names the variable and the fix
//	}
//	defer exp.Close() // the last export, bounded by the export timeout
//	rec := metrics.NewRecorder(metrics.WithScenario("nightly"), metrics.WithObserver(exp.Observer))
//
// # What is exported
//
// Every result a Recorder records adds to these instruments, each with the
// attributes cxload.scenario, cxload.operation, cxload.outcome and
// cxload.shard ("i/n", "1/1" for an unsharded run), the names and classes
// of the result document, and cxload.run, the run's id, when it is known
// (ObserverFor):
//
//	cxload.requests            counter    requests (the document's outcome counts)
//	cxload.request.latency     histogram  s, service time of the last attempt ("latency")
//	cxload.request.total       histogram  s, from the intended send time, retries and waits included ("total")
//	cxload.attempts            counter    attempts sent to the server
//	cxload.status_429          counter    responses with status 429
//	cxload.bytes.received      counter    By, response bodies
//	cxload.bytes.sent          counter    By, request bodies
//	cxload.connections         counter    connections opened
//	cxload.retry.wait          counter    s, waited before retries
//
// The histograms are base-2 exponential histograms of at most MaxBuckets
// buckets, which a backend merges across shards and over time without
// loss. Latencies are recorded as the result document records them: whole
// microseconds, at most an hour; so counts and sums equal the document's,
// and a quantile read from a bucket is within QuantileError of the
// document's HdrHistogram figure while the recorded values span at most
// MaxSpan.
//
// The resource carries service.name (OTEL_SERVICE_NAME, else
// DefaultServiceName) and OTEL_RESOURCE_ATTRIBUTES.
//
// # When exporting fails
//
// A failed export does not fail the run and is not retried: the next one,
// DefaultInterval later, carries the cumulative figures again (with delta
// temporality, the failed interval's figures are lost). The first failure
// is logged once, without header values (OTEL_EXPORTER_OTLP_HEADERS may
// hold an API key); Close logs how many failed.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cxload/cxload/harness/metrics"
	"github.com/cxload/cxload/harness/result"
	"github.com/cxload/cxload/harness/shard"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// MaxBuckets is the most buckets an exported histogram holds; the SDK
// picks the finest scale at which the recorded values fit in them.
const MaxBuckets = 320

// MaxSpan is the widest ratio of largest to smallest recorded latency at
// which a histogram keeps scale 4 or finer (16 buckets per doubling):
// 2^20, e.g. 1 ms to 17 min. Beyond it the scale coarsens and
// QuantileError doubles for each further factor of 2^20.
const MaxSpan = 1 << 20

// QuantileError bounds the relative difference between a quantile read
// from an exported histogram's bucket (its upper bound) and the result
// document's HdrHistogram figure, while the values span at most MaxSpan:
// a bucket at scale 4 is 2^(1/16) ≈ 4.4% wide, and the document's figure
// is within 0.1% of the recorded value.
var QuantileError = math.Exp2(1.0/16) - 1 + 0.001

// Attribute keys of every exported figure.
const (
	AttrScenario  = "cxload.scenario"
	AttrOperation = "cxload.operation"
	AttrOutcome   = "cxload.outcome"
	AttrShard     = "cxload.shard"
	// AttrRun is the run's id (the result document's run): on every
	// series rather than on the resource, so that a dashboard filters by
	// it as by any other label.
	AttrRun = "cxload.run"
)

// An Exporter exports what its observers see every few seconds, and once
// more at Close. A nil *Exporter is valid and does nothing. It is safe for
// concurrent use.
type Exporter struct {
	mp      *sdkmetric.MeterProvider
	hc      *http.Client
	exp     *countingExporter
	timeout time.Duration
	logf    func(format string, args ...any)
	in      instruments
	once    sync.Once
}

type instruments struct {
	requests, attempts, status429, bytesIn, bytesOut, conns metric.Int64Counter
	latency, total                                          metric.Float64Histogram
	retryWait                                               metric.Float64Counter
}

// FromEnv returns an Exporter configured by the OTEL_* variables as getenv
// (usually os.Getenv) reads them, or nil when none of the endpoint
// variables is set, OTEL_SDK_DISABLED is true or OTEL_METRICS_EXPORTER is
// none. It refuses what it cannot honour (another protocol than
// http/protobuf, a malformed header list or interval, a certificate that
// does not load) with an error naming the variable and the fix. logf
// (log.Printf if nil) receives the first export failure and, at Close, a
// count of failures.
func FromEnv(getenv func(string) string, logf func(format string, args ...any)) (*Exporter, error) {
	cfg, ok, err := readConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OpenTelemetry configuration refused:\n%w", err)
	}
	if !ok {
		return nil, nil
	}
	if logf == nil {
		logf = log.Printf
	}
	return newExporter(cfg, logf)
}

func newExporter(cfg config, logf func(format string, args ...any)) (*Exporter, error) {
	// Our own transport, so that Close can close its idle connections: the
	// exporter's default one is shared and keeps them for 90 s.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.tls
	hc := &http.Client{Transport: tr, Timeout: cfg.timeout}
	opts := []otlpmetrichttp.Option{
		otlpmetrichttp.WithEndpointURL(cfg.url),
		otlpmetrichttp.WithHTTPClient(hc),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
		otlpmetrichttp.WithTemporalitySelector(temporality(cfg.delta)),
		otlpmetrichttp.WithHeaders(cfg.headers), // even if none: the SDK would read the process environment's
	}
	compression := otlpmetrichttp.NoCompression
	if cfg.gzip {
		compression = otlpmetrichttp.GzipCompression
	}
	opts = append(opts, otlpmetrichttp.WithCompression(compression))
	inner, err := otlpmetrichttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %s", redact(err.Error(), cfg.headers))
	}
	ce := &countingExporter{Exporter: inner, url: redactURL(cfg.url), headers: cfg.headers, logf: logf}

	attrs := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	for _, kv := range cfg.resource {
		attrs = append(attrs, attribute.String(kv[0], kv[1]))
	}
	attrs = append(attrs, attribute.String("service.name", cfg.serviceName))
	res, err := resource.New(context.Background(), resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: MaxBuckets, MaxScale: 20}},
		)),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(ce,
			sdkmetric.WithInterval(cfg.interval), sdkmetric.WithTimeout(cfg.timeout))),
	)
	e := &Exporter{mp: mp, hc: hc, exp: ce, timeout: cfg.timeout, logf: logf}
	if err := e.in.create(mp.Meter("github.com/cxload/cxload/harness/telemetry")); err != nil {
		_ = mp.Shutdown(context.Background())
		hc.CloseIdleConnections()
		return nil, fmt.Errorf("telemetry: instruments: %w", err)
	}
	return e, nil
}

func temporality(pref string) sdkmetric.TemporalitySelector {
	switch pref {
	case "delta":
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindUpDownCounter, sdkmetric.InstrumentKindObservableUpDownCounter:
				return metricdata.CumulativeTemporality
			}
			return metricdata.DeltaTemporality
		}
	case "lowmemory":
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	}
	return sdkmetric.DefaultTemporalitySelector
}

func (in *instruments) create(m metric.Meter) error {
	var errs [9]error
	in.requests, errs[0] = m.Int64Counter("cxload.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests, by the outcome of their final response."))
	in.latency, errs[1] = m.Float64Histogram("cxload.request.latency", metric.WithUnit("s"),
		metric.WithDescription("Service time of the last attempt."))
	in.total, errs[2] = m.Float64Histogram("cxload.request.total", metric.WithUnit("s"),
		metric.WithDescription("Time from the intended send to completion, retries and waits included (corrected for coordinated omission)."))
	in.attempts, errs[3] = m.Int64Counter("cxload.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts sent to the server, retries included."))
	in.status429, errs[4] = m.Int64Counter("cxload.status_429", metric.WithUnit("{response}"),
		metric.WithDescription("Final responses with status 429."))
	in.bytesIn, errs[5] = m.Int64Counter("cxload.bytes.received", metric.WithUnit("By"),
		metric.WithDescription("Response body bytes."))
	in.bytesOut, errs[6] = m.Int64Counter("cxload.bytes.sent", metric.WithUnit("By"),
		metric.WithDescription("Request body bytes."))
	in.conns, errs[7] = m.Int64Counter("cxload.connections", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections opened."))
	in.retryWait, errs[8] = m.Float64Counter("cxload.retry.wait", metric.WithUnit("s"),
		metric.WithDescription("Time waited before retries."))
	return errors.Join(errs[:]...)
}

// Observer returns the metrics.Observer of a recorder of scenario and
// shard (as metrics.WithObserver passes them; "" is "1/1"), or nil for a
// nil Exporter. Its method value is what metrics.WithObserver takes.
// Its figures carry no run id: see ObserverFor.
func (e *Exporter) Observer(scenario, shardName string) metrics.Observer {
	return e.ObserverFor("")(scenario, shardName)
}

// ObserverFor is Observer for the recorders of run id run (metrics.WithRun,
// CXLOAD_RUN_ID): their figures also carry cxload.run, unless run is "".
//
//	metrics.WithRun(id), metrics.WithObserver(exp.ObserverFor(id))
func (e *Exporter) ObserverFor(run string) func(scenario, shard string) metrics.Observer {
	return func(scenario, shardName string) metrics.Observer {
		if e == nil {
			return nil
		}
		sh, err := shard.Parse(shardName)
		if err == nil {
			shardName = sh.String()
		}
		return &observer{in: &e.in, scenario: scenario, shard: shardName, run: run}
	}
}

// Failed returns how many exports have failed so far.
func (e *Exporter) Failed() int64 {
	if e == nil {
		return 0
	}
	return e.exp.failed.Load()
}

// Close exports what was recorded since the last export, waiting at most
// the export timeout (OTEL_EXPORTER_OTLP_TIMEOUT, DefaultTimeout), stops
// the exporter's goroutine and closes its connections. A failure is
// logged, never returned: telemetry does not fail a run. Calling it again
// does nothing.
func (e *Exporter) Close() {
	if e == nil {
		return
	}
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		defer cancel()
		if err := e.mp.Shutdown(ctx); err != nil {
			e.exp.fail(err)
		}
		e.hc.CloseIdleConnections()
		if n := e.exp.failed.Load(); n > 0 {
			e.logf("cxload telemetry: %d of %d exports to %s failed", n, e.exp.exports.Load(), e.exp.url)
		}
	})
}

// countingExporter counts failed exports and logs the first one, then
// reports success to the SDK, which would otherwise hand every failure to
// OpenTelemetry's global error handler (and a log line each).
type countingExporter struct {
	sdkmetric.Exporter
	url             string
	headers         map[string]string
	logf            func(format string, args ...any)
	exports, failed atomic.Int64
}

func (c *countingExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	c.exports.Add(1)
	if err := c.Exporter.Export(ctx, rm); err != nil {
		c.fail(err)
	}
	return nil
}

func (c *countingExporter) fail(err error) {
	if c.failed.Add(1) == 1 {
		c.logf("cxload telemetry: export to %s failed (the run goes on; further failures are only counted): %s",
			c.url, redact(err.Error(), c.headers))
	}
}

// maxErrLen bounds a logged error: a failed export's error carries the
// collector's response body.
const maxErrLen = 300

// redact removes the header values from msg and shortens it.
func redact(msg string, headers map[string]string) string {
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		if v := headers[k]; v != "" {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	if len(msg) > maxErrLen {
		msg = strings.ToValidUTF8(msg[:maxErrLen], "") + "…"
	}
	return msg
}

// observer adds each result to the instruments under its scenario, shard,
// run, operation and outcome.
type observer struct {
	in                   *instruments
	scenario, shard, run string
	sets                 sync.Map // opOutcome → *options
}

type opOutcome struct {
	op      string
	outcome result.Outcome
}

// options are one series' attributes as the instruments take them, made
// once so that recording does not allocate.
type options struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func (o *observer) options(op string, out result.Outcome) *options {
	k := opOutcome{op, out}
	if v, ok := o.sets.Load(k); ok {
		return v.(*options)
	}
	attrs := []attribute.KeyValue{
		attribute.String(AttrScenario, o.scenario),
		attribute.String(AttrOperation, op),
		attribute.String(AttrOutcome, out.String()),
		attribute.String(AttrShard, o.shard),
	}
	if o.run != "" {
		attrs = append(attrs, attribute.String(AttrRun, o.run))
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	v, _ := o.sets.LoadOrStore(k, &options{add: []metric.AddOption{set}, record: []metric.RecordOption{set}})
	return v.(*options)
}

// seconds is d as the result document records it (whole microseconds, at
// most an hour), in seconds.
func seconds(d time.Duration) float64 { return float64(result.Micros(d)) / 1e6 }

func (o *observer) Observe(op string, out result.Outcome, res *metrics.Result) {
	ctx := context.Background()
	opt := o.options(op, out)
	total := res.Total
	if total <= 0 {
		total = res.Latency
	}
	o.in.requests.Add(ctx, 1, opt.add...)
	o.in.latency.Record(ctx, seconds(res.Latency), opt.record...)
	o.in.total.Record(ctx, seconds(total), opt.record...)
	if res.Attempts > 0 {
		o.in.attempts.Add(ctx, int64(res.Attempts), opt.add...)
	}
	if res.Status == 429 {
		o.in.status429.Add(ctx, 1, opt.add...)
	}
	if res.BytesIn > 0 {
		o.in.bytesIn.Add(ctx, res.BytesIn, opt.add...)
	}
	if res.BytesOut > 0 {
		o.in.bytesOut.Add(ctx, res.BytesOut, opt.add...)
	}
	if res.Connect > 0 {
		o.in.conns.Add(ctx, 1, opt.add...)
	}
	if res.RetryWait > 0 {
		o.in.retryWait.Add(ctx, res.RetryWait.Seconds(), opt.add...)
	}
}
