package doccheck

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Kind says how a block is checked.
type Kind int

const (
	Program  Kind = iota + 1 // a package main of its own
	Fragment                 // statements or an expression next to a preamble
	Skip                     // not checked, for Reason
)

// Block is one ```go block of a Markdown file.
type Block struct {
	File     string // as given to Extract
	Line     int    // line of the block's first code line, from 1
	Code     string // the code, without the fence's indentation
	Kind     Kind
	Preamble string // Fragment: the preamble's name
	Reason   string // Skip: why
}

func (b Block) String() string { return fmt.Sprintf("%s:%d", b.File, b.Line) }

var markerRE = regexp.MustCompile(`^<!--\s*doccheck:\s*(.*?)\s*-->$`)

// Extract returns the ```go blocks of the Markdown src, read from file,
// classified by their markers. Every problem is returned, one a line: a
// ```go block with no marker and no package clause, a malformed marker, a
// marker that no ```go block follows, an unclosed fence.
func Extract(file string, src []byte) ([]Block, error) {
	lines := strings.Split(string(src), "\n")
	var (
		blocks []Block
		errs   []string
	)
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: ", file, line)+fmt.Sprintf(format, args...))
	}
	pending, pendingLine := "", 0 // a marker waiting for its block
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if m := markerRE.FindStringSubmatch(trimmed); m != nil {
			if pending != "" {
				fail(pendingLine, "doccheck marker not followed by a ```go block")
			}
			pending, pendingLine = m[1], i+1
			continue
		}
		if strings.HasPrefix(trimmed, "<!--") && strings.Contains(trimmed, "doccheck") {
			fail(i+1, "malformed doccheck marker %q: want <!-- doccheck: ... --> on one line", trimmed)
			continue
		}
		fence, info, indent, ok := openFence(lines[i])
		if !ok {
			if pending != "" && trimmed != "" {
				fail(pendingLine, "doccheck marker not followed by a ```go block")
				pending = ""
			}
			continue
		}
		start := i + 1
		var code []string
		closed := false
		for i++; i < len(lines); i++ {
			if t := strings.TrimSpace(lines[i]); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				closed = true
				break
			}
			code = append(code, trimIndent(lines[i], indent))
		}
		if !closed {
			fail(start, "unclosed code fence")
			break
		}
		marker := pending
		pending = ""
		if lang, _, _ := strings.Cut(info, " "); lang != "go" {
			if marker != "" {
				fail(pendingLine, "doccheck marker on a %q block, not a ```go block", info)
			}
			continue
		}
		b := Block{File: file, Line: start + 1, Code: strings.Join(code, "\n") + "\n"}
		verb, arg, _ := strings.Cut(marker, " ")
		arg = strings.TrimSpace(arg)
		switch {
		case marker == "" && isProgram(b.Code):
			b.Kind = Program
		case marker == "":
			fail(start, "```go block with neither a package clause nor a doccheck marker (see internal/doccheck)")
			continue
		case verb == "fragment" && regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(arg):
			b.Kind, b.Preamble = Fragment, arg
		case verb == "skip" && arg != "":
			b.Kind, b.Reason = Skip, arg
		default:
			fail(pendingLine, "doccheck marker %q: want \"fragment NAME\" (lower-case NAME) or \"skip REASON\"", marker)
			continue
		}
		blocks = append(blocks, b)
	}
	if pending != "" {
		fail(pendingLine, "doccheck marker not followed by a ```go block")
	}
	if len(errs) > 0 {
		return blocks, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return blocks, nil
}

// openFence reports whether line opens a fenced code block, and returns
// its fence (``` or ~~~, as long as written), info string and indentation.
func openFence(line string) (fence, info, indent string, ok bool) {
	rest := strings.TrimLeft(line, " \t")
	indent = line[:len(line)-len(rest)]
	for _, c := range []string{"`", "~"} {
		n := len(rest) - len(strings.TrimLeft(rest, c))
		if n >= 3 {
			return rest[:n], strings.TrimSpace(rest[n:]), indent, true
		}
	}
	return "", "", "", false
}

