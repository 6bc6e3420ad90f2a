package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

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

// Column limits of the schema. Save refuses a longer key or user key with an
// error that wraps [sessionkit.ErrTooLarge].
const (
	MaxKeyLen     = 256 // bytes of a session key (VARBINARY(256))
	MaxUserKeyLen = 255 // bytes of a user key (VARBINARY(255))
)

// ErrNoTable is wrapped by errors of operations that found the session
// table missing (MySQL error 1146). Run [Store.Migrate], or create the
// table from the SQL in the package documentation.
var ErrNoTable = errors.New("mysqlstore: table does not exist")

// Options configures a [Store]. The zero value is usable.
type Options struct {
	// Table is the session table, optionally qualified with a database
	// name ("sessions", "auth.sessions"); the package documentation says
	// which names are accepted. Default "sessions".
	Table string

	// CleanupInterval is the average time between two runs of the
	// background sweeper that deletes expired rows (each run is jittered
	// by ±20%). Zero means DefaultCleanupInterval; a negative value
	// disables the sweeper, for deployments that call DeleteExpired from
	// cron or the CLI instead.
	CleanupInterval time.Duration

	// CleanupBatch bounds how many rows one DELETE statement of the
	// sweeper removes. Default DefaultCleanupBatch.
	CleanupBatch int

	// PageSize is how many rows one query of All fetches. Default
	// DefaultPageSize.
	PageSize int

	// Logger receives the background sweeper's errors. Default
	// slog.Default().
	Logger *slog.Logger
}

// Store is a sessionkit.Store backed by a MySQL or MariaDB table. It also
// implements sessionkit.UserIndex, sessionkit.Iterator, sessionkit.Sweeper
// and sessionkit.Closer. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	ownsDB bool
	table  string // as configured
	ident  string // quoted

	q struct {
		load, insert, revive, update, touch, live, del, user, deleteUserLive, deleteUserRest, firstPage, page, sweep string
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

// New returns a Store that uses db, which must have been opened with the
// "mysql" driver (github.com/go-sql-driver/mysql). The caller keeps
// ownership of db: Close stops the store's sweeper but does not close db.
// New does not touch the database; call [Store.Migrate] to create the
// table.
//
// Without interpolateParams=true in the DSN, the driver prepares every
// statement on the server before running it, which costs two extra round
// trips per call; Open turns it on unless the DSN says otherwise. Without
// maxAllowedPacket=0 the driver assumes the server accepts 64 MiB packets:
// when the server's max_allowed_packet is smaller, a record between the two
// makes the server reset the connection, an error that does not wrap
// sessionkit.ErrTooLarge. Open sets it unless the DSN says otherwise.
func New(db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("mysqlstore: nil *sql.DB")
	}
	return newStore(db, false, opts)
}

