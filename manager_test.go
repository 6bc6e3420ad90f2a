package sessionkit_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// counter handlers used by many tests.
func (e *env) counterRoutes() {
	e.handle("GET /inc", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](s, "n")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := s.Set("n", n+1); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, n+1)
	})
	e.handle("GET /read", func(w http.ResponseWriter, r *http.Request) {
		n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, n)
	})
	e.handle("GET /untouched", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})
}

func TestNoCookieUntilDataIsSet(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	for _, path := range []string{"/untouched", "/read"} {
		_, _, resp := e.get(path)
		if c := sessionCookie(resp, "session"); c != nil {
			t.Errorf("GET %s set a cookie %q although nothing was stored", path, c.Value)
		}
	}
	if n := e.store.saves.Load(); n != 0 {
		t.Errorf("store saved %d times for sessions without data", n)
	}
}

func TestUntouchedSessionMakesNoStoreCall(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.get("/inc") // the client now holds a session
	before := e.store.calls()
	_, body, _ := e.get("/untouched")
	if body != "hello" {
		t.Fatalf("body = %q", body)
	}
	if got := e.store.calls() - before; got != 0 {
		t.Fatalf("a request that never touched its session made %d store calls", got)
	}
}

func TestModifiedSessionIsWrittenOnce(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	_, body, resp := e.get("/inc")
	if body != "1" {
		t.Fatalf("first /inc = %q, want 1", body)
	}
	c := sessionCookie(resp, "session")
	if c == nil {
		t.Fatal("no session cookie after storing data")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie attributes = %+v; want HttpOnly, SameSite=Lax, Path=/, not Secure over http", c)
	}
	if got := e.store.saves.Load(); got != 1 {
		t.Errorf("store saves = %d, want 1", got)
	}
	if _, body, _ := e.get("/inc"); body != "2" {
		t.Fatalf("second /inc = %q, want 2", body)
	}
	if got := e.store.saves.Load(); got != 2 {
		t.Errorf("store saves = %d after two writes, want 2", got)
	}
}

func TestUnmodifiedSessionIsNotRewritten(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.handle("GET /same", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n) // same value: not a change
		s.Delete("absent")
	})
	e.get("/inc")
	saves := e.store.saves.Load()
	for _, path := range []string{"/read", "/same", "/read"} {
		_, _, resp := e.get(path)
		if c := sessionCookie(resp, "session"); c != nil {
			t.Errorf("GET %s re-sent the cookie", path)
		}
	}
	if got := e.store.saves.Load() - saves; got != 0 {
		t.Fatalf("unmodified session rewritten %d times", got)
	}
	if _, body, _ := e.get("/read"); body != "1" {
		t.Fatalf("value = %q, want 1", body)
	}
}

// TestConcurrentRequestsKeepBothChanges forces two requests to load the
// same version before either saves; both changes must survive, whether
// their commits meet in the Manager's queue or the second finds its
// version overtaken (TestMergedCommits and TestTwoManagersRetryConflicts
// pin each path down).
func TestConcurrentRequestsKeepBothChanges(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	var loaded sync.WaitGroup
	loaded.Add(2)
	e.handle("GET /set/{key}", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if _, err := sessionkit.Get[int](s, "n"); err != nil { // load now
			t.Error(err)
		}
		loaded.Done()
		loaded.Wait() // both requests hold the same version
		if err := s.Set(r.PathValue("key"), true); err != nil {
			t.Error(err)
		}
	})
	e.handle("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Join(sessionkit.From(r.Context()).Keys(), ","))
	})
	e.get("/inc")
	var wg sync.WaitGroup
	for _, k := range []string{"a", "b"} {
		wg.Go(func() {
			if code, body, _ := e.get("/set/" + k); code != 200 {
				t.Errorf("/set/%s: %d %s", k, code, body)
			}
		})
	}
	wg.Wait()
	if _, body, _ := e.get("/keys"); body != "a,b,n" {
		t.Fatalf("keys = %q, want a,b,n (a lost update?)", body)
	}
}

