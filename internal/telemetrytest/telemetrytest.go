// Package telemetrytest drives one browser through every kind of session
// use the exporters count — an untouched read, create, read, write, touch,
// a refused touch, Regenerate, a conflict and its retry, retries used up,
// a session too large, store errors, Destroy, bad and unknown tokens,
// login and logout — so that contrib/prometheus and contrib/otel check
// their metrics and spans against the same requests. Each exporter's test
// keeps its own expectations per step, by step name.
package telemetrytest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// FaultStore is a memstore whose calls can be made to fail. It names the
// store it wraps (Unwrap), so events carry store="memstore".
type FaultStore struct {
	*memstore.Store
	FailLoad, FailSave, FailTouch atomic.Bool
	Conflicts                     atomic.Int32 // the next Saves that lose their compare-and-swap
}

// ErrDown is the error of a failed FaultStore call.
var ErrDown = errors.New("store down")

// Unwrap names the wrapped store.
func (f *FaultStore) Unwrap() sessionkit.Store { return f.Store }

// Load implements sessionkit.Store.
func (f *FaultStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	if f.FailLoad.Load() {
		return sessionkit.Record{}, ErrDown
	}
	return f.Store.Load(ctx, key)
}

// Save implements sessionkit.Store.
func (f *FaultStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	if f.FailSave.Load() {
		return 0, ErrDown
	}
	if f.Conflicts.Add(-1) >= 0 {
		return 0, sessionkit.ErrConflict
	}
	f.Conflicts.Store(0)
	return f.Store.Save(ctx, key, rec)
}

// Touch implements sessionkit.Store.
func (f *FaultStore) Touch(ctx context.Context, key string, exp time.Time) error {
	if f.FailTouch.Load() {
		return ErrDown
	}
	return f.Store.Touch(ctx, key, exp)
}

// reset clears every fault.
func (f *FaultStore) reset() {
	f.FailLoad.Store(false)
	f.FailSave.Store(false)
	f.FailTouch.Store(false)
	f.Conflicts.Store(0)
}

// Options configure NewApp.
type Options struct {
	// Observer is the Manager's Observer: the exporter under test.
	Observer func(sessionkit.Event)
	// Import is the Manager's Importer, if any.
	Import sessionkit.Importer
	// Wrap, if not nil, wraps the whole handler (a tracing middleware).
	Wrap func(http.Handler) http.Handler
}

// App is a Manager over a FaultStore with routes for each kind of
// session use, on a fake clock: MaxRetries 2, MaxDataSize 4 KiB, auth's
// Handler around the routes.
type App struct {
	Store  *FaultStore
	Clock  *browser.Clock
	Server *httptest.Server
}

// NewApp starts an App; the test's cleanup stops it.
func NewApp(t *testing.T, o Options) *App {
	t.Helper()
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	a := &App{Store: &FaultStore{Store: mem}, Clock: browser.NewClock()}
	m := sessionkit.New(a.Store)
	m.Now = a.Clock.Now
	m.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	m.MaxRetries = 2
	m.MaxDataSize = 4 << 10
	m.Observer = o.Observer
	m.Import = o.Import
	type user struct{ ID string }
	au := auth.New(m, func(u user) string { return u.ID }, func(_ context.Context, id string) (user, error) { return user{id}, nil })
	au.Logger = m.Logger
	mux := http.NewServeMux()
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.From(r.Context()), "k")
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("k", r.URL.Query().Get("v")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /big", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("big", strings.Repeat("x", 8<<10))
	})
	mux.HandleFunc("POST /regenerate", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Regenerate()
	})
	mux.HandleFunc("POST /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := au.Login(w, r, user{"alice"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		au.Logout(w, r)
	})
	var h http.Handler = au.Handler(mux)
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	a.Server = httptest.NewServer(h)
	t.Cleanup(a.Server.Close)
	return a
}

// Step is one request and the store behaviour it meets.
type Step struct {
	Name     string
	Method   string
	Path     string
	Cookie   string        // sent instead of the jar's cookies when set
	Advance  time.Duration // the clock moves this much first
	Fault    func(*FaultStore)
	WantCode int
}

// Steps drive one browser through every kind of session use the
// exporters count, in this order.
func Steps() []Step {
	return []Step{
		{Name: "untouched read", Method: "GET", Path: "/read", WantCode: 200},
		{Name: "create", Method: "POST", Path: "/write?v=1", WantCode: 200},
		{Name: "read", Method: "GET", Path: "/read", WantCode: 200},
		{Name: "write", Method: "POST", Path: "/write?v=2", WantCode: 200},
		{Name: "touch", Method: "GET", Path: "/read", Advance: 2 * time.Minute, WantCode: 200},
		{Name: "refused touch", Method: "GET", Path: "/read", Advance: 2 * time.Minute, Fault: func(f *FaultStore) { f.FailTouch.Store(true) }, WantCode: 200},
		{Name: "regenerate", Method: "POST", Path: "/regenerate", WantCode: 200},
		{Name: "conflict then retry", Method: "POST", Path: "/write?v=3", Fault: func(f *FaultStore) { f.Conflicts.Store(1) }, WantCode: 200},
		{Name: "retries exhausted", Method: "POST", Path: "/write?v=4", Fault: func(f *FaultStore) { f.Conflicts.Store(100) }, WantCode: 503},
		{Name: "too large", Method: "POST", Path: "/big", WantCode: 500},
		{Name: "load error", Method: "GET", Path: "/read", Fault: func(f *FaultStore) { f.FailLoad.Store(true) }, WantCode: 503},
		{Name: "save error", Method: "POST", Path: "/write?v=5", Fault: func(f *FaultStore) { f.FailSave.Store(true) }, WantCode: 503},
		{Name: "destroy", Method: "POST", Path: "/destroy", WantCode: 200},
		{Name: "bad token", Method: "GET", Path: "/read", Cookie: "garbage", WantCode: 200},
		{Name: "unknown ID", Method: "GET", Path: "/read", Cookie: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", WantCode: 200},
		{Name: "login without a session", Method: "POST", Path: "/login", WantCode: 200},
		{Name: "logout", Method: "POST", Path: "/logout", WantCode: 200},
		{Name: "login over a session", Method: "POST", Path: "/login", WantCode: 200},
	}
}

// Run sends st's request from c, after applying its fault (cleared
// afterwards) and moving the clock, and fails t unless the answer has
// st.WantCode.
func (a *App) Run(t *testing.T, c *browser.Client, st Step) {
	t.Helper()
	a.Clock.Advance(st.Advance)
	if st.Fault != nil {
		st.Fault(a.Store)
	}
	defer a.Store.reset()
	if st.Cookie != "" {
		req, err := http.NewRequest(st.Method, a.Server.URL+st.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", "session="+st.Cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != st.WantCode {
			t.Fatalf("%s: status %d, want %d", st.Name, resp.StatusCode, st.WantCode)
		}
		return
	}
	resp, body, err := c.Do(st.Method, st.Path)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != st.WantCode {
		t.Fatalf("%s: status %d (%s), want %d", st.Name, resp.StatusCode, body, st.WantCode)
	}
}

// testWriter sends the Manager's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
