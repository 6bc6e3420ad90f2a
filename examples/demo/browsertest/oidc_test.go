package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/internal/testenv/oidcop"
)

// The demo's "Sign in with …" button, through a real OpenID provider
// (zitadel/oidc's op, in this process) in Chromium: the provider's login
// page, the redirect back, the account created on first sign-in, a page
// that required sign-in returned to, and sign-out.
func TestSignInWithProviderInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	root := repoRoot(t)
	out := filepath.Join(root, "test-output", "browser")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildDemo(t, root)
	addr, data := freeAddr(t), t.TempDir()
	op, err := oidcop.Start("http://" + addr + "/auth/oidc/callback")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(out, "server-oidc.log"), []byte(logs.String()), 0o644)
	})
	startDemo(t, bin, addr, data, logs,
		"-oidc-issuer", op.Issuer, "-oidc-client-id", oidcop.ClientID,
		"-oidc-client-secret", oidcop.ClientSecret, "-oidc-name", "Test ID")

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 760),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	b := &tab{t: t, ctx: ctx, base: "http://" + addr, out: out}

	// A page that needs sign-in sends the visitor to the login page,
	// which offers the provider.
	b.expectStatus(b.open("/sessions"), 200)
	b.expectAt("/login")
	b.expectText("#sign-in-oidc", "Sign in with Test ID")
	b.shot("20-login-with-provider")

	// At the provider.
	b.expectStatus(b.submit("#sign-in-oidc"), 200)
	b.expectAt("/login/username")
	b.fill("#username", oidcop.Username)
	b.fill("#password", oidcop.Password)
	b.shot("21-provider-login")
	b.expectStatus(b.submit(`button[type="submit"]`), 200)

	// Back at the demo, signed in, on the page asked for.
	b.expectAt("/sessions")
	b.expectText("#flash", "Signed in with Test ID.")
	b.expectText("#username", "alice-example.com")
	if n := b.eval(`document.querySelectorAll("#sessions tbody tr").length`); n != 1 {
		t.Fatalf("%d sessions listed, want 1", n)
	}
	if loc := b.location(); loc != "/sessions" {
		t.Fatalf("the callback left %q in the address bar", loc)
	}
	b.shot("22-signed-in-with-provider")

	// Sign out, and in again: the same account (issuer + subject).
	b.expectStatus(b.submit("#sign-out"), 200)
	b.expectAt("/login")
	b.expectText("#flash", "You are signed out.")
	b.expectStatus(b.submit("#sign-in-oidc"), 200)
	b.fill("#username", oidcop.Username)
	b.fill("#password", oidcop.Password)
	b.expectStatus(b.submit(`button[type="submit"]`), 200)
	b.expectAt("/")
	b.expectText("#username", "alice-example.com")
}
