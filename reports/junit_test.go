package reports_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/reports"
)

// xmllint finds xmllint (Debian: libxml2-utils). In CI (CI=true) a missing
// xmllint fails the test; elsewhere it skips with the reason.
func xmllint(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("xmllint")
	if err == nil {
		return p
	}
	msg := "xmllint not found; install it: apt-get install -y libxml2-utils"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// validate runs xmllint against the JUnit schema in testdata and returns
// its error and output.
func validate(t *testing.T, exe string, doc []byte) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "junit.xml")
	require.NoError(t, os.WriteFile(file, doc, 0o644))
	out, err := exec.Command(exe, "-noout", "-schema", filepath.Join("testdata", "junit.xsd"), file).CombinedOutput()
	return string(out), err
}

// TestJUnitSchema renders the JUnit XML of the captures (failed, panicking
// and timed-out tests, a failed build, scenarios with passing and failing
// thresholds, benchmarks) and validates it against testdata/junit.xsd.
func TestJUnitSchema(t *testing.T) {
	exe := xmllint(t)
	// The schema must reject what Jenkins rejects: a suite without its
	// required counts, a property on a test case.
	for name, bad := range map[string]string{
		"suite without counts":     `<testsuites><testsuite name="x"/></testsuites>`,
		"property on a test case":  `<testsuites><testsuite name="x" tests="1" failures="0" errors="0"><testcase name="t"><properties/></testcase></testsuite></testsuites>`,
		"time that is not seconds": `<testsuites><testsuite name="x" tests="0" failures="0" errors="0" time="1s"/></testsuites>`,
	} {
		out, err := validate(t, exe, []byte(bad))
		require.Error(t, err, "the schema accepted a %s:\n%s", name, out)
	}
	for _, files := range [][]string{
		{"failures.json"},
		{"scenario-new.json", "bench-new.json"},
		{"scenario-old.json", "bench-old.json"},
	} {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, reports.NewReport(readCapture(t, files...), nil, nil).JUnit(&buf))
			out, err := validate(t, exe, buf.Bytes())
			require.NoError(t, err, "xmllint:\n%s", out)
		})
	}
}

// The JUnit model as a reader (Jenkins, GitLab) sees it.
type jSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Props    []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, r *reports.Report) jSuites {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, r.JUnit(&buf))
	var j jSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &j), "%s", buf.String())
	return j
}

// TestJUnitStructure reads the XML back: one test case per test and per
// scenario threshold, counts that add up, failures where the run failed,
// the scenario figures as properties.
func TestJUnitStructure(t *testing.T) {
	t.Run("failures", func(t *testing.T) {
		run := readCapture(t, "failures.json")
		j := readJUnit(t, reports.NewReport(run, nil, nil))
		pass, fail, skip := run.Counts()
		builds := 0
		for _, p := range run.Packages {
			if p.FailedBuild != "" {
				builds++
			}
		}
		require.Positive(t, fail)
		require.Positive(t, builds)
		assert.Equal(t, pass+fail+skip+builds, j.Tests, "tests")
		assert.Equal(t, fail, j.Failures, "failures")
		assert.Equal(t, builds, j.Errors, "errors (failed builds)")
		sum := 0
		for _, s := range j.Suites {
			sum += s.Tests
			assert.Len(t, s.Cases, s.Tests, "suite %s", s.Name)
			for _, c := range s.Cases {
				if c.Failure != nil {
					assert.NotEmpty(t, c.Failure.Message, "failure of %s", c.Name)
				}
			}
		}
		assert.Equal(t, j.Tests, sum, "suites' tests add up to the total")
	})
	t.Run("scenarios", func(t *testing.T) {
		run := readCapture(t, "scenario-new.json")
		// One threshold of the first scenario fails.
		doc := run.Scenarios[0].Doc
		require.NotEmpty(t, doc.Thresholds)
		doc.Thresholds[0].OK = false
		want := map[string]bool{} // suite name + threshold -> fails
		thresholds := 0
		for _, s := range run.Scenarios {
			for _, th := range s.Doc.Thresholds {
				thresholds++
				want["scenario "+s.Name+cellSuffix(s.Cell())+"\x00"+th.Expr] = !th.OK
			}
		}
		j := readJUnit(t, reports.NewReport(run, nil, nil))
		got := map[string]bool{}
		tests, failures, limited := 0, 0, 0
		for _, s := range j.Suites {
			if !strings.HasPrefix(s.Name, "scenario ") {
				tests += len(s.Cases)
				continue
			}
			props := map[string]string{}
			for _, p := range s.Props {
				props[p.Name] = p.Value
			}
			for _, name := range []string{"requests", "req/s", "429 rate", "errors"} {
				assert.Contains(t, props, name, "suite %s: figure %q", s.Name, name)
			}
			if strings.HasPrefix(s.Name, "scenario TestRecordingBurst/") {
				limited++
				assert.Equal(t, "300 / 30s, scope endpoint (inferred from the 429s)", props["limit token.rate.per.minute"], "suite %s: the limit it hit", s.Name)
			}
			for _, c := range s.Cases {
				got[s.Name+"\x00"+c.Name] = c.Failure != nil
				assert.Contains(t, props, "threshold "+c.Name, "suite %s: the measured value of %s", s.Name, c.Name)
				if c.Failure != nil {
					failures++
					assert.Contains(t, c.Failure.Message, props["threshold "+c.Name])
				}
			}
		}
		assert.Equal(t, 2, limited, "suites of TestRecordingBurst")
		assert.Equal(t, want, got, "a test case per threshold, failed where the threshold failed")
		assert.Equal(t, len(run.Tests)+thresholds, j.Tests, "tests: one per test and per threshold")
		assert.Equal(t, len(run.Tests), tests)
		wantFail := 0
		for _, f := range want {
			if f {
				wantFail++
			}
		}
		assert.Equal(t, wantFail, failures)
		assert.Equal(t, wantFail, j.Failures)
	})
}

func cellSuffix(cell string) string {
	if cell == "" {
		return ""
	}
	return " [" + cell + "]"
}
