package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sweeper"
)

// MaxDataSize is the largest Record.Data a Store accepts: bbolt's value
// limit (bbolt.MaxValueSize, about 2 GiB), less 64 KiB for the rest of the
// record. Larger records, and user keys longer than bbolt's key limit
// (bbolt.MaxKeySize, 32 KiB) allows in the per-user index, are refused with
// an error that wraps [sessionkit.ErrTooLarge].
const MaxDataSize = bbolt.MaxValueSize - 64<<10

// ErrLocked is returned (wrapped) by Open when another process holds the
// database file open and did not let go within the lock timeout.
var ErrLocked = errors.New("file is locked by another process")

// ErrNoBucket is returned (wrapped) by Open and New with WithNoCreate when
// the file does not hold the store's buckets.
var ErrNoBucket = errors.New("bucket does not exist")

// Defaults used when an option is not given.
const (
	DefaultBucket        = "sessionkit"
	DefaultSweepInterval = time.Minute
	DefaultLockTimeout   = time.Second
	DefaultBatchDelay    = time.Millisecond
)

// Work done in one transaction by the sweeper, iteration and bulk deletes,
// so that none of them holds the writer lock or pins a read transaction for
// long.
const (
	sweepBatch   = 1000
	iterPageSize = 256
)

// Store is a sessionkit.Store kept in a bbolt database file. It also
// implements sessionkit.UserIndex, sessionkit.Iterator, sessionkit.Sweeper
// and sessionkit.Closer. A Store is safe for concurrent use.
type Store struct {
	db      *bbolt.DB
	ownsDB  bool
	path    string
	root    []byte
	now     func() time.Time
	logger  *slog.Logger
	closeMu sync.Mutex
	closed  bool
	sweeper *sweeper.Loop
}

var (
	_ sessionkit.Store     = (*Store)(nil)
	_ sessionkit.UserIndex = (*Store)(nil)
	_ sessionkit.Iterator  = (*Store)(nil)
	_ sessionkit.Sweeper   = (*Store)(nil)
	_ sessionkit.Closer    = (*Store)(nil)
)

type config struct {
	bucket        string
	sweepInterval time.Duration
	lockTimeout   time.Duration
	batchDelay    time.Duration
	fileMode      os.FileMode
	noCreate      bool
	now           func() time.Time
	logger        *slog.Logger
}

// An Option configures Open or New.
type Option func(*config)

// WithSweepInterval sets how often the background sweeper deletes expired
// records (default DefaultSweepInterval). Zero or a negative value disables
// the sweeper; expired records are then still never returned, and
// DeleteExpired removes them on demand.
func WithSweepInterval(d time.Duration) Option {
	return func(c *config) { c.sweepInterval = d }
}

// WithLockTimeout sets how long Open waits for another process to release
// the database file before failing with ErrLocked (default
// DefaultLockTimeout). Values of zero or less mean the default: Open never
// waits forever.
func WithLockTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.lockTimeout = d
		}
	}
}

// WithBatchDelay sets how long Open's database waits to gather concurrent
// writes into one transaction and one fsync (bbolt's DB.MaxBatchDelay;
// default DefaultBatchDelay). A longer delay raises throughput under many
// concurrent writers and adds latency to a lone writer. New leaves the
// caller's DB settings alone and ignores this option.
func WithBatchDelay(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.batchDelay = d
		}
	}
}

// WithNoCreate makes Open and New fail with an error that wraps
// ErrNoBucket, instead of creating the store's buckets, when the file does
// not have them (a misspelt WithBucket, or a file another program made).
// Tools that only inspect a store set it; Open still creates a missing
// file (check for it first).
func WithNoCreate() Option {
	return func(c *config) { c.noCreate = true }
}

// WithFileMode sets the permissions Open creates the database file with
// (default 0600).
func WithFileMode(mode os.FileMode) Option {
	return func(c *config) { c.fileMode = mode }
}

