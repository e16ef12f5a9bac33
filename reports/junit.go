package reports

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// JUnit XML, as read by Jenkins, GitLab and Azure DevOps: the element and
// attribute model of the Ant/Jenkins schema (testdata/junit.xsd). That schema
// allows properties on a suite, not on a test case, so the figures of a
// scenario are properties of its suite.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Package    string          `xml:"package,attr,omitempty"`
	Properties *junitProps     `xml:"properties"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitMessage `xml:"skipped"`
	Error     *junitMessage `xml:"error"`
	Failure   *junitMessage `xml:"failure"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// JUnit writes the run as JUnit XML: a suite per package with a test case
// per test, subtest and benchmark (a failed build or a package that failed
// outside any test is a test case with an error), and a suite per scenario
// and matrix cell with a test case per threshold. A scenario suite's
// properties are its figures (requests, rates, percentiles per operation,
// the value each threshold measured). The Markdown report stays the
// human-readable summary; this is for the test views of CI systems.
func (r *Report) JUnit(w io.Writer) error {
	run := r.Run
	doc := junitSuites{Name: cmp.Or(r.Title, "cxload report")}
	var pkgs []string
	byPkg := make(map[string]*junitSuite)
	suite := func(pkg string) *junitSuite {
		if s := byPkg[pkg]; s != nil {
			return s
		}
		pkgs = append(pkgs, pkg)
		s := &junitSuite{Name: pkg, Package: pkg, Properties: r.junitEnv()}
		if !run.Env.Start.IsZero() {
			s.Timestamp = run.Env.Start.UTC().Format("2006-01-02T15:04:05")
		}
		byPkg[pkg] = s
		return s
	}
	for _, p := range run.Packages {
		s := suite(p.Name)
		s.Time = junitTime(p.Elapsed)
		switch {
		case p.FailedBuild != "":
			s.Cases = append(s.Cases, junitTestCase{Name: "build", Classname: p.Name, Time: junitTime(0),
				Error: &junitMessage{Message: "build failed: " + p.FailedBuild, Type: "build", Body: strings.Join(p.BuildOutput, "\n")}})
		case p.Verdict == Fail && !slices.ContainsFunc(run.Tests, func(t Test) bool { return t.Package == p.Name && t.Verdict == Fail }):
			s.Cases = append(s.Cases, junitTestCase{Name: "package", Classname: p.Name, Time: junitTime(p.Elapsed),
				Error: &junitMessage{Message: "the package failed outside any test", Type: "package", Body: strings.Join(p.Output, "\n")}})
		}
	}
	for _, t := range run.Tests {
		s := suite(t.Package)
		tc := junitTestCase{Name: t.Name, Classname: t.Package, Time: junitTime(t.Elapsed)}
		switch t.Verdict {
		case Fail:
			tc.Failure = &junitMessage{Message: cmp.Or(t.Reason, "failed"), Type: "fail", Body: strings.Join(t.Output, "\n")}
		case Skip:
			tc.Skipped = &junitMessage{Message: t.Reason}
		}
		s.Cases = append(s.Cases, tc)
	}
	for _, pkg := range pkgs {
		doc.Suites = append(doc.Suites, *byPkg[pkg])
	}
	for i := range run.Scenarios {
		if sc := &run.Scenarios[i]; sc.Doc != nil {
			doc.Suites = append(doc.Suites, scenarioSuite(sc, r.summaries[i]))
		}
	}
	total := 0.0
	for i := range doc.Suites {
		s := &doc.Suites[i]
		s.Tests = len(s.Cases)
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		if s.Time == "" {
			sum := 0.0
			for _, c := range s.Cases {
				f, _ := strconv.ParseFloat(c.Time, 64)
				sum += f
			}
			s.Time = junitTime(sum)
		}
		f, _ := strconv.ParseFloat(s.Time, 64)
		total += f
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	doc.Time = junitTime(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("reports: junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitEnv returns the run's environment as properties, or nil.
func (r *Report) junitEnv() *junitProps {
	e := r.Run.Env
	var ps []junitProp
	add := func(name, value string) {
		if value != "" {
			ps = append(ps, junitProp{name, value})
		}
	}
	add("run", r.Run.ID)
	add("commit", e.Commit)
	add("branch", e.Branch)
	add("go", e.GoVersion)
	add("goos", e.GOOS)
	add("goarch", e.GOARCH)
	add("cpu", e.CPU)
	add("url", e.URL)
	for _, k := range slices.Sorted(maps.Keys(e.Labels)) {
		add("label."+k, e.Labels[k])
	}
	if len(ps) == 0 {
		return nil
	}
	return &junitProps{ps}
}

// scenarioSuite is the suite of one scenario and cell: a test case per
// threshold, the figures as properties.
func scenarioSuite(sc *Scenario, sum Summary) junitSuite {
	d := sc.Doc
	title := scenarioTitle(sc.Name, sc.Cell())
	class := sc.Name
	if sc.Package != "" {
		class = sc.Package + "." + cmp.Or(sc.Test, sc.Name)
	}
	s := junitSuite{Name: "scenario " + title, Package: sc.Package, Time: junitTime(sum.Seconds)}
	if !d.Start.IsZero() {
		s.Timestamp = d.Start.UTC().Format("2006-01-02T15:04:05")
	}
	ps := []junitProp{
		{"seconds", fmtFloat(sum.Seconds)},
		{"requests", strconv.FormatInt(sum.Requests, 10)},
		{"req/s", fmtFloat(sum.RPS)},
		{"throttled", strconv.FormatInt(sum.Throttled, 10)},
		{"429 rate", fmtFloat(sum.Rate429)},
		{"errors", strconv.FormatInt(sum.Errors, 10)},
	}
	if sc.Cell() != "" {
		ps = append(ps, junitProp{"cell", sc.Cell()})
	}
	for _, op := range sum.Ops {
		ps = append(ps,
			junitProp{op.Op + " count", strconv.FormatInt(op.Count, 10)},
			junitProp{op.Op + " throttled", strconv.FormatInt(op.Throttled, 10)})
		for _, lat := range []struct {
			name string
			ms   map[string]float64
		}{{"total", op.LatencyMs}, {"service", op.ServiceMs}} {
			for _, p := range []string{"p50", "p99", "max"} {
				if v, ok := lat.ms[p]; ok {
					ps = append(ps, junitProp{fmt.Sprintf("%s %s %s ms", op.Op, lat.name, p), fmtFloat(v)})
				}
			}
		}
	}
	for _, a := range d.Limits() {
		v := perWindow(a.Allowed, a.WindowSeconds) + ", scope " + cmp.Or(a.Scope, "?")
		if a.Inferred() {
			v += " (inferred from the 429s)"
		}
		ps = append(ps, junitProp{"limit " + cmp.Or(a.Key, "?"), v})
	}
	for _, th := range d.Thresholds {
		ps = append(ps, junitProp{"threshold " + th.Expr, th.Value})
		tc := junitTestCase{Name: th.Expr, Classname: class, Time: junitTime(0), SystemOut: "measured: " + th.Value}
		if !th.OK {
			tc.Failure = &junitMessage{Message: th.Expr + ": measured " + th.Value, Type: "threshold", Body: th.Detail}
		} else if th.Detail != "" {
			tc.SystemOut += "\n" + th.Detail
		}
		s.Cases = append(s.Cases, tc)
	}
	s.Properties = &junitProps{ps}
	return s
}

func junitTime(sec float64) string { return strconv.FormatFloat(max(sec, 0), 'f', 3, 64) }

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
