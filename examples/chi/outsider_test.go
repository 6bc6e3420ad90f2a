package main_test

// Outside-in tests of the example's doc: what a client of `go run .` sees.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	chiexample "github.com/sessionkit/sessionkit/examples/chi"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// countingStore counts every store call.
type countingStore struct {
	*memstore.Store
	calls atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	s.calls.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *countingStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	s.calls.Add(1)
	return s.Store.Save(ctx, key, rec)
}

func TestOutsiderChi(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	store := &countingStore{Store: mem}
	srv := httptest.NewServer(chiexample.New(sessionkit.New(store)))
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	do := func(method, path string, h http.Header) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// "never touches the session: no store call, no cookie", also for a
	// client that holds a session.
	do("POST", "/visits", nil)
	before := store.calls.Load()
	if resp, body := do("GET", "/health", nil); body != "ok\n" || len(resp.Cookies()) != 0 || store.calls.Load() != before {
		t.Errorf("GET /health = %q, cookies %v, %d store calls; want ok and nothing of the session", body, resp.Cookies(), store.calls.Load()-before)
	}
	// "refuse cross-site POSTs before any session work".
	before = store.calls.Load()
	resp, _ := do("POST", "/visits", http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if resp.StatusCode != http.StatusForbidden || store.calls.Load() != before || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site POST = %d, %d store calls, cookies %v; want 403 before any session work", resp.StatusCode, store.calls.Load()-before, resp.Cookies())
	}
	if _, body := do("GET", "/visits", nil); body != "1 visits\n" {
		t.Errorf("after a refused POST: %q, want 1 visits", body)
	}
	// The package doc's curl (no Origin, no Sec-Fetch-Site) counts.
	if _, body := do("POST", "/visits", nil); body != "2 visits\n" {
		t.Errorf("curl's POST = %q, want 2 visits", body)
	}
}

type user struct{ Name string }

// TestOutsiderChiAuthSnippet: docs/frameworks.md's chi snippet, served:
// auth.Auth.Handler as router middleware, /account redirecting an
// anonymous visitor to /login, and r.With(users.Require) answering API
// requests 401 and pages with a redirect that returns to the page.
func TestOutsiderChiAuthSnippet(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	users := auth.New(sessionkit.New(mem), func(u user) string { return u.Name },
		func(_ context.Context, key string) (user, error) { return user{key}, nil })
	settings := func(w http.ResponseWriter, r *http.Request) {
		u, _ := users.User(r)
		fmt.Fprintf(w, "settings of %s", u.Name)
	}

	r := chi.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler) // refuse cross-site POSTs first
	r.Use(users.Handler)                           // auth.Auth[User]: sessions and the logged-in user
	r.Get("/account", func(w http.ResponseWriter, r *http.Request) {
		u, err := users.User(r)
		if errors.Is(err, auth.ErrNotAuthenticated) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "hello %s", u.Name)
	})
	r.With(users.Require).Get("/settings", settings)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := users.Login(w, r, user{"ann"}); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	if resp, _ := do("GET", "/account", ""); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("anonymous /account = %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := do("GET", "/settings", "application/json")
	if resp.StatusCode != http.StatusUnauthorized || !json.Valid([]byte(body)) {
		t.Errorf("anonymous API /settings = %d %q, want 401 with JSON", resp.StatusCode, body)
	}
	resp, _ = do("GET", "/settings", "text/html")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?return_to=%2Fsettings" {
		t.Errorf("anonymous page /settings = %d to %q, want 303 to /login returning to /settings", resp.StatusCode, loc)
	}
	if resp, _ := do("POST", "/login", ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	if _, body := do("GET", "/account", ""); body != "hello ann" {
		t.Errorf("/account after login = %q", body)
	}
	if _, body := do("GET", "/settings", ""); body != "settings of ann" {
		t.Errorf("/settings after login = %q", body)
	}
}

// TestOutsiderChiRecovererPanic: docs/frameworks.md "Panics", with the
// example's middleware order (chi's Recoverer before the sessions): a
// handler that panics gets Recoverer's 500 and commits nothing.
func TestOutsiderChiRecovererPanic(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	store := &countingStore{Store: mem}
	sessions := sessionkit.New(store)
	sessions.Logger = slog.New(slog.DiscardHandler)
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(sessions.Handler)
	r.Post("/panic", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("k", "before the panic")
		panic("handler bug")
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/panic", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || len(resp.Cookies()) != 0 || store.calls.Load() != 0 {
		t.Errorf("POST /panic = %d, cookies %v, %d store calls; want Recoverer's 500 and nothing committed", resp.StatusCode, resp.Cookies(), store.calls.Load())
	}
}
