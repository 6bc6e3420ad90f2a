package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// gate is a go-redis Dialer whose connections can be partitioned: while
// held, a connection's reads stop (the server's answers and pushes wait
// in the socket, in order) until the gate opens, the read deadline
// passes or the connection is closed; writes go through. Connections
// that named themselves sessionkit-nearcache (the near cache's own, see
// the package documentation) can be held alone.
type gate struct {
	mu     sync.Mutex
	held   bool
	only   bool          // hold only the near cache's connections
	opened chan struct{} // closed when the gate opens
}

func newGate() *gate { return &gate{opened: make(chan struct{})} }

func (g *gate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &gateConn{Conn: c, g: g, closed: make(chan struct{})}, nil
}

// hold partitions the connections (only the near cache's if nearOnly).
func (g *gate) hold(nearOnly bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held, g.only = true, nearOnly
	g.opened = make(chan struct{})
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held {
		g.held = false
		close(g.opened)
	}
}

type gateConn struct {
	net.Conn
	g         *gate
	near      atomic.Bool
	deadline  atomic.Pointer[time.Time]
	pending   []byte // read while held (only Read touches it)
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *gateConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("sessionkit-nearcache")) {
		c.near.Store(true)
	}
	return c.Conn.Write(p)
}

func (c *gateConn) Read(p []byte) (int, error) {
	for {
		if err := c.wait(); err != nil {
			return 0, err
		}
		if len(c.pending) > 0 {
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		}
		// A read already blocked when the gate closes returns what
		// arrives: keep it until the gate opens.
		n, err := c.Conn.Read(p)
		if err != nil || !c.heldNow() {
			return n, err
		}
		c.pending = append(c.pending, p[:n]...)
	}
}

func (c *gateConn) heldNow() bool {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	return c.g.held && (!c.g.only || c.near.Load())
}

// wait returns once the gate is open for c, or with an error when c's
// read deadline passes or c is closed first.
func (c *gateConn) wait() error {
	for {
		c.g.mu.Lock()
		held := c.g.held && (!c.g.only || c.near.Load())
		opened := c.g.opened
		c.g.mu.Unlock()
		if !held {
			return nil
		}
		var timeout <-chan time.Time
		if d := c.deadline.Load(); d != nil && !d.IsZero() {
			tm := time.NewTimer(time.Until(*d))
			defer tm.Stop()
			timeout = tm.C
		}
		select {
		case <-opened:
		case <-c.closed:
			return net.ErrClosed
		case <-timeout:
			return os.ErrDeadlineExceeded
		}
	}
}

func (c *gateConn) SetDeadline(t time.Time) error {
	c.deadline.Store(&t)
	return c.Conn.SetDeadline(t)
}

func (c *gateConn) SetReadDeadline(t time.Time) error {
	c.deadline.Store(&t)
	return c.Conn.SetReadDeadline(t)
}