// trimIndent removes up to len(indent) leading blanks, as Markdown does
// for the lines of an indented fence.
func trimIndent(line, indent string) string {
	for range len(indent) {
		if line == "" || (line[0] != ' ' && line[0] != '\t') {
			break
		}
		line = line[1:]
	}
	return line
}

func isProgram(code string) bool {
	for _, l := range strings.Split(code, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "//") {
			continue
		}
		return strings.HasPrefix(l, "package ")
	}
	return false
}

// Imports by package name, for fragments that use a package without
// importing it. A fragment's own import declarations come first.
var knownImports = map[string]string{
	"context": "context",
	"errors":  "errors",
	"fmt":     "fmt",
	"io":      "io",
	"json":    "encoding/json",
	"log":     "log",
	"slog":    "log/slog",
	"http":    "net/http",
	"os":      "os",
	"sql":     "database/sql",
	"strconv": "strconv",
	"strings": "strings",
	"time":    "time",
	"url":     "net/url",

	"sessionkit":    "github.com/sessionkit/sessionkit",
	"auth":          "github.com/sessionkit/sessionkit/auth",
	"password":      "github.com/sessionkit/sessionkit/auth/password",
	"express":       "github.com/sessionkit/sessionkit/compat/express",
	"koa":           "github.com/sessionkit/sessionkit/compat/koa",
	"cookiesession": "github.com/sessionkit/sessionkit/compat/cookiesession",
	"boltstore":     "github.com/sessionkit/sessionkit/store/boltstore",
	"cookiestore":   "github.com/sessionkit/sessionkit/store/cookiestore",
	"memstore":      "github.com/sessionkit/sessionkit/store/memstore",
	"mongostore":    "github.com/sessionkit/sessionkit/store/mongostore",
	"mysqlstore":    "github.com/sessionkit/sessionkit/store/mysqlstore",
	"pgstore":       "github.com/sessionkit/sessionkit/store/pgstore",
	"redisstore":    "github.com/sessionkit/sessionkit/store/redisstore",
	"sqlitestore":   "github.com/sessionkit/sessionkit/store/sqlitestore",
	"storeurl":      "github.com/sessionkit/sessionkit/store/storeurl",

	"chi":        "github.com/go-chi/chi/v5",
	"mux":        "github.com/gorilla/mux",
	"gin":        "github.com/gin-gonic/gin",
	"echo":       "github.com/labstack/echo/v5",
	"fiber":      "github.com/gofiber/fiber/v3",
	"prometheus": "github.com/prometheus/client_golang/prometheus",
}

var elisionRE = regexp.MustCompile(`\{\s*\.\.\.\s*\}`)

