// Package authtest runs the login-session flows of package auth against a
// session store, through a real sessionkit.Manager, an httptest server and
// clients with cookie jars. Every store that keeps login sessions should
// run it next to storetest:
//
//	func TestAuthFlows(t *testing.T) {
//		authtest.Run(t, func(t *testing.T) sessionkit.Store {
//			return newIsolatedStore(t) // fresh and empty, cleaned up by t.Cleanup
//		})
//	}
//
// Flows that need the per-user index (listing and revoking sessions) check
// instead that a store without sessionkit.UserIndex reports
// sessionkit.ErrNotSupported.
package authtest

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// Run runs every flow as a subtest. newStore must return a fresh, empty,
// isolated store on each call and arrange its cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) sessionkit.Store) {
	flows := []struct {
		name string
		fn   func(t *testing.T, a *app)
	}{
		{"LoginRegeneratesID", testLoginRegeneratesID},
		{"LogoutInvalidatesCookie", testLogoutInvalidatesCookie},
		{"DeletedUserIsAnonymous", testDeletedUser},
		{"SwitchUser", testSwitchUser},
		{"ListSessions", testListSessions},
		{"RevokeOne", testRevokeOne},
		{"RevokeOthers", testRevokeOthers},
		{"RevokeAll", testRevokeAll},
		{"ConcurrentLogins", testConcurrentLogins},
		{"NoIndex", testNoIndex},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			f.fn(t, newApp(t, newStore(t)))
		})
	}
	// These flows count the store's records, so each case gets a store
	// of its own.
	t.Run("RevokedDuringRegenerate", func(t *testing.T) {
		testRevokedDuringRegenerate(t, func(t *testing.T) *app { return newApp(t, newStore(t)) })
	})
}

// User is the application user of the test app.
type user struct {
	ID string
}

// app is a small application with login routes over the store under test.
type app struct {
	t     *testing.T
	store sessionkit.Store
	index sessionkit.UserIndex // nil when the store has none
	m     *sessionkit.Manager
	auth  *auth.Auth[user]
	keep  *auth.Auth[user] // a.auth with KeepDataOnLogout
	srv   *httptest.Server

	// otherM and other are another process over the same store: a
	// Manager and Auth of their own, outside any request.
	otherM *sessionkit.Manager
	other  *auth.Auth[user]

	mu     sync.Mutex
	users  map[string]bool
	during func(r *http.Request) error // run by POST /regenerate once its session is loaded
}

