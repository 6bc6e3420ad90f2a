package cookiestore_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// server is an httptest server running a client-side Manager over a
// cookiestore, with a fake clock shared by both. The Manager behind it can
// be swapped (key rotation) without the client noticing.
type server struct {
	t      *testing.T
	clk    *fixedClock
	srv    *httptest.Server
	client *http.Client
	h      atomic.Pointer[http.Handler]
	m      *sessionkit.Manager

	mu       sync.Mutex
	failures []error // what reached the ErrorHandler
}

func newServer(t *testing.T, configure func(*sessionkit.Manager), secrets ...[]byte) *server {
	t.Helper()
	s := &server{t: t, clk: newClock()}
	if len(secrets) == 0 {
		secrets = [][]byte{secretA}
	}
	s.use(configure, secrets...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.h.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.client = &http.Client{Jar: jar}
	return s
}

// use switches the server to a Manager over a store with secrets.
func (s *server) use(configure func(*sessionkit.Manager), secrets ...[]byte) {
	cs := mustNew(s.t, cookiestore.Options{Secrets: secrets, Now: s.clk.Now})
	m := sessionkit.NewClientSide(cs)
	m.Now = s.clk.Now
	m.Logger = slog.New(slog.DiscardHandler)
	m.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		s.mu.Lock()
		s.failures = append(s.failures, err)
		s.mu.Unlock()
		http.Error(w, "session error", http.StatusInternalServerError)
	}
	if configure != nil {
		configure(m)
	}
	s.m = m
	var h http.Handler = m.Handler(routes())
	s.h.Store(&h)
}

func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/inc", func(w http.ResponseWriter, r *http.Request) {
		sess := sessionkit.From(r.Context())
		n, err := sessionkit.Get[int](sess, "n")
		if err == nil {
			err = sess.Set("n", n+1)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n+1)
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		n, err := sessionkit.Get[int](sessionkit.From(r.Context()), "n")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/regenerate", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Regenerate(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Destroy(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/remember", func(w http.ResponseWriter, r *http.Request) {
		sess := sessionkit.From(r.Context())
		if err := sess.RememberMe(r.URL.Query().Get("on") == "1"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// Random hex: it does not compress below the cookie limit.
		b := make([]byte, 3000)
		rand.Read(b)
		if err := sessionkit.From(r.Context()).Set("blob", hex.EncodeToString(b)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "stored")
	})
	return mux
}

// get fetches path and returns the body and the session Set-Cookie (nil
// when the response set none).
func (s *server) get(path string) (int, string, *http.Cookie) {
	s.t.Helper()
	resp, err := s.client.Get(s.srv.URL + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var set *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			set = c
		}
	}
	return resp.StatusCode, strings.TrimSpace(string(body)), set
}

func (s *server) expect(path, want string) *http.Cookie {
	s.t.Helper()
	code, body, set := s.get(path)
	if code != http.StatusOK || body != want {
		s.t.Fatalf("GET %s = %d %q, want 200 %q", path, code, body, want)
	}
	return set
}

func (s *server) jarToken() string {
	req, _ := http.NewRequest("GET", s.srv.URL, nil)
	for _, c := range s.client.Jar.Cookies(req.URL) {
		if c.Name == "session" {
			return c.Value
		}
	}
	return ""
}

func TestEndToEndCounter(t *testing.T) {
	s := newServer(t, nil)
	if set := s.expect("/get", "0"); set != nil {
		t.Fatalf("untouched new session set a cookie: %v", set)
	}
	var tokens []string
	for i := 1; i <= 3; i++ {
		set := s.expect("/inc", fmt.Sprint(i))
		if set == nil || set.Value == "" {
			t.Fatalf("request %d: no cookie for a changed session", i)
		}
		if !set.HttpOnly || set.Path != "/" {
			t.Fatalf("cookie attributes: %+v", set)
		}
		tokens = append(tokens, set.Value)
	}
	if tokens[0] == tokens[1] || tokens[1] == tokens[2] {
		t.Fatal("a changed session kept its token")
	}
	if set := s.expect("/get", "3"); set != nil {
		t.Fatalf("an unchanged session was rewritten: %v", set)
	}
	// A tampered cookie is no session, never an error.
	tok := []byte(s.jarToken())
	tok[len(tok)/2] ^= 1
	u := s.srv.URL + "/get"
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Cookie", "session="+string(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "0" {
		t.Fatalf("tampered cookie: %d %q, want 200 \"0\"", resp.StatusCode, body)
	}
}

func TestEndToEndRegenerate(t *testing.T) {
	s := newServer(t, nil)
	s.expect("/inc", "1")
	before := s.jarToken()
	_, _, set := s.get("/regenerate")
	if set == nil || set.Value == "" || set.Value == before {
		t.Fatalf("Regenerate did not issue a new token: %v", set)
	}
	s.expect("/get", "1")
}

func TestEndToEndDestroy(t *testing.T) {
	s := newServer(t, nil)
	s.expect("/inc", "1")
	_, _, set := s.get("/destroy")
	if set == nil || set.Value != "" || set.MaxAge >= 0 {
		t.Fatalf("Destroy did not clear the cookie: %+v", set)
	}
	if tok := s.jarToken(); tok != "" {
		t.Fatalf("the client still holds %q", tok)
	}
	s.expect("/get", "0")
}

