package pgstore_test

// Outside-in acceptance checks of pgstore, written from its package
// documentation: each test names the sentence it pins.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// "Operations on a table that does not exist fail with an error that
// wraps ErrNoTable and says so (`pgstore: load: table "sessions" does not
// exist: run Migrate`)": the per-user operations too, and a client of a
// Manager on such a store gets the ErrorHandler's 503.
func TestOutsiderMissingTable(t *testing.T) {
	t.Parallel()
	table := sqlstoretest.UniqueTable("sk_out_missing_")
	s, err := pgstore.New(testPool(t), pgstore.Options{Table: table, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	_, loadErr := s.Load(ctx, "k")
	if want := `pgstore: load: table "` + table + `" does not exist: run Migrate`; loadErr == nil || !strings.HasPrefix(loadErr.Error(), want) {
		t.Errorf("Load error %q, want it to begin %q", loadErr, want)
	}
	_, usersErr := s.UserSessions(ctx, "u")
	_, delUsersErr := s.DeleteUserSessions(ctx, "u")
	for op, err := range map[string]error{"UserSessions": usersErr, "DeleteUserSessions": delUsersErr} {
		if !errors.Is(err, pgstore.ErrNoTable) {
			t.Errorf("%s on a missing table = %v, want ErrNoTable", op, err)
		}
	}

	m := sessionkit.New(s)
	m.Logger = slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("a", 1)
	})))
	defer srv.Close()
	c, err := browser.NewClient(srv.URL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := c.Do("GET", "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d with no table, want 503", resp.StatusCode)
	}
	// "Migrate creates the table and its indexes if they do not exist":
	// after it the same Manager serves the client.
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.DropTable(ctx)
	if resp, _, err = c.Do("GET", "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after Migrate: %v, %v; want 200", resp.Status, err)
	}
}

