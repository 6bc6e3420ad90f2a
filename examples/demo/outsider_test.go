package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoProcess is the demo binary running in its own process.
type demoProcess struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	done chan error
}

// startDemo runs bin in dir, as `go run ./examples/demo` runs from a
// checkout's root, with args, and waits for the line it prints.
func startDemo(t *testing.T, bin, dir string, args ...string) *demoProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &demoProcess{cmd: cmd, done: make(chan error, 1)}
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() {
		io.Copy(io.Discard, out)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	if err != nil {
		t.Fatalf("the demo printed no line: %v", err)
	}
	// README: "the demo app on http://127.0.0.1:8080 (sessions in
	// ./data/sessions.sqlite)".
	m := regexp.MustCompile(`^sessionkit demo listening on (http://127\.0\.0\.1:\d+)/ \(sessions: sqlite://data/sessions\.sqlite\)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("the demo printed %q, want its address and sqlite://data/sessions.sqlite", line)
	}
	p.base = m[1]
	return p
}

// stop interrupts the demo as Ctrl-C does and waits for a clean exit.
func (p *demoProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("the demo did not exit cleanly on SIGINT: %v", err)
	}
}

// visitor is a browser: a cookie jar (honouring Max-Age) that does not
// follow redirects, so each answer can be checked.
type visitor struct {
	t    *testing.T
	http *http.Client
	base string
}

func newVisitor(t *testing.T, base string) *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &visitor{t: t, base: base, http: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request as a same-origin page would and returns the status,
// the Location and the body.
func (v *visitor) do(method, path string, form url.Values) (int, string, string) {
	v.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, v.base+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", v.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := v.http.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (v *visitor) expect(method, path string, form url.Values, status int, location string) string {
	v.t.Helper()
	code, loc, body := v.do(method, path, form)
	if code != status || !strings.HasPrefix(loc, location) || (location == "" && loc != "") {
		v.t.Fatalf("%s %s: %d %q, want %d %q", method, path, code, loc, status, location)
	}
	return body
}

// The demo as the README and its package doc describe it, run as a
// process of its own in a fresh directory (no data/ yet): "go run
// ./examples/demo # the demo app on http://127.0.0.1:8080 (sessions in
// ./data/sessions.sqlite)", with -addr and -metrics; "sign-up and sign-in
// ..., a counter kept in the session, a "Your sessions" page listing every
// browser signed in to the account with a way to sign each out (or all
// others at once), and flash messages"; "Every form is protected against
// cross-site requests"; sessions and accounts "survive a restart"; and
// "Interrupt it (Ctrl-C or SIGTERM) to stop".
func TestOutsiderDemoProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo")
	}
	bin := filepath.Join(t.TempDir(), "demo")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}
	dir := t.TempDir()
	p := startDemo(t, bin, dir, "-addr", "127.0.0.1:0", "-metrics")
	for _, f := range []string{"sessions.sqlite", "users.db"} {
		if _, err := os.Stat(filepath.Join(dir, "data", f)); err != nil {
			t.Errorf("data/%s: %v", f, err)
		}
	}

	laptop, phone := newVisitor(t, p.base), newVisitor(t, p.base)
	home := laptop.expect("GET", "/", nil, 200, "")
	for _, link := range []string{`href="/counter"`, `href="/signup"`, `href="/login"`} {
		if !strings.Contains(home, link) {
			t.Errorf("the home page of a visitor has no %s", link)
		}
	}
	// The counter, before any account.
	laptop.expect("POST", "/counter", url.Values{"op": {"increment"}}, 303, "/counter")
	laptop.expect("POST", "/counter", url.Values{"op": {"increment"}}, 303, "/counter")
	if body := laptop.expect("GET", "/", nil, 200, ""); !strings.Contains(body, "<strong>2</strong>") {
		t.Errorf("the counter is not at 2 after two clicks")
	}
	laptop.expect("GET", "/sessions", nil, 303, "/login")
	// Sign-up signs in, and keeps the counter.
	laptop.expect("POST", "/signup", url.Values{"username": {"alice"}, "password": {"correct horse"}, "confirm": {"correct horse"}}, 303, "/")
	if body := laptop.expect("GET", "/", nil, 200, ""); !strings.Contains(body, "Hello, alice") || !strings.Contains(body, "<strong>2</strong>") {
		t.Errorf("after sign-up the home page does not greet alice with her counter at 2")
	}
	// A wrong password is refused; the right one signs the phone in, with
	// a flash message.
	if code, _, _ := phone.do("POST", "/login", url.Values{"username": {"alice"}, "password": {"wrong password"}}); code == 303 {
		t.Errorf("a wrong password signed in")
	}
	phone.expect("POST", "/login", url.Values{"username": {"alice"}, "password": {"correct horse"}, "remember": {"1"}}, 303, "/")
	if body := phone.expect("GET", "/", nil, 200, ""); !strings.Contains(body, "Signed in as alice.") {
		t.Errorf("no flash message after sign-in")
	} else if body := phone.expect("GET", "/", nil, 200, ""); strings.Contains(body, "Signed in as alice.") {
		t.Errorf("the flash message shows twice")
	}
	// Cross-site forms are refused.
	req, _ := http.NewRequest("POST", p.base+"/counter", strings.NewReader("op=reset"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := laptop.http.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST /counter: %d, want 403", resp.StatusCode)
		}
	}

	// Both devices survive a restart.
	p.stop(t)
	p = startDemo(t, bin, dir, "-addr", strings.TrimPrefix(p.base, "http://"), "-metrics")
	sessions := laptop.expect("GET", "/sessions", nil, 200, "")
	if n := strings.Count(sessions, "<tr data-current="); n != 2 {
		t.Fatalf("Your sessions lists %d sessions after the restart, want 2 (laptop and phone)", n)
	}
	phone.expect("GET", "/sessions", nil, 200, "")
	// Sign out everywhere else: the phone is signed out, the laptop not.
	laptop.expect("POST", "/sessions/revoke-others", url.Values{}, 303, "/sessions")
	phone.expect("GET", "/sessions", nil, 303, "/login")
	sessions = laptop.expect("GET", "/sessions", nil, 200, "")
	if n := strings.Count(sessions, "<tr data-current="); n != 1 {
		t.Errorf("after signing out everywhere else, %d sessions listed, want 1", n)
	}
	// The laptop signs its own session out from the list.
	handle := regexp.MustCompile(`name="handle" value="([^"]+)"`).FindStringSubmatch(sessions)
	if handle == nil {
		t.Fatal("no sign-out form on Your sessions")
	}
	laptop.expect("POST", "/sessions/revoke", url.Values{"handle": {handle[1]}}, 303, "/login")
	laptop.expect("GET", "/sessions", nil, 303, "/login")
	// Sign in again and sign out with the logout form.
	laptop.expect("POST", "/login", url.Values{"username": {"alice"}, "password": {"correct horse"}}, 303, "/")
	laptop.expect("POST", "/logout", url.Values{}, 303, "/login")
	laptop.expect("GET", "/sessions", nil, 303, "/login")

	// -metrics: "serve the session metrics on /metrics, in the Prometheus
	// text format under contrib/prometheus's names".
	metrics := laptop.expect("GET", "/metrics", nil, 200, "")
	for _, want := range []string{"sessionkit_logins_total", "sessionkit_sessions_destroyed_total", "sessionkit_store_operations_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	p.stop(t)
}
