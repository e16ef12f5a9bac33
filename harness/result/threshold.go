package result

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ThresholdForms lists the accepted threshold forms; parse errors quote it.
const ThresholdForms = `p99(op, service) < 800ms, p99.9(op, ok, service) <= 1s, p99(op, total) < 2s, avg(op, service) < 50ms, max(op, total) < 5s, ` +
	`rate(429) < 1%, rate(errors, op) < 0.5%, count(transport errors) == 0, count(requests, op) >= 1000, ` +
	`rps(op) >= 100, rejected(token.rate.per.minute) == 0, max_heartbeat_gap < 45s, ws_lost == 0`

// Threshold is a parsed threshold expression, like k6's thresholds, to check
// against a Document. Build one with ParseThreshold or MustParseThreshold.
//
// The forms (op is an operation name; omitted or "*" means all operations):
//
//	pN(op, figure[, outcome])   latency percentile, N in (0,100], e.g. p50, p99, p99.9;
//	                     figure: "service" (the answering attempt's service time) or
//	                     "total" (from the intended send: limiter waits, retries and
//	                     Retry-After included); outcome (ok, throttled, ...) looks only at it
//	avg(op, figure[, outcome]), min(...), max(...)   likewise
//
//	rate(what[, op])     fraction of op's requests that were what, e.g. 1% or 0.01
//	count(what[, op])    number of op's requests that were what
//	rps(op)              requests per second over the document's Start..End (End = when
//	                     Snapshot ran: take the snapshot when the load ends)
//	rejected(key[, src]) requests rejected by rate-limit bucket key (src: server or client-side)
//	max_heartbeat_gap    largest gap between notification heartbeats (a duration)
//	ws_lost, ws_drops, ws_reconnects, ws_events   notification counters
//
// what is one of: requests, ok, 429 (status 429), throttled (429 or
// client-side refusals), errors (http_error + server_error + transport_error),
// http_error, server_error (or 5xx), transport_error, canceled; plurals and
// spaces are accepted ("transport errors"). Comparisons: < <= > >= == !=.
//
// A latency expression that names no figure (the older form "p99(op)")
// still parses and judges the service time; Eval records it with the
// figure named, so that every verdict says which figure it judged.
type Threshold struct {
	Expr string // the expression as written

	kind    string // "pct", "avg", "min", "max", "rate", "count", "rps", "ws"
	pct     float64
	op      string // "" = all operations
	outcome string // latency filter, "" = all outcomes
	total   bool
	named   string // Expr with the latency figure named
	what    string
	cmp     string
	value   float64 // ns for durations, fraction for rates
	isDur   bool
}

var whatNames = map[string]string{
	"request": "requests", "requests": "requests", "ok": "ok",
	"429": "429", "429s": "429", "status_429": "429",
	"throttled": "throttled", "throttle": "throttled",
	"error": "errors", "errors": "errors",
	"http_error": "http_error", "http_errors": "http_error", "4xx": "http_error",
	"server_error": "server_error", "server_errors": "server_error", "5xx": "server_error",
	"transport_error": "transport_error", "transport_errors": "transport_error",
	"canceled": "canceled", "cancelled": "canceled",
}

var outcomeByName = map[string]Outcome{}

func init() {
	for o := Outcome(0); o < NumOutcomes; o++ {
		outcomeByName[o.String()] = o
	}
}

func normWord(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Join(strings.Fields(s), "_")
	return strings.ReplaceAll(s, "-", "_")
}

type parseError struct {
	expr string
	col  int
	msg  string
}

func (e *parseError) Error() string {
	return fmt.Sprintf("result: threshold %q: column %d: %s (forms: %s)", e.expr, e.col, e.msg, ThresholdForms)
}

