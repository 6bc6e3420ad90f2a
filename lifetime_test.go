package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// browserEnv is a server and a browser-like client on one fake clock.
type browserEnv struct {
	t      *testing.T
	clock  *browser.Clock
	m      *sessionkit.Manager
	mux    *http.ServeMux
	client *browser.Client
}

// newBrowserEnv starts a server over a memstore on the env's clock, wrapped
// by wrap if it is not nil.
func newBrowserEnv(t *testing.T, wrap func(sessionkit.Store) sessionkit.Store, configure func(*sessionkit.Manager)) *browserEnv {
	t.Helper()
	e := &browserEnv{t: t, clock: browser.NewClock(), mux: http.NewServeMux()}
	mem := memstore.New(memstore.Options{Now: e.clock.Now})
	t.Cleanup(func() { mem.Close() })
	var store sessionkit.Store = mem
	if wrap != nil {
		store = wrap(mem)
	}
	e.m = sessionkit.New(store)
	e.m.Now = e.clock.Now
	e.m.Logger = discardLogger()
	if configure != nil {
		configure(e.m)
	}
	e.mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	})
	e.mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, n)
	})
	srv := httptest.NewServer(e.m.Handler(e.mux))
	t.Cleanup(srv.Close)
	c, err := browser.NewClient(srv.URL, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

func (e *browserEnv) do(method, path string) (*http.Response, string) {
	e.t.Helper()
	resp, body, err := e.client.Do(method, path)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, body
}

// A visitor who writes to the session on every request keeps the session:
// every write renews the persistent cookie's Max-Age, as touches do. (It
// used to be renewed only by read-only requests, so the browser dropped
// the cookie IdleTimeout after the first visit.)
func TestWriteRequestsRenewCookie(t *testing.T) {
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) { m.IdleTimeout = 30 * time.Minute })
	for i := 1; i <= 20; i++ {
		resp, body := e.do("POST", "/write")
		if body != fmt.Sprint(i) {
			t.Fatalf("visit %d at +%v: counter %q: the browser lost the session", i, time.Duration(i-1)*10*time.Minute, body)
		}
		c := sessionCookie(resp, "session")
		if c == nil || c.MaxAge < int((30*time.Minute).Seconds())-1 {
			t.Fatalf("write %d: Set-Cookie %v, want Max-Age of the idle timeout", i, c)
		}
		e.clock.Advance(10 * time.Minute)
	}
}

// With IdleTimeout 2s and the default TouchInterval (1m), a session used
// every 0.4s stays alive: the throttle never exceeds a quarter of the idle
// timeout.
func TestTouchIntervalNeverAboveIdleTimeout(t *testing.T) {
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) { m.IdleTimeout = 2 * time.Second })
	if _, body := e.do("POST", "/write"); body != "1" {
		t.Fatalf("first write: %q", body)
	}
	for i := 0; i < 25; i++ {
		e.clock.Advance(400 * time.Millisecond)
		if _, body := e.do("GET", "/read"); body != "1" {
			t.Fatalf("read %d at +%v: %q: the session died although it was used every 0.4s", i, time.Duration(i+1)*400*time.Millisecond, body)
		}
	}
	e.clock.Advance(2*time.Second + time.Millisecond)
	if _, body := e.do("GET", "/read"); body != "0" {
		t.Fatalf("after 2s idle: %q, want a new session", body)
	}
}

// failingTouchStore refuses every Touch, as Redis does when it is full
// (maxmemory with noeviction), and, when failSaves is set, every Save.
type failingTouchStore struct {
	sessionkit.Store
	mu        sync.Mutex
	failSaves bool
}

var errStoreFull = errors.New("OOM command not allowed when used memory > 'maxmemory'")

func (s *failingTouchStore) Touch(context.Context, string, time.Time) error {
	return errStoreFull
}

func (s *failingTouchStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	s.mu.Lock()
	fail := s.failSaves
	s.mu.Unlock()
	if fail {
		return 0, errStoreFull
	}
	return s.Store.Save(ctx, key, rec)
}