// Open connects to the server named by dsn — a go-sql-driver DSN
// ("user:pass@tcp(host:3306)/db") or a mysql:// URL (see [DSNFromURL]) —
// and returns a Store that owns the connection pool: Close closes it.
// Unless the DSN sets interpolateParams, Open sets it to true; unless it
// sets maxAllowedPacket, Open sets it to 0, so that the driver reads the
// server's limit when it connects and a record over it fails with
// [sessionkit.ErrTooLarge] (see the package documentation). Open checks
// that the server answers but not that the table exists (so that Migrate
// can follow).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if strings.HasPrefix(dsn, "mysql://") || strings.HasPrefix(dsn, "mariadb://") {
		var err error
		if dsn, err = DSNFromURL(dsn); err != nil {
			return nil, err
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: parse DSN: %w", err)
	}
	if _, err := quoteTable(opts.Table); err != nil {
		return nil, err
	}
	if !strings.Contains(dsn, "interpolateParams=") {
		cfg.InterpolateParams = true
	}
	if !strings.Contains(dsn, "maxAllowedPacket=") {
		// Learn the server's limit, so that an oversized record is a
		// clear error rather than a connection the server resets.
		cfg.MaxAllowedPacket = 0
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil && cfg.InterpolateParams && !strings.Contains(dsn, "interpolateParams=") {
		// Some collations rule interpolation out; fall back to prepares.
		cfg.InterpolateParams = false
		conn, err = mysql.NewConnector(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: parse DSN: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysqlstore: connect to %s(%s): %w", cfg.Net, cfg.Addr, err)
	}
	s, err := newStore(db, true, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// DSNFromURL turns a URL of the form
//
//	mysql://user:password@host:port/dbname?param=value&...
//
// into a go-sql-driver DSN ("user:password@tcp(host:port)/dbname?..."). The
// user name and password may be percent-encoded; the port defaults to
// 3306; query parameters are the driver's DSN parameters (parseTime, tls,
// loc, ...), except socket=/path, which connects through a Unix socket
// instead of TCP. The scheme mariadb:// is accepted too.
func DSNFromURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error quotes the whole URL, password included:
		// keep only what is wrong.
		return "", fmt.Errorf("mysqlstore: invalid URL: %s", urlProblem(err))
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return "", fmt.Errorf("mysqlstore: invalid URL: scheme %q, want mysql://", u.Scheme)
	}
	q := u.Query()
	socket := q.Get("socket")
	q.Del("socket")
	cfg, err := mysql.ParseDSN("/?" + q.Encode())
	if err != nil {
		return "", fmt.Errorf("mysqlstore: invalid URL parameters: %w", err)
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		if cfg.User == "" && cfg.Passwd != "" {
			return "", errors.New("mysqlstore: invalid URL: a password needs a user name")
		}
	}
	switch {
	case socket != "":
		cfg.Net, cfg.Addr = "unix", socket
	case u.Host == "":
		cfg.Net, cfg.Addr = "tcp", "127.0.0.1:3306"
	default:
		cfg.Net, cfg.Addr = "tcp", u.Host
		if u.Port() == "" {
			cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
		}
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(cfg.DBName, "/") {
		return "", fmt.Errorf("mysqlstore: invalid URL: database name %q contains '/'", cfg.DBName)
	}
	// The DSN grammar cannot express every address or name (a socket path
	// with '@' or ')', say): make sure the driver reads back what we mean.
	dsn := cfg.FormatDSN()
	back, err := mysql.ParseDSN(dsn)
	if err != nil || back.Net != cfg.Net || back.Addr != cfg.Addr || back.User != cfg.User || back.Passwd != cfg.Passwd || back.DBName != cfg.DBName {
		return "", errors.New("mysqlstore: invalid URL: its host, socket or database name cannot be written as a driver DSN")
	}
	return dsn, nil
}

func newStore(db *sql.DB, owns bool, opts Options) (*Store, error) {
	ident, err := quoteTable(opts.Table)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:     db,
		ownsDB: owns,
		table:  opts.Table,
		ident:  ident,
	}
	if s.table == "" {
		s.table = DefaultTable
	}
	s.core = sqlstore.New(sqlstore.Config{
		Name:            "mysqlstore",
		Table:           s.table,
		ErrNoTable:      ErrNoTable,
		MissingTable:    missingTable,
		Batch:           opts.CleanupBatch,
		PageSize:        opts.PageSize,
		DefaultBatch:    DefaultCleanupBatch,
		DefaultPageSize: DefaultPageSize,
		Logger:          opts.Logger,
	})
	const cols = "`key`, `data`, `version`, `expiry`, `user_key`"
	t := s.ident
	s.q.load = "SELECT `data`, `version`, `expiry`, `user_key` FROM " + t + " WHERE `key` = ? AND `expiry` > ?"
	s.q.insert = "INSERT INTO " + t + " (" + cols + ") VALUES (?, ?, 1, ?, ?)"
	// Taking over an expired row keeps counting its versions, so a writer
	// still holding a version of the old record can never match the new
	// one. LAST_INSERT_ID(expr) hands the new version back in the result.
	s.q.revive = "UPDATE " + t + " SET `data` = ?, `version` = LAST_INSERT_ID(`version` + 1), `expiry` = ?, `user_key` = ? WHERE `key` = ? AND `expiry` <= ?"
	s.q.update = "UPDATE " + t + " SET `data` = ?, `version` = `version` + 1, `expiry` = ?, `user_key` = ? WHERE `key` = ? AND `version` = ? AND `expiry` > ?"
	s.q.touch = "UPDATE " + t + " SET `expiry` = ? WHERE `key` = ? AND `expiry` > ?"
	s.q.live = "SELECT 1 FROM " + t + " WHERE `key` = ? AND `expiry` > ?"
	s.q.del = "DELETE FROM " + t + " WHERE `key` = ?"
	s.q.user = "SELECT " + cols + " FROM " + t + " WHERE `user_key` = ? AND `expiry` > ?"
	s.q.deleteUserLive = "DELETE FROM " + t + " WHERE `user_key` = ? AND `expiry` > ?"
	s.q.deleteUserRest = "DELETE FROM " + t + " WHERE `user_key` = ? AND `expiry` <= ?"
	s.q.firstPage = "SELECT " + cols + " FROM " + t + " WHERE `expiry` > ? ORDER BY `key` LIMIT ?"
	s.q.page = "SELECT " + cols + " FROM " + t + " WHERE `key` > ? AND `expiry` > ? ORDER BY `key` LIMIT ?"
	s.q.sweep = "DELETE FROM " + t + " WHERE `expiry` <= ? ORDER BY `expiry` LIMIT ?"

	s.core.StartSweeper(opts.CleanupInterval, DefaultCleanupInterval, s.DeleteExpired)
	return s, nil
}

// quoteTable validates a table name — one or two dot-separated parts
// (database.table), each 1 to 64 letters, digits, '_' or '$', not starting
// with '$' — and quotes each part with backticks.
func quoteTable(name string) (string, error) {
	if name == "" {
		name = DefaultTable
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("mysqlstore: invalid table name %q: want table or database.table", name)
	}
	for i, p := range parts {
		if !validIdent(p) {
			return "", fmt.Errorf("mysqlstore: invalid table name %q: each part must be 1 to 64 letters, digits, '_' or '$', not starting with '$'", name)
		}
		parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return strings.Join(parts, "."), nil
}

func validIdent(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case i > 0 && r == '$':
		default:
			return false
		}
	}
	return true
}

