package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlstore"
)

// Defaults for [Options].
const (
	DefaultTable           = "sessions"
	DefaultCleanupInterval = 5 * time.Minute
	DefaultCleanupBatch    = 1000
	DefaultPageSize        = 500
)

// ErrNoTable is wrapped by errors of operations that found the session
// table missing (SQLSTATE 42P01). Run [Store.Migrate], or create the table
// from the SQL in the package documentation.
var ErrNoTable = errors.New("pgstore: table does not exist")

// Options configures a [Store]. The zero value is usable.
type Options struct {
	// Table is the session table, optionally schema-qualified
	// ("sessions", "auth.sessions"). Each part is quoted, so it is used
	// exactly as written (case-sensitive); the package documentation says
	// which names are accepted. Default "sessions".
	Table string

	// CleanupInterval is the average time between two runs of the
	// background sweeper that deletes expired rows (each run is jittered
	// by ±20% so that many instances do not sweep in step). Zero means
	// DefaultCleanupInterval; a negative value disables the sweeper, for
	// deployments that call DeleteExpired from cron or the CLI instead.
	CleanupInterval time.Duration

	// CleanupBatch bounds how many rows one DELETE statement of the
	// sweeper removes, so that a large backlog never holds many locks at
	// once. Default DefaultCleanupBatch.
	CleanupBatch int

	// PageSize is how many rows one query of All fetches. Default
	// DefaultPageSize.
	PageSize int

	// Logger receives the background sweeper's errors. Default
	// slog.Default().
	Logger *slog.Logger

	// Layout selects the table layout: LayoutNative (the default) or
	// LayoutConnectPgSimple, the table connect-pg-simple uses, for sharing
	// sessions with an Express app (see compat/express).
	Layout Layout

	// UserKeyOf, with LayoutConnectPgSimple, derives a loaded record's
	// UserKey from its data, since that layout does not store it (for
	// example compat/express's UserKey, which reads Passport's user).
	UserKeyOf func(data []byte) string
}

// Store is a sessionkit.Store backed by a PostgreSQL table. It also
// implements sessionkit.UserIndex, sessionkit.Iterator, sessionkit.Sweeper
// and sessionkit.Closer. It is safe for concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	ownsPool  bool
	table     string // display name, as configured
	ident     string // sanitized, possibly schema-qualified
	idxExpiry string // sanitized index names
	idxUser   string

	layout    Layout
	userKeyOf func([]byte) string

	q struct {
		load, insert, update, touch, del, user, deleteUser, page, firstPage, sweep string
	}

	core *sqlstore.Core
}

var (
	_ sessionkit.Store     = (*Store)(nil)
	_ sessionkit.UserIndex = (*Store)(nil)
	_ sessionkit.Iterator  = (*Store)(nil)
	_ sessionkit.Sweeper   = (*Store)(nil)
	_ sessionkit.Closer    = (*Store)(nil)
)

// New returns a Store that uses pool. The caller keeps ownership of the
// pool: Close stops the store's sweeper but does not close the pool. New
// does not touch the database; call [Store.Migrate] to create the table.
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	return newStore(pool, false, opts)
}

