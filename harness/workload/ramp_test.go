package workload_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/workload"
)

func TestParseStages(t *testing.T) {
	k6 := []workload.Stage{{10 * time.Second, 50}, {30 * time.Second, 50}, {5 * time.Second, 0}}
	tests := []struct {
		name string
		in   string
		want []workload.Stage
	}{
		{"compact", "10s:50,30s:50,5s:0", k6},
		{"compact with spaces", " 10s : 50 , 30s:50, 5s:0 ", k6},
		{"k6 JSON", `[{"duration":"10s","target":50},{"duration":"30s","target":50},{"duration":"5s","target":0}]`, k6},
		{"fractions and minutes", "1m30s:2.5,500ms:0", []workload.Stage{{90 * time.Second, 2.5}, {500 * time.Millisecond, 0}}},
		{"jump", "0s:100", []workload.Stage{{0, 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := workload.ParseStages(tt.in)
			if err != nil {
				t.Fatalf("ParseStages(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseStages(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseStagesErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // every one must appear in the error
	}{
		{"empty", "", []string{"empty", `"10s:50,30s:50,5s:0"`}},
		{"no colon", "10s:50,30s", []string{"item 2", `"30s"`, `"duration:target"`}},
		{"bad duration", "10x:50", []string{"item 1", `duration "10x"`, `like "30s"`}},
		{"negative duration", "-1s:5", []string{"item 1", `duration "-1s"`}},
		{"bad target", "10s:many", []string{"item 1", `target "many"`, "number ≥ 0"}},
		{"negative target", "10s:-5", []string{`target "-5"`}},
		{"JSON syntax", `[{"duration":"10s",}]`, []string{"JSON array"}},
		{"JSON number duration", `[{"duration":10,"target":5}]`, []string{"stages[0].duration", `string like "30s"`}},
		{"JSON missing target", `[{"duration":"10s"},{"duration":"5s"}]`, []string{"stages[0].target: missing"}},
		{"JSON bad duration", `[{"duration":"10s","target":1},{"duration":"ten","target":1}]`, []string{"stages[1].duration", `"ten"`}},
		{"JSON unknown field", `[{"duration":"10s","target":1,"rate":3}]`, []string{"stages[0]", `unknown field "rate"`}},
		{"JSON negative target", `[{"duration":"10s","target":-1}]`, []string{"stages[0].target", "-1"}},
		{"JSON empty", `[]`, []string{"empty array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := workload.ParseStages(tt.in)
			if err == nil {
				t.Fatalf("ParseStages(%q) = nil error, want one", tt.in)
			}
			if !strings.HasPrefix(err.Error(), "workload: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseStages(%q) error %q, want it to contain %q", tt.in, err, w)
				}
			}
		})
	}
}

func TestRampValue(t *testing.T) {
	r := workload.Ramp{Start: 0, Stages: []workload.Stage{{10 * time.Second, 10}, {10 * time.Second, 10}, {0, 4}, {10 * time.Second, 0}}}
	tests := []struct {
		t    time.Duration
		want float64
	}{
		{0, 0}, {5 * time.Second, 5}, {10 * time.Second, 10}, {15 * time.Second, 10},
		{20 * time.Second, 4}, {25 * time.Second, 2}, {30 * time.Second, 0}, {time.Hour, 0},
	}
	for _, tt := range tests {
		if got := r.Value(tt.t); got != tt.want {
			t.Errorf("Value(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
	if got, want := r.Duration(), 30*time.Second; got != want {
		t.Errorf("Duration() = %v, want %v", got, want)
	}
	if got := (workload.Ramp{Start: 3}).Value(time.Hour); got != 3 {
		t.Errorf("ramp without stages: Value = %v, want its start 3", got)
	}
}

func TestRampAbove(t *testing.T) {
	s := time.Second
	// 0 → 10 over 10 s, hold 10 s, down to 0 over 10 s, then a jump to 5 held 10 s.
	r := workload.Ramp{Stages: []workload.Stage{{10 * s, 10}, {10 * s, 10}, {10 * s, 0}, {0, 5}, {10 * s, 5}}}
	tests := []struct {
		name      string
		level     float64
		from      time.Duration
		wantStart time.Duration
		wantEnd   time.Duration
		wantOK    bool
	}{
		{"agent 0 (level 1): from 1s to 29s", 1, 0, 1 * s, 29 * s, true},
		{"agent 9 (level 10): the hold", 10, 0, 10 * s, 20 * s, true},
		{"from inside the interval", 10, 15 * s, 15 * s, 20 * s, true},
		{"agent 0 again after the jump", 1, 29 * s, 30 * s, 40 * s, true},
		{"agent 5 (level 6): never after the down ramp", 6, 30 * s, 0, 0, false},
		{"level above the maximum", 11, 0, 0, 0, false},
		{"level 0 is always met", 0, 0, 0, 40 * s, true},
		{"from after the end", 1, time.Hour, 0, 0, false},
		{"agent 4 (level 5): up, down, and the jump kept separate", 5, 0, 5 * s, 25 * s, true},
		{"agent 4 after the first interval", 5, 25 * s, 30 * s, 40 * s, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end, ok := r.Above(tt.level, tt.from)
			if start != tt.wantStart || end != tt.wantEnd || ok != tt.wantOK {
				t.Errorf("Above(%v, %v) = (%v, %v, %v), want (%v, %v, %v)", tt.level, tt.from, start, end, ok, tt.wantStart, tt.wantEnd, tt.wantOK)
			}
		})
	}
}
