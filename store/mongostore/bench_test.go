package mongostore

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// BenchmarkMiddleware measures whole requests through sessionkit's
// middleware (the handler called directly, no HTTP server): "read" loads
// a session and reads a value, "rmw" loads, changes and saves it with
// compare-and-swap. Serial runs show one request's latency; parallel runs
// use 16 goroutines, each with a session of its own.
//
//	go run ./internal/testenv/cmd/withbackends -only mongo -- go test -run '^$' -bench Middleware -benchtime 2s ./store/mongostore
func BenchmarkMiddleware(b *testing.B) {
	url := testenv.Getenv(b, testenv.MongoURLEnv)
	store := testStore(b, connect(b, url), Options{})
	if store.guarded {
		b.Log("FerretDB v1: writes are guarded with claim documents (3 extra round trips per save)")
	}

	var failures, conflicts atomic.Int64
	m := sessionkit.New(store)
	m.Observer = func(e sessionkit.Event) {
		if e.Kind == sessionkit.EventConflict {
			conflicts.Add(1)
		}
	}
	m.Logger = slog.New(slog.DiscardHandler)
	m.TouchInterval = time.Hour // steady state: no idle-timeout touches
	m.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if failures.Add(1) == 1 {
			b.Errorf("request failed: %v", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	handler := func(f func(s *sessionkit.Session) error) http.Handler {
		return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := f(sessionkit.From(r.Context())); err != nil {
				failures.Add(1)
			}
		}))
	}
	seed := handler(func(s *sessionkit.Session) error { return s.Set("n", 1) })
	read := handler(func(s *sessionkit.Session) error {
		_, err := sessionkit.Get[int](s, "n")
		return err
	})
	rmw := handler(func(s *sessionkit.Session) error {
		n, err := sessionkit.Get[int](s, "n")
		if err != nil {
			return err
		}
		return s.Set("n", n+1)
	})

	newSession := func() string {
		rec := httptest.NewRecorder()
		seed.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		cookies := rec.Result().Cookies()
		if len(cookies) == 0 {
			b.Fatal("seeding a session set no cookie")
		}
		return cookies[0].Name + "=" + cookies[0].Value
	}
	serve := func(h http.Handler, cookie string) {
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
			conflicts.Store(0)
			for b.Loop() {
				serve(bc.h, cookie)
			}
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
		})
		b.Run(bc.name+"/parallel16", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8) // 8×GOMAXPROCS(2) goroutines on the dev machine
			conflicts.Store(0)
			b.RunParallel(func(pb *testing.PB) {
				cookie := newSession()
				for pb.Next() {
					serve(bc.h, cookie)
				}
			})
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
		})
	}
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}
