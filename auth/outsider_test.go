package auth_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/store/cookiestore"
)

// newClockEnv is newEnv on a fake clock, with the routes a stranger
// following the package documentation would mount.
func newClockEnv(t *testing.T, configure ...func(*auth.Auth[User])) (*env, *browser.Clock) {
	// The clock starts now: the cookies' Expires come from it.
	clk := browser.NewClockAt(time.Now().UTC().Truncate(time.Second))
	e := newEnv(t, append([]func(*auth.Auth[User]){func(a *auth.Auth[User]) { a.Manager.Now = clk.Now }}, configure...)...)
	e.mux.Handle("POST /account/delete", e.a.RequireRecent(10*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "deleted")
	})))
	e.mux.Handle("GET /account/security", e.a.RequireRecent(10*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "security")
	})))
	e.mux.Handle("POST /signin", e.a.Authenticate(auth.Options[User]{
		SuccessRedirect: "/home", SuccessReturnTo: true,
		FailureRedirect: "/login", FailureFlash: true, SuccessFlash: true,
	}, &auth.Local[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil)}))
	e.mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		fl, err := auth.Flashes(sessionkit.From(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for _, f := range fl {
			fmt.Fprintln(w, f.Kind+": "+f.Message)
		}
	})
	withShippedHandlers(e)
	return e, clk
}

// Recent login on the fake clock: within the window the action runs;
// after it a page request goes to the login page with return_to and
// max_age, an API request gets 401 reauthentication_required, and a new
// password login makes it recent again and returns to the page.
func TestOutsiderRequireRecent(t *testing.T) {
	e, clk := newClockEnv(t)
	c := e.client()
	c.login("alice", "wonderland", "")
	if r := c.do("POST", "/account/delete", nil); r.code != 200 || r.body != "deleted" {
		t.Fatalf("fresh login: %d %q %q %v", r.code, r.body, r.location, r.header)
	}
	clk.Advance(10*time.Minute + time.Second)
	if r := c.do("GET", "/account/security", nil); r.code != http.StatusSeeOther || r.location != "/login?max_age=600&return_to=%2Faccount%2Fsecurity" {
		t.Fatalf("stale GET: %d to %q", r.code, r.location)
	}
	if r := c.do("POST", "/account/delete", nil); r.code != http.StatusSeeOther || r.location != "/login?max_age=600" {
		t.Fatalf("stale POST: %d to %q", r.code, r.location)
	}
	r := c.do("POST", "/account/delete", nil, "Accept", "application/json")
	var body struct {
		Error  string `json:"error"`
		MaxAge int    `json:"max_age"`
	}
	if r.code != 401 || json.Unmarshal([]byte(r.body), &body) != nil || body.Error != "reauthentication_required" || body.MaxAge != 600 {
		t.Fatalf("stale API: %d %s", r.code, r.body)
	}
	if c.whoami() != "alice" {
		t.Fatal("a stale login was logged out")
	}
	// The form knows it is a reauthentication.
	var seen auth.LoginForm
	e.mux.Handle("/relogin", &auth.FormLogin[User]{Auth: e.a, Verify: auth.PasswordVerifier(cheap, e.lookup, nil),
		Render: func(w http.ResponseWriter, r *http.Request, status int, f auth.LoginForm) {
			seen = f
			w.WriteHeader(status)
		}})
	c.do("GET", "/relogin?max_age=600&return_to=%2Faccount%2Fsecurity", nil)
	if !seen.Reauth || seen.ReturnTo != "/account/security" {
		t.Fatalf("reauth form: %+v", seen)
	}
	r = c.do("POST", "/relogin?max_age=600&return_to=%2Faccount%2Fsecurity", url.Values{"username": {"alice"}, "password": {"wonderland"}, "return_to": {"/account/security"}})
	if r.code != http.StatusSeeOther || r.location != "/account/security" {
		t.Fatalf("relogin: %d to %q", r.code, r.location)
	}
	if r := c.do("GET", "/account/security", nil); r.code != 200 {
		t.Fatalf("after relogin: %d to %q", r.code, r.location)
	}
	// Anonymous: as Require.
	if r := e.client().do("GET", "/account/security", nil, "Accept", "application/json"); r.code != 401 || !strings.Contains(r.body, `"unauthorized"`) {
		t.Fatalf("anonymous: %d %s", r.code, r.body)
	}
}

// Login through the authenticate handler: the pre-login cookie stops
// working, the posted return_to wins over SuccessRedirect, and the flash
// messages are shown once.
func TestOutsiderAuthenticateLocal(t *testing.T) {
	e, _ := newClockEnv(t)
	c := e.client()
	c.do("POST", "/set?k=cart&v=3", nil)
	pre := c.cookie()
	if pre == nil {
		t.Fatal("no session before login")
	}
	r := c.do("POST", "/signin", url.Values{"username": {"alice"}, "password": {"wonderland"}, "return_to": {"/private/cart"}})
	if r.code != http.StatusSeeOther || r.location != "/private/cart" {
		t.Fatalf("signin: %d to %q", r.code, r.location)
	}
	if c.cookie().Value == pre.Value {
		t.Fatal("login kept the session ID")
	}
	if got := c.do("GET", "/get?k=cart", nil).body; got != "3" {
		t.Fatalf("cart after login: %q", got)
	}
	old := e.client()
	u, _ := url.Parse(e.srv.URL)
	old.jar.SetCookies(u, []*http.Cookie{{Name: pre.Name, Value: pre.Value}})
	if old.whoami() != "anonymous" || old.do("GET", "/get?k=cart", nil).body != "" {
		t.Fatal("the pre-login cookie still works")
	}
	if got := c.do("GET", "/flashes", nil).body; got != "success: "+auth.MsgSignedIn {
		t.Fatalf("flashes: %q", got)
	}
	if got := c.do("GET", "/flashes", nil).body; got != "" {
		t.Fatalf("flashes shown twice: %q", got)
	}
	// Failure: redirect with a flash, shown once; an API client gets JSON.
	d := e.client()
	if r := d.do("POST", "/signin", url.Values{"username": {"alice"}, "password": {"nope"}}); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("failed signin: %d to %q", r.code, r.location)
	}
	if got := d.do("GET", "/flashes", nil).body; got != "error: "+auth.MsgInvalidCredentials {
		t.Fatalf("failure flash: %q", got)
	}
	if got := d.do("GET", "/flashes", nil).body; got != "" {
		t.Fatalf("failure flash shown twice: %q", got)
	}
	r = d.do("POST", "/signin", url.Values{"username": {"alice"}}, "Accept", "application/json")
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, auth.MsgMissingFields) {
		t.Fatalf("API failure: %d %s", r.code, r.body)
	}
	// A page under ReturnToKey (connect-ensure-login) is used once.
	f := e.client()
	f.do("POST", "/set?k="+auth.ReturnToKey+"&v=/private/kept", nil)
	if r := f.do("POST", "/signin", url.Values{"username": {"bob"}, "password": {"builder"}}); r.location != "/private/kept" {
		t.Fatalf("signin with returnTo in session: to %q", r.location)
	}
	if got := f.do("GET", "/get?k="+auth.ReturnToKey, nil).body; got != "" {
		t.Fatalf("returnTo left in the session: %q", got)
	}
	// FormLogin ignores ReturnToKey.
	g := e.client()
	g.do("POST", "/set?k="+auth.ReturnToKey+"&v=/private/kept", nil)
	if r := g.login("bob", "builder", ""); r.location != "/" {
		t.Fatalf("FormLogin with returnTo in session: to %q", r.location)
	}
}

