package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/auth/password"
	"github.com/sessionkit/sessionkit/store/boltstore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/sqlitestore"
)

// cheap keeps password hashing fast in tests.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const testPassword = "correct horse battery"

// newServer starts the demo over the named store kind ("memory",
// "sqlite", or "bolt", where accounts share the sessions' file).
func newServer(t *testing.T, kind string) *httptest.Server {
	t.Helper()
	var (
		st    sessionkit.Store
		users *Users
		err   error
	)
	switch kind {
	case "memory":
		ms := memstore.New(memstore.Options{})
		t.Cleanup(func() { ms.Close() })
		st = ms
		users, err = OpenUsers(filepath.Join(t.TempDir(), "users.db"))
	case "sqlite":
		ss, serr := sqlitestore.Open(filepath.Join(t.TempDir(), "sessions.sqlite"))
		if serr != nil {
			t.Fatal(serr)
		}
		t.Cleanup(func() { ss.Close() })
		st = ss
		users, err = OpenUsers(filepath.Join(t.TempDir(), "users.db"))
	case "bolt":
		bs, berr := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"))
		if berr != nil {
			t.Fatal(berr)
		}
		t.Cleanup(func() { bs.Close() })
		st = bs
		users, err = NewUsers(bs.DB())
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Close() })
	h, err := New(Config{Store: st, Users: users, StoreName: kind, Logger: quietLogger(), Password: &cheap})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// browser is a client with its own cookie jar that does not follow