func (c *gateConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// gatedClient is newClient with every connection going through g.
func gatedClient(t *testing.T, rawURL string, g *gate) redis.UniversalClient {
	t.Helper()
	o, err := redisstore.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	o.Dialer = g.dial
	c := redis.NewUniversalClient(o)
	t.Cleanup(func() {
		g.open()
		c.Close()
	})
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// loadUntil loads key through s until its data is want, or fails after
// 10s.
func loadUntil(t *testing.T, s *redisstore.Store, key, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := s.Load(t.Context(), key)
		if err == nil && string(rec.Data) == want {
			return
		}
		if time.Now().After(deadline) {
			st, _ := s.NearCacheStats()
			t.Fatalf("Load(%s) = %q, %v after 10s; want %q (near cache %+v)", key, rec.Data, err, want, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOutsiderNearCachePartition partitions the near cache's own
// connection while the application's connections and another process
// keep working, so that the invalidation of a change made elsewhere never
// arrives. Package documentation, "Near cache":
//
//	"Records are served only while every master's tracking connection is
//	up and was confirmed alive within two heartbeats. [...] A frozen
//	server, or a partition that leaves the connection open, stops the
//	cache after at most two heartbeats (1s by default): that is how long
//	a change can go unseen if its message is lost."
//
// Without the lease the change would stay unseen for as long as the
// partition lasts.
func TestOutsiderNearCachePartition(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	ctx := t.Context()
	g := newGate()
	near := newStoreWith(t, gatedClient(t, url, g), redisstore.Options{NearCache: &redisstore.NearCache{Heartbeat: 100 * time.Millisecond}})
	other, err := redisstore.New(newClient(t, url), redisstore.Options{Prefix: near.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	v1, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("v1"), Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	// Cached: loads are answered from memory.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		st0, _ := near.NearCacheStats()
		if _, err := near.Load(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if st, _ := near.NearCacheStats(); st.Hits > st0.Hits {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no cache hit within 10s")
		}
	}

	g.hold(true)
	v2, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("v2"), Version: v1, Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	// The invalidation is stuck in the partition; the lease runs out and
	// loads go to Redis.
	loadUntil(t, near, "k", "v2")
	if st, _ := near.NearCacheStats(); st.Tracking {
		t.Errorf("partitioned, but NearCacheStats.Tracking: %+v", st)
	}
	// From then on, while the partition lasts, every change is read at
	// once: nothing read now is served from memory later.
	v3, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("v3"), Version: v2, Expiry: exp})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "v3" {
			t.Fatalf("partitioned, after a change elsewhere: Load = %q, %v; want v3", rec.Data, err)
		}
	}

	// Healed: the cache serves again and still follows changes.
	g.open()
	waitTracking(t, near)
	var invalidated atomic.Int64
	redisstore.SetNearCacheHook(near, func(key string) {
		if key == "k" {
			invalidated.Add(1)
		}
	})
	loadUntil(t, near, "k", "v3")
	waitInvalidated(t, &invalidated, func() error {
		_, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("v4"), Version: v3, Expiry: exp})
		return err
	})
	if rec, err := near.Load(ctx, "k"); err != nil || string(rec.Data) != "v4" {
		t.Errorf("healed, after a change elsewhere: Load = %q, %v; want v4", rec.Data, err)
	}
}

// twoProcesses serves one Manager on a store with a near cache (process
// A) and one on a plain store with the same prefix (process B), as two
// instances of one application behind a load balancer.
type twoProcesses struct {
	near, plain *redisstore.Store
	a, b        *httptest.Server
	client      *http.Client // one browser: its cookie jar serves both
}

func newTwoProcesses(t *testing.T, url string) *twoProcesses {
	t.Helper()
	p := &twoProcesses{}
	p.near = newStoreWith(t, newClient(t, url), redisstore.Options{NearCache: &redisstore.NearCache{}})
	plain, err := redisstore.New(newClient(t, url), redisstore.Options{Prefix: p.near.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	p.plain = plain
	app := func(store *redisstore.Store) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			if err := s.Regenerate(); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			if err := s.SetUserKey("ann"); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			if err := s.Set("user", "ann"); err != nil {
				http.Error(w, err.Error(), 500)
			}
		})
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
			if err := sessionkit.From(r.Context()).Destroy(); err != nil {
				http.Error(w, err.Error(), 500)
			}
		})
		mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
			// An administrator signs ann out everywhere.
			if _, err := store.DeleteUserSessions(r.Context(), "ann"); err != nil {
				http.Error(w, err.Error(), 500)
			}
		})
		mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
			user, err := sessionkit.Get[string](sessionkit.From(r.Context()), "user")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			if user == "" {
				http.Error(w, "signed out", http.StatusUnauthorized)
				return
			}
			io.WriteString(w, user)
		})
		return sessionkit.New(store).Handler(mux)
	}
	p.a = httptest.NewServer(app(p.near))
	t.Cleanup(p.a.Close)
	p.b = httptest.NewServer(app(p.plain))
	t.Cleanup(p.b.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	p.client = &http.Client{Jar: jar}
	return p
}

func (p *twoProcesses) do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// TestOutsiderNearCacheSignOutElsewhere signs a browser out through
// process B, by logout and by revoking every session of the user, while
// process A answers the same browser from its near cache. Package
// documentation, "Near cache":
//
//	"every write, touch, deletion, logout, revocation or expiry of a
//	record, by any process or client [...] makes Redis send the key to
//	every process tracking the prefix"
//	"A load that begins after an invalidation was applied never returns
//	what the record held before the change that caused it."
//
// A must stop answering as the user once its near cache has dropped the
// record (NearCacheStats.Invalidations), and never answer as the user
// again.
func TestOutsiderNearCacheSignOutElsewhere(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	for _, how := range []string{"logout", "revoke"} {
		t.Run(how, func(t *testing.T) {
			p := newTwoProcesses(t, url)
			if code, body := p.do(t, "POST", p.a.URL+"/login"); code != 200 {
				t.Fatalf("login = %d %q", code, body)
			}
			// A serves the session from its cache.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if code, body := p.do(t, "GET", p.a.URL+"/me"); code != 200 || body != "ann" {
					t.Fatalf("A /me = %d %q", code, body)
				}
				if st, _ := p.near.NearCacheStats(); st.Entries == 1 && st.Hits > 0 {
					break
				}
				if time.Now().After(deadline) {
					st, _ := p.near.NearCacheStats()
					t.Fatalf("A does not serve the session from its cache after 10s: %+v", st)
				}
			}
			st0, _ := p.near.NearCacheStats()
			if code, body := p.do(t, "POST", p.b.URL+"/"+how); code != 200 {
				t.Fatalf("B /%s = %d %q", how, code, body)
			}
			// Until A applies the invalidation it may still answer as ann;
			// after that, never.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				st, _ := p.near.NearCacheStats()
				if st.Invalidations > st0.Invalidations || !st.Tracking {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("A's near cache did not drop the session within 10s: %+v", st)
				}
			}
			for i := range 20 {
				if code, body := p.do(t, "GET", p.a.URL+"/me"); code != http.StatusUnauthorized {
					t.Fatalf("A /me #%d after B's %s was invalidated = %d %q, want 401", i, how, code, body)
				}
			}
		})
	}
}

