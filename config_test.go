package sessionkit_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// Settings that cannot work are refused when the Handler is made: every
// request gets the ErrorHandler's answer, naming the setting, and nothing
// is stored — instead of a session stored with no cookie (net/http drops a
// cookie with an invalid name), a silently altered Path or Domain, a cookie
// browsers refuse, or a panic.
func TestUnworkableSettingsRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*sessionkit.Manager)
		want      string // in the error
	}{
		{"empty cookie name", func(m *sessionkit.Manager) { m.Cookie.Name = "" }, "Cookie.Name"},
		{"cookie name with a space", func(m *sessionkit.Manager) { m.Cookie.Name = "my session" }, "Cookie.Name"},
		{"zero CookieTransport", func(m *sessionkit.Manager) { m.Cookie = sessionkit.CookieTransport{} }, "Path"},
		{"Transport is a zero CookieTransport", func(m *sessionkit.Manager) { m.Transport = &sessionkit.CookieTransport{Path: "/"} }, "Cookie.Name"},
		{"empty path", func(m *sessionkit.Manager) { m.Cookie.Path = "" }, "Path"},
		{"relative path", func(m *sessionkit.Manager) { m.Cookie.Path = "app" }, "Path"},
		{"path with a semicolon", func(m *sessionkit.Manager) { m.Cookie.Path = "/a;b" }, "Cookie.Path"},
		{"domain with a space", func(m *sessionkit.Manager) { m.Cookie.Domain = "exa mple.com" }, "Cookie.Domain"},
		{"SameSite=None, never Secure", func(m *sessionkit.Manager) {
			m.Cookie.SameSite, m.Cookie.Secure = http.SameSiteNoneMode, sessionkit.SecureNever
		}, "Secure"},
		{"Partitioned, never Secure", func(m *sessionkit.Manager) {
			m.Cookie.Partitioned, m.Cookie.Secure = true, sessionkit.SecureNever
		}, "Secure"},
		// RFC 6265bis cookie name prefixes: browsers drop these cookies.
		{"__Host- name, never Secure", func(m *sessionkit.Manager) { m.Cookie.Name, m.Cookie.Secure = "__Host-sid", sessionkit.SecureNever }, "needs Secure"},
		{"__Secure- name, never Secure", func(m *sessionkit.Manager) { m.Cookie.Name, m.Cookie.Secure = "__Secure-sid", sessionkit.SecureNever }, "needs Secure"},
		{"__host- name, never Secure", func(m *sessionkit.Manager) { m.Cookie.Name, m.Cookie.Secure = "__host-sid", sessionkit.SecureNever }, "needs Secure"},
		{"__Host- name with a Domain", func(m *sessionkit.Manager) { m.Cookie.Name, m.Cookie.Domain = "__Host-sid", "example.com" }, "no Domain"},
		{"__Host- name with a Path", func(m *sessionkit.Manager) { m.Cookie.Name, m.Cookie.Path = "__Host-sid", "/app" }, "Path \"/\""},
		{"unknown Secure mode", func(m *sessionkit.Manager) { m.Cookie.Secure = sessionkit.SecureMode(7) }, "Secure mode"},
		{"unknown SameSite mode", func(m *sessionkit.Manager) { m.Cookie.SameSite = http.SameSite(9) }, "SameSite mode"},
		{"HMACSigner without keys", func(m *sessionkit.Manager) { m.Cookie.Signer = &sessionkit.HMACSigner{} }, "NewHMACSigner"},
		{"negative Lifetime", func(m *sessionkit.Manager) { m.Lifetime = -time.Hour }, "negative"},
		{"negative IdleTimeout", func(m *sessionkit.Manager) { m.IdleTimeout = -time.Hour }, "negative"},
		{"nil Codec", func(m *sessionkit.Manager) { m.Codec = nil }, "Codec"},
		{"nil IDs", func(m *sessionkit.Manager) { m.IDs = nil }, "IDs"},
		{"IDs refusing their own IDs", func(m *sessionkit.Manager) { m.IDs = badIDs{"abc", false} }, "ValidID refuses"},
		{"IDs that are no cookie value", func(m *sessionkit.Manager) { m.IDs = badIDs{"a b;c", true} }, "cookie value"},
		{"Manager literal", func(m *sessionkit.Manager) { *m = sessionkit.Manager{Lifetime: time.Hour, Logger: m.Logger} }, "New"},
		{"nil *HeaderTransport", func(m *sessionkit.Manager) { m.Transport = (*sessionkit.HeaderTransport)(nil) }, "HeaderTransport"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			e := newEnv(t, tc.configure, func(m *sessionkit.Manager) {
				m.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					got = err
					http.Error(w, "unavailable", http.StatusServiceUnavailable)
				}
			})
			e.counterRoutes()
			status, _, resp := e.get("/inc")
			if status != http.StatusServiceUnavailable || got == nil || !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("status %d, error %v; want 503 and an error naming %q", status, got, tc.want)
			}
			if n := e.store.calls(); n != 0 || len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Fatalf("%d store calls, Set-Cookie %q", n, resp.Header.Values("Set-Cookie"))
			}
			// Background jobs get the same error, not a panic.
			if _, err := e.m.Load(t.Context(), sessionkit.RandomIDs{}.NewID()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error naming %q", err, tc.want)
			}
			if _, err := e.m.LoadKey(t.Context(), "key"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadKey: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	// The settings those checks must not refuse.
	for _, tc := range []struct {
		name      string
		configure func(*sessionkit.Manager)
		want      string // in Set-Cookie
	}{
		{"SameSite=None, SecureAuto", func(m *sessionkit.Manager) { m.Cookie.SameSite = http.SameSiteNoneMode }, "SameSite=None"},
		{"Partitioned, always Secure", func(m *sessionkit.Manager) {
			m.Cookie.Partitioned, m.Cookie.Secure = true, sessionkit.SecureAlways
		}, "Partitioned"},
		{"dotted name, domain", func(m *sessionkit.Manager) { m.Cookie.Name, m.Cookie.Domain = "connect.sid", ".example.com" }, "connect.sid="},
		{"__Host- name, SecureAuto", func(m *sessionkit.Manager) { m.Cookie.Name = "__Host-sid" }, "__Host-sid="},
		{"__Secure- name with a Path and Domain", func(m *sessionkit.Manager) {
			m.Cookie.Name, m.Cookie.Path, m.Cookie.Domain = "__Secure-sid", "/app", "example.com"
		}, "__Secure-sid="},
		{"header transport", func(m *sessionkit.Manager) { m.Transport = &sessionkit.HeaderTransport{} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.configure)
			e.counterRoutes()
			status, _, resp := e.get("/inc")
			if status != http.StatusOK || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), tc.want) {
				t.Fatalf("status %d, Set-Cookie %q, want 200 and %q", status, resp.Header.Values("Set-Cookie"), tc.want)
			}
		})
	}
}