// lockedBuffer is an io.Writer for loggers shared by a server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A refused Touch does not fail a request that only read: the session is
// served with its earlier expiry, no cookie is sent, and the failure is
// logged and observed. A refused write still fails.
func TestRefusedTouchStillAnswersRead(t *testing.T) {
	var mu sync.Mutex
	var errs []error
	var logs lockedBuffer
	var store *failingTouchStore
	wrap := func(s sessionkit.Store) sessionkit.Store {
		store = &failingTouchStore{Store: s}
		return store
	}
	e := newBrowserEnv(t, wrap, func(m *sessionkit.Manager) {
		m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		m.Observer = func(ev sessionkit.Event) {
			if ev.Err != nil {
				mu.Lock()
				errs = append(errs, ev.Err)
				mu.Unlock()
			}
		}
	})
	if _, body := e.do("POST", "/write"); body != "1" {
		t.Fatalf("write: %q", body)
	}
	exp, _ := e.client.Cookie("session")
	e.clock.Advance(10 * time.Minute) // a touch is due
	resp, body := e.do("GET", "/read")
	if resp.StatusCode != http.StatusOK || body != "1" {
		t.Fatalf("read with a refused touch: %s %q, want 200 and the session's value", resp.Status, body)
	}
	if c := sessionCookie(resp, "session"); c != nil {
		t.Fatalf("a refused touch sent a renewed cookie: %v", c)
	}
	if got, _ := e.client.Cookie("session"); !got.Expires.Equal(exp.Expires) {
		t.Fatalf("cookie expiry moved from %v to %v", exp.Expires, got.Expires)
	}
	mu.Lock()
	if len(errs) == 0 || !errors.Is(errs[len(errs)-1], errStoreFull) {
		t.Errorf("observer errors = %v, want the refused touch", errs)
	}
	mu.Unlock()
	if log := logs.String(); !strings.Contains(log, "touch") || !strings.Contains(log, "OOM") {
		t.Errorf("log = %q, want the refused touch and its cause", log)
	}

	store.mu.Lock()
	store.failSaves = true
	store.mu.Unlock()
	if resp, _ := e.do("POST", "/write"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a refused write answered %s, want 503", resp.Status)
	}
}

// Max-Age is counted on the Manager's clock, so it agrees with Expires
// when the clock is not the wall clock.
func TestCookieMaxAgeUsesManagerClock(t *testing.T) {
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) { m.IdleTimeout = time.Hour })
	e.clock.Advance(30 * 24 * time.Hour)
	resp, _ := e.do("POST", "/write")
	c := sessionCookie(resp, "session")
	if c == nil || c.MaxAge != 3600 {
		t.Fatalf("Set-Cookie %v, want Max-Age=3600", c)
	}
	if want := e.clock.Now().Add(time.Hour); c.Expires.Sub(want).Abs() > time.Second {
		t.Fatalf("Expires %v, want %v", c.Expires, want)
	}
}

