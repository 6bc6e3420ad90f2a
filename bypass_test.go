package sessionkit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// statusWriter is the kind of writer an outer logging middleware wraps the
// response in; like gin's and negroni's it reports whether it was written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Written() bool               { return w.status != 0 }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hookWriter announces its headers like echo's Response.
type hookWriter struct {
	http.ResponseWriter
	before []func()
	done   bool
}

func (w *hookWriter) Before(fn func()) { w.before = append(w.before, fn) }

func (w *hookWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		for _, fn := range w.before {
			fn()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hookWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// TestResponseAroundSessionWriterIsReported mounts the middleware the way
// a framework middleware that only swaps the request does: the handler
// gets the session's request but writes to the outer writer. The cookie
// cannot be sent, so no new session may be stored, and the mistake must
// be logged and observed on the first request.
func TestResponseAroundSessionWriterIsReported(t *testing.T) {
	wrappers := map[string]func(http.ResponseWriter) http.ResponseWriter{
		"Written": func(w http.ResponseWriter) http.ResponseWriter { return &statusWriter{ResponseWriter: w} },
		"Before":  func(w http.ResponseWriter) http.ResponseWriter { return &hookWriter{ResponseWriter: w} },
		"Written/two": func(w http.ResponseWriter) http.ResponseWriter {
			return &statusWriter{ResponseWriter: &statusWriter{ResponseWriter: w}}
		},
	}
	for name, wrap := range wrappers {
		for _, misuse := range []bool{true, false} {
			t.Run(name+map[bool]string{true: "/around", false: "/through"}[misuse], func(t *testing.T) {
				var logs bytes.Buffer
				var mu sync.Mutex
				var bypasses int
				e := newEnv(t, func(m *sessionkit.Manager) {
					m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
					m.Observer = func(ev sessionkit.Event) {
						if ev.Kind == sessionkit.EventError && errors.Is(ev.Err, sessionkit.ErrResponseBypassed) {
							mu.Lock()
							bypasses++
							mu.Unlock()
						}
					}
				})
				e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
					sessionkit.From(r.Context()).Set("n", 1)
					w.Write([]byte("ok"))
				})
				e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					outer := wrap(w)
					e.m.Handler(http.HandlerFunc(func(inner http.ResponseWriter, r *http.Request) {
						if misuse {
							inner = outer
						}
						e.mux.ServeHTTP(inner, r)
					})).ServeHTTP(outer, r)
				})
				for i := range 2 {
					code, body, resp := e.get("/set")
					if code != http.StatusOK || body != "ok" {
						t.Fatalf("GET /set = %d %q", code, body)
					}
					c := sessionCookie(resp, e.m.Cookie.Name)
					if misuse && c != nil {
						t.Fatalf("a cookie was sent around the session's writer: %v", c)
					}
					if !misuse && i == 0 && c == nil {
						t.Fatal("no cookie through the session's writer")
					}
				}
				saves := e.store.saves.Load()
				mu.Lock()
				defer mu.Unlock()
				if misuse {
					if saves != 0 {
						t.Errorf("%d orphan sessions stored", saves)
					}
					if bypasses != 2 {
						t.Errorf("%d ErrResponseBypassed events, want 2", bypasses)
					}
					if n := strings.Count(logs.String(), "written around the writer Manager.Handler gave the handler"); n != 2 {
						t.Errorf("bypass logged %d times, want 2; logs:\n%s", n, logs.String())
					}
				} else {
					if saves != 1 || bypasses != 0 || logs.Len() != 0 {
						t.Errorf("correct mount: %d saves, %d bypass events, logs %q; want 1, 0, none", saves, bypasses, logs.String())
					}
				}
			})
		}
	}
}

// TestEmptyResponseIsNoBypass: a handler that writes nothing at all still
// gets its session committed and its cookie sent by net/http's implicit
// 200, through a wrapper that reports Written.
func TestEmptyResponseIsNoBypass(t *testing.T) {
	e := newEnv(t)
	e.handle("GET /quiet", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.m.Handler(e.mux).ServeHTTP(&statusWriter{ResponseWriter: w}, r)
	})
	_, _, resp := e.get("/quiet")
	if sessionCookie(resp, e.m.Cookie.Name) == nil || e.store.saves.Load() != 1 {
		t.Fatalf("cookie %v, saves %d; want a cookie and one save", resp.Cookies(), e.store.saves.Load())
	}
}