// badIDs makes the ID id, and ValidID reports valid for every ID.
type badIDs struct {
	id    string
	valid bool
}

func (b badIDs) NewID() string       { return b.id }
func (b badIDs) ValidID(string) bool { return b.valid }

// A token the transport refuses before the Manager sees it — a cookie
// whose signature does not verify, or one over MaxSize — is reported as
// EventBadToken, as a malformed one is; a header that is not the
// transport's (HTTP Basic credentials) is not.
func TestRefusedTokensAreObserved(t *testing.T) {
	signer, err := sessionkit.NewHMACSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	id := sessionkit.RandomIDs{}.NewID()
	forged := id + "." + strings.Repeat("A", 43)
	for _, tc := range []struct {
		name      string
		configure func(*sessionkit.Manager)
		header    http.Header
		bad       bool
	}{
		{"forged signature", func(m *sessionkit.Manager) { m.Cookie.Signer = signer }, http.Header{"Cookie": {"session=" + forged}}, true},
		{"unsigned", func(m *sessionkit.Manager) { m.Cookie.Signer = signer }, http.Header{"Cookie": {"session=" + id}}, true},
		{"over MaxSize", func(m *sessionkit.Manager) { m.Cookie.MaxSize = 40 }, http.Header{"Cookie": {"session=" + id}}, true},
		{"empty cookie", nil, http.Header{"Cookie": {"session="}}, false},
		{"another cookie", nil, http.Header{"Cookie": {"other=" + id}}, false},
		{"bearer over MaxSize", func(m *sessionkit.Manager) { m.Transport = &sessionkit.HeaderTransport{MaxSize: 40} },
			http.Header{"Authorization": {"Bearer " + id}}, true},
		{"basic credentials", func(m *sessionkit.Manager) { m.Transport = &sessionkit.HeaderTransport{} },
			http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &eventLog{}
			e := newEnv(t, func(m *sessionkit.Manager) {
				m.Observer = log.observe
				if tc.configure != nil {
					tc.configure(m)
				}
			})
			e.counterRoutes()
			req, _ := http.NewRequest("GET", e.srv.URL+"/read", nil)
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := kinds(log.take())
			if bad := len(got) == 1 && got[0] == "bad-token"; bad != tc.bad || (!tc.bad && len(got) != 0) {
				t.Fatalf("status %d, events %v; want a bad-token event: %v", resp.StatusCode, got, tc.bad)
			}
		})
	}
}