// WithBucket sets the name of the top-level bucket the store keeps its data
// in (default DefaultBucket). Several stores can share one DB under
// different bucket names.
func WithBucket(name string) Option {
	return func(c *config) {
		if name != "" {
			c.bucket = name
		}
	}
}

// WithClock sets the function the store reads the current time from when it
// decides whether a record has expired (default time.Now). Tests use it to
// move time forward.
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
		bucket:        DefaultBucket,
		sweepInterval: DefaultSweepInterval,
		lockTimeout:   DefaultLockTimeout,
		batchDelay:    DefaultBatchDelay,
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

// Open opens (creating it and its parent directories if needed) the bbolt
// database file at path and returns a Store that owns it: Close stops the
// sweeper and closes the file.
//
// bbolt allows one process at a time per file. When another process has the
// file open, Open waits up to the lock timeout (see WithLockTimeout) and
// then fails with an error that wraps ErrLocked and names the file.
func Open(path string, opts ...Option) (*Store, error) {
	c := newConfig(opts)
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
		}
	}
	db, err := bbolt.Open(path, c.fileMode, &bbolt.Options{Timeout: c.lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w (waited %s)", path, ErrLocked, c.lockTimeout.Round(time.Millisecond))
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	db.MaxBatchDelay = c.batchDelay
	s, err := newStore(db, true, c)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New returns a Store that keeps its data in db, under its own top-level
// bucket (see WithBucket), creating the buckets if needed. The caller owns
// db: Close stops the sweeper but leaves db open. db must not be read-only.
func New(db *bbolt.DB, opts ...Option) (*Store, error) {
	return newStore(db, false, newConfig(opts))
}

func newStore(db *bbolt.DB, owns bool, c config) (*Store, error) {
	s := &Store{
		db:     db,
		ownsDB: owns,
		path:   db.Path(),
		root:   []byte(c.bucket),
		now:    c.now,
		logger: c.logger,
	}
	if c.noCreate {
		err := db.View(func(tx *bbolt.Tx) error {
			root := tx.Bucket(s.root)
			if root == nil {
				return fmt.Errorf("boltstore: %s has no bucket %q: %w", s.path, s.root, ErrNoBucket)
			}
			for _, name := range [][]byte{bucketSessions, bucketExpiry, bucketUsers} {
				if root.Bucket(name) == nil {
					return fmt.Errorf("boltstore: %s: bucket %q lacks %q: %w", s.path, s.root, name, ErrNoBucket)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		err := db.Update(func(tx *bbolt.Tx) error {
			root, err := tx.CreateBucketIfNotExists(s.root)
			if err != nil {
				return err
			}
			for _, name := range [][]byte{bucketSessions, bucketExpiry, bucketUsers} {
				if _, err := root.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("boltstore: create buckets in %s: %w", s.path, err)
		}
	}
	if c.sweepInterval > 0 {
		s.sweeper = sweeper.Start(sweeper.Config{
			Interval: c.sweepInterval,
			Sweep:    s.DeleteExpired,
			Report: func(_ int, err error) {
				if err != nil {
					s.logger.Error("boltstore: sweep expired sessions", "path", s.path, "err", err)
				}
			},
		})
	}
	return s, nil
}

// Close stops the background sweeper, waits for it to finish and, when the
// Store was made by Open, closes the database file. Close is safe to call
// more than once; the Store must not be used afterwards.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.sweeper.Stop()
	if s.ownsDB {
		if err := s.db.Close(); err != nil {
			return fmt.Errorf("boltstore: close %s: %w", s.path, err)
		}
	}
	return nil
}

// DB returns the underlying database, for backups (Tx.WriteTo) and stats.
func (s *Store) DB() *bbolt.DB { return s.db }

// buckets holds the store's three buckets within one transaction.
type buckets struct {
	sessions, expiry, users *bbolt.Bucket
}

func (s *Store) buckets(tx *bbolt.Tx) (buckets, error) {
	root := tx.Bucket(s.root)
	if root == nil {
		return buckets{}, fmt.Errorf("bucket %q is missing", s.root)
	}
	b := buckets{
		sessions: root.Bucket(bucketSessions),
		expiry:   root.Bucket(bucketExpiry),
		users:    root.Bucket(bucketUsers),
	}
	if b.sessions == nil || b.expiry == nil || b.users == nil {
		return buckets{}, fmt.Errorf("bucket %q is incomplete", s.root)
	}
	return b, nil
}

func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// get returns the record stored under key, live or not. The record's data
// aliases the bolt page and is valid only within tx.
func (b buckets) get(key []byte) (storedRecord, bool, error) {
	v := b.sessions.Get(key)
	if v == nil {
		return storedRecord{}, false, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return storedRecord{}, false, fmt.Errorf("%s: %w", key, err)
	}
	return r, true, nil
}

// remove deletes the record under key, whose current value is r, with its
// index entries.
func (b buckets) remove(key string, r storedRecord) error {
	if err := b.expiry.Delete(expiryKey(r.expiryMs, key)); err != nil {
		return err
	}
	if r.userKey != "" {
		if err := b.users.Delete(userIndexKey(r.userKey, key)); err != nil {
			return err
		}
	}
	return b.sessions.Delete([]byte(key))
}

// put stores a record under key and adds its index entries. Any previous
// record must have been removed first.
func (b buckets) put(key string, version uint64, expiryMs int64, userKey string, data []byte) error {
	if err := b.sessions.Put([]byte(key), encodeRecord(version, expiryMs, userKey, data)); err != nil {
		return err
	}
	if err := b.expiry.Put(expiryKey(expiryMs, key), nil); err != nil {
		return err
	}
	if userKey != "" {
		return b.users.Put(userIndexKey(userKey, key), nil)
	}
	return nil
}

func validKey(key string) error {
	if key == "" || len(key) > bbolt.MaxKeySize-8 {
		return fmt.Errorf("invalid key of %d bytes", len(key))
	}
	return nil
}

// batch runs fn in a shared write transaction (DB.Batch), so that
// concurrent writers share one commit and one fsync. fn must leave its
// results in variables it resets on entry, because bbolt may run it more
// than once; it reports outcomes such as ErrConflict through those
// variables and returns an error only for failures that must roll the
// transaction back. When ctx is done before fn runs, fn is skipped.
func (s *Store) batch(ctx context.Context, fn func(b buckets) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var ctxErr error
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		ctxErr = ctx.Err()
		if ctxErr != nil {
			return nil
		}
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return fn(b)
	})
	if err != nil {
		return err
	}
	return ctxErr
}

func (s *Store) view(ctx context.Context, fn func(b buckets) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// Load returns the live record under key, or an error wrapping
// sessionkit.ErrNotFound.
func (s *Store) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	var rec sessionkit.Record
	found := false
	err := s.view(ctx, func(b buckets) error {
		r, ok, err := b.get([]byte(key))
		if err != nil || !ok || !r.live(s.nowMs()) {
			return err
		}
		rec, found = r.record(), true
		return nil
	})
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("boltstore: load %s: %w", key, err)
	}
	if !found {
		return sessionkit.Record{}, fmt.Errorf("boltstore: load %s: %w", key, sessionkit.ErrNotFound)
	}
	return rec, nil
}

// Save stores rec under key if the stored version is rec.Version (0: no
// live record), and returns the new version. Versions come from one
// counter per store, so a key never sees a version twice.
func (s *Store) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if err := validKey(key); err != nil {
		return 0, fmt.Errorf("boltstore: save: %w", err)
	}
	if len(rec.Data) > MaxDataSize {
		return 0, fmt.Errorf("boltstore: save %s: %d bytes of data, over MaxDataSize (%d): %w", key, len(rec.Data), MaxDataSize, sessionkit.ErrTooLarge)
	}
	expiryMs := rec.Expiry.UnixMilli()
	var (
		version  uint64
		conflict bool
	)
	err := s.batch(ctx, func(b buckets) error {
		version, conflict = 0, false
		old, exists, err := b.get([]byte(key))
		if err != nil {
			return err
		}
		var current uint64
		if exists && old.live(s.nowMs()) {
			current = old.version
		}
		if current != rec.Version {
			conflict = true
			return nil
		}
		if exists {
			if err := b.remove(key, old); err != nil {
				return err
			}
		}
		v, err := b.sessions.NextSequence()
		if err != nil {
			return err
		}
		if err := b.put(key, v, expiryMs, rec.UserKey, rec.Data); err != nil {
			return err
		}
		version = v
		return nil
	})
	if errors.Is(err, bolterrors.ErrValueTooLarge) || errors.Is(err, bolterrors.ErrKeyTooLarge) {
		// A user key too long for bbolt's index keys, or a record
		// just under MaxDataSize with a long user key.
		return 0, fmt.Errorf("boltstore: save %s: %w (%w)", key, sessionkit.ErrTooLarge, err)
	}
	if err != nil {
		return 0, fmt.Errorf("boltstore: save %s: %w", key, err)
	}
	if conflict {
		return 0, fmt.Errorf("boltstore: save %s: %w", key, sessionkit.ErrConflict)
	}
	return version, nil
}

// Touch sets the expiry of the live record under key, leaving its data and
// version alone.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	expiryMs := expiry.UnixMilli()
	var missing bool
	err := s.batch(ctx, func(b buckets) error {
		missing = false
		r, ok, err := b.get([]byte(key))
		if err != nil {
			return err
		}
		if !ok || !r.live(s.nowMs()) {
			missing = true
			return nil
		}
		if r.expiryMs == expiryMs {
			return nil
		}
		// Copy the data out before the page it lives on is rewritten.
		data := bytes.Clone(r.data)
		if err := b.remove(key, r); err != nil {
			return err
		}
		return b.put(key, r.version, expiryMs, r.userKey, data)
	})
	if err != nil {
		return fmt.Errorf("boltstore: touch %s: %w", key, err)
	}
	if missing {
		return fmt.Errorf("boltstore: touch %s: %w", key, sessionkit.ErrNotFound)
	}
	return nil
}

// Delete removes the record under key and its index entries. A missing key
// is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.batch(ctx, func(b buckets) error {
		r, ok, err := b.get([]byte(key))
		if errors.Is(err, errCorrupt) {
			// Undecodable: drop the record; its index entries, if any,
			// are ignored on reads and removed by sweeps.
			return b.sessions.Delete([]byte(key))
		}
		if err != nil || !ok {
			return err
		}
		return b.remove(key, r)
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete %s: %w", key, err)
	}
	return nil
}