func TestManyConcurrentWritersNoLostUpdate(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.handle("GET /set/{key}", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set(r.PathValue("key"), 1)
	})
	e.handle("GET /count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, len(sessionkit.From(r.Context()).Keys()))
	})
	e.get("/inc")
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if code, body, _ := e.get(fmt.Sprintf("/set/k%d", i)); code != 200 {
				t.Errorf("status %d: %s", code, body)
			}
		})
	}
	wg.Wait()
	if _, body, _ := e.get("/count"); body != strconv.Itoa(n+1) {
		t.Fatalf("keys = %s, want %d", body, n+1)
	}
}

func TestRegenerate(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.handle("GET /regen", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if err := s.Regenerate(); err != nil {
			t.Error(err)
		}
		fmt.Fprint(w, s.ID())
	})
	e.get("/inc")
	oldToken := e.jarCookie(e.client)
	_, newID, resp := e.get("/regen")
	c := sessionCookie(resp, "session")
	if c == nil || c.Value == oldToken || c.Value != newID {
		t.Fatalf("Regenerate: cookie %v, old %q, ID %q; want a new cookie carrying the new ID", c, oldToken, newID)
	}
	if _, body, _ := e.get("/read"); body != "1" {
		t.Fatalf("data after Regenerate = %q, want 1 (kept)", body)
	}
	// The old ID no longer loads.
	if _, body, _ := e.requestWithCookie("/read", "session="+oldToken); body != "0" {
		t.Fatalf("old ID still loads data %q", body)
	}
	if n, _ := e.mem.Stats(); n != 1 {
		t.Fatalf("store holds %d records after Regenerate, want 1", n)
	}
}

func TestDestroy(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.handle("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Destroy(); err != nil {
			t.Error(err)
		}
	})
	e.get("/inc")
	token := e.jarCookie(e.client)
	_, _, resp := e.get("/destroy")
	c := sessionCookie(resp, "session")
	if c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("Destroy sent cookie %+v; want an expiring, empty one", c)
	}
	if n, _ := e.mem.Stats(); n != 0 {
		t.Fatalf("store holds %d records after Destroy", n)
	}
	if e.jarCookie(e.client) != "" {
		t.Fatal("the client kept its cookie")
	}
	if _, body, _ := e.requestWithCookie("/read", "session="+token); body != "0" {
		t.Fatalf("destroyed ID still loads %q", body)
	}
}

func TestDestroyThenSetStartsNewSession(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.handle("GET /logout-flash", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Destroy()
		s.Set("flash", "bye")
	})
	e.handle("GET /flash", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Pop[string](sessionkit.From(r.Context()), "flash")
		fmt.Fprint(w, v)
	})
	e.get("/inc")
	old := e.jarCookie(e.client)
	e.get("/logout-flash")
	if now := e.jarCookie(e.client); now == "" || now == old {
		t.Fatalf("cookie after destroy+set = %q (old %q), want a new one", now, old)
	}
	if _, body, _ := e.get("/flash"); body != "bye" {
		t.Fatalf("flash = %q", body)
	}
	if _, body, _ := e.get("/flash"); body != "" {
		t.Fatalf("flash read twice: %q", body)
	}
	if _, body, _ := e.get("/read"); body != "0" {
		t.Fatalf("old data survived Destroy: %q", body)
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	clk := newClock()
	e := newEnv(t, func(m *sessionkit.Manager) {
		m.Now = clk.Now
		m.IdleTimeout = 30 * time.Minute
		m.Lifetime = 2 * time.Hour
		m.TouchInterval = time.Minute
	})
	e.counterRoutes()

	e.get("/inc")
	clk.Advance(29 * time.Minute)
	if _, body, _ := e.get("/read"); body != "1" {
		t.Fatalf("within idle timeout: %q, want 1", body)
	}
	touches := e.store.touches.Load()
	if touches != 1 {
		t.Fatalf("reading after 29 minutes made %d touches, want 1", touches)
	}
	clk.Advance(29 * time.Minute) // 58 minutes since creation, 29 since last use
	if _, body, _ := e.get("/read"); body != "1" {
		t.Fatalf("touch did not extend the idle timeout: %q", body)
	}
	// A second read within TouchInterval is not touched again.
	clk.Advance(10 * time.Second)
	e.get("/read")
	if got := e.store.touches.Load(); got != 2 {
		t.Fatalf("touches = %d, want 2 (throttled)", got)
	}
	clk.Advance(31 * time.Minute)
	if _, body, _ := e.get("/read"); body != "0" {
		t.Fatalf("after 31 idle minutes: %q, want a new session", body)
	}

	// Absolute: keep the session busy; it still ends after Lifetime.
	e.get("/inc")
	for range 5 {
		clk.Advance(20 * time.Minute)
		if _, body, _ := e.get("/read"); body != "1" {
			t.Fatalf("busy session lost early: %q", body)
		}
	}
	clk.Advance(30 * time.Minute) // 130 minutes since creation
	if _, body, _ := e.get("/read"); body != "0" {
		t.Fatalf("session outlived its absolute lifetime: %q", body)
	}
}

