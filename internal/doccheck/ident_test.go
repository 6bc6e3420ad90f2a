package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// api is what the packages the docs name declare: top-level names by
// package name, and members (fields, methods) by "pkg.Type", over every
// package of that name. A type that embeds another, an alias and a defined
// non-struct type have members this table does not follow; open marks
// them. repoTypes maps this repository's type names to their "pkg.Type".
// Two packages of one name (none so far) would share one entry.
type api struct {
	pkgs      map[string]map[string]bool
	members   map[string]map[string]bool
	open      map[string]bool
	repoTypes map[string][]string
	results   map[string]int // "pkg.Func": how many values it returns
}

func (a *api) add(dir string, repo bool) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := file.Name.Name
		if pkg == "main" || strings.HasSuffix(pkg, "_test") {
			continue
		}
		if a.pkgs[pkg] == nil {
			a.pkgs[pkg] = map[string]bool{}
		}
		member := func(typ, name string) {
			typ = pkg + "." + typ
			if a.members[typ] == nil {
				a.members[typ] = map[string]bool{}
			}
			a.members[typ][name] = true
		}
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					a.pkgs[pkg][d.Name.Name] = true
					a.results[pkg+"."+d.Name.Name] = d.Type.Results.NumFields()
					continue
				}
				t := d.Recv.List[0].Type
				if s, ok := t.(*ast.StarExpr); ok {
					t = s.X
				}
				switch x := t.(type) {
				case *ast.IndexExpr:
					t = x.X
				case *ast.IndexListExpr:
					t = x.X
				}
				if id, ok := t.(*ast.Ident); ok {
					member(id.Name, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, id := range s.Names {
							a.pkgs[pkg][id.Name] = true
						}
					case *ast.TypeSpec:
						a.pkgs[pkg][s.Name.Name] = true
						member(s.Name.Name, "") // known, maybe without members
						if repo {
							a.repoTypes[s.Name.Name] = append(a.repoTypes[s.Name.Name], pkg+"."+s.Name.Name)
						}
						var fields []*ast.Field
						switch tt := s.Type.(type) {
						case *ast.StructType:
							fields = tt.Fields.List
						case *ast.InterfaceType:
							fields = tt.Methods.List
						default:
							a.open[pkg+"."+s.Name.Name] = true // a defined type: its underlying type's members
						}
						if s.Assign.IsValid() {
							a.open[pkg+"."+s.Name.Name] = true // an alias
						}
						for _, f := range fields {
							if len(f.Names) == 0 {
								a.open[pkg+"."+s.Name.Name] = true
							}
							for _, id := range f.Names {
								member(s.Name.Name, id.Name)
							}
						}
					}
				}
			}
		}
	}
	return nil
}

// loadAPI reads the packages of the main module and of contrib/, and the
// standard library packages of knownImports.
func loadAPI(t *testing.T, root string) *api {
	t.Helper()
	a := &api{pkgs: map[string]map[string]bool{}, members: map[string]map[string]bool{}, open: map[string]bool{}, repoTypes: map[string][]string{}, results: map[string]int{}}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case rel == "internal", rel == "examples", rel == "bench", rel == "cmd", rel == "reliability",
			d.Name() == "testdata", strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		}
		return a.add(path, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	goroot := strings.TrimSpace(string(out))
	for _, path := range knownImports {
		if !strings.Contains(path, ".") {
			if err := a.add(filepath.Join(goroot, "src", path), false); err != nil {
				t.Fatal(err)
			}
		}
	}
	return a
}

var (
	codeSpanRE = regexp.MustCompile("`([^`\n]+)`")
	chainRE    = regexp.MustCompile(`^([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?`)
)

// The Go names the README and docs/*.md give in code spans exist: in
// `pkg.Name` and `pkg.Type.Member`, pkg is one of this repository's
// packages or a standard one the docs use, and in `Type.Member`, Type is
// an exported type of this repository. Other spans (file names, local
// variables, third-party packages) are not checked.
func TestDocIdentifiers(t *testing.T) {
	root := moduleRoot(t)
	a := loadAPI(t, root)
	n := 0
	for _, l := range docLines(t, root) {
		f, i, line := l.file, l.index, l.text
		for _, span := range codeSpanRE.FindAllStringSubmatch(line, -1) {
			m := chainRE.FindStringSubmatch(span[1])
			if m == nil || strings.HasPrefix(span[1][len(m[0]):], ".") {
				continue
			}
			if msg := a.check(m[1], m[2], m[3]); msg != "" {
				t.Errorf("%s:%d: `%s`: %s", f, i+1, span[1], msg)
			}
			n++
		}
	}
	t.Logf("%d code spans looked at", n)
}

