package sessionkit_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// Two Managers wrap one handler: a long login session and a short
// checkout session, each with its own cookie and lifetime. Both are
// reachable through Manager.From and both cookies are sent.
func TestSeveralManagersPerRequest(t *testing.T) {
	clock := browser.NewClock()
	mem := memstore.New(memstore.Options{Now: clock.Now})
	t.Cleanup(func() { mem.Close() })
	login := sessionkit.New(mem)
	login.Now, login.Logger = clock.Now, discardLogger()
	login.IdleTimeout = 2 * time.Hour
	checkout := sessionkit.New(mem)
	checkout.Now, checkout.Logger = clock.Now, discardLogger()
	checkout.Cookie.Name = "checkout"
	checkout.IdleTimeout = 10 * time.Minute

	mux := http.NewServeMux()
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		if sessionkit.From(r.Context()) != checkout.From(r.Context()) {
			t.Error("From is not the innermost Manager's session")
		}
		login.From(r.Context()).Set("user", "ann")
		checkout.From(r.Context()).Set("cart", []int{1, 2})
	})
	mux.HandleFunc("GET /both", func(w http.ResponseWriter, r *http.Request) {
		user, _ := sessionkit.Get[string](login.From(r.Context()), "user")
		cart, _ := sessionkit.Get[[]int](checkout.From(r.Context()), "cart")
		fmt.Fprintf(w, "%s %v", user, cart)
	})
	srv := httptest.NewServer(login.Handler(checkout.Handler(mux)))
	t.Cleanup(srv.Close)
	c, err := browser.NewClient(srv.URL, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := c.Do("POST", "/start")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Header.Values("Set-Cookie")); n != 2 {
		t.Fatalf("Set-Cookie lines = %d, want both sessions' cookies: %v", n, resp.Header.Values("Set-Cookie"))
	}
	if _, body, _ := c.Do("GET", "/both"); body != "ann [1 2]" {
		t.Fatalf("both sessions read %q", body)
	}
	clock.Advance(11 * time.Minute) // the checkout session is idle out; the login is not
	if _, body, _ := c.Do("GET", "/both"); body != "ann []" {
		t.Fatalf("after 11 idle minutes: %q", body)
	}
	if other := sessionkit.New(mem); other.From(context.Background()) != nil {
		t.Fatal("Manager.From found a session in a plain context")
	}
}

// Nested Managers writing the same cookie cannot work: every request is
// refused with the ErrorHandler, loudly, rather than one session silently
// overwriting the other's cookie.
func TestNestedManagersWithOneCookieFailLoudly(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	var logs lockedBuffer
	outer, inner := sessionkit.New(mem), sessionkit.New(mem)
	inner.Logger = slogTo(&logs)
	h := outer.Handler(inner.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(logs.String(), "same cookie") {
		t.Fatalf("status %d, log %q", rec.Code, logs.String())
	}
}

// newJobEnv is a server whose sessions a "background job" then loads by
// ID or key with Manager.Load.
func newJobEnv(t *testing.T) (*browserEnv, *sessionkit.Session) {
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) { m.IdleTimeout = 30 * time.Minute })
	var id string
	e.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		id = s.ID()
	})
	e.do("POST", "/login")
	job, err := e.m.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e, job
}