// Several devices of one user: the list, revoking one, the others, all;
// the errors Revoke and the per-user functions document.
func TestOutsiderDevices(t *testing.T) {
	e, clk := newClockEnv(t)
	laptop, phone := e.client(), e.client()
	laptop.do("POST", "/login", url.Values{"username": {"alice"}, "password": {"wonderland"}}, "User-Agent", "Laptop/1")
	clk.Advance(time.Minute)
	phone.do("POST", "/login", url.Values{"username": {"alice"}, "password": {"wonderland"}}, "User-Agent", "Phone/1")
	clk.Advance(time.Minute)
	list := laptop.handles()
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	if !list[0].Current || list[1].Current || list[0].UserAgent != "Laptop/1" || list[1].UserAgent != "Phone/1" {
		t.Fatalf("list: %+v", list)
	}
	for _, s := range list {
		if s.IP != "127.0.0.1" || s.LoginAt.IsZero() || s.Created.IsZero() || s.LastActive.IsZero() || s.Expires.IsZero() {
			t.Errorf("metadata missing: %+v", s)
		}
	}
	if start := clk.Now().Add(-2 * time.Minute); !list[1].LoginAt.Equal(start.Add(time.Minute)) || !list[0].LoginAt.Equal(start) {
		t.Errorf("phone login at %v", list[1].LoginAt)
	}
	// Revoke via the function: an unknown handle is ErrUnknownSession.
	var revokeErr error
	e.mux.HandleFunc("POST /fn/revoke", func(w http.ResponseWriter, r *http.Request) {
		revokeErr = e.a.Revoke(r, r.URL.Query().Get("h"))
	})
	laptop.do("POST", "/fn/revoke?h=nope", nil)
	if !errors.Is(revokeErr, auth.ErrUnknownSession) {
		t.Fatalf("Revoke(unknown) = %v", revokeErr)
	}
	e.client().do("POST", "/fn/revoke?h="+list[1].Handle, nil)
	if !errors.Is(revokeErr, auth.ErrNotAuthenticated) {
		t.Fatalf("anonymous Revoke = %v", revokeErr)
	}
	laptop.do("POST", "/fn/revoke?h="+list[1].Handle, nil)
	if revokeErr != nil || phone.whoami() != "anonymous" || laptop.whoami() != "alice" {
		t.Fatalf("Revoke(phone) = %v; phone %s laptop %s", revokeErr, phone.whoami(), laptop.whoami())
	}
	// Revoke the current one: a logout.
	laptop.do("POST", "/fn/revoke?h="+laptop.handles()[0].Handle, nil)
	if revokeErr != nil || laptop.whoami() != "anonymous" {
		t.Fatalf("Revoke(current) = %v; laptop %s", revokeErr, laptop.whoami())
	}
}

// An app on a store without a per-user index, and on client-side
// sessions: a logged-in user's device list and the revoke handlers report
// the documented error (ErrNotSupported, the ErrorHandler's 503); logging
// out still works.
func TestOutsiderNoIndex(t *testing.T) {
	cs, err := cookiestore.New("session", []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	managers := map[string]*sessionkit.Manager{
		"plain store": sessionkit.New(plainStore{newMemStore(t)}),
		"cookiestore": sessionkit.NewClientSide(cs),
	}
	for name, m := range managers {
		t.Run(name, func(t *testing.T) {
			m.Logger = slog.New(slog.DiscardHandler)
			e := newEnv(t)
			e.m = m
			e.a = auth.New(m, func(u User) string { return u.ID }, e.deserialize)
			e.a.Logger = m.Logger
			var listErr, allErr, othersErr, userErr error
			mux := http.NewServeMux()
			mux.Handle("/login", &auth.FormLogin[User]{Auth: e.a, Verify: auth.PasswordVerifier(cheap, e.lookup, nil)})
			mux.Handle("POST /logout", &auth.LogoutHandler[User]{Auth: e.a})
			mux.Handle("POST /revoke-others", &auth.RevokeHandler[User]{Auth: e.a, Scope: auth.RevokeOthers})
			mux.Handle("POST /revoke-all", &auth.RevokeHandler[User]{Auth: e.a, Scope: auth.RevokeAll})
			mux.HandleFunc("GET /fn", func(w http.ResponseWriter, r *http.Request) {
				_, listErr = e.a.Sessions(r)
				_, othersErr = e.a.RevokeOthers(r)
				_, userErr = e.a.UserSessions(r.Context(), "1")
				_, allErr = e.a.RevokeAll(r.Context(), "1")
			})
			mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
				u, err := e.a.User(r)
				if err != nil {
					fmt.Fprint(w, "anonymous")
					return
				}
				fmt.Fprint(w, u.Name)
			})
			e.srv = httptest.NewServer(e.a.Handler(mux))
			t.Cleanup(e.srv.Close)
			c := e.client()
			if r := c.login("alice", "wonderland", ""); r.code != http.StatusSeeOther {
				t.Fatalf("login: %d", r.code)
			}
			for _, path := range []string{"/revoke-others", "/revoke-all"} {
				if r := c.do("POST", path, nil); r.code != http.StatusServiceUnavailable {
					t.Errorf("POST %s: %d, want 503", path, r.code)
				}
				if c.whoami() != "alice" {
					t.Fatalf("POST %s logged out", path)
				}
			}
			c.do("GET", "/fn", nil)
			for what, err := range map[string]error{"Sessions": listErr, "RevokeOthers": othersErr, "UserSessions": userErr, "RevokeAll": allErr} {
				if !errors.Is(err, auth.ErrNotSupported) {
					t.Errorf("%s = %v, want ErrNotSupported", what, err)
				}
			}
			if c.whoami() != "alice" {
				t.Fatal("a failed RevokeAll logged out")
			}
			if r := c.do("POST", "/logout", nil); r.code != http.StatusSeeOther || c.whoami() != "anonymous" {
				t.Fatalf("logout: %d, then %s", r.code, c.whoami())
			}
		})
	}
}

