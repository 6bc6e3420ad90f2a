package auth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// withShippedHandlers mounts the handlers the package ships on e's mux.
func withShippedHandlers(e *env) {
	e.mux.Handle("/out", &auth.LogoutHandler[User]{Auth: e.a, Redirect: "/bye", Flash: "Signed out."})
	e.mux.Handle("/revoke", &auth.RevokeHandler[User]{Auth: e.a, Scope: auth.RevokeOne, Redirect: "/sessions"})
	e.mux.Handle("/revoke-others", &auth.RevokeHandler[User]{Auth: e.a, Scope: auth.RevokeOthers, Redirect: "/sessions"})
	e.mux.Handle("/revoke-all", &auth.RevokeHandler[User]{Auth: e.a, Scope: auth.RevokeAll})
	e.mux.Handle("/auth/local", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", FailureRedirect: "/login"},
		&auth.Local[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil)}))
	e.mux.HandleFunc("GET /handles", func(w http.ResponseWriter, r *http.Request) {
		list, err := e.a.Sessions(r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(list)
	})
}

func (c *client) handles() []auth.SessionInfo {
	c.t.Helper()
	var list []auth.SessionInfo
	if err := json.Unmarshal([]byte(c.do("GET", "/handles", nil).body), &list); err != nil {
		c.t.Fatal(err)
	}
	return list
}

