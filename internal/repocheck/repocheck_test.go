package repocheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatalf("reading %s: %v", rel, err)
	}
	return string(b)
}

// shellBlocks returns the commands of the README's ```sh blocks, in order,
// with continuation lines joined.
func shellBlocks(readme string) []string {
	var cmds []string
	re := regexp.MustCompile("(?s)```(?:sh|bash|console)\n(.*?)```")
	for _, m := range re.FindAllStringSubmatch(readme, -1) {
		joined := strings.ReplaceAll(m[1], "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "$ "))
			if line != "" && !strings.HasPrefix(line, "#") {
				cmds = append(cmds, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return cmds
}

const (
	mainCommand = "go test -tags load -count=1 -json ./loadtest | go run ./scripts/report"
	testCommand = "go test -race ./..."
	loadShort   = "go test -tags load -short -count=1 ./loadtest"
	rehearsal   = "CXLOAD_REHEARSE=1 go test -tags load -short -count=1 -v ./loadtest"
)

// The README's first two commands are the two that matter: the load
// scenarios with their report, then the tests.
func TestReadmeLeadsWithTheTwoCommands(t *testing.T) {
	cmds := shellBlocks(read(t, "README.md"))
	if len(cmds) < 2 {
		t.Fatalf("README has %d shell commands, want at least 2", len(cmds))
	}
	if cmds[0] != mainCommand {
		t.Errorf("README's first command = %q, want %q", cmds[0], mainCommand)
	}
	if cmds[1] != testCommand {
		t.Errorf("README's second command = %q, want %q", cmds[1], testCommand)
	}
}

// CI runs exactly the README's test command, the short load run, its
// rehearsal on the tenant stand-in, and actionlint on both workflows.
func TestCIRunsTheReadmeCommands(t *testing.T) {
	ci := read(t, ".ci/run")
	for _, want := range []string{testCommand, loadShort, rehearsal, "go vet ./...", "go vet -tags load ./...", "actionlint .github/workflows/*.yml",
		"(cd scripts/lab && go test -race ./...)"} {
		if !strings.Contains(ci, want) {
			t.Errorf(".ci/run does not run %q", want)
		}
	}
	if !strings.Contains(read(t, "README.md"), loadShort) {
		t.Errorf("README does not document the short load run %q that CI runs", loadShort)
	}
	if !strings.Contains(read(t, ".github/workflows/ci.yml"), "bash .ci/run") {
		t.Errorf("ci.yml does not run bash .ci/run: CI on GitHub and here would differ")
	}
}

// The matrix legs run the scenarios the way the README's main command
// does, and the merge job uses the report command the README documents.
func TestLoadWorkflowMatchesReadme(t *testing.T) {
	wf := read(t, ".github/workflows/loadtest.yml")
	readme := read(t, "README.md")
	for _, want := range []string{"go test -tags load -count=1", "-json", "./loadtest", "go run ./scripts/report", "CXLOAD_SHARD"} {
		if !strings.Contains(wf, want) {
			t.Errorf("loadtest.yml lacks %q", want)
		}
	}
	// Every report flag the merge job passes is documented in the README.
	for _, flag := range regexp.MustCompile(`\s(-history|-html|-json|-fail-on|-baseline)\b`).FindAllStringSubmatch(wf, -1) {
		if !strings.Contains(readme, flag[1]) {
			t.Errorf("loadtest.yml passes report flag %s that the README does not document", flag[1])
		}
	}
	// The local equivalent of the matrix exists and merges with the same command.
	sh := read(t, "scripts/matrix.sh")
	if !strings.Contains(sh, "go run ./scripts/report") && !strings.Contains(sh, "scripts/report") {
		t.Errorf("scripts/matrix.sh does not merge with scripts/report as the merge job does")
	}
	if !strings.Contains(readme, "scripts/matrix.sh") {
		t.Errorf("README does not document scripts/matrix.sh")
	}
}

// The README's own-scenario example is the body of a test that runs: the
// lines between "// README begin" and "// README end" of
// harness/scenario_example_test.go appear in the README's Go block as they are.
func TestReadmeScenarioExampleRuns(t *testing.T) {
	src := read(t, "harness/scenario_example_test.go")
	m := regexp.MustCompile(`(?s)// README begin\n(.*?)\n\s*// README end`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("harness/scenario_example_test.go has no README begin/end markers")
	}
	readme := read(t, "README.md")
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(readme, -1)
	for _, b := range blocks {
		if strings.Contains(b[1], m[1]) {
			return
		}
	}
	t.Errorf("README has no Go block containing the example scenario's body:\n%s", m[1])
}