// ParseThreshold parses a threshold expression such as
// "p99(presence.set) < 800ms" (see Threshold for the forms). An error names
// the column where the expression goes wrong and the forms it accepts.
func ParseThreshold(expr string) (Threshold, error) {
	th := Threshold{Expr: strings.TrimSpace(expr)}
	fail := func(pos int, format string, args ...any) (Threshold, error) {
		return Threshold{}, &parseError{expr: expr, col: pos + 1, msg: fmt.Sprintf(format, args...)}
	}
	// Split at the comparison operator, outside parentheses.
	depth, opAt, opLen := 0, -1, 0
	for i := 0; i < len(expr) && opAt < 0; i++ {
		switch c := expr[i]; c {
		case '(':
			depth++
		case ')':
			depth--
		case '<', '>', '=', '!':
			if depth != 0 {
				continue
			}
			opAt, opLen = i, 1
			if i+1 < len(expr) && expr[i+1] == '=' {
				opLen = 2
			}
		}
	}
	if opAt < 0 {
		return fail(len(expr), "no comparison: want one of < <= > >= == != followed by a value")
	}
	th.cmp = expr[opAt : opAt+opLen]
	switch th.cmp {
	case "<", "<=", ">", ">=", "==", "!=":
	default:
		return fail(opAt, "comparison %q is not one of < <= > >= == !=", th.cmp)
	}
	lhs := expr[:opAt]
	lhsStart := len(lhs) - len(strings.TrimLeft(lhs, " \t"))
	lhs = strings.TrimSpace(lhs)
	if lhs == "" {
		return fail(0, "no metric before %q", th.cmp)
	}
	name, args := lhs, []string(nil)
	argsAt := lhsStart
	if i := strings.IndexByte(lhs, '('); i >= 0 {
		if !strings.HasSuffix(lhs, ")") {
			return fail(lhsStart+len(lhs), "missing ')' after the arguments of %s", lhs[:i])
		}
		name = strings.TrimSpace(lhs[:i])
		argsAt = lhsStart + i + 1
		inner := lhs[i+1 : len(lhs)-1]
		if strings.TrimSpace(inner) != "" {
			for _, a := range strings.Split(inner, ",") {
				args = append(args, strings.TrimSpace(a))
			}
		}
	}
	name = strings.ToLower(name)

	// Metric.
	switch {
	case len(name) > 1 && name[0] == 'p' && (name[1] >= '0' && name[1] <= '9'):
		p, err := strconv.ParseFloat(name[1:], 64)
		if err != nil || p <= 0 || p > 100 {
			return fail(lhsStart, "percentile %q: want p followed by a number in (0,100], e.g. p99 or p99.9", name)
		}
		th.kind, th.pct = "pct", p
	case name == "avg" || name == "mean" || name == "min" || name == "max":
		th.kind = map[string]string{"avg": "avg", "mean": "avg", "min": "min", "max": "max"}[name]
	case name == "rate" || name == "count":
		th.kind = name
	case name == "rps":
		th.kind = "rps"
	case name == "rejected":
		th.kind = "rejected"
	case name == "max_heartbeat_gap" || name == "ws_lost" || name == "ws_drops" || name == "ws_reconnects" || name == "ws_events":
		th.kind, th.what = "ws", name
		if args != nil {
			return fail(argsAt, "%s takes no arguments", name)
		}
	default:
		return fail(lhsStart, "unknown metric %q: want pN, avg, min, max, rate, count, rps, rejected, max_heartbeat_gap or ws_*", name)
	}

	// Arguments.
	switch th.kind {
	case "pct", "avg", "min", "max":
		if len(args) > 0 {
			th.op = args[0]
		}
		figure := ""
		for _, m := range args[min(1, len(args)):] {
			w := normWord(m)
			if w == FigureTotal || w == FigureService {
				if figure != "" {
					return fail(argsAt, "%s(%s): names two figures (%s and %s): want one of service or total", name, strings.Join(args, ", "), figure, w)
				}
				figure = w
				th.total = w == FigureTotal
				continue
			}
			if _, ok := outcomeByName[w]; ok {
				th.outcome = w
				continue
			}
			return fail(argsAt, "%s(%s): modifier %q is neither a figure (service, total) nor an outcome (ok, http_error, throttled, server_error, transport_error, canceled)", name, strings.Join(args, ", "), m)
		}
		th.named = th.Expr
		if figure == "" {
			th.named = nameFigure(th.Expr, FigureService)
		}
	case "rate", "count":
		if len(args) == 0 || len(args) > 2 {
			return fail(argsAt, "%s takes (what) or (what, op), e.g. %s(429) or %s(errors, presence.set)", name, name, name)
		}
		w, ok := whatNames[normWord(args[0])]
		if !ok {
			return fail(argsAt, "%s(%s): %q is not one of requests, ok, 429, throttled, errors, http_error, server_error, transport_error, canceled", name, strings.Join(args, ", "), args[0])
		}
		th.what = w
		if len(args) == 2 {
			th.op = args[1]
		}
	case "rejected":
		if len(args) == 0 || len(args) > 2 || args[0] == "" {
			return fail(argsAt, "rejected takes (bucket key) or (bucket key, server|client-side), e.g. rejected(token.rate.per.minute)")
		}
		th.what = args[0]
		if len(args) == 2 {
			th.outcome = normWord(args[1])
			if th.outcome == "client_side" {
				th.outcome = "client-side"
			}
			if th.outcome != "server" && th.outcome != "client-side" {
				return fail(argsAt, "rejected(%s): source %q is neither server nor client-side", strings.Join(args, ", "), args[1])
			}
		}
	case "rps":
		if len(args) > 1 {
			return fail(argsAt, "rps takes at most one operation")
		}
		if len(args) == 1 {
			th.op = args[0]
		}
	}
	if th.op == "*" {
		th.op = ""
	}

	// Value.
	valAt := opAt + opLen
	raw := strings.TrimSpace(expr[valAt:])
	valAt += len(expr[valAt:]) - len(strings.TrimLeft(expr[valAt:], " \t"))
	if raw == "" {
		return fail(valAt, "no value after %q", th.cmp)
	}
	switch th.kind {
	case "pct", "avg", "min", "max":
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fail(valAt, "%q is not a duration: want e.g. 800ms, 1.5s or 250us", raw)
		}
		th.value, th.isDur = float64(d), true
	case "ws":
		if th.what == "max_heartbeat_gap" {
			d, err := time.ParseDuration(raw)
			if err != nil {
				return fail(valAt, "%q is not a duration: want e.g. 45s", raw)
			}
			th.value, th.isDur = float64(d), true
			break
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fail(valAt, "%q is not a whole number", raw)
		}
		th.value = float64(n)
	case "rate":
		if p, ok := strings.CutSuffix(raw, "%"); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || f < 0 || f > 100 {
				return fail(valAt, "%q is not a percentage: want e.g. 1%% or 0.5%%", raw)
			}
			th.value = f / 100
		} else {
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil || f < 0 || f > 1 {
				return fail(valAt, "%q is not a rate: want a percentage like 1%% or a fraction in [0,1] like 0.01", raw)
			}
			th.value = f
		}
	case "count", "rejected":
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fail(valAt, "%q is not a whole number", raw)
		}
		th.value = float64(n)
	case "rps":
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || f < 0 {
			return fail(valAt, "%q is not a rate: want requests per second, e.g. 100 or 12.5", raw)
		}
		th.value = f
	}
	return th, nil
}