// A cookie signed with a retired HMACSigner key is accepted and, on the
// first response that uses the session, sent again signed with the current
// key and the session's own expiry, whatever the Rolling mode: once every
// session live at the rotation has been used or has expired, the old key
// can go without signing anyone out.
func TestRetiredHMACKeyCookieIsResigned(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte("o"), 32), bytes.Repeat([]byte("n"), 32)
	oldSigner, _ := sessionkit.NewHMACSigner(oldKey)
	rotated, _ := sessionkit.NewHMACSigner(newKey, oldKey)
	onlyNew, _ := sessionkit.NewHMACSigner(newKey)
	for _, rolling := range []sessionkit.Rolling{sessionkit.RollingThrottled, sessionkit.RollingNever, sessionkit.RollingOnWrite} {
		t.Run(rolling.String(), func(t *testing.T) {
			e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) {
				m.Rolling = rolling
				m.Cookie.Signer = oldSigner
			})
			e.do("POST", "/write")
			before, ok := e.client.Cookie("session")
			if !ok {
				t.Fatal("no cookie")
			}
			e.clock.Advance(10 * time.Second) // within every touch interval
			e.m.Cookie.Signer = rotated
			resp, body := e.do("GET", "/read")
			after, _ := e.client.Cookie("session")
			if body != "1" || sessionCookie(resp, "session") == nil || after.Value == before.Value {
				t.Fatalf("read %q with the rotated signer: Set-Cookie %q; want the cookie signed again", body, resp.Header.Values("Set-Cookie"))
			}
			if !after.Expires.Equal(before.Expires) && rolling != sessionkit.RollingThrottled {
				t.Fatalf("re-signed cookie expires %v, want the session's %v", after.Expires, before.Expires)
			}
			// A cookie already signed with the current key is not sent again.
			if resp, _ := e.do("GET", "/read"); sessionCookie(resp, "session") != nil {
				t.Fatalf("current-key cookie sent again: %q", resp.Header.Values("Set-Cookie"))
			}
			e.m.Cookie.Signer = onlyNew
			if _, body := e.do("GET", "/read"); body != "1" {
				t.Fatalf("after the old key was dropped: %q, want the session", body)
			}
		})
	}
}

// twoKeySigner is a custom sessionkit.RotatingSigner: it signs with
// current and also accepts retired's signatures, reporting them as
// retired.
type twoKeySigner struct{ current, retired *sessionkit.HMACSigner }

func (s twoKeySigner) Sign(token string) string { return s.current.Sign(token) }

func (s twoKeySigner) Verify(signed string) (string, bool) {
	token, ok, _ := s.VerifyRotation(signed)
	return token, ok
}

func (s twoKeySigner) VerifyRotation(signed string) (string, bool, bool) {
	if token, ok := s.current.Verify(signed); ok {
		return token, true, false
	}
	if token, ok := s.retired.Verify(signed); ok {
		return token, true, true
	}
	return "", false, false
}