// Open connects to the PostgreSQL server at url (a postgres:// URL or a
// libpq key=value string, as pgxpool.ParseConfig accepts) and returns a
// Store that owns the pool: Close closes it. Open checks that the server
// answers but not that the table exists (so that Migrate can follow).
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse connection URL: %w", err)
	}
	if _, err := parseTable(opts.Table); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	s, err := newStore(pool, true, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func newStore(pool *pgxpool.Pool, owns bool, opts Options) (*Store, error) {
	if opts.Layout == LayoutConnectPgSimple && opts.Table == "" {
		opts.Table = DefaultConnectPgSimpleTable
	}
	ident, err := parseTable(opts.Table)
	if err != nil {
		return nil, err
	}
	s := &Store{
		layout:    opts.Layout,
		userKeyOf: opts.UserKeyOf,
		pool:      pool,
		ownsPool:  owns,
		table:     strings.Join(ident, "."),
		ident:     ident.Sanitize(),
	}
	s.core = sqlstore.New(sqlstore.Config{
		Name:            "pgstore",
		Table:           s.table,
		ErrNoTable:      ErrNoTable,
		MissingTable:    missingTable,
		Batch:           opts.CleanupBatch,
		PageSize:        opts.PageSize,
		DefaultBatch:    DefaultCleanupBatch,
		DefaultPageSize: DefaultPageSize,
		Logger:          opts.Logger,
	})
	base := ident[len(ident)-1]
	s.idxExpiry = indexName(base, "_expiry_idx")
	s.idxUser = indexName(base, "_user_key_idx")

	const cols = "key, data, version, expiry, user_key"
	t := s.ident
	s.q.load = `SELECT data, version, expiry, user_key FROM ` + t + ` WHERE key = $1 AND expiry > $2`
	// A new session: insert, or take over a row that has expired (it
	// counts as absent). A live row makes the statement return no row.
	s.q.insert = `INSERT INTO ` + t + ` AS s (` + cols + `) VALUES ($1, $2, 1, $3, $4)
ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, version = s.version + 1, expiry = EXCLUDED.expiry, user_key = EXCLUDED.user_key
WHERE s.expiry <= $5
RETURNING version`
	s.q.update = `UPDATE ` + t + ` SET data = $2, version = version + 1, expiry = $3, user_key = $4
WHERE key = $1 AND version = $5 AND expiry > $6
RETURNING version`
	s.q.touch = `UPDATE ` + t + ` SET expiry = $2 WHERE key = $1 AND expiry > $3`
	s.q.del = `DELETE FROM ` + t + ` WHERE key = $1`
	s.q.user = `SELECT ` + cols + ` FROM ` + t + ` WHERE user_key = $1 AND expiry > $2`
	s.q.deleteUser = `WITH d AS (DELETE FROM ` + t + ` WHERE user_key = $1 RETURNING expiry)
SELECT count(*) FILTER (WHERE expiry > $2) FROM d`
	s.q.firstPage = `SELECT ` + cols + ` FROM ` + t + ` WHERE expiry > $1 ORDER BY key LIMIT $2`
	s.q.page = `SELECT ` + cols + ` FROM ` + t + ` WHERE key > $3 AND expiry > $1 ORDER BY key LIMIT $2`
	s.q.sweep = `DELETE FROM ` + t + ` WHERE key IN (
SELECT key FROM ` + t + ` WHERE expiry <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	if s.layout == LayoutConnectPgSimple {
		s.pgSimpleQueries()
	}

	s.core.StartSweeper(opts.CleanupInterval, DefaultCleanupInterval, s.DeleteExpired)
	return s, nil
}

// parseTable validates a table name: one or two dot-separated parts
// (schema.table), each 1 to 63 bytes of letters, digits, '_' or '$', not
// starting with a digit or '$'.
func parseTable(name string) (pgx.Identifier, error) {
	if name == "" {
		name = DefaultTable
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("pgstore: invalid table name %q: want table or schema.table", name)
	}
	for _, p := range parts {
		if !validIdent(p) {
			return nil, fmt.Errorf("pgstore: invalid table name %q: each part must be 1 to 63 letters, digits, '_' or '$', not starting with a digit or '$'", name)
		}
	}
	return pgx.Identifier(parts), nil
}

func validIdent(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && (r == '$' || '0' <= r && r <= '9'):
		default:
			return false
		}
	}
	return true
}

// indexName derives an index name from the table name that fits
// PostgreSQL's 63-byte identifier limit.
func indexName(table, suffix string) string {
	if max := 63 - len(suffix); len(table) > max {
		table = table[:max]
	}
	return pgx.Identifier{table + suffix}.Sanitize()
}

// Schema returns the SQL statements that create the table and its indexes
// (the same statements Migrate runs), for teams that manage their schema
// with their own tools.
func (s *Store) Schema() []string {
	if s.layout == LayoutConnectPgSimple {
		return s.pgSimpleSchema()
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + s.ident + ` (
	key      text COLLATE "C" PRIMARY KEY,
	data     bytea       NOT NULL,
	version  bigint      NOT NULL,
	expiry   timestamptz NOT NULL,
	user_key text
)`,
		`CREATE INDEX IF NOT EXISTS ` + s.idxExpiry + ` ON ` + s.ident + ` (expiry)`,
		`CREATE INDEX IF NOT EXISTS ` + s.idxUser + ` ON ` + s.ident + ` (user_key) WHERE user_key IS NOT NULL`,
	}
}

// Migrate creates the table and its indexes if they do not exist. It is
// safe to call on every start and from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate %s: %w", s.table, err)
	}
	defer tx.Rollback(ctx)
	// Serialise concurrent migrations: CREATE ... IF NOT EXISTS can still
	// fail with a unique violation when two sessions race.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "sessionkit/pgstore:"+s.table); err != nil {
		return fmt.Errorf("pgstore: migrate %s: %w", s.table, err)
	}
	for _, stmt := range s.Schema() {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("pgstore: migrate %s: %w", s.table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate %s: %w", s.table, err)
	}
	return nil
}

// DropTable drops the table and its indexes. It is meant for tests and the
// CLI; there is no undo.
func (s *Store) DropTable(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS `+s.ident); err != nil {
		return fmt.Errorf("pgstore: drop %s: %w", s.table, err)
	}
	return nil
}

