package sessionkit_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// TestDestroyWithoutCookieSendsNothing: Destroy on a request that came
// with no session cookie has no token to clear, so the response carries
// no Set-Cookie; with a cookie it is still cleared (and the browser drops
// it); values set after Destroy still start a new session with a new
// cookie, with or without one.
func TestDestroyWithoutCookieSendsNothing(t *testing.T) {
	e := newEnv(t)
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	e.handle("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	e.handle("GET /destroy-set", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Destroy()
		s.Set("flash", "bye")
	})
	e.handle("GET /regenerate", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Regenerate()
	})

	t.Run("no cookie", func(t *testing.T) {
		for _, path := range []string{"/destroy", "/regenerate"} {
			c := e.newClient()
			code, _, resp := e.do(c, path)
			if code != http.StatusOK || len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("GET %s without a cookie: status %d, Set-Cookie %q; want 200 and none", path, code, resp.Header.Values("Set-Cookie"))
			}
		}
	})
	t.Run("with a cookie", func(t *testing.T) {
		c := e.newClient()
		e.do(c, "/set")
		if e.jarCookie(c) == "" {
			t.Fatal("no cookie after /set")
		}
		_, _, resp := e.do(c, "/destroy")
		ck := sessionCookie(resp, e.m.Cookie.Name)
		if ck == nil || ck.MaxAge >= 0 {
			t.Errorf("Destroy with a cookie: Set-Cookie %q, want the cookie expired", resp.Header.Values("Set-Cookie"))
		}
		if v := e.jarCookie(c); v != "" {
			t.Errorf("the browser still holds %q after Destroy", v)
		}
		if n := e.liveRecords(); n != 0 {
			t.Errorf("%d records after Destroy, want 0", n)
		}
	})
	t.Run("destroy then set", func(t *testing.T) {
		for _, withCookie := range []bool{false, true} {
			c := e.newClient()
			old := ""
			if withCookie {
				e.do(c, "/set")
				old = e.jarCookie(c)
			}
			before := e.liveRecords()
			e.do(c, "/destroy-set")
			got := e.jarCookie(c)
			if got == "" || got == old {
				t.Errorf("cookie %v: after Destroy then Set the browser holds %q (before %q), want a new session's cookie", withCookie, got, old)
			}
			// The new session is stored; the destroyed one, if any, is not.
			want := before + 1
			if withCookie {
				want = before
			}
			if n := e.liveRecords(); n != want {
				t.Errorf("cookie %v: %d records after Destroy then Set, want %d", withCookie, n, want)
			}
		}
	})
}

// TestDestroyWithoutHeaderTokenSendsNothing is
// TestDestroyWithoutCookieSendsNothing for the HeaderTransport: no empty
// Session-Token ("forget your token") for a client that sent none, one
// for a client that did.
func TestDestroyWithoutHeaderTokenSendsNothing(t *testing.T) {
	e := newEnv(t, func(m *sessionkit.Manager) { m.Transport = &sessionkit.HeaderTransport{} })
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("n", 1)
	})
	e.handle("GET /destroy", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Destroy()
	})
	get := func(path, token string) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
		return resp
	}
	if v, ok := get("/destroy", "").Header["Session-Token"]; ok {
		t.Errorf("Destroy without a token: Session-Token %q, want none", v)
	}
	token := get("/set", "").Header.Get("Session-Token")
	if token == "" {
		t.Fatal("no token after /set")
	}
	if v, ok := get("/destroy", token).Header["Session-Token"]; !ok || len(v) != 1 || v[0] != "" {
		t.Errorf("Destroy with a token: Session-Token %q (present %v), want one empty value", v, ok)
	}
}
