package redisstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "sessionkit:"

// indexAttempts bounds how often Save and Touch go back to the user index
// because the record's user changed between their calls; each retry means
// another writer made progress.
const indexAttempts = 10

// maxIndexSlack caps how far beyond a record's expiry its index entry is
// scored (see the package documentation on the user index).
const maxIndexSlack = 24 * time.Hour

// Options configure a Store.
type Options struct {
	// Prefix is prepended to every key the store writes. It must not
	// contain '{' or '}' (they would break the hash tags). Empty means
	// DefaultPrefix.
	Prefix string

	// Layout selects the key layout: LayoutNative (the default) or
	// LayoutConnectRedis, connect-redis's plain JSON strings, for sharing
	// sessions with an Express app (see compat/express).
	Layout Layout

	// NoPrefix, with LayoutConnectRedis, stores each session under its
	// key as it is, with no prefix (Prefix must be empty). It is the
	// layout of koa-session's external store through koa-redis, whose
	// Redis keys are koa-session's external keys (koa-session's own
	// prefix option is part of the key, so it goes into the ID scheme,
	// not here). Iteration (All) then scans every key of the database
	// and skips those that are not strings: give the sessions a database
	// of their own.
	NoPrefix bool

	// UserKeyOf, with LayoutConnectRedis, derives a loaded record's
	// UserKey from its data, since that layout does not store it (for
	// example compat/express's UserKey, which reads Passport's user).
	UserKeyOf func(data []byte) string

	// AutoPipeline sends the commands of concurrent requests to Redis
	// together, in shared pipelines (go-redis's AutoPipeliner, its
	// deferred face), instead of one round trip per command on a
	// connection of its own. Each call still returns when its context
	// ends. Under many concurrent requests this saves most of the system
	// calls on both sides, which raises throughput where the CPU is the
	// limit (see docs/BENCHMARKS.md); a lone request still takes one
	// round trip and is not delayed. It applies to Load, Save, Touch,
	// Delete and the user index scripts; iteration and the user index's
	// pipelines use the client directly. go-redis marks the
	// AutoPipeliner experimental. Not supported on a *redis.Ring.
	AutoPipeline bool

	// NearCache, if not nil, keeps loaded records in the process and
	// answers repeated loads from there without a round trip, while Redis
	// reports every change to a record key, by any process, so that it is
	// dropped (see the package documentation, "Near cache"). It needs
	// Redis 6 or later and a *redis.Client (single node or Sentinel,
	// without go-redis's own client-side cache) or a *redis.ClusterClient;
	// the store then keeps one more connection per master, and Close must
	// be called to stop it.
	NearCache *NearCache
}

// Store is a sessionkit.Store on Redis. It also implements
// sessionkit.UserIndex, sessionkit.Iterator and sessionkit.Closer. It is
// safe for concurrent use.
type Store struct {
	client      redis.UniversalClient
	pipeliner   *redis.AutoPipeliner // nil unless Options.AutoPipeline
	prefix      string
	ownsClient  bool
	scanPattern string
	layout      Layout
	userKeyOf   func([]byte) string
	near        *nearCache // nil unless Options.NearCache
	tracking    *tracking

	closeOnce sync.Once
	closeErr  error
}

var (
	_ sessionkit.Store     = (*Store)(nil)
	_ sessionkit.UserIndex = (*Store)(nil)
	_ sessionkit.Iterator  = (*Store)(nil)
	_ sessionkit.Closer    = (*Store)(nil)
)

