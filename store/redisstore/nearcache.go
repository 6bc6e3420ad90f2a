package redisstore

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit"
)

// NearCache configures the store's optional in-process cache of loaded
// records (Options.NearCache). See the package documentation, "Near
// cache", for what it guarantees and what it costs.
type NearCache struct {
	// MaxEntries bounds the number of cached records (default 10,000).
	MaxEntries int

	// MaxBytes bounds the memory the cached records take, counted as the
	// lengths of their keys, data and user keys plus a fixed overhead per
	// entry (default 64 MiB).
	//
	// The cache is split into up to 64 shards (a power of two, as many as
	// leave each shard at least 64 entries and 64 KiB; one shard if the
	// bounds are smaller), each with an equal share of both bounds and
	// its own least-recently-used order. A shard evicts when its share is
	// full, so the cache may evict while it holds fewer records or bytes
	// in total than the bounds; it never holds more. A record larger than
	// a shard's share of MaxBytes is not cached (1 MiB with the defaults).
	MaxBytes int64

	// Heartbeat paces the store's confirmations that each connection
	// receiving invalidations is alive (default 500ms). A cached record is
	// served only within two heartbeats of the last confirmation, which
	// bounds how long a connection that broke without the store noticing
	// (a network partition rather than a closed connection) can serve
	// records that changed meanwhile. The store confirms twice per
	// Heartbeat, each time with one blocking command per master (WAIT)
	// that returns after half of it, so that a confirmation arriving a
	// little late does not leave a gap in which nothing is served.
	//
	// Redis ends a blocking command only at its own timer resolution
	// (1000/hz ms: 100ms at its default hz of 10), so on a quiet server
	// each confirmation can come up to that much late. Measured on an idle
	// Redis 7.0 with hz 10, the cache was not serving (loads went to
	// Redis) 0% of the time with a Heartbeat of 500ms or 1s, 0.3% at
	// 200ms, 2% at 100ms, and nearly always at 50ms or less; a busy
	// server answers on time. Keep Heartbeat at 200ms or more unless
	// Redis's hz is raised.
	Heartbeat time.Duration

	// AlwaysTrack keeps invalidations on even while the cache is not
	// being hit. By default the cache goes idle when fewer than one load
	// in eight is answered from it over a window of loads (a
	// read-modify-write workload, where every load follows this process's
	// own write, never hits): Redis then stops sending invalidations,
	// which cost Redis and this process CPU on every write, and the cache
	// serves nothing. It resumes when at least one load in four is a
	// repeat of a key loaded before without a write between them by this
	// process. See the package documentation, "Near cache".
	AlwaysTrack bool
}

const (
	defaultNearEntries   = 10_000
	defaultNearBytes     = 64 << 20
	defaultNearHeartbeat = 500 * time.Millisecond
	// nearEntryOverhead approximates the memory of one entry besides its
	// strings: the map slot, the entry struct and the record.
	nearEntryOverhead = 160
	// nearMinPerShard is the smallest entry bound a shard gets before
	// the cache uses fewer shards.
	nearMinPerShard   = 64
	nearMinShardBytes = 64 << 10
	nearMaxShards     = 64
	// nearWindow is how many loads the cache counts before it decides to
	// go idle or to resume; an idle cache that resumed and went idle
	// again at once waits up to 1<<nearMaxBackoff windows the next time.
	nearWindow     = 1024
	nearMaxBackoff = 6
)

// NearCacheStats is a snapshot of the near cache's counters.
type NearCacheStats struct {
	// Tracking is true while invalidations are being received from every
	// master and confirmed within the last two heartbeats, and the cache
	// is not idle: only then are records served from the cache.
	Tracking bool
	// Entries and Bytes are what the cache holds now (Bytes as counted for
	// NearCache.MaxBytes).
	Entries int
	Bytes   int64
	// Hits are loads answered from the cache (including records found
	// expired there); Misses are loads that went to Redis.
	Hits, Misses uint64
	// Invalidations counts cached records dropped because Redis reported
	// their key changed, or because this process wrote it.
	Invalidations uint64
	// Evictions counts records dropped to stay within the bounds.
	Evictions uint64
	// Flushes counts the times the whole cache was dropped: a connection
	// receiving invalidations was lost or re-established, the cluster's
	// masters changed, Redis was flushed, or the cache went idle or
	// resumed (counted when the connections act on it, at their next
	// heartbeat: a change undone before then is not counted).
	Flushes uint64
	// Idle is true while the cache is idle because it was not being hit
	// (see NearCache.AlwaysTrack): it serves nothing (Tracking is false
	// from the moment it goes idle) and its connections turn invalidations
	// off at their next heartbeat.
	Idle bool
	// LastError is the last error of a connection receiving
	// invalidations, "" if none.
	LastError string
}