func TestBadCookiesMeanNoSession(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.get("/inc")
	good := e.jarCookie(e.client)
	tampered := []byte(good)
	tampered[5] ^= 1
	if tampered[5] == '_' || tampered[5] == '-' {
		tampered[5] = 'A'
	}
	cases := []struct {
		name, header string
		storeCalls   bool // a well-formed but unknown ID may be looked up
	}{
		{"garbage", "session=%%%not-base64!!", false},
		{"truncated", "session=" + good[:20], false},
		{"too long", "session=" + good + "AAAA", false},
		{"oversized", "session=" + strings.Repeat("A", 8000), false},
		{"empty", "session=", false},
		{"quoted", `session="` + good + `x"`, false},
		{"non-canonical base64", "session=" + good[:42] + "_", false},
		{"tampered", "session=" + string(tampered), true},
		{"duplicate names", "session=garbage; session=" + good[:10], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.store.calls()
			code, body, resp := e.requestWithCookie("/read", tc.header)
			if code != 200 || body != "0" {
				t.Fatalf("status %d body %q; want 200 and a fresh session", code, body)
			}
			if c := sessionCookie(resp, "session"); c != nil && c.Value != "" {
				t.Fatalf("adopted a client-chosen token: %q", c.Value)
			}
			if calls := e.store.calls() - before; calls > 0 && !tc.storeCalls {
				t.Fatalf("malformed token caused %d store calls", calls)
			}
		})
	}
	// A valid-looking but unknown ID is never adopted: setting data
	// issues a new ID.
	unknown := sessionkit.RandomIDs{}.NewID()
	req, _ := http.NewRequest("GET", e.srv.URL+"/inc", nil)
	req.Header.Set("Cookie", "session="+unknown)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c := sessionCookie(resp, "session")
	if c == nil || c.Value == unknown {
		t.Fatalf("unknown ID: cookie %v; want a new server-issued ID", c)
	}
}

func TestDuplicateCookieFirstValidWins(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.get("/inc")
	good := e.jarCookie(e.client)
	if _, body, _ := e.requestWithCookie("/read", "session="+good+"; session=other"); body != "1" {
		t.Fatalf("body = %q, want 1", body)
	}
}

// blockingStore never answers until its context ends: a store that is down.
type blockingStore struct{ sessionkit.Store }

func (blockingStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	<-ctx.Done()
	return sessionkit.Record{}, fmt.Errorf("blocked: %w", ctx.Err())
}

func (blockingStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	<-ctx.Done()
	return 0, fmt.Errorf("blocked: %w", ctx.Err())
}

func TestStoreDownGivesErrorHandlerAnswer(t *testing.T) {
	var logs bytes.Buffer
	m := sessionkit.New(blockingStore{})
	m.OpTimeout = 100 * time.Millisecond
	m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Secret", "handler-only")
		sessionkit.From(r.Context()).Set("k", "v")
		w.Write([]byte("handler body"))
	}))
	for _, cookie := range []string{"", "session=" + sessionkit.RandomIDs{}.NewID()} {
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("took %v; the per-operation timeout did not apply", took)
		}
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", rec.Code)
		}
		if strings.Contains(rec.Body.String(), "handler body") || strings.Contains(rec.Body.String(), "blocked") {
			t.Fatalf("body leaks: %q", rec.Body.String())
		}
		if rec.Header().Get("X-Secret") != "" {
			t.Fatal("the handler's headers leaked into the error response")
		}
	}
	if !strings.Contains(logs.String(), "deadline exceeded") {
		t.Fatalf("cause not logged: %s", logs.String())
	}
}

