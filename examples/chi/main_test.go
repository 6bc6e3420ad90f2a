package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/frameworktest"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestSuite runs the adapter suite on chi: the routes as chi handlers,
// auth.Auth.Handler as chi middleware.
func TestSuite(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := chi.NewRouter()
		r.Use(e.Auth.Handler) // includes e.Manager.Handler
		for _, rt := range frameworktest.Routes(e) {
			r.Method(rt.Method, rt.Path, rt.Handler)
		}
		return r
	})
}

// TestSuiteScoped mounts the sessions on part of the router only, the
// two ways chi scopes middleware: a group (r.Group with r.Use) for most
// routes, and r.With for one route.
func TestSuiteScoped(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := chi.NewRouter()
		r.Group(func(r chi.Router) {
			r.Use(e.Auth.Handler)
			for _, rt := range frameworktest.Routes(e) {
				if rt.Path != "/private" && rt.Path != "/quiet" {
					r.Method(rt.Method, rt.Path, rt.Handler)
				}
			}
		})
		for _, rt := range frameworktest.Routes(e) {
			switch rt.Path {
			case "/private":
				r.With(e.Auth.Handler).Method(rt.Method, rt.Path, rt.Handler)
			case "/quiet":
				r.Method(rt.Method, rt.Path, rt.Handler) // outside the sessions
			}
		}
		return r
	})
}

// TestExample runs the example app over HTTP.
func TestExample(t *testing.T) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	srv := httptest.NewServer(New(sessionkit.New(store)))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	for i, want := range []string{"1 visits\n", "2 visits\n"} {
		resp, err := c.Post(srv.URL+"/visits", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("POST %d = %q, want %q", i, b, want)
		}
	}
	resp, err := c.Get(srv.URL + "/visits")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "2 visits\n" {
		t.Errorf("GET /visits = %q", b)
	}
	resp, err = http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 0 {
		t.Errorf("/health sent a cookie")
	}
}
