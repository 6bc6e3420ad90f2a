package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/auth/authtest"
	"github.com/sessionkit/sessionkit/auth/password"
	"github.com/sessionkit/sessionkit/store/memstore"
)

func newMemStore(t *testing.T) sessionkit.Store {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	return s
}

// plainStore hides memstore's optional interfaces, like a store without a
// per-user index.
type plainStore struct{ sessionkit.Store }

func TestFlowsMemstore(t *testing.T) {
	authtest.Run(t, newMemStore)
}

func TestFlowsWithoutUserIndex(t *testing.T) {
	authtest.Run(t, func(t *testing.T) sessionkit.Store { return plainStore{newMemStore(t)} })
}

type User struct {
	ID   string
	Name string
}

// env is an app with a form login over memstore.
type env struct {
	t     *testing.T
	store sessionkit.Store
	m     *sessionkit.Manager
	a     *auth.Auth[User]
	mux   *http.ServeMux
	srv   *httptest.Server

	mu           sync.Mutex
	users        map[string]User   // by ID
	hashes       map[string]string // by name
	deserializes atomic.Int64
	dbDown       atomic.Bool
}

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

func newEnv(t *testing.T, configure ...func(*auth.Auth[User])) *env {
	t.Helper()
	e := &env{t: t, store: newMemStore(t), users: map[string]User{}, hashes: map[string]string{}}
	e.m = sessionkit.New(e.store)
	e.m.Logger = slog.New(slog.DiscardHandler)
	e.a = auth.New(e.m, func(u User) string { return u.ID }, e.deserialize)
	e.a.Logger = e.m.Logger
	for _, f := range configure {
		f(e.a)
	}
	e.addUser("1", "alice", "wonderland")
	e.addUser("2", "bob", "builder")

	e.mux = http.NewServeMux()
	e.mux.Handle("/login", &auth.FormLogin[User]{
		Auth:          e.a,
		Verify:        auth.PasswordVerifier(cheap, e.lookup, nil),
		RememberField: "remember",
	})
	e.mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := e.a.Logout(w, r); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := sessionkit.From(r.Context()).Set("flash", "bye"); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "ok")
	})
	e.mux.Handle("GET /private/", e.a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.a.User(r)
		u2, _ := e.a.User(r) // cached: no second Deserialize
		fmt.Fprint(w, u.Name, " ", u2.Name, " ", r.URL.RequestURI())
	})))
	e.mux.Handle("POST /private/", e.a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "posted")
	})))
	e.mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, err := e.a.User(r)
		switch {
		case errors.Is(err, auth.ErrNotAuthenticated):
			fmt.Fprint(w, "anonymous")
		case err != nil:
			http.Error(w, "error", 500)
		default:
			fmt.Fprint(w, u.Name)
		}
	})
	e.mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		_ = sessionkit.From(r.Context()).Set(q.Get("k"), q.Get("v"))
	})
	e.mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.From(r.Context()), r.URL.Query().Get("k"))
		fmt.Fprint(w, v)
	})
	e.srv = httptest.NewServer(e.a.Handler(e.mux))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) addUser(id, name, pw string) {
	h, err := cheap.Hash(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.users[id] = User{ID: id, Name: name}
	e.hashes[name] = h
}

func (e *env) deleteUser(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.users, id)
}

func (e *env) deserialize(_ context.Context, key string) (User, error) {
	e.deserializes.Add(1)
	if e.dbDown.Load() {
		return User{}, errors.New("database down")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, ok := e.users[key]
	if !ok {
		return User{}, auth.ErrUserNotFound
	}
	return u, nil
}

func (e *env) lookup(_ context.Context, name string) (User, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range e.users {
		if u.Name == name {
			return u, e.hashes[name], nil
		}
	}
	return User{}, "", auth.ErrUserNotFound
}

type client struct {
	t   *testing.T
	e   *env
	hc  *http.Client
	jar *cookiejar.Jar
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, e: e, jar: jar, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	code     int
	body     string
	location string
	header   http.Header
}

func (c *client) do(method, path string, form url.Values, header ...string) response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: strings.TrimSpace(string(b)), location: resp.Header.Get("Location"), header: resp.Header}
}

