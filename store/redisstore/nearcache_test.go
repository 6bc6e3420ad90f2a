package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// newNearStore returns a store with a near cache, tracking, and a plain
// store on another client with the same prefix: what another process
// sharing the sessions would do.
func newNearStore(t *testing.T, rawURL string, nc redisstore.NearCache) (near, other *redisstore.Store, client redis.UniversalClient) {
	t.Helper()
	client = newClient(t, rawURL)
	near = newStoreWith(t, client, redisstore.Options{NearCache: &nc})
	other, err := redisstore.New(newClient(t, rawURL), redisstore.Options{Prefix: near.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	return near, other, client
}

// waitInvalidated calls change, then waits until near has dropped key
// because Redis reported it changed.
func waitInvalidated(t *testing.T, invalidated *atomic.Int64, change func() error) {
	t.Helper()
	before := invalidated.Load()
	if err := change(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for invalidated.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("no invalidation within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNearCache checks, on every topology, that a repeated load makes no
// round trip, and that a change, touch, logout or revocation made through
// another client is never served from the cache once its invalidation
// has arrived, while this process's own writes are read back at once.
func TestNearCache(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			near, other, client := newNearStore(t, topo.url(t), redisstore.NearCache{})
			ctx := t.Context()
			var invalidated atomic.Int64
			redisstore.SetNearCacheHook(near, func(key string) {
				if key == "k" || key == "u1" || key == "u2" {
					invalidated.Add(1)
				}
			})
			if err := redisstore.LoadScripts(ctx, client); err != nil {
				t.Fatal(err)
			}
			exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			rt := &roundTrips{}
			client.AddHook(rt)
			load := func(key string, wantData string, wantTrips int64) sessionkit.Record {
				t.Helper()
				before := rt.n.Load()
				rec, err := near.Load(ctx, key)
				if wantData == "" {
					if !errors.Is(err, sessionkit.ErrNotFound) {
						t.Fatalf("Load(%s) = %q, %v; want ErrNotFound", key, rec.Data, err)
					}
				} else if err != nil || string(rec.Data) != wantData {
					t.Fatalf("Load(%s) = %q, %v; want %q", key, rec.Data, err, wantData)
				}
				if got := rt.n.Load() - before; wantTrips >= 0 && got != wantTrips {
					t.Errorf("Load(%s): %d round trips, want %d", key, got, wantTrips)
				}
				return rec
			}

			// Every write below, here or elsewhere, is followed by its
			// invalidation, which drops what a load started before it
			// arrived would have cached: wait for it before counting.
			var v1 uint64
			waitInvalidated(t, &invalidated, func() error {
				var err error
				v1, err = other.Save(ctx, "k", sessionkit.Record{Data: []byte("v1"), Expiry: exp})
				return err
			})
			load("k", "v1", 1)
			if rec := load("k", "v1", 0); rec.Version != v1 || !rec.Expiry.Equal(exp) {
				t.Errorf("cached record = %+v, want version %d expiry %v", rec, v1, exp)
			}

			// A change by another process.
			var v2 uint64
			waitInvalidated(t, &invalidated, func() error {
				var err error
				v2, err = other.Save(ctx, "k", sessionkit.Record{Data: []byte("v2"), Version: v1, Expiry: exp})
				return err
			})
			load("k", "v2", 1)
			load("k", "v2", 0)

			// A touch by another process moves the expiry.
			later := exp.Add(time.Hour)
			waitInvalidated(t, &invalidated, func() error { return other.Touch(ctx, "k", later) })
			if rec := load("k", "v2", 1); !rec.Expiry.Equal(later) || rec.Version != v2 {
				t.Errorf("after a touch elsewhere: %+v, want expiry %v version %d", rec, later, v2)
			}
			load("k", "v2", 0)

			// This process's own write is read back at once, without
			// waiting for Redis's invalidation.
			before := invalidated.Load()
			v3, err := near.Save(ctx, "k", sessionkit.Record{Data: []byte("v3"), Version: v2, Expiry: exp})
			if err != nil {
				t.Fatal(err)
			}
			load("k", "v3", 1)
			if err := near.Touch(ctx, "k", later); err != nil {
				t.Fatal(err)
			}
			if rec := load("k", "v3", 1); !rec.Expiry.Equal(later) || rec.Version != v3 {
				t.Errorf("after a touch here: %+v", rec)
			}
			for deadline := time.Now().Add(10 * time.Second); invalidated.Load() < before+2; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("own writes not invalidated within 10s")
				}
			}
			load("k", "v3", -1) // cached unless the touch's invalidation came after
			load("k", "v3", 0)

			// A logout elsewhere.
			load("k", "v3", 0)
			waitInvalidated(t, &invalidated, func() error { return other.Delete(ctx, "k") })
			load("k", "", 1)

			// Revoking every session of a user elsewhere.
			for _, key := range []string{"u1", "u2"} {
				waitInvalidated(t, &invalidated, func() error {
					_, err := other.Save(ctx, key, sessionkit.Record{Data: []byte(key), Expiry: exp, UserKey: "ann"})
					return err
				})
				load(key, key, 1)
				load(key, key, 0)
			}
			before = invalidated.Load()
			if n, err := other.DeleteUserSessions(ctx, "ann"); err != nil || n != 2 {
				t.Fatalf("DeleteUserSessions = %d, %v", n, err)
			}
			for deadline := time.Now().Add(10 * time.Second); invalidated.Load() < before+2; {
				if time.Now().After(deadline) {
					t.Fatal("revocation not invalidated within 10s")
				}
				time.Sleep(time.Millisecond)
			}
			load("u1", "", 1)
			load("u2", "", 1)

			st, _ := near.NearCacheStats()
			if !st.Tracking || st.Hits == 0 || st.Invalidations == 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestNearCacheMiddlewareRoundTrips pins the round trips of whole
// requests with the near cache: a repeated read-only request makes none,
// a read-modify-write the usual two.
func TestNearCacheMiddlewareRoundTrips(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			client := newClient(t, topo.url(t))
			s := newStoreWith(t, client, redisstore.Options{NearCache: &redisstore.NearCache{}})
			var invalidated atomic.Int64
			redisstore.SetNearCacheHook(s, func(string) { invalidated.Add(1) })
			h := sessionkitHandler(sessionkit.New(s))
			var cookies []*http.Cookie
			waitInvalidated(t, &invalidated, func() error {
				r := httptest.NewRequest("GET", "/write", nil)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				cookies = w.Result().Cookies()
				if w.Code != 200 || len(cookies) != 1 {
					return fmt.Errorf("creating a session: %d %v", w.Code, cookies)
				}
				return nil
			})
			rt := &roundTrips{}
			client.AddHook(rt)
			for _, tc := range []struct {
				path, body string
				want       int64
			}{
				{"/read", "1", 1}, // not cached yet: the save dropped it
				{"/read", "1", 0},
				{"/read", "1", 0},
				{"/write", "2", 1}, // the load is cached; the save is not
				{"/read", "2", 1},
				{"/read", "2", 0},
			} {
				before := rt.n.Load()
				do := func() error {
					r := httptest.NewRequest("GET", tc.path, nil)
					r.AddCookie(cookies[0])
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 || w.Body.String() != tc.body {
						return fmt.Errorf("%s = %d %q, want 200 %q", tc.path, w.Code, w.Body, tc.body)
					}
					return nil
				}
				if tc.path == "/write" {
					// Wait for the write's own invalidation, as above.
					waitInvalidated(t, &invalidated, do)
				} else if err := do(); err != nil {
					t.Fatal(err)
				}
				if got := rt.n.Load() - before; got != tc.want {
					t.Errorf("%s: %d Redis round trips, want %d", tc.path, got, tc.want)
				}
			}
		})
	}
}

// trackerIDs returns the client IDs of the near cache connections on
// every master.
func trackerIDs(t *testing.T, client redis.UniversalClient) map[*redis.Client][]string {
	t.Helper()
	ids := map[*redis.Client][]string{}
	list := func(ctx context.Context, c *redis.Client) error {
		out, err := c.ClientList(ctx).Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.Contains(line, " name=sessionkit-nearcache ") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if id, ok := strings.CutPrefix(f, "id="); ok {
					ids[c] = append(ids[c], id)
				}
			}
		}
		return nil
	}
	var err error
	switch c := client.(type) {
	case *redis.ClusterClient:
		var mu = make(chan struct{}, 1)
		err = c.ForEachMaster(t.Context(), func(ctx context.Context, n *redis.Client) error {
			mu <- struct{}{}
			defer func() { <-mu }()
			return list(ctx, n)
		})
	case *redis.Client:
		err = list(t.Context(), c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestNearCacheConnectionLost kills the connections that receive
// invalidations: the cache is dropped, and while tracking cannot be
// re-established (the user may no longer run CLIENT) every load goes to
// Redis; once it can, loads are cached again.
func TestNearCacheConnectionLost(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	ctx := t.Context()
	admin := newClient(t, url)
	user := fmt.Sprintf("sktest-nc-%d", time.Now().UnixNano())
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
	userURL := strings.Replace(url, "redis://", "redis://"+user+":pw@", 1)
	near, other, client := newNearStore(t, userURL, redisstore.NearCache{Heartbeat: 100 * time.Millisecond})
	rt := &roundTrips{}
	client.AddHook(rt)
	exp := time.Now().Add(time.Hour)
	var invalidated atomic.Int64
	redisstore.SetNearCacheHook(near, func(string) { invalidated.Add(1) })
	var v uint64
	waitInvalidated(t, &invalidated, func() error {
		var err error
		v, err = other.Save(ctx, "k", sessionkit.Record{Data: []byte("v1"), Expiry: exp})
		return err
	})
	loads := func(n int, want string) int64 {
		t.Helper()
		before := rt.n.Load()
		for range n {
			rec, err := near.Load(ctx, "k")
			if err != nil || string(rec.Data) != want {
				t.Fatalf("Load = %q, %v; want %q", rec.Data, err, want)
			}
		}
		return rt.n.Load() - before
	}
	if trips := loads(3, "v1"); trips != 1 {
		t.Fatalf("3 loads took %d round trips, want 1", trips)
	}

	// Tracking can no longer be turned on; kill the connection.
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "-client").Err(); err != nil {
		t.Fatal(err)
	}
	st0, _ := near.NearCacheStats()
	for c, ids := range trackerIDs(t, admin) {
		for _, id := range ids {
			if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		st, _ := near.NearCacheStats()
		if st.Flushes > st0.Flushes && !st.Tracking && strings.Contains(st.LastError, "NOPERM") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache was not dropped after its connection was killed: %+v", st)
		}
	}
	// A change whose invalidation nobody receives.
	if _, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("v2"), Version: v, Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if trips := loads(3, "v2"); trips != 3 {
		t.Errorf("without tracking, 3 loads took %d round trips, want 3", trips)
	}
	st, _ := near.NearCacheStats()
	if st.Tracking || st.Entries != 0 {
		t.Errorf("without tracking: %+v", st)
	}

	// Allowed again: tracking comes back and loads are cached.
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "+client").Err(); err != nil {
		t.Fatal(err)
	}
	waitTracking(t, near)
	if trips := loads(3, "v2"); trips != 1 {
		t.Errorf("tracking again, 3 loads took %d round trips, want 1", trips)
	}
}