// "New returns a Store that uses pool. The caller keeps ownership of the
// pool: Close stops the store's sweeper but does not close the pool."
func TestOutsiderCloseLeavesPoolOpen(t *testing.T) {
	t.Parallel()
	p := testPool(t)
	s, err := pgstore.New(p, pgstore.Options{Table: sqlstoretest.UniqueTable("sk_out_close_"), CleanupInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if err := p.Ping(t.Context()); err != nil {
		t.Fatalf("caller's pool after Close: %v", err)
	}
}

// "Migrate ... is safe to call on every start and from several processes
// at once": stores racing to create one table all succeed.
func TestOutsiderConcurrentMigrate(t *testing.T) {
	t.Parallel()
	table := sqlstoretest.UniqueTable("sk_out_race_")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		s, err := pgstore.New(testPool(t), pgstore.Options{Table: table, CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		wg.Go(func() { errs <- s.Migrate(t.Context()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := testPool(t).Exec(t.Context(), `DROP TABLE IF EXISTS "`+table+`"`); err != nil {
		t.Fatal(err)
	}
}

// normalSQL drops comments and "IF NOT EXISTS" and collapses white space.
func normalSQL(s string) string {
	s = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, " IF NOT EXISTS", "")
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(strings.ReplaceAll(s, "( ", "("), " )", ")")
	return strings.TrimSuffix(s, ";")
}

// "Migrate runs the statements below", and with LayoutConnectPgSimple
// "the table of connect-pg-simple (default name "session")": Schema
// returns what the package documentation shows.
func TestOutsiderSchemaAsDocumented(t *testing.T) {
	for _, tc := range []struct {
		opts       pgstore.Options
		table      string
		documented []string
	}{
		{pgstore.Options{}, "sessions", []string{
			`CREATE TABLE IF NOT EXISTS "sessions" (
	key      text COLLATE "C" PRIMARY KEY, -- derived from the session ID
	data     bytea       NOT NULL,         -- the encoded session
	version  bigint      NOT NULL,         -- compare-and-swap token
	expiry   timestamptz NOT NULL,         -- gone after this instant
	user_key text                          -- owning user, NULL when none
);`,
			`CREATE INDEX IF NOT EXISTS "sessions_expiry_idx" ON "sessions" (expiry);`,
			`CREATE INDEX IF NOT EXISTS "sessions_user_key_idx" ON "sessions" (user_key) WHERE user_key IS NOT NULL;`,
		}},
		{pgstore.Options{Layout: pgstore.LayoutConnectPgSimple}, "session", []string{
			`CREATE TABLE "session" ("sid" varchar NOT NULL COLLATE "default",
	"sess" json NOT NULL, "expire" timestamp(6) NOT NULL,
	CONSTRAINT "session_pkey" PRIMARY KEY ("sid"));`,
			`CREATE INDEX "IDX_session_expire" ON "session" ("expire");`,
		}},
	} {
		tc.opts.CleanupInterval = -1
		s, err := pgstore.New(new(pgxpool.Pool), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if s.Table() != tc.table {
			t.Errorf("layout %v: Table() = %q, want %q", tc.opts.Layout, s.Table(), tc.table)
		}
		got := s.Schema()
		if len(got) != len(tc.documented) {
			t.Errorf("layout %v: Schema has %d statements, the documentation %d: %q", tc.opts.Layout, len(got), len(tc.documented), got)
			continue
		}
		for i := range got {
			if g, d := normalSQL(got[i]), normalSQL(tc.documented[i]); g != d {
				t.Errorf("layout %v, statement %d:\n got %s\ndocs %s", tc.opts.Layout, i, g, d)
			}
		}
	}
}

// LayoutConnectPgSimple: "expire is converted to and from instants in SQL
// with the session's time zone, as connect-pg-simple's to_timestamp()
// does", and "Saving identical text twice yields the same version".
func TestOutsiderConnectPgSimpleTimeZoneAndVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg, err := pgxpool.ParseConfig(testenv.Getenv(t, testenv.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	const zone = "Asia/Kolkata" // +05:30, no daylight saving time
	cfg.ConnConfig.RuntimeParams["timezone"] = zone
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	table := sqlstoretest.UniqueTable("sk_out_pgsimple_")
	s, err := pgstore.New(pool, pgstore.Options{Table: table, Layout: pgstore.LayoutConnectPgSimple, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.DropTable(context.Background())
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Skip(err)
	}

	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	data := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"n":1}`
	v1, err := s.Save(ctx, "sid", sessionkit.Record{Data: []byte(data), Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := pool.QueryRow(ctx, `SELECT to_char(expire, 'YYYY-MM-DD HH24:MI:SS') FROM "`+table+`" WHERE sid = 'sid'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := exp.In(loc).Format("2006-01-02 15:04:05"); stored != want {
		t.Errorf("expire column %s, want the session's local time %s", stored, want)
	}
	// A row connect-pg-simple writes: expire = to_timestamp(seconds).
	exp2 := exp.Add(time.Hour)
	if _, err := pool.Exec(ctx, `UPDATE "`+table+`" SET expire = to_timestamp($1) WHERE sid = 'sid'`, float64(exp2.Unix())); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Load(ctx, "sid")
	if err != nil || !rec.Expiry.Equal(exp2) {
		t.Fatalf("Load of a row connect-pg-simple wrote = %v, %v; want expiry %v", rec.Expiry, err, exp2)
	}
	if rec.Version != v1 {
		t.Errorf("version %d after an expiry change, want %d (a hash of the text)", rec.Version, v1)
	}
	v2, err := s.Save(ctx, "sid", sessionkit.Record{Data: []byte(data), Version: v1, Expiry: exp2})
	if err != nil || v2 != v1 {
		t.Errorf("saving identical text again: version %d, %v; want the same version %d", v2, err, v1)
	}
}

// All: "It reads the table in pages ... ordered by key (keyset
// pagination)": every live record once, in byte order of the keys, across
// page boundaries, expired ones left out.
func TestOutsiderAllInKeyOrder(t *testing.T) {
	t.Parallel()
	s := newStore(t, pgstore.Options{PageSize: 2})
	ctx := t.Context()
	keys := []string{"b", "a", "B", "A", "ab", "a b", "_", "z", "é", "~", "0", "aa"}
	for _, k := range keys {
		if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte(k), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
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
	if !slices.Equal(got, want) {
		t.Errorf("All yielded %q\nwant (byte order) %q", got, want)
	}
}

// DeleteExpired "deletes the rows expired at the time of the call, in
// batches of Options.CleanupBatch rows, and returns how many it deleted":
// all of them, however many batches that takes, and no live row.
func TestOutsiderDeleteExpiredInBatches(t *testing.T) {
	t.Parallel()
	s := newStore(t, pgstore.Options{CleanupBatch: 3})
	ctx := t.Context()
	for i := range 10 {
		if _, err := s.Save(ctx, fmt.Sprint("old", i), sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"live1", "live2"} {
		if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 10 {
		t.Fatalf("DeleteExpired = %d, %v; want 10", n, err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Fatalf("DeleteExpired again = %d, %v; want 0", n, err)
	}
	for _, k := range []string{"live1", "live2"} {
		if _, err := s.Load(ctx, k); err != nil {
			t.Errorf("Load(%q) after DeleteExpired: %v", k, err)
		}
	}
}

// Open: "a postgres:// URL or a libpq key=value string, as
// pgxpool.ParseConfig accepts", and it "returns a Store that owns the
// pool: Close closes it".
func TestOutsiderOpenKeyValueString(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(testenv.Getenv(t, testenv.PostgresURLEnv))
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.ConnConfig
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cc.Host, cc.Port, cc.User, cc.Database)
	if cc.Password != "" {
		dsn += " password=" + cc.Password
	}
	s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{Table: sqlstoretest.UniqueTable("sk_out_kv_"), CleanupInterval: -1})
	if err != nil {
		t.Fatalf("Open(key=value): %v", err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.DropTable(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Pool().Ping(t.Context()); err == nil {
		t.Error("the pool Open made is still usable after Close")
	}
}

// A user key is part of the record: one longer than the store can index
// is a hard size limit, sessionkit.ErrTooLarge (the Manager's 500), not
// an error that reads as the store being down.
func TestOutsiderUserKeyTooLong(t *testing.T) {
	t.Parallel()
	s := newStore(t, pgstore.Options{})
	ctx := t.Context()
	long := rand.Text() // random, so that no compression makes it fit
	for len(long) < 16<<10 {
		long += rand.Text()
	}
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserKey: long}); !errors.Is(err, sessionkit.ErrTooLarge) {
		t.Errorf("Save with a %d-byte user key = %v, want ErrTooLarge", len(long), err)
	}
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserKey: "u"}); err != nil {
		t.Errorf("Save after the refused one: %v", err)
	}
}