// signalingStore is blockingStore that reports when a Load starts and
// what it returned.
type signalingStore struct {
	blockingStore
	started chan struct{}
	ended   chan error
}

func (s signalingStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	close(s.started)
	rec, err := s.blockingStore.Load(ctx, key)
	s.ended <- err
	return rec, err
}

// A store call that waits when the client goes away ends with the
// request's context, not at OpTimeout (an hour here).
func TestStoreCallEndsWhenTheClientGoesAway(t *testing.T) {
	store := signalingStore{started: make(chan struct{}), ended: make(chan error, 1)}
	m := sessionkit.New(store)
	m.OpTimeout = time.Hour
	m.Logger = discardLogger()
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Has("k")
	})))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", "session="+sessionkit.RandomIDs{}.NewID())
	go func() {
		<-store.started
		cancel() // the client goes away while the store has not answered
	}()
	if _, err := srv.Client().Do(req); err == nil {
		t.Fatal("the request succeeded after the client canceled it")
	}
	select {
	case err := <-store.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Load returned %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the store call still waits after the client went away")
	}
}

func TestCustomErrorHandler(t *testing.T) {
	m := sessionkit.New(blockingStore{})
	m.OpTimeout = 10 * time.Millisecond
	m.Logger = discardLogger()
	var got error
	m.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "try later", http.StatusTeapot)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("k", 1); err != nil {
			t.Errorf("Set on a new session should not need the store: %v", err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot || !errors.Is(got, context.DeadlineExceeded) {
		t.Fatalf("code %d err %v", rec.Code, got)
	}
}

func TestWriteAfterHeadersIsReported(t *testing.T) {
	var logs bytes.Buffer
	var events []sessionkit.Event
	var mu sync.Mutex
	e := newEnv(t, func(m *sessionkit.Manager) {
		m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		m.Observer = func(ev sessionkit.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
		}
	})
	e.counterRoutes()
	e.handle("GET /late-new", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("sent"))
		sessionkit.From(r.Context()).Set("late", 1) // needs a cookie that can no longer be sent
	})
	e.handle("GET /late-existing", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		sessionkit.Get[int](s, "n")
		w.Write([]byte("sent"))
		s.Set("late", 2)
	})
	e.handle("GET /late", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "late")
		fmt.Fprint(w, v)
	})

	// A new session changed after the headers: cannot be saved, reported.
	c := e.newClient()
	e.do(c, "/late-new")
	if !strings.Contains(logs.String(), "session change lost") {
		t.Fatalf("lost change not logged:\n%s", logs.String())
	}
	mu.Lock()
	var sawErr bool
	for _, ev := range events {
		if ev.Kind == sessionkit.EventError && errors.Is(ev.Err, sessionkit.ErrHeadersSent) {
			sawErr = true
		}
	}
	mu.Unlock()
	if !sawErr {
		t.Fatal("no ErrHeadersSent event")
	}

	// An existing session changed after the headers: saved, and warned.
	logs.Reset()
	e.get("/inc")
	e.get("/late-existing")
	if _, body, _ := e.get("/late"); body != "2" {
		t.Fatalf("late change to an existing session was dropped: %q", body)
	}
	if !strings.Contains(logs.String(), "after the response headers") {
		t.Fatalf("late save not warned about:\n%s", logs.String())
	}
}

func TestFlushCommitsAndPassesThrough(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	flushed := make(chan struct{})
	e.handle("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("streamed", true)
		fmt.Fprint(w, "first")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through ResponseController: %v", err)
		}
		<-flushed // the client has read the first chunk: it was flushed
		fmt.Fprint(w, "second")
	})
	resp, err := e.client.Get(e.srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if sessionCookie(resp, "session") == nil {
		t.Fatal("no cookie on a flushed response")
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
		t.Fatalf("first chunk %q %v", buf, err)
	}
	close(flushed)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second" {
		t.Fatalf("rest = %q", rest)
	}
}

func TestHijackPassesThrough(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.handle("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n%d", n)
		buf.Flush()
	})
	e.get("/inc")
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\nCookie: session=%s\r\n\r\n", e.jarCookie(e.client))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "1" {
		t.Fatalf("hijacked response body %q, want 1", body)
	}
}