// A session given its own idle timeout and deadline keeps them across
// requests, in the cookie and in Info.
func TestPerSessionLifetime(t *testing.T) {
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) {
		m.IdleTimeout = time.Hour
		m.Lifetime = 24 * time.Hour
	})
	var info sessionkit.Info
	e.mux.HandleFunc("POST /remember", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if err := s.SetIdleTimeout(-time.Second); err == nil {
			t.Error("SetIdleTimeout accepted a negative duration")
		}
		s.Set("n", 1)
		s.SetIdleTimeout(7 * 24 * time.Hour)
		s.SetDeadline(e.clock.Now().Add(30 * 24 * time.Hour))
	})
	e.mux.HandleFunc("GET /lifetime", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		fmt.Fprintf(w, "%v %v", s.IdleTimeout(), s.Deadline().Sub(e.clock.Now()).Round(time.Hour))
		rec, err := e.m.Store().Load(r.Context(), s.Key())
		if err != nil {
			t.Error(err)
			return
		}
		if info, err = e.m.Info(rec); err != nil {
			t.Error(err)
		}
	})
	e.mux.HandleFunc("POST /default", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.SetIdleTimeout(0)
		s.SetDeadline(time.Time{})
	})
	resp, _ := e.do("POST", "/remember")
	if c := sessionCookie(resp, "session"); c == nil || c.MaxAge != 7*24*3600 {
		t.Fatalf("Set-Cookie %v, want the session's 7-day idle timeout", c)
	}
	e.clock.Advance(3 * 24 * time.Hour) // past the default idle timeout and lifetime
	if _, body := e.do("GET", "/lifetime"); body != "168h0m0s 648h0m0s" {
		t.Fatalf("lifetime after 3 days = %q", body)
	}
	if info.IdleTimeout != 7*24*time.Hour || info.Deadline.Sub(e.clock.Now()).Round(time.Hour) != 27*24*time.Hour {
		t.Fatalf("Info = %+v", info)
	}
	// Back to the defaults: the default deadline (created + 24h) has
	// passed, so the session is over.
	resp, _ = e.do("POST", "/default")
	if c := sessionCookie(resp, "session"); c == nil || c.MaxAge >= 0 {
		t.Fatalf("back to the defaults: Set-Cookie %v, want the cookie cleared", c)
	}
	if _, body := e.do("GET", "/read"); body != "0" {
		t.Fatalf("after the default deadline passed: %q", body)
	}
}

// A deadline in the past ends the session at once, as Destroy does.
func TestSetDeadlineInThePastDestroys(t *testing.T) {
	e := newBrowserEnv(t, nil, nil)
	e.mux.HandleFunc("POST /end", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).SetDeadline(e.clock.Now().Add(-time.Second))
	})
	e.do("POST", "/write")
	resp, _ := e.do("POST", "/end")
	if c := sessionCookie(resp, "session"); c == nil || c.MaxAge >= 0 {
		t.Fatalf("Set-Cookie %v, want the cookie cleared", c)
	}
	if _, body := e.do("GET", "/read"); body != "0" {
		t.Fatalf("after the deadline: %q", body)
	}
}

// A Manager whose sessions could never expire, or with an unknown Rolling
// mode, answers with its ErrorHandler instead of storing such sessions.
func TestManagerConfigurationChecked(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*sessionkit.Manager)
	}{
		{"no lifetime at all", func(m *sessionkit.Manager) { m.Lifetime, m.IdleTimeout = 0, 0 }},
		{"unknown rolling mode", func(m *sessionkit.Manager) { m.Rolling = sessionkit.Rolling(42) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newBrowserEnv(t, nil, tc.configure)
			if resp, _ := e.do("POST", "/write"); resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %s, want 503", resp.Status)
			}
		})
	}
	// Either one alone is enough.
	for _, tc := range []func(*sessionkit.Manager){
		func(m *sessionkit.Manager) { m.Lifetime = 0 },
		func(m *sessionkit.Manager) { m.IdleTimeout = 0 },
	} {
		e := newBrowserEnv(t, nil, tc)
		e.do("POST", "/write")
		e.clock.Advance(time.Hour)
		if _, body := e.do("POST", "/write"); body != "2" {
			t.Fatalf("counter %q, want 2", body)
		}
	}
}