// New returns a Store using client, which may be a *redis.Client (single
// node or Sentinel failover client), a *redis.ClusterClient or any other
// redis.UniversalClient. Close does not close a client passed to New.
//
// Calls are bounded by their context only if the client was created with
// ContextTimeoutEnabled (NewFromURL and ParseURL set it); otherwise the
// client's read and write timeouts apply.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	prefix := opts.Prefix
	if opts.NoPrefix {
		if opts.Layout != LayoutConnectRedis || prefix != "" {
			return nil, errors.New("redisstore: NoPrefix needs LayoutConnectRedis and an empty Prefix")
		}
	} else if prefix == "" {
		prefix = DefaultPrefix
		if opts.Layout == LayoutConnectRedis {
			prefix = DefaultConnectRedisPrefix
		}
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q must not contain '{' or '}'", prefix)
	}
	s := &Store{
		client:      client,
		prefix:      prefix,
		scanPattern: globEscape(prefix) + "{*",
		layout:      opts.Layout,
		userKeyOf:   opts.UserKeyOf,
	}
	if opts.AutoPipeline {
		ap, err := client.AsyncAutoPipeline()
		if err != nil {
			return nil, fmt.Errorf("redisstore: auto-pipelining: %w", err)
		}
		s.pipeliner = ap
	}
	if opts.NearCache != nil {
		if err := s.startNearCache(*opts.NearCache); err != nil {
			if s.pipeliner != nil {
				s.pipeliner.Close()
			}
			return nil, err
		}
	}
	return s, nil
}

// NewFromURL connects to the Redis deployment described by rawURL (see
// ParseURL for the forms), checks that it answers within ctx, and returns
// a Store that closes the connection when it is closed.
func NewFromURL(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	uo, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	client := redis.NewUniversalClient(uo)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		if uo.MasterName != "" && unknownMaster(ctx, uo) {
			return nil, fmt.Errorf("redisstore: connect %s: the sentinels know no master named %q: %w", Redact(rawURL), uo.MasterName, err)
		}
		return nil, fmt.Errorf("redisstore: connect %s: %w", Redact(rawURL), err)
	}
	s, err := New(client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	s.ownsClient = true
	return s, nil
}

// unknownMaster reports whether a sentinel of uo answered that it knows no
// master named uo.MasterName, which go-redis reports as "all sentinels
// specified in configuration are unreachable".
func unknownMaster(ctx context.Context, uo *redis.UniversalOptions) bool {
	for _, addr := range uo.Addrs {
		sc := redis.NewSentinelClient(&redis.Options{
			Addr:                  addr,
			Username:              uo.SentinelUsername,
			Password:              uo.SentinelPassword,
			TLSConfig:             uo.TLSConfig,
			DialTimeout:           uo.DialTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
		})
		err := sc.GetMasterAddrByName(ctx, uo.MasterName).Err()
		sc.Close()
		if errors.Is(err, redis.Nil) {
			return true
		}
		if err == nil {
			return false
		}
	}
	return false
}

