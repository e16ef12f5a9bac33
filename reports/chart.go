package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// chart is the geometry of one SVG chart, computed in Go and drawn by the
// "chart" template: the template only places what is here.
type chart struct {
	ID     string
	Title  string
	Note   string
	W, H   float64
	Left   float64
	Top    float64
	PlotW  float64
	PlotH  float64
	XTicks []tick
	YTicks []tick
	YLabel string
	Lines  []polyline
	Ranges []segment // vertical min-max spreads
	Dots   []dot
	Bars   []bar
	Marks  []mark // vertical markers: a limit's window resets, a change point
	Legend []legendItem
}

// mark is a vertical line across the plot, with an optional label at its
// top.
type mark struct {
	X, Y1, Y2 float64
	Class     string
	Label     string
	Title     string
}

type tick struct {
	Pos   float64 // in SVG coordinates
	Label string
}

type polyline struct {
	Class  string
	Points string
	Title  string
}

type segment struct {
	X, Y1, Y2 float64
	Class     string
	Title     string
}

type dot struct {
	X, Y  float64
	R     float64
	Class string
	Title string
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type legendItem struct {
	Class string
	Label string
}

// Chart layout, in SVG user units; the SVG scales to its container.
const (
	chartW      = 640
	chartH      = 260
	chartLeft   = 62
	chartRight  = 14
	chartTop    = 24
	chartBottom = 40
)

// Small multiples (one chart per operation) are narrower, so that two or
// three fit side by side on a laptop and their labels stay legible.
const (
	smallW = 340
	smallH = 220
)

func newChart(id, title string) *chart { return newChartSize(id, title, chartW, chartH) }

func newChartSize(id, title string, w, h float64) *chart {
	return &chart{
		ID: id, Title: title, W: w, H: h,
		Left: chartLeft, Top: chartTop,
		PlotW: w - chartLeft - chartRight,
		PlotH: h - chartTop - chartBottom,
	}
}

// markAt adds a vertical marker at data x.
func (c *chart) markAt(s scale, x float64, class, label, title string) {
	c.Marks = append(c.Marks, mark{X: s.X(x), Y1: c.Top, Y2: round2(c.Top + c.PlotH), Class: class, Label: label, Title: title})
}

// scale maps data to the plot area.
type scale struct {
	x0, x1, y0, y1 float64
	c              *chart
}

func (c *chart) scale(x0, x1, y0, y1 float64) scale {
	if x1 <= x0 {
		x1 = x0 + 1
	}
	if y1 <= y0 {
		y1 = y0 + 1
	}
	return scale{x0, x1, y0, y1, c}
}

func (s scale) X(x float64) float64 {
	return round2(s.c.Left + (x-s.x0)/(s.x1-s.x0)*s.c.PlotW)
}

func (s scale) Y(y float64) float64 {
	return round2(s.c.Top + s.c.PlotH - (y-s.y0)/(s.y1-s.y0)*s.c.PlotH)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// niceMax returns a round upper bound >= v and the tick step for about four
// intervals.
func niceMax(v float64) (max, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.25
	}
	raw := v / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	return math.Ceil(v/step-1e-9) * step, step
}

// yAxis sets linear y ticks from 0 to a nice max of maxV, formatted by f.
func (c *chart) yAxis(maxV float64, f func(float64) string) (top float64) {
	top, step := niceMax(maxV)
	s := c.scale(0, 1, 0, top)
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: s.Y(v), Label: f(v)})
	}
	return top
}

// points formats (x, y) pairs for a polyline.
func points(xs, ys []float64) string {
	var sb strings.Builder
	for i := range xs {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.FormatFloat(xs[i], 'f', -1, 64))
		sb.WriteByte(',')
		sb.WriteString(strconv.FormatFloat(ys[i], 'f', -1, 64))
	}
	return sb.String()
}

// shortNum formats an axis label: 0, 2.5, 1k, 1.5M, 0.002.
func shortNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1e9:
		return trimFloat(round3(v/1e9)) + "G"
	case a >= 1e6:
		return trimFloat(round3(v/1e6)) + "M"
	case a >= 1e4:
		return trimFloat(round3(v/1e3)) + "k"
	case a >= 1:
		return trimFloat(round3(v))
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// seriesClass returns the CSS class of the i-th series (s0..s5 cycle).
func seriesClass(i int) string { return "s" + strconv.Itoa(i%6) }

// xRunTicks puts at most about 8 labels on a run axis of n runs.
func (c *chart) xRunTicks(s scale, labels []string) {
	n := len(labels)
	if n == 0 {
		return
	}
	step := max(1, int(math.Ceil(float64(n)/8)))
	last := 0
	for i := 0; i < n; i += step {
		c.XTicks = append(c.XTicks, tick{Pos: s.X(float64(i)), Label: labels[i]})
		last = i
	}
	if last != n-1 {
		// The newest run is always labelled; it replaces a label too close
		// to it to be read.
		if n-1-last < (step+1)/2 && len(c.XTicks) > 1 {
			c.XTicks = c.XTicks[:len(c.XTicks)-1]
		}
		c.XTicks = append(c.XTicks, tick{Pos: s.X(float64(n - 1)), Label: labels[n-1]})
	}
}
