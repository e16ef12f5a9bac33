package reports_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/reports"
)

// chromium finds the browser: $CHROMIUM, else chromium or
// chromium-browser on PATH (Debian's package "chromium"). In CI
// (CI=true) a missing browser fails the test; elsewhere it skips with the
// reason.
func chromium(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "headless Chromium not found (looked for $CHROMIUM, chromium, chromium-browser, google-chrome); install it: apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browse opens file in headless Chromium, runs check, collects console
// errors and exceptions, and saves a screenshot of the full page at the
// given viewport size to shot.
func browse(t *testing.T, file string, width, height int64, shot string, check func(ctx context.Context) error) []string {
	t.Helper()
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(width), int(height)),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()

	// Collect the console (console.error, uncaught exceptions, browser
	// log entries such as failed loads) while the page loads.
	var mu sync.Mutex
	var problems []string
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleLog, "info", "debug":
			default:
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, height),
		chromedp.Navigate("file://"+file),
		chromedp.WaitReady("body"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error { return check(ctx) }),
	)
	require.NoError(t, err, "driving Chromium (%s)", exe)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	require.NoError(t, err, "screenshot")
	tcancel()
	<-done
	require.NoError(t, os.WriteFile(shot, png, 0o644))
	t.Logf("screenshot: %s", shot)
	mu.Lock()
	defer mu.Unlock()
	return problems
}

// chartBox is what the page says about one chart.
type chartBox struct {
	ID     string  `json:"id"`
	W      float64 `json:"w"`
	H      float64 `json:"h"`
	Shapes int     `json:"shapes"`
}

// viewports are the widths and heights the report is checked at: a laptop
// and a phone.
var viewports = []struct {
	name          string
	width, height int64
}{{"laptop", 1280, 800}, {"phone", 390, 844}}

// screenshotDir is where the browser tests save their screenshots:
// $CXLOAD_SCREENSHOTS (CI uploads it as an artifact), else a temporary
// directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CXLOAD_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// pageFacts is what the page says about its charts and its width.
type pageFacts struct {
	charts      []chartBox
	pageW, docW float64
}

// checkPage opens file at each viewport and checks what holds for every
// report: no console errors, every chart an SVG of a non-zero size that
// draws something and fits the window, and no sideways scrolling of the
// page itself (tables scroll in their own boxes). It returns the charts
// seen at each viewport, by chart kind (the prefix of its id: lat, thr,
// bt, bs, st).
func checkPage(t *testing.T, file, name string) map[string]map[string]int {
	t.Helper()
	kinds := map[string]map[string]int{}
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			var f pageFacts
			problems := browse(t, file, vp.width, vp.height, filepath.Join(filepath.Dir(file), name+"-"+vp.name+".jpg"), func(ctx context.Context) error {
				var err error
				if f.charts, err = chromedp.Run(ctx, chromedp.Evaluate[[]chartBox](`[...document.querySelectorAll("figure")].map(f => {
					const s = f.querySelector("svg"); const r = s.getBoundingClientRect();
					return {id: f.id, w: r.width, h: r.height,
						shapes: s.querySelectorAll("polyline,rect,circle,line.range").length};
				})`)); err != nil {
					return err
				}
				if f.pageW, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`window.innerWidth`)); err != nil {
					return err
				}
				f.docW, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
				return err
			})
			require.Empty(t, problems, "console errors")
			counts := map[string]int{}
			for _, c := range f.charts {
				counts[strings.SplitN(c.ID, "-", 2)[0]]++
				if c.W <= 50 || c.H <= 30 {
					t.Errorf("chart %s renders at %gx%g px", c.ID, c.W, c.H)
				}
				if c.Shapes == 0 {
					t.Errorf("chart %s draws nothing", c.ID)
				}
				if c.W > float64(vp.width) {
					t.Errorf("chart %s is %g px wide in a %d px window", c.ID, c.W, vp.width)
				}
			}
			if f.docW > f.pageW+1 {
				t.Errorf("page is %g px wide in a %g px window", f.docW, f.pageW)
			}
			kinds[vp.name] = counts
		})
	}
	return kinds
}

// TestHTMLInBrowser renders the report of the real captures (with a short
// history for the trends) and opens it in headless Chromium at laptop and
// phone sizes (see checkPage): one latency chart per operation of every
// scenario, a requests-per-second chart per scenario, benchmark and
// scenario trends. Screenshots are saved (set CXLOAD_SCREENSHOTS=dir to
// keep them).
func TestHTMLInBrowser(t *testing.T) {
	dir := screenshotDir(t)
	run := readCapture(t, "scenario-new.json", "bench-new.json")
	var history []*reports.Run
	for i := 0; i < 6; i++ {
		files := []string{"scenario-old.json", "bench-old.json"}
		if i%3 == 2 {
			files = []string{"scenario-new.json", "bench-new.json"}
		}
		h := readCapture(t, files...)
		h.ID = fmt.Sprintf("hist-%d", i)
		h.Env.Start = run.Env.Start.Add(time.Duration(i-6) * 24 * time.Hour)
		history = append(history, h)
	}
	cmp := reports.Compare(history[len(history)-1:], run, reports.CompareOptions{})
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(run, cmp, history).HTML(&buf))
	file := filepath.Join(dir, "report.html")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))

	ops, scenarios := 0, 0
	for _, s := range run.Scenarios {
		if s.Doc != nil {
			scenarios++
			ops += len(s.Doc.Operations)
		}
	}
	for vp, counts := range checkPage(t, file, "report") {
		assert.Equal(t, ops, counts["lat"], "%s: latency charts, one per operation of each scenario", vp)
		assert.Equal(t, scenarios, counts["thr"], "%s: requests-per-second charts, one per scenario", vp)
		assert.Positive(t, counts["bt"], "%s: benchmark trends", vp)
		assert.Positive(t, counts["st"], "%s: scenario trends", vp)
	}
}

// TestHTMLBenchmarksOnlyInBrowser: the report of a single run with only
// benchmarks charts every benchmark and unit (its samples).
func TestHTMLBenchmarksOnlyInBrowser(t *testing.T) {
	dir := screenshotDir(t)
	run := readCapture(t, "bench-new.json")
	require.NotEmpty(t, run.Benchmarks)
	require.Empty(t, run.Scenarios)
	var buf bytes.Buffer
	require.NoError(t, reports.NewReport(run, nil, nil).HTML(&buf))
	file := filepath.Join(dir, "bench-only.html")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))
	for vp, counts := range checkPage(t, file, "bench-only") {
		assert.Equal(t, map[string]int{"bs": len(run.Benchmarks)}, counts, "%s: one chart per benchmark and unit", vp)
	}
}
