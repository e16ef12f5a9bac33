package telemetry

import (
	"testing"
	"time"
)

// The endpoint variables and their defaults, as the OpenTelemetry
// specification has them, but a few seconds between exports.
func TestReadConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		url      string
		interval time.Duration
		timeout  time.Duration
	}{
		// the general endpoint gets the signal's path
		{"general", map[string]string{EnvEndpoint: "http://127.0.0.1:4318"}, "http://127.0.0.1:4318/v1/metrics", DefaultInterval, DefaultTimeout},
		// a base path is kept, one slash between
		{"general with a path", map[string]string{EnvEndpoint: "https://otel.example/otlp/"}, "https://otel.example/otlp/v1/metrics", DefaultInterval, DefaultTimeout},
		// the signal's own endpoint is used as is and wins
		{"metrics endpoint", map[string]string{EnvEndpoint: "http://a:4318", EnvMetricsEndpoint: "http://b:4318/ingest"}, "http://b:4318/ingest", DefaultInterval, DefaultTimeout},
		// interval and timeouts in milliseconds; the signal's timeout wins
		{"interval and timeout", map[string]string{EnvEndpoint: "http://a:4318", EnvInterval: "15000", EnvTimeout: "3000", EnvMetricsTimeout: "2500"}, "http://a:4318/v1/metrics", 15 * time.Second, 2500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, ok, err := readConfig(func(k string) string { return tc.env[k] })
			if err != nil || !ok {
				t.Fatalf("readConfig = %v, %v", ok, err)
			}
			if cfg.url != tc.url || cfg.interval != tc.interval || cfg.timeout != tc.timeout || cfg.serviceName != DefaultServiceName {
				t.Errorf("readConfig = url %q, interval %v, timeout %v, service %q; want %q, %v, %v, %q",
					cfg.url, cfg.interval, cfg.timeout, cfg.serviceName, tc.url, tc.interval, tc.timeout, DefaultServiceName)
			}
		})
	}
}

// Header values are percent-decoded; the signal's list replaces the general one.
func TestReadConfigHeaders(t *testing.T) {
	cfg, _, err := readConfig(func(k string) string {
		return map[string]string{
			EnvEndpoint:       "http://a:4318",
			EnvHeaders:        "x-general=1",
			EnvMetricsHeaders: "api-key=a%2Cb%3Dc , x-team = cx",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.headers) != 2 || cfg.headers["api-key"] != "a,b=c" || cfg.headers["x-team"] != "cx" {
		t.Errorf("headers = %v, want api-key=a,b=c and x-team=cx only", cfg.headers)
	}
}