// The cookie follows the store's expiry, and only when it moves: a write
// or a Touch that leaves the expiry where it is (no time has passed, or
// the absolute deadline caps it) sends no cookie, except under
// RollingAlways, which sends it on every response that uses the session.
func TestCookieSentOnlyWhenExpiryMoves(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rolling sessionkit.Rolling
		capped  bool          // writes every 30 minutes up to 2h, when the 3h deadline caps the 1h idle expiry
		advance time.Duration // then, before the request
		path    string
		want    bool // a cookie is sent
	}{
		{"touch, no time passed", sessionkit.RollingThrottled, false, 0, "POST /touch", false},
		{"touch, a second later", sessionkit.RollingThrottled, false, time.Second, "POST /touch", true},
		{"touch, no time passed, always", sessionkit.RollingAlways, false, 0, "POST /touch", true},
		{"write, no time passed", sessionkit.RollingThrottled, false, 0, "POST /write", false},
		{"write, a second later", sessionkit.RollingThrottled, false, time.Second, "POST /write", true},
		{"touch at the deadline's cap", sessionkit.RollingThrottled, true, 10 * time.Minute, "POST /touch", false},
		{"write at the deadline's cap", sessionkit.RollingThrottled, true, 10 * time.Minute, "POST /write", false},
		{"write at the deadline's cap, on write", sessionkit.RollingOnWrite, true, 10 * time.Minute, "POST /write", false},
		{"write at the deadline's cap, always", sessionkit.RollingAlways, true, 10 * time.Minute, "POST /write", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) {
				m.Rolling = tc.rolling
				m.IdleTimeout = time.Hour
				m.Lifetime = 3 * time.Hour
			})
			e.mux.HandleFunc("POST /touch", func(w http.ResponseWriter, r *http.Request) {
				if err := sessionkit.From(r.Context()).Touch(); err != nil {
					t.Error(err)
				}
			})
			e.do("POST", "/write")
			if tc.capped {
				for range 4 {
					e.clock.Advance(30 * time.Minute)
					e.do("POST", "/write")
				}
			}
			e.clock.Advance(tc.advance)
			method, path, _ := strings.Cut(tc.path, " ")
			resp, _ := e.do(method, path)
			if got := sessionCookie(resp, "session") != nil; got != tc.want {
				t.Fatalf("%s: cookie sent = %v, want %v (Set-Cookie %q)", tc.path, got, tc.want, resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

// A record whose expiry lies further ahead than the session's idle timeout
// reaches (a Node store keeping browser-session records for its own ttl,
// longer than the Manager's IdleTimeout) is never reported as used in the
// future, by Info or by Session.LastActive; its expiry stays as stored.
func TestLastActiveNeverInTheFuture(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	mem := memstore.New(memstore.Options{SweepInterval: -1, Now: func() time.Time { return now }})
	t.Cleanup(func() { mem.Close() })
	m := sessionkit.New(mem)
	m.Now = func() time.Time { return now }
	m.IdleTimeout, m.Lifetime = 24*time.Hour, 0
	created := now.Add(-time.Hour)
	data, err := m.Codec.Encode(&sessionkit.State{Created: created, LastActive: created, Values: []sessionkit.Value{{Key: "n", JSON: []byte("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	far := now.Add(14 * 24 * time.Hour)
	key := m.KeyOf("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ")
	if _, err := mem.Save(t.Context(), key, sessionkit.Record{Data: data, Expiry: far}); err != nil {
		t.Fatal(err)
	}
	rec, err := mem.Load(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	info, err := m.Info(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !info.LastActive.Equal(now) || !info.Expires.Equal(far) {
		t.Errorf("Info: LastActive %v, Expires %v; want now (%v) and the stored expiry %v", info.LastActive, info.Expires, now, far)
	}
	s, err := m.LoadKey(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.LastActive(); !got.Equal(now) {
		t.Errorf("Session.LastActive %v, want now (%v)", got, now)
	}
}

// A Touch made after the response headers went out, with no Save, still
// extends the session in the store when the handler returns (as other
// late changes are saved); only the cookie cannot be sent again.
func TestTouchAfterHeadersIsStored(t *testing.T) {
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) {
		m.IdleTimeout, m.Lifetime = time.Hour, 0
		m.Persistent = false // the store alone ends the session
	})
	e.mux.HandleFunc("POST /late-touch", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok") // the headers go out
		if err := sessionkit.From(r.Context()).Touch(); err != nil {
			t.Error(err)
		}
	})
	e.do("POST", "/write")
	e.clock.Advance(50 * time.Minute)
	e.do("POST", "/late-touch")
	e.clock.Advance(20 * time.Minute) // 70 minutes after the write, 20 after the touch
	if resp, body := e.do("GET", "/read"); resp.StatusCode != http.StatusOK || body != "1" {
		t.Fatalf("read after a late Touch: %d %q, want the session (1)", resp.StatusCode, body)
	}
}