// Bearer, APIKey and Basic over HTTP: the documented statuses and
// challenges, no cookie on success, and User returns the user in the
// route after Then.
func TestOutsiderStatelessStrategies(t *testing.T) {
	e, _ := newClockEnv(t)
	tokens := auth.StaticTokens(map[string]User{"tok-alice-0123456789": {ID: "1", Name: "alice"}})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := e.a.User(r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, "hi "+u.Name)
	})
	e.mux.Handle("/api/bearer", e.a.Authenticate(auth.Options[User]{}, &auth.Bearer[User]{Verify: tokens}).Then(api))
	e.mux.Handle("/api/key", e.a.Authenticate(auth.Options[User]{}, &auth.APIKey[User]{Verify: tokens}).Then(api))
	e.mux.Handle("/api/basic", e.a.Authenticate(auth.Options[User]{FailureRedirect: "/login"}, &auth.Basic[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil), Realm: "admin"}).Then(api))
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		path          string
		header        []string
		code          int
		body          string // substring
		wantChallenge string
	}{
		{"/api/bearer", nil, 401, `"unauthorized"`, `Bearer realm="api"`},
		{"/api/bearer", []string{"Authorization", "Bearer tok-alice-0123456789"}, 200, "hi alice", ""},
		{"/api/bearer", []string{"Authorization", "bearer tok-alice-0123456789"}, 200, "hi alice", ""},
		{"/api/bearer", []string{"Authorization", "Bearer wrong"}, 401, `"unauthorized"`, `Bearer realm="api", error="invalid_token"`},
		{"/api/bearer", []string{"Authorization", "Bearer a,b"}, 400, `"invalid_request"`, `Bearer realm="api", error="invalid_request"`},
		{"/api/bearer", []string{"Authorization", "Bearer " + strings.Repeat("a", auth.MaxTokenLength+1)}, 400, `"invalid_request"`, `Bearer realm="api", error="invalid_request"`},
		{"/api/key", nil, 401, `"unauthorized"`, ""},
		{"/api/key", []string{"X-API-Key", "tok-alice-0123456789"}, 200, "hi alice", ""},
		{"/api/key", []string{"X-API-Key", "wrong"}, 401, `"unauthorized"`, ""},
		{"/api/key", []string{"X-API-Key", strings.Repeat("k", auth.MaxTokenLength+1)}, 400, `"invalid_request"`, ""},
		{"/api/basic", nil, 401, `"unauthorized"`, `Basic realm="admin", charset="UTF-8"`},
		{"/api/basic", []string{"Authorization", basic("alice:wonderland")}, 200, "hi alice", ""},
		{"/api/basic", []string{"Authorization", basic("alice:nope")}, 401, auth.MsgInvalidCredentials, `Basic realm="admin", charset="UTF-8"`},
		{"/api/basic", []string{"Authorization", basic("nobody:nope")}, 401, auth.MsgInvalidCredentials, `Basic realm="admin", charset="UTF-8"`},
		{"/api/basic", []string{"Authorization", "Basic !!!"}, 400, `"invalid_request"`, ""},
		{"/api/basic", []string{"Authorization", basic("alice")}, 400, `"invalid_request"`, ""},
	}
	for _, tt := range tests {
		c := e.client()
		r := c.do("GET", tt.path, nil, tt.header...)
		if r.code != tt.code || !strings.Contains(r.body, tt.body) || r.header.Get("WWW-Authenticate") != tt.wantChallenge {
			t.Errorf("%s %q: %d %q %q, want %d %q %q", tt.path, tt.header, r.code, r.body, r.header.Get("WWW-Authenticate"), tt.code, tt.body, tt.wantChallenge)
		}
		if len(r.header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s %q: a stateless request got a cookie: %q", tt.path, tt.header, r.header.Values("Set-Cookie"))
		}
	}
}

// The authenticate handler's posted return_to counts when another
// Manager wraps the app too (a checkout session beside the login
// session): SuccessReturnTo reads the request's return-to parameter,
// "from the query or a posted form" (Auth.ReturnTo).
func TestOutsiderPostedReturnToBesideAnotherManager(t *testing.T) {
	for name, wrap := range map[string]func(e *env, co *sessionkit.Manager) http.Handler{
		"auth outside": func(e *env, co *sessionkit.Manager) http.Handler { return e.a.Handler(co.Handler(e.mux)) },
		"auth inside":  func(e *env, co *sessionkit.Manager) http.Handler { return co.Handler(e.a.Handler(e.mux)) },
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := newClockEnv(t)
			co := sessionkit.New(newMemStore(t))
			co.Cookie.Name = "checkout"
			co.Logger = e.m.Logger
			e.srv = httptest.NewServer(wrap(e, co))
			t.Cleanup(e.srv.Close)
			c := e.client()
			r := c.do("POST", "/signin", url.Values{"username": {"alice"}, "password": {"wonderland"}, "return_to": {"/private/cart"}})
			if r.code != http.StatusSeeOther || r.location != "/private/cart" {
				t.Fatalf("signin: %d to %q, want 303 to /private/cart", r.code, r.location)
			}
		})
	}
}