// userKeys returns the session keys the users bucket lists under userKey.
func (b buckets) userKeys(userKey string) []string {
	prefix := userPrefix(userKey)
	var keys []string
	c := b.users.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, string(k[len(prefix):]))
	}
	return keys
}

// UserSessions returns the live sessions whose UserKey is userKey.
func (s *Store) UserSessions(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	entries := []sessionkit.Entry{}
	if userKey == "" {
		return entries, nil
	}
	err := s.view(ctx, func(b buckets) error {
		now := s.nowMs()
		for _, key := range b.userKeys(userKey) {
			r, ok, err := b.get([]byte(key))
			if err != nil {
				return err
			}
			if ok && r.userKey == userKey && r.live(now) {
				entries = append(entries, sessionkit.Entry{Key: key, Record: r.record()})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: user sessions: %w", err)
	}
	return entries, nil
}

// DeleteUserSessions removes every session of userKey, expired or not, and
// returns how many live ones it removed.
func (s *Store) DeleteUserSessions(ctx context.Context, userKey string) (int, error) {
	if userKey == "" {
		return 0, nil
	}
	var n int
	err := s.batch(ctx, func(b buckets) error {
		n = 0
		now := s.nowMs()
		for _, key := range b.userKeys(userKey) {
			r, ok, err := b.get([]byte(key))
			if err != nil {
				return err
			}
			if !ok || r.userKey != userKey {
				// A stale index entry: drop it alone.
				if err := b.users.Delete(userIndexKey(userKey, key)); err != nil {
					return err
				}
				continue
			}
			if r.live(now) {
				n++
			}
			if err := b.remove(key, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltstore: delete user sessions: %w", err)
	}
	return n, nil
}

// DeleteExpired removes the records expired at the time of the call and
// returns how many it removed. It works through the expiry index in
// transactions of bounded size, so writers are never held up for long.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	nowMs := s.nowMs()
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("boltstore: delete expired: %w", err)
		}
		var removed int
		var more bool
		err := s.db.Update(func(tx *bbolt.Tx) error {
			removed, more = 0, false
			b, err := s.buckets(tx)
			if err != nil {
				return err
			}
			// Collect first: deleting under a live cursor can skip keys.
			var stale [][]byte
			c := b.expiry.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if len(stale) == sweepBatch {
					more = true
					break
				}
				exp, _, ok := splitExpiryKey(k)
				if ok && exp > nowMs {
					break
				}
				stale = append(stale, bytes.Clone(k))
			}
			for _, k := range stale {
				exp, key, ok := splitExpiryKey(k)
				if ok {
					r, found, err := b.get(key)
					if errors.Is(err, errCorrupt) {
						// Undecodable records are dropped, not left
						// to stop every later sweep.
						if err := b.sessions.Delete(key); err != nil {
							return err
						}
						found = false
					} else if err != nil {
						return err
					}
					if found && r.expiryMs == exp {
						if err := b.remove(string(key), r); err != nil {
							return err
						}
						removed++
						continue
					}
				}
				// An index entry without its record: drop it alone.
				if err := b.expiry.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("boltstore: delete expired: %w", err)
		}
		total += removed
		if !more {
			return total, nil
		}
	}
}

// All yields every live record in key order. It reads in pages, each in
// its own short read transaction, and calls yield outside any transaction,
// so yield may use the store and a long iteration never holds up writers or
// pins old pages of the file. Records saved or deleted while it runs may or
// may not be seen.
func (s *Store) All(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	return func(yield func(sessionkit.Entry, error) bool) {
		var after []byte // last key of the previous page
		for {
			var page []sessionkit.Entry
			done := false
			err := s.view(ctx, func(b buckets) error {
				now := s.nowMs()
				c := b.sessions.Cursor()
				var k, v []byte
				if after == nil {
					k, v = c.First()
				} else {
					k, v = c.Seek(after)
					if bytes.Equal(k, after) {
						k, v = c.Next()
					}
				}
				for scanned := 0; k != nil; k, v = c.Next() {
					if scanned == iterPageSize {
						after = bytes.Clone(after)
						return nil
					}
					scanned++
					after = k
					r, err := decodeRecord(v)
					if err != nil {
						return fmt.Errorf("%s: %w", k, err)
					}
					if r.live(now) {
						page = append(page, sessionkit.Entry{Key: string(k), Record: r.record()})
					}
				}
				done = true
				return nil
			})
			if err != nil {
				yield(sessionkit.Entry{}, fmt.Errorf("boltstore: iterate: %w", err))
				return
			}
			for _, e := range page {
				if err := ctx.Err(); err != nil {
					yield(sessionkit.Entry{}, fmt.Errorf("boltstore: iterate: %w", err))
					return
				}
				if !yield(e, nil) {
					return
				}
			}
			if done {
				return
			}
		}
	}
}