// A background job loads a session by ID, changes it with the same
// compare-and-swap rules as a request (a concurrent request's change is
// kept), and the client sees the change; the change does not count as a
// use of the session.
func TestLoadOutsideRequest(t *testing.T) {
	e, job := newJobEnv(t)
	if n, err := sessionkit.Get[int](job, "n"); err != nil || n != 1 {
		t.Fatalf("job reads n = %d, %v", n, err)
	}
	if job.ID() == "" || job.Key() == "" {
		t.Fatal("a session loaded by ID has no ID or key")
	}
	e.clock.Advance(20 * time.Minute)
	// A request writes first: the job's save must not lose it.
	if _, body := e.do("POST", "/write"); body != "2" {
		t.Fatalf("request write: %q", body)
	}
	job.Set("note", "from the job")
	if err := job.Save(); err != nil {
		t.Fatal(err)
	}
	// The request at +20m moved the expiry to +50m; the job keeps it.
	if got, want := job.Expires(), e.clock.Now().Add(30*time.Minute); got.Sub(want).Abs() > time.Second {
		t.Fatalf("expiry after the job's save = %v, want %v (the request's)", got, want)
	}
	byKey, err := e.m.LoadKey(context.Background(), job.Key())
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := sessionkit.Get[int](byKey, "n"); n != 2 {
		t.Fatalf("after the job's save n = %d: the request's write was lost", n)
	}
	if note, _ := sessionkit.Get[string](byKey, "note"); note != "from the job" || byKey.ID() != "" {
		t.Fatalf("by key: note %q, ID %q", note, byKey.ID())
	}
	// The job's write did not extend the idle expiry: the session ends 30
	// minutes after the request at +20m, not after the job's write.
	e.clock.Advance(29 * time.Minute)
	byKey.Set("late", true)
	if err := byKey.Save(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	if _, body := e.do("GET", "/read"); body != "0" {
		t.Fatalf("a background write kept the session alive: %q", body)
	}
	if _, err := e.m.LoadKey(context.Background(), job.Key()); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Fatalf("LoadKey of an expired session: %v", err)
	}
}

func TestLoadOutsideRequestRules(t *testing.T) {
	ctx := context.Background()
	t.Run("Unknown", func(t *testing.T) {
		e := newBrowserEnv(t, nil, nil)
		for _, id := range []string{"", "x", strings.Repeat("A", 43)} {
			if _, err := e.m.Load(ctx, id); !errors.Is(err, sessionkit.ErrNotFound) {
				t.Errorf("Load(%q) = %v, want ErrNotFound", id, err)
			}
		}
		if _, err := e.m.LoadKey(ctx, "nope"); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Errorf("LoadKey = %v", err)
		}
	})
	t.Run("NoClientForANewToken", func(t *testing.T) {
		_, job := newJobEnv(t)
		job.Regenerate()
		if err := job.Save(); !errors.Is(err, sessionkit.ErrNoClient) {
			t.Fatalf("Save after Regenerate = %v, want ErrNoClient", err)
		}
	})
	t.Run("Destroy", func(t *testing.T) {
		e, job := newJobEnv(t)
		job.Destroy()
		if err := job.Save(); err != nil {
			t.Fatal(err)
		}
		if _, body := e.do("GET", "/read"); body != "0" {
			t.Fatalf("after the job destroyed the session: %q", body)
		}
	})
	t.Run("ClientSide", func(t *testing.T) {
		m := sessionkit.NewClientSide(newLabelStore("a"))
		if _, err := m.Load(ctx, "x"); !errors.Is(err, sessionkit.ErrNotSupported) {
			t.Fatalf("client-side Load = %v", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		e, _ := newJobEnv(t)
		key := ""
		e.mux.HandleFunc("GET /key", func(w http.ResponseWriter, r *http.Request) { key = sessionkit.From(r.Context()).Key() })
		e.do("GET", "/key")
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := e.m.LoadKey(ctx, key)
				if err != nil {
					t.Error(err)
					return
				}
				s.Set(fmt.Sprint("job", i), i)
				if err := s.Save(); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		s, err := e.m.LoadKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if keys := s.Keys(); len(keys) != 9 {
			t.Fatalf("keys after 8 concurrent jobs = %v", keys)
		}
	})
}

// A WebSocket-style handler keeps using the request's session after it
// hijacks the connection, and Save commits what it changes then; so does
// a streaming (SSE) handler after its first flush.
func TestSessionAfterUpgradeAndFlush(t *testing.T) {
	e := newBrowserEnv(t, nil, nil)
	e.mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+10)
		if err := s.Save(); err != nil {
			t.Errorf("Save after the upgrade: %v", err)
		}
		fmt.Fprint(rw, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		rw.Flush()
	})
	e.mux.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hello\n\n")
		http.NewResponseController(w).Flush()
		n, _ := sessionkit.Get[int](s, "n")
		s.Set("n", n+100)
		if err := s.Save(); err != nil {
			t.Errorf("Save after the first flush: %v", err)
		}
	})
	e.do("POST", "/write")
	e.do("GET", "/ws")
	resp, body := e.do("GET", "/sse")
	if sc := bufio.NewScanner(strings.NewReader(body)); !sc.Scan() || sc.Text() != "data: hello" || resp.StatusCode != 200 {
		t.Fatalf("sse: %s %q", resp.Status, body)
	}
	if _, body := e.do("GET", "/read"); body != "111" {
		t.Fatalf("after the upgrade and the stream: %q, want 111", body)
	}
}

