// Package reliability holds sessionkit's reliability suite: tests that
// drive whole requests through sessionkit.New(store).Handler over real
// HTTP and check what a user would notice — no lost updates between
// concurrent requests on every store, no acknowledged write lost when a
// backend crashes or fails over under load, a normal answer (never a 500
// or a panic) to hostile cookies and headers, and flat memory and
// goroutine counts under endless session churn.
//
// The package has no API; it exists for its tests, which run with the
// rest of the module under `make test`:
//
//	go run ./internal/testenv/cmd/withbackends -- go test -race -v ./reliability
//
// Tests that need a backend read its address with testenv.Getenv and skip
// without it (or fail under SESSIONKIT_REQUIRE_BACKENDS=1); the fault tests
// start private servers they can kill. Every test is bounded in time and
// asserts outcomes, never speed. The figures they log (-v) are collected
// in docs/RELIABILITY.md. Comparisons with other libraries, which need
// modules the main module does not require, live in bench/.
package reliability