// The latency figures a threshold judges.
const (
	// FigureService is the service time of the attempt that got the answer.
	FigureService = "service"
	// FigureTotal is the time from the intended send to the answer:
	// client-side limiter waits, earlier attempts and Retry-After waits
	// included (corrected for coordinated omission).
	FigureTotal = "total"
)

// nameFigure inserts figure into a latency expression that names none:
// "p99(op) < 1s" becomes "p99(op, service) < 1s", "p99 < 1s" becomes
// "p99(*, service) < 1s".
func nameFigure(expr, figure string) string {
	open := strings.IndexByte(expr, '(')
	cmpAt := strings.IndexAny(expr, "<>=!")
	if open < 0 || (cmpAt >= 0 && cmpAt < open) {
		name := strings.TrimSpace(expr[:max(cmpAt, 0)])
		return name + "(*, " + figure + ") " + strings.TrimSpace(expr[max(cmpAt, 0):])
	}
	closeAt := strings.IndexByte(expr[open:], ')') + open
	inner := strings.TrimSpace(expr[open+1 : closeAt])
	if inner == "" {
		inner = "*"
	}
	return expr[:open+1] + inner + ", " + figure + expr[closeAt:]
}

// Figure returns the latency figure the threshold judges (FigureService or
// FigureTotal), or "" for a threshold that judges no latency.
func (th Threshold) Figure() string {
	switch {
	case th.kind != "pct" && th.kind != "avg" && th.kind != "min" && th.kind != "max":
		return ""
	case th.total:
		return FigureTotal
	}
	return FigureService
}

// MustParseThreshold is like ParseThreshold but panics on error; for
// expressions written in code.
func MustParseThreshold(expr string) Threshold {
	th, err := ParseThreshold(expr)
	if err != nil {
		panic(err)
	}
	return th
}

// String returns the expression with its latency figure named:
// "p99(op) < 1s" as "p99(op, service) < 1s".
func (th Threshold) String() string { return cmpOr(th.named, th.Expr) }

func compare(a float64, cmp string, b float64) bool {
	switch cmp {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	case "==":
		return a == b
	case "!=":
		return a != b
	}
	return false
}

