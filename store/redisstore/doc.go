// Package redisstore keeps sessions in Redis through a go-redis v9
// UniversalClient, so one Store serves a single node, a Sentinel-managed
// master and a Redis Cluster alike. It needs Redis 5.0 or later (tested
// with 7.0): its scripts read the server's clock (TIME) before writing,
// which needs the script-effects replication that is the default from
// 5.0, and use no command newer than that.
//
// # Usage
//
//	store, err := redisstore.NewFromURL(ctx, "redis://127.0.0.1:6379/0", redisstore.Options{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//	m := sessionkit.New(store)
//	http.ListenAndServe(":8080", http.NewCrossOriginProtection().Handler(m.Handler(mux)))
//
// or, with a client you configure and close yourself:
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
//		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
//		ContextTimeoutEnabled: true,
//	})
//	store, err := redisstore.New(rdb, redisstore.Options{Prefix: "myapp:"})
//
// Set ContextTimeoutEnabled on clients you build: without it go-redis
// bounds socket reads and writes by its own ReadTimeout and WriteTimeout
// rather than by the context deadline (sessionkit's Manager.OpTimeout).
//
// # URLs
//
// ParseURL (and NewFromURL) accept:
//
//	redis://[[user]:password@]host[:port][/db][?options]
//	redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?options]
//	redis+cluster://[[user]:password@]host[:port][,host[:port]...][?options]
//
// and the TLS variants rediss://, rediss+sentinel:// and rediss+cluster://.
// A sentinel URL lists the sentinels (default port 26379) and names the
// master set; a cluster URL lists one or more seed nodes. The options are
// listed at ParseURL. Examples:
//
//	redis://:s3cret@cache.internal:6379/2?dial_timeout=1s
//	redis+sentinel://10.0.0.1,10.0.0.2,10.0.0.3/mymaster?sentinel_password=x
//	rediss+cluster://app:s3cret@node1:7000,node2:7000?pool_size=50
//
// # Key layout
//
// With the default prefix "sessionkit:" and a session key K (the Manager
// passes a 43-character hash of the session ID):
//
//	sessionkit:{K}      hash   d = data, v = version, e = expiry (Unix ms),
//	                           u = user key, x = index coverage (Unix ms);
//	                           expires natively at e (PEXPIREAT)
//	sessionkit:u:{U}    zset   the sessions of user U: member K, score = a
//	                           time (Unix ms) until which K may live;
//	                           expires with its highest score
//	sessionkit:h:{U}    zset   the highest score each of U's sessions has
//	                           had in sessionkit:u:{U}, so that scores only
//	                           grow (see internal/redislua); expires likewise
//	sessionkit:r{K}     string the highest index coverage a record under K
//	                           gave up (to another user, by logout, expiry
//	                           or deletion); exists only while that
//	                           coverage is in the future, and expires at it
//
// The braces are Redis Cluster hash tags: every key of one session lives
// in one slot, and so does each user's index, so no command or script ever
// spans slots (no CROSSSLOT errors). Different sessions spread over all
// masters. Session keys and user keys may contain any characters: inside
// a hash tag, '%', '{' and '}' are written %25, %7B and %7D (keys made by
// the Manager contain none of them), so the tag always ends where the key
// does. The empty session key is refused. The prefix may not contain
// braces.
//
// # Operations and round trips
//
//   - Load is one HMGET.
//   - Save is one Lua script doing compare-and-swap on v, then writing
//     d, v, e, u and PEXPIREAT e. Versions are the server's clock in
//     microseconds, or the previous version plus one if that is larger, so
//     a record deleted and created again does not reuse a version (as long
//     as the server's clock does not go back).
//   - Touch is one Lua script that sets e and PEXPIREAT and never rewrites
//     d or v.
//   - Delete is one script, plus one call to drop the user index entry if
//     the record had a user.
//   - UserSessions is two round trips (index, then the records in one
//     pipeline); DeleteUserSessions is three.
//   - All SCANs each master in pages (never KEYS) and reads each page's
//     records with one pipeline.
//
// Save and Touch cost one or two more round trips only around the user
// index (see below): on login, on logout or when a session moves to
// another user, and when a session's expiry grows past what its index
// entry covers (about once per idle period for a session kept alive by
// Touch). A request that only reads its session costs exactly one round
// trip (none with the near cache, below, once the record is cached). The
// first use of each script on a server costs one more (EVALSHA, then EVAL
// on NOSCRIPT).
//
// With Options.AutoPipeline the per-request operations go through
// go-redis's AutoPipeliner: commands issued concurrently by many requests
// leave in one pipeline and come back together, so each still costs one
// round trip of latency but the system calls and wake-ups are shared.
// Where the CPU is the limit (Redis on the same host as the application,
// or a busy Redis) this raises throughput; docs/BENCHMARKS.md has the
// figures. Commands of one request keep their order.
//
// # Consistency
//
// The record is the truth. Save's compare-and-swap, Touch and Delete are
// atomic on the record (each is one script on the session's keys). Reads
// of a record see the latest write: the store talks only to masters. With
// the near cache a record another process changed can still be read
// until Redis's invalidation arrives (see Near cache); a Save from such a
// read then fails its compare-and-swap, and the Manager reloads.
//
// The user index lives in another slot than the records, so it cannot be
// updated atomically with them in Cluster; the same protocol is used on
// every topology. It guarantees:
//
//   - No false negatives. A record never carries a user key unless that
//     user's index holds an entry for it whose score is at least the
//     record's coverage x, and a record's expiry never exceeds x. The
//     entry is written before the record (a login is index first, then
//     record); when a Save or Touch needs more coverage than x, the
//     script refuses, the store extends the index and retries. So
//     UserSessions and DeleteUserSessions find every live session of the
//     user, even after a crash between the two steps.
//   - No false positives. Every entry read from the index is checked
//     against its record (it must exist, be live and carry the same user),
//     so stale entries — left by a crash, a conflicting Save, or a session
//     moved to another user — are never returned or counted.
//   - Bounded garbage. Entries are pruned by score whenever the index is
//     read or added to, which is safe because a score is never below the
//     expiry of a record relying on it; the index key expires with its
//     highest score. Delete, DeleteUserSessions and moving a session to
//     another user remove the old entry at once, but only if its score
//     still equals the record's x: adding to the index always changes the
//     entry's score, so a concurrent login that re-created the entry is
//     never undone. Such a removal may arrive late, so a record never
//     rests on a score that was given up: giving up x raises the session's
//     released coverage (sessionkit:r{K}) to x, and Save and Touch accept
//     a coverage from the index only above it — a login that obtained its
//     entry before a concurrent Touch raised the entry, and writes after
//     that Touch's record was deleted, asks the index again.
//   - Index writes are amortised. An entry is scored at the record's
//     expiry plus its remaining lifetime (at most 24 hours more), so a
//     session whose idle timeout is extended by Touch rewrites its index
//     entry about once per idle period, not on every Touch.
//
// Sessions saved while UserSessions or DeleteUserSessions run may or may
// not be included.
//
// Replication in Redis is asynchronous, so a failover (Sentinel or
// Cluster) can lose the last writes acknowledged by the old master: a
// session may revert to an earlier version or disappear. On one master
// (single node, Sentinel) writes replicate in order, so a surviving record
// always keeps its index entry; in Cluster the record and the index entry
// live on different masters, and a failover of the index's master can
// drop an entry whose record survived. Use WAIT or min-replicas-to-write
// on the server if that matters to you. Reads from replicas are not supported (go-redis's
// ReadOnly and RouteBy* options must stay off).
//
// # Near cache
//
// With Options.NearCache the store keeps the records it loads in the
// process (bounded in entries and bytes, least recently used out first
// within each of its shards; see NearCache.MaxBytes) and answers a
// repeated Load from there, without a round trip, until Redis reports
// that the record changed. A read-only request on a hot
// session then sends no Redis command at all.
//
// Redis reports changes with client-side caching's invalidation messages
// (CLIENT TRACKING, Redis 6 or later) in broadcasting mode for the prefix
// of the record keys (Prefix + "{" in the native layout, Prefix in
// connect-redis's; with Options.NoPrefix every key of the server, in
// every database, so each write to it reaches each process with a near
// cache): every write, touch, deletion, logout, revocation or
// expiry of a record, by any process or client — an Express app sharing
// the connect-redis layout included — makes Redis send the key to every
// process tracking the prefix. The store receives them on one connection
// of its own per master: a *redis.Client built from the options of the
// client it was given (address or Sentinel dialer, credentials, TLS),
// with one connection, RESP3 and no retries, so that the application's
// pool, hooks and cache are untouched and a broken connection is never
// silently replaced by one that tracks nothing. That connection blocks in
// a WAIT that returns every heartbeat, and while it blocks go-redis hands
// each invalidation message to the cache as it arrives.
//
// What it guarantees:
//
//   - A load that begins after an invalidation was applied never returns
//     what the record held before the change that caused it. A load fills
//     the cache only if nothing invalidated its key between sending its
//     HMGET and receiving the answer (it leaves a placeholder before
//     sending; an invalidation removes it).
//   - This process's own Save, Touch, Delete and DeleteUserSessions drop
//     the key before they return, so a load that follows them reads the
//     write even before Redis's message for it arrives.
//   - Records are served only while every master's tracking connection is
//     up and was confirmed alive within two heartbeats. A connection that
//     fails, or is established again, drops the whole cache, and until
//     tracking is back on every master each load goes to Redis. In
//     Cluster the masters are listed every two heartbeats and a change of
//     masters drops the cache too. A frozen server, or a partition that
//     leaves the connection open, stops the cache after at most two
//     heartbeats (1s by default): that is how long a change can go unseen
//     if its message is lost.
//   - An expired record is never served: a record found expired in the
//     cache is reported not found, without a round trip.
//   - FLUSHALL and FLUSHDB drop the cache. SWAPDB does not: Redis (7.0
//     at least) sends no invalidation for it, so a process keeps serving
//     the records it cached from the database that was swapped away until
//     they expire or change. Do not SWAPDB a database that stores with a
//     near cache use, or restart those processes (or Close and reopen
//     their stores) after it.
//
// How soon after a change other processes stop serving the previous
// record is how long its message takes to arrive and be applied. On
// loopback, under HTTP load on the busy 2-core development machine, that
// was 2–10ms at the 99th percentile and 28ms at most; it is longer when a
// process's CPUs are saturated by goroutines that never block, since the
// goroutine applying the messages then waits for the Go scheduler (80–130ms
// at the 99th percentile). docs/RELIABILITY.md has the measurement and
// its command.
//
// What it costs. In Redis: one invalidation message per change of a record
// to each process with a near cache that is not idle (broadcasting mode sends every change
// under the prefix, cached by that process or not; Redis batches the keys
// of one event-loop turn into one message), and no memory per key (the
// default tracking mode, by contrast, remembers every key each client
// read). Per process: one connection per master and two WAITs per master
// per heartbeat, one at a time (shown in Redis's blocked_clients); the
// ACL user needs the CLIENT and WAIT commands. After this process's own
// write the key's next load or two go to Redis: the write's own message
// arrives after the write returns and drops what a load cached meanwhile. A store with a
// near cache must be closed to stop its connections.
//
// When it goes idle. On read-modify-write traffic every load follows
// this process's own write of the key, so the cache never hits, yet each
// write still costs the invalidation message above (a system call and a
// wake-up on each side). So, unless NearCache.AlwaysTrack is set, the
// store counts its loads in windows of 1,024: when fewer than one in
// eight was answered from the cache, the cache goes idle. It stops
// serving at once; at the next heartbeat the records are dropped and each
// tracking connection sends CLIENT TRACKING OFF, so Redis sends nothing
// more; loads go to Redis, as without a near cache. While idle the store
// remembers which keys it loaded since it last wrote them (the keys only,
// at most MaxEntries); when at least one load in four of a window is a
// repeat of such a key, the cache resumes: at the next heartbeat tracking
// is turned on again, and the cache is dropped and refilled exactly as
// after a reconnection, so the guarantees above hold from then on. A
// cache that resumed and then found no hits in its first window (the
// repeats it saw were changed by other processes in between) waits twice
// as many loads before its next attempt, up to 64 windows.
// NearCacheStats.Idle reports the state. Each change the connections act
// on at a heartbeat counts as a flush; a cache that resumes before the
// next heartbeat (a fast process can count a whole window within one)
// never turned invalidations off, and nothing is flushed.
//
// Why broadcasting mode. Redis's default tracking mode sends a key's
// invalidation only to the connections that read it, which would spare
// the processes that never read a record and the message on writes
// nobody cached; but it tracks each key for the connection that read it,
// and once that connection closes Redis drops its invalidations without a
// word. Loads go through the application's go-redis pool, which closes and
// replaces connections (idle timeouts, errors, lifetimes) without telling
// the store. Broadcasting ties tracking to the one connection per master
// that the store watches, whose loss it sees.
//
// Why this mechanism rather than go-redis's or rueidis's client-side
// cache. go-redis has an experimental client-side cache since v9.22
// (Options.ClientSideCacheConfig); it works on a standalone client only
// (no Sentinel, no Cluster), is configured on the client the application
// passes (so it would change every read the application makes with that
// client), and applies invalidations that arrive on idle pool connections
// from a sweep every 5ms, so a process can read its own write stale
// (its documentation says reads are not monotonic). rueidis has a cache
// built in, on every topology, but it is a second client: a go-redis
// client, a Sentinel failover client in particular, cannot be turned into
// rueidis options, so users would have to configure and pass a second
// client for the same deployment, and the store would depend on a second
// Redis library for one optional feature. The broadcasting connection
// needs neither: it works with the *redis.Client or *redis.ClusterClient
// the application already passes, on all three topologies, and go-redis
// does all the RESP3 work. Measured in bench-compare (docs/BENCHMARKS.md),
// a cached read through sessionkit costs the server about the CPU of a
// read from memstore, and the bare ceilings built on go-redis's and
// rueidis's caches, which do no session work at all, save only about the
// session library's own cost. Since it imports nothing new, the near
// cache lives in this package rather than a nested module, and
// store/storeurl's near_cache=true can turn it on.
//
// # The connect-redis layout
//
// With Options.Layout set to LayoutConnectRedis the store uses
// connect-redis's keys, so that a Go service shares sessions with an
// Express app (see compat/express): the session JSON as a plain string
// under Prefix + <session ID> (Prefix defaults to "sess:"), expiring with
// the session (SET then PEXPIREAT, in one script; a save whose expiry has
// passed deletes the key, as connect-redis does with a TTL of zero or
// less). Touch is PEXPIREAT; Delete is DEL; All scans Prefix*. The version
// is a hash of the stored value, and Save is a script that compares the
// current value's hash with it before writing, so a Go write never
// overwrites a change it did not read; connect-redis's own writes are
// unconditional SETs. Saving identical bytes twice yields the same version.
// Keys carry no hash tags and every script touches one key, so the layout
// works in Cluster too. There is no per-user index (UserSessions and
// DeleteUserSessions report sessionkit.ErrNotSupported); Options.UserKeyOf
// (compat/express's UserKey) derives Record.UserKey from the data on load.
//
// koa-redis keeps its sessions in the same shape (the JSON under a plain
// key, SETEX with the session's maxAge): with koa-generic-session the key
// is its prefix ("koa:sess:") and the session ID, so set Prefix to it;
// with koa-session's external store the key is koa-session's external key
// as it is, so set Options.NoPrefix (see compat/koa).
package redisstore