// TestOutsiderAutoPipelineCancelled cancels a request whose Redis command
// never comes back, on a Cluster through go-redis's Cluster
// auto-pipeliner. Options.AutoPipeline: "Each call still returns when its
// context ends." The Manager's OpTimeout is an hour, so only the
// request's own context (the browser went away) can end the handler.
func TestOutsiderAutoPipelineCancelled(t *testing.T) {
	url := "redis+cluster://" + testenv.Getenv(t, testenv.RedisClusterEnv)
	g := newGate()
	m := sessionkit.New(newStoreWith(t, gatedClient(t, url, g), redisstore.Options{AutoPipeline: true}))
	m.OpTimeout = time.Hour
	started := make(chan struct{}, 10)
	returned := make(chan struct{}, 10)
	app := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("seen", true); err != nil {
			http.Error(w, err.Error(), 500)
		}
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		defer func() { returned <- struct{}{} }()
		app.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	get := func(ctx context.Context) (int, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// A saved session, so that the next request loads it from Redis.
	if code, err := get(t.Context()); err != nil || code != 200 {
		t.Fatalf("first request = %d, %v", code, err)
	}
	<-started
	<-returned

	g.hold(false)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		code, err := get(ctx)
		if err == nil {
			err = fmt.Errorf("answered %d while Redis was partitioned", code)
		}
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}
	select {
	case <-returned:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler did not return within 30s of the request's cancellation (OpTimeout is an hour)")
	}
	g.open()
	if code, err := get(t.Context()); err != nil || code != 200 {
		t.Errorf("after the partition healed: %d, %v", code, err)
	}
}

// TestOutsiderAutoPipelineRing checks Options.AutoPipeline's "Not
// supported on a *redis.Ring": New refuses it and says why.
func TestOutsiderAutoPipelineRing(t *testing.T) {
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	_, err := redisstore.New(ring, redisstore.Options{AutoPipeline: true})
	if err == nil {
		t.Fatal("New with AutoPipeline on a Ring succeeded")
	}
	if !errors.Is(err, redis.ErrRingAutoPipelineUnsupported) || !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Errorf("New with AutoPipeline on a Ring = %q, want a redisstore error wrapping redis.ErrRingAutoPipelineUnsupported", err)
	}
}

