package doccheck

import (
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// parseCode parses a doc comment's code block as a file, as declarations
// or as a fragment (see FragmentFile: leading imports, elisions), and
// returns the file, or nil when it is not Go (shell commands, SQL,
// output).
func parseCode(code string) *ast.File {
	code = regexp.MustCompile(`\(\s*\.\.\.\s*\)`).ReplaceAllString(code, "()")
	srcs := []string{code, "package p\n" + code}
	if src, err := FragmentFile("p", "doc.go", Block{Line: 1, Code: code}, nil); err == nil {
		srcs = append(srcs, string(src))
	}
	for _, src := range srcs {
		if f, err := parser.ParseFile(token.NewFileSet(), "", src, 0); err == nil {
			return f
		}
	}
	return nil
}

// The package-qualified names (pkg.Name) in the Go code of the doc
// comments of this repository's public packages exist, and a call of a
// package's function is assigned to as many variables as it returns
// values. The code is only parsed, not type-checked: a wrong argument
// list, or a method's results, are not checked.
func TestDocCommentCodeNames(t *testing.T) {
	root := moduleRoot(t)
	a := loadAPI(t, root)
	blocks, goBlocks, names := 0, 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch {
			case rel == "internal", rel == "examples", rel == "bench", rel == "reliability",
				d.Name() == "testdata", strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		var p comment.Parser
		for _, cg := range f.Comments {
			for _, blk := range p.Parse(cg.Text()).Content {
				code, ok := blk.(*comment.Code)
				if !ok {
					continue
				}
				blocks++
				cf := parseCode(code.Text)
				if cf == nil {
					continue
				}
				goBlocks++
				line := fset.Position(cg.Pos()).Line
				first, _, _ := strings.Cut(code.Text, "\n")
				for _, c := range cg.List {
					if strings.Contains(c.Text, first) {
						line = fset.Position(c.Pos()).Line // the block's first line
						break
					}
				}
				where := rel + ":" + strconv.Itoa(line)
				unresolved := map[*ast.Ident]bool{}
				for _, id := range cf.Unresolved {
					unresolved[id] = true
				}
				ast.Inspect(cf, func(n ast.Node) bool {
					if msg := a.checkArity(n, unresolved); msg != "" {
						t.Errorf("%s: code in a doc comment: %s", where, msg)
					}
					sel, ok := n.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					x, ok := sel.X.(*ast.Ident)
					if !ok || !unresolved[x] || a.pkgs[x.Name] == nil {
						return true
					}
					names++
					if msg := a.check(x.Name, sel.Sel.Name, ""); msg != "" {
						t.Errorf("%s: code in a doc comment: %s.%s: %s", where, x.Name, sel.Sel.Name, msg)
					}
					return true
				})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d code blocks in doc comments, %d of them Go, %d package-qualified names checked", blocks, goBlocks, names)
}

// checkArity returns what is wrong when n assigns the results of a call of
// a package-level function of this repository to the wrong number of
// variables (x := pkg.F() where F returns a value and an error), or "".
// unresolved holds the identifiers that name no local variable.
func (a *api) checkArity(n ast.Node, unresolved map[*ast.Ident]bool) string {
	var lhs int
	var rhs []ast.Expr
	switch n := n.(type) {
	case *ast.AssignStmt:
		lhs, rhs = len(n.Lhs), n.Rhs
	case *ast.ValueSpec:
		lhs, rhs = len(n.Names), n.Values
	default:
		return ""
	}
	if len(rhs) != 1 {
		return ""
	}
	call, ok := rhs[0].(*ast.CallExpr)
	if !ok {
		return ""
	}
	fun := call.Fun
	switch f := fun.(type) {
	case *ast.IndexExpr: // sessionkit.Get[int]
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok || !unresolved[x] {
		return ""
	}
	want, ok := a.results[x.Name+"."+sel.Sel.Name]
	if !ok || want == lhs {
		return ""
	}
	return fmt.Sprintf("%s.%s returns %d values, assigned to %d", x.Name, sel.Sel.Name, want, lhs)
}