// TestNearCacheBounds checks that the cache holds at most MaxEntries
// records and MaxBytes bytes, and does not cache a record too large for
// it.
func TestNearCacheBounds(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	ctx := t.Context()
	t.Run("Entries", func(t *testing.T) {
		near, other, _ := newNearStore(t, url, redisstore.NearCache{MaxEntries: 100})
		saveAll(t, near, other, 300, []byte("x"))
		for i := range 300 {
			if _, err := near.Load(ctx, fmt.Sprint("k", i)); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := near.NearCacheStats()
		if st.Entries != 100 || st.Evictions != 200 {
			t.Errorf("after 300 loads with MaxEntries 100: %d entries, %d evictions", st.Entries, st.Evictions)
		}
	})
	t.Run("Bytes", func(t *testing.T) {
		const maxBytes = 32 << 10
		near, other, _ := newNearStore(t, url, redisstore.NearCache{MaxBytes: maxBytes})
		saveAll(t, near, other, 100, []byte(strings.Repeat("x", 1000)))
		for i := range 100 {
			if _, err := near.Load(ctx, fmt.Sprint("k", i)); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := near.NearCacheStats()
		if st.Bytes > maxBytes || st.Entries == 0 || st.Entries >= 100 || st.Evictions == 0 {
			t.Errorf("after 100 loads of 1 KB with MaxBytes 32 KiB: %+v", st)
		}
		big := []byte(strings.Repeat("y", maxBytes))
		if _, err := other.Save(ctx, "big", sessionkit.Record{Data: big, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if rec, err := near.Load(ctx, "big"); err != nil || len(rec.Data) != len(big) {
				t.Fatalf("Load(big) = %d bytes, %v", len(rec.Data), err)
			}
		}
		if st2, _ := near.NearCacheStats(); st2.Hits != st.Hits || st2.Bytes > maxBytes {
			t.Errorf("a record larger than the cache was served from it: %+v", st2)
		}
	})
}

// saveAll saves keys k0 to k<n-1> through other and waits until near has
// received their invalidations, so that loads fill the cache.
func saveAll(t *testing.T, near, other *redisstore.Store, n int, data []byte) {
	t.Helper()
	seen := make(chan string, n)
	redisstore.SetNearCacheHook(near, func(key string) {
		select {
		case seen <- key:
		default:
		}
	})
	defer redisstore.SetNearCacheHook(near, nil)
	for i := range n {
		if _, err := other.Save(t.Context(), fmt.Sprint("k", i), sessionkit.Record{Data: data, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case key := <-seen:
			got[key] = true
		case <-timeout:
			t.Fatalf("%d of %d invalidations within 10s", len(got), n)
		}
	}
}

// TestNearCacheRequirements checks what New refuses.
func TestNearCacheRequirements(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	if _, err := redisstore.New(ring, redisstore.Options{NearCache: &redisstore.NearCache{}}); err == nil {
		t.Error("New with a near cache on a Ring succeeded")
	}
	csc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Protocol: 3, ClientSideCacheConfig: &redis.ClientSideCacheConfig{MaxEntries: 10}})
	defer csc.Close()
	if _, err := redisstore.New(csc, redisstore.Options{NearCache: &redisstore.NearCache{}}); err == nil {
		t.Error("New with a near cache on a client with go-redis's client-side cache succeeded")
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, nc := range []redisstore.NearCache{{MaxEntries: -1}, {MaxBytes: -1}, {Heartbeat: time.Millisecond}} {
		if _, err := redisstore.New(c, redisstore.Options{NearCache: &nc}); err == nil {
			t.Errorf("New with NearCache %+v succeeded", nc)
		}
	}
}

// TestNearCacheReconnects kills the connections that receive
// invalidations on every topology: the cache is dropped, tracking comes
// back by itself, and changes made elsewhere afterwards are still
// invalidated.
func TestNearCacheReconnects(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			near, other, client := newNearStore(t, topo.url(t), redisstore.NearCache{Heartbeat: 100 * time.Millisecond})
			ctx := t.Context()
			var invalidated atomic.Int64
			redisstore.SetNearCacheHook(near, func(key string) {
				if key == "k" {
					invalidated.Add(1)
				}
			})
			exp := time.Now().Add(time.Hour)
			var v uint64
			waitInvalidated(t, &invalidated, func() error {
				var err error
				v, err = other.Save(ctx, "k", sessionkit.Record{Data: []byte("v1"), Expiry: exp})
				return err
			})
			for range 2 {
				if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "v1" {
					t.Fatalf("Load = %q, %v", rec.Data, err)
				}
			}
			st0, _ := near.NearCacheStats()
			if st0.Entries != 1 {
				t.Fatalf("before the kill: %+v", st0)
			}
			killed := 0
			for c, ids := range trackerIDs(t, client) {
				for _, id := range ids {
					if err := c.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
						t.Fatal(err)
					}
					killed++
				}
			}
			if want := map[string]int{"Cluster": 3}[topo.name]; killed != max(want, 1) {
				t.Fatalf("killed %d near cache connections, want %d", killed, max(want, 1))
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if st, _ := near.NearCacheStats(); st.Flushes > st0.Flushes {
					if st.Entries != 0 {
						t.Fatalf("flushed, but %d entries", st.Entries)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the cache was not dropped after its connections were killed")
				}
			}
			waitTracking(t, near)
			if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "v1" {
				t.Fatalf("Load after reconnecting = %q, %v", rec.Data, err)
			}
			waitInvalidated(t, &invalidated, func() error {
				_, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("v2"), Version: v, Expiry: exp})
				return err
			})
			if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "v2" {
				t.Fatalf("Load after a change elsewhere = %q, %v; want v2", rec.Data, err)
			}
		})
	}
}