// check returns what is wrong with the name x.y or x.y.z, or "". A
// lower-case y is not checked: `koa.sess` is a cookie's name.
func (a *api) check(x, y, z string) string {
	if !ast.IsExported(y) {
		return ""
	}
	if names, ok := a.pkgs[x]; ok {
		if !names[y] {
			return "package " + x + " declares no " + y
		}
		if t := x + "." + y; z != "" && ast.IsExported(z) && a.members[t] != nil && !a.open[t] && !a.members[t][z] {
			return t + " has no field or method " + z
		}
		return ""
	}
	types := a.repoTypes[x]
	if len(types) == 0 || !ast.IsExported(x) {
		return ""
	}
	for _, t := range types {
		if a.open[t] || a.members[t][y] {
			return ""
		}
	}
	return "no type " + x + " of this repository (" + strings.Join(types, ", ") + ") has a field or method " + y
}

// The tests, benchmarks and fuzz targets the README and docs/*.md name, in
// code spans (as the evidence for a claim) or in go test's -run, -bench
// and -fuzz flags (the command to rerun), exist in some _test.go file of
// the repository, nested modules included.
func TestDocTestNames(t *testing.T) {
	root := moduleRoot(t)
	funcRE := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz)[A-Z0-9_]\w*)\(`)
	defined := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcRE.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nameRE := regexp.MustCompile(`^(?:Test|Benchmark|Fuzz)[A-Z0-9_]\w*$`)
	// go test -run TestX, -test.bench '^BenchmarkX$', -fuzz FuzzX
	flagRE := regexp.MustCompile(`-(?:test\.)?(?:run|bench|fuzz)[ =]['"]?\^?((?:Test|Benchmark|Fuzz)[A-Z0-9_]\w*)`)
	n := 0
	for _, l := range docLines(t, root) {
		f, i, line := l.file, l.index, l.text
		var names []string
		for _, span := range codeSpanRE.FindAllStringSubmatch(line, -1) {
			if nameRE.MatchString(span[1]) {
				names = append(names, span[1])
			}
		}
		for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
			names = append(names, m[1])
		}
		for _, name := range names {
			n++
			if !defined[name] {
				t.Errorf("%s:%d: no test file declares func %s", f, i+1, name)
			}
		}
	}
	t.Logf("%d test names checked", n)
}

// The repository paths the README and docs/*.md give (store/redisstore,
// ./internal/testenv/cmd/withbackends, docs/bench.svg, ...) exist.
func TestDocPaths(t *testing.T) {
	root := moduleRoot(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var tops []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			tops = append(tops, regexp.QuoteMeta(e.Name()))
		}
	}
	pathRE := regexp.MustCompile(`(?:^|[\s` + "`" + `'"(=])(?:\./)?((?:` + strings.Join(tops, "|") + `)/[\w./<>|-]*)`)
	n := 0
	for _, l := range docLines(t, root) {
		f, i, line := l.file, l.index, l.text
		for _, m := range pathRE.FindAllStringSubmatch(line, -1) {
			p := strings.TrimRight(strings.TrimSuffix(m[1], "/..."), ".,:;)")
			if strings.ContainsAny(p, "<>|") {
				continue // a template: contrib/<gin|echo|fiber>
			}
			n++
			dirs := []string{root} // and go -C DIR's, for its ./paths
			for _, c := range regexp.MustCompile(`go -C (\S+)`).FindAllStringSubmatch(line, -1) {
				dirs = append(dirs, filepath.Join(root, c[1]))
			}
			if !slices.ContainsFunc(dirs, func(dir string) bool {
				_, err := os.Stat(filepath.Join(dir, p))
				return err == nil
			}) {
				t.Errorf("%s:%d: %s does not exist", f, i+1, p)
			}
		}
	}
	t.Logf("%d paths checked", n)
}
