package sessionkit_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestSignedCookiesWithKeyRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte("o"), 32), bytes.Repeat([]byte("n"), 32)
	oldSigner, err := sessionkit.NewHMACSigner(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(m *sessionkit.Manager) { m.Cookie.Signer = oldSigner })
	e.counterRoutes()
	e.get("/inc")
	signedOld := e.jarCookie(e.client)
	id, _, ok := strings.Cut(signedOld, ".")
	if !ok || !sessionkit.RandomIDs.ValidID(sessionkit.RandomIDs{}, id) {
		t.Fatalf("signed cookie %q is not id.signature", signedOld)
	}
	// The bare ID, or a forged signature, is not accepted.
	for _, v := range []string{id, id + ".AAAA", id + "." + strings.Repeat("A", 43)} {
		if _, body, _ := e.requestWithCookie("/read", "session="+v); body != "0" {
			t.Fatalf("cookie %q accepted: %q", v, body)
		}
	}
	// Rotate: sign with the new key, still accept the old.
	rotated, err := sessionkit.NewHMACSigner(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	e.m.Cookie.Signer = rotated
	if _, body, _ := e.requestWithCookie("/read", "session="+signedOld); body != "1" {
		t.Fatalf("old-key cookie rejected after rotation: %q", body)
	}
	e.get("/inc")
	// Drop the old key: a cookie signed with it no longer works.
	only, _ := sessionkit.NewHMACSigner(newKey)
	e.m.Cookie.Signer = only
	if _, body, _ := e.requestWithCookie("/read", "session="+signedOld); body != "0" {
		t.Fatalf("retired-key cookie still accepted: %q", body)
	}
}

func TestWeakSigningKeyRefused(t *testing.T) {
	if _, err := sessionkit.NewHMACSigner([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
	if _, err := sessionkit.NewHMACSigner(); err == nil {
		t.Fatal("no keys accepted")
	}
}

func TestHeaderTransport(t *testing.T) {
	e := newEnv(t, func(m *sessionkit.Manager) { m.Transport = sessionkit.NewHeaderTransport() })
	e.counterRoutes()
	do := func(token string) (string, http.Header) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/inc", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		if len(resp.Cookies()) != 0 {
			t.Error("header transport set a cookie")
		}
		return b.String(), resp.Header
	}
	body, h := do("")
	token := h.Get("Session-Token")
	if body != "1" || token == "" {
		t.Fatalf("first request: body %q token %q", body, token)
	}
	if body, h := do(token); body != "2" || h.Get("Session-Token") != "" {
		t.Fatalf("second request: body %q, token re-sent %q", body, h.Get("Session-Token"))
	}
	if body, _ := do("garbage"); body != "1" {
		t.Fatalf("garbage token: body %q, want a new session", body)
	}
}

// TestHeaderTransportDefaults: empty HeaderTransport fields take the
// defaults the field docs name, so a zero HeaderTransport works as
// NewHeaderTransport's does, and the response varies on the header read.
func TestHeaderTransportDefaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport *sessionkit.HeaderTransport
		reqHeader string // header the client sends the token in
		prefix    string // what precedes the token in it
		respName  string // header the new token comes back in
	}{
		{"zero value", &sessionkit.HeaderTransport{}, "Authorization", "Bearer ", "Session-Token"},
		{"authorization only", &sessionkit.HeaderTransport{RequestHeader: "Authorization"}, "Authorization", "Bearer ", "Session-Token"},
		{"own request header", &sessionkit.HeaderTransport{RequestHeader: "X-Session"}, "X-Session", "", "Session-Token"},
		{"own response header", &sessionkit.HeaderTransport{ResponseHeader: "X-New-Token"}, "Authorization", "Bearer ", "X-New-Token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(m *sessionkit.Manager) { m.Transport = tc.transport })
			e.counterRoutes()
			do := func(token string) (string, *http.Response) {
				t.Helper()
				req, _ := http.NewRequest("GET", e.srv.URL+"/inc", nil)
				if token != "" {
					req.Header.Set(tc.reqHeader, tc.prefix+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var b bytes.Buffer
				b.ReadFrom(resp.Body)
				return b.String(), resp
			}
			body, resp := do("")
			token := resp.Header.Get(tc.respName)
			if body != "1" || token == "" {
				t.Fatalf("first request: body %q, %s %q (headers %v)", body, tc.respName, token, resp.Header)
			}
			if !strings.Contains(resp.Header.Get("Cache-Control"), "private") {
				t.Errorf("first request: Cache-Control %q, want private", resp.Header.Get("Cache-Control"))
			}
			body, resp = do(token)
			if body != "2" {
				t.Fatalf("second request with the token: body %q, want 2", body)
			}
			if v := resp.Header.Get("Vary"); v != tc.reqHeader {
				t.Errorf("Vary %q, want %q", v, tc.reqHeader)
			}
		})
	}
}

