package sessionkit_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// Responses that set the session cookie, or depend on the session, are
// kept out of shared caches (RFC 9111) without overriding what the
// handler chose for its own content.
func TestSharedCacheHeaders(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	newServer := func(transport sessionkit.Transport) *httptest.Server {
		m := sessionkit.New(mem)
		m.Logger = discardLogger()
		if transport != nil {
			m.Transport = transport
		}
		mux := http.NewServeMux()
		// /set?cc=...&vary=... sets a value (a new cookie for a new
		// session) after setting the handler's own headers.
		mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
			appHeaders(w, r)
			sessionkit.From(r.Context()).Set("k", r.URL.Query().Get("v"))
			w.Write([]byte("ok"))
		})
		mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
			appHeaders(w, r)
			sessionkit.From(r.Context()).Has("k")
			w.Write([]byte("ok"))
		})
		mux.HandleFunc("/static", func(w http.ResponseWriter, r *http.Request) {
			appHeaders(w, r)
			w.Write([]byte("ok"))
		})
		mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
			appHeaders(w, r)
			sessionkit.From(r.Context()).Destroy()
		})
		srv := httptest.NewServer(m.Handler(mux))
		t.Cleanup(srv.Close)
		return srv
	}
	cookieSrv, headerSrv := newServer(nil), newServer(sessionkit.NewHeaderTransport())

	// A session to use in requests that present a token.
	resp := get(t, cookieSrv.URL+"/set?v=1", "", "")
	cookie := resp.Header.Get("Set-Cookie")
	cookie = cookie[:strings.IndexByte(cookie, ';')]
	resp = get(t, headerSrv.URL+"/set?v=1", "", "")
	token := "Bearer " + resp.Header.Get("Session-Token")

	tests := []struct {
		name      string
		srv       *httptest.Server
		path      string
		cookie    string // Cookie header, or Authorization for headerSrv
		wantCC    string // "-" for none
		wantVary  string // "-" for none
		wantToken bool
	}{
		{"new session, no Cache-Control", cookieSrv, "/set?v=2", "", "private", "Cookie", true},
		{"new session, public content", cookieSrv, "/set?v=2&cc=public,+max-age%3D60", "", `public, max-age=60, private="Set-Cookie"`, "Cookie", true},
		{"new session, s-maxage", cookieSrv, "/set?v=2&cc=s-maxage%3D600", "", `s-maxage=600, private="Set-Cookie"`, "Cookie", true},
		{"new session, no-cache is not enough", cookieSrv, "/set?v=2&cc=no-cache", "", `no-cache, private="Set-Cookie"`, "Cookie", true},
		{"new session, handler said private", cookieSrv, "/set?v=2&cc=private,+max-age%3D0", "", "private, max-age=0", "Cookie", true},
		{"new session, handler said no-store", cookieSrv, "/set?v=2&cc=no-store", "", "no-store", "Cookie", true},
		{"new session, handler's Vary kept", cookieSrv, "/set?v=2&vary=Accept-Encoding", "", "private", "Accept-Encoding, Cookie", true},
		{"Vary * left alone", cookieSrv, "/set?v=2&vary=*", "", "private", "*", true},
		{"Vary already names cookie", cookieSrv, "/set?v=2&vary=accept,+cookie", "", "private", "accept, cookie", true},
		{"unreadable Cache-Control replaced", cookieSrv, "/set?v=2&cc=max-age%3D%22x", "", "private", "Cookie", true},
		{"read, unchanged session", cookieSrv, "/read?cc=public,+max-age%3D60", cookie, "public, max-age=60", "Cookie", false},
		{"read without a session", cookieSrv, "/read", "", "-", "Cookie", false},
		{"session not used", cookieSrv, "/static?cc=public,+max-age%3D60", cookie, "public, max-age=60", "-", false},
		{"logout clears the cookie", cookieSrv, "/logout?cc=public,+max-age%3D60", cookie, `public, max-age=60, private="Set-Cookie"`, "Cookie", true},
		{"header transport, new token", headerSrv, "/set?v=2&cc=public,+max-age%3D60", "", `public, max-age=60, private="Session-Token"`, "Authorization", true},
		{"header transport, read", headerSrv, "/read", token, "-", "Authorization", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header := "Cookie"
			if tc.srv == headerSrv {
				header = "Authorization"
			}
			resp := get(t, tc.srv.URL+tc.path, header, tc.cookie)
			gotToken := resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Session-Token") != ""
			if gotToken != tc.wantToken {
				t.Fatalf("token sent = %v, want %v (%v)", gotToken, tc.wantToken, resp.Header)
			}
			if got := orDash(strings.Join(resp.Header.Values("Cache-Control"), ", ")); got != tc.wantCC {
				t.Errorf("Cache-Control = %q, want %q", got, tc.wantCC)
			}
			if got := orDash(strings.Join(resp.Header.Values("Vary"), ", ")); got != tc.wantVary {
				t.Errorf("Vary = %q, want %q", got, tc.wantVary)
			}
		})
	}
}