// redirects, so tests see every status code.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"), header: resp.Header}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form; extra headers are name, value pairs.
func (b *browser) post(path string, form url.Values, headers ...string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// expect checks a response's status and, for redirects, its target.
func (b *browser) expect(r response, status int, location string) response {
	b.t.Helper()
	if r.status != status {
		b.t.Fatalf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
	if location != "" && r.location != location {
		b.t.Fatalf("redirect to %q, want %q", r.location, location)
	}
	return r
}

func (b *browser) signUp(name string) {
	b.t.Helper()
	b.expect(b.post("/signup", url.Values{"username": {name}, "password": {testPassword}, "confirm": {testPassword}}), http.StatusSeeOther, "/")
}

func (b *browser) signIn(name string) {
	b.t.Helper()
	b.expect(b.post("/login", url.Values{"username": {name}, "password": {testPassword}}), http.StatusSeeOther, "/")
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

var countRE = regexp.MustCompile(`<output id="count">(\d+)</output>`)

func (b *browser) count() string {
	b.t.Helper()
	r := b.expect(b.get("/counter"), http.StatusOK, "")
	m := countRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no counter on the page:\n%s", r.body)
	}
	return m[1]
}

var rowRE = regexp.MustCompile(`(?s)<tr data-current="(true|false)">.*?name="handle" value="([^"]+)"`)

// sessionRows returns the handles on the sessions page, by whether they
// are the current device.
func (b *browser) sessionRows() (current, others []string) {
	b.t.Helper()
	r := b.expect(b.get("/sessions"), http.StatusOK, "")
	for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
		if m[1] == "true" {
			current = append(current, m[2])
		} else {
			others = append(others, m[2])
		}
	}
	return current, others
}

func TestAccountFlow(t *testing.T) {
	for _, kind := range []string{"memory", "bolt", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			srv := newServer(t, kind)
			alice := newBrowser(t, srv.URL)

			r := alice.expect(alice.get("/"), http.StatusOK, "")
			mustContain(t, r.body, `href="/signup"`, `href="/login"`)

			alice.expect(alice.get("/signup"), http.StatusOK, "")
			alice.signUp("Alice")
			r = alice.expect(alice.get("/"), http.StatusOK, "")
			mustContain(t, r.body, `id="flash"`, "Welcome, Alice!", `<strong id="username">Alice</strong>`)
			r = alice.expect(alice.get("/"), http.StatusOK, "")
			if strings.Contains(r.body, `id="flash"`) {
				t.Fatal("flash shown twice")
			}

			// The counter lives in the session.
			if got := alice.count(); got != "0" {
				t.Fatalf("counter %s, want 0", got)
			}
			for range 3 {
				alice.expect(alice.post("/counter", url.Values{"op": {"increment"}}), http.StatusSeeOther, "/counter")
			}
			if got := alice.count(); got != "3" {
				t.Fatalf("counter %s, want 3", got)
			}

			// Sign out, then in again (username in another case).
			alice.expect(alice.post("/logout", nil), http.StatusSeeOther, "/login")
			r = alice.expect(alice.get("/login"), http.StatusOK, "")
			mustContain(t, r.body, "You are signed out.")
			alice.expect(alice.get("/sessions"), http.StatusSeeOther, "/login?return_to=%2Fsessions")
			if got := alice.count(); got != "0" {
				t.Fatalf("counter %s after sign-out, want 0 (a new session)", got)
			}
			alice.signIn("alice")
			r = alice.expect(alice.get("/"), http.StatusOK, "")
			mustContain(t, r.body, "Signed in as Alice.")

			// A second device appears in the first one's list.
			phone := newBrowser(t, srv.URL)
			phone.signIn("Alice")
			cur, others := alice.sessionRows()
			if len(cur) != 1 || len(others) != 1 {
				t.Fatalf("alice sees current %v, others %v; want one of each", cur, others)
			}
			mustContain(t, alice.get("/sessions").body, "This device", "Go HTTP client")

			// Revoking it sends the phone to the sign-in page.
			alice.expect(alice.post("/sessions/revoke", url.Values{"handle": {others[0]}}), http.StatusSeeOther, "/sessions")
			mustContain(t, alice.get("/sessions").body, "That device is signed out.")
			phone.expect(phone.get("/sessions"), http.StatusSeeOther, "/login?return_to=%2Fsessions")
			r = phone.expect(phone.get("/login?return_to=%2Fsessions"), http.StatusOK, "")
			mustContain(t, r.body, "Please sign in to see that page.")
			if _, others := alice.sessionRows(); len(others) != 0 {
				t.Fatalf("revoked session still listed: %v", others)
			}

			// An unknown handle is reported, not an error.
			alice.expect(alice.post("/sessions/revoke", url.Values{"handle": {others[0]}}), http.StatusSeeOther, "/sessions")
			mustContain(t, alice.get("/sessions").body, "That session had already ended.")

			// Sign out everywhere else.
			phone.signIn("alice")
			tablet := newBrowser(t, srv.URL)
			tablet.signIn("alice")
			alice.expect(alice.post("/sessions/revoke-others", nil), http.StatusSeeOther, "/sessions")
			r = alice.expect(alice.get("/sessions"), http.StatusOK, "")
			mustContain(t, r.body, "Signed out 2 other devices.")
			phone.expect(phone.get("/sessions"), http.StatusSeeOther, "")
			tablet.expect(tablet.get("/sessions"), http.StatusSeeOther, "")

			// Revoking the current session is a sign-out.
			cur, _ = alice.sessionRows()
			alice.expect(alice.post("/sessions/revoke", url.Values{"handle": {cur[0]}}), http.StatusSeeOther, "/login")
			mustContain(t, alice.get("/login").body, "You signed out of this device.")
			alice.expect(alice.get("/sessions"), http.StatusSeeOther, "")
		})
	}
}