// The per-user list follows the logins: a second login in the same
// browser keeps one entry, another user's login in it moves it (and
// drops the first user's values), a logout (also keeping data) and a
// vanished user take it off.
func TestOutsiderSessionListFollowsLogins(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("KeepDataOnLogout=", keep), func(t *testing.T) {
			e, _ := newClockEnv(t, func(a *auth.Auth[User]) { a.KeepDataOnLogout = keep })
			var (
				mu    sync.Mutex
				lists = map[string][]auth.SessionInfo{}
			)
			e.mux.HandleFunc("GET /admin/lists", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				for _, k := range []string{"1", "2"} {
					l, err := e.a.UserSessions(r.Context(), k)
					if err != nil {
						t.Errorf("UserSessions(%s): %v", k, err)
					}
					lists[k] = l
				}
			})
			count := func() (int, int) {
				e.client().do("GET", "/admin/lists", nil)
				mu.Lock()
				defer mu.Unlock()
				for _, l := range lists {
					for _, s := range l {
						if s.Current {
							t.Errorf("UserSessions marked %+v current", s)
						}
					}
				}
				return len(lists["1"]), len(lists["2"])
			}
			c := e.client()
			c.do("POST", "/set?k=cart&v=3", nil)
			c.login("alice", "wonderland", "")
			c.login("alice", "wonderland", "")
			if a, b := count(); a != 1 || b != 0 {
				t.Fatalf("after two logins of alice: %d %d sessions", a, b)
			}
			if got := c.do("GET", "/get?k=cart", nil).body; got != "3" {
				t.Fatalf("cart after alice's logins: %q", got)
			}
			c.login("bob", "builder", "")
			if a, b := count(); a != 0 || b != 1 {
				t.Fatalf("after bob's login in alice's browser: %d %d sessions", a, b)
			}
			if got := c.do("GET", "/get?k=cart", nil).body; got != "" {
				t.Fatalf("bob sees alice's cart %q", got)
			}
			if r := c.do("POST", "/out", nil); r.code != http.StatusSeeOther {
				t.Fatalf("logout: %d", r.code)
			}
			if a, b := count(); a != 0 || b != 0 {
				t.Fatalf("after logout: %d %d sessions", a, b)
			}
			// A user that vanished.
			d := e.client()
			d.login("bob", "builder", "")
			e.deleteUser("2")
			if d.whoami() != "anonymous" {
				t.Fatal("vanished user still logged in")
			}
			if _, b := count(); b != 0 {
				t.Fatalf("vanished user's session still listed: %d", b)
			}
		})
	}
}

// RevokeHandler on the current session's own handle is a logout: the
// API answer says so, a page goes to the login page.
func TestOutsiderRevokeCurrentByHandle(t *testing.T) {
	e, _ := newClockEnv(t)
	c := e.client()
	c.login("alice", "wonderland", "")
	h := c.handles()[0].Handle
	if r := c.do("POST", "/revoke", url.Values{"handle": {h}}, "Accept", "application/json"); r.code != 200 || r.body != `{"revoked":1,"current":true}` {
		t.Fatalf("revoke current (API): %d %s", r.code, r.body)
	}
	if c.whoami() != "anonymous" {
		t.Fatal("still logged in")
	}
	c.login("alice", "wonderland", "")
	h = c.handles()[0].Handle
	if r := c.do("POST", "/revoke", url.Values{"handle": {h}}); r.code != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("revoke current: %d to %q", r.code, r.location)
	}
	if c.whoami() != "anonymous" {
		t.Fatal("still logged in")
	}
	// Methods and anonymous requests.
	if r := c.do("GET", "/revoke", nil); r.code != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET /revoke: %d %q", r.code, r.header.Get("Allow"))
	}
	if r := c.do("GET", "/out", nil); r.code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /out: %d", r.code)
	}
	if r := c.do("POST", "/out", nil, "Accept", "application/json"); r.code != http.StatusNoContent {
		t.Fatalf("anonymous API logout: %d", r.code)
	}
}

// Options.Stateless with the password strategy: the route sees the user,
// no session or cookie is made, the next request is anonymous. With every
// strategy passing the answer is the default failure, as JSON: stateless
// logins never get a page.
func TestOutsiderStatelessLocal(t *testing.T) {
	e, _ := newClockEnv(t)
	e.mux.Handle("/api/login-once", e.a.Authenticate(auth.Options[User]{Stateless: true},
		&auth.Local[User]{Verify: auth.PasswordVerifier(cheap, e.lookup, nil)}).Then(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := e.a.User(r)
		fmt.Fprint(w, u.Name, err)
	})))
	c := e.client()
	r := c.do("POST", "/api/login-once", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	if r.code != 200 || r.body != "alice<nil>" || len(r.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("stateless local: %d %q %q", r.code, r.body, r.header.Values("Set-Cookie"))
	}
	if c.whoami() != "anonymous" {
		t.Fatal("a stateless login made a session")
	}
	if r := c.do("GET", "/api/login-once", nil); r.code != 401 || r.body != `{"error":"unauthorized","message":"`+auth.MsgAuthFailed+`"}` {
		t.Fatalf("all passed (API): %d %q", r.code, r.body)
	}
}

// Flash messages come kind by kind in the order the kinds were first
// added, or the order asked for, in connect-flash's layout; each is
// shown once.
func TestOutsiderFlashOrder(t *testing.T) {
	e, _ := newClockEnv(t)
	e.mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		for _, kv := range [][2]string{{"info", "a"}, {"error", "b"}, {"info", "c"}, {"success", "d"}} {
			if err := auth.AddFlash(s, kv[0], kv[1]); err != nil {
				t.Error(err)
			}
		}
	})
	e.mux.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[json.RawMessage](sessionkit.From(r.Context()), auth.FlashKey)
		w.Write(v)
	})
	e.mux.HandleFunc("GET /some", func(w http.ResponseWriter, r *http.Request) {
		fl, err := auth.Flashes(sessionkit.From(r.Context()), r.URL.Query()["k"]...)
		if err != nil {
			t.Error(err)
		}
		for _, f := range fl {
			fmt.Fprint(w, f.Kind, ":", f.Message, " ")
		}
	})
	c := e.client()
	c.do("POST", "/add", nil)
	if got := c.do("GET", "/raw", nil).body; got != `{"info":["a","c"],"error":["b"],"success":["d"]}` {
		t.Fatalf("layout: %s", got)
	}
	if got := c.do("GET", "/some?k=success&k=info", nil).body; got != "success:d info:a info:c" {
		t.Fatalf("asked for success, info: %q", got)
	}
	if got := c.do("GET", "/some", nil).body; got != "error:b" {
		t.Fatalf("the rest: %q", got)
	}
	if got := c.do("GET", "/some", nil).body; got != "" {
		t.Fatalf("shown twice: %q", got)
	}
	if err := auth.AddFlash(nil, "info", "x"); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("AddFlash(nil) = %v", err)
	}
	if fl, err := auth.Flashes(nil); fl != nil || err != nil {
		t.Errorf("Flashes(nil) = %v, %v", fl, err)
	}
}