func (c *client) login(name, pw, returnTo string) response {
	c.t.Helper()
	f := url.Values{"username": {name}, "password": {pw}}
	if returnTo != "" {
		f.Set("return_to", returnTo)
	}
	return c.do("POST", "/login", f)
}

func (c *client) cookie() *http.Cookie {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "session" {
			return ck
		}
	}
	return nil
}

func (c *client) whoami() string {
	c.t.Helper()
	return c.do("GET", "/whoami", nil).body
}

func TestFormLoginReturnTo(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	// A page request without a user is redirected to the login page,
	// carrying where it wanted to go.
	r := c.do("GET", "/private/report?year=2024", nil)
	if r.code != http.StatusSeeOther {
		t.Fatalf("GET /private/ anonymous = %d, want 303", r.code)
	}
	loc, err := url.Parse(r.location)
	if err != nil || loc.Path != "/login" || loc.Query().Get("return_to") != "/private/report?year=2024" {
		t.Fatalf("redirect to %q, want /login?return_to=/private/report?year=2024", r.location)
	}
	// The login page carries it into the form.
	r = c.do("GET", r.location, nil)
	if r.code != 200 || !strings.Contains(r.body, `name="return_to" value="/private/report?year=2024"`) {
		t.Fatalf("login page does not carry return_to: %d %s", r.code, r.body)
	}
	// Submitting the form (to the same URL, with the hidden field) returns
	// there.
	r = c.do("POST", "/login?return_to="+url.QueryEscape("/private/report?year=2024"),
		url.Values{"username": {"alice"}, "password": {"wonderland"}, "return_to": {"/private/report?year=2024"}})
	if r.code != http.StatusSeeOther || r.location != "/private/report?year=2024" {
		t.Fatalf("login = %d to %q, want 303 to /private/report?year=2024", r.code, r.location)
	}
	if r := c.do("GET", r.location, nil); r.body != "alice alice /private/report?year=2024" {
		t.Fatalf("after login: %d %q", r.code, r.body)
	}
}

func TestReturnToRejectsOtherSites(t *testing.T) {
	bad := []string{
		"//evil.example",
		"//evil.example/path",
		`/\evil.example`,
		`/\/evil.example`,
		"https://evil.example",
		"http://evil.example/",
		"HTTPS://evil.example",
		"javascript:alert(1)",
		"evil.example",
		"data:text/html,hi",
		"/\t/evil.example",
		"/\n/evil.example",
		"/\r\n/evil.example",
		"\t//evil.example",
		" //evil.example",
		"/foo\\..\\evil",
		"/\x00",
		"/\x7f",
		"",
		"/" + strings.Repeat("a", auth.MaxReturnTo),
	}
	for _, rt := range bad {
		if got, ok := auth.SafeReturnTo(rt); ok || got != "" {
			t.Errorf("SafeReturnTo(%q) = %q, %v; want rejected", rt, got, ok)
		}
	}
	good := []string{"/", "/private", "/a/b?c=d&e=%2F%2Fx#frag", "/%2F%2Fevil.example", "/héllo", "/a//b"}
	for _, rt := range good {
		if got, ok := auth.SafeReturnTo(rt); !ok || got != rt {
			t.Errorf("SafeReturnTo(%q) = %q, %v; want accepted unchanged", rt, got, ok)
		}
	}

	// Through the form login: a rejected return-to falls back to "/".
	e := newEnv(t)
	for _, rt := range bad {
		if rt == "" {
			continue
		}
		c := e.client()
		r := c.login("alice", "wonderland", rt)
		if r.code != http.StatusSeeOther || r.location != "/" {
			t.Errorf("login with return_to %q redirected (%d) to %q, want /", rt, r.code, r.location)
		}
		r = c.do("POST", "/login?return_to="+url.QueryEscape(rt), url.Values{"username": {"alice"}, "password": {"wonderland"}})
		if r.location != "/" {
			t.Errorf("login with query return_to %q redirected to %q, want /", rt, r.location)
		}
	}
	// And the login page never echoes it.
	c := e.client()
	if r := c.do("GET", "/login?return_to="+url.QueryEscape("//evil.example"), nil); strings.Contains(r.body, "evil") {
		t.Errorf("login page echoes a rejected return_to: %s", r.body)
	}
}