func TestSignUpErrors(t *testing.T) {
	srv := newServer(t, "memory")
	newBrowser(t, srv.URL).signUp("taken")
	tests := []struct {
		name, username, password, confirm string
		status                            int
		message                           string
	}{
		{"short username", "ab", testPassword, testPassword, http.StatusUnprocessableEntity, "Use 3 to 32 letters"},
		{"bad characters", "a b<c", testPassword, testPassword, http.StatusUnprocessableEntity, "Use 3 to 32 letters"},
		{"short password", "bob", "short", "short", http.StatusUnprocessableEntity, "Use at least 8 characters."},
		{"long password", "bob", strings.Repeat("x", 300), strings.Repeat("x", 300), http.StatusUnprocessableEntity, "Use at most 256 bytes."},
		{"mismatch", "bob", testPassword, testPassword + "!", http.StatusUnprocessableEntity, "The two passwords differ."},
		{"taken", "taken", testPassword, testPassword, http.StatusConflict, "That username is taken."},
		{"taken in another case", "TAKEN", testPassword, testPassword, http.StatusConflict, "That username is taken."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			r := b.expect(b.post("/signup", url.Values{"username": {tt.username}, "password": {tt.password}, "confirm": {tt.confirm}}), tt.status, "")
			mustContain(t, r.body, tt.message, `aria-invalid="true"`)
			if strings.Contains(r.body, tt.password) {
				t.Fatal("the page echoes the password")
			}
			b.expect(b.get("/sessions"), http.StatusSeeOther, "") // not signed in
		})
	}
}

func TestSignInErrors(t *testing.T) {
	srv := newServer(t, "memory")
	newBrowser(t, srv.URL).signUp("carol")
	tests := []struct {
		name, username, password string
		status                   int
		message                  string
	}{
		{"wrong password", "carol", "wrong password", http.StatusUnprocessableEntity, auth.MsgInvalidCredentials},
		{"unknown user", "nobody", testPassword, http.StatusUnprocessableEntity, auth.MsgInvalidCredentials},
		{"missing password", "carol", "", http.StatusUnprocessableEntity, auth.MsgMissingFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			r := b.expect(b.post("/login", url.Values{"username": {tt.username}, "password": {tt.password}}), tt.status, "")
			mustContain(t, r.body, tt.message, `role="alert"`)
			b.expect(b.get("/sessions"), http.StatusSeeOther, "")
		})
	}

	t.Run("return to", func(t *testing.T) {
		b := newBrowser(t, srv.URL)
		r := b.post("/login", url.Values{"username": {"carol"}, "password": {testPassword}, "return_to": {"/sessions"}})
		b.expect(r, http.StatusSeeOther, "/sessions")
		b.expect(b.get("/login"), http.StatusSeeOther, "/") // already signed in
	})
	t.Run("no open redirect", func(t *testing.T) {
		b := newBrowser(t, srv.URL)
		r := b.post("/login", url.Values{"username": {"carol"}, "password": {testPassword}, "return_to": {"//evil.example/"}})
		b.expect(r, http.StatusSeeOther, "/")
	})
}