// FragmentFile returns the source of a file of package pkg that compiles
// the fragment b as the body of a function, with //line comments that
// point at b's Markdown lines (file is the path they name). declared holds
// the package-level names of the preamble, which are never imports.
func FragmentFile(pkg, file string, b Block, declared map[string]bool) ([]byte, error) {
	lines := strings.Split(strings.TrimRight(b.Code, "\n"), "\n")
	// Leading import declarations move to the file's import block.
	var imports []string
	first := 0
	for first < len(lines) {
		l := strings.TrimSpace(lines[first])
		switch {
		case l == "" || strings.HasPrefix(l, "//"):
			first++
			continue
		case l == "import (":
			end := first
			for end < len(lines) && strings.TrimSpace(lines[end]) != ")" {
				end++
			}
			imports = append(imports, lines[first+1:min(end, len(lines))]...)
			first = end + 1
			continue
		case strings.HasPrefix(l, "import "):
			imports = append(imports, strings.TrimPrefix(l, "import "))
			first++
			continue
		}
		break
	}
	body := make([]string, len(lines))
	for i, l := range lines {
		switch {
		case i < first:
			body[i] = "" // keeps the line numbers
		case strings.TrimSpace(l) == "...":
			body[i] = "// ..."
		default:
			body[i] = elisionRE.ReplaceAllString(l, "{ /* ... */ }")
		}
	}
	if e, err := parser.ParseExpr(strings.Join(body, "\n")); err == nil && e != nil {
		for i, l := range body {
			if strings.TrimSpace(l) != "" {
				body[i] = "_ = " + strings.TrimLeft(l, " \t")
				break
			}
		}
	}
	code := strings.Join(body, "\n")

	// Parse once without imports to learn the top-level declarations and
	// the unresolved names.
	fset := token.NewFileSet()
	probe := "package p\nfunc _() {\n" + code + "\n}\n"
	f, err := parser.ParseFile(fset, "", probe, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b, shiftErr(err, b.Line-3))
	}
	fn := f.Decls[0].(*ast.FuncDecl)
	var uses []string
	for _, st := range fn.Body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, e := range st.Lhs {
					if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
						uses = append(uses, id.Name)
					}
				}
			}
		case *ast.DeclStmt:
			if gd, ok := st.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, s := range gd.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						if id.Name != "_" {
							uses = append(uses, id.Name)
						}
					}
				}
			}
		}
	}
	imported := map[string]bool{}
	for _, spec := range imports {
		name, path, ok := importName(spec)
		if !ok {
			return nil, fmt.Errorf("%s: cannot read import %q", b, spec)
		}
		imported[name] = true
		_ = path
	}
	var auto []string
	for _, id := range f.Unresolved {
		if path, ok := knownImports[id.Name]; ok && !declared[id.Name] && !imported[id.Name] {
			imported[id.Name] = true
			auto = append(auto, strconv.Quote(path))
		}
	}
	slices.Sort(auto)

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "package %s\n\nimport (\n", pkg)
	for _, s := range append(imports, auto...) {
		fmt.Fprintf(&buf, "\t%s\n", strings.TrimSpace(s))
	}
	fmt.Fprintf(&buf, ")\n\nfunc _() {\n//line %s:%d\n%s\n", file, b.Line, code)
	for _, u := range slices.Compact(slices.Sorted(slices.Values(uses))) {
		fmt.Fprintf(&buf, "\t_ = %s\n", u)
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// importName returns the name an import spec binds, and its path.
func importName(spec string) (name, path string, ok bool) {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\nimport "+spec+"\n", parser.ImportsOnly)
	if err != nil || len(f.Imports) != 1 {
		return "", "", false
	}
	is := f.Imports[0]
	path, _ = strconv.Unquote(is.Path.Value)
	if is.Name != nil {
		return is.Name.Name, path, true
	}
	for name, p := range knownImports {
		if p == path {
			return name, path, true
		}
	}
	return filepath.Base(path), path, true
}

// shiftErr renumbers the lines of a parse error by delta.
func shiftErr(err error, delta int) string {
	return regexp.MustCompile(`^(\d+):`).ReplaceAllStringFunc(strings.TrimPrefix(err.Error(), ":"), func(s string) string {
		n, _ := strconv.Atoi(strings.TrimSuffix(s, ":"))
		return fmt.Sprintf("line %d:", n+delta)
	})
}

// Preamble reads the preamble file path and returns its package name and
// the names it declares at package level.
func Preamble(path string) (pkg string, declared map[string]bool, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
	if err != nil {
		return "", nil, err
	}
	declared = map[string]bool{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				declared[d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					for _, id := range s.Names {
						declared[id.Name] = true
					}
				case *ast.TypeSpec:
					declared[s.Name.Name] = true
				}
			}
		}
	}
	return f.Name.Name, declared, nil
}

// gofmtOK reports whether src is gofmt-formatted; used by the test to
// keep the doc blocks readable as written.
func gofmtOK(src string) bool {
	out, err := format.Source([]byte(src))
	return err == nil && string(out) == src
}