// appHeaders sets the handler's own Cache-Control and Vary from the query.
func appHeaders(w http.ResponseWriter, r *http.Request) {
	if cc := r.URL.Query().Get("cc"); cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if v := r.URL.Query().Get("vary"); v != "" {
		w.Header().Set("Vary", v)
	}
}

func get(t *testing.T, url, header, value string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if value != "" {
		req.Header.Set(header, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// queryTransport is a custom Transport: the token comes in the X-Session
// request header and goes out in X-New-Session.
type queryTransport struct{}

func (queryTransport) Token(r *http.Request) string { return r.Header.Get("X-Session") }
func (queryTransport) SetToken(w http.ResponseWriter, r *http.Request, token string, _ time.Time) {
	w.Header().Set("X-New-Session", token)
}
func (queryTransport) ClearToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-New-Session", "")
}

// namedTransport is queryTransport naming its headers (TokenHeaderer).
type namedTransport struct{ queryTransport }

func (namedTransport) TokenHeaders() (request, response string) { return "X-Session", "X-New-Session" }

// A custom Transport that names its headers gets the same protection from
// shared caches as the Manager's own; one that does not gets no Vary, and
// its token still never goes out publicly cacheable.
func TestSharedCacheHeadersCustomTransport(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport sessionkit.Transport
		wantVary  string
		wantCC    string // on a new session with public content
	}{
		{"TokenHeaderer", namedTransport{}, "X-Session", `public, max-age=60, private="X-New-Session"`},
		{"no TokenHeaderer", queryTransport{}, "-", `public, max-age=60, private="Set-Cookie"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			m := sessionkit.New(mem)
			m.Logger = discardLogger()
			m.Transport = tc.transport
			srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=60")
				s := sessionkit.From(r.Context())
				if r.URL.Path == "/set" {
					s.Set("k", 1)
				} else {
					s.Has("k")
				}
			})))
			t.Cleanup(srv.Close)

			resp := get(t, srv.URL+"/set", "", "")
			token := resp.Header.Get("X-New-Session")
			if token == "" {
				t.Fatal("no token sent")
			}
			if got := strings.Join(resp.Header.Values("Cache-Control"), ", "); got != tc.wantCC {
				t.Errorf("new session: Cache-Control = %q, want %q", got, tc.wantCC)
			}
			resp = get(t, srv.URL+"/read", "X-Session", token)
			if got := orDash(strings.Join(resp.Header.Values("Vary"), ", ")); got != tc.wantVary {
				t.Errorf("read: Vary = %q, want %q", got, tc.wantVary)
			}
			if resp.Header.Get("X-New-Session") != "" {
				t.Errorf("read sent a token: %v", resp.Header)
			}
		})
	}
}