// A browser logged in as alice that sends bob's bearer token to a route
// behind the Bearer strategy: the request's user is bob, and the
// per-session functions, which "work from the request's login session",
// must not hand bob alice's device list or let him revoke her sessions,
// nor count her recent login as his (RequireRecent).
func TestOutsiderBearerOverAnotherUsersCookie(t *testing.T) {
	e, _ := newClockEnv(t)
	tokens := auth.StaticTokens(map[string]User{"tok-bob-0123456789": {ID: "2", Name: "bob"}})
	e.mux.Handle("/api/", e.a.Authenticate(auth.Options[User]{}, &auth.Bearer[User]{Verify: tokens}).Then(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.a.User(r)
		switch r.URL.Path {
		case "/api/sessions":
			list, err := e.a.Sessions(r)
			fmt.Fprint(w, u.Name, " ", len(list), " ", err)
		case "/api/revoke-others":
			n, err := e.a.RevokeOthers(r)
			fmt.Fprint(w, u.Name, " ", n, " ", err)
		case "/api/recent":
			li, _ := e.a.LoginInfo(r)
			ok, err := e.a.AuthenticatedWithin(r, time.Hour)
			fmt.Fprint(w, u.Name, " ", li.User, " ", ok, " ", err)
		}
	})))
	c, other := e.client(), e.client()
	c.login("alice", "wonderland", "")
	other.login("alice", "wonderland", "")
	bearer := []string{"Authorization", "Bearer tok-bob-0123456789"}
	if r := c.do("GET", "/api/sessions", nil, bearer...); r.body != "bob 0 "+auth.ErrNotAuthenticated.Error() {
		t.Errorf("Sessions for bob's token in alice's browser: %q", r.body)
	}
	if r := c.do("POST", "/api/revoke-others", nil, bearer...); r.body != "bob 0 "+auth.ErrNotAuthenticated.Error() {
		t.Errorf("RevokeOthers for bob's token in alice's browser: %q", r.body)
	}
	if other.whoami() != "alice" {
		t.Error("bob's token revoked alice's other session")
	}
	if r := c.do("GET", "/api/recent", nil, bearer...); r.body != "bob  false <nil>" {
		t.Errorf("LoginInfo and AuthenticatedWithin for bob's token in alice's browser: %q", r.body)
	}
	// Without the token the browser is alice's as before.
	if list := c.handles(); len(list) != 2 || !list[0].Current {
		t.Errorf("alice's list: %+v", list)
	}
}

// What a custom strategy's Result means, as Result and Options say: the
// login's AuthTime (zero is now, the future is now, time.Unix(0, 0) is
// unknown and never recent), failure statuses (0 and nonsense are 401),
// every failure's challenge with the first one's message, errors as 503,
// and the Callback seeing failures with their status and message.
func TestOutsiderCustomResults(t *testing.T) {
	e, clk := newClockEnv(t)
	alice := User{ID: "1", Name: "alice"}
	results := map[string]auth.Result[User]{}
	at := func(tm time.Time) auth.Result[User] {
		r := auth.Success(alice)
		r.AuthTime = tm
		return r
	}
	withChallenge := func(status int, msg, ch string) auth.Result[User] {
		r := auth.Failure[User](status, msg)
		r.Challenge = ch
		return r
	}
	results["now"] = at(time.Time{})
	results["future"] = at(clk.Now().Add(time.Hour))
	results["unknown"] = at(time.Unix(0, 0))
	results["old"] = at(clk.Now().Add(-2 * time.Hour))
	results["zero status"] = auth.Failure[User](0, "nope")
	results["odd status"] = auth.Failure[User](302, "nope")
	results["teapot"] = withChallenge(418, "short and stout", `Custom realm="a"`)
	results["error"] = auth.Error[User](errors.New("database down"))
	pick := auth.StrategyFunc[User](func(r *http.Request) auth.Result[User] { return results[r.URL.Query().Get("r")] })
	second := auth.StrategyFunc[User](func(r *http.Request) auth.Result[User] {
		return withChallenge(401, "second", `Other realm="b"`)
	})
	e.mux.Handle("/custom", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home"}, pick, second))
	var got auth.Result[User]
	e.mux.Handle("/callback", e.a.Authenticate(auth.Options[User]{Callback: func(w http.ResponseWriter, r *http.Request, res auth.Result[User]) {
		got = res
		w.WriteHeader(299)
	}}, pick))
	e.mux.Handle("GET /recent", e.a.RequireRecent(time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "recent")
	})))
	for name, wantRecent := range map[string]bool{"now": true, "future": true, "unknown": false, "old": false} {
		c := e.client()
		if r := c.do("GET", "/custom?r="+url.QueryEscape(name), nil); r.code != http.StatusSeeOther || r.location != "/home" {
			t.Fatalf("%s: %d to %q", name, r.code, r.location)
		}
		if r := c.do("GET", "/recent", nil); (r.code == 200) != wantRecent {
			t.Errorf("%s: RequireRecent answered %d to %q, want recent %v", name, r.code, r.location, wantRecent)
		}
		// A minute and a bit later nothing is recent.
		if name == "future" {
			clk.Advance(time.Minute + time.Second)
			if r := c.do("GET", "/recent", nil); r.code == 200 {
				t.Errorf("a login with a future AuthTime is recent a minute later")
			}
		}
	}
	tests := []struct {
		name       string
		code       int
		body       string
		challenges []string
	}{
		{"zero status", 401, "nope", []string{`Other realm="b"`}},
		{"odd status", 401, "nope", []string{`Other realm="b"`}},
		{"teapot", 418, "short and stout", []string{`Custom realm="a"`, `Other realm="b"`}},
		{"error", 503, auth.MsgUnavailable, nil},
	}
	for _, tt := range tests {
		r := e.client().do("GET", "/custom?r="+url.QueryEscape(tt.name), nil)
		if r.code != tt.code || r.body != tt.body || fmt.Sprint(r.header.Values("WWW-Authenticate")) != fmt.Sprint(tt.challenges) {
			t.Errorf("%s: %d %q %q, want %d %q %q", tt.name, r.code, r.body, r.header.Values("WWW-Authenticate"), tt.code, tt.body, tt.challenges)
		}
	}
	if r := e.client().do("GET", "/callback?r=zero+status", nil); r.code != 299 || got.Outcome != auth.Failed || got.Status != 401 || got.Message != "nope" {
		t.Errorf("callback failure: %d %+v", r.code, got)
	}
	if r := e.client().do("GET", "/callback?r=error", nil); r.code != 299 || got.Outcome != auth.Errored {
		t.Errorf("callback error: %d %+v", r.code, got)
	}
	// LoginResult refuses anything but a success.
	var loginErr error
	e.mux.HandleFunc("POST /lr", func(w http.ResponseWriter, r *http.Request) {
		loginErr = e.a.LoginResult(w, r, auth.Failure[User](401, "x"))
	})
	e.client().do("POST", "/lr", nil)
	if loginErr == nil {
		t.Error("LoginResult(Failure) logged in")
	}
}