func TestRememberMe(t *testing.T) {
	e := newEnv(t, func(m *sessionkit.Manager) { m.Persistent = false })
	e.counterRoutes()
	e.handle("GET /remember/{on}", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).RememberMe(r.PathValue("on") == "yes"); err != nil {
			t.Error(err)
		}
	})
	_, _, resp := e.get("/inc")
	if c := sessionCookie(resp, "session"); c == nil || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("default cookie %+v; want a browser-session cookie", c)
	}
	_, _, resp = e.get("/remember/yes")
	c := sessionCookie(resp, "session")
	if c == nil || c.MaxAge <= 0 || c.Expires.IsZero() {
		t.Fatalf("RememberMe(true) cookie %+v; want a persistent cookie", c)
	}
	// Remembered across requests: a later write keeps it persistent.
	_, _, resp = e.get("/inc")
	if c := sessionCookie(resp, "session"); c != nil && c.MaxAge <= 0 {
		t.Fatalf("persistent session downgraded: %+v", c)
	}
	_, _, resp = e.get("/remember/no")
	if c := sessionCookie(resp, "session"); c == nil || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("RememberMe(false) cookie %+v; want a browser-session cookie", c)
	}
	if _, body, _ := e.get("/read"); body != "2" {
		t.Fatalf("value = %q", body)
	}
}

func TestSecureCookieAndTrustedProxies(t *testing.T) {
	proxies, err := sessionkit.NewTrustedProxies("10.0.0.0/8", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	m := sessionkit.New(newEnv(t).mem)
	m.Proxies = proxies
	var clientIP string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("k", 1)
		clientIP = m.ClientIP(r)
	}))
	tests := []struct {
		name       string
		remote     string
		tls        bool
		proto, xff string
		wantSecure bool
		wantIP     string
	}{
		{"plain http", "203.0.113.5:1234", false, "", "", false, "203.0.113.5"},
		{"direct TLS", "203.0.113.5:1234", true, "", "", true, "203.0.113.5"},
		{"untrusted proxy header ignored", "203.0.113.5:1234", false, "https", "198.51.100.7", false, "203.0.113.5"},
		{"trusted proxy https", "10.1.2.3:1234", false, "https", "198.51.100.7", true, "198.51.100.7"},
		{"trusted proxy chain", "10.1.2.3:1234", false, "http, https", "198.51.100.7, 10.9.9.9", true, "198.51.100.7"},
		{"trusted proxy says http", "192.0.2.1:80", false, "http", "", false, "192.0.2.1"},
		{"spoofed XFF beyond an untrusted hop", "10.1.2.3:1234", false, "", "1.1.1.1, 198.51.100.7", false, "198.51.100.7"},
		{"garbage XFF", "10.1.2.3:1234", false, "", "not-an-ip", false, "10.1.2.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			cookies := rec.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies = %v", cookies)
			}
			if cookies[0].Secure != tc.wantSecure {
				t.Errorf("Secure = %v, want %v", cookies[0].Secure, tc.wantSecure)
			}
			if clientIP != tc.wantIP {
				t.Errorf("ClientIP = %q, want %q", clientIP, tc.wantIP)
			}
		})
	}
	if _, err := sessionkit.NewTrustedProxies("not a cidr"); err == nil {
		t.Fatal("bad CIDR accepted")
	}
}

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t, func(m *sessionkit.Manager) {
		m.Cookie.Name = "sid"
		m.Cookie.Domain = "example.test"
		m.Cookie.Path = "/app"
		m.Cookie.SameSite = http.SameSiteStrictMode
		m.Cookie.Partitioned = true
		m.Cookie.Secure = sessionkit.SecureAlways
	})
	e.handle("GET /app/set", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Set("k", 1)
	})
	_, _, resp := e.get("/app/set")
	raw := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"sid=", "Domain=example.test", "Path=/app", "Secure", "HttpOnly", "SameSite=Strict", "Partitioned", "Max-Age="} {
		if !strings.Contains(raw, want) {
			t.Errorf("Set-Cookie %q lacks %q", raw, want)
		}
	}
}

func TestSaveUninitialized(t *testing.T) {
	e := newEnv(t, func(m *sessionkit.Manager) { m.SaveUninitialized = true })
	e.counterRoutes()
	// A first visit that never touches its session: no session, as the
	// field's doc says (unlike express-session, which saves every one).
	if _, _, resp := e.do(e.newClient(), "/untouched"); sessionCookie(resp, "session") != nil || e.store.calls() != 0 {
		t.Fatalf("an untouched first visit got a cookie or made %d store calls", e.store.calls())
	}
	_, _, resp := e.get("/read")
	if sessionCookie(resp, "session") == nil {
		t.Fatal("SaveUninitialized: an accessed new session was not stored")
	}
	if n, _ := e.mem.Stats(); n != 1 {
		t.Fatalf("store has %d records", n)
	}
	_, _, resp = e.get("/untouched")
	if n, _ := e.mem.Stats(); n != 1 || sessionCookie(resp, "session") != nil {
		t.Fatal("an untouched request stored or re-sent a session")
	}
}