// Table returns the configured table name.
func (s *Store) Table() string { return s.table }

// Pool returns the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// missingTable returns the message and driver error when err is
// PostgreSQL's undefined_table (SQLSTATE 42P01), else "" and nil.
func missingTable(err error) (string, error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return pgErr.Message, pgErr
	}
	return "", nil
}

// wrap adds the operation and key to err and turns a missing table into
// an error that says so and matches ErrNoTable.
func (s *Store) wrap(op, key string, err error) error { return s.core.Wrap(op, key, err) }

// saveError wraps an error of Save. A row the server refuses for its size
// (program_limit_exceeded, SQLSTATE 54000: a user key too long for its
// index, for one) is a hard size limit, so the error matches
// sessionkit.ErrTooLarge as well as the driver's.
func (s *Store) saveError(key string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "54000" {
		return fmt.Errorf("pgstore: save %q: %w (%w)", key, sessionkit.ErrTooLarge, err)
	}
	return s.wrap("save", key, err)
}

// Load implements sessionkit.Store.
func (s *Store) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	if s.layout == LayoutConnectPgSimple {
		return s.pgSimpleLoad(ctx, key)
	}
	var (
		rec  sessionkit.Record
		ver  int64
		user *string
	)
	err := s.pool.QueryRow(ctx, s.q.load, key, time.Now()).Scan(&rec.Data, &ver, &rec.Expiry, &user)
	rec.Version = uint64(ver)
	if user != nil {
		rec.UserKey = *user
	}
	return s.core.Loaded(key, rec, err)
}

