package repocheck

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// thresholdFormat matches a format string that builds a threshold
// expression.
var thresholdFormat = regexp.MustCompile(`^\s*((p[0-9.]+|avg|min|max|rate|count|rps|rejected)\(|(ws_\w+|max_heartbeat_gap)\s*[<>=!])`)

// fixedRoots are where a bound may come from: the knobs (k, r.k), the
// scenario's configuration (cfg), its fixed settings (hb, the heartbeat;
// p99, the latency bound; gapLimit; shiftAnswered), the channels opened
// before the load (nch) and an operation's name (op).
var fixedRoots = map[string]bool{"k": true, "cfg": true, "hb": true, "p99": true, "nch": true, "op": true, "shiftAnswered": true, "gapLimit": true}

// fixed reports whether e is built only from fixedRoots, r.k, r.heartbeat()
// and constants.
func fixed(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return fixedRoots[e.Name]
	case *ast.ParenExpr:
		return fixed(e.X)
	case *ast.BinaryExpr:
		return fixed(e.X) && fixed(e.Y)
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok && x.Name == "r" {
			return e.Sel.Name == "k" || e.Sel.Name == "heartbeat"
		}
		return fixed(e.X)
	case *ast.CallExpr:
		for _, a := range e.Args {
			if !fixed(a) {
				return false
			}
		}
		return fixed(e.Fun)
	}
	return false
}

// Every threshold of the shipped scenarios (loadtest/*_test.go) is fixed
// before the run: its expression is a literal, or formatted from the
// scenario's parameters only (fixed), never from what the run measured (a
// bound like "ws_lost <= <the run's own count>" passes by construction).
func TestBoundsFixedInAdvance(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "loadtest", "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario sources in loadtest/: %v", err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Sprintf" || len(n.Args) < 2 {
					return true
				}
				lit, ok := n.Args[0].(*ast.BasicLit)
				if !ok {
					return true
				}
				format, _ := strconv.Unquote(lit.Value)
				if !thresholdFormat.MatchString(format) {
					return true
				}
				checked++
				for _, a := range n.Args[1:] {
					if !fixed(a) {
						t.Errorf("%s: threshold %q takes its bound from %s, which is not a parameter of the scenario: fix the bound before the run, from knobs or configuration",
							fset.Position(a.Pos()), format, exprString(fset, a))
					}
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); !ok || id.Name != "bound" || len(n.Elts) == 0 {
					return true
				}
				switch e := n.Elts[0].(type) {
				case *ast.BasicLit:
					checked++
				case *ast.CallExpr: // a Sprintf, checked above
				default:
					t.Errorf("%s: a bound's expression is %s: write it as a literal or a fmt.Sprintf of parameters, so that it can be checked", fset.Position(e.Pos()), exprString(fset, e))
				}
				if len(n.Elts) < 2 {
					t.Errorf("%s: a bound without its reason", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if checked < 10 {
		t.Errorf("checked %d thresholds; the scenarios have more: is the check still finding them?", checked)
	}
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	var b strings.Builder
	if err := printer.Fprint(&b, fset, e); err != nil {
		return fset.Position(e.Pos()).String()
	}
	return b.String()
}
