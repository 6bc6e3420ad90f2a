package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FormLogin's doc: a return-to naming the form's own path is ignored (as
// LoginURL ignores it), so a login does not land back on the login page.
func TestFormLoginIgnoresReturnToItself(t *testing.T) {
	for _, rt := range []string{"/login", "/login?x=1"} {
		c := newEnv(t).client()
		if r := c.login("alice", "wonderland", rt); r.code != http.StatusSeeOther || r.location != "/" {
			t.Errorf("login with return_to %q = %d to %q, want 303 to / (the default)", rt, r.code, r.location)
		}
	}
	// A page under the login path is a page of its own.
	c := newEnv(t).client()
	if r := c.login("alice", "wonderland", "/login/help"); r.location != "/login/help" {
		t.Errorf("login with return_to /login/help = %d to %q", r.code, r.location)
	}
}

// FormLogin's doc: "A form body over 64 KiB gets 413, one that cannot be
// parsed 400."
func TestFormLoginBodyLimits(t *testing.T) {
	c := newEnv(t).client()
	big := url.Values{"username": {"alice"}, "password": {"wonderland"}, "pad": {strings.Repeat("x", 64<<10)}}
	if r := c.do("POST", "/login", big); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 64 KiB form = %d, want 413", r.code)
	}
	if r := c.do("POST", "/login?bad=%zz", url.Values{"username": {"alice"}}); r.code != http.StatusBadRequest {
		t.Errorf("an unparsable form = %d, want 400", r.code)
	}
	if r := c.login("alice", "wonderland", ""); r.code != http.StatusSeeOther {
		t.Errorf("then a good login = %d, want 303", r.code)
	}
}
