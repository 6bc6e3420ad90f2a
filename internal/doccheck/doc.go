// Package doccheck keeps the Go code in README.md and docs/*.md compiling
// against the current API. Its test extracts every ```go block from the
// Markdown at test time, writes the blocks into packages of a throw-away
// module that requires github.com/sessionkit/sessionkit and the nested
// modules the Makefile lists in NESTED, each replaced by this checkout, and
// runs go build and go vet over all of them once. Errors are reported at
// the Markdown line. The blocks are built from outside the module, as a
// reader's program is: they cannot use internal packages.
//
// A block that starts with a package clause is a program. It needs no
// marker and is vetted as written, in a directory of its own; it must be
// gofmt-formatted.
//
// Any other block is a fragment, and needs a marker on the line just above
// it:
//
//	<!-- doccheck: fragment NAME -->
//
// The fragment, statements or one expression, is compiled as the body of a
// function beside testdata/NAME.go, the preamble that declares what the
// fragment takes as given (users, sessions, a User type…). Import
// declarations at the top of the fragment are kept; other packages are
// imported by name from a fixed table (http, sessionkit, auth, gin…).
// Variables the fragment declares at its top level may stay unused. A line
// holding only "..." and a "{ ... }" are elisions, compiled as nothing.
//
// A block that cannot compile by design is skipped with a reason:
//
//	<!-- doccheck: skip REASON -->
//
// A ```go block with neither marker nor package clause fails the test, so
// a new block cannot go unchecked; so do a marker that no ```go block
// follows and a preamble that no block uses. An HTML comment does not show
// on the rendered page.
//
// More tests read the same files: every store URL they show must pass
// storeurl.Check, and every Go name they give in a code span (`pkg.Name`,
// `pkg.Type.Member`, `Type.Member`) must exist in this repository or, for
// the standard packages the docs use, in the standard library; the tests
// and benchmarks they name, and the repository paths they give, exist. The
// package-qualified names in the Go code of this repository's doc comments
// must exist too (that code is parsed, not type-checked). store/storeurl's
// own tests compare its package documentation and docs/CLI.md's table of
// URL options with what the parser reads.
package doccheck