// TestOutsiderAutoPipelineOrder runs browsers concurrently against two
// application processes, each with Options.AutoPipeline, on Sentinel and
// Cluster: every request loads its session, increments a counter and
// saves it, so that the commands of many requests share pipelines.
// Options.AutoPipeline / package documentation: "commands issued
// concurrently by many requests leave in one pipeline and come back
// together [...] Commands of one request keep their order." Each
// browser, alternating between the processes, must count 1, 2, 3, ...
// with no step lost or repeated.
func TestOutsiderAutoPipelineOrder(t *testing.T) {
	for _, topo := range topologies[1:] { // Sentinel, Cluster
		t.Run(topo.name, func(t *testing.T) {
			url := topo.url(t)
			a := newStoreWith(t, newClient(t, url), redisstore.Options{AutoPipeline: true})
			b, err := redisstore.New(newClient(t, url), redisstore.Options{AutoPipeline: true, Prefix: a.Prefix()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			var srvs []*httptest.Server
			for _, s := range []*redisstore.Store{a, b} {
				srv := httptest.NewServer(sessionkitHandler(sessionkit.New(s)))
				t.Cleanup(srv.Close)
				srvs = append(srvs, srv)
			}
			const browsers, steps = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, browsers)
			for i := range browsers {
				wg.Go(func() {
					jar, err := cookiejar.New(nil)
					if err != nil {
						errs <- err
						return
					}
					c := &http.Client{Jar: jar}
					for n := 1; n <= steps; n++ {
						resp, err := c.Get(srvs[(i+n)%2].URL + "/write")
						if err != nil {
							errs <- err
							return
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || string(body) != fmt.Sprint(n) {
							errs <- fmt.Errorf("browser %d, request %d = %d %q, want 200 %d", i, n, resp.StatusCode, body, n)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestOutsiderNearCacheExpiry pins the package documentation's "An
// expired record is never served: a record found expired in the cache is
// reported not found" and sessionkit.Record.Expiry's "the instant after
// which the store must treat the record as gone (Load reports
// ErrNotFound)": a session cached until the moment it expires is not
// found by any load that begins after its expiry, from the cache or from
// Redis, with or without the near cache. Redis keeps a key through the
// whole millisecond of its PEXPIREAT, and Load used to return the record
// in that millisecond.
func TestOutsiderNearCacheExpiry(t *testing.T) {
	url := testenv.Getenv(t, testenv.RedisURLEnv)
	near, other, _ := newNearStore(t, url, redisstore.NearCache{})
	ctx := t.Context()
	exp := time.Now().Add(300 * time.Millisecond).Truncate(time.Millisecond) // Redis keeps ms
	if _, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	hit := false
	for time.Now().Before(exp) {
		st0, _ := near.NearCacheStats()
		start := time.Now()
		rec, err := near.Load(ctx, "k")
		if !start.Before(exp) {
			break
		}
		if err != nil && !(errors.Is(err, sessionkit.ErrNotFound) && time.Now().After(exp)) {
			t.Fatalf("Load before expiry = %v", err)
		}
		if st, _ := near.NearCacheStats(); err == nil && st.Hits > st0.Hits {
			hit = true
			if string(rec.Data) != "x" {
				t.Fatalf("cached Load = %q", rec.Data)
			}
		}
	}
	if !hit {
		t.Fatal("the record was never served from the cache before it expired")
	}
	for i := range 50 {
		for name, s := range map[string]*redisstore.Store{"near cache": near, "plain": other} {
			if rec, err := s.Load(ctx, "k"); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Fatalf("%s: Load #%d after expiry = %q (expiry %v), %v; want ErrNotFound", name, i, rec.Data, rec.Expiry, err)
			}
		}
	}
}

// TestOutsiderNearCacheFlush pins "FLUSHALL and FLUSHDB drop the cache"
// (package documentation, "Near cache"): after another client flushes
// Redis, a session the near cache held is not found, as it is not in
// Redis. It runs on a private Redis, which it flushes.
func TestOutsiderNearCacheFlush(t *testing.T) {
	testenv.Getenv(t, testenv.RedisURLEnv) // the Redis backends are available
	ctx := t.Context()
	srv, err := testenv.StartRedis(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	for _, flush := range []string{"FLUSHDB", "FLUSHALL"} {
		t.Run(flush, func(t *testing.T) {
			near, other, _ := newNearStore(t, srv.URL(), redisstore.NearCache{})
			if _, err := other.Save(ctx, "k", sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				st0, _ := near.NearCacheStats()
				if _, err := near.Load(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if st, _ := near.NearCacheStats(); st.Hits > st0.Hits {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no cache hit within 10s")
				}
			}
			st0, _ := near.NearCacheStats()
			if err := other.Client().Do(ctx, flush).Err(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if st, _ := near.NearCacheStats(); st.Flushes > st0.Flushes {
					break
				}
				if time.Now().After(deadline) {
					st, _ := near.NearCacheStats()
					t.Fatalf("the near cache was not dropped within 10s of %s: %+v", flush, st)
				}
			}
			for range 3 {
				if rec, err := near.Load(ctx, "k"); !errors.Is(err, sessionkit.ErrNotFound) {
					t.Fatalf("Load after %s = %q, %v; want ErrNotFound", flush, rec.Data, err)
				}
			}
		})
	}
}

// TestOutsiderPastExpiryNotListed: sessionkit.Record says a record is gone
// from its Expiry on, and Redis keeps a key through the whole millisecond
// of its expiry. A record in that state (simulated by moving the stored
// expiry into the past while the key lives) is not loaded, not listed by
// UserSessions and not yielded by All, as Load already treats it.
func TestOutsiderPastExpiryNotListed(t *testing.T) {
	client := newClient(t, testenv.Getenv(t, testenv.RedisURLEnv))
	s := newStore(t, client)
	ctx := t.Context()
	for _, k := range []string{"gone", "live"} {
		if _, err := s.Save(ctx, k, sessionkit.Record{Data: []byte(k), Expiry: time.Now().Add(time.Hour), UserKey: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.HSet(ctx, s.RecordKey("gone"), "e", time.Now().Add(-time.Second).UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "gone"); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("Load of a record past its Expiry = %v, want ErrNotFound", err)
	}
	entries, err := s.UserSessions(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Key != "live" {
		t.Errorf("UserSessions = %v, want only live", entries)
	}
	var all []string
	for e, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e.Key)
	}
	if len(all) != 1 || all[0] != "live" {
		t.Errorf("All yields %v, want only live", all)
	}
}