// Save implements sessionkit.Store. A new record (rec.Version 0) gets
// version 1, or the next version of an expired row it replaces; every
// update increments the version.
func (s *Store) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if s.layout == LayoutConnectPgSimple {
		return s.pgSimpleSave(ctx, key, rec)
	}
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	now := time.Now()
	var (
		ver int64
		err error
	)
	if rec.Version == 0 {
		err = s.pool.QueryRow(ctx, s.q.insert, key, data, rec.Expiry, sqlstore.UserKeyArg(rec.UserKey), now).Scan(&ver)
	} else {
		if rec.Version > math.MaxInt64 {
			return 0, sessionkit.ErrConflict
		}
		err = s.pool.QueryRow(ctx, s.q.update, key, data, rec.Expiry, sqlstore.UserKeyArg(rec.UserKey), int64(rec.Version), now).Scan(&ver)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, sessionkit.ErrConflict
	}
	if err != nil {
		return 0, s.saveError(key, err)
	}
	return uint64(ver), nil
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	tag, err := s.pool.Exec(ctx, s.q.touch, key, expiry, time.Now())
	if err != nil {
		return s.wrap("touch", key, err)
	}
	if tag.RowsAffected() == 0 {
		return sessionkit.ErrNotFound
	}
	return nil
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, s.q.del, key); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// UserSessions implements sessionkit.UserIndex.
func (s *Store) UserSessions(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	if s.layout == LayoutConnectPgSimple {
		return nil, fmt.Errorf("pgstore: the connect-pg-simple layout has no per-user index: %w", sessionkit.ErrNotSupported)
	}
	return s.core.UserSessions(ctx, userKey, func(ctx context.Context) ([]sessionkit.Entry, error) {
		rows, err := s.pool.Query(ctx, s.q.user, userKey, time.Now())
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return sqlstore.Collect(rows, func(e *sessionkit.Entry) error { return scanEntry(rows, e) })
	})
}

// DeleteUserSessions implements sessionkit.UserIndex. It deletes expired
// rows of the user too, but counts only live ones.
func (s *Store) DeleteUserSessions(ctx context.Context, userKey string) (int, error) {
	if s.layout == LayoutConnectPgSimple {
		return 0, fmt.Errorf("pgstore: the connect-pg-simple layout has no per-user index: %w", sessionkit.ErrNotSupported)
	}
	return s.core.DeleteUserSessions(ctx, userKey, func(ctx context.Context) (int, error) {
		var n int64
		if err := s.pool.QueryRow(ctx, s.q.deleteUser, userKey, time.Now()).Scan(&n); err != nil {
			return 0, err
		}
		return int(n), nil
	})
}

// All implements sessionkit.Iterator. It reads the table in pages of
// Options.PageSize rows ordered by key (keyset pagination), one short
// query per page, so it holds no locks between pages.
func (s *Store) All(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	return s.core.All(ctx, func(ctx context.Context, after string, first bool, limit int) ([]sessionkit.Entry, error) {
		var (
			rows pgx.Rows
			err  error
		)
		if first {
			rows, err = s.pool.Query(ctx, s.q.firstPage, time.Now(), limit)
		} else {
			rows, err = s.pool.Query(ctx, s.q.page, time.Now(), limit, after)
		}
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return sqlstore.Collect(rows, func(e *sessionkit.Entry) error { return s.scan(rows, e) })
	})
}

// scanEntry reads a row of the native layout (key, data, version, expiry,
// user_key).
func scanEntry(rows pgx.Rows, e *sessionkit.Entry) error {
	var (
		ver  int64
		user *string
	)
	if err := rows.Scan(&e.Key, &e.Record.Data, &ver, &e.Record.Expiry, &user); err != nil {
		return err
	}
	e.Record.Version = uint64(ver)
	if user != nil {
		e.Record.UserKey = *user
	}
	return nil
}

// DeleteExpired implements sessionkit.Sweeper: it deletes the rows expired
// at the time of the call, in batches of Options.CleanupBatch rows, and
// returns how many it deleted. Rows being deleted by another sweeper at the
// same time are skipped rather than waited for.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	now := time.Now()
	return s.core.DeleteExpired(ctx, func(ctx context.Context, limit int) (int64, error) {
		tag, err := s.pool.Exec(ctx, s.q.sweep, now, limit)
		return tag.RowsAffected(), err
	})
}

// Close stops the background sweeper and waits for it to finish, then
// closes the pool if the store opened it (Open). It returns nil.
func (s *Store) Close() error {
	return s.core.Close(func() error {
		if s.ownsPool {
			s.pool.Close()
		}
		return nil
	})
}
