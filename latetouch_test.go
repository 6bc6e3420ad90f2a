package sessionkit_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Checks of Session.Touch's documented behaviour after the
// response headers went out: "a Touch still moves the stored expiry when
// the handler returns (or at Save), but the cookie cannot be sent again".
func TestLateTouchDocumented(t *testing.T) {
	type env struct {
		*browserEnv
		store sessionkit.Store
		mu    sync.Mutex
		ev    []sessionkit.Event
		id    string
		logs  lockedBuffer
	}
	setup := func(t *testing.T, configure func(*sessionkit.Manager)) *env {
		e := &env{}
		e.browserEnv = newBrowserEnv(t, func(s sessionkit.Store) sessionkit.Store { e.store = s; return s }, func(m *sessionkit.Manager) {
			m.IdleTimeout, m.Lifetime = time.Hour, 0
			m.Logger = slogTo(&e.logs)
			m.Observer = func(ev sessionkit.Event) {
				e.mu.Lock()
				e.ev = append(e.ev, ev)
				e.mu.Unlock()
			}
			if configure != nil {
				configure(m)
			}
		})
		e.mux.HandleFunc("POST /late-touch", func(w http.ResponseWriter, r *http.Request) {
			s := sessionkit.From(r.Context())
			fmt.Fprint(w, "ok")
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			if err := s.Touch(); err != nil {
				t.Error(err)
			}
			if r.URL.Query().Get("save") == "1" {
				if err := s.Save(); err != nil {
					t.Errorf("Save after a late Touch: %v", err)
				}
			}
		})
		e.mux.HandleFunc("GET /id", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, sessionkit.From(r.Context()).ID())
		})
		return e
	}
	expires := func(t *testing.T, e *env) time.Time {
		t.Helper()
		s, err := e.m.Load(context.Background(), e.id)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		return s.Expires()
	}
	touches := func(e *env) (n int) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ev := range e.ev {
			if ev.Kind == sessionkit.EventTouch {
				n++
			}
		}
		return n
	}

	for _, save := range []bool{false, true} {
		t.Run(fmt.Sprintf("save=%v", save), func(t *testing.T) {
			e := setup(t, nil)
			e.do("POST", "/write")
			_, e.id = e.do("GET", "/id")
			before := expires(t, e)
			e.clock.Advance(10 * time.Minute)
			path := "/late-touch"
			if save {
				path += "?save=1"
			}
			resp, _ := e.do("POST", path)
			if c := sessionCookie(resp, "session"); c != nil {
				t.Errorf("late Touch re-sent the cookie: %v", c)
			}
			if got, want := expires(t, e), before.Add(10*time.Minute); !got.Equal(want) {
				t.Errorf("stored expiry after a late Touch %v, want %v (moved by 10m from %v)", got, want, before)
			}
			if n := touches(e); n != 1 {
				t.Errorf("%d EventTouch, want 1", n)
			}
			// A late Touch is documented use (a long response keeping
			// its session alive), not a mistake to warn about.
			if logs := e.logs.String(); strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=ERROR") {
				t.Errorf("a late Touch logged:\n%s", logs)
			}
		})
	}

	t.Run("no session stored", func(t *testing.T) {
		e := setup(t, nil)
		e.do("POST", "/late-touch")
		n := 0
		for _, err := range e.store.(sessionkit.Iterator).All(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 0 {
			t.Errorf("a late Touch of a session that is not stored stored %d", n)
		}
	})

	t.Run("RollingNever", func(t *testing.T) {
		e := setup(t, func(m *sessionkit.Manager) { m.Rolling = sessionkit.RollingNever })
		e.do("POST", "/write")
		_, e.id = e.do("GET", "/id")
		before := expires(t, e)
		e.clock.Advance(10 * time.Minute)
		e.do("POST", "/late-touch")
		if got := expires(t, e); !got.Equal(before) {
			t.Errorf("RollingNever: late Touch moved the expiry %v -> %v", before, got)
		}
	})

	t.Run("deadline caps", func(t *testing.T) {
		e := setup(t, func(m *sessionkit.Manager) { m.Lifetime = 65 * time.Minute })
		e.do("POST", "/write")
		_, e.id = e.do("GET", "/id")
		s, err := e.m.Load(context.Background(), e.id)
		if err != nil {
			t.Fatal(err)
		}
		dl := s.Deadline()
		e.clock.Advance(30 * time.Minute)
		e.do("POST", "/late-touch")
		if got := expires(t, e); got.After(dl) {
			t.Errorf("late Touch moved the expiry past the deadline: %v > %v", got, dl)
		}
	})
}
