package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// peerTool is a peer installed with go install when it is not on PATH. The
// versions are the newest listed by `go list -m -versions` when this was
// written.
type peerTool struct {
	name, module, version string
}

var peerTools = []peerTool{
	{name: "vegeta", module: "github.com/tsenart/vegeta/v12", version: "v12.13.0"},
	{name: "k6", module: "go.k6.io/k6", version: "v1.8.1"},
}

// installTimeout bounds one go install (k6 takes about 2 minutes on a cold
// build cache of this 2-CPU machine).
const installTimeout = 15 * time.Minute

// ensureTools finds or installs the selected peers, filling paths (name ->
// executable) or errs (name -> why not). The returned cleanup removes a
// temporary GOBIN. Only an I/O failure of this program itself is returned
// as an error; a failed install just leaves that peer unmeasured.
func (o *options) ensureTools(ctx context.Context, paths map[string]string, errs map[string]error) (cleanup func(), err error) {
	cleanup = func() {}
	bin := o.bin
	for _, t := range peerTools {
		if !o.selected(t.name) {
			continue
		}
		if bin != "" {
			if p := filepath.Join(bin, t.name); isExecutable(p) {
				paths[t.name] = p
				o.logf("%s: using %s", t.name, p)
				continue
			}
		}
		if p, err := exec.LookPath(t.name); err == nil {
			paths[t.name] = p
			o.logf("%s: using %s (from PATH)", t.name, p)
			continue
		}
		if bin == "" {
			dir, err := os.MkdirTemp("", "cxload-peers-bin-")
			if err != nil {
				return cleanup, fmt.Errorf("peers: temporary GOBIN: %w", err)
			}
			bin = dir
			cleanup = func() { os.RemoveAll(dir) }
		}
		p, err := o.install(ctx, t, bin)
		if err != nil {
			errs[t.name] = err
			o.logf("%s: %v", t.name, err)
			continue
		}
		paths[t.name] = p
	}
	return cleanup, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// install runs `go install module@version` with GOBIN=bin, from bin so that
// no go.mod is involved.
func (o *options) install(ctx context.Context, t peerTool, bin string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("not on PATH and cannot install it: no go command on PATH")
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	target := t.module + "@" + t.version
	o.logf("%s: not on PATH; installing: GOBIN=%s go install %s (k6 takes minutes on a cold build cache)", t.name, bin, target)
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "install", target)
	cmd.Dir = bin
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOWORK=off", "GOFLAGS=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s failed: %v: %s", target, err, lastLine(out.Bytes()))
	}
	p := filepath.Join(bin, t.name)
	if !isExecutable(p) {
		return "", fmt.Errorf("go install %s succeeded but %s is missing", target, p)
	}
	o.logf("%s: installed %s in %v", t.name, p, time.Since(start).Round(time.Second))
	return p, nil
}

// measureVegeta runs vegeta attack, pinned like every loader, writing its
// results to a file; then reads them back with vegeta report (full speed)
// or vegeta encode (paced, to measure latency from each request's intended
// send time). Bodies are not kept (-max-body=0), vegeta's fastest setting.
func (o *options) measureVegeta(ctx context.Context, vegeta, work, url string, rate float64) measurement {
	ctx, cancel := context.WithTimeout(ctx, o.loaderTimeout())
	defer cancel()
	targets := filepath.Join(work, "vegeta-targets.txt")
	if err := os.WriteFile(targets, []byte("GET "+url+"\n"), 0o644); err != nil {
		return measurement{NotMeasured: err.Error()}
	}
	results := filepath.Join(work, "vegeta-results.bin")
	conns := strconv.Itoa(o.conns)
	rateArg := "0"
	if rate > 0 {
		rateArg = strconv.FormatFloat(rate, 'f', -1, 64) + "/1s"
	}
	attack := o.command(ctx, o.cpus[0], vegeta, "attack",
		"-targets="+targets, "-rate="+rateArg, "-duration="+o.duration.String(),
		"-workers="+conns, "-max-workers="+conns, "-max-connections="+conns,
		"-keepalive=true", "-http2=false", "-max-body=0", "-laddr=127.0.0.1",
		"-output="+results)
	var stderr bytes.Buffer
	attack.Stderr = &stderr
	var m measurement
	if err := o.runLoader(attack, &m); err != nil {
		return measurement{NotMeasured: "vegeta attack: " + failure(err, stderr.Bytes())}
	}

	if rate > 0 {
		enc := exec.CommandContext(ctx, vegeta, "encode", "-to=json", results)
		stdout, err := enc.StdoutPipe()
		if err != nil {
			return measurement{NotMeasured: err.Error()}
		}
		stderr.Reset()
		enc.Stderr = &stderr
		if err := enc.Start(); err != nil {
			return measurement{NotMeasured: "vegeta encode: " + err.Error()}
		}
		pr, perr := parseVegetaResults(stdout, rate)
		_, _ = io.Copy(io.Discard, stdout)
		if err := enc.Wait(); err != nil {
			return measurement{NotMeasured: "vegeta encode: " + failure(err, stderr.Bytes())}
		}
		if perr != nil {
			return measurement{NotMeasured: perr.Error()}
		}
		m.Requests, m.Errors, m.Rate = pr.Requests, pr.Errors, pr.Rate
		m.P50, m.P99, m.COP99 = pr.P50, pr.P99, pr.COP99
		m.Note = fmt.Sprintf("-rate=%s -workers=%s -max-workers=%s", rateArg, conns, conns)
		if pr.ErrSample != "" {
			m.Note += "; first error: " + pr.ErrSample
		}
		return m
	}

	rep := exec.CommandContext(ctx, vegeta, "report", "-type=json", results)
	stderr.Reset()
	rep.Stderr = &stderr
	out, err := rep.Output()
	if err != nil {
		return measurement{NotMeasured: "vegeta report: " + failure(err, stderr.Bytes())}
	}
	vr, err := parseVegetaReport(out)
	if err != nil {
		return measurement{NotMeasured: err.Error()}
	}
	m.Requests, m.Errors, m.Rate, m.P50, m.P99 = vr.Requests, vr.Errors, vr.Rate, vr.P50, vr.P99
	m.Note = fmt.Sprintf("-rate=0 -workers=%s -max-workers=%s -max-body=0", conns, conns)
	if len(vr.ErrSamples) > 0 {
		m.Note += "; first error: " + vr.ErrSamples[0]
	}
	return m
}

