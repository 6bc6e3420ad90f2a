package cookiestore_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/cookiestore"
)

// benchPayloads are typical session records: a small one, and a 1 KiB one
// of repetitive JSON that compression shrinks.
var benchPayloads = []struct {
	name string
	data []byte
}{
	{"small", []byte(`{"created":1700000000000,"active":1700000300000,"persistent":true,"values":{"n":42,"user":"u-1234"}}`)},
	{"1KiB-json", bytes.Repeat([]byte(`{"sku":"A-1001","qty":1,"price":"9.99"},`), 26)},
}

func BenchmarkSeal(b *testing.B) {
	s := mustNew(b, cookiestore.Options{Secrets: [][]byte{secretA}})
	exp := time.Now().Add(time.Hour)
	for _, p := range benchPayloads {
		b.Run(p.name, func(b *testing.B) {
			rec := record(p.data, "user-1234", exp)
			b.ReportAllocs()
			b.SetBytes(int64(len(p.data)))
			var tok string
			for b.Loop() {
				var err error
				if tok, err = s.Seal(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(tok)), "token-bytes")
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	s := mustNew(b, cookiestore.Options{Secrets: [][]byte{secretA}})
	exp := time.Now().Add(time.Hour)
	for _, p := range benchPayloads {
		b.Run(p.name, func(b *testing.B) {
			tok, err := s.Seal(record(p.data, "user-1234", exp))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(p.data)))
			for b.Loop() {
				if _, err := s.Open(tok); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(tok)), "token-bytes")
		})
	}
}

// BenchmarkRequest measures a whole request through Manager.Handler (no
// network): "read" opens the cookie and answers without a new one;
// "write" opens, changes a value and seals a new cookie.
func BenchmarkRequest(b *testing.B) {
	cs := mustNew(b, cookiestore.Options{Secrets: [][]byte{secretA}})
	m := sessionkit.NewClientSide(cs)
	m.Logger = slog.New(slog.DiscardHandler)
	mux := http.NewServeMux()
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "n")
		if err := s.Set("n", n+1); err != nil {
			b.Error(err)
		}
		fmt.Fprint(w, n+1)
	})
	h := m.Handler(mux)

	// Get a token holding a small session.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/write", nil))
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Name == "session" {
			cookie = c.String()
		}
	}
	if cookie == "" {
		b.Fatal("no session cookie")
	}
	for _, path := range []string{"/read", "/write"} {
		b.Run(path[1:], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
