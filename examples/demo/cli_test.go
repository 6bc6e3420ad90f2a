package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildCLI builds the sessionkit command into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sessionkit")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "../../cmd/sessionkit")...).CombinedOutput()
	if err != nil {
		t.Fatalf("build the sessionkit command: %v\n%s", err, out)
	}
	return bin
}

// runCLI runs the sessionkit command and returns its standard output; a
// non-zero exit fails the test.
func runCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("sessionkit %s: exit %d\n%s", strings.Join(args, " "), ee.ExitCode(), stderr.String())
		}
		t.Fatal(err)
	}
	return stdout.String()
}

// TestCLIBesideRunningDemo runs the demo with its default store and, while
// it serves, the operator CLI in another process on the same file, as the
// README shows: the CLI lists the signed-in user's sessions and revokes
// them, and the running demo honours the revocations at once.
func TestCLIBesideRunningDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sessionkit command")
	}
	bin := buildCLI(t)
	data := filepath.Join(t.TempDir(), "data")
	base, _ := start(t, "-addr", "127.0.0.1:0", "-data", data)
	store := "--store=" + fileURL("sqlite", filepath.Join(data, "sessions.sqlite"))

	laptop, phone := newBrowser(t, base), newBrowser(t, base)
	laptop.signUp("Ada")
	phone.signIn("ada")
	laptop.expect(laptop.post("/counter", map[string][]string{"op": {"increment"}}), http.StatusSeeOther, "")

	var list struct {
		Sessions []struct {
			Key  string `json:"key"`
			User string `json:"user"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(runCLI(t, bin, "list", store, "--user", "ada", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 2 {
		t.Fatalf("list --user ada shows %d sessions, want 2 (laptop and phone): %+v", len(list.Sessions), list.Sessions)
	}
	var stats struct{ Sessions, Users int }
	if err := json.Unmarshal([]byte(runCLI(t, bin, "stats", store, "--json")), &stats); err != nil {
		t.Fatal(err)
	}
	if stats.Sessions != 2 || stats.Users != 1 {
		t.Errorf("stats = %+v, want 2 sessions of 1 user", stats)
	}

	// Revoke one session by key: exactly one of the two browsers is
	// signed out on its next request.
	runCLI(t, bin, "revoke", store, list.Sessions[0].Key)
	signedIn := 0
	for _, b := range []*browser{laptop, phone} {
		if r := b.get("/sessions"); r.status == http.StatusOK {
			signedIn++
		}
	}
	if signedIn != 1 {
		t.Fatalf("%d browsers still signed in after revoking one of two sessions, want 1", signedIn)
	}
	// Revoke the rest: nobody is signed in any more.
	if out := runCLI(t, bin, "revoke", store, "--user", "ada"); !strings.Contains(out, "revoked 1 session of user ada") {
		t.Errorf("revoke --user: %q", out)
	}
	for _, b := range []*browser{laptop, phone} {
		b.expect(b.get("/sessions"), http.StatusSeeOther, "")
	}
	// The demo keeps serving and writing.
	laptop.signIn("ada")
	if got := laptop.count(); got != "0" {
		t.Errorf("counter in the new session = %s, want 0", got)
	}
	runCLI(t, bin, "doctor", strings.TrimPrefix(store, "--store="))
}
