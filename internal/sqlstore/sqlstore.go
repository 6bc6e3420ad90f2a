// Package sqlstore holds the logic that the SQL session stores (pgstore,
// mysqlstore and sqlitestore) share: option defaults, the background
// sweeper, error wrapping, reading rows into entries, keyed pagination for
// All, batched sweeping and the user-index flow.
//
// What differs between databases — query text, placeholders, how a value
// is scanned, which server error means "no such table", the driver calls
// themselves — stays in each store and is handed to a [Core] as plain
// functions. A store keeps its Core in a named field (not embedded), so
// that none of Core's methods become part of the store's API.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sweeper"
)

// Config describes a store to [New]. Every field except Logger and the
// sizes must be set.
type Config struct {
	// Name prefixes every error and log message ("pgstore").
	Name string

	// Table is the table name as configured, for messages.
	Table string

	// ErrNoTable is the store's exported sentinel that errors about a
	// missing table match.
	ErrNoTable error

	// MissingTable reports whether err (as returned by the driver, maybe
	// wrapped) says that the table does not exist: if so it returns the
	// server's message and the driver's error, else "" and nil. It must be
	// safe to call concurrently and must not return a driver error for any
	// other error.
	MissingTable func(err error) (message string, driverErr error)

	// Batch is the most rows one statement of DeleteExpired deletes, and
	// PageSize the most rows one query of All reads. Values <= 0 mean
	// DefaultBatch and DefaultPageSize.
	Batch, PageSize               int
	DefaultBatch, DefaultPageSize int

	// Logger receives the background sweeper's errors; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Core is the database-independent part of a SQL store. Create it with
// [New]; it is safe for concurrent use.
type Core struct {
	name         string
	table        string
	errNoTable   error
	missingTable func(error) (string, error)
	batch        int
	pageSize     int
	logger       *slog.Logger

	sweeper   *sweeper.Loop
	closeOnce sync.Once
}

// New returns a Core for c, with defaults filled in. It starts no
// sweeper; see [Core.StartSweeper].
func New(c Config) *Core {
	core := &Core{
		name:         c.Name,
		table:        c.Table,
		errNoTable:   c.ErrNoTable,
		missingTable: c.MissingTable,
		batch:        c.Batch,
		pageSize:     c.PageSize,
		logger:       c.Logger,
	}
	if core.batch <= 0 {
		core.batch = c.DefaultBatch
	}
	if core.pageSize <= 0 {
		core.pageSize = c.DefaultPageSize
	}
	if core.logger == nil {
		core.logger = slog.Default()
	}
	return core
}

// Batch returns the sweep batch size in effect.
func (c *Core) Batch() int { return c.batch }

// PageSize returns the page size of All in effect.
func (c *Core) PageSize() int { return c.pageSize }

// StartSweeper starts the background sweeper, which calls sweep about
// every interval (jittered by ±20%) and logs its errors. An interval of
// zero means defaultInterval; a negative one starts nothing. Call it at
// most once, before the store is shared.
func (c *Core) StartSweeper(interval, defaultInterval time.Duration, sweep func(context.Context) (int, error)) {
	if interval == 0 {
		interval = defaultInterval
	}
	if interval <= 0 {
		return
	}
	c.sweeper = sweeper.Start(sweeper.Config{
		Interval: interval,
		Jitter:   0.2,
		Sweep:    sweep,
		Report: func(_ int, err error) {
			if err != nil {
				c.logger.LogAttrs(context.Background(), slog.LevelWarn, c.name+": background sweep failed", slog.String("table", c.table), slog.Any("err", err))
			}
		},
	})
}

// Close stops the background sweeper and waits for it to finish, then
// calls closeConn (which releases what the store owns; it may be nil).
// Only the first call does anything; later calls return nil.
func (c *Core) Close(closeConn func() error) error {
	var err error
	c.closeOnce.Do(func() {
		c.sweeper.Stop()
		if closeConn != nil {
			err = closeConn()
		}
	})
	return err
}

// tableError reports a missing table; it matches the store's ErrNoTable.
type tableError struct {
	name, op, table, message string
	sentinel                 error
	err                      error
}

func (e *tableError) Error() string {
	return fmt.Sprintf("%s: %s: table %q does not exist: run Migrate (%s)", e.name, e.op, e.table, e.message)
}

func (e *tableError) Is(target error) bool { return target == e.sentinel }
func (e *tableError) Unwrap() error        { return e.err }

// Wrap adds the store's name, the operation and the key (if not empty) to
// err, and turns a missing table into an error that says so and matches
// the store's ErrNoTable. The driver's error stays reachable with
// errors.As.
func (c *Core) Wrap(op, key string, err error) error {
	if msg, driverErr := c.missingTable(err); driverErr != nil {
		return &tableError{name: c.name, op: op, table: c.table, message: msg, sentinel: c.errNoTable, err: driverErr}
	}
	if key != "" {
		return fmt.Errorf("%s: %s %q: %w", c.name, op, key, err)
	}
	return fmt.Errorf("%s: %s: %w", c.name, op, err)
}

// Loaded finishes a Load of key from the outcome of scanning the row into
// rec: a missing row (an error matching sql.ErrNoRows, as pgx.ErrNoRows
// does) is sessionkit.ErrNotFound, another error is wrapped, and a nil
// Data becomes empty.
func (c *Core) Loaded(key string, rec sessionkit.Record, err error) (sessionkit.Record, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	if err != nil {
		return sessionkit.Record{}, c.Wrap("load", key, err)
	}
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	return rec, nil
}

// UserKeyArg is the query argument for a user key: NULL for none.
func UserKeyArg(u string) any {
	if u == "" {
		return nil
	}
	return u
}

// Rows is the part of pgx.Rows and *sql.Rows that [Collect] uses. Next
// must advance to the next row and report whether there is one; once it
// has returned false, Err must return the error that ended the rows early,
// or nil if all were read.
type Rows interface {
	Next() bool
	Err() error
}

// Collect reads the remaining rows into entries, calling scan once per row
// to fill in an entry from the current row. scan must not advance rows.
// A nil Data becomes empty. The result is never nil when err is nil.
// Collect does not close rows: the caller does.
func Collect(rows Rows, scan func(e *sessionkit.Entry) error) ([]sessionkit.Entry, error) {
	entries := []sessionkit.Entry{}
	for rows.Next() {
		var e sessionkit.Entry
		if err := scan(&e); err != nil {
			return nil, err
		}
		if e.Record.Data == nil {
			e.Record.Data = []byte{}
		}
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

// UserSessions implements sessionkit.UserIndex's method of that name: an
// empty user key has no sessions; otherwise query must return the live
// entries whose user key is userKey, and its error is wrapped.
func (c *Core) UserSessions(ctx context.Context, userKey string, query func(ctx context.Context) ([]sessionkit.Entry, error)) ([]sessionkit.Entry, error) {
	if userKey == "" {
		return []sessionkit.Entry{}, nil
	}
	entries, err := query(ctx)
	if err != nil {
		return nil, c.Wrap("user sessions", userKey, err)
	}
	return entries, nil
}

// DeleteUserSessions implements sessionkit.UserIndex's method of that
// name: an empty user key has no sessions; otherwise del must delete every
// row of userKey and return how many of them were live. Its count is
// returned even with an error, which is wrapped.
func (c *Core) DeleteUserSessions(ctx context.Context, userKey string, del func(ctx context.Context) (int, error)) (int, error) {
	if userKey == "" {
		return 0, nil
	}
	n, err := del(ctx)
	if err != nil {
		return n, c.Wrap("delete user sessions", userKey, err)
	}
	return n, nil
}

// All implements sessionkit.Iterator with keyset pagination: it calls
// page for one page at a time and yields its entries, until a page is
// shorter than the page size. page must return at most limit live
// entries in ascending key order: the first ones when first is true,
// otherwise those whose key is greater than after. Each call should be one
// short query, so that no locks are held between pages.
func (c *Core) All(ctx context.Context, page func(ctx context.Context, after string, first bool, limit int) ([]sessionkit.Entry, error)) iter.Seq2[sessionkit.Entry, error] {
	return func(yield func(sessionkit.Entry, error) bool) {
		var after string
		first := true
		for {
			entries, err := page(ctx, after, first, c.pageSize)
			if err != nil {
				yield(sessionkit.Entry{}, c.Wrap("iterate", "", err))
				return
			}
			for _, e := range entries {
				if !yield(e, nil) {
					return
				}
			}
			if len(entries) < c.pageSize {
				return
			}
			after, first = entries[len(entries)-1].Key, false
		}
	}
}

// DeleteExpired implements sessionkit.Sweeper: it calls deleteBatch until
// a call deletes fewer than limit rows, and returns the total. deleteBatch
// must delete at most limit rows that expired at a fixed time (the same
// for every call of one DeleteExpired) and report how many it deleted.
func (c *Core) DeleteExpired(ctx context.Context, deleteBatch func(ctx context.Context, limit int) (int64, error)) (int, error) {
	total := 0
	for {
		n, err := deleteBatch(ctx, c.batch)
		if err != nil {
			return total, c.Wrap("delete expired", "", err)
		}
		total += int(n)
		if int(n) < c.batch {
			return total, nil
		}
	}
}