// Eval checks the threshold against doc. The result's Expr names the
// latency figure judged even when the expression as written did not.
func (th Threshold) Eval(doc *Document) ThresholdResult {
	res := ThresholdResult{Expr: th.Expr, Figure: th.Figure()}
	if th.named != "" {
		res.Expr = th.named
	}
	fail := func(why string) ThresholdResult {
		res.Value, res.OK = "n/a", false
		res.Detail = fmt.Sprintf("threshold %s: %s", res.Expr, why)
		return res
	}
	if th.kind == "ws" {
		w := doc.WebSocket
		if w == nil {
			return fail("the run recorded no notification-channel activity")
		}
		var v float64
		switch th.what {
		case "max_heartbeat_gap":
			v = w.MaxHeartbeatGapMs * float64(time.Millisecond)
		case "ws_lost":
			v = float64(w.Lost)
		case "ws_drops":
			v = float64(w.Drops)
		case "ws_reconnects":
			v = float64(w.Reconnects)
		case "ws_events":
			v = float64(w.Events)
		}
		res.OK = compare(v, th.cmp, th.value)
		res.Value = th.format(v)
		res.Detail = fmt.Sprintf("threshold %s: measured %s (%d heartbeats, %d events, %d connects)", res.Expr, res.Value, w.Heartbeats, w.Events, w.Connects)
		return res
	}
	if th.kind == "rejected" {
		var n int64
		var keys []string
		for _, rl := range doc.RateLimits {
			keys = append(keys, rl.Key+" ("+rl.Source+")")
			if rl.Key == th.what && (th.outcome == "" || th.outcome == rl.Source) {
				n += rl.Rejected
			}
		}
		res.OK = compare(float64(n), th.cmp, th.value)
		res.Value = strconv.FormatInt(n, 10)
		seen := "no bucket rejected anything"
		if len(keys) > 0 {
			seen = "buckets that rejected: " + strings.Join(keys, ", ")
		}
		res.Detail = fmt.Sprintf("threshold %s: measured %s (requests rejected by bucket %s; %s)", res.Expr, res.Value, th.what, seen)
		return res
	}

	var st *OpStats
	where := "all operations"
	if th.op == "" {
		st = doc.All()
	} else {
		st = doc.Op(th.op)
		where = "operation " + th.op
		if st == nil {
			return fail(fmt.Sprintf("operation %q has no requests (operations in the run: %s)", th.op, strings.Join(doc.OpNames(), ", ")))
		}
	}
	var v float64
	var ctx string
	switch th.kind {
	case "pct", "avg", "min", "max":
		h := &st.Latency
		if th.total {
			h = &st.Total
		}
		n := st.Count
		if th.outcome != "" {
			ol := st.ByOutcome[th.outcome]
			if th.total {
				h = &ol.Total
			} else {
				h = &ol.Latency
			}
			n = st.Outcomes[th.outcome]
			where += ", outcome " + th.outcome
		}
		if h.Count() == 0 {
			return fail(fmt.Sprintf("%s has no latency values to measure", where))
		}
		switch th.kind {
		case "pct":
			v = float64(h.Percentile(th.pct))
		case "avg":
			v = float64(h.Mean())
		case "min":
			v = float64(h.Min())
		case "max":
			v = float64(h.Max())
		}
		kind := "service time of the answering attempt"
		if th.total {
			kind = "total time from the intended send (limiter waits, retries and Retry-After included)"
		}
		ctx = fmt.Sprintf("%s, %d requests, %s", where, n, kind)
	case "rate", "count":
		n := th.countOf(st)
		if th.kind == "count" {
			v = float64(n)
			ctx = fmt.Sprintf("%s, %d requests", where, st.Count)
		} else {
			if st.Count == 0 {
				return fail(fmt.Sprintf("%s has no requests", where))
			}
			v = float64(n) / float64(st.Count)
			ctx = fmt.Sprintf("%s: %d of %d requests were %s", where, n, st.Count, th.what)
		}
	case "rps":
		dur := doc.Duration()
		if dur <= 0 {
			return fail("the document covers no time (End is not after Start)")
		}
		v = float64(st.Count) / dur.Seconds()
		ctx = fmt.Sprintf("%s, %d requests in %s", where, st.Count, FormatDuration(dur))
	}
	res.OK = compare(v, th.cmp, th.value)
	res.Value = th.format(v)
	res.Detail = fmt.Sprintf("threshold %s: measured %s (%s)", res.Expr, res.Value, ctx)
	return res
}

func (th Threshold) countOf(st *OpStats) int64 {
	switch th.what {
	case "requests":
		return st.Count
	case "429":
		return st.Status429
	case "errors":
		return st.Errors()
	default:
		return st.Outcomes[th.what]
	}
}

func (th Threshold) format(v float64) string {
	switch {
	case th.isDur:
		return FormatDuration(time.Duration(v))
	case th.kind == "rate":
		return fmtPercent(v)
	case th.kind == "rps":
		return fmtFloat(v)
	default:
		return strconv.FormatInt(int64(v), 10)
	}
}

// Check evaluates every threshold on doc, in order.
func Check(doc *Document, ths ...Threshold) []ThresholdResult {
	out := make([]ThresholdResult, 0, len(ths))
	for _, th := range ths {
		out = append(out, th.Eval(doc))
	}
	return out
}