// OAuth2 callbacks as the strategy's Faults paragraph lists them, without
// FailureRedirect so that the statuses show: bad states are 400
// MsgLoginExpired, access_denied 401 MsgLoginCancelled, other provider
// errors 401, server_error and temporarily_unavailable 503; the state is
// used up by its first callback, whatever it said. None logs in.
func TestOutsiderOAuth2Faults(t *testing.T) {
	op := newFakeOP(t)
	e, clk := newClockEnv(t)
	gh := &auth.OAuth2[User]{
		Config: &oauth2.Config{
			ClientID: op.client, ClientSecret: op.secret,
			Endpoint:    oauth2.Endpoint{AuthURL: op.srv.URL + "/authorize", TokenURL: op.srv.URL + "/token"},
			RedirectURL: e.srv.URL + "/auth/gh/callback",
		},
		Profile: func(context.Context, *http.Client, *oauth2.Token) (auth.Identity, error) {
			return auth.Identity{Subject: "4242"}, nil
		},
		MapUser: func(context.Context, auth.Identity) (User, error) { return User{ID: "1", Name: "alice"}, nil },
		Now:     clk.Now,
	}
	h := e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home"}, gh)
	e.mux.Handle("GET /auth/gh", h)
	e.mux.Handle("GET /auth/gh/callback", h)
	// callback runs a login through the provider and returns the
	// callback's query.
	callback := func(c *client) url.Values {
		t.Helper()
		r := c.do("GET", "/auth/gh", nil)
		resp, err := c.hc.Get(r.location)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	with := func(q url.Values, kv ...string) url.Values {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				q2.Del(kv[i])
			} else {
				q2.Set(kv[i], kv[i+1])
			}
		}
		return q2
	}
	tests := []struct {
		name    string
		authErr string // the provider answers with this error
		misuse  func(c *client, q url.Values) (*client, url.Values)
		code    int
		msg     string
	}{
		{"wrong state", "", func(c *client, q url.Values) (*client, url.Values) { return c, with(q, "state", "x") }, 400, auth.MsgLoginExpired},
		{"no state", "", func(c *client, q url.Values) (*client, url.Values) { return c, with(q, "state", "") }, 400, auth.MsgLoginExpired},
		{"other browser", "", func(c *client, q url.Values) (*client, url.Values) { return e.client(), q }, 400, auth.MsgLoginExpired},
		{"expired", "", func(c *client, q url.Values) (*client, url.Values) {
			clk.Advance(10*time.Minute + time.Second)
			return c, q
		}, 400, auth.MsgLoginExpired},
		{"no code", "", func(c *client, q url.Values) (*client, url.Values) { return c, with(q, "code", "") }, 400, auth.MsgProviderFailed},
		{"access denied", "access_denied", nil, 401, auth.MsgLoginCancelled},
		{"invalid scope", "invalid_scope", nil, 401, auth.MsgProviderFailed},
		{"server error", "server_error", nil, 503, auth.MsgUnavailable},
		{"temporarily unavailable", "temporarily_unavailable", nil, 503, auth.MsgUnavailable},
	}
	for _, tt := range tests {
		op.set(func(op *fakeOP) { op.authErr = tt.authErr })
		c := e.client()
		q := callback(c)
		by := c
		if tt.misuse != nil {
			by, q = tt.misuse(c, q)
		}
		r := by.do("GET", "/auth/gh/callback?"+q.Encode(), nil)
		if r.code != tt.code || r.body != tt.msg {
			t.Errorf("%s: %d %q, want %d %q", tt.name, r.code, r.body, tt.code, tt.msg)
		}
		if by.whoami() != "anonymous" || c.whoami() != "anonymous" {
			t.Errorf("%s: logged in", tt.name)
		}
		// The state named a login of c's: it is used up.
		if tt.misuse == nil || tt.name == "no code" {
			op.set(func(op *fakeOP) { op.authErr = "" })
			if r := c.do("GET", "/auth/gh/callback?"+with(q, "error", "").Encode(), nil); r.code != 400 || r.body != auth.MsgLoginExpired {
				t.Errorf("%s: the state's second callback: %d %q", tt.name, r.code, r.body)
			}
		}
	}
}

// The page Require sent the user away from, query and all, is where the
// form login returns; HEAD carries it too.
func TestOutsiderRequireReturnToRoundTrip(t *testing.T) {
	e, _ := newClockEnv(t)
	c := e.client()
	page := "/private/x?a=1&b=%2F2#frag"
	r := c.do("GET", page, nil)
	want := "/login?return_to=" + url.QueryEscape("/private/x?a=1&b=%2F2")
	if r.code != http.StatusSeeOther || r.location != want {
		t.Fatalf("Require: %d to %q, want %q", r.code, r.location, want)
	}
	if r := c.do("HEAD", page, nil); r.code != http.StatusSeeOther || r.location != want {
		t.Fatalf("Require (HEAD): %d to %q", r.code, r.location)
	}
	u, _ := url.Parse(r.location)
	if r := c.login("alice", "wonderland", u.Query().Get("return_to")); r.code != http.StatusSeeOther || r.location != "/private/x?a=1&b=%2F2" {
		t.Fatalf("login: %d to %q", r.code, r.location)
	}
	if r := c.do("GET", "/private/x?a=1&b=%2F2", nil); r.code != 200 || r.body != "alice alice /private/x?a=1&b=%2F2" {
		t.Fatalf("back at the page: %d %q", r.code, r.body)
	}
}

// The setup the package documentation shows, CrossOrigin around
// Handler around the mux, refuses cross-site POSTs to the app's own
// routes (deleteAccount) and lets same-origin ones through.
func TestOutsiderDocumentedSetupProtectsAppRoutes(t *testing.T) {
	e, _ := newClockEnv(t)
	srv := httptest.NewServer(e.a.CrossOrigin.Handler(e.a.Handler(e.mux)))
	t.Cleanup(srv.Close)
	e.srv = srv
	c := e.client()
	c.login("alice", "wonderland", "")
	for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		if r := c.do("POST", "/account/delete", nil, h...); r.code != http.StatusForbidden {
			t.Errorf("cross-site %q: %d, want 403", h, r.code)
		}
	}
	for _, h := range [][]string{{"Origin", srv.URL}, {"Sec-Fetch-Site", "same-origin"}, nil} {
		if r := c.do("POST", "/account/delete", nil, h...); r.code != 200 || r.body != "deleted" {
			t.Errorf("same-origin %q: %d %q", h, r.code, r.body)
		}
	}
}

