package cookiesession_test

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/compat/cookiesession"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/compat/keygrip"
	"github.com/sessionkit/sessionkit/internal/testenv"
)

// TestInteropRotationRead follows the doc's key rotation: a cookie signed
// by a Node app that only knew the old key is read by apps that have the
// new key first. A read sends session.sig alone, signed with the new key,
// on the Node side (Keygrip, through the cookies package) and the Go side
// alike; the session cookie keeps the expiry Node gave it, since a read
// does not extend a cookie-session cookie.
func TestInteropRotationRead(t *testing.T) {
	t.Parallel()
	oldNode := testenv.StartNodeApp(t, testenv.CookieSessionNodeModulesEnv, script, `KEYS=["`+interoptest.OldKey+`"]`, "MAX_AGE=3600000")
	nodeURL := startNode(t, "3600000")
	m, err := cookiesession.New(cookiesession.Options{Keys: keys, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	goURL := interoptest.GoApp(t, quiet(m), cookiesession.UsePassport[interoptest.User]).URL
	current, err := keygrip.New(interoptest.NewKey)
	if err != nil {
		t.Fatal(err)
	}

	c := interoptest.NewClient(t)
	c.NodeLogin(oldNode, "ann", "pw1")
	signedByOld := c.Cookies(oldNode)
	for _, base := range []string{nodeURL, goURL} {
		c.SetCookies(base, signedByOld)
		_, body, cs := c.Req("GET", base+"/whoami")
		if body["user"] != "ann" {
			t.Fatalf("%s: an old-key cookie after rotation: user %v", base, body["user"])
		}
		if cs["session"] != nil || cs["session.sig"] == nil {
			t.Fatalf("%s: a read of an old-key cookie set %v, want session.sig alone", base, cs)
		}
		if got, want := cs["session.sig"].Value, current.Sign("session="+signedByOld["session"]); got != want {
			t.Fatalf("%s: session.sig %q, want %q (the new key's)", base, got, want)
		}
		// Signed with the new key now: both sides accept it and send nothing.
		for _, other := range []string{nodeURL, goURL} {
			_, body, cs := c.Req("GET", other+"/whoami")
			if body["user"] != "ann" || len(cs) != 0 {
				t.Fatalf("%s after %s re-signed: user %v, Set-Cookie %v", other, base, body["user"], cs)
			}
		}
	}
}