// Schema returns the SQL statement that creates the table with its
// indexes (the one Migrate runs), for teams that manage their schema with
// their own tools.
func (s *Store) Schema() string {
	return "CREATE TABLE IF NOT EXISTS " + s.ident + ` (
	` + "`key`" + `      VARBINARY(256)  NOT NULL,
	` + "`data`" + `     LONGBLOB        NOT NULL,
	` + "`version`" + `  BIGINT UNSIGNED NOT NULL,
	` + "`expiry`" + `   BIGINT          NOT NULL COMMENT 'Unix time in milliseconds (UTC)',
	` + "`user_key`" + ` VARBINARY(255)  NULL,
	PRIMARY KEY (` + "`key`" + `),
	KEY ` + "`expiry_idx`" + ` (` + "`expiry`" + `),
	KEY ` + "`user_key_idx`" + ` (` + "`user_key`" + `)
) ENGINE=InnoDB`
}

// Migrate creates the table and its indexes if they do not exist. It is
// safe to call on every start and from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.Schema()); err != nil {
		return fmt.Errorf("mysqlstore: migrate %s: %w", s.table, err)
	}
	return nil
}

// DropTable drops the table. It is meant for tests and the CLI; there is
// no undo.
func (s *Store) DropTable(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+s.ident); err != nil {
		return fmt.Errorf("mysqlstore: drop %s: %w", s.table, err)
	}
	return nil
}

