package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// topologies maps a test name to the URL of the deployment the runner
// started, built from the testenv variables.
var topologies = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"Single", func(t *testing.T) string { return testenv.Getenv(t, testenv.RedisURLEnv) }},
	{"Sentinel", func(t *testing.T) string { return sentinelURL(testenv.Getenv(t, testenv.RedisSentinelEnv)) }},
	{"Cluster", func(t *testing.T) string { return "redis+cluster://" + testenv.Getenv(t, testenv.RedisClusterEnv) }},
}

// sentinelURL turns testenv's master@host:port,... into a redis+sentinel URL.
func sentinelURL(spec string) string {
	master, addrs, _ := cutLast(spec, "@")
	return "redis+sentinel://" + addrs + "/" + master
}

func cutLast(s, sep string) (before, after string, ok bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// newClient connects to the deployment at rawURL for one test.
func newClient(t testing.TB, rawURL string) redis.UniversalClient {
	t.Helper()
	o, err := redisstore.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewUniversalClient(o)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping %s: %v", rawURL, err)
	}
	return c
}

// newStore returns a store on client with a fresh random prefix whose keys
// are removed when the test ends.
func newStore(t testing.TB, client redis.UniversalClient) *redisstore.Store {
	t.Helper()
	return newStoreWith(t, client, redisstore.Options{})
}

// newStoreWith is newStore with options; the prefix is always fresh, and
// the store is closed when the test ends.
func newStoreWith(t testing.TB, client redis.UniversalClient, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	opts.Prefix = "sktest:" + hex.EncodeToString(b) + ":"
	s, err := redisstore.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deletePrefix(t, s)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if opts.NearCache != nil {
		waitTracking(t, s)
	}
	return s
}

// waitTracking waits until the store's near cache receives invalidations
// from every master, so that what a test does next is served by it.
func waitTracking(t testing.TB, s *redisstore.Store) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, ok := s.NearCacheStats()
		if !ok {
			t.Fatal("the store has no near cache")
		}
		if st.Tracking {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("near cache not tracking after 20s: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// modes are the store configurations the shared suites run under.
var modes = []struct {
	name string
	opts func() redisstore.Options
}{
	{"Plain", func() redisstore.Options { return redisstore.Options{} }},
	{"AutoPipeline", func() redisstore.Options { return redisstore.Options{AutoPipeline: true} }},
	{"NearCache", func() redisstore.Options { return redisstore.Options{NearCache: &redisstore.NearCache{}} }},
	{"NearCache+AutoPipeline", func() redisstore.Options {
		return redisstore.Options{NearCache: &redisstore.NearCache{}, AutoPipeline: true}
	}},
}

// deletePrefix removes every key under the store's prefix on every master.
func deletePrefix(t testing.TB, s *redisstore.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pattern := s.RecordKey("")[:len(s.RecordKey(""))-2] + "*"
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		return iter.Err()
	}
	var err error
	switch c := s.Client().(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, del)
	case *redis.Client:
		err = del(ctx, c)
	}
	if err != nil {
		t.Logf("cleaning up %s: %v", pattern, err)
	}
}

func TestConformance(t *testing.T) {
	// Two modes at a time on every topology (six suites in parallel): all
	// twelve at once time out on a busy 2-core machine.
	for i := 0; i < len(modes); i += 2 {
		group := modes[i:min(i+2, len(modes))]
		t.Run(group[0].name, func(t *testing.T) {
			for _, topo := range topologies {
				for _, mode := range group {
					t.Run(topo.name+"/"+mode.name, func(t *testing.T) {
						t.Parallel()
						client := newClient(t, topo.url(t))
						storetest.Run(t, func(t *testing.T) sessionkit.Store {
							return newStoreWith(t, client, mode.opts())
						})
					})
				}
			}
		})
	}
}

// TestLifetime runs the client-side lifetime journeys on every topology,
// with and without the near cache.
func TestLifetime(t *testing.T) {
	for _, topo := range topologies {
		for _, mode := range []string{"Plain", "NearCache"} {
			t.Run(topo.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				client := newClient(t, topo.url(t))
				storetest.RunLifetime(t, func(t *testing.T, _ func() time.Time) *sessionkit.Manager {
					opts := redisstore.Options{}
					if mode == "NearCache" {
						opts.NearCache = &redisstore.NearCache{}
					}
					return sessionkit.New(newStoreWith(t, client, opts))
				})
			})
		}
	}
}

