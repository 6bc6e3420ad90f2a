package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// The plain OAuth 2.0 strategy over real HTTP: PKCE and the client
// secret checked by the provider, the app's profile fetch with the
// token, return-to across the round trip, state single-use.
func TestOAuth2Login(t *testing.T) {
	op := newFakeOP(t)
	e := newEnv(t)
	var ids []auth.Identity
	gh := &auth.OAuth2[User]{
		Name: "github",
		Config: &oauth2.Config{
			ClientID: op.client, ClientSecret: op.secret,
			Endpoint:    oauth2.Endpoint{AuthURL: op.srv.URL + "/authorize", TokenURL: op.srv.URL + "/token"},
			RedirectURL: e.srv.URL + "/auth/gh/callback",
		},
		Profile: func(ctx context.Context, client *http.Client, _ *oauth2.Token) (auth.Identity, error) {
			resp, err := client.Get(op.srv.URL + "/user")
			if err != nil {
				return auth.Identity{}, err
			}
			defer resp.Body.Close()
			var u struct {
				ID    int64  `json:"id"`
				Login string `json:"login"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
				return auth.Identity{}, err
			}
			return auth.Identity{Subject: strconv.FormatInt(u.ID, 10), Username: u.Login}, nil
		},
		MapUser: func(_ context.Context, id auth.Identity) (User, error) {
			ids = append(ids, id)
			if id.Subject == "4242" {
				return User{ID: "1", Name: "alice"}, nil
			}
			return User{}, auth.ErrUserNotFound
		},
	}
	h := e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", SuccessReturnTo: true, FailureRedirect: "/login"}, gh)
	e.mux.Handle("GET /auth/gh", h)
	e.mux.Handle("GET /auth/gh/callback", h)

	c := e.client()
	r := c.do("GET", "/auth/gh?return_to=%2Fprivate%2Fa", nil)
	ask, err := url.Parse(r.location)
	if err != nil || r.code != http.StatusSeeOther || ask.Query().Get("code_challenge_method") != "S256" || ask.Query().Get("state") == "" {
		t.Fatalf("start = %d to %q", r.code, r.location)
	}
	resp, err := c.hc.Get(r.location)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	r = c.do("GET", cb.RequestURI(), nil)
	if r.code != http.StatusSeeOther || r.location != "/private/a" {
		t.Fatalf("callback = %d to %q", r.code, r.location)
	}
	if c.whoami() != "alice" || len(ids) != 1 || ids[0].Issuer != op.srv.URL || ids[0].Provider != "github" {
		t.Fatalf("after login: %q %+v", c.whoami(), ids)
	}
	if r := c.do("GET", cb.RequestURI(), nil); r.location != "/login" {
		t.Errorf("replayed callback = %d to %q", r.code, r.location)
	}
	// A wrong client secret: the provider refuses the exchange.
	gh.Config.ClientSecret = "wrong"
	c2 := e.client()
	r = c2.do("GET", "/auth/gh", nil)
	resp, err = c2.hc.Get(r.location)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, _ = url.Parse(resp.Header.Get("Location"))
	if r := c2.do("GET", cb.RequestURI(), nil); r.location != "/login" || c2.whoami() != "anonymous" {
		t.Errorf("wrong secret: callback = %d to %q, user %q", r.code, r.location, c2.whoami())
	}
}

// The client handed to Profile is bounded like every other call to the
// provider: a profile endpoint slower than HTTPClient's timeout (or
// DefaultProviderTimeout without one, as OIDC does) makes the callback a
// 503, not a request that waits as long as the provider does.
func TestOAuth2SlowProfile(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte(`{"id":4242}`))
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	for name, hc := range map[string]*http.Client{
		"client timeout":         {Timeout: 200 * time.Millisecond},
		"client without timeout": {},
	} {
		t.Run(name, func(t *testing.T) {
			op := newFakeOP(t)
			e := newEnv(t)
			var deadline bool
			gh := &auth.OAuth2[User]{
				Config: &oauth2.Config{
					ClientID: op.client, ClientSecret: op.secret,
					Endpoint:    oauth2.Endpoint{AuthURL: op.srv.URL + "/authorize", TokenURL: op.srv.URL + "/token"},
					RedirectURL: e.srv.URL + "/auth/gh",
				},
				HTTPClient: hc,
				Profile: func(ctx context.Context, client *http.Client, _ *oauth2.Token) (auth.Identity, error) {
					_, deadline = ctx.Deadline()
					if hc.Timeout == 0 {
						// Waiting DefaultProviderTimeout out would make a slow
						// test: check the bound instead of running into it.
						if client.Timeout != auth.DefaultProviderTimeout {
							t.Errorf("profile client timeout = %v, want DefaultProviderTimeout", client.Timeout)
						}
						return auth.Identity{Subject: "4242"}, nil
					}
					resp, err := client.Get(slow.URL)
					if err != nil {
						return auth.Identity{}, err
					}
					defer resp.Body.Close()
					return auth.Identity{Subject: "4242"}, nil
				},
				MapUser: func(context.Context, auth.Identity) (User, error) { return User{ID: "1", Name: "alice"}, nil },
			}
			e.mux.Handle("GET /auth/gh", e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", FailureRedirect: "/login"}, gh))
			c := e.client()
			r := c.do("GET", "/auth/gh", nil)
			resp, err := c.hc.Get(r.location)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cb, _ := url.Parse(resp.Header.Get("Location"))
			r = c.do("GET", cb.RequestURI(), nil)
			if !deadline {
				t.Errorf("Profile's context has no deadline")
			}
			if hc.Timeout == 0 {
				if r.code != http.StatusSeeOther || r.location != "/home" {
					t.Errorf("callback = %d to %q, want 303 to /home", r.code, r.location)
				}
				return
			}
			if r.code != http.StatusServiceUnavailable {
				t.Errorf("callback with a slow profile endpoint = %d to %q, want 503", r.code, r.location)
			}
			if got := c.whoami(); got != "anonymous" {
				t.Errorf("user %q", got)
			}
		})
	}
}

// Two tabs start a login at the same moment on one session, both having
// read it before either saved its pending login; then a third tab starts
// one while the first tab's login is cancelled at the provider, again
// both on the same version. Every login still pending comes back. (Each
// start and each callback changes the pending logins with
// sessionkit.Update; with Get then Set one tab's login was lost and its
// callback answered "expired".)
func TestOAuth2ConcurrentStarts(t *testing.T) {
	op := newFakeOP(t)
	e := newEnv(t)

	gh := &auth.OAuth2[User]{
		Name: "github",
		Config: &oauth2.Config{
			ClientID: op.client, ClientSecret: op.secret,
			Endpoint:    oauth2.Endpoint{AuthURL: op.srv.URL + "/authorize", TokenURL: op.srv.URL + "/token"},
			RedirectURL: e.srv.URL + "/auth/gh/callback",
		},
		Profile: func(context.Context, *http.Client, *oauth2.Token) (auth.Identity, error) {
			return auth.Identity{Subject: "4242"}, nil
		},
		MapUser: func(context.Context, auth.Identity) (User, error) {
			return User{ID: "1", Name: "alice"}, nil
		},
	}
	h := e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", FailureRedirect: "/login"}, gh)
	var barrier sync.WaitGroup
	// Loads the session, waits until the other request of its pair has
	// too, then goes on to h: both hold the same version.
	paired := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Has("x")
		barrier.Done()
		barrier.Wait()
		h.ServeHTTP(w, r)
	})
	e.mux.Handle("GET /auth/gh", h)
	e.mux.Handle("GET /auth/gh/callback", h)
	e.mux.Handle("GET /tab/auth/gh", paired)
	e.mux.Handle("GET /tab/auth/gh/callback", paired)

	c := e.client()
	if r := c.do("GET", "/auth/gh", nil); r.code != http.StatusSeeOther { // a session, with a login of an earlier tab
		t.Fatalf("first start = %d", r.code)
	}
	authorize := func(location string) string {
		resp, err := c.hc.Get(location)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cb, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || cb.Query().Get("code") == "" {
			t.Fatalf("provider answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return cb.RequestURI()
	}
	concurrently := func(paths ...string) []response {
		out := make([]response, len(paths))
		barrier.Add(len(paths))
		var wg sync.WaitGroup
		for i, p := range paths {
			wg.Go(func() { out[i] = c.do("GET", p, nil) })
		}
		wg.Wait()
		return out
	}
	starts := concurrently("/tab/auth/gh", "/tab/auth/gh")
	for i, r := range starts {
		if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, op.srv.URL) {
			t.Fatalf("start %d = %d to %q", i, r.code, r.location)
		}
	}
	first, err := url.Parse(starts[0].location)
	if err != nil {
		t.Fatal(err)
	}
	cb2 := authorize(starts[1].location)
	// The first tab's login cancelled and a third tab's start, at once.
	rs := concurrently("/tab/auth/gh/callback?error=access_denied&state="+url.QueryEscape(first.Query().Get("state")), "/tab/auth/gh")
	if rs[0].code != http.StatusSeeOther || rs[0].location != "/login" {
		t.Fatalf("cancelled callback = %d to %q, want /login", rs[0].code, rs[0].location)
	}
	cb3 := authorize(rs[1].location)
	for i, cb := range []string{cb2, cb3} {
		if r := c.do("GET", cb, nil); r.code != http.StatusSeeOther || r.location != "/home" {
			t.Errorf("callback of tab %d = %d to %q, want /home (its pending login lost?)", i+2, r.code, r.location)
		}
	}
	if got := c.whoami(); got != "alice" {
		t.Errorf("whoami = %q, want alice", got)
	}
}
