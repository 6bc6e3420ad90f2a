package main_test

// Outside-in tests of the example's doc: what a client of `go run .` sees.

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
	muxexample "github.com/sessionkit/sessionkit/examples/gorillamux"
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

func TestOutsiderGorillaMux(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	store := &countingStore{Store: mem}
	srv := httptest.NewServer(muxexample.New(sessionkit.New(store)))
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

	// The package doc's curl: POST a note, read it back.
	if resp, _ := do("POST", "/notes/todo?text=milk", nil); resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 {
		t.Fatalf("curl's POST = %d, cookies %v; want 204 with the session cookie", resp.StatusCode, resp.Cookies())
	}
	// "refuse cross-site POSTs before any session work".
	before := store.calls.Load()
	resp, _ := do("POST", "/notes/todo?text=evil", http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if resp.StatusCode != http.StatusForbidden || store.calls.Load() != before || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site POST = %d, %d store calls, cookies %v; want 403 before any session work", resp.StatusCode, store.calls.Load()-before, resp.Cookies())
	}
	if _, body := do("GET", "/notes/todo", nil); body != "milk\n" {
		t.Errorf("GET /notes/todo = %q, want milk", body)
	}
}
