package koa_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// The way forward from cookie mode: a Go Manager of its own (sealed
// cookies or a server-side store) takes over each koa-session cookie on
// the next request, and the user stays signed in.
func TestImportCookieMode(t *testing.T) {
	t.Parallel()
	nodeURL := testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, script, "MODE=cookie", "KEYS="+interoptest.KeysJSON, "MAX_AGE=3600000")
	targets := []struct {
		name string
		new  func(t *testing.T) *sessionkit.Manager
	}{
		{"IntoSealedCookies", func(t *testing.T) *sessionkit.Manager {
			cs, err := cookiestore.New("session", bytes.Repeat([]byte("s"), 32))
			if err != nil {
				t.Fatal(err)
			}
			return sessionkit.NewClientSide(cs)
		}},
		{"IntoServerSideStore", func(t *testing.T) *sessionkit.Manager {
			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			return sessionkit.New(mem)
		}},
	}
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			t.Parallel()
			m := quiet(target.new(t))
			imp, err := koa.NewCookieImporter(koa.Options{Keys: keys, MaxAge: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			m.Import = imp
			goURL := interoptest.GoApp(t, m, func(a *auth.Auth[interoptest.User]) { a.Field = express.PassportField{} }).URL

			c := interoptest.NewClient(t)
			c.NodeLogin(nodeURL, "ann", "pw1")
			c.Post(nodeURL + "/set?k=secret&v=%22s3cr3t%22")
			c.Post(nodeURL + "/maxage?ms=7200000")
			old := c.Cookies(nodeURL)

			// The first Go request imports it: same user, same values, same
			// maxAge, under a new session; the koa cookies are cleared.
			_, who, set := c.Req("GET", goURL+"/whoami")
			if who["user"] != "ann" || who["maxAge"] != 7200000.0 {
				t.Fatalf("import: %v", who)
			}
			if ck := set["session"]; ck == nil || ck.Value == "" {
				t.Fatalf("import sent no session cookie of its own: %v", set)
			}
			for _, name := range []string{"koa.sess", "koa.sess.sig"} {
				if ck := set[name]; ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
					t.Fatalf("import did not clear %s: %v", name, set)
				}
			}
			if jar := c.Cookies(goURL); jar["koa.sess"] != "" || jar["koa.sess.sig"] != "" || jar["session"] == "" {
				t.Fatalf("jar after the import: %v", jar)
			}
			// From now on the Go session is used: nothing imported again.
			_, who, set = c.Req("GET", goURL+"/whoami")
			if who["user"] != "ann" || len(set) != 0 {
				t.Fatalf("after the import: %v, sent %v", who, set)
			}
			if v := c.Get(goURL + "/get?k=secret")["value"]; v != "s3cr3t" {
				t.Fatalf("imported value = %v", v)
			}

			// A tampered koa cookie is never imported.
			for name, sig := range map[string]string{"bad signature": old["koa.sess.sig"][1:] + "A", "no signature": ""} {
				d := interoptest.NewClient(t)
				kv := map[string]string{"koa.sess": old["koa.sess"]}
				if sig != "" {
					kv["koa.sess.sig"] = sig
				}
				d.SetCookies(goURL, kv)
				_, who, set := d.Req("GET", goURL+"/whoami")
				if who["user"] != nil || who["stored"] != false || set["session"] != nil {
					t.Fatalf("%s: imported %v, sent %v", name, who, set)
				}
			}
			// A cookie session cannot be revoked: the old cookie, presented
			// again, is still genuine, and is imported again.
			d := interoptest.NewClient(t)
			d.SetCookies(goURL, old)
			if got := d.Whoami(goURL); got != "ann" {
				t.Fatalf("replayed koa cookie: %v", got)
			}
		})
	}
}
