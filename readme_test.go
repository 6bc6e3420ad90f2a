package sessionkit_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/browser"
)

// The README's quick start works exactly as written: it builds, counts a
// visitor's visits in a persistent cookie of the configured idle timeout,
// and refuses a cross-origin POST.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src := string(readme)
	i := strings.Index(src, "## Quick start")
	if i < 0 {
		t.Fatal("README has no Quick start")
	}
	start := strings.Index(src[i:], "```go\n")
	if start < 0 {
		t.Fatal("Quick start has no Go block")
	}
	code := src[i+start+len("```go\n"):]
	code = code[:strings.Index(code, "```")]
	const addr = "127.0.0.1:8080"
	if !strings.Contains(code, addr) {
		t.Fatalf("the quick start no longer listens on %s; update this test", addr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	l.Close()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(strings.Replace(code, addr, free, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "quickstart")
	build := exec.Command("go", "build", "-o", bin, filepath.Join(dir, "main.go"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's quick start does not build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("quickstart:", sc.Text())
		}
	}()
	c, err := browser.NewClient("http://"+free, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, body, err = c.Do("GET", "/"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		if want := "visit number " + string(rune('0'+n)); body != want {
			t.Fatalf("visit %d: %q, want %q", n, body, want)
		}
		ck := sessionCookie(resp, "session")
		if ck == nil || ck.MaxAge != 1800 || !ck.HttpOnly {
			t.Fatalf("visit %d: Set-Cookie %v, want an HttpOnly cookie with Max-Age=1800", n, ck)
		}
		if n == 3 {
			break
		}
		// The next write must move the expiry by at least the
		// millisecond stores keep, or there is no new expiry to send.
		time.Sleep(5 * time.Millisecond)
		if resp, body, err = c.Do("GET", "/"); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("POST", "http://"+free+"/", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	cross, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cross.Body.Close()
	if cross.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %s, want 403", cross.Status)
	}
}