// Every state-changing handler the package ships refuses a cross-site
// POST (issue 15 point 5) and leaves the user signed in, while the same
// POST from the site itself works.
func TestShippedHandlersRefuseCrossOrigin(t *testing.T) {
	crossSite := [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site", "Origin", "https://sub.evil.example"},
	}
	routes := []struct {
		path     string
		form     func(c *client) url.Values
		wantCode int
		wantLoc  string
		signedIn bool // after the same-origin POST
	}{
		{"/out", nil, http.StatusSeeOther, "/bye", false},
		{"/revoke", func(c *client) url.Values {
			for _, s := range c.handles() {
				if !s.Current {
					return url.Values{"handle": {s.Handle}}
				}
			}
			c.t.Fatal("no other session")
			return nil
		}, http.StatusSeeOther, "/sessions", true},
		{"/revoke-others", nil, http.StatusSeeOther, "/sessions", true},
		{"/revoke-all", nil, http.StatusSeeOther, "/login", false},
		{"/login", func(*client) url.Values {
			return url.Values{"username": {"bob"}, "password": {"builder"}}
		}, http.StatusSeeOther, "/", true},
		{"/auth/local", func(*client) url.Values {
			return url.Values{"username": {"bob"}, "password": {"builder"}}
		}, http.StatusSeeOther, "/home", true},
	}
	for _, rt := range routes {
		t.Run(rt.path, func(t *testing.T) {
			e := newEnv(t)
			withShippedHandlers(e)
			c, other := e.client(), e.client()
			c.login("alice", "wonderland", "")
			other.login("alice", "wonderland", "")
			var form url.Values
			if rt.form != nil {
				form = rt.form(c)
			}
			for _, h := range crossSite {
				r := c.do("POST", rt.path, form, h...)
				if r.code != http.StatusForbidden {
					t.Errorf("POST %s with %v = %d, want 403", rt.path, h, r.code)
				}
				if got := c.whoami(); got != "alice" {
					t.Fatalf("after a refused POST %s the user is %q, want alice", rt.path, got)
				}
				if got := other.whoami(); got != "alice" {
					t.Fatalf("after a refused POST %s the other device is %q, want alice", rt.path, got)
				}
			}
			r := c.do("POST", rt.path, form, "Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL)
			if r.code != rt.wantCode || r.location != rt.wantLoc {
				t.Fatalf("same-origin POST %s = %d to %q, want %d to %q", rt.path, r.code, r.location, rt.wantCode, rt.wantLoc)
			}
			if got := c.whoami(); (got != "anonymous") != rt.signedIn {
				t.Errorf("after POST %s the user is %q (signed in: want %v)", rt.path, got, rt.signedIn)
			}
		})
	}
}

// The protection is configurable: a trusted origin is let through.
func TestCrossOriginTrustedOrigin(t *testing.T) {
	e := newEnv(t)
	if err := e.a.CrossOrigin.AddTrustedOrigin("https://app.example"); err != nil {
		t.Fatal(err)
	}
	withShippedHandlers(e)
	c := e.client()
	c.login("alice", "wonderland", "")
	if r := c.do("POST", "/out", nil, "Origin", "https://evil.example"); r.code != http.StatusForbidden {
		t.Fatalf("untrusted origin = %d, want 403", r.code)
	}
	if r := c.do("POST", "/out", nil, "Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"); r.code != http.StatusSeeOther {
		t.Fatalf("trusted origin = %d, want 303", r.code)
	}
	if got := c.whoami(); got != "anonymous" {
		t.Fatalf("after logout from a trusted origin: %q", got)
	}
}

// An Auth built without New (CrossOrigin nil) is protected as well.
func TestCrossOriginNilIsProtected(t *testing.T) {
	e := newEnv(t, func(a *auth.Auth[User]) { a.CrossOrigin = nil })
	withShippedHandlers(e)
	c := e.client()
	c.login("alice", "wonderland", "")
	if r := c.do("POST", "/out", nil, "Sec-Fetch-Site", "cross-site"); r.code != http.StatusForbidden {
		t.Fatalf("cross-site logout with CrossOrigin nil = %d, want 403", r.code)
	}
	if got := c.whoami(); got != "alice" {
		t.Fatalf("user after refused logout: %q", got)
	}
}

func TestLogoutHandler(t *testing.T) {
	e := newEnv(t)
	withShippedHandlers(e)
	e.mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		fl, err := auth.Flashes(sessionkit.From(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(fl)
	})
	c := e.client()
	c.login("alice", "wonderland", "")
	old := c.cookie().Value
	if r := c.do("GET", "/out", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET /out = %d, want 405", r.code)
	}
	if got := c.whoami(); got != "alice" {
		t.Fatalf("GET logged out: %q", got)
	}
	if r := c.do("POST", "/out", nil); r.code != http.StatusSeeOther || r.location != "/bye" {
		t.Fatalf("POST /out = %d %q", r.code, r.location)
	}
	if c.cookie() == nil || c.cookie().Value == old {
		t.Fatal("the flash did not start a fresh session")
	}
	if got := c.do("GET", "/flashes", nil).body; got != `[{"kind":"info","message":"Signed out."}]` {
		t.Errorf("flashes after logout = %s", got)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "null" {
		t.Errorf("flashes read twice: %s", got)
	}
	// Logging out again is no error; an API client gets 204.
	if r := c.do("POST", "/out", nil, "Accept", "application/json"); r.code != http.StatusNoContent {
		t.Errorf("API logout = %d, want 204", r.code)
	}
}

func TestRevokeHandler(t *testing.T) {
	e := newEnv(t)
	withShippedHandlers(e)
	laptop, phone, tablet := e.client(), e.client(), e.client()
	for _, c := range []*client{laptop, phone, tablet} {
		c.login("alice", "wonderland", "")
	}
	bob := e.client()
	bob.login("bob", "builder", "")
	// One session, by handle; a handle of another user's session is
	// not found and ends nothing.
	var phoneHandle string
	for _, s := range phone.handles() {
		if s.Current {
			phoneHandle = s.Handle
		}
	}
	bobHandle := bob.handles()[0].Handle
	if r := laptop.do("POST", "/revoke", url.Values{"handle": {bobHandle}}, "Accept", "application/json"); r.body != `{"revoked":0,"current":false}` {
		t.Fatalf("revoke another user's session: %d %s", r.code, r.body)
	}
	if bob.whoami() != "bob" {
		t.Fatal("alice revoked bob's session")
	}
	if r := laptop.do("POST", "/revoke", url.Values{"handle": {phoneHandle}}); r.code != http.StatusSeeOther || r.location != "/sessions" {
		t.Fatalf("revoke = %d %q", r.code, r.location)
	}
	if phone.whoami() != "anonymous" || laptop.whoami() != "alice" || tablet.whoami() != "alice" {
		t.Fatal("revoke one ended the wrong sessions")
	}
	// All others.
	if r := laptop.do("POST", "/revoke-others", nil, "Accept", "application/json"); r.body != `{"revoked":1,"current":false}` {
		t.Fatalf("revoke others: %d %s", r.code, r.body)
	}
	if tablet.whoami() != "anonymous" || laptop.whoami() != "alice" {
		t.Fatal("revoke others ended the wrong sessions")
	}
	// All, the current one included.
	tablet.login("alice", "wonderland", "")
	if r := laptop.do("POST", "/revoke-all", nil); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("revoke all = %d %q", r.code, r.location)
	}
	if tablet.whoami() != "anonymous" || laptop.whoami() != "anonymous" || bob.whoami() != "bob" {
		t.Fatal("revoke all ended the wrong sessions")
	}
	// Anonymous: like Require.
	if r := laptop.do("POST", "/revoke-others", nil); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Errorf("anonymous revoke = %d %q", r.code, r.location)
	}
	if r := laptop.do("POST", "/revoke-others", nil, "Accept", "application/json"); r.code != http.StatusUnauthorized {
		t.Errorf("anonymous API revoke = %d", r.code)
	}
}