// TestClusterSlots checks that every key of one session and one user index
// are single-slot — even for keys and user keys with braces, which would
// otherwise end or empty a hash tag — and that sessions spread over the
// masters.
func TestClusterSlots(t *testing.T) {
	client := newClient(t, "redis+cluster://"+testenv.Getenv(t, testenv.RedisClusterEnv))
	s := newStore(t, client)
	ctx := t.Context()
	cc := client.(*redis.ClusterClient)
	nodes := map[string]bool{}
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "{x}", "}{"} {
		if _, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserKey: "}u{1}"}); err != nil {
			t.Fatalf("Save(%q): %v", key, err)
		}
		n, err := cc.MasterForKey(ctx, s.RecordKey(key))
		if err != nil {
			t.Fatal(err)
		}
		nodes[n.Options().Addr] = true
	}
	if len(nodes) < 2 {
		t.Errorf("ten sessions all landed on %v; want them spread over the masters", nodes)
	}
	entries, err := s.UserSessions(ctx, "}u{1}")
	if err != nil || len(entries) != 10 {
		t.Fatalf("UserSessions = %d entries, %v; want 10", len(entries), err)
	}
	if n, err := s.DeleteUserSessions(ctx, "}u{1}"); err != nil || n != 10 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 10", n, err)
	}
	// The empty key has no hash tag of its own; it is refused.
	if _, err := s.Save(ctx, "", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err == nil {
		t.Error(`Save("") succeeded; want an error`)
	}
}

// roundTrips counts commands and pipelines sent by a client: each is one
// network round trip to one node.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestRoundTrips pins the number of round trips of the hot paths.
func TestRoundTrips(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			client := newClient(t, topo.url(t))
			s := newStore(t, client)
			ctx := t.Context()
			exp := time.Now().Add(time.Hour)
			// Warm up: load the scripts and the cluster slot map.
			if err := redisstore.LoadScripts(ctx, client); err != nil {
				t.Fatal(err)
			}
			v, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: exp, UserKey: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			h := &roundTrips{}
			client.AddHook(h)
			steps := []struct {
				name string
				want int64
				fn   func() error
			}{
				{"Load", 1, func() error { _, err := s.Load(ctx, "k"); return err }},
				{"Load missing", 1, func() error {
					if _, err := s.Load(ctx, "nope"); !errors.Is(err, sessionkit.ErrNotFound) {
						return err
					}
					return nil
				}},
				{"Save same user", 1, func() error {
					var err error
					v, err = s.Save(ctx, "k", sessionkit.Record{Data: []byte("y"), Version: v, Expiry: exp, UserKey: "alice"})
					return err
				}},
				{"Touch within index coverage", 1, func() error { return s.Touch(ctx, "k", exp.Add(time.Minute)) }},
				{"Save anonymous", 1, func() error {
					_, err := s.Save(ctx, "anon", sessionkit.Record{Data: []byte("y"), Expiry: exp})
					return err
				}},
				{"Login", 2, func() error {
					_, err := s.Save(ctx, "new", sessionkit.Record{Data: []byte("y"), Expiry: exp, UserKey: "alice"})
					return err
				}},
			}
			for _, st := range steps {
				before := h.n.Load()
				if err := st.fn(); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if got := h.n.Load() - before; got != st.want {
					t.Errorf("%s: %d round trips, want %d", st.name, got, st.want)
				}
			}
		})
	}
}

