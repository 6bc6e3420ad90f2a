package auth_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// TestLoginEvents checks that logins and refused logins reach the
// Manager's Observer with the request's context, and logouts as destroys.
func TestLoginEvents(t *testing.T) {
	var mu sync.Mutex
	count := map[sessionkit.EventKind]int{}
	e := newEnv(t, func(a *auth.Auth[User]) {
		a.Manager.Observer = func(ev sessionkit.Event) {
			if ev.Ctx == nil || ev.Store != "memstore" {
				t.Errorf("%v event: ctx %v, store %q", ev.Kind, ev.Ctx, ev.Store)
			}
			mu.Lock()
			count[ev.Kind]++
			mu.Unlock()
		}
	})
	c := e.client()
	if r := c.login("alice", "wrong", ""); r.code != http.StatusUnprocessableEntity {
		t.Fatalf("wrong password: %d", r.code)
	}
	if r := c.login("mallory", "x", ""); r.code != http.StatusUnprocessableEntity {
		t.Fatalf("unknown user: %d", r.code)
	}
	if r := c.login("alice", "wonderland", ""); r.code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	if r := c.do("POST", "/logout", nil); r.code != http.StatusOK {
		t.Fatalf("logout: %d", r.code)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[sessionkit.EventKind]int{
		sessionkit.EventLoginFailed: 2,
		sessionkit.EventLogin:       1,
		// The browser had no session: its login stores a new one,
		// which is created, not regenerated.
		sessionkit.EventRegenerate: 0,
		sessionkit.EventDestroy:    1,
		sessionkit.EventCreate:     2, // the login, then the flash after logout
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%v events: %d, want %d (all: %v)", k, count[k], n, count)
		}
	}
}
