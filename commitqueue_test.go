package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// gatedStore holds the next Save (once armed) until release is called, so
// that a test can line commits up behind it.
type gatedStore struct {
	sessionkit.Store
	armed   atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

func newGatedStore(s sessionkit.Store) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan struct{}, 1), gate: make(chan struct{})}
}

// arm makes the next Save wait for release.
func (g *gatedStore) arm() { g.armed.Store(true) }

func (g *gatedStore) release() { close(g.gate) }

func (g *gatedStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if g.armed.CompareAndSwap(true, false) {
		g.entered <- struct{}{}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return g.Store.Save(ctx, key, rec)
}

// queueEnv is an env whose store can hold a Save, with routes that set
// keys and report them.
type queueEnv struct {
	*env
	gated     *gatedStore
	conflicts atomic.Int64
	errs      chan error // errors the Observer saw
}

func newQueueEnv(t *testing.T, configure ...func(*sessionkit.Manager)) *queueEnv {
	t.Helper()
	q := &queueEnv{errs: make(chan error, 1024)}
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	q.gated = newGatedStore(mem)
	e := &env{t: t, mem: mem, store: &countingStore{Store: q.gated}, mux: http.NewServeMux()}
	e.m = sessionkit.New(e.store)
	e.m.Logger = discardLogger()
	e.m.Observer = func(ev sessionkit.Event) {
		switch {
		case ev.Kind == sessionkit.EventConflict:
			q.conflicts.Add(1)
		case ev.Err != nil:
			select {
			case q.errs <- ev.Err:
			default:
			}
		}
	}
	for _, f := range configure {
		f(e.m)
	}
	e.srv = httptest.NewServer(e.m.Handler(e.mux))
	t.Cleanup(e.srv.Close)
	e.client = e.newClient()
	q.env = e
	e.counterRoutes()
	e.handle("GET /set/{key}", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if err := s.Set(r.PathValue("key"), strings.Repeat("x", atoi(r.URL.Query().Get("size")))); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	e.handle("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Join(sessionkit.From(r.Context()).Keys(), ","))
	})
	e.handle("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	return q
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// key returns the store key of the client's session.
func (q *queueEnv) key() string {
	return q.m.KeyOf(q.jarCookie(q.client))
}

// hold arms the gate, starts a request for path and returns once its Save
// is held, with a channel that yields its status.
func (q *queueEnv) hold(path string) <-chan int {
	q.t.Helper()
	q.gated.arm()
	code := q.start(path)
	select {
	case <-q.gated.entered:
	case <-time.After(10 * time.Second):
		q.t.Fatal("the held request never reached Save")
	}
	return code
}

// start sends GET path in the background and yields its status.
func (q *queueEnv) start(path string) <-chan int {
	ch := make(chan int, 1)
	go func() {
		resp, err := q.client.Get(q.srv.URL + path)
		if err != nil {
			q.t.Errorf("GET %s: %v", path, err)
			ch <- 0
			return
		}
		resp.Body.Close()
		ch <- resp.StatusCode
	}()
	return ch
}

// waitQueued waits until n commits wait behind the one held.
func (q *queueEnv) waitQueued(n int) {
	q.t.Helper()
	key := q.key()
	deadline := time.Now().Add(10 * time.Second)
	for sessionkit.WaitingCommits(q.m, key) < n {
		if time.Now().After(deadline) {
			q.t.Fatalf("%d commits queued, want %d", sessionkit.WaitingCommits(q.m, key), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// wantObserved checks that the Observer saw an error wrapping target (a
// refused request's).
func (q *queueEnv) wantObserved(target error) {
	q.t.Helper()
	select {
	case err := <-q.errs:
		if !errors.Is(err, target) {
			q.t.Errorf("error %v, want %v", err, target)
		}
	default:
		q.t.Errorf("no error observed for the refused request (want %v)", target)
	}
}

func (q *queueEnv) checkNoErrors() {
	q.t.Helper()
	select {
	case err := <-q.errs:
		q.t.Errorf("unexpected error event: %v", err)
	default:
	}
}

// TestMergedCommits lines many writers up behind one held commit: they
// are saved together with one more Save, none conflicts, every response
// is 200 and every key is kept.
func TestMergedCommits(t *testing.T) {
	q := newQueueEnv(t)
	q.get("/inc")
	goroutines := runtime.NumGoroutine()
	saves := q.store.saves.Load()

	held := q.hold("/set/lead")
	const n = 32
	codes := make([]<-chan int, n)
	for i := range n {
		codes[i] = q.start(fmt.Sprintf("/set/k%02d", i))
	}
	q.waitQueued(n)
	q.gated.release()
	if c := <-held; c != 200 {
		t.Errorf("held request: %d", c)
	}
	for i, ch := range codes {
		if c := <-ch; c != 200 {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if got := q.store.saves.Load() - saves; got != 2 {
		t.Errorf("%d saves for 1 held and %d queued commits, want 2 (one merged)", got, n)
	}
	if c := q.conflicts.Load(); c != 0 {
		t.Errorf("%d conflicts, want 0", c)
	}
	_, keys, _ := q.get("/keys")
	want := []string{"lead", "n"}
	for i := range n {
		want = append(want, fmt.Sprintf("k%02d", i))
	}
	for _, k := range want {
		if !strings.Contains(","+keys+",", ","+k+",") {
			t.Errorf("key %s lost; keys %s", k, keys)
		}
	}
	q.checkNoErrors()
	if !sessionkit.CommitQueuesIdle(q.m) {
		t.Error("commit queue entries left after every commit ended")
	}
	q.client.CloseIdleConnections()
	settle(t, goroutines)
}

// settle waits until at most base goroutines run.
func settle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMergedCommitsEachGetTheirCookie: requests merged into one save each
// answer with the cookie the merged session needs: one of them gives the
// session its own idle timeout, and every writer's cookie carries the
// expiry that was saved.
func TestMergedCommitsEachGetTheirCookie(t *testing.T) {
	clk := newClock()
	q := newQueueEnv(t, func(m *sessionkit.Manager) { m.Now = clk.Now })
	q.handle("GET /idle", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).SetIdleTimeout(10 * time.Minute)
	})
	q.get("/inc")
	clk.Advance(time.Minute)

	var mu sync.Mutex
	var cookies []*http.Cookie
	get := func(path string) <-chan int {
		ch := make(chan int, 1)
		go func() {
			resp, err := q.client.Get(q.srv.URL + path)
			if err != nil {
				t.Error(err)
				ch <- 0
				return
			}
			resp.Body.Close()
			if c := sessionCookie(resp, "session"); c != nil {
				mu.Lock()
				cookies = append(cookies, c)
				mu.Unlock()
			} else {
				t.Errorf("GET %s sent no cookie", path)
			}
			ch <- resp.StatusCode
		}()
		return ch
	}
	q.gated.arm()
	held := get("/set/lead")
	<-q.gated.entered
	a, b := get("/idle"), get("/set/b")
	q.waitQueued(2)
	q.gated.release()
	for _, ch := range []<-chan int{held, a, b} {
		if c := <-ch; c != 200 {
			t.Errorf("status %d", c)
		}
	}
	rec, err := q.mem.Load(context.Background(), q.key())
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(10 * time.Minute).Truncate(time.Millisecond); !rec.Expiry.Equal(want) {
		t.Errorf("stored expiry %v, want %v (the merged idle timeout)", rec.Expiry, want)
	}
	// The held request saved with the default 2h idle timeout; the two
	// merged ones with the 10 minutes one of them set.
	ages := map[int]int{}
	for _, c := range cookies {
		ages[c.MaxAge]++
	}
	if ages[600] != 2 || ages[7200] != 1 {
		t.Errorf("cookie Max-Ages %v, want 600 twice (the merged save) and 7200 once (the first)", ages)
	}
	q.checkNoErrors()
}

// TestQueuedCommitContextEnds: a request whose context ends while its
// commit waits returns at once, and its change is not saved.
func TestQueuedCommitContextEnds(t *testing.T) {
	q := newQueueEnv(t)
	saveErr := make(chan error, 1)
	q.handle("GET /save/{key}", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set(r.PathValue("key"), true)
		saveErr <- s.Save()
	})
	q.get("/inc")
	held := q.hold("/set/lead")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", q.srv.URL+"/save/gone", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := q.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	q.waitQueued(1)
	cancel()
	select {
	case err := <-saveErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Save of a cancelled, queued request = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a queued request whose context ended did not return")
	}
	<-done
	if n := sessionkit.WaitingCommits(q.m, q.key()); n != 0 {
		t.Errorf("%d commits still queued after the only waiter left", n)
	}
	q.gated.release()
	if c := <-held; c != 200 {
		t.Errorf("held request: %d", c)
	}
	if _, keys, _ := q.get("/keys"); keys != "lead,n" {
		t.Errorf("keys %q, want lead,n (the cancelled request's change must not be saved)", keys)
	}
	if !sessionkit.CommitQueuesIdle(q.m) {
		t.Error("commit queue entries left")
	}
}

// TestQueuedCommitsOfDestroyedSession: a session destroyed while commits
// wait stays gone; the waiting requests answer 200 and leave the cookie
// alone (the logout's response cleared it, and a login since may have set
// a new one).
func TestQueuedCommitsOfDestroyedSession(t *testing.T) {
	q := newQueueEnv(t)
	q.get("/inc")
	cookie := "session=" + q.jarCookie(q.client)
	held := q.hold("/set/lead")
	var wg sync.WaitGroup
	const n = 4
	for i := range n {
		wg.Go(func() {
			code, _, resp := q.requestWithCookie(fmt.Sprintf("/set/k%d", i), cookie)
			c := sessionCookie(resp, "session")
			if code != 200 || c != nil {
				t.Errorf("waiting request: %d, cookie %v; want 200 and no Set-Cookie", code, c)
			}
		})
	}
	q.waitQueued(n)
	if code, _, _ := q.requestWithCookie("/logout", cookie); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	q.gated.release()
	<-held
	wg.Wait()
	if _, err := q.mem.Load(context.Background(), q.m.KeyOf(strings.TrimPrefix(cookie, "session="))); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("destroyed session came back: %v", err)
	}
	if !sessionkit.CommitQueuesIdle(q.m) {
		t.Error("commit queue entries left")
	}
}

// TestMergedCommitTooLarge: when one queued request's change makes the
// merged session too large, only that request is refused (500, the
// ErrTooLarge answer); the others are saved.
func TestMergedCommitTooLarge(t *testing.T) {
	q := newQueueEnv(t, func(m *sessionkit.Manager) { m.MaxDataSize = 1000 })
	q.get("/inc")
	held := q.hold("/set/lead")
	big := q.start("/set/big?size=2000")
	q.waitQueued(1)
	small := q.start("/set/small?size=10")
	q.waitQueued(2)
	q.gated.release()
	if c := <-held; c != 200 {
		t.Errorf("held: %d", c)
	}
	if c := <-big; c != 500 {
		t.Errorf("too large: %d, want 500", c)
	}
	if c := <-small; c != 200 {
		t.Errorf("small: %d, want 200", c)
	}
	if _, keys, _ := q.get("/keys"); keys != "lead,n,small" {
		t.Errorf("keys %q, want lead,n,small", keys)
	}
	q.wantObserved(sessionkit.ErrTooLarge)
}

// TestTwoManagersRetryConflicts: two Managers over one store (as two
// processes would be) do not share a queue; their concurrent writes meet at
// the store, where compare-and-swap and a retry keep both.
func TestTwoManagersRetryConflicts(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	defer mem.Close()
	var conflicts atomic.Int64
	var loaded sync.WaitGroup
	loaded.Add(2)
	newServer := func() *httptest.Server {
		m := sessionkit.New(mem)
		m.Logger = discardLogger()
		m.Observer = func(ev sessionkit.Event) {
			if ev.Kind == sessionkit.EventConflict {
				conflicts.Add(1)
			}
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /new", func(w http.ResponseWriter, r *http.Request) {
			sessionkit.From(r.Context()).Set("n", 1)
		})
		mux.HandleFunc("GET /set/{key}", func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			if _, err := sessionkit.Get[int](s, "n"); err != nil { // load now
				t.Error(err)
			}
			loaded.Done()
			loaded.Wait() // both requests hold the same version
			s.Set(r.PathValue("key"), true)
		})
		mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, strings.Join(sessionkit.From(r.Context()).Keys(), ","))
		})
		srv := httptest.NewServer(m.Handler(mux))
		t.Cleanup(srv.Close)
		return srv
	}
	a, b := newServer(), newServer()
	resp, err := http.Get(a.URL + "/new")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := sessionCookie(resp, "session")
	get := func(srv *httptest.Server, path string) (int, string) {
		return getWithCookie(t, srv.URL+path, cookie.Value)
	}
	var wg sync.WaitGroup
	for _, c := range []struct {
		srv *httptest.Server
		key string
	}{{a, "a"}, {b, "b"}} {
		wg.Go(func() {
			if code, _ := get(c.srv, "/set/"+c.key); code != 200 {
				t.Errorf("/set/%s: %d", c.key, code)
			}
		})
	}
	wg.Wait()
	if _, keys := get(a, "/keys"); keys != "a,b,n" {
		t.Fatalf("keys = %q, want a,b,n (a lost update?)", keys)
	}
	if conflicts.Load() == 0 {
		t.Fatal("no conflict was observed, so the test did not exercise the retry")
	}
}