// TestIndexCoverage checks that a session touched well past its first
// expiry stays listed for its user, and that the index key itself expires.
func TestIndexCoverage(t *testing.T) {
	client := newClient(t, testenv.Getenv(t, testenv.RedisURLEnv))
	s := newStore(t, client)
	ctx := t.Context()
	if _, err := s.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(400 * time.Millisecond), UserKey: "u"}); err != nil {
		t.Fatal(err)
	}
	// The index covers 2×400ms; touch repeatedly far beyond that. Each
	// touch leaves 600ms of slack, so a loaded machine's late wake-up does
	// not let the record expire between touches.
	for range 5 {
		if err := s.Touch(ctx, "k", time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	entries, err := s.UserSessions(ctx, "u")
	if err != nil || len(entries) != 1 {
		t.Fatalf("UserSessions after touches = %v, %v; want the session", entries, err)
	}
	// Let it expire: the index key must go too.
	time.Sleep(time.Until(entries[0].Record.Expiry) + 400*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for client.Exists(ctx, s.IndexKey("u")).Val() != 0 {
		if time.Now().After(deadline) {
			ttl := client.PTTL(ctx, s.IndexKey("u")).Val()
			t.Fatalf("index key still exists (PTTL %v) after its last session expired", ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNewRejectsBracePrefix(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, p := range []string{"a{", "}", "x{y}"} {
		if _, err := redisstore.New(c, redisstore.Options{Prefix: p}); err == nil {
			t.Errorf("New with prefix %q succeeded", p)
		}
	}
	if _, err := redisstore.New(nil, redisstore.Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestNewFromURL(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := redisstore.NewFromURL(ctx, url, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.RecordKey("k"); got != "sessionkit:{k}" {
		t.Errorf("default record key = %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil (Close is safe to call more than once)", err)
	}
	if err := s.Client().Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Ping after Close = %v, want redis.ErrClosed (the store owns its client)", err)
	}

	// A store over a caller's client leaves it open.
	c := newClient(t, url)
	s2, _ := redisstore.New(c, redisstore.Options{})
	s2.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("caller's client after Close: %v", err)
	}

	// An unreachable server is an error within the context.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, err := redisstore.NewFromURL(ctx, "redis://"+addr+"?dial_timeout=200ms&max_retries=-1", redisstore.Options{}); err == nil {
		t.Error("NewFromURL to a closed port succeeded")
	}
}

// TestNewFromURLUnknownMaster checks that a sentinel URL naming a master
// the sentinels do not know says so, rather than go-redis's "all sentinels
// specified in configuration are unreachable".
func TestNewFromURLUnknownMaster(t *testing.T) {
	url := sentinelURL(testenv.Getenv(t, testenv.RedisSentinelEnv))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := redisstore.NewFromURL(ctx, url+"-nosuchmaster", redisstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "know no master named") {
		t.Fatalf("NewFromURL with an unknown master: %v, want it to say the sentinels know no such master", err)
	}
	s, err := redisstore.NewFromURL(ctx, url, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestIteratorSkipsIndexKeys(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			s := newStore(t, newClient(t, topo.url(t)))
			ctx := t.Context()
			for _, k := range []string{"u:{x}", "a", "b"} {
				if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte(k), Expiry: time.Now().Add(time.Hour), UserKey: "x"}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for e, err := range s.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.Key)
			}
			slices.Sort(got)
			if want := []string{"a", "b", "u:{x}"}; !slices.Equal(got, want) {
				t.Fatalf("All = %v, want %v", got, want)
			}
		})
	}
}

// TestMiddlewareRoundTrips proves through the Manager that a read-only
// request costs exactly one Redis round trip, and a read-modify-write
// request two (HMGET, then the CAS script).
func TestMiddlewareRoundTrips(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			client := newClient(t, topo.url(t))
			m := sessionkit.New(newStore(t, client))
			h := sessionkitHandler(m)
			// Create the session (and load the scripts) before counting.
			r := httptest.NewRequest("GET", "/write", nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			cookies := w.Result().Cookies()
			if w.Code != 200 || len(cookies) != 1 {
				t.Fatalf("creating a session: %d %v", w.Code, cookies)
			}
			rt := &roundTrips{}
			client.AddHook(rt)
			for _, tc := range []struct {
				path, body string
				want       int64
			}{
				{"/read", "1", 1},
				{"/write", "2", 2},
				{"/read", "2", 1},
			} {
				before := rt.n.Load()
				r := httptest.NewRequest("GET", tc.path, nil)
				r.AddCookie(cookies[0])
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 || w.Body.String() != tc.body {
					t.Fatalf("%s = %d %q, want 200 %q", tc.path, w.Code, w.Body, tc.body)
				}
				if got := rt.n.Load() - before; got != tc.want {
					t.Errorf("%s: %d Redis round trips, want %d", tc.path, got, tc.want)
				}
			}
		})
	}
}

// TestIndexHygiene checks that index entries a record no longer needs are
// removed at once, not only left to be pruned, and that stray keys under
// the prefix do not break iteration.
func TestIndexHygiene(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			client := newClient(t, topo.url(t))
			s := newStore(t, client)
			ctx := t.Context()
			hour := time.Now().Add(time.Hour)
			inIndex := func(user, key string) bool {
				err := client.ZScore(ctx, s.IndexKey(user), key).Err()
				if err != nil && !errors.Is(err, redis.Nil) {
					t.Fatal(err)
				}
				return err == nil
			}
			save := func(key string, v uint64, user string, exp time.Time) uint64 {
				t.Helper()
				nv, err := s.Save(ctx, key, sessionkit.Record{Data: []byte("x"), Version: v, Expiry: exp, UserKey: user})
				if err != nil {
					t.Fatalf("Save(%s): %v", key, err)
				}
				return nv
			}

			v := save("ended", 0, "u", hour)
			save("ended", v, "u", time.Now().Add(-time.Second))
			save("touched", 0, "u", hour)
			if err := s.Touch(ctx, "touched", time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			v = save("moved", 0, "u", hour)
			save("moved", v, "w", hour)
			save("deleted", 0, "u", hour)
			if err := s.Delete(ctx, "deleted"); err != nil {
				t.Fatal(err)
			}
			save("kept", 0, "u", hour)
			for key, want := range map[string]bool{"ended": false, "touched": false, "moved": false, "deleted": false, "kept": true} {
				if got := inIndex("u", key); got != want {
					t.Errorf("%s in u's index = %v, want %v", key, got, want)
				}
			}
			if !inIndex("w", "moved") {
				t.Error("moved is not in w's index")
			}

			// Stray keys that look like records must not break All.
			stray := s.RecordKey("")
			stray = stray[:len(stray)-1] // prefix + "{"
			if err := client.Set(ctx, stray, "x", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if err := client.Set(ctx, s.RecordKey("not-a-hash"), "x", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for e, err := range s.All(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.Key)
			}
			slices.Sort(got)
			if want := []string{"kept", "moved"}; !slices.Equal(got, want) {
				t.Errorf("All = %v, want %v", got, want)
			}
		})
	}
}
