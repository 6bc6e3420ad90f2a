package mysqlstore_test

import (
	"context"
	"database/sql"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

var (
	dbOnce sync.Once
	testDB *sql.DB
	dbErr  error
)

// sharedDB returns a *sql.DB shared by the package's tests, opened with
// the driver's defaults (server-side prepared statements) on the server
// named by testenv.MySQLDSNEnv.
func sharedDB(t testing.TB) *sql.DB {
	t.Helper()
	dsn := testenv.Getenv(t, testenv.MySQLDSNEnv)
	dbOnce.Do(func() {
		testDB, dbErr = sql.Open("mysql", dsn)
		if dbErr == nil {
			testDB.SetMaxIdleConns(32)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dbErr = testDB.PingContext(ctx)
		}
	})
	if dbErr != nil {
		t.Fatalf("connect to %s: %v", testenv.MySQLDSNEnv, dbErr)
	}
	return testDB
}

// migrated creates s's table and drops it (and closes s) when t ends.
func migrated(t testing.TB, s *mysqlstore.Store) *mysqlstore.Store {
	t.Helper()
	db := sharedDB(t)
	// Drop through the shared *sql.DB: a store from Open has closed its own.
	sqlstoretest.Migrate(t, s, func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+s.Table()+"`")
		return err
	})
	return s
}

// newStore returns a store on a fresh table of the shared *sql.DB.
func newStore(t testing.TB, opts mysqlstore.Options) *mysqlstore.Store {
	t.Helper()
	if opts.Table == "" {
		opts.Table = sqlstoretest.UniqueTable("sk_test_")
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = -1
	}
	s, err := mysqlstore.New(sharedDB(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return migrated(t, s)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		return newStore(t, mysqlstore.Options{PageSize: 7})
	})
}

// TestLifetime runs the client-side lifetime journeys.
func TestLifetime(t *testing.T) {
	t.Parallel()
	storetest.RunLifetime(t, func(t *testing.T, _ func() time.Time) *sessionkit.Manager {
		return sessionkit.New(newStore(t, mysqlstore.Options{}))
	})
}

// Open's own pool (interpolated parameters) and a constantly running
// background sweeper.
func TestConformanceOpen(t *testing.T) {
	t.Parallel()
	dsn := testenv.Getenv(t, testenv.MySQLDSNEnv)
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		s, err := mysqlstore.Open(t.Context(), dsn, mysqlstore.Options{
			Table:           sqlstoretest.UniqueTable("sk_open_"),
			CleanupInterval: 5 * time.Millisecond,
			CleanupBatch:    2,
		})
		if err != nil {
			t.Fatal(err)
		}
		return migrated(t, s)
	})
}

func TestDSNFromURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, want string
	}{
		{"mysql://root@127.0.0.1:3306/test", "root@tcp(127.0.0.1:3306)/test"},
		{"mysql://u:p%40ss%2Fw:rd@db.example:3307/app?parseTime=true", "u:p@ss/w:rd@tcp(db.example:3307)/app?parseTime=true"},
		{"mysql://u@db.example/app", "u@tcp(db.example:3306)/app"},
		{"mysql://u@[::1]:3307/app", "u@tcp([::1]:3307)/app"},
		{"mariadb://u@h:1/app?loc=Europe%2FParis", "u@tcp(h:1)/app?loc=Europe%2FParis"},
		{"mysql://u@/app?socket=/run/mysqld/mysqld.sock", "u@unix(/run/mysqld/mysqld.sock)/app"},
		{"mysql:///app", "tcp(127.0.0.1:3306)/app"},
	}
	for _, tc := range tests {
		got, err := mysqlstore.DSNFromURL(tc.url)
		if err != nil {
			t.Errorf("DSNFromURL(%q): %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("DSNFromURL(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
	for _, bad := range []string{"postgres://u@h/db", "mysql://u:secret@h:%zz/db", "mysql://h/a/b", "mysql://h/db?parseTime=maybe"} {
		_, err := mysqlstore.DSNFromURL(bad)
		if err == nil {
			t.Errorf("DSNFromURL(%q) succeeded, want an error", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("DSNFromURL(%q) error %q leaks the password", bad, err)
		}
	}
}

func TestInvalidTableNames(t *testing.T) {
	t.Parallel()
	newWithTable := func(name string) (io.Closer, error) {
		return mysqlstore.New(new(sql.DB), mysqlstore.Options{Table: name, CleanupInterval: -1})
	}
	sqlstoretest.TableNames(t, newWithTable, []string{
		"a.b.c", "x`; DROP TABLE y; --", ".sessions", "sessions.", "with space", "$x",
		strings.Repeat("a", 65), "nul\x00", "quo'te",
	}, []string{
		"sessions", "app.sessions", "Sess$1", "1abc", strings.Repeat("a", 64),
	})
}

func TestMissingTable(t *testing.T) {
	t.Parallel()
	s, err := mysqlstore.New(sharedDB(t), mysqlstore.Options{Table: sqlstoretest.UniqueTable("sk_missing_"), CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlstoretest.MissingTable(t, s, mysqlstore.ErrNoTable)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	port, err := testenv.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dsn, want string
	}{
		{"garbage DSN", "no-slash-here", "parse DSN"},
		{"garbage URL", "mysql://u:secret@h:%zz/db", "invalid URL"},
		{"no server", "u:secret@tcp(127.0.0.1:" + strconv.Itoa(port) + ")/db?timeout=5s", "connect to tcp(127.0.0.1"},
		{"bad table", "u@tcp(127.0.0.1:1)/db", "invalid table name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := mysqlstore.Options{}
			if tc.name == "bad table" {
				opts.Table = "a b"
			}
			sqlstoretest.OpenFails(t, tc.want, func(ctx context.Context) (io.Closer, error) {
				return mysqlstore.Open(ctx, tc.dsn, opts)
			})
		})
	}
}

// A Touch to the expiry a row already has changes no row, which MySQL
// reports as 0 affected rows; it must still succeed.
func TestTouchSameExpiry(t *testing.T) {
	t.Parallel()
	s := newStore(t, mysqlstore.Options{})
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Touch(ctx, "k", exp); err != nil {
			t.Fatalf("Touch to the same expiry: %v", err)
		}
	}
}

// Re-creating a key whose row expired keeps counting its versions, so a
// writer holding a version of the old record cannot overwrite the new one.
func TestRecreateAfterExpiryNewVersion(t *testing.T) {
	t.Parallel()
	sqlstoretest.RecreateAfterExpiry(t, newStore(t, mysqlstore.Options{}))
}

func TestKeyTooLong(t *testing.T) {
	t.Parallel()
	s := newStore(t, mysqlstore.Options{})
	ctx := t.Context()
	if _, err := s.Save(ctx, strings.Repeat("k", mysqlstore.MaxKeyLen+1), sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err == nil {
		t.Error("Save with an over-long key succeeded")
	}
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserKey: strings.Repeat("u", mysqlstore.MaxUserKeyLen+1)}); err == nil {
		t.Error("Save with an over-long user key succeeded")
	}
}

// The background sweeper deletes expired rows without being asked.
func TestBackgroundSweep(t *testing.T) {
	t.Parallel()
	s := newStore(t, mysqlstore.Options{CleanupInterval: 10 * time.Millisecond, CleanupBatch: 3})
	sqlstoretest.BackgroundSweep(t, s, func(ctx context.Context) (n int, err error) {
		err = s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+s.Table()+"`").Scan(&n)
		return n, err
	})
}