// nearEntry is one cached record, or a placeholder for a load in flight.
type nearEntry struct {
	key string
	// token is nonzero while the entry is a placeholder: a load of key was
	// sent to Redis and may fill the entry, unless anything invalidates
	// key first.
	token uint64
	epoch uint64 // cache epoch the placeholder was made in
	data  string
	rec   sessionkit.Record // without Data; Data is data
	size  int64
	// LRU list of filled entries; the shard's sentinel is the list head.
	prev, next *nearEntry
}

type nearShard struct {
	mu      sync.Mutex
	m       map[string]*nearEntry
	lru     nearEntry // sentinel: lru.next is the most recent
	entries int
	bytes   int64

	// ghost holds, while the cache is idle, the keys loaded since this
	// process last wrote them: a load that finds its key here would have
	// been a hit.
	ghost map[string]struct{}

	hits, misses, invalidations, evictions uint64
}

// nearCache is the store's cache of records. Records are filled only by
// loads whose placeholder survived until their answer came back, and are
// served only while the tracker reports that invalidations are being
// received (the lease). Every invalidation removes the key's entry or
// placeholder, so a load that raced with a write never fills the cache.
type nearCache struct {
	seed       maphash.Seed
	shards     []nearShard
	mask       uint64
	maxEntries int   // per shard
	maxBytes   int64 // per shard

	// epoch changes on every flush. A placeholder remembers the epoch it
	// was made in, and fills only in that epoch. Flush zeroes the lease
	// before it changes the epoch, and a load reads the epoch before it
	// checks the lease: a load that sees the new epoch therefore sees the
	// lease that goes with it.
	epoch atomic.Uint64
	// lease is the monotonic time (ns since base) until which cached
	// records may be served; 0 while invalidations are not being
	// received.
	lease  atomic.Int64
	base   time.Time
	tokens atomic.Uint64

	flushes atomic.Uint64

	// Idling (see NearCache.AlwaysTrack). idle asks the trackers to turn
	// invalidations off (true) or on; loads counts the loads of the
	// current window and useful those that hit (or, while idle, would
	// have hit).
	adaptive      bool
	idle          atomic.Bool
	loads, useful atomic.Uint64
	window        atomic.Uint64 // loads per window in the current state
	adaptMu       sync.Mutex
	backoff       int  // guarded by adaptMu
	trial         bool // guarded by adaptMu: the first window after resuming

	// onInvalidate, if set (tests), is called with each key Redis reported
	// changed, after its entry was removed and before a load can see the
	// shard again.
	onInvalidate atomic.Pointer[func(key string)]
}

func newNearCache(o NearCache) *nearCache {
	maxEntries := o.MaxEntries
	if maxEntries <= 0 {
		maxEntries = defaultNearEntries
	}
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = defaultNearBytes
	}
	// As many shards as keep at least nearMinPerShard entries and
	// nearMinShardBytes bytes each, a power of two, at most nearMaxShards.
	n := 1
	if want := min(int64(maxEntries/nearMinPerShard), maxBytes/nearMinShardBytes, nearMaxShards); want > 1 {
		n = 1 << (bits.Len64(uint64(want)) - 1) // largest power of two <= want
	}
	c := &nearCache{
		seed:       maphash.MakeSeed(),
		shards:     make([]nearShard, n),
		mask:       uint64(n - 1),
		maxEntries: maxEntries / n,
		maxBytes:   maxBytes / int64(n),
		base:       time.Now(),
		adaptive:   !o.AlwaysTrack,
	}
	c.window.Store(nearWindow)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.m = make(map[string]*nearEntry)
		sh.ghost = make(map[string]struct{})
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
	}
	c.epoch.Store(1)
	return c
}

