package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/frameworktest"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestSuite runs the adapter suite on gorilla/mux: the routes as mux
// handlers, auth.Auth.Handler as mux middleware.
func TestSuite(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := mux.NewRouter()
		r.Use(e.Auth.Handler) // includes e.Manager.Handler
		for _, rt := range frameworktest.Routes(e) {
			r.Handle(rt.Path, rt.Handler).Methods(rt.Method)
		}
		return r
	})
}

// TestSuiteSubrouter mounts the sessions on a subrouter only, with a
// route outside it.
func TestSuiteSubrouter(t *testing.T) {
	frameworktest.Run(t, func(_ *testing.T, e *frameworktest.Env) http.Handler {
		r := mux.NewRouter()
		withSessions := r.NewRoute().Subrouter()
		withSessions.Use(e.Auth.Handler)
		for _, rt := range frameworktest.Routes(e) {
			if rt.Path == "/quiet" {
				r.Handle(rt.Path, rt.Handler).Methods(rt.Method)
				continue
			}
			withSessions.Handle(rt.Path, rt.Handler).Methods(rt.Method)
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
	resp, err := c.Post(srv.URL+"/notes/todo?text=milk", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 {
		t.Fatalf("POST = %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp, err = c.Get(srv.URL + "/notes/todo")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "milk\n" {
		t.Errorf("GET = %q, want milk", b)
	}
}
