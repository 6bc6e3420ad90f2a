// Package memstore is an in-process sessionkit.Store: sharded, safe for
// concurrent use, bounded in entries and bytes, with expiry.
//
// Unlike express-session's MemoryStore it cannot grow without bound: when a
// shard is over its share of MaxEntries or MaxBytes it first drops expired
// records and then the least recently used ones, and a background sweeper
// removes expired records every SweepInterval. Memory therefore stays flat
// under endless session churn. Evicting a live session logs its user out,
// so size the bounds for your peak.
//
// Sessions live only as long as the process: use a persistent store
// (boltstore, redisstore, pgstore, ...) when restarts must keep users
// signed in.
//
//	store := memstore.New(memstore.Options{MaxEntries: 100_000})
//	defer store.Close()
//	sessions := sessionkit.New(store)
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sweeper"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// MaxEntries bounds the number of records (default 1,000,000).
	MaxEntries int
	// MaxBytes bounds the bytes of keys, data and user keys plus a fixed
	// per-record overhead (default 256 MiB). A single record larger than
	// MaxBytes/Shards is refused with sessionkit.ErrTooLarge.
	MaxBytes int64
	// Shards is the number of independently locked shards; each holds an
	// equal share of MaxEntries and MaxBytes and evicts on its own. The
	// default is 32, or fewer when MaxBytes is under 32 MiB or MaxEntries
	// under 131,072, so that each shard holds at least 1 MiB (so one
	// record may be that large) and 4,096 records, or all of smaller
	// bounds: a store with MaxEntries: 100 has one shard and keeps exactly
	// the 100 most recently used sessions. Records spread over shards by
	// a hash of their key, so with several shards a shard can fill (and
	// evict) a little before the whole store holds MaxEntries. Shards is
	// never more than MaxEntries: a larger value (given or default) is
	// lowered to it, and MaxBytes/Shards above uses the lowered value.
	Shards int
	// SweepInterval is how often expired records are removed in the
	// background (default one minute; negative disables the sweeper).
	SweepInterval time.Duration
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time
}

// The default number of shards, and the fewest bytes and records a
// default shard holds (see Options.Shards).
const (
	defaultShards   = 32
	minShardBytes   = 1 << 20
	minShardEntries = 4096
)

// entryOverhead approximates the bookkeeping bytes of one record (map slot,
// list links, struct fields) so that MaxBytes bounds real memory.
const entryOverhead = 128

// Store is an in-memory session store. Create it with New and stop its
// sweeper with Close.
type Store struct {
	opts    Options
	seed    maphash.Seed
	shards  []*shard
	users   []*userShard
	version atomic.Uint64

	sweeper *sweeper.Loop
}

type entry struct {
	key        string
	data       []byte
	version    uint64
	expiry     time.Time
	userKey    string
	prev, next *entry // LRU list, most recent at head
}

func (e *entry) size() int64 {
	return int64(len(e.key)+len(e.data)+len(e.userKey)) + entryOverhead
}

type shard struct {
	mu         sync.Mutex
	entries    map[string]*entry
	head, tail *entry
	bytes      int64
	maxEntries int
	maxBytes   int64
	// nextExpiry is no later than the earliest expiry in the shard, so an
	// eviction pass can skip looking for expired records before then.
	nextExpiry time.Time
}

type userShard struct {
	mu    sync.Mutex
	users map[string]map[string]struct{}
}

// New returns a Store and, unless SweepInterval is negative, starts its
// sweeper goroutine; Close stops it.
func New(opts Options) *Store {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 1_000_000
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	if opts.Shards <= 0 {
		byBytes := int(min(opts.MaxBytes/minShardBytes, defaultShards))
		byEntries := opts.MaxEntries / minShardEntries
		opts.Shards = max(1, min(defaultShards, byBytes, byEntries))
	}
	if opts.Shards > opts.MaxEntries {
		opts.Shards = opts.MaxEntries
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		opts:   opts,
		seed:   maphash.MakeSeed(),
		shards: make([]*shard, opts.Shards),
		users:  make([]*userShard, opts.Shards),
	}
	perEntries := max(1, opts.MaxEntries/opts.Shards)
	perBytes := max(1, opts.MaxBytes/int64(opts.Shards))
	for i := range s.shards {
		s.shards[i] = &shard{entries: map[string]*entry{}, maxEntries: perEntries, maxBytes: perBytes}
		s.users[i] = &userShard{users: map[string]map[string]struct{}{}}
	}
	if opts.SweepInterval > 0 {
		s.sweeper = sweeper.Start(sweeper.Config{Interval: opts.SweepInterval, Sweep: s.DeleteExpired})
	}
	return s
}