// Status tells a handler what its request has done to the session, and
// costs no store call.
func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.get("/inc")
	tests := []struct {
		name string
		do   func(*sessionkit.Session)
		want sessionkit.Status
	}{
		{"untouched", func(*sessionkit.Session) {}, sessionkit.Unmodified},
		{"read", func(s *sessionkit.Session) { s.Has("n") }, sessionkit.Unmodified},
		{"set", func(s *sessionkit.Session) { s.Set("x", 1) }, sessionkit.Modified},
		{"same value", func(s *sessionkit.Session) { n, _ := sessionkit.Get[int](s, "n"); s.Set("n", n) }, sessionkit.Unmodified},
		{"destroy", func(s *sessionkit.Session) { s.Destroy() }, sessionkit.Destroyed},
		{"destroy then set", func(s *sessionkit.Session) { s.Destroy(); s.Set("x", 1) }, sessionkit.Modified},
		{"regenerate", func(s *sessionkit.Session) { s.Regenerate() }, sessionkit.Modified},
		{"lifetime", func(s *sessionkit.Session) { s.SetIdleTimeout(time.Minute) }, sessionkit.Modified},
		{"set then reload", func(s *sessionkit.Session) { s.Set("x", 1); s.Reload() }, sessionkit.Unmodified},
		{"set, save, reload", func(s *sessionkit.Session) { s.Set("x", 2); s.Save(); s.Reload() }, sessionkit.Modified},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got sessionkit.Status
			path := "/status-" + strings.ReplaceAll(tc.name, " ", "-")
			e.handle(path, func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				tc.do(s)
				got = s.Status()
			})
			before := e.store.calls()
			e.get(path)
			if got != tc.want {
				t.Fatalf("Status = %v, want %v", got, tc.want)
			}
			if tc.name == "untouched" && e.store.calls() != before {
				t.Fatal("Status loaded the session")
			}
		})
	}
	if sessionkit.Status(9).String() != "Status(9)" || (*sessionkit.Session)(nil).Status() != sessionkit.Unmodified {
		t.Fatal("Status of nil or unknown")
	}
}

// A background change keeps the expiry of the session's last use, also
// when that expiry is capped by the absolute deadline. (The job's save
// used to count from the last write instead of the last touch once the
// deadline capped the expiry, and saved an expiry in the past: the user
// was signed out by a background write.)
func TestLoadOutsideRequestNearTheDeadline(t *testing.T) {
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) {
		m.IdleTimeout = time.Hour
		m.Lifetime = 3 * time.Hour
	})
	var id string
	e.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 1)
		id = s.ID()
	})
	e.do("POST", "/login")
	for range 5 { // reads touch it; the last one caps its expiry at the deadline
		e.clock.Advance(30 * time.Minute)
		if _, body := e.do("GET", "/read"); body != "1" {
			t.Fatalf("read at +%v: %q", e.clock.Now(), body)
		}
	}
	e.clock.Advance(10 * time.Minute)
	job, err := e.m.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	deadline := job.Deadline()
	if got := job.Expires(); !got.Equal(deadline.Truncate(time.Millisecond)) {
		t.Fatalf("expiry before the job = %v, want the deadline %v", got, deadline)
	}
	job.Set("note", "from the job")
	if err := job.Save(); err != nil {
		t.Fatal(err)
	}
	if got := job.Expires(); !got.Equal(deadline.Truncate(time.Millisecond)) {
		t.Fatalf("expiry after the job's save = %v, want it kept at the deadline %v", got, deadline)
	}
	if _, body := e.do("GET", "/read"); body != "1" {
		t.Fatalf("after the job's write the client reads %q: signed out", body)
	}
}

