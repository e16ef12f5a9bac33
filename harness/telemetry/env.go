package telemetry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The OpenTelemetry variables this package reads, as the OpenTelemetry
// specification names them. A signal-specific variable (…_METRICS_…) wins
// over the general one.
const (
	EnvEndpoint         = "OTEL_EXPORTER_OTLP_ENDPOINT"         // base URL; /v1/metrics is appended
	EnvMetricsEndpoint  = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" // full URL, used as is
	EnvHeaders          = "OTEL_EXPORTER_OTLP_HEADERS"          // key=value,… (values percent-encoded)
	EnvMetricsHeaders   = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
	EnvProtocol         = "OTEL_EXPORTER_OTLP_PROTOCOL" // only http/protobuf
	EnvMetricsProtocol  = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvTimeout          = "OTEL_EXPORTER_OTLP_TIMEOUT" // milliseconds per export
	EnvMetricsTimeout   = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
	EnvCompression      = "OTEL_EXPORTER_OTLP_COMPRESSION" // gzip or none
	EnvMetricsCompress  = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"
	EnvCertificate      = "OTEL_EXPORTER_OTLP_CERTIFICATE" // PEM file of the CA to trust
	EnvMetricsCert      = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"
	EnvClientCert       = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE" // PEM file, with EnvClientKey
	EnvMetricsClientCrt = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE"
	EnvClientKey        = "OTEL_EXPORTER_OTLP_CLIENT_KEY"
	EnvMetricsClientKey = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY"
	EnvTemporality      = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE" // cumulative (default), delta or lowmemory
	EnvInterval         = "OTEL_METRIC_EXPORT_INTERVAL"                       // milliseconds between exports
	EnvResource         = "OTEL_RESOURCE_ATTRIBUTES"                          // key=value,… on every metric
	EnvServiceName      = "OTEL_SERVICE_NAME"                                 // default DefaultServiceName
	EnvMetricsExporter  = "OTEL_METRICS_EXPORTER"                             // otlp (default) or none
	EnvSDKDisabled      = "OTEL_SDK_DISABLED"                                 // true: export nothing
)

// DefaultInterval is the time between exports when EnvInterval is unset:
// a few seconds, so that a dashboard follows a load run as it goes (the
// OpenTelemetry default, a minute, is most of a short run).
const DefaultInterval = 5 * time.Second

// DefaultTimeout bounds one export, and the final flush at Close, when
// EnvTimeout is unset (the OpenTelemetry default).
const DefaultTimeout = 10 * time.Second

// DefaultServiceName is the service.name resource attribute when
// EnvServiceName and EnvResource do not set one.
const DefaultServiceName = "cxload"

// config is what the environment asks for.
type config struct {
	url         string            // where to POST, with its path
	headers     map[string]string // secret: never printed
	timeout     time.Duration
	interval    time.Duration
	gzip        bool
	delta       string // "", "delta" or "lowmemory"
	tls         *tls.Config
	resource    [][2]string // key, value; later ones win
	serviceName string
}

// pick returns the signal-specific variable's value if set, else the general one's, and the name of the one it read.
func pick(getenv func(string) string, specific, general string) (val, name string) {
	if v := strings.TrimSpace(getenv(specific)); v != "" {
		return v, specific
	}
	return strings.TrimSpace(getenv(general)), general
}