// Client returns the client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Close stops the near cache's connections if Options.NearCache started
// them, stops the auto-pipeliner if Options.AutoPipeline started one
// (after the commands it holds have been sent), and closes the client if
// the store created it (NewFromURL). It is safe to call more than once:
// later calls do nothing and return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	if s.tracking != nil {
		s.tracking.close()
	}
	if s.pipeliner != nil {
		if err := s.pipeliner.Close(); err != nil {
			if s.ownsClient {
				s.client.Close()
			}
			return fmt.Errorf("redisstore: close: %w", err)
		}
	}
	if !s.ownsClient {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// RecordKey returns the Redis key of the record stored under key.
func (s *Store) RecordKey(key string) string {
	if s.layout == LayoutConnectRedis {
		return s.prefix + key
	}
	return s.prefix + "{" + hashTag(key) + "}"
}

// IndexKey returns the Redis key of userKey's index.
func (s *Store) IndexKey(userKey string) string { return s.prefix + "u:{" + hashTag(userKey) + "}" }

// releasedKey is where Save, Touch and Delete keep the highest index
// coverage a record under key gave up (same slot as RecordKey; see
// internal/redislua).
func (s *Store) releasedKey(key string) string { return s.prefix + "r{" + hashTag(key) + "}" }

// scriptKeys returns the keys the save, touch and delete scripts take for
// the record under key of the native layout: RecordKey(key) and
// releasedKey(key), cut from one string.
func (s *Store) scriptKeys(key string) []string {
	tag := hashTag(key)
	both := s.prefix + "{" + tag + "}" + s.prefix + "r{" + tag + "}"
	n := len(s.prefix) + len(tag) + 2
	return []string{both[:n], both[n:]}
}

// highWaterKey is where the IndexAdd script keeps the highest index score each
// of userKey's sessions has had (same slot as IndexKey).
func (s *Store) highWaterKey(userKey string) string {
	return s.prefix + "h:{" + hashTag(userKey) + "}"
}

// hashTag returns s as the body of a Redis Cluster hash tag, with '%',
// '{' and '}' percent-encoded: the tag then always ends where s does, so
// every key built from s lands in the slot of s. Session keys made by the
// Manager and typical user keys contain none of the three and appear
// unchanged.
func hashTag(s string) string {
	if !strings.ContainsAny(s, "%{}") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			b.WriteString("%25")
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fromHashTag reverses hashTag; ok is false if tag is not one of its
// results.
func fromHashTag(tag string) (s string, ok bool) {
	if !strings.ContainsAny(tag, "%{}") {
		return tag, true
	}
	var b strings.Builder
	for i := 0; i < len(tag); i++ {
		switch c := tag[i]; {
		case c == '{' || c == '}':
			return "", false
		case c != '%':
			b.WriteByte(c)
		case strings.HasPrefix(tag[i:], "%25"):
			b.WriteByte('%')
			i += 2
		case strings.HasPrefix(tag[i:], "%7B"):
			b.WriteByte('{')
			i += 2
		case strings.HasPrefix(tag[i:], "%7D"):
			b.WriteByte('}')
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

// errEmptyKey is returned for an empty session key, which has no hash tag
// of its own.
var errEmptyKey = errors.New("redisstore: empty session key")

// Load returns the live record under key with one HMGET.
func (s *Store) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	if key == "" {
		return sessionkit.Record{}, errEmptyKey
	}
	if s.near == nil {
		return s.load(ctx, key)
	}
	// An ended context is refused even when the cache could answer.
	if err := ctx.Err(); err != nil {
		return sessionkit.Record{}, fmt.Errorf("redisstore: load %s: %w", key, err)
	}
	rec, state, f := s.near.lookup(key)
	switch state {
	case nearHit:
		return rec, nil
	case nearExpired:
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	rec, err := s.load(ctx, key)
	if err != nil {
		s.near.cancel(key, f)
		return rec, err
	}
	s.near.fill(key, f, rec)
	return rec, nil
}

// load is Load from Redis.
func (s *Store) load(ctx context.Context, key string) (sessionkit.Record, error) {
	if s.layout == LayoutConnectRedis {
		return s.crLoad(ctx, key)
	}
	vals, err := s.hmgetRecord(ctx, s.RecordKey(key))
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("redisstore: load %s: %w", key, err)
	}
	rec, ok, err := decodeRecord(vals)
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("redisstore: load %s: %w", key, err)
	}
	// Redis keeps a key through the whole millisecond of its PEXPIREAT;
	// the record is gone from its Expiry on (sessionkit.Record.Expiry).
	if !ok || !time.Now().Before(rec.Expiry) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	return rec, nil
}

// decodeRecord turns an HMGET d v e u reply into a Record; ok is false
// when the record does not exist.
func decodeRecord(vals []any) (rec sessionkit.Record, ok bool, err error) {
	if len(vals) != 4 || vals[1] == nil {
		return rec, false, nil
	}
	d, _ := vals[0].(string)
	v, _ := vals[1].(string)
	e, _ := vals[2].(string)
	u, _ := vals[3].(string)
	if rec.Version, err = strconv.ParseUint(v, 10, 64); err != nil || rec.Version == 0 {
		return rec, false, fmt.Errorf("corrupt version %q", v)
	}
	ms, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return rec, false, fmt.Errorf("corrupt expiry %q", e)
	}
	rec.Data = []byte(d)
	rec.Expiry = time.UnixMilli(ms)
	rec.UserKey = u
	return rec, true, nil
}

// Save stores rec under key if the stored version is rec.Version (see
// sessionkit.Store). It is one round trip, except around the user index:
// creating a record for a user (a login with a new ID) adds one (the index
// entry, written first); giving an existing record a user, moving it to
// another, or an expiry beyond what its index entry covers adds two (the
// refused attempt and the index entry); a record leaving its user (logout,
// or a Save into the past) adds one to drop the old entry.
func (s *Store) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if key == "" {
		return 0, errEmptyKey
	}
	defer s.forget(key)
	if s.layout == LayoutConnectRedis {
		return s.crSave(ctx, key, rec)
	}
	keys := s.scriptKeys(key)
	expMs := rec.Expiry.UnixMilli()
	live := rec.Expiry.After(time.Now())
	cov := ""
	if rec.UserKey != "" && rec.Version == 0 && live {
		// A new record for a user (a login) always needs an index entry:
		// add it before the record, so the record is never visible
		// without one.
		c, err := s.indexAdd(ctx, rec.UserKey, key, rec.Expiry, "")
		if err != nil {
			return 0, fmt.Errorf("redisstore: save %s: %w", key, err)
		}
		cov = c
	}
	for range indexAttempts {
		// The version goes as a number: go-redis writes it in decimal,
		// as FormatUint would, without a string to allocate.
		res, err := saveScript.Run(ctx, s.scripts(), keys,
			rec.Version, rec.Data, expMs, rec.UserKey, cov).Slice()
		if err != nil {
			return 0, fmt.Errorf("redisstore: save %s: %w", key, err)
		}
		switch status(res) {
		case 0:
			return 0, sessionkit.ErrConflict
		case 1:
			if len(res) != 4 {
				return 0, fmt.Errorf("redisstore: save %s: unexpected reply %v", key, res)
			}
			v, err := strconv.ParseUint(str(res[1]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("redisstore: save %s: bad version %v", key, res[1])
			}
			if released := str(res[2]); released != "" {
				// The record no longer needs its entry in released's
				// index: drop it unless a newer record claimed it since.
				if err := s.unindex(ctx, released, key, str(res[3])); err != nil {
					return v, fmt.Errorf("redisstore: save %s: stored, but %w", key, err)
				}
			}
			return v, nil
		case 2:
			if len(res) != 2 {
				return 0, fmt.Errorf("redisstore: save %s: unexpected reply %v", key, res)
			}
			c, err := s.indexAdd(ctx, rec.UserKey, key, rec.Expiry, str(res[1]))
			if err != nil {
				return 0, fmt.Errorf("redisstore: save %s: %w", key, err)
			}
			cov = c
		default:
			return 0, fmt.Errorf("redisstore: save %s: unexpected reply %v", key, res)
		}
	}
	return 0, fmt.Errorf("redisstore: save %s: user index kept changing; giving up", key)
}

// Touch sets the expiry of the live record under key. It is one round
// trip and never rewrites the data; when the new expiry goes beyond what
// the user index covers (at most once per session lifetime or 24 hours,
// see the package documentation) it extends the index first, which costs
// two more.
func (s *Store) Touch(ctx context.Context, key string, expiry time.Time) error {
	if key == "" {
		return errEmptyKey
	}
	defer s.forget(key)
	if s.layout == LayoutConnectRedis {
		return s.crTouch(ctx, key, expiry)
	}
	keys := s.scriptKeys(key)
	user, cov := "", ""
	for range indexAttempts {
		res, err := touchScript.Run(ctx, s.scripts(), keys, expiry.UnixMilli(), user, cov).Slice()
		if err != nil {
			return fmt.Errorf("redisstore: touch %s: %w", key, err)
		}
		switch status(res) {
		case 0:
			return sessionkit.ErrNotFound
		case 1:
			if len(res) == 3 && str(res[1]) != "" {
				// Touched into the past: the record is gone.
				if err := s.unindex(ctx, str(res[1]), key, str(res[2])); err != nil {
					return fmt.Errorf("redisstore: touch %s: %w", key, err)
				}
			}
			return nil
		case 2:
			if len(res) != 3 {
				return fmt.Errorf("redisstore: touch %s: unexpected reply %v", key, res)
			}
			user = str(res[1])
			if cov, err = s.indexAdd(ctx, user, key, expiry, str(res[2])); err != nil {
				return fmt.Errorf("redisstore: touch %s: %w", key, err)
			}
		default:
			return fmt.Errorf("redisstore: touch %s: unexpected reply %v", key, res)
		}
	}
	return fmt.Errorf("redisstore: touch %s: user index kept changing; giving up", key)
}

// Delete removes the record under key and its user index entry.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return errEmptyKey
	}
	defer s.forget(key)
	if s.layout == LayoutConnectRedis {
		return s.crDelete(ctx, key)
	}
	res, err := deleteScript.Run(ctx, s.scripts(), s.scriptKeys(key), "").Slice()
	if err != nil {
		return fmt.Errorf("redisstore: delete %s: %w", key, err)
	}
	if status(res) == 1 && len(res) == 3 && str(res[1]) != "" {
		if err := s.unindex(ctx, str(res[1]), key, str(res[2])); err != nil {
			return fmt.Errorf("redisstore: delete %s: %w", key, err)
		}
	}
	return nil
}