// A background job that gives a session a shorter idle timeout ends it
// that long after its last use, as SetIdleTimeout documents; when that is
// already past, the session is over. (The stored expiry used to be read
// with the new idle timeout, which moved the last use forward and left
// the expiry where it was.)
func TestLoadOutsideRequestShortensIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		idle      time.Duration // set by the job, 5 minutes after the last use
		readAfter time.Duration // after the last use
		want      string
	}{
		{"still within", 10 * time.Minute, 9 * time.Minute, "1"},
		{"ended at last use + idle", 10 * time.Minute, 10 * time.Minute, "0"},
		{"already past", 2 * time.Minute, 6 * time.Minute, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, job := newJobEnv(t) // idle 30 minutes; last use now
			e.clock.Advance(5 * time.Minute)
			if err := job.SetIdleTimeout(tc.idle); err != nil {
				t.Fatal(err)
			}
			if err := job.Save(); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tc.readAfter - 5*time.Minute)
			if _, body := e.do("GET", "/read"); body != tc.want {
				t.Fatalf("read %v after the last use: %q, want %q", tc.readAfter, body, tc.want)
			}
		})
	}
}

// The same when the job's save meets a request's write first and is
// replayed on what that request saved.
func TestLoadOutsideRequestShortensIdleTimeoutAfterConflict(t *testing.T) {
	e, job := newJobEnv(t) // idle 30 minutes
	e.clock.Advance(5 * time.Minute)
	if _, body := e.do("POST", "/write"); body != "2" { // the last use, after the job loaded
		t.Fatalf("write: %q", body)
	}
	if err := job.SetIdleTimeout(10 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := job.Save(); err != nil {
		t.Fatal(err)
	}
	if got, want := job.Expires(), e.clock.Now().Add(10*time.Minute).Truncate(time.Millisecond); !got.Equal(want) {
		t.Fatalf("expiry after the replayed save = %v, want the last use + 10m = %v", got, want)
	}
	e.clock.Advance(10 * time.Minute)
	if _, body := e.do("GET", "/read"); body != "0" {
		t.Fatalf("read 10 minutes after the last use: %q, want a new session", body)
	}
}

// A job's save keeps an expiry that a request's touch moved after the job
// loaded the session: touches do not change the record's version, so the
// job must not save the expiry it read. (It did, and signed the user out
// at the expiry the job had loaded.)
func TestLoadOutsideRequestKeepsConcurrentTouch(t *testing.T) {
	e, job := newJobEnv(t) // idle 30 minutes; last use now
	e.clock.Advance(20 * time.Minute)
	if _, body := e.do("GET", "/read"); body != "1" { // touches: expiry now +30m
		t.Fatalf("read: %q", body)
	}
	touched := e.clock.Now().Add(30 * time.Minute).Truncate(time.Millisecond)
	e.clock.Advance(time.Minute)
	job.Set("note", "from the job")
	if err := job.Save(); err != nil {
		t.Fatal(err)
	}
	if got := job.Expires(); !got.Equal(touched) {
		t.Fatalf("expiry after the job's save = %v, want the request's touch's %v", got, touched)
	}
	e.clock.Advance(20 * time.Minute) // 40 minutes after the job loaded it
	if _, body := e.do("GET", "/read"); body != "1" {
		t.Fatalf("read after the job's save: %q, want the session kept", body)
	}
}