// TestSessionAfterHandlerIsReported: a session used once its middleware
// returned (as with Fiber's adaptor.HTTPMiddleware, or a goroutine that
// outlived its request) saves nothing, even when Save is called while the
// request's context is still open, refuses each change with
// ErrSessionAfterHandler, and says so once.
func TestSessionAfterHandlerIsReported(t *testing.T) {
	for _, touchFirst := range []bool{false, true} {
		var logs bytes.Buffer
		var events int
		e := newEnv(t, func(m *sessionkit.Manager) {
			m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			m.Observer = func(ev sessionkit.Event) {
				if errors.Is(ev.Err, sessionkit.ErrSessionAfterHandler) {
					events++
				}
			}
		})
		var kept *sessionkit.Session
		h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kept = sessionkit.From(r.Context())
			if touchFirst {
				kept.Has("x")
			}
		}))
		h.ServeHTTP(&statusWriter{ResponseWriter: discardWriter{}}, mustRequest(t))
		for _, err := range []error{kept.Set("a", 1), kept.Set("b", 2), kept.Regenerate(), kept.Touch(), kept.Save()} {
			if !errors.Is(err, sessionkit.ErrSessionAfterHandler) {
				t.Errorf("touched first %v: a change after the handler returned: %v, want ErrSessionAfterHandler", touchFirst, err)
			}
		}
		if events != 1 || strings.Count(logs.String(), "session used after its Manager.Handler returned") != 1 {
			t.Errorf("touched first %v: %d events, logs %q; want one of each", touchFirst, events, logs.String())
		}
		if e.store.saves.Load() != 0 {
			t.Errorf("touched first %v: %d saves", touchFirst, e.store.saves.Load())
		}
	}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

func mustRequest(t *testing.T) *http.Request {
	r, err := http.NewRequest("GET", "http://example.test/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSessionAfterPanickingHandler: a handler that panics ends its
// request too (net/http's server, gin's and Echo's Recovery recover the
// panic outside the middleware): nothing it changed is committed, and a
// goroutine it started that uses the session afterwards is refused with
// ErrSessionAfterHandler, as after a handler that returned.
func TestSessionAfterPanickingHandler(t *testing.T) {
	e := newEnv(t, func(m *sessionkit.Manager) { m.Logger = slog.New(slog.DiscardHandler) })
	var kept *sessionkit.Session
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = sessionkit.From(r.Context())
		kept.Set("before", 1)
		panic("handler bug")
	}))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the handler's panic did not reach the caller")
			}
		}()
		h.ServeHTTP(&statusWriter{ResponseWriter: discardWriter{}}, mustRequest(t))
	}()
	for _, err := range []error{kept.Set("after", 2), kept.Save()} {
		if !errors.Is(err, sessionkit.ErrSessionAfterHandler) {
			t.Errorf("a change after the handler panicked: %v, want ErrSessionAfterHandler", err)
		}
	}
	if n := e.store.saves.Load(); n != 0 {
		t.Errorf("%d saves after a panicking handler, want 0", n)
	}
}

// What a handler committed before it panicked (Save here) stays; what it
// changed after that commit is not saved.
func TestPanicKeepsEarlierCommit(t *testing.T) {
	e := newEnv(t, func(m *sessionkit.Manager) { m.Logger = slog.New(slog.DiscardHandler) })
	var id string
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("saved", 1)
		if err := s.Save(); err != nil {
			t.Errorf("Save: %v", err)
		}
		id = s.ID()
		s.Set("unsaved", 2)
		panic("handler bug")
	}))
	func() {
		defer func() { recover() }()
		h.ServeHTTP(&statusWriter{ResponseWriter: discardWriter{}}, mustRequest(t))
	}()
	s, err := e.m.Load(t.Context(), id)
	if err != nil {
		t.Fatalf("Load of the session saved before the panic: %v", err)
	}
	if !s.Has("saved") || s.Has("unsaved") {
		t.Errorf("stored keys after the panic: saved %v, unsaved %v; want only the one saved before it", s.Has("saved"), s.Has("unsaved"))
	}
}

// panickyStore panics in Save, as a buggy Store implementation might.
type panickyStore struct{ sessionkit.Store }

func (panickyStore) Save(context.Context, string, sessionkit.Record) (uint64, error) {
	panic("store bug")
}

// TestPanicInsideCommit: a panic raised while the session is locked (a
// Store, Codec or Observer that panics during the commit) reaches the
// caller; the Handler does not hang waiting for the session it was
// committing.
func TestPanicInsideCommit(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	m := sessionkit.New(panickyStore{mem})
	m.Logger = slog.New(slog.DiscardHandler)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("k", 1)
		w.Write([]byte("ok")) // commits: Save panics
	}))
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(&statusWriter{ResponseWriter: discardWriter{}}, mustRequest(t))
	}()
	select {
	case p := <-done:
		if p == nil {
			t.Error("the store's panic did not reach the caller")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Handler hung after a panic inside the commit")
	}
}
