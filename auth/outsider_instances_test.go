package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// userTable is the application's user table, shared by every instance of it.
type userTable struct {
	mu     sync.Mutex
	byID   map[string]User
	hashes map[string]string // by name
}

func newUserTable(t *testing.T) *userTable {
	t.Helper()
	us := &userTable{byID: map[string]User{}, hashes: map[string]string{}}
	for _, u := range []struct{ id, name, pw string }{{"1", "alice", "wonderland"}, {"2", "bob", "builder"}} {
		h, err := cheap.Hash(u.pw)
		if err != nil {
			t.Fatal(err)
		}
		us.byID[u.id] = User{ID: u.id, Name: u.name}
		us.hashes[u.name] = h
	}
	return us
}

func (us *userTable) deserialize(_ context.Context, key string) (User, error) {
	us.mu.Lock()
	defer us.mu.Unlock()
	u, ok := us.byID[key]
	if !ok {
		return User{}, auth.ErrUserNotFound
	}
	return u, nil
}

func (us *userTable) lookup(_ context.Context, name string) (User, string, error) {
	us.mu.Lock()
	defer us.mu.Unlock()
	for _, u := range us.byID {
		if u.Name == name {
			return u, us.hashes[name], nil
		}
	}
	return User{}, "", auth.ErrUserNotFound
}

// instance is one process of the application, set up as the package
// documentation shows: a FormLogin at /login, the shipped logout and
// revoke handlers, a device list, Require around /private/.
type instance struct {
	a   *auth.Auth[User]
	srv *httptest.Server
}

func newInstance(t *testing.T, store sessionkit.Store, us *userTable, configure func(*sessionkit.Manager)) *instance {
	t.Helper()
	return newInstanceOn(t, sessionkit.New(store), us, configure)
}

func newInstanceOn(t *testing.T, m *sessionkit.Manager, us *userTable, configure func(*sessionkit.Manager)) *instance {
	t.Helper()
	m.Logger = slog.New(slog.DiscardHandler)
	if configure != nil {
		configure(m)
	}
	a := auth.New(m, func(u User) string { return u.ID }, us.deserialize)
	a.Logger = m.Logger
	mux := http.NewServeMux()
	mux.Handle("/login", &auth.FormLogin[User]{Auth: a, Verify: auth.PasswordVerifier(cheap, us.lookup, nil)})
	mux.Handle("POST /logout", &auth.LogoutHandler[User]{Auth: a, Redirect: "/", Flash: "Signed out."})
	mux.Handle("POST /sessions/revoke", &auth.RevokeHandler[User]{Auth: a, Scope: auth.RevokeOne, Redirect: "/sessions"})
	mux.Handle("POST /sessions/revoke-others", &auth.RevokeHandler[User]{Auth: a, Scope: auth.RevokeOthers, Redirect: "/sessions"})
	mux.Handle("POST /sessions/revoke-all", &auth.RevokeHandler[User]{Auth: a, Scope: auth.RevokeAll, Redirect: "/sessions"})
	mux.Handle("GET /sessions", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := a.Sessions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(list)
	})))
	mux.Handle("GET /private/", a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := a.User(r)
		fmt.Fprint(w, "private for ", u.Name)
	})))
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, err := a.User(r)
		switch {
		case errors.Is(err, auth.ErrNotAuthenticated):
			fmt.Fprint(w, "anonymous")
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			fmt.Fprint(w, u.Name)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		_ = sessionkit.From(r.Context()).Set("cart", r.URL.Query().Get("cart"))
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.From(r.Context()), "cart")
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		fl, err := auth.Flashes(sessionkit.From(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, f := range fl {
			fmt.Fprintln(w, f.Kind+": "+f.Message)
		}
	})
	srv := httptest.NewServer(a.Handler(mux))
	t.Cleanup(srv.Close)
	return &instance{a: a, srv: srv}
}

// visitor is a browser. Its jar keys cookies by host, not port, so it
// sends the same session cookie to every instance on 127.0.0.1: the
// instances stand behind one load balancer.
type visitor struct {
	t  *testing.T
	ua string
	hc *http.Client
}