func TestEndToEndRememberMe(t *testing.T) {
	s := newServer(t, func(m *sessionkit.Manager) { m.Persistent = false })
	set := s.expect("/inc", "1")
	if set == nil || !set.Expires.IsZero() || set.MaxAge != 0 {
		t.Fatalf("browser-session cookie expected: %+v", set)
	}
	_, _, set = s.get("/remember?on=1")
	if set == nil || set.Expires.IsZero() || set.MaxAge <= 0 {
		t.Fatalf("RememberMe(true): persistent cookie expected: %+v", set)
	}
	s.expect("/get", "1")
	_, _, set = s.get("/remember?on=0")
	if set == nil || !set.Expires.IsZero() || set.MaxAge != 0 {
		t.Fatalf("RememberMe(false): browser-session cookie expected: %+v", set)
	}
	s.expect("/get", "1")
}

func TestEndToEndIdleTimeout(t *testing.T) {
	s := newServer(t, func(m *sessionkit.Manager) {
		m.IdleTimeout = 30 * time.Minute
		m.TouchInterval = time.Minute
		m.Lifetime = 24 * time.Hour
	})
	s.expect("/inc", "1")
	// Use keeps it alive: each read past the touch interval re-seals the
	// token with a later expiry, although nothing changed.
	for range 4 {
		s.clk.Advance(20 * time.Minute)
		if set := s.expect("/get", "1"); set == nil {
			t.Fatal("idle expiry was not extended")
		}
	}
	// A read within the touch interval costs no new cookie.
	if set := s.expect("/get", "1"); set != nil {
		t.Fatalf("refreshed within the touch interval: %v", set)
	}
	s.clk.Advance(30 * time.Minute)
	// An expired token reads as no session, and is left alone (a request
	// never clears a token it did not end itself: see sessionkit's
	// package documentation); the browser drops it on its own Max-Age.
	if set := s.expect("/get", "0"); set != nil {
		t.Fatalf("idle-expired session: cookie %v, want no Set-Cookie", set)
	}
}

func TestEndToEndAbsoluteTimeout(t *testing.T) {
	s := newServer(t, func(m *sessionkit.Manager) {
		m.IdleTimeout = 30 * time.Minute
		m.Lifetime = time.Hour
	})
	s.expect("/inc", "1")
	for _, step := range []string{"2", "3"} {
		s.clk.Advance(25 * time.Minute)
		s.expect("/inc", step)
	}
	s.clk.Advance(10 * time.Minute) // 60 minutes since creation
	s.expect("/get", "0")
}

// With no server state an old token can be replayed, but only until its
// sealed expiry (the documented limit).
func TestEndToEndReplayAfterExpiry(t *testing.T) {
	s := newServer(t, func(m *sessionkit.Manager) {
		m.IdleTimeout = 0
		m.Lifetime = time.Hour
	})
	s.expect("/inc", "1")
	old := s.jarToken()
	s.expect("/inc", "2")
	// Until it expires an old token still works: the documented limit.
	req, _ := http.NewRequest("GET", s.srv.URL+"/get", nil)
	req.Header.Set("Cookie", "session="+old)
	if body := fetch(t, req); body != "1" {
		t.Fatalf("replayed old token: %q, want 1", body)
	}
	s.clk.Advance(time.Hour)
	req.Header.Set("Cookie", "session="+old)
	if body := fetch(t, req); body != "0" {
		t.Fatalf("replayed expired token: %q, want 0", body)
	}
}

func fetch(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func TestEndToEndKeyRotation(t *testing.T) {
	s := newServer(t, nil, secretA)
	s.expect("/inc", "1")
	oldToken := s.jarToken()

	// Deploy a new key, keeping the old one for opening.
	s.use(nil, secretB, secretA)
	// A request that never touches its session does not open its token,
	// so it cannot reseal it (the package documentation says so).
	if _, _, set := s.get("/untouched"); set != nil || s.jarToken() != oldToken {
		t.Fatalf("a request that did not use its session resealed it: %v", set)
	}
	set := s.expect("/get", "1")
	if set == nil || set.Value == oldToken {
		t.Fatal("a token sealed with the retired key was not resealed on a read-only request")
	}
	if set := s.expect("/get", "1"); set != nil {
		t.Fatalf("resealed again: %v", set)
	}

	// Drop the old key: the client's token still opens.
	s.use(nil, secretB)
	s.expect("/inc", "2")
}

func TestEndToEndOversized(t *testing.T) {
	s := newServer(t, nil)
	s.expect("/inc", "1")
	code, body, set := s.get("/big")
	if code != http.StatusInternalServerError {
		t.Fatalf("oversized session: %d %q, want 500", code, body)
	}
	if set != nil {
		t.Fatalf("oversized session set a cookie of %d bytes", len(set.Value))
	}
	s.mu.Lock()
	failures := s.failures
	s.mu.Unlock()
	if len(failures) != 1 || !errors.Is(failures[0], sessionkit.ErrTooLarge) {
		t.Fatalf("ErrorHandler got %v, want one ErrTooLarge", failures)
	}
	// The client's previous session is intact.
	s.expect("/get", "1")
}

// TestLifetime runs the client-side lifetime journeys on sealed cookies.
func TestLifetime(t *testing.T) {
	storetest.RunLifetime(t, func(t *testing.T, now func() time.Time) *sessionkit.Manager {
		return sessionkit.NewClientSide(mustNew(t, cookiestore.Options{Secrets: [][]byte{secretA}, Now: now}))
	})
}