// The shipped handlers include Auth.Handler, as Authenticator and Require
// do: mounted on a mux that nothing wraps (or only Manager.Handler wraps)
// they log in, list, revoke and log out instead of answering 503.
func TestShippedHandlersWithoutAuthHandler(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/login", &auth.FormLogin[User]{Auth: e.a, Verify: auth.PasswordVerifier(cheap, e.lookup, nil)})
	mux.Handle("/out", &auth.LogoutHandler[User]{Auth: e.a, Redirect: "/bye"})
	mux.Handle("/revoke-others", &auth.RevokeHandler[User]{Auth: e.a, Scope: auth.RevokeOthers, Redirect: "/sessions"})
	mux.Handle("/whoami", e.a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.a.User(r)
		_, _ = w.Write([]byte(u.Name))
	})))
	for name, h := range map[string]http.Handler{"bare": mux, "Manager.Handler": e.m.Handler(mux)} {
		t.Run(name, func(t *testing.T) {
			e.srv = httptest.NewServer(h)
			defer e.srv.Close()
			c, other := e.client(), e.client()
			for _, cl := range []*client{c, other} {
				if r := cl.login("alice", "wonderland", ""); r.code != http.StatusSeeOther || r.location != "/" {
					t.Fatalf("login = %d to %q (%s), want 303 to /", r.code, r.location, r.body)
				}
			}
			if got := c.whoami(); got != "alice" {
				t.Fatalf("whoami after login = %q", got)
			}
			if r := c.do("POST", "/revoke-others", url.Values{}, "Accept", "application/json"); r.code != http.StatusOK || r.body != `{"revoked":1,"current":false}` {
				t.Errorf("revoke-others = %d %s", r.code, r.body)
			}
			if r := other.do("GET", "/whoami", nil); r.code != http.StatusSeeOther {
				t.Errorf("revoked session: GET /whoami = %d, want 303 to the login page", r.code)
			}
			if r := c.do("POST", "/out", url.Values{}); r.code != http.StatusSeeOther || r.location != "/bye" {
				t.Errorf("logout = %d to %q, want 303 to /bye", r.code, r.location)
			}
			if r := c.do("GET", "/whoami", nil); r.code != http.StatusSeeOther {
				t.Errorf("after logout: GET /whoami = %d, want 303", r.code)
			}
		})
	}
}

