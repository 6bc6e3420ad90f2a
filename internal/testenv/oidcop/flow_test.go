package oidcop_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/internal/testenv/oidcop"
	"github.com/sessionkit/sessionkit/store/memstore"
)

type user struct{ Key, Name, Email string }

// app is a relying party with "Sign in with" over the provider.
type app struct {
	t      *testing.T
	srv    *httptest.Server
	op     *oidcop.Provider
	auth   *auth.Auth[user]
	mu     sync.Mutex
	linked map[string]user // by issuer + "|" + subject
	ids    []auth.Identity
}

func newApp(t *testing.T) *app {
	a := &app{t: t, linked: map[string]user{}}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	op, err := oidcop.Start(a.srv.URL + "/auth/oidc/callback")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Close(); err != nil {
			t.Error(err)
		}
	})
	a.op = op
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	m := sessionkit.New(store)
	m.Logger = slog.New(slog.DiscardHandler)
	a.auth = auth.New(m, func(u user) string { return u.Key }, func(_ context.Context, key string) (user, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, u := range a.linked {
			if u.Key == key {
				return u, nil
			}
		}
		return user{}, auth.ErrUserNotFound
	})
	a.auth.Logger = m.Logger
	a.auth.ReauthPath = "/auth/oidc"
	signIn := a.auth.Authenticate(auth.Options[user]{
		SuccessRedirect: "/", SuccessReturnTo: true, FailureRedirect: "/login", FailureFlash: true,
	}, &auth.OIDC[user]{
		Issuer: op.Issuer, ClientID: oidcop.ClientID, ClientSecret: oidcop.ClientSecret,
		RedirectURL: a.srv.URL + "/auth/oidc/callback", UserInfo: true,
		MapUser: func(_ context.Context, id auth.Identity) (user, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.ids = append(a.ids, id)
			k := id.Issuer + "|" + id.Subject
			u, ok := a.linked[k]
			if !ok { // first sign-in: create the account
				u = user{Key: fmt.Sprintf("u%d", len(a.linked)+1), Name: id.Username, Email: id.Email}
				a.linked[k] = u
			}
			return u, nil
		},
	})
	mux.Handle("GET /auth/oidc", signIn)
	mux.Handle("GET /auth/oidc/callback", signIn)
	mux.Handle("POST /logout", &auth.LogoutHandler[user]{Auth: a.auth})
	whoami := func(w http.ResponseWriter, r *http.Request) {
		u, err := a.auth.User(r)
		if err != nil {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprint(w, u.Key+" "+u.Name)
	}
	mux.HandleFunc("GET /{$}", whoami)
	mux.Handle("GET /settings", a.auth.RequireRecent(2*time.Second, http.HandlerFunc(whoami)))
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fl, _ := auth.Flashes(sessionkit.From(r.Context()))
		fmt.Fprint(w, "login page ", fl)
	})
	old := a.srv.Config.Handler
	a.srv.Config.Handler = a.auth.CrossOrigin.Handler(a.auth.Handler(old))
	return a
}

type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	url  string
	code int
	body string
	loc  string
}

func (b *browser) do(method, u string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	loc := ""
	if l, err := resp.Location(); err == nil {
		loc = l.String()
	}
	return page{url: u, code: resp.StatusCode, body: string(data), loc: loc}
}

