package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// How recent an OAuth 2.0 login is, on the fake clock:
//
//	"An OAuth 2.0 login counts from the Identity.AuthTime its Profile
//	reports, or else from when it happened"
//	RequireRecent: "lets through only requests whose user authenticated
//	at most maxAge ago"
func TestOutsiderOAuth2Recency(t *testing.T) {
	op := newFakeOP(t)
	e, clk := newClockEnv(t)
	var (
		mu       sync.Mutex
		authTime time.Time // what the profile reports
	)
	gh := &auth.OAuth2[User]{
		Config: &oauth2.Config{
			ClientID: op.client, ClientSecret: op.secret,
			Endpoint:    oauth2.Endpoint{AuthURL: op.srv.URL + "/authorize", TokenURL: op.srv.URL + "/token"},
			RedirectURL: e.srv.URL + "/auth/gh/callback",
		},
		Profile: func(context.Context, *http.Client, *oauth2.Token) (auth.Identity, error) {
			mu.Lock()
			defer mu.Unlock()
			return auth.Identity{Subject: "4242", AuthTime: authTime}, nil
		},
		MapUser: func(context.Context, auth.Identity) (User, error) { return User{ID: "1", Name: "alice"}, nil },
		Now:     clk.Now,
	}
	h := e.a.Authenticate(auth.Options[User]{SuccessRedirect: "/home", FailureRedirect: "/login"}, gh)
	e.mux.Handle("GET /auth/gh", h)
	e.mux.Handle("GET /auth/gh/callback", h)
	login := func(c *client, at time.Time) {
		t.Helper()
		mu.Lock()
		authTime = at
		mu.Unlock()
		r := c.do("GET", "/auth/gh", nil)
		resp, err := c.hc.Get(r.location)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r = c.do("GET", resp.Header.Get("Location")[len(e.srv.URL):], nil)
		if r.code != http.StatusSeeOther || r.location != "/home" {
			t.Fatalf("OAuth2 login: %d to %q %s", r.code, r.location, r.body)
		}
	}
	const stale = "/login?max_age=600&return_to=%2Faccount%2Fsecurity"
	tests := []struct {
		name    string
		authAge time.Duration // -1: the profile reports none
		later   time.Duration // then the clock moves on this much
		want    string        // "" for 200
	}{
		{"no auth time, just now", -1, 0, ""},
		{"no auth time, at the window's end", -1, 10 * time.Minute, ""},
		{"no auth time, past the window", -1, 10*time.Minute + time.Millisecond, stale},
		{"auth time a minute ago", time.Minute, 0, ""},
		{"auth time an hour ago", time.Hour, 0, stale},
	}
	for _, tt := range tests {
		c := e.client()
		at := time.Time{}
		if tt.authAge >= 0 {
			at = clk.Now().Add(-tt.authAge)
		}
		login(c, at)
		clk.Advance(tt.later)
		r := c.do("GET", "/account/security", nil)
		if tt.want == "" && (r.code != http.StatusOK || r.body != "security") || tt.want != "" && (r.code != http.StatusSeeOther || r.location != tt.want) {
			t.Errorf("%s: %d to %q, want %q", tt.name, r.code, r.location, tt.want)
		}
		if c.whoami() != "alice" {
			t.Errorf("%s: not logged in", tt.name)
		}
	}
}

// Another program sharing the store logs the user out the only way it
// knows, by deleting the value the application's UserKeyField reads; it
// knows nothing of Record.UserKey. The package documentation:
//
//	"The session's Record.UserKey, which stores index by, is kept in step
//	by Login, Logout and User."
//	"Sessions lists the current user's sessions"
//
// The next User call finds no user and takes the session out of the
// user's index: it is no longer listed or counted as one of theirs.
func TestOutsiderForeignLogoutLeavesTheIndex(t *testing.T) {
	e := newEnv(t, func(a *auth.Auth[User]) { a.Field = auth.ValueField("uid") })
	e.mux.HandleFunc("POST /legacy/logout", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.From(r.Context()).Delete("uid")
	})
	e.mux.HandleFunc("GET /admin/count", func(w http.ResponseWriter, r *http.Request) {
		list, err := e.a.UserSessions(r.Context(), "1")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, len(list))
	})
	admin := e.client()
	c, other := e.client(), e.client()
	c.login("alice", "wonderland", "")
	other.login("alice", "wonderland", "")
	if got := admin.do("GET", "/admin/count", nil).body; got != "2" {
		t.Fatalf("alice's sessions after two logins: %s", got)
	}
	c.do("POST", "/legacy/logout", nil)
	if got := c.whoami(); got != "anonymous" {
		t.Fatalf("after the foreign logout: %q", got)
	}
	if got := admin.do("GET", "/admin/count", nil).body; got != "1" {
		t.Fatalf("alice's sessions after one was logged out elsewhere: %s, want 1", got)
	}
	if got := other.whoami(); got != "alice" {
		t.Fatalf("the other session: %q", got)
	}
}
