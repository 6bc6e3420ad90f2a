package cookiesession_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/cookiesession"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// The interop tests run the Express app in testdata/nodeapp
// (cookie-session, Passport with passport-local) beside a Go app, with one
// cookie jar.

const script = "testdata/nodeapp/server.js"

var keys = []string{interoptest.NewKey, interoptest.OldKey}

func quiet(m *sessionkit.Manager) *sessionkit.Manager {
	m.Logger = slog.New(slog.DiscardHandler)
	return m
}

func startNode(t *testing.T, maxAge string) string {
	return testenv.StartNodeApp(t, testenv.CookieSessionNodeModulesEnv, script, "KEYS="+interoptest.KeysJSON, "MAX_AGE="+maxAge)
}

// mode shares cookie-session's sessions, with maxAge an hour (or a
// browser-session cookie when maxAge is 0).
func mode(maxAge time.Duration) interoptest.Mode {
	return interoptest.Mode{
		Name:   "cookie-session",
		Cookie: "session",
		Raw:    interoptest.CookieRaw("session"),
		Start: func(t *testing.T) (string, string) {
			ms := ""
			if maxAge > 0 {
				ms = "3600000"
			}
			nodeURL := startNode(t, ms)
			m, err := cookiesession.New(cookiesession.Options{Keys: keys, MaxAge: maxAge})
			if err != nil {
				t.Fatal(err)
			}
			return nodeURL, interoptest.GoApp(t, quiet(m), cookiesession.UsePassport[interoptest.User]).URL
		},
	}
}

func TestInterop(t *testing.T) {
	t.Parallel()
	t.Run("Sharing", func(t *testing.T) { t.Parallel(); interoptest.RunSharing(t, mode(time.Hour)) })
	t.Run("SharingBrowserSession", func(t *testing.T) { t.Parallel(); interoptest.RunSharing(t, mode(0)) })
	t.Run("Tampering", func(t *testing.T) {
		t.Parallel()
		b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
		interoptest.RunTampering(t, mode(time.Hour), map[string]string{
			"not base64":     "%%%not-base64",
			"base64url":      strings.NewReplacer("+", "-", "/", "_").Replace(b64(`{"secret":"???>>>","passport":{"user":1}}`)),
			"unpadded":       strings.TrimRight(b64(`{"secret":"xy","passport":{"user":1}}`), "="),
			"truncated JSON": b64(`{"secret":"x","passport":{"user":1}`),
			"not an object":  b64(`[{"passport":{"user":1}}]`),
			"not UTF-8":      base64.StdEncoding.EncodeToString([]byte("{\"secret\":\"\xff\",\"passport\":{\"user\":1}}")),
		})
	})
	t.Run("Lifetime", func(t *testing.T) { t.Parallel(); runLifetime(t) })
}