// Table returns the configured table name.
func (s *Store) Table() string { return s.table }

// DB returns the connection pool the store uses.
func (s *Store) DB() *sql.DB { return s.db }

// missingTable returns the message and driver error when err is MySQL's
// error 1146 (no such table), else "" and nil.
func missingTable(err error) (string, error) {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && myErr.Number == 1146 {
		return myErr.Message, myErr
	}
	return "", nil
}

// wrap adds the operation and key to err and turns a missing table into
// an error that says so and matches ErrNoTable.
func (s *Store) wrap(op, key string, err error) error { return s.core.Wrap(op, key, err) }

// saveError wraps an error of Save. A record the server (or the driver)
// refuses for its size — over max_allowed_packet — is a hard size limit,
// so the error matches sessionkit.ErrTooLarge as well as the driver's.
func (s *Store) saveError(key string, size int, err error) error {
	if tooLarge(err) {
		return fmt.Errorf("mysqlstore: save %q: record of %d bytes is over the server's max_allowed_packet: %w (%w)", key, size, sessionkit.ErrTooLarge, err)
	}
	return s.wrap("save", key, err)
}

// tooLarge reports whether err says a statement was refused for being
// larger than max_allowed_packet: the driver's own check, the server's
// ER_NET_PACKET_TOO_LARGE (1153) and ER_WARN_ALLOWED_PACKET_OVERFLOWED
// (1301), or MariaDB's refusal of a long prepared-statement parameter,
// which has only the generic code 1105 and names the variable.
func tooLarge(err error) bool {
	if errors.Is(err, mysql.ErrPktTooLarge) {
		return true
	}
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) {
		return false
	}
	switch myErr.Number {
	case 1153, 1301:
		return true
	case 1105:
		return strings.Contains(myErr.Message, "max_allowed_packet")
	}
	return false
}

func isDuplicate(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && myErr.Number == 1062
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func checkSizes(key string, rec sessionkit.Record) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("mysqlstore: key of %d bytes is longer than %d: %w", len(key), MaxKeyLen, sessionkit.ErrTooLarge)
	}
	if len(rec.UserKey) > MaxUserKeyLen {
		return fmt.Errorf("mysqlstore: user key of %d bytes is longer than %d: %w", len(rec.UserKey), MaxUserKeyLen, sessionkit.ErrTooLarge)
	}
	return nil
}

// Load implements sessionkit.Store.
func (s *Store) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	var (
		rec  sessionkit.Record
		exp  int64
		user sql.NullString
	)
	err := s.db.QueryRowContext(ctx, s.q.load, key, millis(time.Now())).Scan(&rec.Data, &rec.Version, &exp, &user)
	rec.Expiry = fromMillis(exp)
	rec.UserKey = user.String
	return s.core.Loaded(key, rec, err)
}

