package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlstore"
)

// Defaults used when an option is not given.
const (
	DefaultTable         = "sessions"
	DefaultSweepInterval = time.Minute
	DefaultBusyTimeout   = 5 * time.Second
)

// Work done by one statement of the sweeper and one page of All, so that
// neither holds the write lock or a read snapshot for long.
const (
	sweepBatch = 1000
	pageSize   = 256
)

// MaxDataSize is the largest Record.Data a Store accepts. SQLite limits a
// row to 1,000,000,000 bytes (SQLITE_MAX_LENGTH); the rest of the row needs
// well under the 64 KiB kept free. Larger records, and rows SQLite refuses
// as too big, are refused with an error that wraps [sessionkit.ErrTooLarge].
const MaxDataSize = 1_000_000_000 - 64<<10

// ErrNoTable is wrapped by errors of operations that found the session
// table missing (something dropped it after Open created it). Run
// [Store.Migrate], or open the store again, to create it.
var ErrNoTable = errors.New("sqlitestore: table does not exist")

// Synchronous is how hard a commit waits for the disk (SQLite's PRAGMA
// synchronous in WAL mode).
type Synchronous int

const (
	// SynchronousFull fsyncs the write-ahead log on every commit: an
	// acknowledged write survives a crash of the process and of the
	// machine (power loss). The default.
	SynchronousFull Synchronous = iota
	// SynchronousNormal fsyncs only when the log is checkpointed into
	// the database file: an acknowledged write survives a crash of the
	// process (kill -9), but the last commits before a power loss or an
	// operating-system crash may be lost. The file stays consistent
	// either way. Commits are several times faster.
	SynchronousNormal
)

func (s Synchronous) pragma() string {
	if s == SynchronousNormal {
		return "NORMAL"
	}
	return "FULL"
}

// Store is a sessionkit.Store kept in a table of a SQLite database file.
// It also implements sessionkit.UserIndex, sessionkit.Iterator,
// sessionkit.Sweeper and sessionkit.Closer. A Store is safe for concurrent
// use, and any number of Stores, in this process or others on the same
// host, may have the same file open at once.
type Store struct {
	db    *sql.DB
	path  string
	table string
	now   func() time.Time

	// w groups this Store's writes into shared transactions (batch.go),
	// so that writers of this process queue here (honouring their
	// contexts) instead of polling SQLite's lock, and share fsyncs; the
	// busy timeout only arbitrates between processes.
	w *writer
	r *stmts // reads' prepared statements, on the pool

	q struct {
		load, insert, update, touch, del, user, deleteUser, firstPage, page, sweep string
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

type config struct {
	table         string
	sweepInterval time.Duration
	busyTimeout   time.Duration
	synchronous   Synchronous
	fileMode      os.FileMode
	noCreate      bool
	now           func() time.Time
	logger        *slog.Logger
}

// An Option configures Open.
type Option func(*config)

// WithTable sets the table the sessions are kept in (default
// DefaultTable): 1 to 64 ASCII letters, digits and '_', not starting with
// a digit (see [CheckTable]); an empty name means the default. Several stores, and the application's own tables, can share one
// file under different names.
func WithTable(name string) Option {
	return func(c *config) {
		if name != "" {
			c.table = name
		}
	}
}

// WithSweepInterval sets how often the background sweeper deletes expired
// records (default DefaultSweepInterval; each run is jittered by ±20%, so
// that processes sharing the file do not sweep in step). Zero or a
// negative value disables the sweeper; expired records are then still
// never returned, and DeleteExpired removes them on demand.
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) { c.sweepInterval = d }
}

// WithBusyTimeout sets how long a write waits for another process that
// holds the file's write lock before it fails (default
// DefaultBusyTimeout). A write never waits past its context's deadline
// either. Values of zero or less mean the default.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.busyTimeout = d
		}
	}
}

// WithSynchronous sets how hard a commit waits for the disk (default
// SynchronousFull). It applies to this Store's connections only; other
// processes choose their own.
func WithSynchronous(s Synchronous) Option {
	return func(c *config) { c.synchronous = s }
}

// WithFileMode sets the permissions Open creates the database file with
// (default 0600). SQLite gives its -wal and -shm files the same
// permissions. Every process that opens the file must be able to write
// it, and the directory it is in.
func WithFileMode(mode os.FileMode) Option {
	return func(c *config) { c.fileMode = mode }
}

// WithNoCreate makes Open create nothing: it fails with an error wrapping
// fs.ErrNotExist when the file does not exist, and does not create the
// table (operations then fail with ErrNoTable). Tools that only inspect a
// store use it.
func WithNoCreate() Option {
	return func(c *config) { c.noCreate = true }
}