func (s *Store) shardFor(key string) *shard {
	return s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
}

func (s *Store) userShardFor(userKey string) *userShard {
	return s.users[maphash.String(s.seed, userKey)%uint64(len(s.users))]
}

// Load implements sessionkit.Store. The returned Data is the store's own
// copy, shared with every other Load of the same record and never changed
// by the store (a Save replaces it): callers must not modify it, as
// sessionkit.Record says.
func (s *Store) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	if err := ctx.Err(); err != nil {
		return sessionkit.Record{}, fmt.Errorf("memstore: load: %w", err)
	}
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e == nil || !s.live(e) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	sh.moveToFront(e)
	return sessionkit.Record{
		Data:    e.data[:len(e.data):len(e.data)], // an append by the caller copies
		Version: e.version,
		Expiry:  e.expiry,
		UserKey: e.userKey,
	}, nil
}

// Save implements sessionkit.Store.
func (s *Store) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: save: %w", err)
	}
	sh := s.shardFor(key)
	e := &entry{
		key:     key,
		data:    append([]byte(nil), rec.Data...),
		expiry:  rec.Expiry,
		userKey: rec.UserKey,
	}
	if e.size() > sh.maxBytes {
		return 0, fmt.Errorf("memstore: save: record of %d bytes exceeds the per-shard bound of %d bytes: %w", e.size(), sh.maxBytes, sessionkit.ErrTooLarge)
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := sh.entries[key]
	var current uint64
	if old != nil && s.live(old) {
		current = old.version
	}
	if current != rec.Version {
		return 0, sessionkit.ErrConflict
	}
	e.version = s.version.Add(1)
	if old != nil {
		s.remove(sh, old)
	}
	sh.entries[key] = e
	sh.pushFront(e)
	sh.bytes += e.size()
	if sh.nextExpiry.IsZero() || e.expiry.Before(sh.nextExpiry) {
		sh.nextExpiry = e.expiry
	}
	if e.userKey != "" {
		s.index(e.userKey, key)
	}
	s.evict(sh, e)
	return e.version, nil
}

// Touch implements sessionkit.Store.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: touch: %w", err)
	}
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e == nil || !s.live(e) {
		return sessionkit.ErrNotFound
	}
	e.expiry = expiry
	if expiry.Before(sh.nextExpiry) {
		sh.nextExpiry = expiry
	}
	sh.moveToFront(e)
	return nil
}

// Delete implements sessionkit.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.entries[key]; e != nil {
		s.remove(sh, e)
	}
	return nil
}

// UserSessions implements sessionkit.UserIndex.
func (s *Store) UserSessions(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user sessions: %w", err)
	}
	entries := []sessionkit.Entry{}
	for _, key := range s.indexed(userKey) {
		rec, err := s.Load(ctx, key)
		if err != nil || rec.UserKey != userKey {
			continue // gone or moved since the index was read
		}
		entries = append(entries, sessionkit.Entry{Key: key, Record: rec})
	}
	return entries, nil
}

// DeleteUserSessions implements sessionkit.UserIndex.
func (s *Store) DeleteUserSessions(ctx context.Context, userKey string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete user sessions: %w", err)
	}
	n := 0
	for _, key := range s.indexed(userKey) {
		sh := s.shardFor(key)
		sh.mu.Lock()
		if e := sh.entries[key]; e != nil && e.userKey == userKey {
			if s.live(e) {
				n++
			}
			s.remove(sh, e)
		}
		sh.mu.Unlock()
	}
	return n, nil
}

