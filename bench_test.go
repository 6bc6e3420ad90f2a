package sessionkit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// These benchmarks measure the middleware over the memory store with the
// handler called directly (no network), so they show the library's own
// cost. Run: go test -run '^$' -bench . -benchmem . (cpu-ns/op is the
// process's CPU time per request, GC included).

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchManager(b *testing.B) (*sessionkit.Manager, *countingStore) {
	mem := memstore.New(memstore.Options{SweepInterval: -1})
	b.Cleanup(func() { mem.Close() })
	cs := &countingStore{Store: mem}
	m := sessionkit.New(cs)
	m.Logger = discardLogger()
	return m, cs
}

// seed stores a session holding n=1 and returns its cookie header.
func seed(b *testing.B, m *sessionkit.Manager) string {
	var cookie string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, c := range rec.Result().Cookies() {
		cookie = c.Name + "=" + c.Value
	}
	if cookie == "" {
		b.Fatal("no cookie")
	}
	return cookie
}

// serve runs h in the benchmark loop. If cs is not nil, it also reports
// cs's store calls per request (storecalls/op).
func serve(b *testing.B, h http.Handler, cookie string, cs *countingStore) {
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	w := &nopWriter{h: http.Header{}}
	var calls int64
	if cs != nil {
		calls = cs.calls()
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	// CPU time beside wall time: on a shared machine, wall time also
	// counts the time other processes held the CPU.
	if cpu := processCPU() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	if cs != nil {
		b.ReportMetric(float64(cs.calls()-calls)/float64(b.N), "storecalls/op")
	}
}

func BenchmarkBareHandler(b *testing.B) {
	serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), "", nil)
}

func BenchmarkUntouched(b *testing.B) {
	m, cs := benchManager(b)
	cookie := seed(b, m)
	serve(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})), cookie, cs)
}

func BenchmarkReadOneKey(b *testing.B) {
	m, cs := benchManager(b)
	m.TouchInterval = time.Hour // a steady-state read, not a touch
	cookie := seed(b, m)
	serve(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n"); err != nil || n != 1 {
			b.Fatalf("Get = %d, %v", n, err)
		}
	})), cookie, cs)
}

func BenchmarkWriteOneKey(b *testing.B) {
	m, cs := benchManager(b)
	cookie := seed(b, m)
	i := 0
	serve(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i++
		if err := sessionkit.From(r.Context()).Set("n", i); err != nil {
			b.Fatal(err)
		}
	})), cookie, cs)
}

func BenchmarkNewSession(b *testing.B) {
	m, cs := benchManager(b)
	serve(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set("n", 1); err != nil {
			b.Fatal(err)
		}
	})), "", cs)
}