// follow GETs u and follows redirects until a page that is not one.
func (b *browser) follow(u string) page {
	b.t.Helper()
	for range 10 {
		p := b.do("GET", u, nil)
		if p.loc == "" {
			return p
		}
		u = p.loc
	}
	b.t.Fatalf("too many redirects from %s", u)
	return page{}
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signIn starts at path, fills the provider's login form and follows the
// redirects back; it returns the final page.
func (b *browser) signIn(a *app, path, username, password string) page {
	b.t.Helper()
	form := b.follow(a.srv.URL + path)
	if !strings.HasPrefix(form.url, a.op.Issuer+"/login/username") {
		b.t.Fatalf("not at the provider's login page: %s %d %.200s", form.url, form.code, form.body)
	}
	m := hiddenID.FindStringSubmatch(form.body)
	if m == nil {
		b.t.Fatalf("login page without an auth request ID: %.300s", form.body)
	}
	p := b.do("POST", a.op.Issuer+"/login/username", url.Values{"id": {m[1]}, "username": {username}, "password": {password}})
	if p.loc == "" {
		return p
	}
	return b.follow(p.loc)
}

func TestSignInWithRealProvider(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	p := b.signIn(a, "/auth/oidc?return_to=%2Fsettings", oidcop.Username, oidcop.Password)
	if !strings.HasPrefix(p.url, a.srv.URL+"/settings") || p.body != "u1 "+oidcop.Username {
		t.Fatalf("after sign-in at %s: %d %q", p.url, p.code, p.body)
	}
	if len(a.ids) != 1 {
		t.Fatalf("%d identities mapped", len(a.ids))
	}
	id := a.ids[0]
	if id.Issuer != a.op.Issuer || id.Subject != oidcop.Subject || id.Email != oidcop.Username || !id.EmailVerified || id.AuthTime.IsZero() {
		t.Errorf("identity %+v", id)
	}
	// A second sign-in finds the same account by issuer and subject.
	b.do("POST", a.srv.URL+"/logout", url.Values{})
	if got := b.follow(a.srv.URL + "/").body; got != "anonymous" {
		t.Fatalf("after logout: %q", got)
	}
	if p := b.signIn(a, "/auth/oidc", oidcop.Username, oidcop.Password); p.body != "u1 "+oidcop.Username {
		t.Fatalf("second sign-in: %q", p.body)
	}
}

func TestWrongPasswordAtProvider(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	p := b.signIn(a, "/auth/oidc", oidcop.Username, "wrong")
	if !strings.Contains(p.body, "username or password wrong") {
		t.Fatalf("wrong password: %d %.300s", p.code, p.body)
	}
	if got := b.follow(a.srv.URL + "/").body; got != "anonymous" {
		t.Fatalf("after a failed sign-in: %q", got)
	}
}

// A callback replayed after the login (same code and state) is refused,
// and the provider does not honour a code twice either.
func TestReplayedCallback(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	form := b.follow(a.srv.URL + "/auth/oidc")
	m := hiddenID.FindStringSubmatch(form.body)
	if m == nil {
		t.Fatalf("no login form: %.300s", form.body)
	}
	p := b.do("POST", a.op.Issuer+"/login/username", url.Values{"id": {m[1]}, "username": {oidcop.Username}, "password": {oidcop.Password}})
	var callback string
	for u := p.loc; u != ""; {
		if strings.HasPrefix(u, a.srv.URL+"/auth/oidc/callback") {
			callback = u
			break
		}
		u = b.do("GET", u, nil).loc
	}
	if callback == "" {
		t.Fatal("never came back to the callback")
	}
	if p := b.follow(callback); p.body != "u1 "+oidcop.Username {
		t.Fatalf("callback: %q", p.body)
	}
	b.do("POST", a.srv.URL+"/logout", url.Values{})
	p = b.follow(callback)
	if !strings.HasPrefix(p.body, "login page") || !strings.Contains(p.body, auth.MsgLoginExpired) {
		t.Fatalf("replayed callback: %q", p.body)
	}
	if got := b.follow(a.srv.URL + "/").body; got != "anonymous" {
		t.Fatalf("after a replayed callback: %q", got)
	}
}

// RequireRecent sends an old login through the provider with max_age,
// and the provider's auth_time makes the new login recent.
func TestRecentAuthenticationWithRealProvider(t *testing.T) {
	a := newApp(t)
	b := newBrowser(t)
	if p := b.signIn(a, "/auth/oidc?return_to=%2Fsettings", oidcop.Username, oidcop.Password); p.body != "u1 "+oidcop.Username {
		t.Fatalf("sign-in: %q", p.body)
	}
	time.Sleep(2500 * time.Millisecond) // the login is now older than 2s
	p := b.do("GET", a.srv.URL+"/settings", nil)
	if p.code != http.StatusSeeOther || p.loc != a.srv.URL+"/auth/oidc?max_age=2&return_to=%2Fsettings" {
		t.Fatalf("old login at /settings: %d to %q", p.code, p.loc)
	}
	p = b.signIn(a, "/auth/oidc?max_age=2&return_to=%2Fsettings", oidcop.Username, oidcop.Password)
	if !strings.HasPrefix(p.url, a.srv.URL+"/settings") || p.body != "u1 "+oidcop.Username {
		t.Fatalf("after re-authentication at %s: %q", p.url, p.body)
	}
}