// The device list's order and last-use times follow use on the fake
// clock, and RevokeAll counts every session it ended, the current one
// included.
func TestOutsiderDeviceOrderAndRevokeAllCount(t *testing.T) {
	e, clk := newClockEnv(t)
	laptop, phone, tablet := e.client(), e.client(), e.client()
	for _, c := range []*client{laptop, phone, tablet} {
		c.login("alice", "wonderland", "")
	}
	clk.Advance(20 * time.Minute)
	tablet.do("POST", "/set?k=x&v=1", nil) // a change: saved for sure
	clk.Advance(20 * time.Minute)
	phone.do("POST", "/set?k=x&v=1", nil)
	clk.Advance(time.Minute)
	list := laptop.handles()
	if len(list) != 3 || !list[0].Current {
		t.Fatalf("list: %+v", list)
	}
	phoneAt, tabletAt := list[1].LastActive, list[2].LastActive
	if !phoneAt.After(tabletAt) || clk.Now().Sub(phoneAt) > 2*time.Minute {
		t.Errorf("order by last use: %+v", list[1:])
	}
	if r := laptop.do("POST", "/revoke-all", nil, "Accept", "application/json"); r.body != `{"revoked":3,"current":true}` {
		t.Errorf("revoke all: %d %s", r.code, r.body)
	}
	for _, c := range []*client{laptop, phone, tablet} {
		if c.whoami() != "anonymous" {
			t.Error("a session survived RevokeAll")
		}
	}
}

// The custom login of the package documentation: the handler logs the
// user in itself and redirects to users.ReturnTo(r), which reads the
// return-to parameter "from the query or a posted form" — also when the
// handler did not parse the form itself (its user came from elsewhere, a
// header here), as r.FormValue would.
func TestOutsiderCustomLoginReturnTo(t *testing.T) {
	e, _ := newClockEnv(t)
	e.mux.HandleFunc("POST /custom-login", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Passkey") != "alice-ok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		if err := e.a.Login(w, r, User{ID: "1", Name: "alice"}); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		http.Redirect(w, r, cmp.Or(e.a.ReturnTo(r), "/"), http.StatusSeeOther)
	})
	c := e.client()
	r := c.do("POST", "/custom-login", url.Values{"return_to": {"/private/after"}}, "X-Passkey", "alice-ok")
	if r.code != http.StatusSeeOther || r.location != "/private/after" {
		t.Fatalf("custom login: %d to %q, want /private/after", r.code, r.location)
	}
	// The query still counts, and an unsafe posted value is refused.
	r = c.do("POST", "/custom-login?return_to=%2Fq", url.Values{}, "X-Passkey", "alice-ok")
	if r.location != "/q" {
		t.Fatalf("query return_to: %q", r.location)
	}
	r = c.do("POST", "/custom-login?return_to=%2Fq", url.Values{"return_to": {"//evil.example"}}, "X-Passkey", "alice-ok")
	if r.location != "/" {
		t.Fatalf("unsafe posted return_to: %q", r.location)
	}
}

