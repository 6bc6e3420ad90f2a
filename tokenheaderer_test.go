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

// hdrTransport is a custom Transport (token in X-Tok, handed out in
// X-Tok-Set) naming the headers TokenHeaders returns.
type hdrTransport struct{ req, resp string }

func (h *hdrTransport) Token(r *http.Request) string { return r.Header.Get("X-Tok") }
func (h *hdrTransport) SetToken(w http.ResponseWriter, r *http.Request, token string, _ time.Time) {
	w.Header().Set("X-Tok-Set", token)
}
func (h *hdrTransport) ClearToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Tok-Set", "")
}
func (h *hdrTransport) TokenHeaders() (string, string) { return h.req, h.resp }

// embedCookie and embedHeader wrap the built-in transports, as a user
// adding logging or metrics to them would.
type embedCookie struct{ *sessionkit.CookieTransport }
type embedHeader struct{ *sessionkit.HeaderTransport }

// Shared-cache protection of custom Transports, as the package doc's
// "Shared caches" and TokenHeaderer describe it, over real HTTP.
func TestTokenHeadererCustomTransports(t *testing.T) {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	newSrv := func(tr sessionkit.Transport) *httptest.Server {
		m := sessionkit.New(mem)
		m.Logger = discardLogger()
		m.Transport = tr
		mux := http.NewServeMux()
		mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
			appHeaders(w, r)
			sessionkit.From(r.Context()).Set("k", 1)
		})
		mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
			appHeaders(w, r)
			sessionkit.From(r.Context()).Has("k")
		})
		mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
			appHeaders(w, r)
			sessionkit.From(r.Context()).Destroy()
		})
		srv := httptest.NewServer(m.Handler(mux))
		t.Cleanup(srv.Close)
		return srv
	}
	full := newSrv(&hdrTransport{"X-Tok", "X-Tok-Set"})
	noResp := newSrv(&hdrTransport{"X-Tok", ""})
	noReq := newSrv(&hdrTransport{"", "X-Tok-Set"})
	tok := get(t, full.URL+"/set", "", "").Header.Get("X-Tok-Set")
	for _, tc := range []struct {
		name           string
		srv            *httptest.Server
		path, token    string
		wantCC, wantVr string
	}{
		{"new, no cc", full, "/set", "", "private", "X-Tok"},
		{"new, public", full, "/set?cc=public,+max-age%3D60", "", `public, max-age=60, private="X-Tok-Set"`, "X-Tok"},
		{"new, no-store", full, "/set?cc=no-store", "", "no-store", "X-Tok"},
		{"new, vary kept", full, "/set?vary=Accept-Encoding", "", "private", "Accept-Encoding, X-Tok"},
		{"new, vary names it", full, "/set?vary=x-tok", "", "private", "x-tok"},
		{"read", full, "/read?cc=public,+max-age%3D60", tok, "public, max-age=60", "X-Tok"},
		{"logout", full, "/logout?cc=public,+max-age%3D60", tok, `public, max-age=60, private="X-Tok-Set"`, "X-Tok"},
		{"response empty", noResp, "/set?cc=public", "", `public, private="Set-Cookie"`, "X-Tok"},
		{"request empty", noReq, "/set?cc=public", "", `public, private="X-Tok-Set"`, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, tc.srv.URL+tc.path, "X-Tok", tc.token)
			if got := orDash(strings.Join(resp.Header.Values("Cache-Control"), ", ")); got != tc.wantCC {
				t.Errorf("Cache-Control %q, want %q", got, tc.wantCC)
			}
			if got := orDash(strings.Join(resp.Header.Values("Vary"), ", ")); got != tc.wantVr {
				t.Errorf("Vary %q, want %q", got, tc.wantVr)
			}
		})
	}
	// A Transport wrapping a built-in one by embedding it inherits its
	// TokenHeaders (it used to get no Vary).
	for _, tc := range []struct {
		name             string
		tr               sessionkit.Transport
		header, tokenHdr string
		wantVary, wantCC string
	}{
		{"embedded CookieTransport", embedCookie{func() *sessionkit.CookieTransport { c := sessionkit.DefaultCookie(); return &c }()}, "Cookie", "Set-Cookie", "Cookie", `public, private="Set-Cookie"`},
		{"embedded HeaderTransport", embedHeader{&sessionkit.HeaderTransport{RequestHeader: "X-Api-Session", ResponseHeader: "X-Api-New"}}, "X-Api-Session", "X-Api-New", "X-Api-Session", `public, private="X-Api-New"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSrv(tc.tr)
			resp := get(t, srv.URL+"/set?cc=public", "", "")
			if resp.Header.Get(tc.tokenHdr) == "" {
				t.Fatalf("no token in %s: %v", tc.tokenHdr, resp.Header)
			}
			if got := orDash(strings.Join(resp.Header.Values("Cache-Control"), ", ")); got != tc.wantCC {
				t.Errorf("Cache-Control %q, want %q", got, tc.wantCC)
			}
			if got := orDash(strings.Join(resp.Header.Values("Vary"), ", ")); got != tc.wantVary {
				t.Errorf("Vary %q, want %q", got, tc.wantVary)
			}
		})
	}
}