// UserSessions returns the live sessions of userKey: the index is pruned
// and read in one round trip, the records in a second (a pipeline), and
// only records that still belong to userKey are returned.
func (s *Store) UserSessions(ctx context.Context, userKey string) ([]sessionkit.Entry, error) {
	if s.layout == LayoutConnectRedis {
		return nil, errNoIndex
	}
	keys, err := s.members(ctx, userKey)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	cmds := make([]*redis.SliceCmd, len(keys))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HMGet(ctx, s.RecordKey(k), "d", "v", "e", "u")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: sessions of user %s: %w", userKey, err)
	}
	entries := make([]sessionkit.Entry, 0, len(keys))
	for i, cmd := range cmds {
		rec, ok, err := decodeRecord(cmd.Val())
		if err != nil {
			return nil, fmt.Errorf("redisstore: sessions of user %s: %s: %w", userKey, keys[i], err)
		}
		if ok && rec.UserKey == userKey && time.Now().Before(rec.Expiry) {
			entries = append(entries, sessionkit.Entry{Key: keys[i], Record: rec})
		}
	}
	return entries, nil
}

// DeleteUserSessions removes every session of userKey and returns how many
// it removed. Each record is deleted only if it still belongs to userKey.
func (s *Store) DeleteUserSessions(ctx context.Context, userKey string) (int, error) {
	if s.layout == LayoutConnectRedis {
		return 0, errNoIndex
	}
	keys, err := s.members(ctx, userKey)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	defer func() {
		for _, k := range keys {
			s.forget(k)
		}
	}()
	cmds := make([]*redis.Cmd, len(keys))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
			cmds[i] = deleteScript.Eval(ctx, p, []string{s.RecordKey(k), s.releasedKey(k)}, userKey)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete sessions of user %s: %w", userKey, err)
	}
	n := 0
	var pairs []any
	for i, cmd := range cmds {
		res, _ := cmd.Slice()
		if status(res) == 1 && len(res) == 3 {
			n++
			pairs = append(pairs, keys[i], str(res[2]))
		}
	}
	if len(pairs) > 0 {
		if err := unindexScript.Run(ctx, s.client, []string{s.IndexKey(userKey)}, pairs...).Err(); err != nil {
			return n, fmt.Errorf("redisstore: delete sessions of user %s: %w", userKey, err)
		}
	}
	return n, nil
}

