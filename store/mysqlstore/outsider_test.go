package mysqlstore_test

// Outside-in acceptance checks of mysqlstore, written from its package
// documentation: each test names the sentence it pins.

import (
	"context"
	"crypto/rand"
	"database/sql"
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

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// "Records are limited by the server's max_allowed_packet (16 MiB by
// default on MariaDB): Save refuses a larger one with an error that wraps
// sessionkit.ErrTooLarge" — a hard size limit, which the Manager answers
// with 500, not an error that reads as "the store is down" (503) — and
// the store keeps serving other sessions afterwards. A private server
// with a 1 MiB limit stands for one whose limit is below the driver's
// default of 64 MiB (MariaDB's own default), where the server used to
// reset the connection.
func TestOutsiderRecordOverMaxAllowedPacket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private MariaDB server")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv, err := testenv.StartMySQL(ctx, t.TempDir())
	if err != nil {
		testenv.SkipOrFail(t, "cannot start a private MariaDB server: "+err.Error())
	}
	defer srv.Stop()
	const limit = 1 << 20
	admin, err := sql.Open("mysql", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.ExecContext(ctx, fmt.Sprint("SET GLOBAL max_allowed_packet = ", limit))
	admin.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := mysqlstore.Open(ctx, srv.DSN(), mysqlstore.Options{CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{limit + 1, 3 * limit} {
		_, err := s.Save(ctx, "big", sessionkit.Record{Data: make([]byte, size), Expiry: time.Now().Add(time.Hour)})
		if !errors.Is(err, sessionkit.ErrTooLarge) {
			t.Errorf("Save of a %d-byte record with max_allowed_packet %d = %v, want ErrTooLarge", size, limit, err)
		}
	}

	m := sessionkit.New(s)
	m.MaxDataSize = -1 // leave the limit to the store
	m.Logger = discardLogger()
	web := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 2 * limit
		if r.URL.Path == "/small" {
			n = 10
		}
		sessionkit.From(r.Context()).Set("v", strings.Repeat("a", n))
		w.Write([]byte("ok"))
	})))
	defer web.Close()
	c, err := browser.NewClient(web.URL, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := c.Do("GET", "/big")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("oversized session: status %d, want 500 (ErrTooLarge)", resp.StatusCode)
	}
	resp, body, err := c.Do("GET", "/small")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("next request: %d %q, want 200 ok", resp.StatusCode, body)
	}
}

