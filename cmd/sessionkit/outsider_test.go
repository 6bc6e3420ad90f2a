package main_test

// Outside-in checks of docs/CLI.md, run against real stores: each test
// quotes the sentences it pins.

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// mysqlBase is the test server's mysql:// URL with no options.
func mysqlBase(t *testing.T) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(testenv.Getenv(t, testenv.MySQLDSNEnv))
	if err != nil {
		t.Fatal(err)
	}
	u := &url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName, User: url.User(cfg.User)}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	}
	return u.String()
}

// "A malformed URL is a usage error (exit code 2) whose message names the
// scheme and what is wrong; passwords are shown as xxxxx."
func TestOutsiderMalformedURLs(t *testing.T) {
	const pw = "s3cretpw"
	for _, tc := range []struct {
		url, scheme, wrong string
	}{
		{"redis://u:" + pw + "@host:port/0", "redis", "port"},
		{"rediss://u:" + pw + "@host/zero", "rediss", "database"},
		{"postgres://u:" + pw + "@host:port/db", "postgres", "port"},
		{"postgresql://u:" + pw + "@host/db?table=1-bad", "postgres", "table"},
		{"mysql://u:" + pw + "@host:port/db", "mysql", "port"},
		{"mysql://u:" + pw + "@[::1/db", "mysql", "missing ']'"},
		{"mariadb://u:" + pw + "@host/db?table=no way", "mysql", "table"},
		{"mongodb://u:" + pw + "@host:port/db", "mongodb", "port"},
		{"sqlite://" + filepath.Join(t.TempDir(), "s.sqlite") + "?synchronous=sometimes", "sqlite", "synchronous"},
		{"bolt://" + filepath.Join(t.TempDir(), "s.db") + "?lock_timeout=soon", "bolt", "lock_timeout"},
		{"memory://?max_entries=lots", "memory", "max_entries"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			for _, args := range [][]string{
				{"--store", tc.url, "stats"},
				{"doctor", tc.url},
				{"migrate", "--from", tc.url, "--to", "memory://"},
			} {
				r := cli(t, nil, args...)
				if r.code != 2 {
					t.Errorf("%q: exit %d, want 2\nstderr: %s", args, r.code, r.stderr)
				}
				if !strings.Contains(r.stderr, tc.scheme) || !strings.Contains(r.stderr, tc.wrong) {
					t.Errorf("%q: stderr does not name the scheme %q and what is wrong (%q):\n%s", args, tc.scheme, tc.wrong, r.stderr)
				}
				if strings.Contains(r.stderr, pw) || strings.Contains(r.stdout, pw) {
					t.Errorf("%q: the password is shown:\n%s", args, r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("%q: stdout %q, want nothing", args, r.stdout)
				}
			}
		})
	}
}

