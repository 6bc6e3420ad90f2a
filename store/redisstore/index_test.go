package redisstore_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestIndexInvariant races logins, logouts, moves between users, touches
// (many beyond the index coverage, some into the past) and deletes on a
// few keys, and after each round checks the invariant the user index
// rests on: every live record with a user has an entry in that user's
// index scored at or after its expiry, and UserSessions lists it. It is
// most searching under -race on a saturated CPU, where interleavings are
// widest; TestStaleCoverageCannotLoseIndexEntry replays the one it found.
func TestIndexInvariant(t *testing.T) {
	users := []string{"", "ann", "ben", "cat"}
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	for _, topo := range topologies {
		for _, mode := range modes {
			t.Run(topo.name+"/"+mode.name, func(t *testing.T) {
				client := newClient(t, topo.url(t))
				s := newStoreWith(t, client, mode.opts())
				for round := range 8 {
					raceIndex(t, s, users, keys, uint64(round))
					checkIndex(t, client, s, keys)
				}
			})
		}
	}
}

// raceIndex runs one round of concurrent operations.
func raceIndex(t *testing.T, s *redisstore.Store, users, keys []string, round uint64) {
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(round, uint64(w)))
			for range 30 {
				key := keys[rng.IntN(len(keys))]
				var err error
				switch op := rng.IntN(10); {
				case op < 5:
					// Short lifetimes give small index coverage...
					var rec sessionkit.Record
					rec, err = s.Load(ctx, key)
					if errors.Is(err, sessionkit.ErrNotFound) {
						rec, err = sessionkit.Record{}, nil
					}
					if err == nil {
						rec.Data = []byte("x")
						rec.UserKey = users[rng.IntN(len(users))]
						rec.Expiry = time.Now().Add(time.Duration(50+rng.IntN(500)) * time.Millisecond)
						_, err = s.Save(ctx, key, rec)
					}
				case op < 8:
					// ...that touches to longer ones often exceed.
					exp := time.Now().Add(time.Duration(500+rng.IntN(5000)) * time.Millisecond)
					if rng.IntN(6) == 0 {
						exp = time.Now().Add(-time.Second)
					}
					err = s.Touch(ctx, key, exp)
				default:
					err = s.Delete(ctx, key)
				}
				if err != nil && !errors.Is(err, sessionkit.ErrConflict) && !errors.Is(err, sessionkit.ErrNotFound) {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// checkIndex checks the invariant. Nothing runs concurrently, so no index
// entry can be pruned meanwhile.
func checkIndex(t *testing.T, client redis.UniversalClient, s *redisstore.Store, keys []string) {
	t.Helper()
	ctx := t.Context()
	for _, key := range keys {
		rec, err := s.Load(ctx, key)
		if errors.Is(err, sessionkit.ErrNotFound) || err == nil && rec.UserKey == "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		score, zerr := client.ZScore(ctx, s.IndexKey(rec.UserKey), key).Result()
		if zerr != nil && !errors.Is(zerr, redis.Nil) {
			t.Fatal(zerr)
		}
		entries, err := s.UserSessions(ctx, rec.UserKey)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Load(ctx, key)
		if err != nil || again.Version != rec.Version {
			continue // expired while we looked
		}
		switch {
		case zerr != nil:
			raw, _ := client.HGetAll(ctx, s.RecordKey(key)).Result()
			idx, _ := client.ZRangeWithScores(ctx, s.IndexKey(rec.UserKey), 0, -1).Result()
			t.Errorf("%s is live for %s until %v (%d) but missing from the index; record %v; index %v", key, rec.UserKey, rec.Expiry, rec.Expiry.UnixMilli(), raw, idx)
		case int64(score) < rec.Expiry.UnixMilli():
			t.Errorf("%s: index score %d is before its expiry %d", key, int64(score), rec.Expiry.UnixMilli())
		case !slices.ContainsFunc(entries, func(e sessionkit.Entry) bool { return e.Key == key }):
			t.Errorf("UserSessions(%s) misses live %s", rec.UserKey, key)
		}
	}
}
