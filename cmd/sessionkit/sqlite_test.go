package main_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
)

// openApp opens a SQLite file the way an application does (sweeper
// running) and seeds it; the store stays open for the whole test, so
// every CLI command below runs in another process beside it.
func openApp(t *testing.T, path string, sessions []session) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, ss := range sessions {
		if _, err := s.Save(context.Background(), ss.key(), ss.record(t)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// busyApp keeps writing sessions of its own through s until the test
// ends, as a running application does, and fails the test if a write
// fails (the CLI beside it must never make the application's writes
// fail).
func busyApp(t *testing.T, s *sqlitestore.Store) *atomic.Int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var n atomic.Int64
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		t.Logf("the application wrote %d times while the CLI ran", n.Load())
	})
	wg.Go(func() {
		var version uint64
		for ctx.Err() == nil {
			v, err := s.Save(ctx, "app-counter", sessionkit.Record{Data: []byte("x"), Version: version, Expiry: time.Now().Add(time.Hour), UserKey: "app"})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("the application's write failed while the CLI ran: %v", err)
				}
				return
			}
			version = v
			n.Add(1)
			time.Sleep(time.Millisecond)
		}
	})
	return &n
}

// TestSQLiteWhileApplicationRuns runs every command on a SQLite file that
// an application has open and keeps writing to.
func TestSQLiteWhileApplicationRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "sessions.sqlite")
	now := time.Now()
	fx := fixture(now)
	app := openApp(t, path, fx)
	busyApp(t, app)
	url := "sqlite://" + path
	store := "--store=" + url

	type stats struct{ Sessions, Users int }
	if s := decodeJSON[stats](t, mustRun(t, 0, "stats", store, "--json")); s.Sessions < 5 || s.Users < 2 {
		t.Errorf("stats = %+v, want at least the 5 live fixture sessions of 2 users", s)
	}

	all := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json"))
	var keys []string
	for _, s := range all.Sessions {
		keys = append(keys, s.Key)
	}
	for _, s := range fx[:5] {
		if !slices.Contains(keys, s.key()) {
			t.Errorf("list lacks %s: %v", s.id, keys)
		}
	}
	if slices.Contains(keys, fx[5].key()) {
		t.Errorf("list shows the expired session")
	}
	alice := decodeJSON[listJSON](t, mustRun(t, 0, "list", store, "--json", "--user", "alice"))
	if len(alice.Sessions) != 2 {
		t.Errorf("list --user alice = %+v", alice.Sessions)
	}

	r := mustRun(t, 0, "show", store, fx[0].id)
	if !strings.Contains(r.stdout, `"apple"`) {
		t.Errorf("show:\n%s", r.stdout)
	}

	// Revocations take effect in the running application at once.
	mustRun(t, 0, "revoke", store, fx[2].id)
	if _, err := app.Load(context.Background(), fx[2].key()); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("the application still loads the revoked session: %v", err)
	}
	r = mustRun(t, 0, "revoke", store, "--user", "alice")
	if !strings.Contains(r.stdout, "revoked 2 sessions of user alice") {
		t.Errorf("revoke --user: %s", r.stdout)
	}
	if left, err := app.UserSessions(context.Background(), "alice"); err != nil || len(left) != 0 {
		t.Errorf("the application still sees alice's sessions: %v, %v", left, err)
	}

	p := decodeJSON[map[string]any](t, mustRun(t, 0, "purge", store, "--json"))
	if p["purged"] != float64(1) {
		t.Errorf("purge = %v, want 1 (the expired session)", p)
	}

	type report struct {
		OK     bool
		Checks []struct{ Name, Status, Detail string }
	}
	rep := decodeJSON[report](t, mustRun(t, 0, "doctor", url, "--json"))
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+"="+c.Status)
		if c.Name == "store" && !strings.Contains(c.Detail, "journal mode wal") {
			t.Errorf("doctor store check: %s", c.Detail)
		}
		if c.Name == "schema" && !strings.Contains(c.Detail, "3 indexes") {
			t.Errorf("doctor schema check: %s", c.Detail)
		}
	}
	if want := []string{"url=ok", "connect=ok", "store=ok", "schema=ok", "write=ok"}; !rep.OK || !slices.Equal(names, want) {
		t.Errorf("doctor checks %v (ok %v), want %v", names, rep.OK, want)
	}

	// Migrate out of the live file and back into another one.
	dir := t.TempDir()
	bolt, copyPath := filepath.Join(dir, "copy.db"), filepath.Join(dir, "copy.sqlite")
	type summary struct{ Copied, AlreadyPresent int64 }
	out := decodeJSON[summary](t, mustRun(t, 0, "migrate", "--from", url, "--to", "bolt://"+bolt, "--json"))
	if out.Copied < 2 { // the two anonymous fixture sessions and the application's own
		t.Errorf("migrate to bolt = %+v", out)
	}
	back := decodeJSON[summary](t, mustRun(t, 0, "migrate", "--from", "bolt://"+bolt, "--to", "sqlite://"+copyPath, "--json"))
	if back.Copied != out.Copied {
		t.Errorf("migrate back = %+v, want %d copied", back, out.Copied)
	}
	for _, s := range fx[3:5] {
		mustRun(t, 0, "show", "--store=sqlite://"+copyPath, s.id)
	}
}