// Save implements sessionkit.Store. A new record (rec.Version 0) gets
// version 1, or the next version of an expired row it replaces; every
// update increments the version.
func (s *Store) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if err := checkSizes(key, rec); err != nil {
		return 0, err
	}
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	now, exp, user := millis(time.Now()), millis(rec.Expiry), sqlstore.UserKeyArg(rec.UserKey)
	if rec.Version != 0 {
		if rec.Version > math.MaxInt64 {
			return 0, sessionkit.ErrConflict
		}
		res, err := s.db.ExecContext(ctx, s.q.update, data, exp, user, key, rec.Version, now)
		if err != nil {
			return 0, s.saveError(key, len(data), err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, s.saveError(key, len(data), err)
		} else if n == 0 {
			return 0, sessionkit.ErrConflict
		}
		return rec.Version + 1, nil
	}
	// Insert; on a duplicate key take the row over if it has expired. A
	// sweeper may delete that expired row in between, so try again a few
	// times before calling it a conflict.
	for range 3 {
		_, err := s.db.ExecContext(ctx, s.q.insert, key, data, exp, user)
		if err == nil {
			return 1, nil
		}
		if !isDuplicate(err) {
			return 0, s.saveError(key, len(data), err)
		}
		res, err := s.db.ExecContext(ctx, s.q.revive, data, exp, user, key, now)
		if err != nil {
			return 0, s.saveError(key, len(data), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, s.saveError(key, len(data), err)
		}
		if n == 0 {
			// A live row (a conflict), or the expired row just vanished.
			var one int
			err := s.db.QueryRowContext(ctx, s.q.live, key, now).Scan(&one)
			if err == nil {
				return 0, sessionkit.ErrConflict
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return 0, s.saveError(key, len(data), err)
			}
			continue
		}
		v, err := res.LastInsertId()
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("mysqlstore: save %q: read new version: %v", key, err)
		}
		return uint64(v), nil
	}
	return 0, sessionkit.ErrConflict
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	now := millis(time.Now())
	res, err := s.db.ExecContext(ctx, s.q.touch, millis(expiry), key, now)
	if err != nil {
		return s.wrap("touch", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap("touch", key, err)
	}
	if n > 0 {
		return nil
	}
	// MySQL counts only changed rows: a live row whose expiry already had
	// this value reports 0 too.
	var one int
	err = s.db.QueryRowContext(ctx, s.q.live, key, now).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return sessionkit.ErrNotFound
	}
	if err != nil {
		return s.wrap("touch", key, err)
	}
	return nil
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, s.q.del, key); err != nil {
		return s.wrap("delete", key, err)
	}
	return nil
}

// UserSessions implements sessionkit.UserIndex.
func (s *Store) UserSessions(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	return s.core.UserSessions(ctx, userKey, func(ctx context.Context) ([]sessionkit.Entry, error) {
		rows, err := s.db.QueryContext(ctx, s.q.user, userKey, millis(time.Now()))
		if err != nil {
			return nil, err
		}
		return collectEntries(rows)
	})
}

// DeleteUserSessions implements sessionkit.UserIndex. It deletes the
// user's expired rows too, but counts only live ones.
func (s *Store) DeleteUserSessions(ctx context.Context, userKey string) (int, error) {
	return s.core.DeleteUserSessions(ctx, userKey, func(ctx context.Context) (int, error) {
		now := millis(time.Now())
		res, err := s.db.ExecContext(ctx, s.q.deleteUserLive, userKey, now)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		if _, err := s.db.ExecContext(ctx, s.q.deleteUserRest, userKey, now); err != nil {
			return int(n), err
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
			rows *sql.Rows
			err  error
		)
		now := millis(time.Now())
		if first {
			rows, err = s.db.QueryContext(ctx, s.q.firstPage, now, limit)
		} else {
			rows, err = s.db.QueryContext(ctx, s.q.page, after, now, limit)
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
// at the time of the call, in batches of Options.CleanupBatch rows, and
// returns how many it deleted.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	now := millis(time.Now())
	return s.core.DeleteExpired(ctx, func(ctx context.Context, limit int) (int64, error) {
		res, err := s.db.ExecContext(ctx, s.q.sweep, now, limit)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
}

// Close stops the background sweeper and waits for it to finish, then
// closes the connection pool if the store opened it (Open).
func (s *Store) Close() error {
	return s.core.Close(func() error {
		if s.ownsDB {
			return s.db.Close()
		}
		return nil
	})
}

// urlProblem says what url.Parse found wrong, up to the first text it
// quotes: the whole URL, and in the details (a port, a host, an escape)
// what may be part of a password that was not percent-encoded.
func urlProblem(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "cannot parse it"
	}
	what, _, _ := strings.Cut(ue.Err.Error(), `"`)
	return strings.TrimSpace(what)
}