// ReturnTo leaves a body that is not a form alone: a JSON login handler
// reads all of it afterwards, however large.
func TestOutsiderReturnToLeavesJSONBody(t *testing.T) {
	e, _ := newClockEnv(t)
	big := `{"pad":"` + strings.Repeat("x", 100<<10) + `"}`
	e.mux.HandleFunc("POST /json-login", func(w http.ResponseWriter, r *http.Request) {
		rt := e.a.ReturnTo(r)
		var v struct{ Pad string }
		err := json.NewDecoder(r.Body).Decode(&v)
		fmt.Fprint(w, rt, " ", len(v.Pad), " ", err)
	})
	req, _ := http.NewRequest("POST", e.srv.URL+"/json-login?return_to=%2Fj", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got := string(b); got != fmt.Sprint("/j ", 100<<10, " <nil>") {
		t.Fatalf("JSON handler after ReturnTo: %q", got)
	}
}

// Repeated credential headers are malformed (400) and never reach
// Verify, for Bearer and APIKey alike.
func TestOutsiderRepeatedCredentialHeaders(t *testing.T) {
	e, _ := newClockEnv(t)
	var verified int
	var mu sync.Mutex
	verify := func(_ context.Context, tok string) (User, error) {
		mu.Lock()
		verified++
		mu.Unlock()
		return User{ID: "1", Name: "alice"}, nil
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	e.mux.Handle("/r/bearer", e.a.Authenticate(auth.Options[User]{}, &auth.Bearer[User]{Verify: verify}).Then(ok))
	e.mux.Handle("/r/key", e.a.Authenticate(auth.Options[User]{}, &auth.APIKey[User]{Verify: verify}).Then(ok))
	for path, h := range map[string][2]string{
		"/r/bearer": {"Authorization", "Bearer tok1"},
		"/r/key":    {"X-API-Key", "key1"},
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Add(h[0], h[1])
		req.Header.Add(h[0], h[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s with two %s headers: %d, want 400", path, h[0], resp.StatusCode)
		}
	}
	if verified != 0 {
		t.Errorf("Verify ran %d times", verified)
	}
}

// A "Sign in with" button that is a form POST (so that the start is
// protected against cross-site requests) carries its return_to in the
// body: the authenticate handler keeps it across the provider round trip.
func TestOutsiderOIDCPostedStartReturnTo(t *testing.T) {
	e := newOIDCEnv(t)
	h := e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", SuccessReturnTo: true, FailureRedirect: "/login"}, e.oidc)
	e.mux.Handle("POST /auth/oidc", h)
	c := e.client()
	r := c.do("POST", "/auth/oidc", url.Values{"return_to": {"/private/after"}})
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, e.op.srv.URL+"/authorize?") {
		t.Fatalf("posted start: %d to %q", r.code, r.location)
	}
	resp, err := c.hc.Get(r.location)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := strings.TrimPrefix(resp.Header.Get("Location"), e.srv.URL)
	if r := c.do("GET", cb, nil); r.code != http.StatusSeeOther || r.location != "/private/after" {
		t.Fatalf("callback: %d to %q, want /private/after", r.code, r.location)
	}
	if c.whoami() != "alice" {
		t.Fatal("not logged in")
	}
}

// The documented errors of the request functions for an anonymous
// request, and of Login and Logout without a session.
func TestOutsiderDocumentedErrors(t *testing.T) {
	e, _ := newClockEnv(t)
	got := map[string]error{}
	e.mux.HandleFunc("GET /errs", func(w http.ResponseWriter, r *http.Request) {
		_, got["User"] = e.a.User(r)
		_, got["LoginInfo"] = e.a.LoginInfo(r)
		_, got["AuthenticatedWithin"] = e.a.AuthenticatedWithin(r, time.Hour)
		_, got["Sessions"] = e.a.Sessions(r)
		got["Revoke"] = e.a.Revoke(r, "x")
		_, got["RevokeOthers"] = e.a.RevokeOthers(r)
	})
	e.client().do("GET", "/errs", nil)
	for name, err := range got {
		if !errors.Is(err, auth.ErrNotAuthenticated) {
			t.Errorf("%s(anonymous) = %v, want ErrNotAuthenticated", name, err)
		}
	}
	if len(got) != 6 {
		t.Fatalf("handler did not run: %v", got)
	}
	// Outside any Manager's handler.
	r := httptest.NewRequest("POST", "/", nil)
	if err := e.a.Login(httptest.NewRecorder(), r, User{ID: "1"}); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("Login without a session = %v", err)
	}
	if err := e.a.Logout(httptest.NewRecorder(), r); !errors.Is(err, sessionkit.ErrNoSession) {
		t.Errorf("Logout without a session = %v", err)
	}
	if _, err := e.a.User(r); err == nil || errors.Is(err, auth.ErrNotAuthenticated) {
		t.Errorf("User without a session = %v, want an error that is not ErrNotAuthenticated", err)
	}
	// An unknown user's list is empty, not an error; Serialize must not
	// return "".
	if list, err := e.a.UserSessions(context.Background(), "nobody"); err != nil || len(list) != 0 {
		t.Errorf("UserSessions(unknown) = %v, %v", list, err)
	}
	var emptyKeyErr error
	e.mux.HandleFunc("POST /empty-key", func(w http.ResponseWriter, r *http.Request) {
		emptyKeyErr = e.a.Login(w, r, User{ID: ""})
	})
	e.client().do("POST", "/empty-key", nil)
	if emptyKeyErr == nil {
		t.Error("Login of a user whose key is empty succeeded")
	}
}

// RevokeAll's count and effect do not depend on KeepDataOnLogout; with
// it the current browser keeps its other values, logged out.
func TestOutsiderRevokeAllKeepData(t *testing.T) {
	e, _ := newClockEnv(t, func(a *auth.Auth[User]) { a.KeepDataOnLogout = true })
	laptop, phone := e.client(), e.client()
	laptop.login("alice", "wonderland", "")
	phone.login("alice", "wonderland", "")
	laptop.do("POST", "/set?k=cart&v=3", nil)
	if r := laptop.do("POST", "/revoke-all", nil, "Accept", "application/json"); r.body != `{"revoked":2,"current":true}` {
		t.Errorf("revoke all: %d %s", r.code, r.body)
	}
	if laptop.whoami() != "anonymous" || phone.whoami() != "anonymous" {
		t.Error("a session survived RevokeAll")
	}
	if got := laptop.do("GET", "/get?k=cart", nil).body; got != "3" {
		t.Errorf("KeepDataOnLogout: cart %q after RevokeAll", got)
	}
}

// RevokeAll's doc: "A failed save of that logout does not stop the
// revocation: the session is revoked with the others and the error is
// returned" — here the save fails because the response headers are out.
func TestOutsiderRevokeAllLateSaveStillRevokes(t *testing.T) {
	e, _ := newClockEnv(t, func(a *auth.Auth[User]) { a.KeepDataOnLogout = true })
	var (
		n   int
		err error
	)
	e.mux.HandleFunc("POST /late-revoke-all", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		n, err = e.a.RevokeAll(r.Context(), "1")
	})
	laptop, phone := e.client(), e.client()
	laptop.login("alice", "wonderland", "")
	phone.login("alice", "wonderland", "")
	laptop.do("POST", "/set?k=cart&v=3", nil) // kept by the logout: it needs a new cookie
	laptop.do("POST", "/late-revoke-all", nil)
	if !errors.Is(err, sessionkit.ErrHeadersSent) || n != 2 {
		t.Errorf("RevokeAll after the headers = %d, %v; want 2 and ErrHeadersSent", n, err)
	}
	if laptop.whoami() != "anonymous" || phone.whoami() != "anonymous" {
		t.Error("a session survived RevokeAll")
	}
	if es, _ := e.store.(sessionkit.UserIndex).UserSessions(context.Background(), "1"); len(es) != 0 {
		t.Errorf("alice's index lists %d sessions", len(es))
	}
}

// A browser logged in as alice that also sends alice's own bearer token
// keeps its login session: the device list and RequireRecent work.
func TestOutsiderBearerOverOwnCookie(t *testing.T) {
	e, _ := newClockEnv(t)
	tokens := auth.StaticTokens(map[string]User{"tok-alice-0123456789": {ID: "1", Name: "alice"}})
	e.mux.Handle("/api/", e.a.Authenticate(auth.Options[User]{}, &auth.Bearer[User]{Verify: tokens}).Then(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := e.a.Sessions(r)
		ok, rerr := e.a.AuthenticatedWithin(r, time.Hour)
		fmt.Fprint(w, len(list), " ", err, " ", ok, " ", rerr)
	})))
	c := e.client()
	c.login("alice", "wonderland", "")
	if r := c.do("GET", "/api/x", nil, "Authorization", "Bearer tok-alice-0123456789"); r.body != "1 <nil> true <nil>" {
		t.Errorf("alice's token in alice's browser: %q", r.body)
	}
	// The token alone: no login session, not recent.
	if r := e.client().do("GET", "/api/x", nil, "Authorization", "Bearer tok-alice-0123456789"); r.body != "0 "+auth.ErrNotAuthenticated.Error()+" false <nil>" {
		t.Errorf("alice's token alone: %q", r.body)
	}
}

// A page under ReturnToKey is validated when used: an unsafe one (put
// there by other software sharing the session) is dropped for
// SuccessRedirect, and removed all the same.
func TestOutsiderUnsafeReturnToKey(t *testing.T) {
	e, _ := newClockEnv(t)
	for _, bad := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "/a\tb"} {
		c := e.client()
		c.do("POST", "/set?k="+auth.ReturnToKey+"&v="+url.QueryEscape(bad), nil)
		if r := c.do("POST", "/signin", url.Values{"username": {"alice"}, "password": {"wonderland"}}); r.code != http.StatusSeeOther || r.location != "/home" {
			t.Errorf("%q: %d to %q, want /home", bad, r.code, r.location)
		}
		if got := c.do("GET", "/get?k="+auth.ReturnToKey, nil).body; got != "" {
			t.Errorf("%q left in the session", got)
		}
	}
}