func TestReloadAndExplicitSave(t *testing.T) {
	e := newEnv(t)
	e.counterRoutes()
	e.handle("GET /reload", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("n", 100)
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
		n, _ := sessionkit.Get[int](s, "n")
		fmt.Fprint(w, n)
	})
	e.handle("GET /save", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("saved", true)
		if err := s.Save(); err != nil {
			t.Error(err)
		}
		// Saved before the response: another client sees it now.
		ok, _ := sessionkit.Get[bool](s, "saved")
		fmt.Fprint(w, ok)
	})
	e.get("/inc")
	if _, body, _ := e.get("/reload"); body != "1" {
		t.Fatalf("Reload kept an uncommitted change: %q", body)
	}
	if _, body, _ := e.get("/save"); body != "true" {
		t.Fatalf("after Save: %q", body)
	}
	if cookies := e.jarCookie(e.client); cookies == "" {
		t.Fatal("lost the cookie")
	}
}

func TestGetTypes(t *testing.T) {
	e := newEnv(t)
	type profile struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	e.handle("GET /set", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		for k, v := range map[string]any{"i": 42, "s": "Zoë <b>&", "esc": "a\"b\\c", "b": true, "f": 1.5, "p": profile{"ann", []string{"admin"}}} {
			if err := s.Set(k, v); err != nil {
				t.Error(err)
			}
		}
		if err := s.Set("bad", make(chan int)); err == nil {
			t.Error("Set accepted a value JSON cannot encode")
		}
	})
	e.handle("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		i, err1 := sessionkit.Get[int](s, "i")
		str, err2 := sessionkit.Get[string](s, "s")
		esc, err3 := sessionkit.Get[string](s, "esc")
		b, err4 := sessionkit.Get[bool](s, "b")
		f, err5 := sessionkit.Get[float64](s, "f")
		p, err6 := sessionkit.Get[profile](s, "p")
		missing, err7 := sessionkit.Get[string](s, "missing")
		_, wrongType := sessionkit.Get[int](s, "s")
		for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
			if err != nil {
				t.Error(err)
			}
		}
		if i != 42 || str != "Zoë <b>&" || esc != "a\"b\\c" || !b || f != 1.5 || p.Name != "ann" || p.Roles[0] != "admin" || missing != "" {
			t.Errorf("got %v %q %q %v %v %+v %q", i, str, esc, b, f, p, missing)
		}
		if wrongType == nil {
			t.Error("Get[int] of a string value did not fail")
		}
		if s.Has("missing") || !s.Has("p") {
			t.Error("Has is wrong")
		}
	})
	e.get("/set")
	e.get("/get")
}

func TestNoMiddleware(t *testing.T) {
	s := sessionkit.From(httptest.NewRequest("GET", "/", nil).Context())
	if s != nil {
		t.Fatal("From without middleware returned a session")
	}
	if _, err := sessionkit.Get[int](s, "k"); err != sessionkit.ErrNoSession {
		t.Fatalf("Get on nil session: %v", err)
	}
	if err := s.Set("k", 1); err != sessionkit.ErrNoSession {
		t.Fatalf("Set on nil session: %v", err)
	}
	if s.Has("k") || s.ID() != "" || s.Keys() != nil {
		t.Fatal("nil session reports data")
	}
}

func TestReloadOfNewSessionDiscardsChanges(t *testing.T) {
	e := newEnv(t)
	e.handle("GET /", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		s.Set("a", 1)
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
		if s.Has("a") {
			t.Error("Reload kept a change to an unsaved session")
		}
	})
	_, _, resp := e.get("/")
	if sessionCookie(resp, "session") != nil {
		t.Fatal("a reloaded, empty new session was stored")
	}
}

func TestHMACSignatureHasOneSpelling(t *testing.T) {
	s, err := sessionkit.NewHMACSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	signed := s.Sign("token")
	if _, ok := s.Verify(signed); !ok {
		t.Fatal("Verify refused its own signature")
	}
	i := len(signed) - 10
	for _, bad := range []string{signed[:i] + "\r" + signed[i:], signed[:i] + "\n" + signed[i:], signed + "\n"} {
		if _, ok := s.Verify(bad); ok {
			t.Errorf("Verify accepted %q", bad)
		}
	}
}