func newVisitor(t *testing.T, ua string, jar http.CookieJar) *visitor {
	if jar == nil {
		var err error
		if jar, err = cookiejar.New(nil); err != nil {
			t.Fatal(err)
		}
	}
	return &visitor{t: t, ua: ua, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) do(in *instance, method, path string, form url.Values, header ...string) response {
	v.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, in.srv.URL+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", v.ua)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: strings.TrimSpace(string(b)), location: resp.Header.Get("Location"), header: resp.Header}
}

func (v *visitor) login(in *instance, name, pw string) {
	v.t.Helper()
	if r := v.do(in, "POST", "/login", url.Values{"username": {name}, "password": {pw}}); r.code != http.StatusSeeOther || r.location != "/" {
		v.t.Fatalf("%s: login as %s: %d to %q: %s", v.ua, name, r.code, r.location, r.body)
	}
}

func (v *visitor) whoami(in *instance) string {
	v.t.Helper()
	r := v.do(in, "GET", "/whoami", nil)
	if r.code != http.StatusOK {
		v.t.Fatalf("%s: whoami: %d %s", v.ua, r.code, r.body)
	}
	return r.body
}

func (v *visitor) sessions(in *instance) []auth.SessionInfo {
	v.t.Helper()
	r := v.do(in, "GET", "/sessions", nil)
	var list []auth.SessionInfo
	if r.code != http.StatusOK || json.Unmarshal([]byte(r.body), &list) != nil {
		v.t.Fatalf("%s: sessions: %d %q", v.ua, r.code, r.body)
	}
	return list
}

func uniqueName(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "outsider_" + hex.EncodeToString(b)
}

// sharedStores returns, per store, a function opening one connection to
// a store that every call shares (the same prefix or table): two calls
// are two processes.
func sharedStores() []struct {
	name string
	open func(t *testing.T) func(t *testing.T) sessionkit.Store
} {
	viaURL := func(env, param string) func(t *testing.T) func(t *testing.T) sessionkit.Store {
		return func(t *testing.T) func(t *testing.T) sessionkit.Store {
			base := testenv.Getenv(t, env)
			u, err := url.Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			name := uniqueName(t)
			if param == "prefix" {
				name += ":"
			}
			q.Set(param, name)
			u.RawQuery = q.Encode()
			return func(t *testing.T) sessionkit.Store {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				st, err := storeurl.Open(ctx, u.String(), storeurl.Options{NoSweeper: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			}
		}
	}
	return []struct {
		name string
		open func(t *testing.T) func(t *testing.T) sessionkit.Store
	}{
		{"memstore", func(t *testing.T) func(t *testing.T) sessionkit.Store {
			st := newMemStore(t)
			return func(*testing.T) sessionkit.Store { return st }
		}},
		{"redisstore", viaURL(testenv.RedisURLEnv, "prefix")},
		{"pgstore", viaURL(testenv.PostgresURLEnv, "table")},
	}
}

// Two instances of the application over one store, each browser going to
// either. The doc sentences under test:
//
//	"Revoke ends one of them by handle (only among the user's own
//	sessions), RevokeOthers ends all but the current one ("sign out
//	everywhere else"), and RevokeAll ends all of a user's sessions"
//	"Handle (derived from the store key; never the session ID)"
//	"Values set afterwards (a flash message) go to a fresh session."
//	RevokeHandler: "redirects (303) to Redirect — to Auth.LoginPath when
//	the current session ended — and answers an API request with JSON
//	{"revoked":n,"current":b}"
//
// A revocation made by one instance signs the browsers out on their next
// request to the other; the device list is the same from both; a flash
// set by one instance is read once, by the other.
func TestOutsiderRevocationAcrossInstances(t *testing.T) {
	for _, st := range sharedStores() {
		t.Run(st.name, func(t *testing.T) {
			open := st.open(t)
			us := newUserTable(t)
			a, b := newInstance(t, open(t), us, nil), newInstance(t, open(t), us, nil)
			laptop, phone, tablet := newVisitor(t, "Laptop/1", nil), newVisitor(t, "Phone/1", nil), newVisitor(t, "Tablet/1", nil)
			bob := newVisitor(t, "Bob/1", nil)
			laptop.login(a, "alice", "wonderland")
			phone.login(b, "alice", "wonderland")
			tablet.login(a, "alice", "wonderland")
			bob.login(b, "bob", "builder")
			for _, v := range []*visitor{laptop, phone, tablet} {
				for _, in := range []*instance{a, b} {
					if got := v.whoami(in); got != "alice" {
						t.Fatalf("%s on %s: %q", v.ua, in.srv.URL, got)
					}
				}
			}

			// One list, whichever instance answers; handles are the
			// same on both.
			fromA, fromB := laptop.sessions(a), phone.sessions(b)
			handles := func(list []auth.SessionInfo) []string {
				var hs []string
				for _, s := range list {
					hs = append(hs, s.Handle)
				}
				slices.Sort(hs)
				return hs
			}
			if len(fromA) != 3 || !slices.Equal(handles(fromA), handles(fromB)) {
				t.Fatalf("lists differ:\nA %+v\nB %+v", fromA, fromB)
			}
			if !fromA[0].Current || fromA[0].UserAgent != "Laptop/1" || !fromB[0].Current || fromB[0].UserAgent != "Phone/1" {
				t.Fatalf("current session not first:\nA %+v\nB %+v", fromA, fromB)
			}
			var phoneHandle, tabletHandle string
			for _, s := range fromA {
				switch s.UserAgent {
				case "Phone/1":
					phoneHandle = s.Handle
				case "Tablet/1":
					tabletHandle = s.Handle
				}
			}
			bobHandle := bob.sessions(a)[0].Handle

			// Only among the user's own sessions: bob's handle ends
			// nothing.
			r := laptop.do(b, "POST", "/sessions/revoke", url.Values{"handle": {bobHandle}}, "Accept", "application/json")
			if r.code != http.StatusOK || r.body != `{"revoked":0,"current":false}` {
				t.Fatalf("revoke bob's handle: %d %s", r.code, r.body)
			}
			if got := bob.whoami(a); got != "bob" {
				t.Fatalf("bob after alice revoked his handle: %q", got)
			}
			// Revoke the phone from instance B; it is signed out on A.
			r = laptop.do(b, "POST", "/sessions/revoke", url.Values{"handle": {phoneHandle}})
			if r.code != http.StatusSeeOther || r.location != "/sessions" {
				t.Fatalf("revoke phone: %d to %q", r.code, r.location)
			}
			if got := phone.whoami(a); got != "anonymous" {
				t.Fatalf("revoked phone on the other instance: %q", got)
			}
			if r := phone.do(a, "GET", "/private/x", nil); r.code != http.StatusSeeOther || r.location != "/login?return_to=%2Fprivate%2Fx" {
				t.Fatalf("revoked phone's private page: %d to %q", r.code, r.location)
			}

			// Sign out everywhere else, from A: the tablet (which logged
			// in on A) is signed out on B.
			phone.login(b, "alice", "wonderland")
			r = laptop.do(a, "POST", "/sessions/revoke-others", nil, "Accept", "application/json")
			if r.code != http.StatusOK || r.body != `{"revoked":2,"current":false}` {
				t.Fatalf("revoke others: %d %s", r.code, r.body)
			}
			for _, v := range []*visitor{phone, tablet} {
				if got := v.whoami(b); got != "anonymous" {
					t.Fatalf("%s after sign out everywhere else: %q", v.ua, got)
				}
			}
			if got := laptop.whoami(b); got != "alice" {
				t.Fatalf("laptop signed itself out: %q", got)
			}
			if list := laptop.sessions(b); len(list) != 1 || !list[0].Current || list[0].Handle == tabletHandle {
				t.Fatalf("after revoke others: %+v", list)
			}

			// An administrator on B ends all of alice's sessions outside
			// any request: the laptop is signed out on A.
			n, err := b.a.RevokeAll(context.Background(), "1")
			if err != nil || n != 1 {
				t.Fatalf("RevokeAll = %d, %v; want 1", n, err)
			}
			if got := laptop.whoami(a); got != "anonymous" {
				t.Fatalf("laptop after RevokeAll on the other instance: %q", got)
			}
			if list, err := a.a.UserSessions(context.Background(), "1"); err != nil || len(list) != 0 {
				t.Fatalf("alice's sessions after RevokeAll: %+v, %v", list, err)
			}
			if got := bob.whoami(a); got != "bob" {
				t.Fatalf("bob after alice's RevokeAll: %q", got)
			}

			// The user ends all of their sessions from B (a password
			// change): this one too, and the one that logged in on A.
			laptop.login(a, "alice", "wonderland")
			phone.login(b, "alice", "wonderland")
			if r := phone.do(b, "POST", "/sessions/revoke-all", nil, "Accept", "application/json"); r.code != http.StatusOK || r.body != `{"revoked":2,"current":true}` {
				t.Fatalf("revoke all from B: %d %s", r.code, r.body)
			}
			for _, v := range []*visitor{laptop, phone} {
				if got := v.whoami(a); got != "anonymous" {
					t.Fatalf("%s after its user's revoke all: %q", v.ua, got)
				}
			}
			laptop.login(a, "alice", "wonderland")
			if r := laptop.do(b, "POST", "/sessions/revoke-all", nil); r.code != http.StatusSeeOther || r.location != "/login" {
				t.Fatalf("revoke all, page: %d to %q", r.code, r.location)
			}

			// Logout on B, flash read on A, once.
			if r := bob.do(b, "POST", "/logout", nil); r.code != http.StatusSeeOther || r.location != "/" {
				t.Fatalf("logout: %d to %q", r.code, r.location)
			}
			if got := bob.do(a, "GET", "/flashes", nil).body; got != "info: Signed out." {
				t.Fatalf("flash after logout: %q", got)
			}
			if got := bob.do(b, "GET", "/flashes", nil).body; got != "" {
				t.Fatalf("flash read twice: %q", got)
			}
			if got := bob.whoami(b); got != "anonymous" {
				t.Fatalf("bob after logout: %q", got)
			}
			if list, err := b.a.UserSessions(context.Background(), "2"); err != nil || len(list) != 0 {
				t.Fatalf("bob's sessions after logout: %+v, %v", list, err)
			}
		})
	}
}

// A session that ran past its idle timeout is no longer one of the
// user's sessions, on the store's and the Manager's shared fake clock:
//
//	"Sessions lists the current user's sessions as SessionInfo values"
//	"RevokeAll ends every session of the user ... and returns how many
//	it ended."
//	Info.Expires: "when the store forgets it unless it is used"
//
// An expired session is neither listed, nor revocable by handle, nor
// counted by RevokeAll, and its browser is anonymous.
func TestOutsiderSessionListAfterExpiry(t *testing.T) {
	clk := browser.NewClockAt(time.Now().UTC().Truncate(time.Second))
	store := memstore.New(memstore.Options{Now: clk.Now})
	t.Cleanup(func() { store.Close() })
	us := newUserTable(t)
	const idle = 30 * time.Minute
	in := newInstance(t, store, us, func(m *sessionkit.Manager) {
		m.Now = clk.Now
		m.IdleTimeout = idle
		m.Lifetime = 24 * time.Hour
	})
	visit := func(ua string) *visitor { return newVisitor(t, ua, browser.NewJar(clk.Now)) }
	old, laptop, phone := visit("Old/1"), visit("Laptop/1"), visit("Phone/1")
	start := clk.Now()
	for _, v := range []*visitor{old, laptop, phone} {
		v.login(in, "alice", "wonderland")
	}
	var oldHandle string
	for _, s := range laptop.sessions(in) {
		if s.UserAgent == "Old/1" {
			oldHandle = s.Handle
		}
	}
	if oldHandle == "" {
		t.Fatal("the old browser's session is not listed")
	}
	clk.Advance(20 * time.Minute)
	// The laptop and the phone are used at +20m; the old browser is not.
	laptop.whoami(in)
	phone.whoami(in)
	clk.Advance(15 * time.Minute)

	list := laptop.sessions(in)
	if len(list) != 2 || list[0].UserAgent != "Laptop/1" || list[1].UserAgent != "Phone/1" {
		t.Fatalf("at +35m: %+v, want the laptop and the phone", list)
	}
	if p := list[1]; !p.LastActive.Equal(start.Add(20*time.Minute)) || !p.Expires.Equal(p.LastActive.Add(idle)) {
		t.Errorf("phone: last active %v, expires %v; want %v and %v", p.LastActive, p.Expires, start.Add(20*time.Minute), start.Add(50*time.Minute))
	}
	r := laptop.do(in, "POST", "/sessions/revoke", url.Values{"handle": {oldHandle}}, "Accept", "application/json")
	if r.code != http.StatusOK || r.body != `{"revoked":0,"current":false}` {
		t.Errorf("revoking the expired session: %d %s", r.code, r.body)
	}
	if got := old.whoami(in); got != "anonymous" {
		t.Fatalf("expired browser: %q", got)
	}
	n, err := in.a.RevokeAll(context.Background(), "1")
	if err != nil || n != 2 {
		t.Fatalf("RevokeAll = %d, %v; want 2 (the expired session is not counted)", n, err)
	}
	for _, v := range []*visitor{laptop, phone} {
		if got := v.whoami(in); got != "anonymous" {
			t.Errorf("%s after RevokeAll: %q", v.ua, got)
		}
	}
}

// Login and Logout on client-side sessions, where there is no record to
// delete, beside a server-side store. The doc comments, as qualified:
//
//	Login: "the ID from before the login never becomes the logged-in
//	session; with a server-side store the old ID stops working, while
//	with client-side sessions a token from before the login stays the
//	anonymous session it was"
//	Logout: "with client-side sessions, which have no record, a copy of
//	the logged-in cookie stays logged in until it expires"
func TestOutsiderClientSideLoginAndLogout(t *testing.T) {
	cs, err := cookiestore.New("session", []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*sessionkit.Manager{
		"memstore":    sessionkit.New(newMemStore(t)),
		"cookiestore": sessionkit.NewClientSide(cs),
	} {
		t.Run(name, func(t *testing.T) {
			in := newInstanceOn(t, m, newUserTable(t), nil)
			u, _ := url.Parse(in.srv.URL)
			jar, _ := cookiejar.New(nil)
			v := newVisitor(t, "Browser/1", jar)
			v.do(in, "POST", "/set?cart=3", nil)
			planted := jar.Cookies(u)
			v.login(in, "alice", "wonderland")
			loggedIn := jar.Cookies(u)
			if len(planted) != 1 || len(loggedIn) != 1 || planted[0].Value == loggedIn[0].Value {
				t.Fatalf("the cookie did not change at login: %v then %v", planted, loggedIn)
			}
			replay := func(cookies []*http.Cookie) *visitor {
				j, _ := cookiejar.New(nil)
				j.SetCookies(u, cookies)
				return newVisitor(t, "Copy/1", j)
			}
			before := replay(planted)
			if got := before.whoami(in); got != "anonymous" {
				t.Fatalf("the planted pre-login cookie is logged in as %q", got)
			}
			wantCart := "" // the old ID stops working
			if name == "cookiestore" {
				wantCart = "3" // the token from before stays what it was
			}
			if got := before.do(in, "GET", "/cart", nil).body; got != wantCart {
				t.Errorf("pre-login cookie after the login: cart %q, want %q", got, wantCart)
			}
			if got := v.do(in, "GET", "/cart", nil).body; got != "3" {
				t.Errorf("the cart did not survive the login: %q", got)
			}

			copied := replay(loggedIn)
			if r := v.do(in, "POST", "/logout", nil); r.code != http.StatusSeeOther {
				t.Fatalf("logout: %d", r.code)
			}
			if got := v.whoami(in); got != "anonymous" {
				t.Fatalf("after logout: %q", got)
			}
			want := "anonymous"
			if name == "cookiestore" {
				want = "alice"
			}
			if got := copied.whoami(in); got != want {
				t.Errorf("a copy of the logged-in cookie after logout: %q, want %q", got, want)
			}
		})
	}
}