// "Only migrate (on its target) and doctor --fix create a missing table,
// bolt or SQLite file, ...; every other command reports it instead", with
// exit code 1 ("the operation failed: ... store error"); doctor then
// still finds it missing ("Exits 1 if any check failed").
func TestOutsiderMissingTableReported(t *testing.T) {
	stores := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite") }},
		{"bolt", func(t *testing.T) string { return "bolt://" + filepath.Join(t.TempDir(), "s.db") }},
		{"postgres", func(t *testing.T) string { return missingTable(t, testenv.Getenv(t, testenv.PostgresURLEnv)) }},
		{"mysql", func(t *testing.T) string { return missingTable(t, mysqlBase(t)) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			u := st.url(t)
			for _, args := range [][]string{
				{"stats"}, {"list"}, {"list", "--user", "alice"}, {"show", "abc"},
				{"revoke", "abc"}, {"revoke", "--user", "alice"}, {"purge"},
			} {
				r := cli(t, nil, append([]string{"--store", u}, args...)...)
				if r.code != 1 {
					t.Errorf("%v: exit %d, want 1\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
				}
				if !strings.Contains(r.stderr, "not exist") && !strings.Contains(r.stderr, "no such file") {
					t.Errorf("%v: stderr does not say what is missing:\n%s", args, r.stderr)
				}
			}
			r := cli(t, nil, "doctor", "--no-write", u)
			if r.code != 1 || !strings.Contains(r.stdout, "FAIL") {
				t.Errorf("doctor after the other commands: exit %d, want 1 and a FAIL (they must not have created it)\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = cli(t, nil, "doctor", "--fix", u)
			if r.code != 0 || !strings.Contains(r.stdout, "fix") {
				t.Errorf("doctor --fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if r := cli(t, nil, "--store", u, "stats"); r.code != 0 {
				t.Errorf("stats after doctor --fix: exit %d\n%s", r.code, r.stderr)
			}
		})
	}
}

// missingTable returns base with a fresh table name that does not exist;
// whatever creates it, it is dropped when the test ends.
func missingTable(t *testing.T, base string) string {
	t.Helper()
	u := withParam(base, "table", uniqueName("skmiss_"))
	t.Cleanup(func() {
		s, err := storeurl.Open(context.Background(), u, storeurl.Options{NoCreate: true, NoSweeper: true})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		if d, ok := s.(interface{ DropTable(context.Context) error }); ok {
			if err := d.DropTable(context.Background()); err != nil {
				t.Error(err)
			}
		}
	})
	return u
}

// Exit code 3: "not found: show/revoke of a session that does not exist,
// revoke --user of a user without sessions"; with --json "errors stay
// plain text on stderr", and stdout stays empty.
func TestOutsiderNotFoundOnEveryStore(t *testing.T) {
	stores := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string {
			u := "sqlite://" + filepath.Join(t.TempDir(), "s.sqlite")
			mustRun(t, 0, "doctor", "--fix", u)
			return u
		}},
		{"bolt", func(t *testing.T) string {
			u := "bolt://" + filepath.Join(t.TempDir(), "s.db")
			mustRun(t, 0, "doctor", "--fix", u)
			return u
		}},
		{"postgres", func(t *testing.T) string { u, _ := postgresURL(t); return u }},
		{"mysql", func(t *testing.T) string {
			u := mysqlURL(t)
			mustRun(t, 0, "doctor", "--fix", u)
			return u
		}},
		{"redis", func(t *testing.T) string { u, _ := redisURL(t); return u }},
	}
	const id = "2jmj7l5rSw0yVb_vlWAYkK_YBwkLrQ0mbG2VfQjYWnU"
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			u := st.url(t)
			for _, args := range [][]string{
				{"show", id}, {"revoke", id}, {"revoke", "--user", "nobody"},
				{"--json", "show", id}, {"--json", "revoke", "--user", "nobody"},
			} {
				r := cli(t, nil, append([]string{"--store", u}, args...)...)
				if r.code != 3 {
					t.Errorf("%v: exit %d, want 3\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("%v: stdout %q, want nothing", args, r.stdout)
				}
				if !strings.HasPrefix(r.stderr, "sessionkit: ") || strings.HasPrefix(strings.TrimPrefix(r.stderr, "sessionkit: "), "{") {
					t.Errorf("%v: stderr %q, want a plain message", args, r.stderr)
				}
			}
			// The same commands on bad input are usage errors (2), not
			// "not found".
			for _, args := range [][]string{
				{"show", id, "--frob"}, {"revoke"}, {"list", "--limit", "x"}, {"stats", "--top", "-1"},
				{"list", "--idle-timeout", "-1h"}, {"show", id, "--lifetime", "forever"},
			} {
				if r := cli(t, nil, append([]string{"--store", u}, args...)...); r.code != 2 {
					t.Errorf("%v: exit %d, want 2\nstderr: %s", args, r.code, r.stderr)
				}
			}
		})
	}
}