func (c *nearCache) shard(key string) *nearShard {
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

// mono is the monotonic clock the lease is kept in.
func (c *nearCache) mono(t time.Time) int64 { return int64(t.Sub(c.base)) }

// lookup results.
const (
	nearMiss    = iota // go to Redis
	nearHit            // rec is the cached record
	nearExpired        // the cached record has expired: not found
)

// fetch identifies a placeholder; the zero value is none.
type fetch struct {
	token, epoch uint64
}

// lookup returns the cached record under key. On a miss it may return a
// placeholder for the caller to fill with what Redis answers.
func (c *nearCache) lookup(key string) (rec sessionkit.Record, state int, f fetch) {
	epoch := c.epoch.Load()
	now := time.Now()
	idle := c.wantIdle()
	// An idle cache serves nothing, even before the trackers have turned
	// invalidations off.
	tracking := !idle && c.mono(now) < c.lease.Load()
	sh := c.shard(key)
	sh.mu.Lock()
	e := sh.m[key]
	useful := false
	switch {
	case !tracking:
		sh.misses++
		if idle {
			if _, ok := sh.ghost[key]; ok {
				useful = true
			} else {
				if len(sh.ghost) >= c.maxEntries {
					clear(sh.ghost)
				}
				sh.ghost[key] = struct{}{}
			}
		}
	case e == nil:
		f = fetch{token: c.tokens.Add(1), epoch: epoch}
		sh.m[key] = &nearEntry{key: key, token: f.token, epoch: epoch}
		sh.misses++
	case e.token != 0:
		// Another load of key is in flight; this one is not cached.
		sh.misses++
	case !now.Before(e.rec.Expiry):
		sh.remove(e)
		sh.hits++
		state = nearExpired
		useful = true
	default:
		sh.touch(e)
		sh.hits++
		rec = e.rec
		rec.Data = []byte(e.data)
		state = nearHit
		useful = true
	}
	sh.mu.Unlock()
	// Loads while invalidations are being turned back on (or are lost)
	// say nothing about the workload.
	if c.adaptive && (tracking || idle) {
		c.observe(useful)
	}
	return rec, state, f
}

// observe counts one load, and at the end of a window decides whether
// the cache goes idle or resumes. It only sets c.idle: the trackers turn
// invalidations off or on after their next heartbeat.
func (c *nearCache) observe(useful bool) {
	if useful {
		c.useful.Add(1)
	}
	n := c.loads.Add(1)
	if n < c.window.Load() || !c.loads.CompareAndSwap(n, 0) {
		return
	}
	u := c.useful.Swap(0)
	c.adaptMu.Lock()
	defer c.adaptMu.Unlock()
	if c.idle.Load() {
		if 4*u >= n {
			c.idle.Store(false)
			c.trial = true
			c.window.Store(nearWindow)
		}
		return
	}
	if 8*u >= n {
		c.backoff, c.trial = 0, false
		return
	}
	if c.trial {
		// Resumed on repeats that did not turn into hits (other processes
		// write those keys): wait longer before the next attempt.
		c.backoff = min(c.backoff+1, nearMaxBackoff)
	}
	c.trial = false
	c.idle.Store(true)
	c.window.Store(nearWindow << c.backoff)
}

// wantIdle reports whether the trackers should have invalidations off.
func (c *nearCache) wantIdle() bool { return c.adaptive && c.idle.Load() }

// fill stores rec under key if f's placeholder is still there.
func (c *nearCache) fill(key string, f fetch, rec sessionkit.Record) {
	if f.token == 0 {
		return
	}
	sh := c.shard(key)
	size := int64(nearEntryOverhead + len(key) + len(rec.Data) + len(rec.UserKey))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[key]
	if e == nil || e.token != f.token {
		return
	}
	if f.epoch != c.epoch.Load() || size > c.maxBytes || !time.Now().Before(rec.Expiry) {
		delete(sh.m, key)
		return
	}
	e.token = 0
	e.data = string(rec.Data)
	e.rec = rec
	e.rec.Data = nil
	e.size = size
	sh.entries++
	sh.bytes += size
	sh.pushFront(e)
	for sh.entries > c.maxEntries || sh.bytes > c.maxBytes {
		sh.remove(sh.lru.prev)
		sh.evictions++
	}
}

// cancel removes f's placeholder (the load failed or found nothing).
func (c *nearCache) cancel(key string, f fetch) {
	if f.token == 0 {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	if e := sh.m[key]; e != nil && e.token == f.token {
		delete(sh.m, key)
	}
	sh.mu.Unlock()
}

// invalidate removes key's entry or placeholder. fromRedis says Redis
// reported the change (rather than this process making it).
func (c *nearCache) invalidate(key string, fromRedis bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	if e := sh.m[key]; e != nil {
		if e.token == 0 {
			sh.invalidations++
		}
		sh.remove(e)
	}
	if !fromRedis && len(sh.ghost) > 0 {
		delete(sh.ghost, key)
	}
	if fromRedis {
		// Under the lock: a load that begins after the hook returns sees
		// the removal.
		if f := c.onInvalidate.Load(); f != nil {
			(*f)(key)
		}
	}
	sh.mu.Unlock()
}

// flush drops every entry and placeholder. With stop, the lease ends
// first: nothing is served until setLease is called again.
func (c *nearCache) flush(stop bool) {
	if stop {
		c.lease.Store(0)
	}
	c.epoch.Add(1)
	c.flushes.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		clear(sh.ghost)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
		sh.entries, sh.bytes = 0, 0
		sh.mu.Unlock()
	}
}

// setLease lets cached records be served until the monotonic time until
// (0: not at all).
func (c *nearCache) setLease(until int64) { c.lease.Store(until) }

func (c *nearCache) stats() NearCacheStats {
	st := NearCacheStats{
		Tracking: !c.wantIdle() && c.mono(time.Now()) < c.lease.Load(),
		Flushes:  c.flushes.Load(),
		Idle:     c.wantIdle(),
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		st.Entries += sh.entries
		st.Bytes += sh.bytes
		st.Hits += sh.hits
		st.Misses += sh.misses
		st.Invalidations += sh.invalidations
		st.Evictions += sh.evictions
		sh.mu.Unlock()
	}
	return st
}

// remove unlinks e (a filled entry or a placeholder) from the shard.
func (sh *nearShard) remove(e *nearEntry) {
	delete(sh.m, e.key)
	if e.token != 0 || e.next == nil {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	sh.entries--
	sh.bytes -= e.size
}

func (sh *nearShard) pushFront(e *nearEntry) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

func (sh *nearShard) touch(e *nearEntry) {
	if sh.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	sh.pushFront(e)
}

// startNearCache sets up Options.NearCache.
func (s *Store) startNearCache(o NearCache) error {
	if o.MaxEntries < 0 || o.MaxBytes < 0 || o.Heartbeat < 0 {
		return errors.New("redisstore: NearCache bounds and heartbeat must not be negative")
	}
	heartbeat := o.Heartbeat
	if heartbeat == 0 {
		heartbeat = defaultNearHeartbeat
	}
	if heartbeat < 10*time.Millisecond {
		return fmt.Errorf("redisstore: NearCache.Heartbeat %v is below 10ms", heartbeat)
	}
	c := newNearCache(o)
	// Only record keys are tracked: the index keys under the same prefix
	// change too, and would only cost messages.
	bcast := s.prefix + "{"
	keyOf := s.nativeKeyOf
	if s.layout == LayoutConnectRedis {
		bcast, keyOf = s.prefix, s.crKeyOf
	}
	t, err := newTracking(s.client, c, bcast, keyOf, heartbeat)
	if err != nil {
		return err
	}
	s.near, s.tracking = c, t
	return nil
}

// nativeKeyOf returns the session key of a record key of the native
// layout.
func (s *Store) nativeKeyOf(rk string) (string, bool) {
	inner, ok := strings.CutPrefix(rk, s.prefix+"{")
	if !ok || !strings.HasSuffix(inner, "}") {
		return "", false
	}
	return fromHashTag(inner[:len(inner)-1])
}

// crKeyOf returns the session key of a record key of the connect-redis
// layout.
func (s *Store) crKeyOf(rk string) (string, bool) {
	key, ok := strings.CutPrefix(rk, s.prefix)
	return key, ok && key != ""
}

// forget drops key from the near cache after this process wrote it, so
// that its next load reads the write even before Redis's invalidation
// arrives.
func (s *Store) forget(key string) {
	if s.near != nil {
		s.near.invalidate(key, false)
	}
}

// NearCacheStats returns the near cache's counters; ok is false when the
// store has no near cache (Options.NearCache is nil).
func (s *Store) NearCacheStats() (st NearCacheStats, ok bool) {
	if s.near == nil {
		return st, false
	}
	st = s.near.stats()
	st.LastError = s.tracking.lastError()
	return st, true
}
