package result_test

import (
	"testing"

	"github.com/cxload/cxload/harness/result"
)

func TestOutcomeString(t *testing.T) {
	tests := []struct {
		o    result.Outcome
		want string
	}{
		{result.OK, "ok"},
		{result.HTTPError, "http_error"},
		{result.Throttled, "throttled"},
		{result.ServerError, "server_error"},
		{result.TransportError, "transport_error"},
		{result.Canceled, "canceled"},
		{result.Outcome(42), "outcome(42)"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("Outcome(%d).String() = %q, want %q", tt.o, got, tt.want)
		}
	}
}

func TestOutcomeFor(t *testing.T) {
	tests := []struct {
		status int
		want   result.Outcome
	}{
		{0, result.TransportError}, {200, result.OK}, {204, result.OK}, {304, result.OK},
		{400, result.HTTPError}, {404, result.HTTPError}, {429, result.Throttled},
		{500, result.ServerError}, {503, result.ServerError},
	}
	for _, tt := range tests {
		if got := result.OutcomeFor(tt.status); got != tt.want {
			t.Errorf("OutcomeFor(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
}