// TestNearCacheServerPaused freezes Redis (connections accepted, nothing
// answered, as in a partition): once the heartbeats stop confirming the
// connection, the cache is no longer used, so a load waits for Redis and
// fails with its context instead of answering from memory.
func TestNearCacheServerPaused(t *testing.T) {
	testenv.Getenv(t, testenv.RedisURLEnv) // the Redis backends are available
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	store, err := redisstore.NewFromURL(ctx, srv.URL(), redisstore.Options{NearCache: &redisstore.NearCache{Heartbeat: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	waitTracking(t, store)
	if _, err := store.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Fill the cache (the save's own invalidation may drop the first
	// load's entry).
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := store.Load(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if st, _ := store.NearCacheStats(); st.Hits > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no cache hit within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, _ := store.NearCacheStats(); !st.Tracking {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still tracking 10s after Redis froze")
		}
	}
	lctx, lcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	rec, err := store.Load(lctx, "k")
	lcancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load from a frozen Redis = %q, %v; want the context's deadline", rec.Data, err)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	waitTracking(t, store)
	if rec, err := store.Load(ctx, "k"); err != nil || string(rec.Data) != "x" {
		t.Errorf("Load after Resume = %q, %v", rec.Data, err)
	}
}

// TestNearCacheConnectRedisLayout checks the near cache on the
// connect-redis layout, where the other writer is an Express app: plain
// SET, PEXPIRE and DEL on the session's key are invalidated like the
// store's own writes.
func TestNearCacheConnectRedisLayout(t *testing.T) {
	for _, topo := range topologies {
		for _, noPrefix := range []bool{false, true} {
			name := topo.name
			if noPrefix {
				name += "/NoPrefix"
			}
			t.Run(name, func(t *testing.T) { testNearCacheConnectRedis(t, topo.url(t), noPrefix) })
		}
	}
}

func testNearCacheConnectRedis(t *testing.T, url string, noPrefix bool) {
	client := newClient(t, url)
	opts := redisstore.Options{Layout: redisstore.LayoutConnectRedis, NearCache: &redisstore.NearCache{}}
	sid := "sid"
	var near *redisstore.Store
	if noPrefix {
		// Every key of the server is tracked: the session key is unique.
		b := make([]byte, 6)
		rand.Read(b)
		sid = "sktest-nc-" + hex.EncodeToString(b)
		opts.NoPrefix = true
		var err error
		if near, err = redisstore.New(client, opts); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { near.Close() })
		waitTracking(t, near)
	} else {
		near = newStoreWith(t, client, opts)
	}
	ctx := t.Context()
	var invalidated atomic.Int64
	redisstore.SetNearCacheHook(near, func(key string) {
		if key == sid {
			invalidated.Add(1)
		}
	})
	node := newClient(t, url) // the Express app's connection
	key := near.RecordKey(sid)
	t.Cleanup(func() { node.Del(context.Background(), key) })
	// Load the layout's script (on the key's node) before counting round
	// trips.
	if _, err := near.Load(ctx, sid); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	client.AddHook(rt)
	load := func(want string, wantTrips int64) sessionkit.Record {
		t.Helper()
		before := rt.n.Load()
		rec, err := near.Load(ctx, sid)
		if want == "" {
			if !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("Load = %q, %v; want ErrNotFound", rec.Data, err)
			}
		} else if err != nil || string(rec.Data) != want {
			t.Fatalf("Load = %q, %v; want %q", rec.Data, err, want)
		}
		if got := rt.n.Load() - before; got != wantTrips {
			t.Errorf("Load(%s): %d round trips, want %d", want, got, wantTrips)
		}
		return rec
	}
	waitInvalidated(t, &invalidated, func() error { return node.Set(ctx, key, `{"n":1}`, time.Hour).Err() })
	load(`{"n":1}`, 1)
	load(`{"n":1}`, 0)
	waitInvalidated(t, &invalidated, func() error { return node.Set(ctx, key, `{"n":2}`, time.Hour).Err() })
	load(`{"n":2}`, 1)
	waitInvalidated(t, &invalidated, func() error { return node.PExpire(ctx, key, 3*time.Hour).Err() })
	if rec := load(`{"n":2}`, 1); time.Until(rec.Expiry) < 2*time.Hour {
		t.Errorf("expiry after the app's touch: %v", rec.Expiry)
	}
	load(`{"n":2}`, 0)
	waitInvalidated(t, &invalidated, func() error { return node.Del(ctx, key).Err() })
	load("", 1)
}

// trackerConns returns the flags CLIENT LIST shows for each near cache
// invalidation connection, by client ID.
func trackerConns(t *testing.T, client redis.UniversalClient) map[string]string {
	t.Helper()
	list, err := client.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	conns := map[string]string{}
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name=sessionkit-nearcache ") {
			continue
		}
		var id, flags string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(f, "flags="); ok {
				flags = v
			}
		}
		conns[id] = flags
	}
	return conns
}

