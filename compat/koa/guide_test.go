package koa_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestInteropLogoutKeepsData checks the guide's logout row for
// koa-session with koa-passport: ctx.logout() signs the user out and keeps
// the session's other values, and auth.Auth with KeepDataOnLogout does
// the same from Go, both ways, in cookie and external-store mode.
func TestInteropLogoutKeepsData(t *testing.T) {
	t.Parallel()
	keep := func(a *auth.Auth[interoptest.User]) {
		koa.UsePassport(a)
		a.KeepDataOnLogout = true
	}
	modes := []struct {
		name  string
		start func(t *testing.T) (nodeURL, goURL string)
	}{
		{"Cookie", func(t *testing.T) (string, string) {
			nodeURL := testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, script,
				"MODE=cookie", "KEYS="+interoptest.KeysJSON, "MAX_AGE=3600000")
			m, err := koa.NewCookieMode(koa.Options{Keys: keys, MaxAge: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return nodeURL, interoptest.GoApp(t, quiet(m), keep).URL
		}},
		{"Store", func(t *testing.T) (string, string) {
			goRedis, nodeRedis := redisTopologies[0].urls(t)
			prefix := uniqueName("sk") + ":"
			store := redisFor(t, goRedis, redisstore.Options{NoPrefix: true}, prefix)
			nodeURL := testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, script,
				"MODE=store", "KEYS="+interoptest.KeysJSON, "MAX_AGE=3600000", "PREFIX="+prefix, "REDIS="+nodeRedis)
			m := quiet(sessionkit.New(koa.NewExternalStore(store)))
			if err := koa.ConfigureStore(m, koa.Options{Keys: keys, Prefix: prefix, MaxAge: time.Hour}); err != nil {
				t.Fatal(err)
			}
			return nodeURL, interoptest.GoApp(t, m, keep).URL
		}},
	}
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			t.Parallel()
			nodeURL, goURL := md.start(t)
			c := interoptest.NewClient(t)
			cart := func(base string) string {
				t.Helper()
				v, _ := json.Marshal(c.Get(base + "/get?k=cart")["value"])
				return string(v)
			}
			c.Post(nodeURL + "/set?k=cart&v=3")
			c.NodeLogin(nodeURL, "ann", "pw1")
			c.WantUser(goURL, "ann")

			// Go signs out: no user on either side, the cart kept.
			c.Post(goURL + "/logout")
			c.WantUser(nodeURL, nil)
			c.WantUser(goURL, nil)
			if n, g := cart(nodeURL), cart(goURL); n != "3" || g != "3" {
				t.Errorf("after a Go logout the cart is %s on Node, %s on Go; want 3 on both", n, g)
			}

			// Node signs out (koa-passport's ctx.logout): the same.
			c.NodeLogin(nodeURL, "bob", "pw2")
			c.WantUser(goURL, "bob")
			c.Post(nodeURL + "/logout")
			c.WantUser(goURL, nil)
			c.WantUser(nodeURL, nil)
			if n, g := cart(nodeURL), cart(goURL); n != "3" || g != "3" {
				t.Errorf("after a Node logout the cart is %s on Node, %s on Go; want 3 on both", n, g)
			}
		})
	}
}

// TestInteropGenericCookieAttributes checks the guide's section 1 for
// koa-generic-session: a session the Go side creates keeps the Go cookie's
// attributes in its "cookie" object, and koa-generic-session sets that
// session's cookie with them (here SameSite=Strict, where the Koa app's own
// option is lax), so the cookie does not change with the side that answers.
func TestInteropGenericCookieAttributes(t *testing.T) {
	t.Parallel()
	goRedis, nodeRedis := redisTopologies[0].urls(t)
	prefix := "koa:sess:" + uniqueName("sk") + ":"
	store := redisFor(t, goRedis, redisstore.Options{Prefix: prefix}, "")
	nodeURL := testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, script,
		"MODE=generic", "KEYS="+interoptest.KeysJSON, "MAX_AGE=3600000", "PREFIX="+prefix, "REDIS="+nodeRedis)
	m := quiet(sessionkit.New(store))
	if err := koa.ConfigureGeneric(m, koa.GenericOptions{Keys: keys, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	m.Cookie.SameSite = http.SameSiteStrictMode
	goURL := interoptest.GoApp(t, m, usePassport(true)).URL

	c := interoptest.NewClient(t)
	_, _, set := c.Req("POST", goURL+"/set?k=n&v=1")
	if ck := set["koa.sid"]; ck == nil || ck.SameSite != http.SameSiteStrictMode || !ck.HttpOnly {
		t.Fatalf("Go's cookie: %v, want SameSite=Strict, HttpOnly", ck)
	}
	_, _, set = c.Req("POST", nodeURL+"/set?k=n&v=2")
	ck := set["koa.sid"]
	if ck == nil || ck.SameSite != http.SameSiteStrictMode || !ck.HttpOnly || ck.Path != "/" || ck.MaxAge != 0 && ck.MaxAge < 3590 {
		t.Fatalf("Node's cookie for the Go-made session: %v; want SameSite=Strict, HttpOnly, Path=/ as Go set them", ck)
	}
	if got := c.Get(goURL + "/get?k=n")["value"]; got != 2.0 {
		t.Errorf("Go reads n = %v after the Node write, want 2", got)
	}
}