func TestLoginURL(t *testing.T) {
	a := auth.New[User](sessionkit.New(newMemStore(t)), nil, nil)
	tests := []struct{ returnTo, want string }{
		{"/x?y=1", "/login?return_to=%2Fx%3Fy%3D1"},
		{"//evil.example", "/login"},
		{"/login", "/login"},
		{"", "/login"},
	}
	for _, tt := range tests {
		if got := a.LoginURL(tt.returnTo); got != tt.want {
			t.Errorf("LoginURL(%q) = %q, want %q", tt.returnTo, got, tt.want)
		}
	}
	a.LoginPath, a.ReturnToParam = "/auth/signin?via=x", "next"
	if got := a.LoginURL("/a"); got != "/auth/signin?next=%2Fa&via=x" {
		t.Errorf("LoginURL with custom path = %q", got)
	}
}

func TestRequireAPIvsPage(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	tests := []struct {
		name, method, accept string
		wantCode             int
		wantLocation         string
	}{
		{"json", "GET", "application/json", 401, ""},
		{"json-ld", "GET", "application/ld+json", 401, ""},
		{"browser", "GET", "text/html,application/xhtml+xml,*/*;q=0.8", 303, "/login?return_to=%2Fprivate%2Fx"},
		{"no accept", "GET", "", 303, "/login?return_to=%2Fprivate%2Fx"},
		{"json and html", "GET", "application/json, text/html", 303, "/login?return_to=%2Fprivate%2Fx"},
		// q=0 refuses a type (RFC 9110, 12.5.1): refused HTML does not
		// make a page request, refused JSON does not make an API one.
		{"json, html refused", "GET", "application/json, text/html;q=0", 401, ""},
		{"json, html q=0.000", "GET", "application/json, text/html; q=0.000", 401, ""},
		{"json refused", "GET", "application/json;q=0", 303, "/login?return_to=%2Fprivate%2Fx"},
		{"json, html q=0.001", "GET", "application/json, text/html;q=0.001", 303, "/login?return_to=%2Fprivate%2Fx"},
		{"page post", "POST", "", 303, "/login"},
		{"api post", "POST", "application/json", 401, ""},
	}
	for _, tt := range tests {
		r := c.do(tt.method, "/private/x", nil, "Accept", tt.accept)
		if r.code != tt.wantCode || r.location != tt.wantLocation {
			t.Errorf("%s: %d to %q, want %d to %q", tt.name, r.code, r.location, tt.wantCode, tt.wantLocation)
		}
		if tt.wantCode == 401 {
			var body struct{ Error string }
			if json.Unmarshal([]byte(r.body), &body) != nil || body.Error != "unauthorized" ||
				!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: 401 body %q (%s) is not the JSON error", tt.name, r.body, r.header.Get("Content-Type"))
			}
		}
	}
	// A custom predicate.
	e2 := newEnv(t, func(a *auth.Auth[User]) {
		a.IsAPI = func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/private/") }
	})
	if r := e2.client().do("GET", "/private/x", nil); r.code != 401 {
		t.Errorf("custom IsAPI: %d, want 401", r.code)
	}
}

func TestFormLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	wrong := c.login("alice", "wrong", "/private/x")
	unknown := c.login("mallory", "wonderland", "/private/x")
	for _, r := range []response{wrong, unknown} {
		if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, auth.MsgInvalidCredentials) {
			t.Errorf("failed login = %d %q", r.code, r.body)
		}
	}
	// Same page apart from the echoed username.
	if strings.ReplaceAll(wrong.body, "alice", "X") != strings.ReplaceAll(unknown.body, "mallory", "X") {
		t.Errorf("wrong password and unknown user render differently:\n%s\n---\n%s", wrong.body, unknown.body)
	}
	if !strings.Contains(wrong.body, `value="/private/x"`) {
		t.Error("failed login loses return_to")
	}
	if c.cookie() != nil {
		t.Error("a failed login created a session")
	}
	if r := c.login("alice", "", ""); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, auth.MsgMissingFields) {
		t.Errorf("empty password: %d %q", r.code, r.body)
	}
	if r := c.do("PUT", "/login", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("PUT /login = %d", r.code)
	}
	if got := c.whoami(); got != "anonymous" {
		t.Errorf("after failures whoami = %q", got)
	}
}

func TestFormLoginRefusesCrossOrigin(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	f := url.Values{"username": {"alice"}, "password": {"wonderland"}}
	if r := c.do("POST", "/login", f, "Sec-Fetch-Site", "cross-site"); r.code != http.StatusForbidden {
		t.Errorf("cross-site login = %d, want 403", r.code)
	}
	if r := c.do("POST", "/login", f, "Origin", "https://evil.example"); r.code != http.StatusForbidden {
		t.Errorf("cross-origin login = %d, want 403", r.code)
	}
	if got := c.whoami(); got != "anonymous" {
		t.Errorf("refused login logged in as %q", got)
	}
	if r := c.do("POST", "/login", f, "Sec-Fetch-Site", "same-origin"); r.code != http.StatusSeeOther {
		t.Errorf("same-origin login = %d, want 303", r.code)
	}
}

// The remember-me field makes the login cookie persistent when checked
// and a browser-session cookie otherwise: FormLogin's, and Local's
// RememberField behind the authenticate handler.
func TestRememberMe(t *testing.T) {
	e := newEnv(t)
	e.mux.Handle("POST /remember", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/"},
		&auth.Local[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil), RememberField: "keep"}))
	for _, tc := range []struct{ path, field string }{
		{"/login", "remember"},
		{"/remember", "keep"},
	} {
		for _, remember := range []bool{true, false} {
			c := e.client()
			f := url.Values{"username": {"alice"}, "password": {"wonderland"}}
			if remember {
				f.Set(tc.field, "on")
			}
			r := c.do("POST", tc.path, f)
			var ck *http.Cookie
			for _, x := range (&http.Response{Header: r.header}).Cookies() {
				if x.Name == "session" {
					ck = x
				}
			}
			if ck == nil {
				t.Fatalf("POST %s remember=%v: %d, no cookie at login", tc.path, remember, r.code)
			}
			if persistent := ck.MaxAge > 0 || !ck.Expires.IsZero(); persistent != remember {
				t.Errorf("POST %s remember=%v: cookie persistent = %v", tc.path, remember, persistent)
			}
		}
	}
}

func TestUserDeserializedOncePerRequest(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("alice", "wonderland", "")
	before := e.deserializes.Load()
	if r := c.do("GET", "/private/x", nil); r.body != "alice alice /private/x" {
		t.Fatalf("GET /private/x = %q", r.body)
	}
	if n := e.deserializes.Load() - before; n != 1 {
		t.Errorf("Require plus two User calls deserialized %d times, want 1", n)
	}
	// Anonymous requests never call Deserialize.
	before = e.deserializes.Load()
	e.client().do("GET", "/private/x", nil)
	e.client().whoami()
	if n := e.deserializes.Load() - before; n != 0 {
		t.Errorf("anonymous requests deserialized %d times", n)
	}
}

func TestDeserializeFailureIsNotALogout(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("alice", "wonderland", "")
	e.dbDown.Store(true)
	if r := c.do("GET", "/private/x", nil); r.code != http.StatusServiceUnavailable {
		t.Errorf("database down: GET /private/x = %d, want 503", r.code)
	}
	if r := c.do("GET", "/private/x", nil, "Accept", "application/json"); r.code != 503 || !strings.Contains(r.body, `"unavailable"`) {
		t.Errorf("database down, API: %d %q", r.code, r.body)
	}
	e.dbDown.Store(false)
	if got := c.whoami(); got != "alice" {
		t.Errorf("after the database came back whoami = %q, want alice (not logged out)", got)
	}
}