// WithClock sets the function the store reads the current time from when
// it decides whether a record has expired (default time.Now). Tests use it
// to move time forward.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithLogger sets where the background sweeper reports failed sweeps
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

func newConfig(opts []Option) config {
	c := config{
		table:         DefaultTable,
		sweepInterval: DefaultSweepInterval,
		busyTimeout:   DefaultBusyTimeout,
		fileMode:      0o600,
		now:           time.Now,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// Open opens (creating it, its parent directories and the session table
// if needed) the SQLite database file at path and returns a Store that
// owns it: Close stops the sweeper and closes the connections.
//
// The file is put in WAL mode, which lets readers and one writer work at
// the same time, across processes. Other processes — another instance of
// the application, or the sessionkit CLI — may open the same file while
// this one has it open. The file must be on a local file system (WAL
// needs shared memory between the processes; network file systems do not
// provide it).
func Open(path string, opts ...Option) (*Store, error) {
	c := newConfig(opts)
	if path == "" {
		return nil, errors.New("sqlitestore: open: empty path")
	}
	if err := CheckTable(c.table); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if !c.noCreate {
		if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
			return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
		}
		// Create the file ourselves, so that it gets the configured mode
		// (and SQLite's -wal and -shm files after it).
		f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, c.fileMode)
		switch {
		case err == nil:
			f.Close()
		case errors.Is(err, fs.ErrExist):
		default:
			return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
		}
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlitestore: open %s: not a regular file", path)
	}

	db, err := sql.Open("sqlite", dsn(abs, c))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// Each connection has its own page cache; reads need a few, writes
	// one (the writer's).
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)

	s := &Store{
		db:    db,
		path:  path,
		table: c.table,
		now:   c.now,
		w:     newWriter(db, c.busyTimeout),
		r:     newStmts(db),
	}
	s.core = sqlstore.New(sqlstore.Config{
		Name:            "sqlitestore",
		Table:           s.table,
		ErrNoTable:      ErrNoTable,
		MissingTable:    missingTable,
		Batch:           sweepBatch,
		PageSize:        pageSize,
		DefaultBatch:    sweepBatch,
		DefaultPageSize: pageSize,
		Logger:          c.logger,
	})
	s.queries()
	ctx, cancel := context.WithTimeout(context.Background(), c.busyTimeout+5*time.Second)
	defer cancel()
	if err := s.prepare(ctx, !c.noCreate); err != nil {
		s.w.close()
		s.r.close()
		db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	interval := c.sweepInterval
	if interval <= 0 {
		interval = -1 // sqlstore: negative disables
	}
	s.core.StartSweeper(interval, DefaultSweepInterval, s.DeleteExpired)
	return s, nil
}

// dsn is the driver's connection string for the file at abs: a URI (so
// that any character in the path is kept) with the pragmas every
// connection runs when it opens.
func dsn(abs string, c config) string {
	var b strings.Builder
	b.WriteString("file:")
	for i := 0; i < len(abs); i++ {
		switch ch := abs[i]; ch {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", ch)
		default:
			b.WriteByte(ch)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(c.busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+c.synchronous.pragma()+")")
	b.WriteString("?")
	b.WriteString(q.Encode())
	return b.String()
}

// prepare checks that the file is a database in WAL mode and creates the
// table and its indexes if they do not exist.
func (s *Store) prepare(ctx context.Context, create bool) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("the file is in journal mode %q and cannot be switched to WAL (is it on a network file system?)", mode)
	}
	if !create {
		return nil
	}
	return s.migrate(ctx)
}

// Migrate creates the table and its indexes if they do not exist, as Open
// does. It is safe to call from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("sqlitestore: migrate %s: %w", s.table, err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	// Usually everything exists already: then only read, so that opening
	// a store never waits for another process's write.
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name IN (?, ?, ?)`,
		s.table, s.table+"_expiry_idx", s.table+"_user_key_idx").Scan(&n)
	if err != nil {
		return err
	}
	if n == 3 {
		return nil
	}
	return s.w.write(ctx, func(ctx context.Context, db execer) error {
		for _, stmt := range s.Schema() {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create table %s: %w", s.table, err)
			}
		}
		return nil
	})
}

// CheckTable reports whether name is a table name WithTable accepts: 1 to
// 64 ASCII letters, digits and '_', not starting with a digit.
func CheckTable(name string) error {
	if !validIdent(name) {
		return fmt.Errorf("sqlitestore: invalid table name %q: want 1 to 64 ASCII letters, digits or '_', not starting with a digit", name)
	}
	return nil
}

func validIdent(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}

// quote quotes an identifier validIdent accepted.
func quote(name string) string { return `"` + name + `"` }

// Schema returns the SQL statements that create the table and its
// indexes (the ones Open runs), for teams that manage their schema with
// their own tools.
func (s *Store) Schema() []string {
	t := quote(s.table)
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
	key      TEXT    NOT NULL PRIMARY KEY,
	data     BLOB    NOT NULL,
	version  INTEGER NOT NULL,
	expiry   INTEGER NOT NULL, -- Unix time in milliseconds
	user_key TEXT
)`,
		`CREATE INDEX IF NOT EXISTS ` + quote(s.table+"_expiry_idx") + ` ON ` + t + ` (expiry)`,
		`CREATE INDEX IF NOT EXISTS ` + quote(s.table+"_user_key_idx") + ` ON ` + t + ` (user_key) WHERE user_key IS NOT NULL`,
	}
}

