package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/redislua"
)

// Layout is a key layout.
type Layout int

const (
	// LayoutNative is the store's own layout (see the package
	// documentation): a hash per record and a per-user index.
	LayoutNative Layout = iota
	// LayoutConnectRedis is connect-redis's layout: the session JSON as a
	// plain string under Prefix + <session ID> (Prefix defaults to
	// "sess:" for this layout), expiring with the session, for sharing
	// sessions with an Express app (see compat/express). The version is a
	// hash of the stored value. See the package documentation for what
	// this layout cannot do.
	LayoutConnectRedis
)

// DefaultConnectRedisPrefix is connect-redis's default key prefix.
const DefaultConnectRedisPrefix = "sess:"

// noExpiry stands for a key without a TTL (connect-redis's disableTTL).
const noExpiry = 100 * 365 * 24 * time.Hour

// valueVersion is the version of a value in the connect-redis layout: the
// first 8 bytes of its SHA-1, which the save script compares as the first
// 16 hex digits of redis.sha1hex.
func valueVersion(data []byte) uint64 {
	sum := sha1.Sum(data)
	return binary.BigEndian.Uint64(sum[:8])
}

// crLoadScript returns {value, pttl} or nil.
var crLoadScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
`)

// crSaveScript is the compare-and-swap of the connect-redis layout.
// ARGV: expected version as 16 hex digits ("" = absent), value, expiry ms.
// Reply: 1 stored, 0 conflict.
var crSaveScript = redis.NewScript(redislua.Now + `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if cur then return 0 end
elseif not cur or string.sub(redis.sha1hex(cur), 1, 16) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) <= nowms then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return 1
`)

func (s *Store) crLoad(ctx context.Context, key string) (sessionkit.Record, error) {
	res, err := crLoadScript.Run(ctx, s.scripts(), []string{s.prefix + key}).Slice()
	if errors.Is(err, redis.Nil) {
		return sessionkit.Record{}, sessionkit.ErrNotFound
	}
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("redisstore: load %s: %w", key, err)
	}
	rec, ok := s.crRecord(res)
	if !ok {
		return sessionkit.Record{}, fmt.Errorf("redisstore: load %s: unexpected reply %v", key, res)
	}
	return rec, nil
}

// crRecord turns a {value, pttl} reply into a Record.
func (s *Store) crRecord(res []any) (sessionkit.Record, bool) {
	if len(res) != 2 {
		return sessionkit.Record{}, false
	}
	v, ok1 := res[0].(string)
	pttl, ok2 := res[1].(int64)
	if !ok1 || !ok2 {
		return sessionkit.Record{}, false
	}
	rec := sessionkit.Record{Data: []byte(v), Version: valueVersion([]byte(v))}
	if pttl < 0 {
		rec.Expiry = time.Now().Add(noExpiry).Truncate(time.Millisecond)
	} else {
		rec.Expiry = time.Now().Add(time.Duration(pttl) * time.Millisecond)
	}
	if s.userKeyOf != nil {
		rec.UserKey = s.userKeyOf(rec.Data)
	}
	return rec, true
}

func (s *Store) crSave(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	old := ""
	if rec.Version != 0 {
		old = fmt.Sprintf("%016x", rec.Version)
	}
	n, err := crSaveScript.Run(ctx, s.scripts(), []string{s.prefix + key}, old, rec.Data, rec.Expiry.UnixMilli()).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: save %s: %w", key, err)
	}
	if n != 1 {
		return 0, sessionkit.ErrConflict
	}
	return valueVersion(rec.Data), nil
}

func (s *Store) crTouch(ctx context.Context, key string, expiry time.Time) error {
	cmd := redis.NewBoolCmd(ctx, "pexpireat", s.prefix+key, expiry.UnixMilli())
	if _, err := s.process(ctx, cmd); err != nil {
		return fmt.Errorf("redisstore: touch %s: %w", key, err)
	}
	if !cmd.Val() {
		return sessionkit.ErrNotFound
	}
	return nil
}

func (s *Store) crDelete(ctx context.Context, key string) error {
	if _, err := s.process(ctx, redis.NewIntCmd(ctx, "del", s.prefix+key)); err != nil {
		return fmt.Errorf("redisstore: delete %s: %w", key, err)
	}
	return nil
}

var errNoIndex = fmt.Errorf("redisstore: the connect-redis layout has no per-user index: %w", sessionkit.ErrNotSupported)

// crAll SCANs every master for Prefix*.
func (s *Store) crAll(ctx context.Context) iter.Seq2[sessionkit.Entry, error] {
	return func(yield func(sessionkit.Entry, error) bool) {
		nodes, err := s.masters(ctx)
		if err != nil {
			yield(sessionkit.Entry{}, fmt.Errorf("redisstore: iterate: %w", err))
			return
		}
		pattern := globEscape(s.prefix) + "*"
		for _, node := range nodes {
			var cursor uint64
			for {
				keys, next, err := node.Scan(ctx, cursor, pattern, 200).Result()
				if err != nil {
					yield(sessionkit.Entry{}, fmt.Errorf("redisstore: iterate: %w", err))
					return
				}
				for _, k := range keys {
					res, err := crLoadScript.Run(ctx, node, []string{k}).Slice()
					if errors.Is(err, redis.Nil) {
						continue // expired or deleted since the SCAN
					}
					if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
						continue // not a string: another application's key
					}
					if err != nil {
						yield(sessionkit.Entry{}, fmt.Errorf("redisstore: iterate: %w", err))
						return
					}
					rec, ok := s.crRecord(res)
					if !ok {
						continue // not a string: another application's key
					}
					if !yield(sessionkit.Entry{Key: k[len(s.prefix):], Record: rec}, nil) {
						return
					}
				}
				if next == 0 {
					break
				}
				cursor = next
			}
		}
	}
}
