package storetest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// BenchmarkMiddleware measures whole requests through a Manager on store,
// with the handler called directly (no HTTP server), so that stores can be
// compared on the same work:
//
//   - read: load one session and read a value;
//   - rmw: load it, change the value and save it (compare-and-swap).
//
// Each runs serially (one request's latency) and as parallel16 (16
// goroutines on two cores, each with its own session). Every sub-benchmark
// reports allocations, conflicts/op and cpu-ns/op (this process's CPU
// time per request, see ProcessCPU); any failed request fails the
// benchmark. Call it from a store's BenchmarkXxx with a fresh store.
func BenchmarkMiddleware(b *testing.B, store sessionkit.Store) {
	var failures, conflicts atomic.Int64
	m := sessionkit.New(store)
	m.Logger = slog.New(slog.DiscardHandler)
	m.TouchInterval = time.Hour // steady state: no idle-timeout touches
	m.Observer = func(e sessionkit.Event) {
		if e.Kind == sessionkit.EventConflict {
			conflicts.Add(1)
		}
	}
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
			cpu := ProcessCPU()
			for b.Loop() {
				serve(bc.h, cookie)
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
		})
		b.Run(bc.name+"/parallel16", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8) // 8×GOMAXPROCS(2) goroutines on the dev machine
			conflicts.Store(0)
			cpu := ProcessCPU()
			b.RunParallel(func(pb *testing.PB) {
				cookie := newSession()
				for pb.Next() {
					serve(bc.h, cookie)
				}
			})
			reportCPU(b, cpu)
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
		})
	}
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}

// reportCPU reports the process CPU time used since before, per
// operation, as cpu-ns/op (nothing where ProcessCPU cannot read it).
func reportCPU(b *testing.B, before time.Duration) {
	if before == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(ProcessCPU()-before)/float64(b.N), "cpu-ns/op")
}