func newApp(t *testing.T, store sessionkit.Store) *app {
	t.Helper()
	// Warnings and errors of the Manager and Auth explain failures (a
	// store error behind a 503); routine notices stay quiet.
	quiet := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	a := &app{t: t, store: store, users: map[string]bool{}}
	a.index, _ = store.(sessionkit.UserIndex)
	a.m = sessionkit.New(store)
	a.m.Logger = quiet
	a.auth = auth.New(a.m,
		func(u user) string { return u.ID },
		func(_ context.Context, key string) (user, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			if !a.users[key] {
				return user{}, auth.ErrUserNotFound
			}
			return user{ID: key}, nil
		})
	a.auth.Logger = quiet
	a.keep = auth.New(a.m, a.auth.Serialize, a.auth.Deserialize)
	a.keep.Logger = quiet
	a.keep.KeepDataOnLogout = true
	a.otherM = sessionkit.New(store)
	a.otherM.Logger = quiet
	a.other = auth.New(a.otherM, a.auth.Serialize, a.auth.Deserialize)
	a.other.Logger = quiet
	for _, id := range []string{"alice", "bob", "carol"} {
		a.users[id] = true
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("user")
		a.mu.Lock()
		ok := a.users[id]
		a.mu.Unlock()
		if !ok {
			http.Error(w, "no such user", http.StatusNotFound)
			return
		}
		if err := a.auth.Login(w, r, user{ID: id}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := a.auth.Logout(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.Handle("GET /me", a.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.auth.User(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, u.ID)
	})))
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, err := a.auth.User(r)
		switch {
		case errors.Is(err, auth.ErrNotAuthenticated):
			fmt.Fprint(w, "anonymous")
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			fmt.Fprint(w, u.ID)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := sessionkit.From(r.Context()).Set(q.Get("k"), q.Get("v")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, err := sessionkit.Get[string](sessionkit.From(r.Context()), r.URL.Query().Get("k"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		list, err := a.auth.Sessions(r)
		if err != nil {
			httpError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		if err := a.auth.Revoke(r, r.URL.Query().Get("handle")); err != nil {
			httpError(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := a.auth.RevokeOthers(r)
		if err != nil {
			httpError(w, err)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("POST /revoke-all", func(w http.ResponseWriter, r *http.Request) {
		u, err := a.auth.User(r)
		if err != nil {
			httpError(w, err)
			return
		}
		au := a.auth
		if r.URL.Query().Has("keep") {
			au = a.keep
		}
		n, err := au.RevokeAll(r.Context(), a.auth.Serialize(u))
		if err != nil {
			httpError(w, err)
			return
		}
		fmt.Fprint(w, n)
	})
	// POST /regenerate loads the session, runs a.during (another
	// request or process revoking it, say), then does what "then" says:
	// Regenerate (the default), "login" (as "user"), or "logout" keeping
	// the session's data. It answers the session's ID as it stands
	// before the commit: the new ID Regenerate gave it.
	mux.HandleFunc("POST /regenerate", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		q := r.URL.Query()
		if err := s.Err(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a.mu.Lock()
		during := a.during
		a.mu.Unlock()
		if during != nil {
			if err := during(r); err != nil {
				http.Error(w, "during: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		var err error
		switch q.Get("then") {
		case "login":
			err = a.auth.Login(w, r, user{ID: q.Get("user")})
		case "logout":
			err = a.keep.Logout(w, r)
		default:
			err = s.Regenerate()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, s.ID())
	})
	a.srv = httptest.NewServer(a.auth.Handler(mux))
	t.Cleanup(a.srv.Close)
	return a
}

func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, auth.ErrNotAuthenticated):
		code = http.StatusUnauthorized
	case errors.Is(err, auth.ErrUnknownSession):
		code = http.StatusNotFound
	case errors.Is(err, sessionkit.ErrNotSupported):
		code = http.StatusNotImplemented
	}
	http.Error(w, err.Error(), code)
}

func (a *app) deleteUser(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.users, id)
}

func (a *app) addUser(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[id] = true
}

// needIndex skips the rest of a flow for stores without a user index.
func (a *app) needIndex(t *testing.T) {
	t.Helper()
	if a.index == nil {
		t.Skipf("store %T has no per-user index (covered by NoIndex)", a.store)
	}
}

// indexed returns the store keys the index holds for userKey, checking
// that each is live and owned by userKey.
func (a *app) indexed(t *testing.T, userKey string) []string {
	t.Helper()
	es, err := a.index.UserSessions(context.Background(), userKey)
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", userKey, err)
	}
	keys := make([]string, 0, len(es))
	for _, e := range es {
		rec, err := a.store.Load(context.Background(), e.Key)
		if err != nil {
			t.Errorf("index of %q lists %s, which does not load: %v", userKey, e.Key, err)
			continue
		}
		if rec.UserKey != userKey {
			t.Errorf("index of %q lists %s, owned by %q", userKey, e.Key, rec.UserKey)
		}
		keys = append(keys, e.Key)
	}
	slices.Sort(keys)
	return keys
}

// client is a browser: a cookie jar and a user agent.
type client struct {
	t   *testing.T
	a   *app
	hc  *http.Client
	jar *cookiejar.Jar
	ua  string
}

func (a *app) client(t *testing.T, ua string) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{t: t, a: a, hc: hc, jar: jar, ua: ua}
}

// clientWithCookie is a client presenting a given session cookie value,
// for replaying an old cookie.
func (a *app) clientWithCookie(t *testing.T, value string) *client {
	t.Helper()
	c := a.client(t, "replay")
	u, _ := url.Parse(a.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: a.m.Cookie.Name, Value: value, Path: "/"}})
	return c
}

func (c *client) do(method, path string) (int, string) {
	c.t.Helper()
	code, body, err := c.try(method, path)
	if err != nil {
		c.t.Fatal(err)
	}
	return code, body
}

// try is do for a goroutine other than the test's: it returns its error.
func (c *client) try(method, path string) (int, string, error) {
	req, err := http.NewRequest(method, c.a.srv.URL+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// must performs a request that must answer 200 and returns the body.
func (c *client) must(method, path string) string {
	c.t.Helper()
	code, body := c.do(method, path)
	if code != http.StatusOK {
		c.t.Fatalf("%s %s = %d %q, want 200", method, path, code, body)
	}
	return body
}

func (c *client) login(id string) {
	c.t.Helper()
	c.must("POST", "/login?user="+id)
}

// cookie returns the session cookie the client holds ("" when none).
func (c *client) cookie() string {
	u, _ := url.Parse(c.a.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == c.a.m.Cookie.Name {
			return ck.Value
		}
	}
	return ""
}

// key returns the store key of the client's session.
func (c *client) key() string {
	return c.a.m.KeyOf(c.cookie())
}

// authenticatedAs checks GET /me.
func (c *client) authenticatedAs(want string) {
	c.t.Helper()
	code, body := c.do("GET", "/me")
	switch {
	case want == "" && code != http.StatusUnauthorized:
		c.t.Errorf("client %q: GET /me = %d %q, want 401", c.ua, code, body)
	case want != "" && (code != http.StatusOK || body != want):
		c.t.Errorf("client %q: GET /me = %d %q, want 200 %q", c.ua, code, body, want)
	}
}

func (c *client) sessions() []auth.SessionInfo {
	c.t.Helper()
	var list []auth.SessionInfo
	if err := json.Unmarshal([]byte(c.must("GET", "/sessions")), &list); err != nil {
		c.t.Fatalf("GET /sessions: %v", err)
	}
	return list
}

func testLoginRegeneratesID(t *testing.T, a *app) {
	c := a.client(t, "browser")
	c.must("POST", "/set?k=cart&v=3+apples")
	before := c.cookie()
	if before == "" {
		t.Fatal("no session cookie after storing a value")
	}
	c.login("alice")
	after := c.cookie()
	if after == "" || after == before {
		t.Fatalf("session ID not regenerated at login: before %q, after %q", before, after)
	}
	c.authenticatedAs("alice")
	if got := c.must("GET", "/get?k=cart"); got != "3 apples" {
		t.Errorf("value set before login = %q after login, want %q", got, "3 apples")
	}
	old := a.clientWithCookie(t, before)
	old.authenticatedAs("")
	if got := old.must("GET", "/get?k=cart"); got != "" {
		t.Errorf("pre-login cookie still reaches the session's data: %q", got)
	}
	if _, err := a.store.Load(context.Background(), a.m.KeyOf(before)); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("pre-login record still in the store (err %v)", err)
	}
	rec, err := a.store.Load(context.Background(), c.key())
	if err != nil {
		t.Fatalf("logged-in session not stored: %v", err)
	}
	if rec.UserKey != "alice" {
		t.Errorf("stored Record.UserKey = %q, want alice", rec.UserKey)
	}
}

func testLogoutInvalidatesCookie(t *testing.T, a *app) {
	c := a.client(t, "browser")
	c.login("alice")
	loggedIn := c.cookie()
	c.authenticatedAs("alice")
	c.must("POST", "/logout")
	c.authenticatedAs("")
	if c.cookie() == loggedIn {
		t.Error("client still holds the logged-in cookie after logout")
	}
	a.clientWithCookie(t, loggedIn).authenticatedAs("")
	if _, err := a.store.Load(context.Background(), a.m.KeyOf(loggedIn)); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("logged-out record still in the store (err %v)", err)
	}
	if a.index != nil {
		if keys := a.indexed(t, "alice"); len(keys) != 0 {
			t.Errorf("alice's index still lists %d sessions after logout", len(keys))
		}
	}
	// Logging in again works.
	c.login("alice")
	c.authenticatedAs("alice")
}

func testDeletedUser(t *testing.T, a *app) {
	c := a.client(t, "browser")
	c.login("alice")
	c.must("POST", "/set?k=theme&v=dark")
	a.deleteUser("alice")
	if got := c.must("GET", "/whoami"); got != "anonymous" {
		t.Fatalf("deleted user: /whoami = %q, want anonymous", got)
	}
	c.authenticatedAs("")
	// The stale key is gone, not merely unresolvable: bringing the user
	// back does not log the old session in again.
	a.addUser("alice")
	if got := c.must("GET", "/whoami"); got != "anonymous" {
		t.Errorf("after the user reappeared: /whoami = %q, want anonymous (stale key kept)", got)
	}
	if got := c.must("GET", "/get?k=theme"); got != "dark" {
		t.Errorf("the session's other data was lost: theme = %q", got)
	}
	if a.index != nil {
		if keys := a.indexed(t, "alice"); len(keys) != 0 {
			t.Errorf("alice's index still lists %d sessions", len(keys))
		}
	}
}

func testSwitchUser(t *testing.T, a *app) {
	c := a.client(t, "browser")
	c.login("alice")
	c.must("POST", "/set?k=secret&v=alice's")
	c.login("bob")
	c.authenticatedAs("bob")
	if got := c.must("GET", "/get?k=secret"); got != "" {
		t.Errorf("bob's session carries alice's data: %q", got)
	}
	if a.index == nil {
		return
	}
	if keys := a.indexed(t, "alice"); len(keys) != 0 {
		t.Errorf("alice's index lists %d sessions after the browser switched to bob", len(keys))
	}
	if keys := a.indexed(t, "bob"); !slices.Equal(keys, []string{c.key()}) {
		t.Errorf("bob's index = %v, want [%s]", keys, c.key())
	}
}

func testListSessions(t *testing.T, a *app) {
	a.needIndex(t)
	one, two, bob := a.client(t, "UA-one"), a.client(t, "UA-two"), a.client(t, "UA-bob")
	one.login("alice")
	two.login("alice")
	bob.login("bob")
	list := one.sessions()
	if len(list) != 2 {
		t.Fatalf("alice has %d sessions listed, want 2: %+v", len(list), list)
	}
	if !list[0].Current || list[1].Current {
		t.Errorf("current flags = %v, %v; want the current session first and only it", list[0].Current, list[1].Current)
	}
	if list[0].UserAgent != "UA-one" || list[1].UserAgent != "UA-two" {
		t.Errorf("user agents = %q, %q; want UA-one, UA-two", list[0].UserAgent, list[1].UserAgent)
	}
	for _, s := range list {
		if s.IP != "127.0.0.1" {
			t.Errorf("recorded address %q, want 127.0.0.1", s.IP)
		}
		if s.Created.IsZero() || s.LastActive.IsZero() || s.Expires.IsZero() || s.LoginAt.IsZero() {
			t.Errorf("session %s lacks times: %+v", s.Handle, s)
		}
		if s.Handle == "" || s.Handle == one.cookie() || s.Handle == two.cookie() ||
			strings.Contains(one.cookie(), s.Handle) || strings.Contains(one.key()+two.key(), s.Handle) {
			t.Errorf("handle %q is empty or reveals an ID or store key", s.Handle)
		}
	}
	if list[0].Handle != auth.Handle(one.key()) || list[1].Handle != auth.Handle(two.key()) {
		t.Error("handles do not match the sessions' store keys")
	}
	if l := two.sessions(); len(l) != 2 || !l[0].Current || l[0].UserAgent != "UA-two" {
		t.Errorf("second client's view: %+v", l)
	}
	if l := bob.sessions(); len(l) != 1 || l[0].UserAgent != "UA-bob" {
		t.Errorf("bob's view: %+v", l)
	}
	if code, _ := a.client(t, "anon").do("GET", "/sessions"); code != http.StatusUnauthorized {
		t.Errorf("anonymous GET /sessions = %d, want 401", code)
	}
}

func testRevokeOne(t *testing.T, a *app) {
	a.needIndex(t)
	one, two, bob := a.client(t, "one"), a.client(t, "two"), a.client(t, "bob")
	one.login("alice")
	two.login("alice")
	bob.login("bob")
	// Someone else's handle is unknown to alice, even though it exists.
	bobHandle := bob.sessions()[0].Handle
	if code, _ := one.do("POST", "/revoke?handle="+bobHandle); code != http.StatusNotFound {
		t.Errorf("alice revoking bob's session: %d, want 404", code)
	}
	bob.authenticatedAs("bob")
	if code, _ := one.do("POST", "/revoke?handle=nonsense"); code != http.StatusNotFound {
		t.Errorf("revoking an unknown handle: %d, want 404", code)
	}
	one.must("POST", "/revoke?handle="+auth.Handle(two.key()))
	two.authenticatedAs("")
	one.authenticatedAs("alice")
	if keys := a.indexed(t, "alice"); !slices.Equal(keys, []string{one.key()}) {
		t.Errorf("alice's index = %v, want only the remaining session", keys)
	}
	// Revoking the current session logs it out.
	one.must("POST", "/revoke?handle="+auth.Handle(one.key()))
	one.authenticatedAs("")
	if keys := a.indexed(t, "alice"); len(keys) != 0 {
		t.Errorf("alice's index = %v, want empty", keys)
	}
}

func testRevokeOthers(t *testing.T, a *app) {
	a.needIndex(t)
	one, two, three, bob := a.client(t, "one"), a.client(t, "two"), a.client(t, "three"), a.client(t, "bob")
	for _, c := range []*client{one, two, three} {
		c.login("alice")
	}
	bob.login("bob")
	if got := one.must("POST", "/revoke-others"); got != "2" {
		t.Errorf("revoke-others ended %s sessions, want 2", got)
	}
	one.authenticatedAs("alice")
	two.authenticatedAs("")
	three.authenticatedAs("")
	bob.authenticatedAs("bob")
	if l := one.sessions(); len(l) != 1 || !l[0].Current {
		t.Errorf("after revoke-others alice's list = %+v, want only the current one", l)
	}
	if keys := a.indexed(t, "alice"); !slices.Equal(keys, []string{one.key()}) {
		t.Errorf("alice's index = %v, want [%s]", keys, one.key())
	}
}

func testRevokeAll(t *testing.T, a *app) {
	a.needIndex(t)
	one, two, bob := a.client(t, "one"), a.client(t, "two"), a.client(t, "bob")
	one.login("alice")
	two.login("alice")
	bob.login("bob")
	if got := one.must("POST", "/revoke-all"); got != "2" {
		t.Errorf("revoke-all ended %s sessions, want 2", got)
	}
	one.authenticatedAs("")
	two.authenticatedAs("")
	bob.authenticatedAs("bob")
	if keys := a.indexed(t, "alice"); len(keys) != 0 {
		t.Errorf("alice's index = %v after revoke-all", keys)
	}
	if keys := a.indexed(t, "bob"); len(keys) != 1 {
		t.Errorf("bob's index = %v, want one session", keys)
	}
}

func testConcurrentLogins(t *testing.T, a *app) {
	const clients = 8
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = a.client(t, "client-"+strconv.Itoa(i))
		cs[i].must("POST", "/set?k=n&v="+strconv.Itoa(i))
	}
	// Every client logs in as carol twice at once (a double-submitted
	// form), all clients at the same time.
	var wg sync.WaitGroup
	codes := make(chan int, 2*clients)
	for _, c := range cs {
		for range 2 {
			wg.Go(func() {
				req, _ := http.NewRequest("POST", a.srv.URL+"/login?user=carol", nil)
				resp, err := c.hc.Do(req)
				if err != nil {
					codes <- -1
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			})
		}
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Fatalf("a concurrent login answered %d", code)
		}
	}
	var held []string
	for _, c := range cs {
		c.authenticatedAs("carol")
		held = append(held, c.key())
	}
	if a.index == nil {
		return
	}
	// Each login made one session; a double submit either orphans one
	// (still live) or, when the second request already carried the
	// first one's cookie, replaces it. The index lists exactly the live
	// sessions, and every session a client holds is among them.
	keys := a.indexed(t, "carol")
	if len(keys) < clients || len(keys) > 2*clients {
		t.Errorf("carol's index lists %d sessions after %d logins by %d clients", len(keys), 2*clients, clients)
	}
	if it, ok := a.store.(sessionkit.Iterator); ok {
		var live []string
		for e, err := range it.All(context.Background()) {
			if err != nil {
				t.Fatalf("All: %v", err)
			}
			if e.Record.UserKey == "carol" {
				live = append(live, e.Key)
			}
		}
		slices.Sort(live)
		if !slices.Equal(live, keys) {
			t.Errorf("carol's live sessions %v differ from her index %v", live, keys)
		}
	}
	for _, k := range held {
		if _, ok := slices.BinarySearch(keys, k); !ok {
			t.Errorf("a client's session %s is missing from carol's index", k)
		}
	}
	cs[0].must("POST", "/revoke-all")
	for _, c := range cs {
		c.authenticatedAs("")
	}
	if keys := a.indexed(t, "carol"); len(keys) != 0 {
		t.Errorf("carol's index lists %d sessions after revoke-all", len(keys))
	}
}

func testNoIndex(t *testing.T, a *app) {
	if a.index != nil {
		t.Skipf("store %T has a per-user index", a.store)
	}
	c := a.client(t, "browser")
	c.login("alice")
	c.authenticatedAs("alice")
	for _, path := range []string{"GET /sessions", "POST /revoke-others", "POST /revoke-all"} {
		method, p, _ := strings.Cut(path, " ")
		if code, body := c.do(method, p); code != http.StatusNotImplemented {
			t.Errorf("%s without a user index = %d %q, want ErrNotSupported (501)", path, code, body)
		}
	}
	if _, err := a.auth.UserSessions(context.Background(), "alice"); !errors.Is(err, sessionkit.ErrNotSupported) {
		t.Errorf("UserSessions error = %v, want ErrNotSupported", err)
	}
	c.authenticatedAs("alice")
	c.must("POST", "/logout")
	c.authenticatedAs("")
}

// records returns how many live records the store holds, or -1 when it
// cannot list them.
func (a *app) records(t *testing.T) int {
	t.Helper()
	it, ok := a.store.(sessionkit.Iterator)
	if !ok {
		return -1
	}
	n := 0
	for _, err := range it.All(context.Background()) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		n++
	}
	return n
}

// gone checks that the session ID id opens no session: its record is not
// in the store, and a client presenting it is anonymous, without a cart.
func (a *app) gone(t *testing.T, what, id string) {
	t.Helper()
	if _, err := a.store.Load(context.Background(), a.m.KeyOf(id)); !errors.Is(err, sessionkit.ErrNotFound) {
		t.Errorf("%s: its record is in the store (Load: %v)", what, err)
	}
	c := a.clientWithCookie(t, id)
	c.authenticatedAs("")
	if got := c.must("GET", "/get?k=cart"); got != "" {
		t.Errorf("%s still reaches the cart: %q", what, got)
	}
}

// testRevokedDuringRegenerate: a request loads a logged-in session with a
// cart, another request or process revokes it, then the request calls
// Regenerate, logs in again, or logs out keeping data (KeepDataOnLogout).
// The revocation stands: neither the old cookie nor the ID Regenerate
// gave opens a session, no record of it is left, and the revoked
// session's values are not carried over; a login goes on, in a session of
// its own. Without a revocation nothing is lost.
func testRevokedDuringRegenerate(t *testing.T, newApp func(t *testing.T) *app) {
	revocations := []struct {
		name  string
		index bool // needs the per-user index
		left  int  // records left besides the request's own
		// revoke ends the session stored under key, alice's; phone is
		// another browser logged in as alice.
		revoke func(a *app, phone *client, key string) error
	}{
		{"none", false, 0, nil},
		{"RevokeAll in another process", true, 0, func(a *app, _ *client, _ string) error {
			_, err := a.other.RevokeAll(context.Background(), "alice")
			return err
		}},
		{"revoke-all from another browser", true, 0, func(_ *app, phone *client, _ string) error {
			return want200(phone.try("POST", "/revoke-all"))
		}},
		{"revoked by handle from another browser", true, 1, func(_ *app, phone *client, key string) error {
			return want200(phone.try("POST", "/revoke?handle="+auth.Handle(key)))
		}},
		{"destroyed by another process", false, 1, func(a *app, _ *client, key string) error {
			s, err := a.otherM.LoadKey(context.Background(), key)
			if err != nil {
				return err
			}
			if err := s.Destroy(); err != nil {
				return err
			}
			return s.Save()
		}},
		{"deleted from the store", false, 1, func(a *app, _ *client, key string) error {
			return a.otherM.Store().Delete(context.Background(), key)
		}},
	}
	for _, rv := range revocations {
		for _, then := range []string{"regenerate", "login", "logout"} {
			t.Run(rv.name+"/"+then, func(t *testing.T) {
				a := newApp(t)
				if rv.index {
					a.needIndex(t)
				}
				c, phone := a.client(t, "browser"), a.client(t, "phone")
				c.must("POST", "/set?k=cart&v=3")
				c.login("alice")
				old := c.cookie()
				if rv.revoke != nil {
					phone.login("alice")
					key := c.key()
					a.mu.Lock()
					a.during = func(*http.Request) error { return rv.revoke(a, phone, key) }
					a.mu.Unlock()
				}
				newID := c.must("POST", "/regenerate?then="+then+"&user=alice")
				if newID == "" || newID == old {
					t.Fatalf("POST /regenerate answered ID %q (old %q)", newID, old)
				}
				a.gone(t, "the old cookie", old)
				want := rv.left
				switch {
				case rv.revoke == nil:
					// The session goes on under the new ID, with its cart.
					want++
					if c.cookie() != newID {
						t.Errorf("cookie %q after %s, want the new ID %q", c.cookie(), then, newID)
					}
					if got := c.must("GET", "/get?k=cart"); got != "3" {
						t.Errorf("cart after %s = %q, want 3", then, got)
					}
					if then == "logout" {
						c.authenticatedAs("")
					} else {
						c.authenticatedAs("alice")
					}
				case then == "login":
					// The login stands, in a session of its own.
					want++
					c.authenticatedAs("alice")
					if got := c.must("GET", "/get?k=cart"); got != "" {
						t.Errorf("the login carried the revoked session's cart over: %q", got)
					}
					if c.cookie() == old {
						t.Error("the login left the client with the revoked session's cookie")
					}
					if a.index != nil {
						if keys := a.indexed(t, "alice"); !slices.Contains(keys, c.key()) {
							t.Errorf("alice's index %v lacks the new login %s", keys, c.key())
						}
					}
				default:
					// Nothing comes back.
					a.gone(t, "the ID Regenerate gave", newID)
					c.authenticatedAs("")
					if got := c.must("GET", "/get?k=cart"); got != "" {
						t.Errorf("the revoked session's cart came back: %q", got)
					}
				}
				if n := a.records(t); n >= 0 && n != want {
					t.Errorf("%d records in the store, want %d", n, want)
				}
			})
		}
	}
	// The request's own RevokeAll with KeepDataOnLogout: its session
	// is revoked with the others but keeps its other values.
	t.Run("own RevokeAll keeping data", func(t *testing.T) {
		a := newApp(t)
		a.needIndex(t)
		c, phone := a.client(t, "browser"), a.client(t, "phone")
		c.must("POST", "/set?k=cart&v=3")
		c.login("alice")
		phone.login("alice")
		old := c.cookie()
		if got := c.must("POST", "/revoke-all?keep=1"); got != "2" {
			t.Errorf("revoke-all ended %s sessions, want 2", got)
		}
		c.authenticatedAs("")
		phone.authenticatedAs("")
		if got := c.must("GET", "/get?k=cart"); got != "3" {
			t.Errorf("cart after RevokeAll keeping data = %q, want 3", got)
		}
		if c.cookie() == old {
			t.Error("RevokeAll kept the session's ID")
		}
		a.gone(t, "the old cookie", old)
		if keys := a.indexed(t, "alice"); len(keys) != 0 {
			t.Errorf("alice's index = %v after revoke-all", keys)
		}
		if n := a.records(t); n >= 0 && n != 1 {
			t.Errorf("%d records in the store, want 1 (the anonymous session)", n)
		}
	})
}

func want200(code int, body string, err error) error {
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%d %s", code, body)
	}
	return err
}