// All yields every live record. It SCANs each master (in Cluster mode,
// every master in turn) in pages and never uses KEYS.
func (s *Store) All(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	if s.layout == LayoutConnectRedis {
		return s.crAll(ctx)
	}
	return func(yield func(sessionkit.Entry, error) bool) {
		nodes, err := s.masters(ctx)
		if err != nil {
			yield(sessionkit.Entry{}, fmt.Errorf("redisstore: iterate: %w", err))
			return
		}
		for _, node := range nodes {
			if !s.scanNode(ctx, node, yield) {
				return
			}
		}
	}
}

// scanNode yields the records on one node; it returns false when the
// iteration must end.
func (s *Store) scanNode(ctx context.Context, node redis.Cmdable, yield func(sessionkit.Entry, error) bool) bool {
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, s.scanPattern, 200).Result()
		if err != nil {
			yield(sessionkit.Entry{}, fmt.Errorf("redisstore: iterate: %w", err))
			return false
		}
		if len(keys) > 0 {
			cmds := make([]*redis.SliceCmd, len(keys))
			// Errors are checked per command below: a foreign key of
			// another type under the prefix is skipped, not fatal.
			_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.HMGet(ctx, k, "d", "v", "e", "u")
				}
				return nil
			})
			for i, cmd := range cmds {
				if err := cmd.Err(); err != nil {
					if redis.HasErrorPrefix(err, "WRONGTYPE") {
						continue
					}
					yield(sessionkit.Entry{}, fmt.Errorf("redisstore: iterate: %w", err))
					return false
				}
				rk := keys[i]
				if len(rk) < len(s.prefix)+2 || rk[len(rk)-1] != '}' {
					continue // not a record key of this store
				}
				rec, ok, err := decodeRecord(cmd.Val())
				if err != nil {
					yield(sessionkit.Entry{}, fmt.Errorf("redisstore: iterate: %s: %w", keys[i], err))
					return false
				}
				if !ok || !time.Now().Before(rec.Expiry) {
					continue // expired or deleted since the SCAN (see load)
				}
				// Strip prefix + "{" and the closing "}".
				key, ok := fromHashTag(rk[len(s.prefix)+1 : len(rk)-1])
				if !ok {
					continue // not a record key of this store
				}
				if !yield(sessionkit.Entry{Key: key, Record: rec}, nil) {
					return false
				}
			}
		}
		if next == 0 {
			return true
		}
		cursor = next
	}
}

