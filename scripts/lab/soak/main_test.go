package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain also lets this test binary be the simulator child process:
// soak starts os.Executable() with -serve-sim.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve-sim" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(2)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestLinearFit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		xs, ys      []float64
		slope, mean float64
	}{
		{"flat", []float64{0, 1, 2, 3}, []float64{5, 5, 5, 5}, 0, 5},
		{"rising", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, 4},
		{"falling with noise", []float64{0, 1, 2, 3, 4}, []float64{10, 9.5, 8, 7.5, 6}, -1, 8.2},
		{"one x", []float64{2, 2}, []float64{1, 3}, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slope, mean := linearFit(tc.xs, tc.ys)
			if math.Abs(slope-tc.slope) > 1e-9 || math.Abs(mean-tc.mean) > 1e-9 {
				t.Errorf("linearFit = %v, %v; want %v, %v", slope, mean, tc.slope, tc.mean)
			}
		})
	}
}

// samplesOf builds one sample per minute with the given live heap (MiB) and
// goroutines.
func samplesOf(heapMiB []float64, goroutines []int) []sample {
	out := make([]sample, len(heapMiB))
	for i := range heapMiB {
		out[i] = sample{at: time.Duration(i) * time.Minute, goroutines: goroutines[i],
			heapLive: uint64(heapMiB[i] * (1 << 20)), heapInuse: uint64(heapMiB[i] * 1.5 * (1 << 20)),
			rss: 100 << 20, simRSS: 50 << 20}
	}
	return out
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name    string
		heap    []float64
		gor     []int
		warmup  time.Duration
		ok      bool
		growing string
	}{
		{"flat with noise", []float64{30, 31, 30, 29.5, 30.5, 30}, []int{6000, 6010, 5990, 6000, 6005, 6000}, 0, true, ""},
		{"warm-up step excluded", []float64{10, 20, 30, 30.2, 29.9, 30.1}, []int{100, 6000, 6000, 6000, 6000, 6000}, 2 * time.Minute, true, ""},
		{"heap leak", []float64{30, 31, 32, 33, 34, 35}, []int{6000, 6000, 6000, 6000, 6000, 6000}, 0, false, "heap"}, // live and in use
		{"goroutine leak", []float64{30, 30, 30, 30, 30, 30}, []int{6000, 6020, 6040, 6060, 6080, 6100}, 0, false, "goroutines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verdict(samplesOf(tc.heap, tc.gor), tc.warmup)
			if v.ok != tc.ok {
				t.Errorf("ok = %v, want %v\n%s", v.ok, tc.ok, v.text)
			}
			if tc.growing != "" && !strings.Contains(v.text, tc.growing) {
				t.Errorf("verdict does not name %q:\n%s", tc.growing, v.text)
			}
			for _, line := range strings.Split(v.text, "\n") {
				if strings.Contains(line, "GROWING") && (tc.growing == "" || !strings.Contains(line, tc.growing)) {
					t.Errorf("unexpected GROWING line: %s", line)
				}
			}
		})
	}
	if v := verdict(samplesOf([]float64{1, 2}, []int{1, 2}), 0); v.ok || !strings.Contains(v.text, "too few samples") {
		t.Errorf("two samples: %v\n%s", v.ok, v.text)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" = valid
	}{
		{nil, ""},
		{[]string{"-agents", "0"}, "-agents 0: want 1..100000"},
		{[]string{"-duration", "1m", "-warmup", "2m"}, "-warmup 2m0s: want 0 <= warmup < -duration"},
		{[]string{"-interval", "10ms", "-rate", "-1", "-storm", "1s"}, "-interval 10ms: want at least 1s; -rate -1: want 0..1000 requests per second; -storm 1s: want 0 (none) or at least 10s"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		_, err := parseFlags(tc.args, &bytes.Buffer{})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("parseFlags(%q) = %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "soak: ")):
			t.Errorf("parseFlags(%q) = %v; want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestSoakShort runs the whole command briefly: a simulator child process,
// 20 agents with channels, a storm in the warm-up, samples and a verdict.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulator process and holds sockets for a few seconds")
	}
	var out bytes.Buffer
	err := run(t.Context(), []string{"-agents", "20", "-duration", "6s", "-interval", "1s", "-warmup", "3s", "-storm", "10s", "-rate", "10", "-heartbeat", "1s"}, &out, &out)
	if err != nil && !errors.Is(err, errNotFlat) {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"20 channels open", "goroutines", "soak: storms sent: 1", "20 switchovers", "soak: verdict"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if errors.Is(err, errNotFlat) {
		t.Logf("a 6-second soak is too short to judge flatness; the output:\n%s", text)
	}
}