// "`--limit` (`-n`) is the page size (default 50; `0` lists every session
// in one page)": when more remain, "stderr says which --after value shows
// the next page".
func TestOutsiderListLimit(t *testing.T) {
	u, s := redisURL(t)
	now := time.Now()
	for i := range 55 {
		ss := session{id: fmt.Sprintf("outsider-%02d", i), created: now, expiry: now.Add(time.Hour), values: map[string]any{"n": i}}
		if _, err := s.Save(context.Background(), ss.key(), ss.record(t)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		rows int
		more bool
	}{
		{nil, 50, true},
		{[]string{"-n", "10"}, 10, true},
		{[]string{"--limit", "0"}, 55, false},
		{[]string{"--limit", "55"}, 55, false},
	} {
		r := mustRun(t, 0, append([]string{"--store", u, "list"}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if got := len(lines) - 1; got != tc.rows { // the header
			t.Errorf("list %v: %d rows, want %d\n%s", tc.args, got, tc.rows, r.stdout)
		}
		if more := strings.Contains(r.stderr, "--after"); more != tc.more {
			t.Errorf("list %v: stderr %q; want a next page: %v", tc.args, r.stderr, tc.more)
		}
	}
}

// migrate between native stores: "It reports sessions copied, already
// present and expired during the copy; --json gives dry_run, copied,
// already_present, expired and seconds"; "--dry-run writes nothing";
// "Idempotent: a session already live on the target is left as it is and
// counted as "already present"". From a SQLite file to MySQL.
func TestOutsiderMigrateReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sqlite")
	src, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 7 {
		ss := session{id: fmt.Sprintf("migrate-%d", i), user: "alice", created: now, expiry: now.Add(time.Hour), values: map[string]any{"n": i}}
		if _, err := src.Save(context.Background(), ss.key(), ss.record(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	from, to := "sqlite://"+path, mysqlURL(t)
	type report struct {
		DryRun         *bool    `json:"dry_run"`
		Copied         *int     `json:"copied"`
		AlreadyPresent *int     `json:"already_present"`
		Expired        *int     `json:"expired"`
		Seconds        *float64 `json:"seconds"`
	}
	for _, tc := range []struct {
		args                  []string
		dry                   bool
		copied, present, live int
	}{
		{[]string{"--dry-run"}, true, 7, 0, 0},
		{nil, false, 7, 0, 7},
		{nil, false, 0, 7, 7},
	} {
		r := mustRun(t, 0, append([]string{"--json", "migrate", "--from", from, "--to", to}, tc.args...)...)
		got := decodeJSON[report](t, r)
		if got.DryRun == nil || got.Copied == nil || got.AlreadyPresent == nil || got.Expired == nil || got.Seconds == nil {
			t.Fatalf("migrate %v: JSON lacks a documented field:\n%s", tc.args, r.stdout)
		}
		if *got.DryRun != tc.dry || *got.Copied != tc.copied || *got.AlreadyPresent != tc.present || *got.Expired != 0 {
			t.Errorf("migrate %v: %s, want dry_run %v, copied %d, already_present %d", tc.args, r.stdout, tc.dry, tc.copied, tc.present)
		}
		if tc.dry {
			// Not even the target's table.
			if r := cli(t, nil, "--store", to, "list"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
				t.Errorf("after --dry-run, list on the target: exit %d, want 1 (no table)\n%s%s", r.code, r.stdout, r.stderr)
			}
			continue
		}
		list := decodeJSON[listJSON](t, mustRun(t, 0, "--store", to, "--json", "list", "--user", "alice"))
		if len(list.Sessions) != tc.live {
			t.Errorf("after migrate %v: %d sessions of alice on the target, want %d", tc.args, len(list.Sessions), tc.live)
		}
	}
	// The text report names the same counts.
	r := mustRun(t, 0, "migrate", "--from", from, "--to", to)
	for _, want := range []string{"copied", "already present", "expired"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("migrate's report lacks %q:\n%s", want, r.stdout)
		}
	}
}
