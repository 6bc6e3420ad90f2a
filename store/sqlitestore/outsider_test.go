package sqlitestore_test

// Outside-in acceptance checks of sqlitestore, written from its package
// documentation: each test names the sentence it pins.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
)

func open(t *testing.T, path string, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// normalSQL drops comments and collapses white space.
func normalSQL(s string) string {
	s = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(s, "")
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(strings.ReplaceAll(s, "( ", "("), " )", ")")
}

// "Open creates the table (WithTable, default "sessions") and its indexes
// if they do not exist; Schema returns the statements:" — the ones shown.
func TestOutsiderSchemaAsDocumented(t *testing.T) {
	documented := []string{
		`CREATE TABLE IF NOT EXISTS "sessions" (
	key      TEXT    NOT NULL PRIMARY KEY,
	data     BLOB    NOT NULL,
	version  INTEGER NOT NULL,
	expiry   INTEGER NOT NULL, -- Unix time in milliseconds
	user_key TEXT
);`,
		`CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);`,
		`CREATE INDEX IF NOT EXISTS "sessions_user_key_idx" ON "sessions" (user_key) WHERE user_key IS NOT NULL;`,
	}
	s := open(t, filepath.Join(t.TempDir(), "s.db"), sqlitestore.WithSweepInterval(0))
	got := s.Schema()
	if len(got) != len(documented) {
		t.Fatalf("Schema has %d statements, the documentation %d", len(got), len(documented))
	}
	for i := range got {
		if g, d := normalSQL(got[i]), strings.TrimSuffix(normalSQL(documented[i]), ";"); g != d {
			t.Errorf("statement %d:\n got %s\ndocs %s", i, g, d)
		}
	}
	if s := open(t, filepath.Join(t.TempDir(), "e.db"), sqlitestore.WithTable(""), sqlitestore.WithSweepInterval(0)); s.Table() != sqlitestore.DefaultTable {
		t.Errorf("WithTable(\"\"): Table() = %q, want the default", s.Table())
	}
	if s.Table() != sqlitestore.DefaultTable || sqlitestore.DefaultTable != "sessions" {
		t.Errorf("Table() = %q, DefaultTable %q; want sessions", s.Table(), sqlitestore.DefaultTable)
	}
}

// CheckTable: "1 to 64 ASCII letters, digits and '_', not starting with a
// digit", which WithTable accepts; and WithTable(""): "an empty name means
// the default".
func TestOutsiderCheckTable(t *testing.T) {
	for name, ok := range map[string]bool{
		"sessions": true, "_x": true, "A1_b": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "1abc": false, "a-b": false,
		"a b": false, "sessionsé": false, "a.b": false, "a$b": false,
	} {
		if err := sqlitestore.CheckTable(name); (err == nil) != ok {
			t.Errorf("CheckTable(%q) = %v, want ok %v", name, err, ok)
		}
		if name == "" {
			continue // WithTable: "an empty name means the default"
		}
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"), sqlitestore.WithTable(name), sqlitestore.WithSweepInterval(0))
		if (err == nil) != ok {
			t.Errorf("Open with WithTable(%q) = %v, want ok %v", name, err, ok)
		}
		if err == nil {
			s.Close()
		}
	}
}

// ErrNoTable: "operations that found the session table missing (something
// dropped it after Open created it). Run Store.Migrate, or open the store
// again, to create it" — and WithNoCreate: "does not create the table
// (operations then fail with ErrNoTable)"; a client meanwhile gets 503.
func TestOutsiderMissingTableThenMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	open(t, path, sqlitestore.WithSweepInterval(0)) // the file exists
	s := open(t, path, sqlitestore.WithTable("other"), sqlitestore.WithNoCreate(), sqlitestore.WithSweepInterval(0))
	ctx := context.Background()
	_, users := s.UserSessions(ctx, "u")
	_, delUsers := s.DeleteUserSessions(ctx, "u")
	_, load := s.Load(ctx, "k")
	for op, err := range map[string]error{"Load": load, "UserSessions": users, "DeleteUserSessions": delUsers} {
		if !errors.Is(err, sqlitestore.ErrNoTable) {
			t.Errorf("%s without the table = %v, want ErrNoTable", op, err)
		}
	}
	m := sessionkit.New(s)
	m.Logger = discardLogger()
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("a", 1)
	})))
	defer srv.Close()
	c, err := browser.NewClient(srv.URL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _, err := c.Do("GET", "/"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("without the table: %v %v, want 503", resp.Status, err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := c.Do("GET", "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after Migrate: %v %v, want 200", resp.Status, err)
	}
	// Dropped by something else: ErrNoTable again, and Migrate mends it.
	if _, err := s.DB().ExecContext(ctx, `DROP TABLE "other"`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "k"); !errors.Is(err, sqlitestore.ErrNoTable) {
		t.Errorf("Load after DROP TABLE = %v, want ErrNoTable", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "k"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("Load after Migrate = %v, want ErrNotFound", err)
	}
}

// DeleteUserSessions: "It deletes the user's expired rows too, in the same
// statement, but counts only live ones"; expired rows are "never returned"
// as judged by WithClock's clock.
func TestOutsiderDeleteUserSessionsExpiredToo(t *testing.T) {
	clk := browser.NewClock()
	s := open(t, filepath.Join(t.TempDir(), "s.db"), sqlitestore.WithClock(clk.Now), sqlitestore.WithSweepInterval(0))
	ctx := context.Background()
	for key, ttl := range map[string]time.Duration{"live": time.Hour, "old": time.Minute, "other": time.Minute} {
		user := "u"
		if key == "other" {
			user = "v"
		}
		if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("x"), Expiry: clk.Now().Add(ttl), UserKey: user}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	if _, err := s.Load(ctx, "old"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("Load of a record expired by the store's clock = %v, want ErrNotFound", err)
	}
	n, err := s.DeleteUserSessions(ctx, "u")
	if err != nil || n != 1 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 1 (live ones only)", n, err)
	}
	var rows int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE user_key = 'u'`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("rows of the user left: %d, %v; want 0 (expired ones too)", rows, err)
	}
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("rows left: %d, %v; want the other user's 1", rows, err)
	}
}

// WithSweepInterval: "Zero or a negative value disables the sweeper";
// "A background sweeper started by Open ... Close stops it."
func TestOutsiderSweepIntervalZeroDisables(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		opts []sqlitestore.Option
		want int
	}{
		{nil, 1},
		{[]sqlitestore.Option{sqlitestore.WithSweepInterval(0)}, 0},
		{[]sqlitestore.Option{sqlitestore.WithSweepInterval(-time.Second)}, 0},
	} {
		before := sweepers(t)
		s, err := sqlitestore.Open(filepath.Join(dir, fmt.Sprint(i, ".db")), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := sweepers(t) - before; got != tc.want {
			t.Errorf("case %d: %d sweepers, want %d", i, got, tc.want)
		}
		s.Close()
		if got := sweepers(t) - before; got != 0 {
			t.Errorf("case %d: %d sweepers after Close", i, got)
		}
	}
}

// sweepers counts the goroutines of sessionkit's sweeper loop.
func sweepers(t *testing.T) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if strings.Contains(g, "sessionkit/internal/sweeper.") {
			n++
		}
	}
	return n
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// All yields every live record once, in key order.
func TestOutsiderAllInKeyOrder(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"), sqlitestore.WithSweepInterval(0))
	ctx := context.Background()
	var keys []string
	for i := range 600 { // more than one page
		keys = append(keys, fmt.Sprintf("%x", i*7919%4099))
	}
	keys = append(keys, "B", "A", "a b", "_", "é", "~")
	var wg sync.WaitGroup
	for w := range 8 { // concurrent writers share commits
		wg.Go(func() {
			for i := w; i < len(keys); i += 8 {
				if _, err := s.Save(ctx, keys[i], sessionkit.Record{Data: []byte(keys[i]), Expiry: time.Now().Add(time.Hour)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, err := s.Save(ctx, "expired", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for e, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Key)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(got, want) {
		t.Errorf("All yielded %d keys, want %d in byte order", len(got), len(want))
	}
}

// "A record's data may be up to MaxDataSize bytes ...; Save refuses a
// larger one with an error that wraps sessionkit.ErrTooLarge" — a hard
// size limit, which the Manager answers with 500 rather than 503. (The
// oversized slice is never written to, so it costs address space only.)
func TestOutsiderTooLarge(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"), sqlitestore.WithSweepInterval(0))
	ctx := context.Background()
	_, err := s.Save(ctx, "big", sessionkit.Record{Data: make([]byte, sqlitestore.MaxDataSize+1), Expiry: time.Now().Add(time.Hour)})
	if !errors.Is(err, sessionkit.ErrTooLarge) {
		t.Fatalf("Save of MaxDataSize+1 bytes = %v, want ErrTooLarge", err)
	}
	if _, err := s.Save(ctx, "small", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Save after the refused one: %v", err)
	}
}

// "Open puts the file in WAL mode", and WithSynchronous: SynchronousFull
// (the default) and SynchronousNormal are SQLite's PRAGMA synchronous in
// WAL mode, on this Store's connections.
func TestOutsiderJournalAndSynchronous(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		opts []sqlitestore.Option
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{nil, 2},
		{[]sqlitestore.Option{sqlitestore.WithSynchronous(sqlitestore.SynchronousFull)}, 2},
		{[]sqlitestore.Option{sqlitestore.WithSynchronous(sqlitestore.SynchronousNormal)}, 1},
	} {
		s := open(t, filepath.Join(dir, fmt.Sprint(tc.want, len(tc.opts), ".db")), append(tc.opts, sqlitestore.WithSweepInterval(0))...)
		ctx := context.Background()
		// Several connections at once, so that each is asked.
		conns := make([]*sql.Conn, 3)
		for i := range conns {
			c, err := s.DB().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		for i, c := range conns {
			var mode string
			var sync int
			if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
				t.Errorf("connection %d: journal_mode %q, %v; want wal", i, mode, err)
			}
			if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != tc.want {
				t.Errorf("connection %d, %d options: synchronous %d, %v; want %d", i, len(tc.opts), sync, err, tc.want)
			}
		}
	}
}