// A custom Signer that reports retired keys (RotatingSigner) gets its
// cookies signed again as HMACSigner's are.
func TestRotatingSignerCookieIsResigned(t *testing.T) {
	oldSigner, _ := sessionkit.NewHMACSigner(bytes.Repeat([]byte("o"), 32))
	newSigner, _ := sessionkit.NewHMACSigner(bytes.Repeat([]byte("n"), 32))
	e := newBrowserEnv(t, nil, func(m *sessionkit.Manager) { m.Cookie.Signer = oldSigner })
	e.do("POST", "/write")
	before, _ := e.client.Cookie("session")
	e.clock.Advance(10 * time.Second) // within the touch interval
	e.m.Cookie.Signer = twoKeySigner{current: newSigner, retired: oldSigner}
	resp, body := e.do("GET", "/read")
	after, _ := e.client.Cookie("session")
	if body != "1" || sessionCookie(resp, "session") == nil || after.Value == before.Value {
		t.Fatalf("read %q: Set-Cookie %q; want the cookie signed again", body, resp.Header.Values("Set-Cookie"))
	}
	if _, ok := newSigner.Verify(after.Value); !ok {
		t.Fatalf("re-sent cookie %q is not signed with the current key", after.Value)
	}
	if resp, _ := e.do("GET", "/read"); sessionCookie(resp, "session") != nil {
		t.Fatalf("current-key cookie sent again: %q", resp.Header.Values("Set-Cookie"))
	}
}

// Nested Managers whose HeaderTransports share a header cannot both work
// (the client sends one Authorization header and keeps one Session-Token):
// every request is refused, as for nested Managers sharing a cookie,
// instead of one session being stored and its token overwritten by the
// other's. Different headers nest.
func TestNestedHeaderTransportsSharingAHeaderRefused(t *testing.T) {
	for _, tc := range []struct {
		name         string
		outer, inner *sessionkit.HeaderTransport
		refused      bool
	}{
		{"both default", sessionkit.NewHeaderTransport(), &sessionkit.HeaderTransport{}, true},
		{"same response header", &sessionkit.HeaderTransport{RequestHeader: "X-A"}, &sessionkit.HeaderTransport{RequestHeader: "X-B"}, true},
		{"same request header, other scheme", &sessionkit.HeaderTransport{Scheme: "Token", ResponseHeader: "X-A"}, &sessionkit.HeaderTransport{ResponseHeader: "x-b"}, true},
		{"own headers", &sessionkit.HeaderTransport{RequestHeader: "X-A", ResponseHeader: "X-A-New"},
			&sessionkit.HeaderTransport{RequestHeader: "X-B", ResponseHeader: "X-B-New"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			outer, inner := sessionkit.New(mem), sessionkit.New(mem)
			outer.Logger, inner.Logger = discardLogger(), discardLogger()
			outer.Transport, inner.Transport = tc.outer, tc.inner
			h := outer.Handler(inner.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				outer.From(r.Context()).Set("outer", 1)
				inner.From(r.Context()).Set("inner", 1)
			})))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if refused := rec.Code == http.StatusServiceUnavailable; refused != tc.refused {
				t.Fatalf("status %d, headers %v; want refused: %v", rec.Code, rec.Header(), tc.refused)
			}
			if !tc.refused && (rec.Header().Get("X-A-New") == "" || rec.Header().Get("X-B-New") == "") {
				t.Fatalf("headers %v, want a token from each Manager", rec.Header())
			}
		})
	}
}

// A token longer than HeaderTransport.MaxSize would be refused when the
// client sends it back, so writing one fails the request with ErrTooLarge
// (as a cookie over CookieTransport.MaxSize does) instead of handing the
// client a session that is lost on its next request.
func TestHeaderTokenOverMaxSizeIsTooLarge(t *testing.T) {
	cs, err := cookiestore.New("session", bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	for _, tc := range []struct {
		name string
		m    *sessionkit.Manager
		max  int
		v    string
	}{
		{"server-side ID", sessionkit.New(mem), 40, "x"},
		{"sealed session", sessionkit.NewClientSide(cs), 200, sessionkit.RandomIDs{}.NewID() + sessionkit.RandomIDs{}.NewID() + sessionkit.RandomIDs{}.NewID() + sessionkit.RandomIDs{}.NewID()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			m := tc.m
			m.Logger = discardLogger()
			m.Transport = &sessionkit.HeaderTransport{MaxSize: tc.max}
			m.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				http.Error(w, "too large", http.StatusInternalServerError)
			}
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sessionkit.From(r.Context()).Set("v", tc.v)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if !errors.Is(got, sessionkit.ErrTooLarge) || rec.Header().Get("Session-Token") != "" {
				t.Fatalf("status %d, error %v, Session-Token %d bytes; want ErrTooLarge and no token", rec.Code, got, len(rec.Header().Get("Session-Token")))
			}
		})
	}
}