// readConfig reads the environment. ok is false when nothing is to be
// exported: no endpoint is set, EnvSDKDisabled is true or
// EnvMetricsExporter is none. The errors name the variable and the fix, and
// never show a header's value.
func readConfig(getenv func(string) string) (cfg config, ok bool, err error) {
	if strings.EqualFold(strings.TrimSpace(getenv(EnvSDKDisabled)), "true") {
		return config{}, false, nil
	}
	var errs []error
	switch v := strings.TrimSpace(getenv(EnvMetricsExporter)); strings.ToLower(v) {
	case "none":
		return config{}, false, nil
	case "", "otlp":
	default:
		errs = append(errs, fmt.Errorf("%s=%q: cxload exports metrics over OTLP only: unset it or set otlp (or none to export nothing)", EnvMetricsExporter, v))
	}
	ep, epName := pick(getenv, EnvMetricsEndpoint, EnvEndpoint)
	if ep == "" {
		return config{}, false, errors.Join(errs...)
	}
	cfg = config{timeout: DefaultTimeout, interval: DefaultInterval, serviceName: DefaultServiceName}

	u, uerr := url.Parse(ep)
	switch {
	case uerr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		errs = append(errs, fmt.Errorf("%s=%q: not an http:// or https:// URL with a host, e.g. http://127.0.0.1:4318", epName, redactURL(ep)))
	case epName == EnvEndpoint:
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/metrics" // the specification's rule for the general variable
		cfg.url = u.String()
	default:
		cfg.url = u.String()
	}
	if v, name := pick(getenv, EnvMetricsProtocol, EnvProtocol); v != "" && v != "http/protobuf" {
		errs = append(errs, fmt.Errorf("%s=%q: cxload exports OTLP over HTTP with protobuf only: unset it or set http/protobuf, and point %s at the collector's OTLP/HTTP port (4318 by default)", name, v, epName))
	}
	if v, name := pick(getenv, EnvMetricsHeaders, EnvHeaders); v != "" {
		h, herr := parseList(v)
		if herr != nil {
			errs = append(errs, fmt.Errorf("%s: %w (values not shown: they may hold a secret)", name, herr))
		}
		cfg.headers = h
	}
	if v, name := pick(getenv, EnvMetricsTimeout, EnvTimeout); v != "" {
		d, derr := millis(v)
		if derr != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, derr))
		}
		cfg.timeout = d
	}
	if v := strings.TrimSpace(getenv(EnvInterval)); v != "" {
		d, derr := millis(v)
		if derr != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", EnvInterval, v, derr))
		}
		cfg.interval = d
	}
	switch v, name := pick(getenv, EnvMetricsCompress, EnvCompression); strings.ToLower(v) {
	case "", "none":
	case "gzip":
		cfg.gzip = true
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want gzip or none", name, v))
	}
	switch v := strings.TrimSpace(getenv(EnvTemporality)); strings.ToLower(v) {
	case "", "cumulative":
	case "delta", "lowmemory":
		cfg.delta = strings.ToLower(v)
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want cumulative, delta or lowmemory", EnvTemporality, v))
	}
	if t, terr := tlsConfig(getenv); terr != nil {
		errs = append(errs, terr)
	} else {
		cfg.tls = t
	}
	if v := strings.TrimSpace(getenv(EnvResource)); v != "" {
		kv, rerr := parseList(v)
		if rerr != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", EnvResource, v, rerr))
		}
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			cfg.resource = append(cfg.resource, [2]string{k, kv[k]})
		}
	}
	if v := strings.TrimSpace(getenv(EnvServiceName)); v != "" {
		cfg.serviceName = v
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, false, err
	}
	return cfg, true, nil
}

// millis parses a positive whole number of milliseconds.
func millis(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 || n > int64(24*time.Hour/time.Millisecond) {
		return 0, errors.New("want a whole number of milliseconds from 1 to 86400000, e.g. 5000")
	}
	return time.Duration(n) * time.Millisecond, nil
}

// parseList parses the specification's key=value list (W3C Baggage-like):
// entries separated by commas, values percent-encoded. Its errors say
// which entry is wrong but not what it holds.
func parseList(v string) (map[string]string, error) {
	out := map[string]string{}
	for i, entry := range strings.Split(v, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		k, val, ok := strings.Cut(entry, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return out, fmt.Errorf("entry %d is not key=value", i+1)
		}
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return out, fmt.Errorf("entry %d (key %q): the value is not percent-encoded correctly", i+1, k)
		}
		out[k] = dec
	}
	return out, nil
}

// tlsConfig loads the certificates the environment names, or returns nil.
func tlsConfig(getenv func(string) string) (*tls.Config, error) {
	ca, caName := pick(getenv, EnvMetricsCert, EnvCertificate)
	crt, crtName := pick(getenv, EnvMetricsClientCrt, EnvClientCert)
	key, keyName := pick(getenv, EnvMetricsClientKey, EnvClientKey)
	if ca == "" && crt == "" && key == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caName, err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s=%q: no PEM certificate in the file", caName, ca)
		}
	}
	if (crt == "") != (key == "") {
		return nil, fmt.Errorf("%s and %s go together: set both (a client certificate and its key) or neither", crtName, keyName)
	}
	if crt != "" {
		pair, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			return nil, fmt.Errorf("%s=%q, %s=%q: %w", crtName, crt, keyName, key, err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

// redactURL drops the user information and the query of a URL, where a
// credential may hide.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.ContainsAny(s, "@?#") {
			return "(not shown: it may hold a credential)"
		}
		return s
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
