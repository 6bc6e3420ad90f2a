package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// TestStaleCoverageCannotLoseIndexEntry replays, step by step, an
// interleaving that once left a live record missing from its user's
// index:
//
//  1. a login (P) gets an index entry with score sr and has yet to write
//     its record;
//  2. a Touch of the session's current record raises the entry to se > sr
//     and stores se in that record;
//  3. the record is deleted, releasing se; the conditional removal of se
//     from the index is still on its way;
//  4. P writes its record offering sr — the entry's score is still se, so
//     the record rests on an entry about to be removed;
//  5. the removal of se arrives and takes the entry away.
//
// Step 4 must be refused: an offered coverage at or below a released one
// is stale. The login then extends the index above it and succeeds, and
// the pending removal no longer matches.
func TestStaleCoverageCannotLoseIndexEntry(t *testing.T) {
	for _, tc := range []struct{ name, env, scheme string }{
		{"Single", testenv.RedisURLEnv, ""},
		{"Cluster", testenv.RedisClusterEnv, "redis+cluster://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			client, s := internalStore(t, tc.scheme+testenv.Getenv(t, tc.env))
			const user, key = "u", "k"
			keys := []string{s.RecordKey(key), s.releasedKey(key)}
			t.Cleanup(func() {
				client.Del(context.Background(), keys...)
				client.Del(context.Background(), s.IndexKey(user), s.highWaterKey(user))
			})
			exp := time.Now().Add(time.Minute)
			if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("1"), Expiry: exp, UserKey: user}); err != nil {
				t.Fatal(err)
			}

			// 1. P's index entry.
			sr, err := s.indexAdd(ctx, user, key, exp, "")
			if err != nil {
				t.Fatal(err)
			}
			// 2. A Touch beyond the coverage raises the entry.
			if err := s.Touch(ctx, key, exp.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			// 3. Delete, holding back its index removal.
			res, err := deleteScript.Run(ctx, client, keys, "").Slice()
			if err != nil {
				t.Fatal(err)
			}
			if status(res) != 1 || str(res[1]) != user {
				t.Fatalf("delete replied %v", res)
			}
			se := str(res[2])
			if n(t, se) <= n(t, sr) {
				t.Fatalf("touch did not raise the coverage: %s then %s", sr, se)
			}
			// 4. P's write offering the stale sr is refused, naming se.
			res, err = saveScript.Run(ctx, client, keys, "0", "2", exp.UnixMilli(), user, sr).Slice()
			if err != nil {
				t.Fatal(err)
			}
			if status(res) != 2 || len(res) != 2 || str(res[1]) != se {
				t.Fatalf("save offering stale coverage %s after %s was released: reply %v, want [2 %s]", sr, se, res, se)
			}
			// P goes on as Save does: a new entry above se, then the write.
			cov, err := s.indexAdd(ctx, user, key, exp, str(res[1]))
			if err != nil {
				t.Fatal(err)
			}
			res, err = saveScript.Run(ctx, client, keys, "0", "2", exp.UnixMilli(), user, cov).Slice()
			if err != nil || status(res) != 1 {
				t.Fatalf("save with fresh coverage %s: %v %v", cov, res, err)
			}
			// 5. The held-back removal arrives.
			if err := s.unindex(ctx, user, key, se); err != nil {
				t.Fatal(err)
			}

			entries, err := s.UserSessions(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Key != key {
				score, zerr := client.ZScore(ctx, s.IndexKey(user), key).Result()
				t.Fatalf("live record of %s missing from its index: UserSessions = %v; score %v (%v)", user, entries, score, zerr)
			}
		})
	}
}

// TestReleasedCoverageExpires checks that the released-coverage key
// leaves nothing behind: it expires at the coverage it holds, which is
// not before the released record's expiry.
func TestReleasedCoverageExpires(t *testing.T) {
	ctx := t.Context()
	client, s := internalStore(t, testenv.Getenv(t, testenv.RedisURLEnv))
	const key = "k"
	t.Cleanup(func() { client.Del(context.Background(), s.RecordKey(key), s.releasedKey(key)) })
	// Short, so the test waits little for the coverage to expire, but long
	// enough for the Save and Delete below to run before the record expires.
	exp := time.Now().Add(400 * time.Millisecond)
	if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("1"), Expiry: exp, UserKey: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	v, err := client.Get(ctx, s.releasedKey(key)).Result()
	if err != nil {
		t.Fatalf("released coverage not recorded: %v", err)
	}
	at, err := client.PExpireTime(ctx, s.releasedKey(key)).Result()
	if err != nil {
		t.Fatal(err)
	}
	cov := n(t, v)
	if at != time.Duration(cov)*time.Millisecond || cov < exp.UnixMilli() {
		t.Fatalf("released coverage %d expires at %d ms; want it to expire at the coverage, which is not before the record's expiry %d", cov, at.Milliseconds(), exp.UnixMilli())
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := client.Get(ctx, s.releasedKey(key)).Err()
		if errors.Is(err, redis.Nil) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("released coverage still there 5s after a 100ms session: %v", err)
		}
	}
}

// internalStore connects to rawURL and returns the client and a store on
// it with a fresh prefix; the client is closed when the test ends.
func internalStore(t *testing.T, rawURL string) (redis.UniversalClient, *Store) {
	t.Helper()
	o, err := ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewUniversalClient(o)
	t.Cleanup(func() { client.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	s, err := New(client, Options{Prefix: "skrel:" + hex.EncodeToString(b) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	return client, s
}

func n(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return v
}