// The password-change flow RevokeAll documents: called with the request's
// context it ends every session of the user, the current one included, and
// a Login in the same request continues under a new ID. The other device
// and the old cookie are signed out; one session is listed.
func TestRevokeAllThenLoginInOneRequest(t *testing.T) {
	e := newEnv(t)
	withShippedHandlers(e)
	e.mux.Handle("POST /password", e.a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.a.User(r)
		n, err := e.a.RevokeAll(r.Context(), u.ID)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if e.a.IsAuthenticated(r) {
			http.Error(w, "still logged in after RevokeAll", 500)
			return
		}
		if err := e.a.Login(w, r, u); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = fmt.Fprint(w, n)
	})))
	c, other := e.client(), e.client()
	c.login("alice", "wonderland", "")
	other.login("alice", "wonderland", "")
	old := c.cookie().Value
	if r := c.do("POST", "/password", url.Values{}); r.code != 200 || r.body != "2" {
		t.Fatalf("password change = %d %q, want 200 ending 2 sessions", r.code, r.body)
	}
	if c.cookie().Value == old {
		t.Error("the session ID survived RevokeAll and Login")
	}
	if got := c.whoami(); got != "alice" {
		t.Errorf("after the change: %q, want alice", got)
	}
	if got := other.whoami(); got != "anonymous" {
		t.Errorf("the other device: %q, want anonymous", got)
	}
	replay := e.client()
	replay.jar.SetCookies(mustURL(t, e.srv.URL), []*http.Cookie{{Name: "session", Value: old, Path: "/"}})
	if got := replay.whoami(); got != "anonymous" {
		t.Errorf("the old cookie replayed: %q, want anonymous", got)
	}
	if list := c.handles(); len(list) != 1 || !list[0].Current {
		t.Errorf("sessions after the change: %+v, want the current one only", list)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Every answer of the authenticate handler carries Cache-Control: no-store
// and Referrer-Policy: no-referrer, the cross-origin refusal included.
func TestAuthenticatorHeadersOnEveryAnswer(t *testing.T) {
	e := newEnv(t)
	withShippedHandlers(e)
	c := e.client()
	good := url.Values{"username": {"alice"}, "password": {"wonderland"}}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header []string
		code   int
	}{
		{"cross-site", good, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"failure", url.Values{"username": {"alice"}, "password": {"nope"}}, nil, http.StatusSeeOther},
		{"success", good, nil, http.StatusSeeOther},
	} {
		r := c.do("POST", "/auth/local", tc.form, tc.header...)
		if r.code != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, r.code, tc.code)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: Cache-Control %q, Referrer-Policy %q", tc.name, r.header.Get("Cache-Control"), r.header.Get("Referrer-Policy"))
		}
	}
}

// Auth works in its own Manager's session when several Managers wrap the
// handler (a long login session beside a short checkout one, see
// Manager.From), whichever is innermost: the login, the OpenID Connect
// login in progress, the session list and the logout all use the login
// session's cookie and store, and the checkout session keeps only its own
// values.
func TestBesideAnotherManager(t *testing.T) {
	for name, wrap := range map[string]func(e *env, checkout *sessionkit.Manager) http.Handler{
		"auth outside": func(e *env, co *sessionkit.Manager) http.Handler { return e.a.Handler(co.Handler(e.mux)) },
		"auth inside":  func(e *env, co *sessionkit.Manager) http.Handler { return co.Handler(e.a.Handler(e.mux)) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newOIDCEnv(t)
			withShippedHandlers(e.env)
			co := sessionkit.New(newMemStore(t))
			co.Cookie.Name = "checkout"
			co.Logger = e.m.Logger
			e.mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
				_ = co.From(r.Context()).Set("cart", "1")
			})
			e.mux.HandleFunc("GET /checkout-keys", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, strings.Join(co.From(r.Context()).Keys(), ","))
			})
			e.srv = httptest.NewServer(wrap(e.env, co))
			t.Cleanup(e.srv.Close)
			e.oidc.RedirectURL = e.srv.URL + "/auth/oidc/callback"

			c := e.client()
			c.do("POST", "/cart", nil)
			if r := c.login("alice", "wonderland", ""); r.code != http.StatusSeeOther {
				t.Fatalf("login = %d %s", r.code, r.body)
			}
			if c.cookie() == nil {
				t.Fatal("the login set no login-session cookie")
			}
			if got := c.whoami(); got != "alice" {
				t.Fatalf("whoami = %q", got)
			}
			if list := c.handles(); len(list) != 1 || !list[0].Current {
				t.Errorf("sessions = %+v, want the current one", list)
			}
			if r := c.do("POST", "/out", nil); r.code != http.StatusSeeOther {
				t.Errorf("logout = %d", r.code)
			}
			if got := c.whoami(); got != "anonymous" {
				t.Errorf("after logout: %q", got)
			}
			cb := e.start(c, "/auth/oidc")
			if got := c.do("GET", "/checkout-keys", nil).body; got != "cart" {
				t.Errorf("checkout session holds %q, want only its cart", got)
			}
			if r := c.do("GET", cb, nil); r.code != http.StatusSeeOther || r.location != "/home" {
				t.Fatalf("OIDC callback = %d to %q, want 303 to /home", r.code, r.location)
			}
			if got := c.whoami(); got != "alice" {
				t.Errorf("after the OIDC login: %q", got)
			}
			if got := c.do("GET", "/checkout-keys", nil).body; got != "cart" {
				t.Errorf("checkout session holds %q after the logins, want only its cart", got)
			}
		})
	}
}
