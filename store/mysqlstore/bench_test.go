package mysqlstore_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// BenchmarkMiddleware measures whole requests through sessionkit's
// middleware on this store (handler called directly, no HTTP server):
// "read" loads one session and reads a value; "rmw" loads, changes and
// saves it (compare-and-swap). Serial runs show one request's latency;
// parallel runs use 16 goroutines, each with its own session.
//
//	go run ./internal/testenv/cmd/withbackends -only mysql -- go test -run '^$' -bench Middleware -benchtime 2s ./store/mysqlstore
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range []struct {
		name string
		open func(b *testing.B) *mysqlstore.Store
	}{
		// Open: interpolated parameters, one round trip per statement.
		{"open", func(b *testing.B) *mysqlstore.Store {
			s, err := mysqlstore.Open(b.Context(), testenv.Getenv(b, testenv.MySQLDSNEnv), mysqlstore.Options{Table: uniqueTable("sk_bench_")})
			if err != nil {
				b.Fatal(err)
			}
			return migrated(b, s)
		}},
		// New over sql.Open's defaults: server-side prepared statements.
		{"prepared", func(b *testing.B) *mysqlstore.Store { return newStore(b, mysqlstore.Options{}) }},
	} {
		b.Run(bc.name, func(b *testing.B) { benchMiddleware(b, bc.open(b)) })
	}
}

func benchMiddleware(b *testing.B, store sessionkit.Store) {
	var failures atomic.Int64
	m := sessionkit.New(store)
	m.Logger = slog.New(slog.DiscardHandler)
	m.TouchInterval = time.Hour // steady state: no idle-timeout touches
	m.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if failures.Add(1) == 1 {
			b.Errorf("request failed: %v", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	read := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n"); err != nil || n < 1 {
			failures.Add(1)
		}
	}))
	rmw := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](s, "n")
		if err == nil {
			err = s.Set("n", n+1)
		}
		if err != nil {
			failures.Add(1)
		}
	}))
	seed := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("n", 1); err != nil {
			failures.Add(1)
		}
	}))
	newSession := func() string {
		rec := httptest.NewRecorder()
		seed.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		for _, c := range rec.Result().Cookies() {
			return c.Name + "=" + c.Value
		}
		b.Fatal("seeding a session set no cookie")
		return ""
	}
	do := func(h http.Handler, cookie string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", cookie)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"read", read}, {"rmw", rmw}} {
		b.Run(bc.name+"/serial", func(b *testing.B) {
			cookie := newSession()
			b.ReportAllocs()
			for b.Loop() {
				do(bc.h, cookie)
			}
		})
		b.Run(bc.name+"/parallel16", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8) // 8×GOMAXPROCS(2) goroutines on the dev machine
			b.RunParallel(func(pb *testing.PB) {
				cookie := newSession()
				for pb.Next() {
					do(bc.h, cookie)
				}
			})
		})
	}
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}