// TestNearCacheIdle checks that read-modify-write traffic, where every
// load follows this process's own write, makes the near cache go idle:
// Redis stops sending invalidations (the connection no longer tracks),
// and every load goes to Redis, so another process's change is read at
// once. Repeated loads with no write between make it resume: tracking
// is back on, loads are served from the cache, and another process's
// change is again never served once its invalidation arrived.
func TestNearCacheIdle(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	// The invalidation connections other tests' stores may still have.
	old := trackerConns(t, newClient(t, url))
	near, other, client := newNearStore(t, url, redisstore.NearCache{Heartbeat: 20 * time.Millisecond})
	ctx := t.Context()
	// trackingFlags returns the flags of near's invalidation connection.
	trackingFlags := func(t *testing.T, client redis.UniversalClient) string {
		t.Helper()
		for id, flags := range trackerConns(t, client) {
			if _, ok := old[id]; !ok {
				return flags
			}
		}
		return ""
	}
	var invalidated atomic.Int64
	redisstore.SetNearCacheHook(near, func(key string) {
		if key == "k" {
			invalidated.Add(1)
		}
	})
	exp := time.Now().Add(time.Hour)
	if f := trackingFlags(t, client); !strings.Contains(f, "t") {
		t.Fatalf("invalidation connection flags %q, want tracking (t)", f)
	}

	// Read-modify-write until the cache is idle.
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, err := near.Load(ctx, "k")
		if errors.Is(err, sessionkit.ErrNotFound) {
			rec, err = sessionkit.Record{}, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := near.Save(ctx, "k", sessionkit.Record{Data: []byte("rmw"), Version: rec.Version, Expiry: exp}); err != nil {
			t.Fatal(err)
		}
		if st, _ := near.NearCacheStats(); st.Idle && !st.Tracking && !strings.Contains(trackingFlags(t, client), "t") {
			break
		}
		if time.Now().After(deadline) {
			st, _ := near.NearCacheStats()
			t.Fatalf("not idle after 20s of read-modify-write: %+v, flags %q", st, trackingFlags(t, client))
		}
	}

	// Idle: another process's change is read at once, and nothing is
	// served from the cache.
	rec, err := near.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	st0, _ := near.NearCacheStats()
	v, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("other"), Version: rec.Version, Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "other" || rec.Version != v {
		t.Fatalf("idle: Load = %q v%d, %v; want %q v%d", rec.Data, rec.Version, err, "other", v)
	}
	if st, _ := near.NearCacheStats(); st.Hits != st0.Hits || st.Entries != 0 {
		t.Errorf("idle cache served or held records: %+v", st)
	}

	// Repeated loads resume it.
	deadline = time.Now().Add(20 * time.Second)
	for {
		if _, err := near.Load(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if st, _ := near.NearCacheStats(); !st.Idle && st.Tracking && st.Hits > st0.Hits {
			break
		}
		if time.Now().After(deadline) {
			st, _ := near.NearCacheStats()
			t.Fatalf("not resumed after 20s of repeated loads: %+v", st)
		}
	}
	if f := trackingFlags(t, client); !strings.Contains(f, "t") {
		t.Fatalf("resumed, but invalidation connection flags %q", f)
	}
	rt := &roundTrips{}
	client.AddHook(rt)
	if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "other" || rt.n.Load() != 0 {
		t.Fatalf("resumed: Load = %q, %v after %d round trips; want %q from the cache", rec.Data, err, rt.n.Load(), "other")
	}
	var v2 uint64
	waitInvalidated(t, &invalidated, func() error {
		var err error
		v2, err = other.Save(ctx, "k", sessionkit.Record{Data: []byte("again"), Version: v, Expiry: exp})
		return err
	})
	if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "again" || rec.Version != v2 {
		t.Fatalf("resumed: after a change elsewhere Load = %q v%d, %v; want %q v%d", rec.Data, rec.Version, err, "again", v2)
	}
}

// TestNearCacheServesBetweenHeartbeats checks that a near cache on a
// quiet Redis keeps serving from one heartbeat to the next
// (NearCacheStats.Tracking, which says when records are served): each
// confirmation must come before the previous one's lease runs out,
// although Redis answers a WAIT a little after its timeout (up to 100ms
// at its default hz, when nothing else wakes it). With WAITs of a whole
// heartbeat every lease lapsed before the next confirmation: at a 250ms
// heartbeat the cache was not serving about 30% of the time.
func TestNearCacheServesBetweenHeartbeats(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	near, _, _ := newNearStore(t, url, redisstore.NearCache{Heartbeat: 250 * time.Millisecond, AlwaysTrack: true})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, _ := near.NearCacheStats(); st.Tracking {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not tracking after 20s")
		}
	}
	off, n := 0, 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if st, _ := near.NearCacheStats(); !st.Tracking {
			off++
		}
		n++
	}
	// A loaded machine may delay a confirmation now and then: the bound
	// is loose (whole-heartbeat WAITs were off about 30% of the time).
	if off > n/8 {
		st, _ := near.NearCacheStats()
		t.Errorf("not serving in %d of %d samples over 2s (%.0f%%), want under 12.5%%: %+v", off, n, 100*float64(off)/float64(n), st)
	}
}
