package sessionkit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// countingStore wraps a store and counts calls, to prove which requests
// reach the store.
type countingStore struct {
	sessionkit.Store
	loads, saves, touches, deletes atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

func (c *countingStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	c.saves.Add(1)
	return c.Store.Save(ctx, key, rec)
}

func (c *countingStore) Touch(ctx context.Context, key string, exp time.Time) error {
	c.touches.Add(1)
	return c.Store.Touch(ctx, key, exp)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Store.Delete(ctx, key)
}

func (c *countingStore) calls() int64 {
	return c.loads.Load() + c.saves.Load() + c.touches.Load() + c.deletes.Load()
}

// newClock is the settable fake clock the client-side tests use too.
func newClock() *browser.Clock { return browser.NewClock() }

// env is a test server with a Manager over a counted memstore.
type env struct {
	t      *testing.T
	m      *sessionkit.Manager
	store  *countingStore
	mem    *memstore.Store
	srv    *httptest.Server
	client *http.Client
	mux    *http.ServeMux
}

func newEnv(t *testing.T, configure ...func(*sessionkit.Manager)) *env {
	t.Helper()
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	e := &env{t: t, mem: mem, store: &countingStore{Store: mem}, mux: http.NewServeMux()}
	e.m = sessionkit.New(e.store)
	e.m.Logger = discardLogger()
	for _, f := range configure {
		f(e.m)
	}
	e.srv = httptest.NewServer(e.m.Handler(e.mux))
	t.Cleanup(e.srv.Close)
	e.client = e.newClient()
	return e
}

func (e *env) newClient() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) handle(pattern string, h http.HandlerFunc) {
	e.mux.HandleFunc(pattern, h)
}

// get fetches path with the default client and returns status, body and
// the response.
func (e *env) get(path string) (int, string, *http.Response) {
	e.t.Helper()
	return e.do(e.client, path)
}

func (e *env) do(c *http.Client, path string) (int, string, *http.Response) {
	e.t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), resp
}

// sessionCookie returns the Set-Cookie for the session cookie in resp.
func sessionCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// jarCookie returns the session cookie value the client holds.
func (e *env) jarCookie(c *http.Client) string {
	req, _ := http.NewRequest("GET", e.srv.URL, nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		if ck.Name == e.m.Cookie.Name {
			return ck.Value
		}
	}
	return ""
}

// requestWithCookie sends a request carrying exactly the given raw Cookie
// header, without a jar.
func (e *env) requestWithCookie(path, cookieHeader string) (int, string, *http.Response) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if cookieHeader != "" {
		req.Header.Set("Cookie", cookieHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), resp
}

// getWithCookie sends GET url with the session cookie value (as a client
// of another process sharing the store would) and returns the status and
// body. It reports a failed request with t.Error, so it may be called from
// the test's own goroutines.
func getWithCookie(t *testing.T, url, value string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	req.AddCookie(&http.Cookie{Name: "session", Value: value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