// "Operations on a table that does not exist fail with an error that
// wraps ErrNoTable and says so (`mysqlstore: load: table "sessions" does
// not exist: run Migrate`)": the per-user operations too, and a client of
// a Manager on such a store gets the ErrorHandler's 503 until Migrate.
func TestOutsiderMissingTable(t *testing.T) {
	t.Parallel()
	table := sqlstoretest.UniqueTable("sk_out_missing_")
	s, err := mysqlstore.New(sharedDB(t), mysqlstore.Options{Table: table, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	_, loadErr := s.Load(ctx, "k")
	if want := `mysqlstore: load: table "` + table + `" does not exist: run Migrate`; loadErr == nil || !strings.HasPrefix(loadErr.Error(), want) {
		t.Errorf("Load error %q, want it to begin %q", loadErr, want)
	}
	_, usersErr := s.UserSessions(ctx, "u")
	_, delUsersErr := s.DeleteUserSessions(ctx, "u")
	for op, err := range map[string]error{"UserSessions": usersErr, "DeleteUserSessions": delUsersErr} {
		if !errors.Is(err, mysqlstore.ErrNoTable) {
			t.Errorf("%s on a missing table = %v, want ErrNoTable", op, err)
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
	resp, _, err := c.Do("GET", "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d with no table, want 503", resp.StatusCode)
	}
	migrated(t, s)
	if resp, _, err = c.Do("GET", "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after Migrate: %v, %v; want 200", resp.Status, err)
	}
}

// "New returns a Store that uses db ... The caller keeps ownership of db:
// Close stops the store's sweeper but does not close db", and "Migrate ...
// is safe to call on every start and from several processes at once".
func TestOutsiderSharedDBAndConcurrentMigrate(t *testing.T) {
	t.Parallel()
	db := sharedDB(t)
	table := sqlstoretest.UniqueTable("sk_out_race_")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	stores := make([]*mysqlstore.Store, 8)
	for i := range stores {
		s, err := mysqlstore.New(db, mysqlstore.Options{Table: table, CleanupInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
		wg.Go(func() { errs <- s.Migrate(t.Context()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, s := range stores {
		for range 2 {
			if err := s.Close(); err != nil {
				t.Errorf("Close = %v, want nil", err)
			}
		}
	}
	if _, err := db.ExecContext(t.Context(), "DROP TABLE IF EXISTS `"+table+"`"); err != nil {
		t.Fatalf("caller's db after Close: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// "Migrate runs the statement below (with the configured table name)":
// Schema returns what the package documentation shows.
func TestOutsiderSchemaAsDocumented(t *testing.T) {
	const documented = "CREATE TABLE IF NOT EXISTS `sessions` (\n" +
		"	`key`      VARBINARY(256)  NOT NULL,  -- derived from the session ID\n" +
		"	`data`     LONGBLOB        NOT NULL,  -- the encoded session\n" +
		"	`version`  BIGINT UNSIGNED NOT NULL,  -- compare-and-swap token\n" +
		"	`expiry`   BIGINT          NOT NULL COMMENT 'Unix time in milliseconds (UTC)',\n" +
		"	`user_key` VARBINARY(255)  NULL,      -- owning user, NULL when none\n" +
		"	PRIMARY KEY (`key`),\n" +
		"	KEY `expiry_idx` (`expiry`),\n" +
		"	KEY `user_key_idx` (`user_key`)\n" +
		") ENGINE=InnoDB"
	s, err := mysqlstore.New(new(sql.DB), mysqlstore.Options{CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if g, d := normalSQL(s.Schema()), normalSQL(documented); g != d {
		t.Errorf("Schema:\n got %s\ndocs %s", g, d)
	}
}

// normalSQL drops comments and collapses white space.
func normalSQL(s string) string {
	s = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(s, "")
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(strings.ReplaceAll(s, "( ", "("), " )", ")")
}

// All: "It reads the table in pages ... ordered by key (keyset
// pagination)": every live record once, in byte order of the keys, across
// page boundaries, expired ones left out.
func TestOutsiderAllInKeyOrder(t *testing.T) {
	t.Parallel()
	s := newStore(t, mysqlstore.Options{PageSize: 2})
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
	s := newStore(t, mysqlstore.Options{CleanupBatch: 3})
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

// A user key is part of the record: one longer than the store can index
// is a hard size limit, sessionkit.ErrTooLarge (the Manager's 500), not
// an error that reads as the store being down.
func TestOutsiderUserKeyTooLong(t *testing.T) {
	t.Parallel()
	s := newStore(t, mysqlstore.Options{})
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

// DSNFromURL's errors for URLs url.Parse refuses say what is wrong, but
// never quote the URL or the piece of it that may be a password (one
// with an unencoded "/", "?" or "#" ends the host early, so the rest of
// the password is read as a port, a host or an escape).
func TestOutsiderDSNFromURLParseErrors(t *testing.T) {
	for _, tc := range []struct{ url, secret, want string }{
		{"mysql://app:pw@db.internal:port/app", "pw", "invalid port"},
		{"mysql://app:se/cret@db.internal/app", "se", "invalid port"},
		{"mysql://app:abc?def@db.internal/app", "abc", "invalid port"},
		{"mysql://app:pw@[::1/app", "pw", "missing ']' in host"},
		{"mysql://app:p%zzw@db.internal/app", "p%zzw", "invalid URL escape"},
		{"mysql://app:pw@db internal/app", "pw", "invalid character"},
	} {
		_, err := mysqlstore.DSNFromURL(tc.url)
		if err == nil {
			t.Errorf("DSNFromURL(%q): no error", tc.url)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("DSNFromURL(%q): %q, want it to say %q", tc.url, msg, tc.want)
		}
		if strings.Contains(msg, tc.secret) || strings.Contains(msg, "db.internal") {
			t.Errorf("DSNFromURL(%q): %q quotes the URL", tc.url, msg)
		}
	}
}