// TestCrossOriginRefused sends every form from another site, the way a
// browser labels such requests, and checks that nothing happened.
func TestCrossOriginRefused(t *testing.T) {
	srv := newServer(t, "memory")
	victim := newBrowser(t, srv.URL)
	victim.signUp("dave")
	victim.expect(victim.post("/counter", url.Values{"op": {"increment"}}), http.StatusSeeOther, "")
	cur, _ := victim.sessionRows()

	forms := []struct {
		path string
		form url.Values
	}{
		{"/counter", url.Values{"op": {"reset"}}},
		{"/signup", url.Values{"username": {"mallory"}, "password": {testPassword}, "confirm": {testPassword}}},
		{"/login", url.Values{"username": {"dave"}, "password": {testPassword}}},
		{"/logout", nil},
		{"/sessions/revoke", url.Values{"handle": cur}},
		{"/sessions/revoke-others", nil},
	}
	origins := []struct {
		name    string
		headers []string
	}{
		{"sec-fetch-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"origin", []string{"Origin", "http://evil.example"}},
	}
	for _, f := range forms {
		for _, o := range origins {
			t.Run(f.path+"/"+o.name, func(t *testing.T) {
				r := victim.expect(victim.post(f.path, f.form, o.headers...), http.StatusForbidden, "")
				mustContain(t, r.body, "sent from another site")
			})
		}
	}
	if got := victim.count(); got != "1" {
		t.Fatalf("counter %s after refused requests, want 1", got)
	}
	victim.expect(victim.get("/sessions"), http.StatusOK, "") // still signed in
	newBrowser(t, srv.URL).expect(newBrowser(t, srv.URL).post("/login", url.Values{"username": {"mallory"}, "password": {testPassword}}), http.StatusUnprocessableEntity, "")

	// The same forms from the app's own pages go through.
	victim.expect(victim.post("/counter", url.Values{"op": {"reset"}}, "Sec-Fetch-Site", "same-origin", "Origin", srv.URL), http.StatusSeeOther, "/counter")
}

func TestStatusCodes(t *testing.T) {
	srv := newServer(t, "memory")
	tests := []struct {
		method, path, accept string
		status               int
		location             string
	}{
		{"GET", "/", "", http.StatusOK, ""},
		{"HEAD", "/", "", http.StatusOK, ""},
		{"GET", "/counter", "", http.StatusOK, ""},
		{"GET", "/signup", "", http.StatusOK, ""},
		{"GET", "/login", "", http.StatusOK, ""},
		{"GET", "/no/such/page", "", http.StatusNotFound, ""},
		{"PUT", "/counter", "", http.StatusMethodNotAllowed, ""},
		{"DELETE", "/sessions", "", http.StatusMethodNotAllowed, ""},
		{"GET", "/sessions", "", http.StatusSeeOther, "/login?return_to=%2Fsessions"},
		{"GET", "/sessions", "application/json", http.StatusUnauthorized, ""},
		{"POST", "/sessions/revoke", "", http.StatusSeeOther, "/login"},
		{"POST", "/logout", "", http.StatusSeeOther, "/login"},
		{"GET", "/favicon.ico", "", http.StatusNoContent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			r := b.expect(b.do(req), tt.status, tt.location)
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
		})
	}
	t.Run("bad counter op", func(t *testing.T) {
		b := newBrowser(t, srv.URL)
		b.expect(b.post("/counter", url.Values{"op": {"explode"}}), http.StatusBadRequest, "")
	})
}

// TestStyleMatchesPolicy checks that the inline style block is the one the
// Content-Security-Policy allows (or browsers would show unstyled pages).
func TestStyleMatchesPolicy(t *testing.T) {
	srv := newServer(t, "memory")
	b := newBrowser(t, srv.URL)
	r := b.expect(b.get("/"), http.StatusOK, "")
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no style block")
	}
	sum := sha256.Sum256([]byte(m[1]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, want) || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("Content-Security-Policy %q lacks %q", csp, want)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "users.db")
	users, err := OpenUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Create(ctx, User{Name: "Erin", Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	if err := users.Create(ctx, User{Name: "ERIN", Hash: "h2"}); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate Create: %v, want ErrUserExists", err)
	}
	if err := users.SetHash(ctx, "erin", "h3"); err != nil {
		t.Fatal(err)
	}
	if err := users.SetHash(ctx, "frank", "h3"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("SetHash of unknown user: %v", err)
	}
	if err := users.Close(); err != nil {
		t.Fatal(err)
	}

	users, err = OpenUsers(path) // kept across a reopen
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	u, err := users.Get(ctx, "eRiN")
	if err != nil || u.Name != "Erin" || u.Hash != "h3" || u.Key() != "erin" {
		t.Fatalf("Get = %+v, %v", u, err)
	}
	if _, err := users.Get(ctx, "frank"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("Get of unknown user: %v, want ErrUserNotFound", err)
	}
}

func TestDescribeUA(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"", "Unknown browser"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on Linux"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Headless Chrome 131 on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Edge 120 on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox 121 on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1", "Safari 17 on iOS"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36", "Chrome 120 on Android"},
		{"curl/8.5.0", "curl 8"},
		{"Go-http-client/1.1", "Go HTTP client 1"},
		{"something else", "Other browser"},
	}
	for _, tt := range tests {
		if got := describeUA(tt.ua); got != tt.want {
			t.Errorf("describeUA(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}
