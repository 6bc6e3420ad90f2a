package doccheck

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Markdown files whose Go blocks are checked, relative to the root.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, f := range files {
		out = append(out, strings.TrimPrefix(f, root+string(filepath.Separator)))
	}
	return out
}

// docLine is one line of a Markdown file docFiles lists: index counts
// from 0.
type docLine struct {
	file  string
	index int
	text  string
}

// docLines returns every line of the files docFiles lists.
func docLines(t *testing.T, root string) []docLine {
	t.Helper()
	var out []docLine
	for _, f := range docFiles(t, root) {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			out = append(out, docLine{file: f, index: i, text: line})
		}
	}
	return out
}

// moduleRoot returns the directory of the main module's go.mod, above
// the test's working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			regexp.MustCompile(`(?m)^module github\.com/sessionkit/sessionkit$`).Match(b) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no github.com/sessionkit/sessionkit go.mod above the working directory")
		}
		dir = parent
	}
}

// nestedModules returns the Makefile's NESTED modules: their directories
// and module paths.
func nestedModules(t *testing.T, root string) map[string]string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^NESTED\s*=(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile has no NESTED = line")
	}
	mods := map[string]string{}
	for _, dir := range strings.Fields(string(m[1])) {
		b, err := os.ReadFile(filepath.Join(root, dir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		p := regexp.MustCompile(`(?m)^module (\S+)$`).FindSubmatch(b)
		if p == nil {
			t.Fatalf("%s/go.mod has no module line", dir)
		}
		mods[dir] = string(p[1])
	}
	return mods
}

// Every ```go block of README.md and docs/*.md compiles and passes go vet
// against this checkout, as a reader outside the module would build it:
// programs as written, fragments inside a function beside their
// preamble (testdata/NAME.go). See the package doc for the markers.
func TestDocBlocksCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet over a generated module")
	}
	root := moduleRoot(t)
	var blocks []Block
	for _, f := range docFiles(t, root) {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		bs, err := Extract(f, src)
		if err != nil {
			t.Error(err)
		}
		blocks = append(blocks, bs...)
	}

	preambles, err := filepath.Glob("testdata/*.go")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, b := range blocks {
		if b.Kind == Fragment {
			used[b.Preamble] = true
		}
	}
	for _, p := range preambles {
		if name := strings.TrimSuffix(filepath.Base(p), ".go"); !used[name] {
			t.Errorf("%s: no doc block uses this preamble; delete it", p)
		}
	}

	dir := t.TempDir()
	writeModule(t, root, dir)
	type pkgInfo struct {
		name     string
		declared map[string]bool
	}
	pkgs := map[string]pkgInfo{}
	checked, skipped := 0, 0
	for i, b := range blocks {
		abs := filepath.Join(root, b.File)
		switch b.Kind {
		case Skip:
			t.Logf("%s: skipped: %s", b, b.Reason)
			skipped++
			continue
		case Program:
			if !gofmtOK(b.Code) {
				t.Errorf("%s: the program is not gofmt-formatted", b)
			}
			src := fmt.Sprintf("//line %s:%d\n%s", abs, b.Line, b.Code)
			write(t, filepath.Join(dir, fmt.Sprintf("program%d", i), "main.go"), []byte(src))
		case Fragment:
			pi, ok := pkgs[b.Preamble]
			if !ok {
				path := filepath.Join("testdata", b.Preamble+".go")
				name, declared, err := Preamble(path)
				if err != nil {
					t.Errorf("%s: preamble %s: %v", b, b.Preamble, err)
					continue
				}
				pi = pkgInfo{name, declared}
				pkgs[b.Preamble] = pi
				src, _ := os.ReadFile(path)
				abs, _ := filepath.Abs(path)
				write(t, filepath.Join(dir, b.Preamble, "preamble.go"), append([]byte("//line "+abs+":1\n"), src...))
			}
			src, err := FragmentFile(pi.name, abs, b, pi.declared)
			if err != nil {
				t.Error(err)
				continue
			}
			write(t, filepath.Join(dir, b.Preamble, fmt.Sprintf("block%d.go", i)), src)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no Go block to check")
	}
	goCmd := func(args ...string) ([]byte, error) {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		return bytes.ReplaceAll(out, []byte(root+string(filepath.Separator)), nil), err
	}
	if out, err := goCmd("vet", "./..."); err != nil {
		// go vet stops at a package's first compile error; go build
		// -gcflags=-e lists them all.
		if all, err := goCmd("build", "-gcflags=-e", "./..."); err != nil {
			out = all
		}
		t.Errorf("go vet over the doc blocks: %v\n%s", err, out)
	}
	t.Logf("%d Go blocks checked, %d skipped", checked, skipped)
}

// writeModule writes dir/go.mod and dir/go.sum of a module that requires
// the main module and the NESTED ones, replaced by this checkout, with the
// checksums those modules already record.
func writeModule(t *testing.T, root, dir string) {
	t.Helper()
	main, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(main)
	if goVersion == nil {
		t.Fatal("go.mod has no go line")
	}
	var mod bytes.Buffer
	fmt.Fprintf(&mod, "module doccheck\n\ngo %s\n\n", goVersion[1])
	replace := map[string]string{"github.com/sessionkit/sessionkit": root}
	sums := []string{filepath.Join(root, "go.sum")}
	for d, path := range nestedModules(t, root) {
		replace[path] = filepath.Join(root, d)
		sums = append(sums, filepath.Join(root, d, "go.sum"))
	}
	for _, p := range slices.Sorted(maps.Keys(replace)) {
		fmt.Fprintf(&mod, "require %s v0.0.0\n\nreplace %s => %s\n\n", p, p, replace[p])
	}
	write(t, filepath.Join(dir, "go.mod"), mod.Bytes())
	var lines []string
	for _, s := range sums {
		b, err := os.ReadFile(s)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	slices.Sort(lines)
	write(t, filepath.Join(dir, "go.sum"), []byte(strings.Join(slices.Compact(lines), "\n")+"\n"))
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