func TestDeletedUserNo500(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("bob", "builder", "")
	e.deleteUser("2")
	for _, accept := range []string{"", "application/json"} {
		r := c.do("GET", "/private/x", nil, "Accept", accept)
		if r.code >= 500 || (r.code != 303 && r.code != 401) {
			t.Errorf("deleted user, Accept %q: %d", accept, r.code)
		}
	}
	if got := c.whoami(); got != "anonymous" {
		t.Errorf("whoami = %q", got)
	}
	// The session keeps "_user" no more.
	rec, err := e.store.Load(context.Background(), e.m.KeyOf(c.cookie().Value))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.Data), `"_user"`) || rec.UserKey != "" {
		t.Errorf("stale login left in the record: %s (UserKey %q)", rec.Data, rec.UserKey)
	}
}

// Logging out a session whose user was deleted names the session by its
// Handle, never by its store key: under Manager.RawKeys (the express
// layout) the key is the session ID itself, a credential.
func TestDeletedUserLogNamesHandle(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, func(a *auth.Auth[User]) {
		a.Manager.RawKeys = true
		a.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	c := e.client()
	c.login("bob", "builder", "")
	id := c.cookie().Value
	e.deleteUser("2")
	if got := c.whoami(); got != "anonymous" {
		t.Fatalf("whoami = %q", got)
	}
	out := logs.String()
	if !strings.Contains(out, "no longer exists") || !strings.Contains(out, auth.Handle(e.m.KeyOf(id))) {
		t.Errorf("log does not name the session's handle:\n%s", out)
	}
	if strings.Contains(out, id) {
		t.Errorf("log holds the session ID:\n%s", out)
	}
}

func TestLogoutThenFlash(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.login("alice", "wonderland", "")
	old := c.cookie().Value
	c.do("POST", "/set?k=cart", nil)
	if r := c.do("POST", "/logout", nil); r.body != "ok" {
		t.Fatalf("logout: %d %q", r.code, r.body)
	}
	if c.cookie() == nil || c.cookie().Value == old {
		t.Fatal("a value set after logout did not start a new session")
	}
	if got := c.do("GET", "/get?k=flash", nil).body; got != "bye" {
		t.Errorf("flash after logout = %q", got)
	}
	if got := c.whoami(); got != "anonymous" {
		t.Errorf("whoami after logout = %q", got)
	}
}

func TestKeepDataOnLogout(t *testing.T) {
	e := newEnv(t, func(a *auth.Auth[User]) { a.KeepDataOnLogout = true })
	c := e.client()
	c.login("alice", "wonderland", "")
	old := c.cookie().Value
	c.do("POST", "/set?k=cart&v=apples", nil)
	c.do("POST", "/logout", nil)
	if got := c.whoami(); got != "anonymous" {
		t.Errorf("whoami after logout = %q", got)
	}
	if got := c.do("GET", "/get?k=cart", nil).body; got != "apples" {
		t.Errorf("cart after logout = %q, want apples", got)
	}
	if c.cookie().Value == old {
		t.Error("logout kept the session ID")
	}
	if _, err := e.store.Load(context.Background(), e.m.KeyOf(old)); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("old record survives logout: %v", err)
	}
	es, _ := e.store.(sessionkit.UserIndex).UserSessions(context.Background(), "1")
	if len(es) != 0 {
		t.Errorf("index lists %d sessions after logout", len(es))
	}
}

func TestClearOnLogin(t *testing.T) {
	e := newEnv(t, func(a *auth.Auth[User]) { a.ClearOnLogin = true })
	c := e.client()
	c.do("POST", "/set?k=cart&v=apples", nil)
	c.login("alice", "wonderland", "")
	if got := c.do("GET", "/get?k=cart", nil).body; got != "" {
		t.Errorf("ClearOnLogin kept %q", got)
	}
	if got := c.whoami(); got != "alice" {
		t.Errorf("whoami = %q", got)
	}
}

