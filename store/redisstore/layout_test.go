package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

func TestConnectRedisLayout(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			client := newClient(t, topo.url(t))
			b := make([]byte, 6)
			rand.Read(b)
			prefix := "sktest:" + hex.EncodeToString(b) + ":sess:"
			s, err := redisstore.New(client, redisstore.Options{
				Prefix:    prefix,
				Layout:    redisstore.LayoutConnectRedis,
				UserKeyOf: func(data []byte) string { return string(data[len(data)-3 : len(data)-2]) },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			t.Cleanup(func() {
				for _, k := range []string{"sid1", "sid2"} {
					client.Del(context.Background(), prefix+k)
				}
			})
			exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			data := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"u":"a"}`

			v1, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp})
			if err != nil || v1 == 0 {
				t.Fatalf("create: %d, %v", v1, err)
			}
			if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Expiry: exp}); !errors.Is(err, sessionkit.ErrConflict) {
				t.Fatalf("second create: %v, want ErrConflict", err)
			}
			// The key is connect-redis's: a plain string with a TTL.
			if got, err := client.Get(ctx, prefix+"sid1").Result(); err != nil || got != data {
				t.Fatalf("GET = %q, %v", got, err)
			}
			if ttl := client.PTTL(ctx, prefix+"sid1").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
				t.Fatalf("PTTL = %v", ttl)
			}
			rec, err := s.Load(ctx, "sid1")
			if err != nil || string(rec.Data) != data || rec.Version != v1 || rec.UserKey != "a" ||
				rec.Expiry.Sub(exp).Abs() > 5*time.Second {
				t.Fatalf("Load = %+v, %v", rec, err)
			}
			// Another writer (the Node app) replaces the session.
			other := `{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"u":"b"}`
			if err := client.Set(ctx, prefix+"sid1", other, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(`{"cookie":{},"x":"1"}`), Version: v1, Expiry: exp}); !errors.Is(err, sessionkit.ErrConflict) {
				t.Fatalf("stale save: %v, want ErrConflict", err)
			}
			rec, _ = s.Load(ctx, "sid1")
			if rec.UserKey != "b" {
				t.Fatalf("UserKey = %q", rec.UserKey)
			}
			v2, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(`{"cookie":{},"x":"1"}`), Version: rec.Version, Expiry: exp})
			if err != nil || v2 == rec.Version {
				t.Fatalf("save: %d, %v", v2, err)
			}
			if err := s.Touch(ctx, "sid1", exp.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if rec, _ = s.Load(ctx, "sid1"); rec.Version != v2 || rec.Expiry.Before(exp.Add(59*time.Minute)) {
				t.Fatalf("after touch: %+v", rec)
			}
			if err := s.Touch(ctx, "nope", exp); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("touch missing: %v", err)
			}
			n := 0
			for e, err := range s.All(ctx) {
				if err != nil || e.Key != "sid1" {
					t.Fatalf("All: %+v, %v", e, err)
				}
				n++
			}
			if n != 1 {
				t.Fatalf("All yielded %d", n)
			}
			if _, err := s.UserSessions(ctx, "a"); !errors.Is(err, sessionkit.ErrNotSupported) {
				t.Fatalf("UserSessions: %v", err)
			}
			// A save with an expiry in the past deletes, as connect-redis does.
			if _, err := s.Save(ctx, "sid1", sessionkit.Record{Data: []byte(data), Version: v2, Expiry: time.Now().Add(-time.Second)}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, "sid1"); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("expired Load: %v", err)
			}
			if _, err := s.Save(ctx, "sid2", sessionkit.Record{Data: []byte(data), Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, "sid2"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(ctx, "sid2"); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("deleted Load: %v", err)
			}
		})
	}
}

// NoPrefix: koa-session's external keys are the Redis keys as they are,
// and iterating the database skips keys of other types.
func TestConnectRedisNoPrefix(t *testing.T) {
	unused := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer unused.Close()
	if _, err := redisstore.New(unused, redisstore.Options{NoPrefix: true}); err == nil {
		t.Error("NoPrefix accepted with the native layout")
	}
	if _, err := redisstore.New(unused, redisstore.Options{NoPrefix: true, Prefix: "p:", Layout: redisstore.LayoutConnectRedis}); err == nil {
		t.Error("NoPrefix accepted with a Prefix")
	}
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			client := newClient(t, topo.url(t))
			s, err := redisstore.New(client, redisstore.Options{Layout: redisstore.LayoutConnectRedis, NoPrefix: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b := make([]byte, 6)
			rand.Read(b)
			key := "sktest-" + hex.EncodeToString(b) + "-1b4e28ba-2fa1-4d2b-883f-0016d3cca427"
			other := "sktest-" + hex.EncodeToString(b) + "-hash"
			t.Cleanup(func() { client.Del(context.Background(), key); client.Del(context.Background(), other) })
			if err := client.HSet(ctx, other, "f", "v").Err(); err != nil {
				t.Fatal(err)
			}
			data := `{"n":1,"_expire":1700000000000,"_maxAge":86400000}`
			if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte(data), Expiry: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if got, err := client.Get(ctx, key).Result(); err != nil || got != data {
				t.Fatalf("GET %s = %q, %v", key, got, err)
			}
			found := false
			for e, err := range s.All(ctx) {
				if err != nil {
					t.Fatalf("All: %v", err)
				}
				if e.Key == other {
					t.Fatalf("All yielded a hash key")
				}
				found = found || (e.Key == key && string(e.Record.Data) == data)
			}
			if !found {
				t.Fatal("All did not yield the session")
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if n := client.Exists(ctx, key).Val(); n != 0 {
				t.Fatal("Delete left the key")
			}
		})
	}
}
