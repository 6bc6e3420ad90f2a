// Package browsertest drives the demo app (examples/demo) in real headless
// Chromium through chromedp: sign-up, sign-in, the session counter across
// reloads and a server restart, a second browser context in the first
// one's session list, revoking it, signing out everywhere else, and
// sign-out. Each step saves a screenshot under test-output/browser/ at the
// repository root.
//
// It is a module of its own so that chromedp stays out of sessionkit's
// go.mod. Run it from this directory (make test does, through its browser
// step):
//
//	cd examples/demo/browsertest && go test -count=1 ./...
//
// It needs Debian's chromium (or SESSIONKIT_CHROMIUM naming a Chromium
// binary). Without one the test is skipped, unless
// SESSIONKIT_REQUIRE_BACKENDS is set (as in CI): then it fails.
package browsertest