func TestLoginRecordsProxiedAddressAndTruncatedAgent(t *testing.T) {
	e := newEnv(t)
	proxies, err := sessionkit.NewTrustedProxies("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e.m.Proxies = proxies
	c := e.client()
	longUA := "Mozilla\t" + strings.Repeat("é", 300)
	c.do("POST", "/login", url.Values{"username": {"alice"}, "password": {"wonderland"}},
		"X-Forwarded-For", "203.0.113.9", "User-Agent", longUA)
	rec, err := e.store.Load(context.Background(), e.m.KeyOf(c.cookie().Value))
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.m.Info(rec)
	if err != nil {
		t.Fatal(err)
	}
	var li auth.LoginInfo
	for _, v := range info.Values {
		if v.Key == auth.LoginInfoKey {
			if err := json.Unmarshal(v.JSON, &li); err != nil {
				t.Fatal(err)
			}
		}
	}
	if li.IP != "203.0.113.9" {
		t.Errorf("recorded IP %q, want the forwarded client 203.0.113.9", li.IP)
	}
	if len(li.UserAgent) > auth.MaxUserAgent || !strings.HasPrefix(strings.Replace(longUA, "\t", "", 1), li.UserAgent) || len(li.UserAgent) < auth.MaxUserAgent-2 {
		t.Errorf("recorded user agent of %d bytes: %q", len(li.UserAgent), li.UserAgent)
	}
	if d := time.Since(time.UnixMilli(li.At)); d < 0 || d > time.Hour {
		t.Errorf("login time %v", time.UnixMilli(li.At))
	}
}

func TestPasswordVerifierRehashes(t *testing.T) {
	old, _ := cheap.Hash("pw")
	stronger := password.Params{Memory: 128, Time: 1, Threads: 1}
	var got string
	verify := auth.PasswordVerifier(stronger,
		func(_ context.Context, name string) (string, string, error) {
			switch name {
			case "u":
				return "u", old, nil
			case "broken":
				return "broken", "not a hash", nil
			case "down":
				return "", "", errors.New("db down")
			}
			return "", "", auth.ErrUserNotFound
		},
		func(_ context.Context, u string, h string) { got = h })
	ctx := context.Background()
	if u, err := verify(ctx, "u", "pw"); err != nil || u != "u" {
		t.Fatalf("verify = %q, %v", u, err)
	}
	if ok, rehash, _ := stronger.Verify("pw", got); !ok || rehash {
		t.Errorf("rehash stored %q, not a current hash of the password", got)
	}
	for _, tc := range []struct{ name, pw string }{{"u", "nope"}, {"nobody", "pw"}, {"broken", "pw"}} {
		if _, err := verify(ctx, tc.name, tc.pw); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("verify(%s, %s) = %v, want ErrInvalidCredentials", tc.name, tc.pw, err)
		}
	}
	if _, err := verify(ctx, "down", "pw"); err == nil || errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("lookup failure = %v, want it reported as such", err)
	}
}

func TestOutsideManagerHandler(t *testing.T) {
	a := auth.New[User](sessionkit.New(newMemStore(t)), func(u User) string { return u.ID }, nil)
	r := httptest.NewRequest("GET", "/", nil)
	if _, err := a.User(r); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("User without sessions = %v", err)
	}
	if err := a.Login(httptest.NewRecorder(), r, User{ID: "1"}); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("Login without sessions = %v", err)
	}
	if err := a.Logout(httptest.NewRecorder(), r); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("Logout without sessions = %v", err)
	}
}

func TestHandlerUnderManager(t *testing.T) {
	// a.Handler inside Manager.Handler uses the existing session.
	e := newEnv(t)
	srv := httptest.NewServer(e.m.Handler(e.a.Handler(e.mux)))
	defer srv.Close()
	e.srv = srv
	c := e.client()
	if r := c.login("alice", "wonderland", ""); r.code != http.StatusSeeOther {
		t.Fatalf("login = %d", r.code)
	}
	if got := c.whoami(); got != "alice" {
		t.Errorf("whoami = %q", got)
	}
}