// All implements sessionkit.Iterator. It copies one shard at a time, so
// writers are held up for at most one shard's copy.
func (s *Store) All(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	return func(yield func(sessionkit.Entry, error) bool) {
		for _, sh := range s.shards {
			if err := ctx.Err(); err != nil {
				yield(sessionkit.Entry{}, fmt.Errorf("memstore: iterate: %w", err))
				return
			}
			var batch []sessionkit.Entry
			sh.mu.Lock()
			for _, e := range sh.entries {
				if s.live(e) {
					batch = append(batch, sessionkit.Entry{Key: e.key, Record: sessionkit.Record{
						Data: append([]byte(nil), e.data...), Version: e.version, Expiry: e.expiry, UserKey: e.userKey,
					}})
				}
			}
			sh.mu.Unlock()
			for _, entry := range batch {
				if !yield(entry, nil) {
					return
				}
			}
		}
	}
}

// DeleteExpired implements sessionkit.Sweeper. The background sweeper calls
// it; it is exported for callers that disable the sweeper.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	for _, sh := range s.shards {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("memstore: delete expired: %w", err)
		}
		sh.mu.Lock()
		n += s.sweepShard(sh)
		sh.mu.Unlock()
	}
	return n, nil
}

// Stats reports the current number of records and bytes held.
func (s *Store) Stats() (entries int, bytes int64) {
	for _, sh := range s.shards {
		sh.mu.Lock()
		entries += len(sh.entries)
		bytes += sh.bytes
		sh.mu.Unlock()
	}
	return entries, bytes
}

// Close stops the background sweeper and waits for it. It is safe to call
// more than once. The store's data stays readable after Close.
func (s *Store) Close() error {
	s.sweeper.Stop()
	return nil
}

func (s *Store) live(e *entry) bool {
	return s.opts.Now().Before(e.expiry)
}

// remove unlinks e from its shard and the user index. sh.mu must be held.
func (s *Store) remove(sh *shard, e *entry) {
	delete(sh.entries, e.key)
	sh.unlink(e)
	sh.bytes -= e.size()
	if e.userKey != "" {
		s.unindex(e.userKey, e.key)
	}
}

// sweepShard removes the shard's expired records and recomputes
// nextExpiry. sh.mu must be held.
func (s *Store) sweepShard(sh *shard) int {
	now := s.opts.Now()
	n := 0
	var next time.Time
	for _, e := range sh.entries {
		if !now.Before(e.expiry) {
			s.remove(sh, e)
			n++
		} else if next.IsZero() || e.expiry.Before(next) {
			next = e.expiry
		}
	}
	sh.nextExpiry = next
	return n
}

// evict brings the shard back within its bounds: expired records first,
// then the least recently used, never keep (the record just saved).
// sh.mu must be held.
func (s *Store) evict(sh *shard, keep *entry) {
	over := func() bool { return len(sh.entries) > sh.maxEntries || sh.bytes > sh.maxBytes }
	if !over() {
		return
	}
	if !sh.nextExpiry.IsZero() && !s.opts.Now().Before(sh.nextExpiry) {
		s.sweepShard(sh)
	}
	for over() && sh.tail != nil && sh.tail != keep {
		s.remove(sh, sh.tail)
	}
}

func (s *Store) index(userKey, key string) {
	us := s.userShardFor(userKey)
	us.mu.Lock()
	defer us.mu.Unlock()
	set := us.users[userKey]
	if set == nil {
		set = map[string]struct{}{}
		us.users[userKey] = set
	}
	set[key] = struct{}{}
}

func (s *Store) unindex(userKey, key string) {
	us := s.userShardFor(userKey)
	us.mu.Lock()
	defer us.mu.Unlock()
	set := us.users[userKey]
	delete(set, key)
	if len(set) == 0 {
		delete(us.users, userKey)
	}
}

func (s *Store) indexed(userKey string) []string {
	us := s.userShardFor(userKey)
	us.mu.Lock()
	defer us.mu.Unlock()
	keys := make([]string, 0, len(us.users[userKey]))
	for k := range us.users[userKey] {
		keys = append(keys, k)
	}
	return keys
}

func (sh *shard) pushFront(e *entry) {
	e.prev = nil
	e.next = sh.head
	if sh.head != nil {
		sh.head.prev = e
	}
	sh.head = e
	if sh.tail == nil {
		sh.tail = e
	}
}

func (sh *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		sh.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (sh *shard) moveToFront(e *entry) {
	if sh.head == e {
		return
	}
	sh.unlink(e)
	sh.pushFront(e)
}