func (s *Store) queries() {
	const cols = "key, data, version, expiry, user_key"
	t := quote(s.table)
	s.q.load = `SELECT data, version, expiry, user_key FROM ` + t + ` WHERE key = ?1 AND expiry > ?2`
	// A new session: insert, or take over a row that has expired (it
	// counts as absent), continuing its versions so that a writer still
	// holding a version of the old record can never match the new one. A
	// live row makes the statement return no row: a conflict.
	s.q.insert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?1, ?2, 1, ?3, ?4)
ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = version + 1, expiry = excluded.expiry, user_key = excluded.user_key
WHERE expiry <= ?5
RETURNING version`
	s.q.update = `UPDATE ` + t + ` SET data = ?2, version = version + 1, expiry = ?3, user_key = ?4
WHERE key = ?1 AND version = ?5 AND expiry > ?6
RETURNING version`
	s.q.touch = `UPDATE ` + t + ` SET expiry = ?2 WHERE key = ?1 AND expiry > ?3`
	s.q.del = `DELETE FROM ` + t + ` WHERE key = ?1`
	s.q.user = `SELECT ` + cols + ` FROM ` + t + ` WHERE user_key = ?1 AND expiry > ?2`
	s.q.deleteUser = `DELETE FROM ` + t + ` WHERE user_key = ?1 RETURNING expiry > ?2`
	s.q.firstPage = `SELECT ` + cols + ` FROM ` + t + ` WHERE expiry > ?1 ORDER BY key LIMIT ?2`
	s.q.page = `SELECT ` + cols + ` FROM ` + t + ` WHERE key > ?3 AND expiry > ?1 ORDER BY key LIMIT ?2`
	s.q.sweep = `DELETE FROM ` + t + ` WHERE key IN (SELECT key FROM ` + t + ` WHERE expiry <= ?1 LIMIT ?2)`
}

// Path returns the path the Store was opened with.
func (s *Store) Path() string { return s.path }

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// DB returns the connection pool the store uses, for backups (VACUUM
// INTO) and statistics. Do not change its connection settings.
func (s *Store) DB() *sql.DB { return s.db }

// missingTable reports whether err is SQLite's "no such table": its
// message and the driver's error, or "" and nil.
func missingTable(err error) (string, error) {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == 1 && strings.Contains(se.Error(), "no such table") {
		return se.Error(), se
	}
	return "", nil
}

// tooBig reports whether err is SQLite's SQLITE_TOOBIG: a string, blob or
// row over its length limit.
func tooBig(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 18
}

func (s *Store) wrap(op, key string, err error) error { return s.core.Wrap(op, key, err) }

func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Load implements sessionkit.Store.
func (s *Store) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	var (
		rec  sessionkit.Record
		exp  int64
		user sql.NullString
	)
	err := s.r.QueryRowContext(ctx, s.q.load, key, s.nowMs()).Scan(&rec.Data, &rec.Version, &exp, &user)
	rec.Expiry = fromMillis(exp)
	rec.UserKey = user.String
	return s.core.Loaded(key, rec, err)
}

// Save implements sessionkit.Store: one statement does the
// compare-and-swap. A new record (rec.Version 0) gets version 1, or the
// next version of an expired row it replaces; every update increments
// the version.
func (s *Store) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if len(rec.Data) > MaxDataSize {
		return 0, fmt.Errorf("sqlitestore: save %q: %d bytes of data, over MaxDataSize (%d): %w", key, len(rec.Data), MaxDataSize, sessionkit.ErrTooLarge)
	}
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	if rec.Version > math.MaxInt64 {
		return 0, sessionkit.ErrConflict
	}
	now, exp, user := s.nowMs(), rec.Expiry.UnixMilli(), sqlstore.UserKeyArg(rec.UserKey)
	var (
		ver      int64
		conflict bool
	)
	err := s.w.write(ctx, func(ctx context.Context, db execer) error {
		ver, conflict = 0, false
		var row *sql.Row
		if rec.Version == 0 {
			row = db.QueryRowContext(ctx, s.q.insert, key, data, exp, user, now)
		} else {
			row = db.QueryRowContext(ctx, s.q.update, key, data, exp, user, int64(rec.Version), now)
		}
		err := row.Scan(&ver)
		if errors.Is(err, sql.ErrNoRows) {
			conflict = true
			return nil
		}
		return err
	})
	if err != nil {
		if tooBig(err) {
			return 0, fmt.Errorf("sqlitestore: save %q: %w (%w)", key, sessionkit.ErrTooLarge, err)
		}
		return 0, s.wrap("save", key, err)
	}
	if conflict {
		return 0, sessionkit.ErrConflict
	}
	return uint64(ver), nil
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	var n int64
	err := s.w.write(ctx, func(ctx context.Context, db execer) error {
		n = 0
		res, err := db.ExecContext(ctx, s.q.touch, key, expiry.UnixMilli(), s.nowMs())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return s.wrap("touch", key, err)
	}
	if n == 0 {
		return sessionkit.ErrNotFound
	}
	return nil
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.w.write(ctx, func(ctx context.Context, db execer) error {
		_, err := db.ExecContext(ctx, s.q.del, key)
		return err
	})
	if err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// UserSessions implements sessionkit.UserIndex.
func (s *Store) UserSessions(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	return s.core.UserSessions(ctx, userKey, func(ctx context.Context) ([]sessionkit.Entry, error) {
		rows, err := s.r.QueryContext(ctx, s.q.user, userKey, s.nowMs())
		if err != nil {
			return nil, err
		}
		return collectEntries(rows)
	})
}

// DeleteUserSessions implements sessionkit.UserIndex. It deletes the
// user's expired rows too, in the same statement, but counts only live
// ones.
func (s *Store) DeleteUserSessions(ctx context.Context, userKey string) (int, error) {
	return s.core.DeleteUserSessions(ctx, userKey, func(ctx context.Context) (int, error) {
		live := 0
		err := s.w.write(ctx, func(ctx context.Context, db execer) error {
			live = 0
			rows, err := db.QueryContext(ctx, s.q.deleteUser, userKey, s.nowMs())
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var isLive bool
				if err := rows.Scan(&isLive); err != nil {
					return err
				}
				if isLive {
					live++
				}
			}
			return rows.Err()
		})
		return live, err
	})
}

// All implements sessionkit.Iterator. It reads the table in pages ordered
// by key (keyset pagination), one short query per page, and calls yield
// between queries, so it never holds up writers and yield may use the
// store.
func (s *Store) All(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	return s.core.All(ctx, func(ctx context.Context, after string, first bool, limit int) ([]sessionkit.Entry, error) {
		var (
			rows *sql.Rows
			err  error
		)
		if first {
			rows, err = s.r.QueryContext(ctx, s.q.firstPage, s.nowMs(), limit)
		} else {
			rows, err = s.r.QueryContext(ctx, s.q.page, s.nowMs(), limit, after)
		}
		if err != nil {
			return nil, err
		}
		return collectEntries(rows)
	})
}

// collectEntries reads and closes rows of (key, data, version, expiry,
// user_key).
func collectEntries(rows *sql.Rows) ([]sessionkit.Entry, error) {
	defer rows.Close()
	return sqlstore.Collect(rows, func(e *sessionkit.Entry) error {
		var (
			exp  int64
			user sql.NullString
		)
		if err := rows.Scan(&e.Key, &e.Record.Data, &e.Record.Version, &exp, &user); err != nil {
			return err
		}
		e.Record.Expiry = fromMillis(exp)
		e.Record.UserKey = user.String
		return nil
	})
}

// DeleteExpired implements sessionkit.Sweeper: it deletes the rows expired
// at the time of the call, at most 1000 per statement so that other
// writers are never held up for long, and returns how many it deleted.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	now := s.nowMs()
	return s.core.DeleteExpired(ctx, func(ctx context.Context, limit int) (int64, error) {
		var n int64
		err := s.w.write(ctx, func(ctx context.Context, db execer) error {
			n = 0
			res, err := db.ExecContext(ctx, s.q.sweep, now, limit)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		return n, err
	})
}

// Close stops the background sweeper and waits for it to finish, then
// closes the connections. Close is safe to call more than once; the Store
// must not be used afterwards.
func (s *Store) Close() error {
	return s.core.Close(func() error {
		s.w.close()
		s.r.close()
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("sqlitestore: close %s: %w", s.path, err)
		}
		return nil
	})
}