// runLifetime: cookie-session keeps no lifetime in the session, only in
// the cookie it sends; the Go side never re-sends a cookie it did not
// change, so the expiry the Node side gave it is what the browser keeps.
func runLifetime(t *testing.T) {
	md := mode(time.Hour)
	nodeURL, goURL := md.Start(t)

	t.Run("NodeMaxAgeKeptByGo", func(t *testing.T) {
		t.Parallel()
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		_, _, set := c.Req("POST", nodeURL+"/set?k=n&v=1&ms=2000")
		if ck := set["session"]; ck == nil || !ck.Expires.Before(time.Now().Add(3*time.Second)) {
			t.Fatalf("node sent %v, want a 2 s cookie", set)
		}
		old := c.Cookies(nodeURL)
		_, who, set := c.Req("GET", goURL+"/whoami")
		if who["user"] != "ann" || len(set) != 0 {
			t.Fatalf("go read: %v, sent %v", who, set)
		}
		time.Sleep(2600 * time.Millisecond)
		// The browser dropped it: signed out on both sides.
		for _, base := range []string{goURL, nodeURL} {
			if got := c.Whoami(base); got != nil {
				t.Fatalf("%s: user %v after the cookie's 2 s maxAge", base, got)
			}
		}
		// A copy of the cookie has no expiry of its own: both sides take
		// it, alike.
		for _, base := range []string{goURL, nodeURL} {
			c.SetCookies(base, old)
			if got := c.Whoami(base); got != "ann" {
				t.Fatalf("%s: a replayed cookie-session cookie: %v", base, got)
			}
		}
	})

	t.Run("GoWrites", func(t *testing.T) {
		t.Parallel()
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		// A Go write sends the cookie with maxAge, as a Node write would.
		_, _, set := c.Req("POST", goURL+"/set?k=n&v=2")
		if ck := set["session"]; ck == nil || ck.MaxAge < 3599 || ck.MaxAge > 3600 {
			t.Fatalf("go write sent %v, want an hour", set)
		}
		// A maxAge for this response, as req.sessionOptions.maxAge.
		_, _, set = c.Req("POST", goURL+"/maxage?d=240h")
		if ck := set["session"]; ck == nil || ck.MaxAge < 863990 {
			t.Fatalf("go sent %v, want a 10-day cookie", set)
		}
		_, _, set = c.Req("POST", goURL+"/maxage?d=session")
		if ck := set["session"]; ck == nil || ck.MaxAge != 0 || !ck.Expires.IsZero() {
			t.Fatalf("go sent %v, want a browser-session cookie", set)
		}
		c.WantUser(nodeURL, "ann")
		if v := c.Get(nodeURL + "/get?k=n")["value"]; v != 2.0 {
			t.Fatalf("node reads n = %v", v)
		}
	})
}

// The way forward: a Go Manager of its own takes over each cookie-session
// cookie on the next request, and the user stays signed in.
func TestImport(t *testing.T) {
	t.Parallel()
	nodeURL := startNode(t, "3600000")
	for name, newManager := range map[string]func(t *testing.T) *sessionkit.Manager{
		"IntoSealedCookies": func(t *testing.T) *sessionkit.Manager {
			cs, err := cookiestore.New("sk", bytes.Repeat([]byte("s"), 32))
			if err != nil {
				t.Fatal(err)
			}
			m := sessionkit.NewClientSide(cs)
			m.Cookie.Name = "sk"
			return m
		},
		"IntoServerSideStore": func(t *testing.T) *sessionkit.Manager {
			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			m := sessionkit.New(mem)
			m.Cookie.Name = "sk"
			return m
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := quiet(newManager(t))
			imp, err := cookiesession.NewImporter(cookiesession.Options{Keys: keys, MaxAge: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			m.Import = imp
			goURL := interoptest.GoApp(t, m, func(a *auth.Auth[interoptest.User]) { a.Field = express.PassportField{} }).URL
			c := interoptest.NewClient(t)
			c.NodeLogin(nodeURL, "ann", "pw1")
			c.Post(nodeURL + "/set?k=secret&v=%22s3cr3t%22")
			old := c.Cookies(nodeURL)

			_, who, set := c.Req("GET", goURL+"/whoami")
			if who["user"] != "ann" || set["sk"] == nil || set["sk"].Value == "" {
				t.Fatalf("import: %v, sent %v", who, set)
			}
			for _, n := range []string{"session", "session.sig"} {
				if ck := set[n]; ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
					t.Fatalf("import did not clear %s: %v", n, set)
				}
			}
			if _, who, set := c.Req("GET", goURL+"/whoami"); who["user"] != "ann" || len(set) != 0 {
				t.Fatalf("after the import: %v, sent %v", who, set)
			}
			if v := c.Get(goURL + "/get?k=secret")["value"]; v != "s3cr3t" {
				t.Fatalf("imported value = %v", v)
			}
			d := interoptest.NewClient(t)
			d.SetCookies(goURL, map[string]string{"session": old["session"], "session.sig": "x" + old["session.sig"][1:]})
			if _, who, set := d.Req("GET", goURL+"/whoami"); who["user"] != nil || set["sk"] != nil {
				t.Fatalf("a tampered cookie was imported: %v, sent %v", who, set)
			}
		})
	}
}
