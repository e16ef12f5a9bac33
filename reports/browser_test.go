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
// given viewport width to shot.
func browse(t *testing.T, file string, width int64, shot string, check func(ctx context.Context) error) []string {
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
		chromedp.WindowSize(int(width), 900),
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
		chromedp.EmulateViewport(width, 900),
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

// TestHTMLInBrowser renders the report of the real captures (with a short
// history for the trends) and opens it in headless Chromium: every chart
// must be an SVG with a non-zero size, with lines, bars or dots drawn, and
// the page must log no console errors. Screenshots at laptop and phone
// widths are saved (set CXLOAD_SCREENSHOTS=dir to keep them).
func TestHTMLInBrowser(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("CXLOAD_SCREENSHOTS"); d != "" {
		dir = d
	}
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

	for _, tc := range []struct {
		name  string
		width int64
	}{{"laptop", 1280}, {"phone", 390}} {
		t.Run(tc.name, func(t *testing.T) {
			var charts []chartBox
			var pageW, docW float64
			problems := browse(t, file, tc.width, filepath.Join(dir, "report-"+tc.name+".jpg"), func(ctx context.Context) error {
				var err error
				if charts, err = chromedp.Run(ctx, chromedp.Evaluate[[]chartBox](`[...document.querySelectorAll("figure")].map(f => {
					const s = f.querySelector("svg"); const r = s.getBoundingClientRect();
					return {id: f.id, w: r.width, h: r.height,
						shapes: s.querySelectorAll("polyline,rect,circle,line.range").length};
				})`)); err != nil {
					return err
				}
				if pageW, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`window.innerWidth`)); err != nil {
					return err
				}
				docW, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`))
				return err
			})
			require.Empty(t, problems, "console errors")
			require.GreaterOrEqual(t, len(charts), 8, "charts in the page")
			ids := map[string]bool{}
			for _, c := range charts {
				ids[strings.SplitN(c.ID, "-", 2)[0]] = true
				if c.W <= 50 || c.H <= 30 {
					t.Errorf("chart %s renders at %gx%g px", c.ID, c.W, c.H)
				}
				if c.Shapes == 0 {
					t.Errorf("chart %s draws nothing", c.ID)
				}
				if c.W > float64(tc.width) {
					t.Errorf("chart %s is %g px wide in a %d px window", c.ID, c.W, tc.width)
				}
			}
			for _, kind := range []string{"lat", "thr", "bt", "st"} {
				if !ids[kind] {
					t.Errorf("no %s chart", kind)
				}
			}
			// The page itself must not scroll sideways (tables scroll in
			// their own boxes).
			if docW > pageW+1 {
				t.Errorf("page is %g px wide in a %g px window", docW, pageW)
			}
		})
	}
}
