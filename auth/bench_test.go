package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// BenchmarkRequireAuthenticated measures one authenticated request through
// Manager, Auth.Require and User over memstore, without the network.
func BenchmarkRequireAuthenticated(b *testing.B) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m := sessionkit.New(store)
	a := auth.New(m, func(u string) string { return u }, func(_ context.Context, k string) (string, error) { return k, nil })
	login := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Login(w, r, "alice"); err != nil {
			b.Fatal(err)
		}
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	cookie := rec.Result().Cookies()[0]
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, _ := a.User(r); u != "alice" {
			b.Fatal("not alice")
		}
	}))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
