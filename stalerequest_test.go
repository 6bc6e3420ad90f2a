package sessionkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// TestStaleRequestKeepsNewLogin: a browser sends a request with its
// pre-login cookie, logs in while that request is still being served
// (the login gives it a new cookie of the same name), and then receives
// the stale request's answer. That answer must not take the new cookie
// away: the user stays signed in. The stale request finds its session
// gone either when it first reads it (read) or when it commits a change
// made before the login (write).
func TestStaleRequestKeepsNewLogin(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stale is the slow handler: it calls hold at the moment the
		// login must happen.
		stale func(s *sessionkit.Session, hold func()) error
	}{
		{"read", func(s *sessionkit.Session, hold func()) error {
			hold()
			_, err := sessionkit.Get[int](s, "n")
			if err == sessionkit.ErrNotFound {
				err = nil // the session is gone: a new, empty one
			}
			return err
		}},
		{"write", func(s *sessionkit.Session, hold func()) error {
			n, err := sessionkit.Get[int](s, "n")
			if err != nil {
				return err
			}
			hold()
			return s.Set("n", n+1)
		}},
		{"read, throttled touch due", func(s *sessionkit.Session, hold func()) error {
			hold()
			return s.Touch()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memstore.New(memstore.Options{SweepInterval: -1})
			t.Cleanup(func() { mem.Close() })
			m := sessionkit.New(mem)
			m.Logger = discardLogger()
			arrived, release := make(chan struct{}), make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("GET /visit", func(w http.ResponseWriter, r *http.Request) {
				sessionkit.From(r.Context()).Set("n", 1)
			})
			mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
				hold := func() { close(arrived); <-release }
				if err := tc.stale(sessionkit.From(r.Context()), hold); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
				}
			})
			mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.From(r.Context())
				if err := s.Regenerate(); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				s.Set("user", "ann")
			})
			mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
				u, _ := sessionkit.Get[string](sessionkit.From(r.Context()), "user")
				fmt.Fprint(w, u)
			})
			srv := httptest.NewServer(m.Handler(mux))
			t.Cleanup(srv.Close)
			c, err := browser.NewClient(srv.URL, browser.NewClock().Now)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Do("GET", "/visit"); err != nil {
				t.Fatal(err)
			}
			type answer struct {
				resp *http.Response
				err  error
			}
			slow := make(chan answer, 1)
			go func() {
				resp, _, err := c.Do("GET", "/slow")
				slow <- answer{resp, err}
			}()
			<-arrived
			if resp, _, err := c.Do("POST", "/login"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("login: %v, %v", resp, err)
			}
			close(release)
			a := <-slow
			if a.err != nil || a.resp.StatusCode != 200 {
				t.Fatalf("stale request: %v, %v", a.resp, a.err)
			}
			for _, ck := range a.resp.Cookies() {
				if ck.Name == "session" {
					t.Errorf("the stale request's answer set the session cookie: %v", ck)
				}
			}
			if _, who, err := c.Do("GET", "/whoami"); err != nil || who != "ann" {
				t.Errorf("after the stale answer: whoami = %q, %v; want ann (still signed in)", who, err)
			}
		})
	}
}

// TestDeadTokenLeftAlone: a request with a token whose session is gone
// (revoked elsewhere, expired, or never issued here) gets no Set-Cookie
// when it stores nothing; Destroy still clears the cookie.
func TestDeadTokenLeftAlone(t *testing.T) {
	mem := memstore.New(memstore.Options{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	m := sessionkit.New(mem)
	m.Logger = discardLogger()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		switch r.URL.Path {
		case "/visit":
			s.Set("n", 1)
		case "/read":
			sessionkit.Get[int](s, "n")
		case "/logout":
			s.Destroy()
		}
	}))
	cookie := func(rec *httptest.ResponseRecorder) *http.Cookie {
		for _, c := range rec.Result().Cookies() {
			if c.Name == "session" {
				return c
			}
		}
		return nil
	}
	serve := func(path, token string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		if token != "" {
			req.AddCookie(&http.Cookie{Name: "session", Value: token})
		}
		h.ServeHTTP(rec, req)
		return rec
	}
	visit := cookie(serve("/visit", ""))
	if visit == nil {
		t.Fatal("no cookie for a new session")
	}
	if err := mem.Delete(t.Context(), m.KeyOf(visit.Value)); err != nil {
		t.Fatal(err)
	}
	if c := cookie(serve("/read", visit.Value)); c != nil {
		t.Errorf("read with a dead token: Set-Cookie %v, want none", c)
	}
	if c := cookie(serve("/read", "not-a-token")); c != nil {
		t.Errorf("read with a malformed token: Set-Cookie %v, want none", c)
	}
	if c := cookie(serve("/logout", visit.Value)); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout with a dead token: Set-Cookie %v, want the cookie cleared", c)
	}
	live := cookie(serve("/visit", ""))
	if c := cookie(serve("/logout", live.Value)); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout: Set-Cookie %v, want the cookie cleared", c)
	}
}
