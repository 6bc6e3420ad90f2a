package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	username = "alice"
	pass     = "correct horse battery"
	// stepTimeout bounds each browser step.
	stepTimeout = 30 * time.Second
)

// chromiumPath finds the browser, skipping the test (or failing it when
// SESSIONKIT_REQUIRE_BACKENDS is set) when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SESSIONKIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found (install it with: apt-get install chromium, or set SESSIONKIT_CHROMIUM)"
	if os.Getenv("SESSIONKIT_REQUIRE_BACKENDS") != "" {
		t.Fatal(msg + "; SESSIONKIT_REQUIRE_BACKENDS is set")
	}
	t.Skip(msg)
	return ""
}

// repoRoot is the sessionkit module's directory, three levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.HasPrefix(gomod, []byte("module github.com/sessionkit/sessionkit\n")) {
		t.Fatalf("%s is not the sessionkit module (%v)", root, err)
	}
	return root
}

// buildDemo compiles the demo binary the way a user would run it.
func buildDemo(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/demo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/demo: %v\n%s", err, out)
	}
	return bin
}

// buildCLI builds the sessionkit operator command.
func buildCLI(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sessionkit")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sessionkit")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sessionkit: %v\n%s", err, out)
	}
	return bin
}

// runCLI runs the sessionkit command and returns its output; a failure
// fails the test.
func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sessionkit %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects the server's log output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running demo process.
type server struct {
	cmd  *exec.Cmd
	done chan error
	logs *lockedBuffer
}

// startDemo starts the binary and waits until it prints its URL.
func startDemo(t *testing.T, bin, addr, data string, logs *lockedBuffer, flags ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", addr, "-data", data}, flags...)...)
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), logs: logs}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		// Wait only after stdout is drained, as os/exec requires.
		for range lines {
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case line, ok := <-lines:
		if !ok || !strings.Contains(line, "http://"+addr+"/") {
			t.Fatalf("demo did not start (first line %q); logs:\n%s", line, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("demo did not print its URL within 30s; logs:\n%s", logs)
	}
	return s
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil || s.done == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done = nil
		if err != nil {
			t.Errorf("demo exited with %v after SIGTERM; logs:\n%s", err, s.logs)
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.done = nil
		t.Errorf("demo did not stop within 20s of SIGTERM")
	}
}

// tab is one browser tab, in its own browser context (cookie jar).
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	out  string // screenshot directory
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (at %s)", what, err, b.location())
	}
}

// open navigates to a path of the demo and returns the final status.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// submit clicks a button that submits a form and waits for the next page;
// it returns that page's status.
func (b *tab) submit(sel string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("click %s: %v (at %s)", sel, err, b.location())
	}
	return resp.Status
}

func (b *tab) reload() int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Reload())
	if err != nil {
		b.t.Fatalf("reload: %v", err)
	}
	return resp.Status
}

// fill replaces an input's value by typing into it.
func (b *tab) fill(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel,
		chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v (at %s)", sel, err, b.location())
	}
	return strings.TrimSpace(s)
}

func (b *tab) eval(expr string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return n
}

// location returns the current path and query.
func (b *tab) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.RequestURI()
}

// expectAt checks the current page's path (query ignored).
func (b *tab) expectAt(path string) {
	b.t.Helper()
	loc := b.location()
	if p, _, _ := strings.Cut(loc, "?"); p != path {
		b.t.Fatalf("at %s, want %s", loc, path)
	}
}

func (b *tab) expectText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s says %q, want %q (at %s)", sel, got, want, b.location())
	}
}

func (b *tab) expectStatus(got, want int64) {
	b.t.Helper()
	if got != want {
		b.t.Fatalf("status %d, want %d (at %s)", got, want, b.location())
	}
}

// shot saves a full-page screenshot as PNG.
func (b *tab) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.out, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) signIn(name string) int64 {
	b.t.Helper()
	b.fill("#username-input", name)
	b.fill("#password-input", pass)
	return b.submit("#submit")
}

func TestDemoInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	root := repoRoot(t)
	out := filepath.Join(root, "test-output", "browser")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildDemo(t, root)
	addr, data := freeAddr(t), t.TempDir()
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(out, "server.log"), []byte(logs.String()), 0o644)
	})
	srv := startDemo(t, bin, addr, data, logs)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 760),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // starts Chromium
		t.Fatalf("start %s: %v", chromium, err)
	}
	newTab := func() *tab {
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		// The first call makes the tab; it lives as long as the context
		// of that call, so it must not be a per-step timeout.
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("new browser context: %v", err)
		}
		return &tab{t: t, ctx: ctx, base: "http://" + addr, out: out}
	}
	laptop := newTab()

	// Signed out, then sign-up with a typo, then for real.
	laptop.expectStatus(laptop.open("/"), 200)
	laptop.shot("01-home-signed-out")
	laptop.expectStatus(laptop.open("/signup"), 200)
	laptop.fill("#username-input", username)
	laptop.fill("#password-input", pass)
	laptop.fill("#confirm-input", pass+"!")
	laptop.expectStatus(laptop.submit("#submit"), 422)
	laptop.expectText("#confirm-error", "The two passwords differ.")
	laptop.shot("02-sign-up-error")
	laptop.fill("#password-input", pass)
	laptop.fill("#confirm-input", pass)
	laptop.expectStatus(laptop.submit("#submit"), 200)
	laptop.expectAt("/")
	laptop.expectText("#flash", "Welcome, alice!")
	laptop.expectText("#username", username)
	laptop.shot("03-home-signed-in")

	// Sign out and back in.
	laptop.expectStatus(laptop.submit("#sign-out"), 200)
	laptop.expectAt("/login")
	laptop.expectText("#flash", "You are signed out.")
	laptop.shot("04-signed-out")
	laptop.fill("#username-input", username)
	laptop.fill("#password-input", "not my password")
	laptop.expectStatus(laptop.submit("#submit"), 422)
	laptop.expectText("#login-error", "Invalid username or password.")
	laptop.shot("05-sign-in-error")
	laptop.expectStatus(laptop.signIn(username), 200)
	laptop.expectAt("/")
	laptop.expectText("#flash", "Signed in as alice.")

	// The counter lives in the session: reloads and a restart keep it.
	laptop.expectStatus(laptop.open("/counter"), 200)
	laptop.expectText("#count", "0")
	for range 3 {
		laptop.expectStatus(laptop.submit("#increment"), 200)
	}
	laptop.expectText("#count", "3")
	laptop.expectStatus(laptop.reload(), 200)
	laptop.expectText("#count", "3")
	laptop.shot("06-counter")

	srv.stop(t)
	if t.Failed() {
		t.FailNow()
	}
	startDemo(t, bin, addr, data, logs) // stopped by its t.Cleanup
	laptop.expectStatus(laptop.reload(), 200)
	laptop.expectText("#count", "3")
	laptop.expectText("#username", username)
	laptop.expectStatus(laptop.submit("#increment"), 200)
	laptop.expectText("#count", "4")
	laptop.shot("07-counter-after-restart")

	// A second, independent browser signs in; the first one sees it.
	phone := newTab()
	phone.expectStatus(phone.open("/sessions"), 200)
	phone.expectAt("/login")
	phone.expectText("#login-required", "Please sign in to see that page.")
	phone.shot("08-sign-in-required")
	phone.expectStatus(phone.signIn(username), 200)
	phone.expectAt("/sessions")

	laptop.expectStatus(laptop.open("/sessions"), 200)
	if n := laptop.eval(`document.querySelectorAll("#sessions tbody tr").length`); n != 2 {
		t.Fatalf("%d sessions listed, want 2", n)
	}
	laptop.expectText(`tr[data-current="true"] .badge`, "This device")
	laptop.expectText(`tr[data-current="false"] .ua`, "Headless Chrome")
	laptop.shot("09-sessions-two-devices")

	// Revoking the phone's session sends it to the sign-in page.
	laptop.expectStatus(laptop.submit(`tr[data-current="false"] button`), 200)
	laptop.expectAt("/sessions")
	laptop.expectText("#flash", "That device is signed out.")
	if n := laptop.eval(`document.querySelectorAll("#sessions tbody tr").length`); n != 1 {
		t.Fatalf("%d sessions listed after revoking, want 1", n)
	}
	laptop.shot("10-sessions-revoked")
	phone.expectStatus(phone.reload(), 200)
	phone.expectAt("/login")
	phone.shot("11-revoked-device")

	// Sign out everywhere else.
	phone.expectStatus(phone.signIn(username), 200)
	phone.expectAt("/sessions")
	laptop.expectStatus(laptop.reload(), 200)
	laptop.expectStatus(laptop.submit("#revoke-others"), 200)
	laptop.expectText("#flash", "Signed out 1 other device.")
	phone.expectStatus(phone.open("/counter"), 200)
	phone.expectStatus(phone.open("/sessions"), 200)
	phone.expectAt("/login")

	// The operator CLI, another process on the demo's session file (the
	// README's command), signs the user out everywhere while the demo
	// runs; the browser is sent to sign in on its next page.
	cli := buildCLI(t, root)
	store := "sqlite://" + filepath.Join(data, "sessions.sqlite")
	if out := runCLI(t, cli, "--store", store, "list", "--user", username); !strings.Contains(out, username) {
		t.Fatalf("sessionkit list --user %s:\n%s", username, out)
	}
	if out := runCLI(t, cli, "--store", store, "revoke", "--user", username); !strings.Contains(out, "revoked 1 session of user "+username) {
		t.Fatalf("sessionkit revoke --user %s: %s", username, out)
	}
	laptop.expectStatus(laptop.reload(), 200)
	laptop.expectAt("/login")
	laptop.shot("12-revoked-by-operator")
	laptop.expectStatus(laptop.signIn(username), 200)

	// Sign-out ends the session.
	laptop.expectStatus(laptop.submit("#sign-out"), 200)
	laptop.expectAt("/login")
	laptop.expectStatus(laptop.open("/sessions"), 200)
	laptop.expectAt("/login")
	laptop.expectStatus(laptop.open("/counter"), 200)
	laptop.expectText("#count", "0")

	laptop.expectStatus(laptop.open("/no/such/page"), 404)
	laptop.shot("13-not-found")

	// A form on another site that posts to the demo is refused.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Another site</title>
<form method="post" action="http://%s/counter"><input type="hidden" name="op" value="increment">
<button id="attack" type="submit">Win a prize</button></form>`, addr)
	}))
	defer other.Close()
	attacker := &tab{t: t, ctx: laptop.ctx, base: other.URL, out: out}
	attacker.expectStatus(attacker.open("/"), 200)
	attacker.expectStatus(attacker.submit("#attack"), 403)
	attacker.expectText("main", "sent from another site")
	attacker.shot("14-cross-site-refused")
	laptop.expectStatus(laptop.open("/counter"), 200)
	laptop.expectText("#count", "0")
}
