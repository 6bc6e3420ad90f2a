package oidcop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	skbrowser "github.com/sessionkit/sessionkit/internal/browser"
	"github.com/sessionkit/sessionkit/internal/testenv/oidcop"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// misuseApp is an app written from auth's documentation: "Sign in with"
// over the real provider, both with FailureRedirect (pages) and without
// (the failure's status), on a fake clock.
type misuseApp struct {
	srv *httptest.Server
	op  *oidcop.Provider
	clk *skbrowser.Clock // shared by the Manager and the OIDC strategy
}

func newMisuseApp(t *testing.T) *misuseApp {
	a := &misuseApp{clk: skbrowser.NewClock()}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	op, err := oidcop.Start(a.srv.URL+"/auth/oidc/callback", a.srv.URL+"/api/oidc/callback")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	a.op = op
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	m := sessionkit.New(store)
	m.Logger = slog.New(slog.DiscardHandler)
	m.Now = a.clk.Now
	users := auth.New(m, func(key string) string { return key }, func(_ context.Context, key string) (string, error) {
		return key, nil
	})
	users.Logger = m.Logger
	strategy := func(callback string) *auth.OIDC[string] {
		return &auth.OIDC[string]{
			Issuer: op.Issuer, ClientID: oidcop.ClientID, ClientSecret: oidcop.ClientSecret,
			RedirectURL: a.srv.URL + callback, Now: a.clk.Now,
			MapUser: func(_ context.Context, id auth.Identity) (string, error) {
				return id.Issuer + "|" + id.Subject, nil
			},
		}
	}
	pages := users.Authenticate(auth.Options[string]{
		SuccessRedirect: "/", FailureRedirect: "/login", FailureFlash: true,
	}, strategy("/auth/oidc/callback"))
	mux.Handle("GET /auth/oidc", pages)
	mux.Handle("GET /auth/oidc/callback", pages)
	plain := users.Authenticate(auth.Options[string]{SuccessRedirect: "/"}, strategy("/api/oidc/callback"))
	mux.Handle("GET /api/oidc", plain)
	mux.Handle("GET /api/oidc/callback", plain)
	mux.Handle("POST /logout", &auth.LogoutHandler[string]{Auth: users})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		u, err := users.User(r)
		if err != nil {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprint(w, u)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fl, _ := auth.Flashes(sessionkit.From(r.Context()))
		fmt.Fprint(w, "login page ", fl)
	})
	a.srv.Config.Handler = users.CrossOrigin.Handler(users.Handler(mux))
	return a
}

// callback signs in at the provider from start and returns the callback
// URL the provider sent the browser to, without visiting it.
func (a *misuseApp) callback(t *testing.T, b *browser, start string) string {
	t.Helper()
	form := b.follow(a.srv.URL + start)
	m := hiddenID.FindStringSubmatch(form.body)
	if m == nil {
		t.Fatalf("no login form at %s: %.300s", form.url, form.body)
	}
	u := b.do("POST", a.op.Issuer+"/login/username", url.Values{"id": {m[1]}, "username": {oidcop.Username}, "password": {oidcop.Password}}).loc
	for u != "" {
		if strings.HasPrefix(u, a.srv.URL+"/") {
			return u
		}
		u = b.do("GET", u, nil).loc
	}
	t.Fatal("the provider never sent the browser back")
	return ""
}

// Misused callbacks fail cleanly: with FailureRedirect a redirect to the
// login page with MsgLoginExpired shown once, without it 400 with the
// message; never a 500, never a login. The state is checked before the
// code is used, so a good code with a bad state logs nobody in.
func TestMisusedCallbacks(t *testing.T) {
	tamper := func(cb, key, value string) string {
		u, _ := url.Parse(cb)
		q := u.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name string
		// misuse gets a fresh callback URL of browser b and visits
		// a misused form of it from browser b or another one.
		misuse func(t *testing.T, a *misuseApp, start string, b *browser) (*browser, string)
	}{
		{"wrong state", func(t *testing.T, a *misuseApp, start string, b *browser) (*browser, string) {
			return b, tamper(a.callback(t, b, start), "state", "not-the-state")
		}},
		{"no state", func(t *testing.T, a *misuseApp, start string, b *browser) (*browser, string) {
			return b, tamper(a.callback(t, b, start), "state", "")
		}},
		{"replayed", func(t *testing.T, a *misuseApp, start string, b *browser) (*browser, string) {
			cb := a.callback(t, b, start)
			if p := b.follow(cb); p.body != a.op.Issuer+"|"+oidcop.Subject {
				t.Fatalf("first callback: %d %q", p.code, p.body)
			}
			if p := b.do("POST", a.srv.URL+"/logout", url.Values{}); p.code != http.StatusSeeOther {
				t.Fatalf("logout: %d", p.code)
			}
			return b, cb
		}},
		{"other browser", func(t *testing.T, a *misuseApp, start string, b *browser) (*browser, string) {
			return newBrowser(t), a.callback(t, b, start)
		}},
		{"expired", func(t *testing.T, a *misuseApp, start string, b *browser) (*browser, string) {
			cb := a.callback(t, b, start)
			a.clk.Advance(10*time.Minute + time.Second)
			return b, cb
		}},
		{"fourth tab forgets the first", func(t *testing.T, a *misuseApp, start string, b *browser) (*browser, string) {
			first := b.do("GET", a.srv.URL+start, nil).loc
			for range 3 {
				b.do("GET", a.srv.URL+start, nil)
			}
			// The provider sends the first tab back with its state.
			u, _ := url.Parse(first)
			state := u.Query().Get("state")
			cb := a.callback(t, b, start) // a fifth login, to get a real code
			return b, tamper(cb, "state", state)
		}},
	}
	for _, tt := range tests {
		for _, mode := range []string{"/auth/oidc", "/api/oidc"} {
			t.Run(tt.name+" "+mode, func(t *testing.T) {
				a := newMisuseApp(t)
				b := newBrowser(t)
				by, cb := tt.misuse(t, a, mode, b)
				p := by.do("GET", cb, nil)
				switch mode {
				case "/auth/oidc":
					if p.code != http.StatusSeeOther || p.loc != a.srv.URL+"/login" && p.loc != "/login" {
						t.Fatalf("misused callback: %d to %q %q", p.code, p.loc, p.body)
					}
					if got := by.follow(a.srv.URL + "/login").body; !strings.Contains(got, auth.MsgLoginExpired) {
						t.Errorf("login page after the misuse: %q", got)
					}
					if got := by.follow(a.srv.URL + "/login").body; strings.Contains(got, auth.MsgLoginExpired) {
						t.Errorf("flash shown twice: %q", got)
					}
				default:
					if p.code != http.StatusBadRequest || !strings.Contains(p.body, auth.MsgLoginExpired) {
						t.Fatalf("misused callback: %d %q", p.code, p.body)
					}
				}
				if got := by.follow(a.srv.URL + "/").body; got != "anonymous" {
					t.Errorf("after the misuse: %q", got)
				}
			})
		}
	}
}

// An API client (Accept: application/json) gets the failure as JSON.
func TestMisusedCallbackJSON(t *testing.T) {
	a := newMisuseApp(t)
	b := newBrowser(t)
	req, _ := http.NewRequest("GET", a.srv.URL+"/auth/oidc/callback?state=x&code=y", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Error, Message string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusBadRequest || body.Message != auth.MsgLoginExpired {
		t.Fatalf("%d %+v %v", resp.StatusCode, body, err)
	}
}