// masters returns one client per node that holds records.
func (s *Store) masters(ctx context.Context) ([]redis.Cmdable, error) {
	var (
		mu    sync.Mutex
		nodes []redis.Cmdable
	)
	collect := func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, c)
		mu.Unlock()
		return nil
	}
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		if err := c.ForEachMaster(ctx, collect); err != nil {
			return nil, err
		}
	case *redis.Ring:
		if err := c.ForEachShard(ctx, collect); err != nil {
			return nil, err
		}
	default:
		nodes = append(nodes, s.client)
	}
	return nodes, nil
}

// members prunes userKey's index by score and returns its members.
func (s *Store) members(ctx context.Context, userKey string) ([]string, error) {
	keys, err := membersScript.Run(ctx, s.scripts(), []string{s.IndexKey(userKey)}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: index of user %s: %w", userKey, err)
	}
	return keys, nil
}

// indexAdd makes userKey's index cover key until past expiry, with a
// score above floor (a decimal string of ms, "" for none), and returns the
// coverage to offer the record (as a decimal string of ms).
func (s *Store) indexAdd(ctx context.Context, userKey, key string, expiry time.Time, floor string) (string, error) {
	slack := min(max(time.Until(expiry), 0), maxIndexSlack)
	want := expiry.Add(slack).UnixMilli()
	if floor != "" {
		f, err := strconv.ParseInt(floor, 10, 64)
		if err != nil {
			return "", fmt.Errorf("index user %s: bad released coverage %q", userKey, floor)
		}
		want = max(want, f+1)
	}
	cov, err := indexAddScript.Run(ctx, s.scripts(), []string{s.IndexKey(userKey), s.highWaterKey(userKey)}, key, want).Text()
	if err != nil {
		return "", fmt.Errorf("index user %s: %w", userKey, err)
	}
	return cov, nil
}

// unindex removes key from userKey's index if its score is still cov.
func (s *Store) unindex(ctx context.Context, userKey, key, cov string) error {
	if cov == "" {
		return nil
	}
	if err := unindexScript.Run(ctx, s.scripts(), []string{s.IndexKey(userKey)}, key, cov).Err(); err != nil {
		return fmt.Errorf("unindex user %s: %w", userKey, err)
	}
	return nil
}

// status returns the first element of a script reply as an int, or -1.
func status(res []any) int {
	if len(res) == 0 {
		return -1
	}
	n, ok := res[0].(int64)
	if !ok {
		return -1
	}
	return int(n)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// globEscape escapes the SCAN MATCH metacharacters in s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