func TestSQLiteMissingFileAndTable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.sqlite")
	r := mustRun(t, 1, "stats", "--store", "sqlite://"+missing)
	if !strings.Contains(r.stderr, "no such file") {
		t.Errorf("stats on a missing file: %s", r.stderr)
	}
	r = mustRun(t, 1, "doctor", "sqlite://"+missing)
	if !strings.Contains(r.stdout, "FAIL") {
		t.Errorf("doctor on a missing file:\n%s", r.stdout)
	}
	// An existing file without the table: doctor reports it and --fix
	// creates it.
	path := filepath.Join(t.TempDir(), "s.sqlite")
	openApp(t, path, nil).Close()
	url := "sqlite://" + path + "?table=other"
	r = mustRun(t, 1, "doctor", url)
	if !strings.Contains(r.stdout, "table other does not exist") {
		t.Errorf("doctor without the table:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "doctor", url, "--fix")
	if !strings.Contains(r.stdout, "created table other") {
		t.Errorf("doctor --fix:\n%s", r.stdout)
	}
	// A missing file: --fix creates it with its table (docs/CLI.md: only
	// migrate and doctor --fix create a missing SQLite file).
	r = mustRun(t, 0, "doctor", "sqlite://"+missing, "--fix")
	if !strings.Contains(r.stdout, "created file "+missing+" and table sessions") {
		t.Errorf("doctor --fix on a missing file:\n%s", r.stdout)
	}
	mustRun(t, 0, "stats", "--store", "sqlite://"+missing)
}

// TestPlurals checks that counts of one read as one.
func TestPlurals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sqlite")
	now := time.Now()
	openApp(t, path, []session{
		{id: "id-bob-1", user: "bob", created: now.Add(-time.Minute), expiry: now.Add(time.Hour), values: map[string]any{"n": 1}},
		{id: "id-anon-1", created: now.Add(-time.Minute), expiry: now.Add(time.Hour), values: map[string]any{}},
		{id: "id-gone", created: now.Add(-time.Hour), expiry: now.Add(-time.Minute), values: map[string]any{}},
	}).Close()
	store := "--store=sqlite://" + path
	tests := []struct {
		args     []string
		code     int
		stdout   string // in stdout
		stderr   string // in stderr
		notInAll string // in neither
	}{
		{[]string{"stats", store}, 0, "With a user  1 (1 user)", "", "1 users"},
		{[]string{"list", store, "--limit", "1"}, 0, "", "1 session shown; next page", "1 sessions"},
		{[]string{"purge", store}, 0, "purged 1 expired session\n", "", "session(s)"},
		{[]string{"purge", store}, 0, "purged 0 expired sessions\n", "", "session(s)"},
		{[]string{"revoke", store, "--user", "bob"}, 0, "revoked 1 session of user bob\n", "", "session(s)"},
		{[]string{"stats", store, "extra"}, 2, "", "stats takes no arguments (got 1 argument)", "1 arguments"},
		{[]string{"show", store, "a", "b"}, 2, "", "got 2 arguments", ""},
	}
	for _, tt := range tests {
		r := mustRun(t, tt.code, tt.args...)
		if !strings.Contains(r.stdout, tt.stdout) {
			t.Errorf("sessionkit %s: stdout lacks %q:\n%s", strings.Join(tt.args, " "), tt.stdout, r.stdout)
		}
		if !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("sessionkit %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), tt.stderr, r.stderr)
		}
		if tt.notInAll != "" && strings.Contains(r.stdout+r.stderr, tt.notInAll) {
			t.Errorf("sessionkit %s: output says %q:\n%s%s", strings.Join(tt.args, " "), tt.notInAll, r.stdout, r.stderr)
		}
	}
}

// TestJSONNotHTMLEscaped checks that --json output keeps '<', '>' and '&'
// as they are, in the stats age buckets and in session values.
func TestJSONNotHTMLEscaped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sqlite")
	now := time.Now()
	s := session{id: "id-1", user: "a&b", created: now.Add(-time.Minute), expiry: now.Add(time.Hour), values: map[string]any{"<tag>": "x > y & z"}}
	openApp(t, path, []session{s}).Close()
	store := "--store=sqlite://" + path
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"stats", store, "--json"}, []string{`"< 1h"`, `">= 30d"`, `"a&b"`}},
		{[]string{"show", store, "--json", s.id}, []string{`"<tag>": "x > y & z"`, `"user": "a&b"`}},
		{[]string{"list", store, "--json"}, []string{`"user": "a&b"`}},
	} {
		out := mustRun(t, 0, tt.args...).stdout
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("sessionkit %s lacks %s:\n%s", strings.Join(tt.args, " "), w, out)
			}
		}
		for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
			if strings.Contains(out, esc) {
				t.Errorf("sessionkit %s escapes for HTML (%s):\n%s", strings.Join(tt.args, " "), esc, out)
			}
		}
	}
}
