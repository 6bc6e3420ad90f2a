package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// SaveScript lets the benchmark's hand-written ceiling run exactly the
// script Save runs.
var SaveScript = saveScript

// ReleasedKey is the second key SaveScript takes.
func (s *Store) ReleasedKey(key string) string { return s.releasedKey(key) }

// LoadScripts loads every script on every master, so that tests counting
// round trips do not see the one-off NOSCRIPT fallback.
func LoadScripts(ctx context.Context, c redis.UniversalClient) error {
	scripts := []*redis.Script{saveScript, touchScript, deleteScript, indexAddScript, unindexScript, membersScript}
	load := func(ctx context.Context, c redis.Scripter) error {
		for _, s := range scripts {
			if err := s.Load(ctx, c).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return load(ctx, n) })
	}
	return load(ctx, c)
}

// SetNearCacheHook makes the near cache call f with each session key
// Redis reports changed, after its entry was dropped.
func SetNearCacheHook(s *Store, f func(key string)) {
	if f == nil {
		s.near.onInvalidate.Store(nil)
		return
	}
	s.near.onInvalidate.Store(&f)
}

// Prefix returns the store's key prefix.
func (s *Store) Prefix() string { return s.prefix }