// vegetaReport is the part of `vegeta report -type=json` that is read.
type vegetaReport struct {
	Requests   int64
	Errors     int64
	Rate       float64
	P50, P99   time.Duration
	ErrSamples []string
}

// parseVegetaReport reads `vegeta report -type=json`. Latencies are in
// nanoseconds; success is the fraction of 2xx/3xx answers.
func parseVegetaReport(data []byte) (vegetaReport, error) {
	var raw struct {
		Latencies *struct {
			P50 int64 `json:"50th"`
			P99 int64 `json:"99th"`
		} `json:"latencies"`
		Requests    *int64           `json:"requests"`
		Rate        float64          `json:"rate"`
		Success     float64          `json:"success"`
		StatusCodes map[string]int64 `json:"status_codes"`
		Errors      []string         `json:"errors"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return vegetaReport{}, fmt.Errorf("peers: vegeta report: %w", err)
	}
	if raw.Requests == nil || raw.Latencies == nil {
		return vegetaReport{}, errors.New(`peers: vegeta report: no "requests" or "latencies"; is this the output of vegeta report -type=json?`)
	}
	r := vegetaReport{
		Requests:   *raw.Requests,
		Rate:       raw.Rate,
		P50:        time.Duration(raw.Latencies.P50),
		P99:        time.Duration(raw.Latencies.P99),
		ErrSamples: raw.Errors,
	}
	r.Errors = r.Requests - int64(math.Round(raw.Success*float64(r.Requests)))
	return r, nil
}

// parseVegetaResults reads the JSON lines of `vegeta encode -to=json` of a
// paced attack at rate. vegeta's constant pacer makes hit n due at n/rate
// after the attack began. The CO-corrected latency of a hit is its
// completion (timestamp + latency) minus its due time. The rate is that of
// the actual sends, (n-1)/(last-first).
func parseVegetaResults(r io.Reader, rate float64) (loadReport, error) {
	type hit struct {
		seq     uint64
		start   time.Time
		latency time.Duration
	}
	var (
		hits []hit
		rep  loadReport
	)
	service := newHist()
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	for line := 1; ; line++ {
		var raw struct {
			Seq       *uint64   `json:"seq"`
			Code      int       `json:"code"`
			Timestamp time.Time `json:"timestamp"`
			Latency   int64     `json:"latency"`
			Error     string    `json:"error"`
		}
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return loadReport{}, fmt.Errorf("peers: vegeta results, record %d: %w", line, err)
		}
		if raw.Seq == nil || raw.Timestamp.IsZero() {
			return loadReport{}, fmt.Errorf("peers: vegeta results, record %d: no seq or timestamp; is this vegeta encode -to=json output?", line)
		}
		h := hit{seq: *raw.Seq, start: raw.Timestamp, latency: time.Duration(raw.Latency)}
		hits = append(hits, h)
		recordDur(service, h.latency)
		rep.Requests++
		if raw.Error != "" || raw.Code < 200 || raw.Code > 399 {
			rep.Errors++
			if rep.ErrSample == "" {
				rep.ErrSample = raw.Error
				if rep.ErrSample == "" {
					rep.ErrSample = "status " + strconv.Itoa(raw.Code)
				}
			}
		}
	}
	if len(hits) == 0 {
		return loadReport{}, errors.New("peers: vegeta results: no hits")
	}
	// The schedule's origin is not in the results. A pacer never sends a hit
	// before it is due, so origin <= start(n) - n/rate for every hit; the
	// largest such origin is the minimum over the hits. It makes every
	// CO-corrected latency at least the service time and is a lower bound
	// of the true one.
	due := func(n uint64) time.Duration { return time.Duration(float64(n) * float64(time.Second) / rate) }
	var origin, first, last time.Time
	for i, h := range hits {
		if o := h.start.Add(-due(h.seq)); i == 0 || o.Before(origin) {
			origin = o
		}
		if i == 0 || h.start.Before(first) {
			first = h.start
		}
		if h.start.After(last) {
			last = h.start
		}
	}
	co := newHist()
	for _, h := range hits {
		recordDur(co, h.start.Add(h.latency).Sub(origin.Add(due(h.seq))))
	}
	rep.P50 = quantile(service, 50)
	rep.P99 = quantile(service, 99)
	rep.COP99 = quantile(co, 99)
	rep.Elapsed = last.Sub(first)
	if rep.Requests > 1 && rep.Elapsed > 0 {
		rep.Rate = float64(rep.Requests-1) / rep.Elapsed.Seconds()
	}
	return rep, nil
}

// k6Script is the generated k6 test: conns VUs in a constant-vus scenario,
// each sending GETs back to back, response bodies discarded (k6's fastest
// setting).
func k6Script(url string, conns int, duration time.Duration) string {
	return fmt.Sprintf(`import http from 'k6/http';

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['med', 'p(99)'],
  scenarios: {
    peers: { executor: 'constant-vus', vus: %d, duration: '%dms', gracefulStop: '5s' },
  },
};

export default function () {
  http.get(%q);
}
`, conns, duration.Milliseconds(), url)
}

// measureK6 runs k6 with the generated script and reads its summary export.
func (o *options) measureK6(ctx context.Context, k6, work, url string) measurement {
	if o.duration < time.Second {
		return measurement{NotMeasured: "k6 needs -duration of at least 1s"}
	}
	ctx, cancel := context.WithTimeout(ctx, o.loaderTimeout())
	defer cancel()
	script := filepath.Join(work, "k6-script.js")
	if err := os.WriteFile(script, []byte(k6Script(url, o.conns, o.duration)), 0o644); err != nil {
		return measurement{NotMeasured: err.Error()}
	}
	summary := filepath.Join(work, "k6-summary.json")
	cmd := o.command(ctx, o.cpus[0], k6, "run", "--quiet", "--no-color", "--no-usage-report",
		"--address=", "--summary-export="+summary, script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "K6_NO_USAGE_REPORT=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	var m measurement
	if err := o.runLoader(cmd, &m); err != nil {
		return measurement{NotMeasured: "k6 run: " + failure(err, out.Bytes())}
	}
	data, err := os.ReadFile(summary)
	if err != nil {
		return measurement{NotMeasured: "k6 summary: " + err.Error()}
	}
	ks, err := parseK6Summary(data)
	if err != nil {
		return measurement{NotMeasured: err.Error()}
	}
	m.Requests, m.Errors, m.Rate, m.P50, m.P99 = ks.Requests, ks.Errors, ks.Rate, ks.P50, ks.P99
	m.Note = fmt.Sprintf("constant-vus, %d VUs, discardResponseBodies", o.conns)
	return m
}

// k6Summary is the part of k6's --summary-export that is read.
type k6Summary struct {
	Requests int64
	Errors   int64
	Rate     float64
	P50, P99 time.Duration
}

// parseK6Summary reads k6's --summary-export JSON: http_reqs (count, rate),
// http_req_duration (med, p(99), in milliseconds) and http_req_failed
// (passes = failed requests).
func parseK6Summary(data []byte) (k6Summary, error) {
	var raw struct {
		Metrics map[string]map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return k6Summary{}, fmt.Errorf("peers: k6 summary: %w", err)
	}
	get := func(metric, field string) (float64, error) {
		v, ok := raw.Metrics[metric][field]
		if !ok {
			return 0, fmt.Errorf("peers: k6 summary: no metrics.%s[%q]; run k6 with --summary-export and summaryTrendStats med, p(99)", metric, field)
		}
		return v, nil
	}
	var (
		s    k6Summary
		errs []error
	)
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	count, err := get("http_reqs", "count")
	errs = append(errs, err)
	s.Requests = int64(count)
	s.Rate, err = get("http_reqs", "rate")
	errs = append(errs, err)
	med, err := get("http_req_duration", "med")
	errs = append(errs, err)
	p99, err := get("http_req_duration", "p(99)")
	errs = append(errs, err)
	s.P50, s.P99 = ms(med), ms(p99)
	failed, err := get("http_req_failed", "passes")
	errs = append(errs, err)
	s.Errors = int64(failed)
	if err := errors.Join(errs...); err != nil {
		return k6Summary{}, err
	}
	return s, nil
}
