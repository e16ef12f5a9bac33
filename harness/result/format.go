package result

import (
	"math"
	"strconv"
	"time"
)

// FormatDuration formats d rounded to a readable precision, as summaries and
// threshold details show it: 912ms, 1.234s, 450µs.
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond && d > -time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

func fmtPercent(f float64) string {
	return strconv.FormatFloat(roundSig(f*100, 3), 'f', -1, 64) + "%"
}

func fmtFloat(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

func roundSig(f float64, n int) float64 {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	p := math.Pow(10, float64(n)-math.Ceil(math.Log10(math.Abs(f))))
	return math.Round(f*p) / p
}
