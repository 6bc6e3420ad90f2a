package pgstore_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// testPool returns a pool shared by the package's tests, connected to the
// server named by testenv.PostgresURLEnv.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := testenv.Getenv(t, testenv.PostgresURLEnv)
	poolOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, poolErr = pgxpool.New(ctx, url)
		if poolErr == nil {
			poolErr = pool.Ping(ctx)
		}
	})
	if poolErr != nil {
		t.Fatalf("connect to %s: %v", testenv.PostgresURLEnv, poolErr)
	}
	return pool
}

// newStore returns a store on a fresh table that is dropped when t ends.
func newStore(t testing.TB, opts pgstore.Options) *pgstore.Store {
	t.Helper()
	p := testPool(t)
	if opts.Table == "" {
		opts.Table = sqlstoretest.UniqueTable("sk_test_")
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = -1
	}
	s, err := pgstore.New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	sqlstoretest.Migrate(t, s, s.DropTable)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		return newStore(t, pgstore.Options{PageSize: 7})
	})
}

// TestLifetime runs the client-side lifetime journeys.
func TestLifetime(t *testing.T) {
	t.Parallel()
	storetest.RunLifetime(t, func(t *testing.T, _ func() time.Time) *sessionkit.Manager {
		return sessionkit.New(newStore(t, pgstore.Options{}))
	})
}

// The background sweeper is on by default; run the suite with a sweeper
// that runs constantly to show it never removes live rows.
func TestConformanceWithBusySweeper(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) sessionkit.Store {
		return newStore(t, pgstore.Options{CleanupInterval: 5 * time.Millisecond, CleanupBatch: 2})
	})
}

func TestSchemaQualifiedTable(t *testing.T) {
	t.Parallel()
	p := testPool(t)
	ctx := t.Context()
	schema := sqlstoretest.UniqueTable("sk_schema_")
	if _, err := p.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	})
	s := newStore(t, pgstore.Options{Table: schema + ".Sessions"})
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM `+schema+`."Sessions"`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in %s.\"Sessions\" = %d, %v; want 1", schema, n, err)
	}
	// Migrate twice is fine.
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidTableNames(t *testing.T) {
	t.Parallel()
	newWithTable := func(name string) (io.Closer, error) {
		return pgstore.New(new(pgxpool.Pool), pgstore.Options{Table: name, CleanupInterval: -1})
	}
	sqlstoretest.TableNames(t, newWithTable, []string{
		`a.b.c`, `x"; DROP TABLE y; --`, `1abc`, `.sessions`, `sessions.`, `with space`, `$x`,
		strings.Repeat("a", 64), "nul\x00",
	}, []string{
		"sessions", "auth.sessions", "Sess$1", "_x", strings.Repeat("a", 63),
	})
}

func TestMissingTable(t *testing.T) {
	t.Parallel()
	s, err := pgstore.New(testPool(t), pgstore.Options{Table: sqlstoretest.UniqueTable("sk_missing_"), CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlstoretest.MissingTable(t, s, pgstore.ErrNoTable)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	port, err := testenv.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, want string
	}{
		{"garbage", "postgres://[::1", "parse connection URL"},
		{"no server", "postgres://u:secret@127.0.0.1:" + strconv.Itoa(port) + "/db?connect_timeout=5", "connect to 127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sqlstoretest.OpenFails(t, tc.want, func(ctx context.Context) (io.Closer, error) {
				return pgstore.Open(ctx, tc.url, pgstore.Options{})
			})
		})
	}
	t.Run("bad table", func(t *testing.T) {
		if _, err := pgstore.Open(t.Context(), "postgres://127.0.0.1:1/x", pgstore.Options{Table: "a b"}); err == nil || !strings.Contains(err.Error(), "invalid table name") {
			t.Errorf("error = %v, want invalid table name", err)
		}
	})
}

func TestOpenOwnsPool(t *testing.T) {
	t.Parallel()
	url := testenv.Getenv(t, testenv.PostgresURLEnv)
	ctx := t.Context()
	s, err := pgstore.Open(ctx, url, pgstore.Options{Table: sqlstoretest.UniqueTable("sk_open_")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DropTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Pool().Ping(ctx); err == nil {
		t.Fatal("pool still usable after Close of a store that owns it")
	}
}

// Re-creating a key whose row expired keeps counting its versions, so a
// writer holding a version of the old record cannot overwrite the new one.
func TestRecreateAfterExpiryNewVersion(t *testing.T) {
	t.Parallel()
	sqlstoretest.RecreateAfterExpiry(t, newStore(t, pgstore.Options{}))
}

// The background sweeper deletes expired rows without being asked.
func TestBackgroundSweep(t *testing.T) {
	t.Parallel()
	s := newStore(t, pgstore.Options{CleanupInterval: 10 * time.Millisecond, CleanupBatch: 3})
	sqlstoretest.BackgroundSweep(t, s, func(ctx context.Context) (n int, err error) {
		err = s.Pool().QueryRow(ctx, `SELECT count(*) FROM `+s.Table()).Scan(&n)
		return n, err
	})
}
