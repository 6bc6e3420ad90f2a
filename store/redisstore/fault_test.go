package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// counterApp is a Manager over store whose handler increments "n" and
// writes the new value.
type counterApp struct {
	h      http.Handler
	cookie *http.Cookie
}

func newCounterApp(store sessionkit.Store, opTimeout time.Duration) *counterApp {
	m := sessionkit.New(store)
	m.OpTimeout = opTimeout
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return &counterApp{h: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](s, "n")
		if err != nil {
			http.Error(w, "handler saw "+err.Error(), http.StatusTeapot)
			return
		}
		if err := s.Set("n", n+1); err != nil {
			http.Error(w, err.Error(), http.StatusTeapot)
			return
		}
		fmt.Fprint(w, n+1)
	}))}
}

// do sends one request with the app's cookie and keeps the cookie it gets.
func (a *counterApp) do() (code int, body string) {
	r := httptest.NewRequest("GET", "/", nil)
	if a.cookie != nil {
		r.AddCookie(a.cookie)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		a.cookie = c
	}
	return w.Code, strings.TrimSpace(w.Body.String())
}

// waitFor repeats the app's request until it answers 200 or ctx ends; every
// answer on the way must be 200 or the ErrorHandler's 503.
func (a *counterApp) waitFor(t *testing.T, ctx context.Context) string {
	t.Helper()
	for {
		code, body := a.do()
		switch code {
		case http.StatusOK:
			return body
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("unexpected answer %d %q", code, body)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no 200 before %v: last answer %d %q", ctx.Err(), code, body)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settleGoroutines waits for the goroutine count to drop to base.
func settleGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the test:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultServerDown stops a private Redis under a Manager: requests get
// the ErrorHandler's 503 within the operation timeout, nothing leaks, and
// the app works again once Redis is back.
func TestFaultServerDown(t *testing.T) { forEachMode(t, testFaultServerDown) }

func testFaultServerDown(t *testing.T, opts redisstore.Options) {
	testenv.Getenv(t, testenv.RedisURLEnv) // the Redis backends are available
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	base := runtime.NumGoroutine()
	store, err := redisstore.NewFromURL(ctx, srv.URL()+"?max_retries=1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if opts.NearCache != nil {
		waitTracking(t, store)
	}
	const opTimeout = 300 * time.Millisecond
	app := newCounterApp(store, opTimeout)
	for want := 1; want <= 2; want++ {
		if code, body := app.do(); code != 200 || body != fmt.Sprint(want) {
			t.Fatalf("request %d = %d %q", want, code, body)
		}
	}

	faults := []struct {
		name    string
		inject  func() error
		recover func() error
		want    string // the counter after recovery
	}{
		// A hung server (connections accepted, nothing answered) is only
		// bounded by the context deadline; the data survives.
		{"paused", srv.Pause, srv.Resume, "3"},
		// A dead server refuses connections; after a restart the data is
		// gone (no persistence), so the session starts again.
		{"killed", srv.Kill, func() error { return srv.Restart(ctx) }, "1"},
	}
	for _, f := range faults {
		if err := f.inject(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			start := time.Now()
			code, body := app.do()
			took := time.Since(start)
			if code != http.StatusServiceUnavailable {
				t.Errorf("%s: answer %d %q, want the ErrorHandler's 503", f.name, code, body)
			}
			// Generous bound: the point is that the call is bounded by
			// the operation timeout rather than hanging.
			if took > 10*opTimeout {
				t.Errorf("%s: answer took %v with OpTimeout %v", f.name, took, opTimeout)
			}
		}
		if err := f.recover(); err != nil {
			t.Fatal(err)
		}
		if got := app.waitFor(t, ctx); got != f.want {
			t.Errorf("after %s Redis came back: counter %s, want %s", f.name, got, f.want)
		}
	}

	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	settleGoroutines(t, base)
}

// TestFaultSentinelFailover kills the master of a private Sentinel group
// under a Manager: requests fail cleanly (503) while the sentinels fail
// over, then succeed on the new master with the session intact.
func TestFaultSentinelFailover(t *testing.T) {
	t.Run("Plain", func(t *testing.T) { testFaultSentinelFailover(t, redisstore.Options{}) })
	t.Run("NearCache", func(t *testing.T) {
		testFaultSentinelFailover(t, redisstore.Options{NearCache: &redisstore.NearCache{}})
	})
}

func testFaultSentinelFailover(t *testing.T, opts redisstore.Options) {
	testenv.Getenv(t, testenv.RedisSentinelEnv) // the Sentinel backend is available
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	g, err := testenv.StartRedisSentinel(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	base := runtime.NumGoroutine()
	store, err := redisstore.NewFromURL(ctx, sentinelURL(g.Spec())+"?max_retries=1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if opts.NearCache != nil {
		waitTracking(t, store)
	}
	app := newCounterApp(store, 500*time.Millisecond)
	for want := 1; want <= 2; want++ {
		if code, body := app.do(); code != 200 || body != fmt.Sprint(want) {
			t.Fatalf("request %d = %d %q", want, code, body)
		}
	}
	// Make sure the replica has the session before the master dies.
	if err := store.Client().Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}

	old, err := g.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// While the sentinels notice and promote the replica, every answer
	// must be a 503 or, once the new master serves, a 200.
	got := app.waitFor(t, ctx)
	newMaster, err := g.WaitFailover(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if got != "3" {
		t.Errorf("first answer after failover to %s: counter %s, want 3 (session kept)", newMaster, got)
	}
	if code, body := app.do(); code != 200 || body != "4" {
		t.Errorf("next request on the new master = %d %q, want 200 4", code, body)
	}
	if opts.NearCache != nil {
		nearCacheFollowsFailover(t, ctx, store, sentinelURL(g.Spec()))
	}

	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	settleGoroutines(t, base)
}

// TestFaultEveryCallBounded pauses a private Redis (connections accepted,
// nothing answered) and checks that every store method returns an error
// once its context's deadline passes instead of hanging.
func TestFaultEveryCallBounded(t *testing.T) { forEachMode(t, testFaultEveryCallBounded) }

func testFaultEveryCallBounded(t *testing.T, opts redisstore.Options) {
	testenv.Getenv(t, testenv.RedisURLEnv) // the Redis backends are available
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := testenv.StartRedis(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	base := runtime.NumGoroutine()
	store, err := redisstore.NewFromURL(ctx, srv.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if opts.NearCache != nil {
		waitTracking(t, store)
	}
	rec := sessionkit.Record{Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserKey: "u"}
	if _, err := store.Save(ctx, "k", rec); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"Load", func(ctx context.Context) error { _, err := store.Load(ctx, "k"); return err }},
		{"Save", func(ctx context.Context) error { _, err := store.Save(ctx, "k2", rec); return err }},
		{"Touch", func(ctx context.Context) error { return store.Touch(ctx, "k", rec.Expiry) }},
		{"Delete", func(ctx context.Context) error { return store.Delete(ctx, "k") }},
		{"UserSessions", func(ctx context.Context) error { _, err := store.UserSessions(ctx, "u"); return err }},
		{"DeleteUserSessions", func(ctx context.Context) error { _, err := store.DeleteUserSessions(ctx, "u"); return err }},
		{"All", func(ctx context.Context) error {
			for _, err := range store.All(ctx) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	}
	const timeout = 200 * time.Millisecond
	for _, c := range calls {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		err := c.call(cctx)
		took := time.Since(start)
		cancel()
		if err == nil || errors.Is(err, sessionkit.ErrNotFound) || errors.Is(err, sessionkit.ErrConflict) {
			t.Errorf("%s on a hung server = %v, want a timeout error", c.name, err)
		}
		// Generous: the point is that the deadline, not the server, ends
		// the call.
		if took > 20*timeout {
			t.Errorf("%s took %v with a %v deadline", c.name, took, timeout)
		}
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	if got, err := store.Load(ctx, "k"); err != nil || string(got.Data) != "x" {
		t.Errorf("Load after Resume = %+v, %v", got, err)
	}
	store.Close()
	settleGoroutines(t, base)
}

// forEachMode runs a fault test in every mode (plain client,
// Options.AutoPipeline, Options.NearCache, both).
func forEachMode(t *testing.T, test func(*testing.T, redisstore.Options)) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { test(t, mode.opts()) })
	}
}

// nearCacheFollowsFailover checks that, after a failover, the near cache
// receives the invalidations of the new master: a change made there by
// another client replaces what this process cached.
func nearCacheFollowsFailover(t *testing.T, ctx context.Context, near *redisstore.Store, url string) {
	t.Helper()
	waitTracking(t, near)
	other, err := redisstore.NewFromURL(ctx, url, redisstore.Options{Prefix: near.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var invalidated atomic.Int64
	redisstore.SetNearCacheHook(near, func(key string) {
		if key == "after" {
			invalidated.Add(1)
		}
	})
	v, err := other.Save(ctx, "after", sessionkit.Record{Data: []byte("v1"), Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); invalidated.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no invalidation from the new master")
		}
	}
	for range 2 {
		if rec, err := near.Load(ctx, "after"); err != nil || string(rec.Data) != "v1" {
			t.Fatalf("Load = %q, %v", rec.Data, err)
		}
	}
	before := invalidated.Load()
	if _, err := other.Save(ctx, "after", sessionkit.Record{Data: []byte("v2"), Version: v, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); invalidated.Load() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a change on the new master was not invalidated")
		}
	}
	if rec, err := near.Load(ctx, "after"); err != nil || string(rec.Data) != "v2" {
		t.Errorf("Load after a change on the new master = %q, %v; want v2", rec.Data, err)
	}
}
