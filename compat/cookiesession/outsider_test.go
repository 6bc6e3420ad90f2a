package cookiesession_test

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/cookiesession"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/compat/keygrip"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// Outside-in tests of section 6 of docs/migrating-from-express.md and the
// package documentation: one cookie jar, the real cookie-session app in
// testdata/nodeapp, and Go apps written from the docs.

func nodeWith(t *testing.T, env ...string) string {
	t.Helper()
	return testenv.StartNodeApp(t, testenv.CookieSessionNodeModulesEnv, script, append([]string{"KEYS=" + interoptest.KeysJSON, "MAX_AGE=3600000"}, env...)...)
}

func keysEnv(keys ...string) string {
	b, _ := json.Marshal(keys)
	return "KEYS=" + string(b)
}

func goWith(t *testing.T, o cookiesession.Options, use func(*auth.Auth[interoptest.User])) string {
	t.Helper()
	m, err := cookiesession.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if use == nil {
		use = cookiesession.UsePassport[interoptest.User]
	}
	return interoptest.GoApp(t, quiet(m), use).URL
}

// TestOutsiderKeygripAlgorithm: "keys: ['new', 'old'] | Options.Keys […]
// (a Keygrip with another algorithm: Options.Signer)", and Options.Signer's
// "for keys: new Keygrip(keys, 'sha256'), use keygrip.NewHash" — against
// cookie-session given the real keygrip's new Keygrip(keys, 'sha256').
func TestOutsiderKeygripAlgorithm(t *testing.T) {
	t.Parallel()
	nodeURL := nodeWith(t, "KEYGRIP=sha256")
	kg, err := keygrip.NewHash(sha256.New, keys...)
	if err != nil {
		t.Fatal(err)
	}
	goURL := goWith(t, cookiesession.Options{Signer: kg, MaxAge: time.Hour}, nil)
	sha1Only := goWith(t, cookiesession.Options{Keys: keys, MaxAge: time.Hour}, nil)

	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	cs := c.Cookies(nodeURL)
	if got, want := cs["session.sig"], kg.Sign("session="+cs["session"]); got != want {
		t.Fatalf("node's session.sig %q, want the SHA-256 Keygrip's %q", got, want)
	}
	c.WantUser(goURL, "ann")
	c.WantUser(sha1Only, nil) // the default, HMAC-SHA1, does not verify it

	d := interoptest.NewClient(t)
	d.Post(goURL + "/login?id=2")
	d.WantUser(nodeURL, "bob")
	d.Post(nodeURL + "/set?k=n&v=1")
	if v := d.Get(goURL + "/get?k=n")["value"]; v != 1.0 {
		t.Fatalf("go reads n = %v after a node write", v)
	}

	// A SHA-1 signature of the same value is no session on either side.
	e := interoptest.NewClient(t)
	sha1, _ := keygrip.New(keys...)
	forged := map[string]string{"session": cs["session"], "session.sig": sha1.Sign("session=" + cs["session"])}
	for _, base := range []string{goURL, nodeURL} {
		e.SetCookies(base, forged)
		e.WantUser(base, nil)
	}
}

// TestOutsiderKeyRotation follows the rotation the guide gives for
// cookie-session: "rotate in two deploys as for the secret above: add the
// new key last on both sides, then move it first on both" — with "A side
// that signs with a secret the other side does not know yet signs the user
// out there on its next response with a cookie".
func TestOutsiderKeyRotation(t *testing.T) {
	t.Parallel()
	const oldK, newK = interoptest.OldKey, interoptest.NewKey
	before := nodeWith(t, keysEnv(oldK))
	node1 := nodeWith(t, keysEnv(oldK, newK))
	node2 := nodeWith(t, keysEnv(newK, oldK))
	go1 := goWith(t, cookiesession.Options{Keys: []string{oldK, newK}, MaxAge: time.Hour}, nil)
	go2 := goWith(t, cookiesession.Options{Keys: []string{newK, oldK}, MaxAge: time.Hour}, nil)
	byOld, _ := keygrip.New(oldK)
	byNew, _ := keygrip.New(newK)

	c := interoptest.NewClient(t)
	c.NodeLogin(before, "ann", "pw1")
	// Deploy 1: the new key last on both; reads and writes keep the old
	// key's signature, so Node apps not yet redeployed follow.
	for _, base := range []string{node1, go1} {
		_, who, set := c.Req("GET", base+"/whoami")
		if who["user"] != "ann" || len(set) != 0 {
			t.Fatalf("deploy 1, %s read: user %v, Set-Cookie %v", base, who["user"], set)
		}
	}
	_, _, set := c.Req("POST", go1+"/set?k=n&v=1")
	if ck, sig := set["session"], set["session.sig"]; ck == nil || sig == nil || sig.Value != byOld.Sign("session="+ck.Value) {
		t.Fatalf("deploy 1: a Go write sent %v, want it signed with the old key", set)
	}
	c.WantUser(before, "ann")

	// Deploy 2: the new key first on both. A write signs with it, and the
	// deploy-1 apps verify it.
	_, _, set = c.Req("POST", go2+"/set?k=n&v=2")
	if ck, sig := set["session"], set["session.sig"]; ck == nil || sig == nil || sig.Value != byNew.Sign("session="+ck.Value) {
		t.Fatalf("deploy 2: a Go write sent %v, want it signed with the new key", set)
	}
	for _, base := range []string{node1, node2, go1, go2} {
		c.WantUser(base, "ann")
		if v := c.Get(base + "/get?k=n")["value"]; v != 2.0 {
			t.Fatalf("%s reads n = %v", base, v)
		}
	}
	// Skipping deploy 1: an app without the new key is signed out.
	c.WantUser(before, nil)

	d := interoptest.NewClient(t)
	d.NodeLogin(node2, "bob", "pw2")
	if cs := d.Cookies(node2); cs["session.sig"] != byNew.Sign("session="+cs["session"]) {
		t.Fatalf("deploy 2: node signed %v, not with the new key", cs)
	}
	d.WantUser(go1, "bob")
	d.WantUser(go2, "bob")
}

// TestOutsiderLogout: "req.logout() (Passport 0.7 with the no-op
// regenerate above: the other values stay) | a.Logout(w, r) destroys the
// session (both cookies expired); with a.KeepDataOnLogout = true it keeps
// the other values, as the Node side does".
func TestOutsiderLogout(t *testing.T) {
	t.Parallel()
	nodeURL := nodeWith(t)
	o := cookiesession.Options{Keys: keys, MaxAge: time.Hour}
	destroys := goWith(t, o, nil)
	keeps := goWith(t, o, func(a *auth.Auth[interoptest.User]) {
		cookiesession.UsePassport(a)
		a.KeepDataOnLogout = true
	})
	cart := []any{1.0, 2.0}

	// Node's logout keeps the cart; Go sees it, without the user.
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	c.Post(nodeURL + "/set?k=cart&v=[1,2]")
	c.Post(nodeURL + "/logout")
	for _, goURL := range []string{destroys, keeps} {
		c.WantUser(goURL, nil)
		if got := c.Get(goURL + "/get?k=cart")["value"]; !interoptest.SameJSON(got, cart) {
			t.Fatalf("go reads cart = %v after a node logout", got)
		}
	}

	for _, tc := range []struct {
		goURL string
		cart  any
	}{{destroys, nil}, {keeps, cart}} {
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		c.Post(nodeURL + "/set?k=cart&v=[1,2]")
		_, _, set := c.Req("POST", tc.goURL+"/logout")
		if tc.cart == nil {
			for _, n := range []string{"session", "session.sig"} {
				if ck := set[n]; ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
					t.Fatalf("a Go logout did not expire %s: %v", n, set)
				}
			}
		}
		c.WantUser(nodeURL, nil)
		c.WantUser(tc.goURL, nil)
		for _, base := range []string{nodeURL, tc.goURL} {
			if got := c.Get(base + "/get?k=cart")["value"]; !interoptest.SameJSON(got, tc.cart) {
				t.Fatalf("after a Go logout (KeepDataOnLogout %v), %s reads cart = %v", tc.cart != nil, base, got)
			}
		}
	}
}

// TestOutsiderName: "name: 'session' (default) | cookiesession.Options.Name"
// — the signature cookie follows the name on both sides.
func TestOutsiderName(t *testing.T) {
	t.Parallel()
	nodeURL := nodeWith(t, "NAME=app")
	goURL := goWith(t, cookiesession.Options{Name: "app", Keys: keys, MaxAge: time.Hour}, nil)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	if cs := c.Cookies(nodeURL); cs["app"] == "" || cs["app.sig"] == "" || len(cs) != 2 {
		t.Fatalf("node set %v", cs)
	}
	c.WantUser(goURL, "ann")
	d := interoptest.NewClient(t)
	_, _, set := d.Req("POST", goURL+"/login?id=2")
	if set["app"] == nil || set["app.sig"] == nil || len(set) != 2 {
		t.Fatalf("go set %v", set)
	}
	d.WantUser(nodeURL, "bob")
}

// TestOutsiderImportLifetime: "The imported session keeps the lifetime
// cookie-session gave it, not the new Manager's IdleTimeout: MaxAge as its
// idle timeout with a persistent cookie, or, without MaxAge, a
// browser-session cookie kept for TTL (default 24h) after its last use.
// The new Manager's absolute Lifetime (default 24 hours) counts from the
// import and still ends it".
func TestOutsiderImportLifetime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		nodeMS string
		maxAge time.Duration
		// the imported session's cookie Max-Age (0: a browser-session
		// cookie) and idle timeout
		cookie, idle time.Duration
	}{
		{"MaxAge", "3600000", time.Hour, time.Hour, time.Hour},
		{"BrowserSession", "", 0, 0, cookiesession.DefaultTTL},
		{"MaxAgeBeyondLifetime", "172800000", 48 * time.Hour, 24 * time.Hour, 48 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nodeURL := nodeWith(t, "MAX_AGE="+tc.nodeMS)
			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			m := quiet(sessionkit.New(mem)) // IdleTimeout 2h, Lifetime 24h
			m.Cookie.Name = "sk"
			imp, err := cookiesession.NewImporter(cookiesession.Options{Keys: keys, MaxAge: tc.maxAge})
			if err != nil {
				t.Fatal(err)
			}
			m.Import = imp
			goURL := interoptest.GoApp(t, m, func(a *auth.Auth[interoptest.User]) {
				a.Field = express.PassportField{} // the imported user is at passport.user
			}).URL

			c := interoptest.NewClient(t)
			c.NodeLogin(nodeURL, "ann", "pw1")
			_, who, set := c.Req("GET", goURL+"/whoami")
			if who["user"] != "ann" {
				t.Fatalf("import: %v", who)
			}
			ck := set["sk"]
			if ck == nil || ck.Value == "" {
				t.Fatalf("import set %v", set)
			}
			if tc.cookie == 0 {
				if ck.MaxAge != 0 || !ck.Expires.IsZero() {
					t.Fatalf("imported cookie %s, want a browser-session cookie", ck.Raw)
				}
			} else if d := time.Duration(ck.MaxAge) * time.Second; d < tc.cookie-time.Minute || d > tc.cookie {
				t.Fatalf("imported cookie %s, want Max-Age %v", ck.Raw, tc.cookie)
			}
			if got := time.Duration(who["maxAge"].(float64)) * time.Millisecond; got != tc.idle {
				t.Fatalf("imported idle timeout %v, want %v", got, tc.idle)
			}
		})
	}
}

// TestOutsiderOneResponseLifetime: "req.sessionOptions.maxAge = ms /
// .expires = date for one response | s.SetIdleTimeout(d) / s.SetDeadline(t)
// — for the cookie that response sends".
func TestOutsiderOneResponseLifetime(t *testing.T) {
	t.Parallel()
	nodeURL := nodeWith(t)
	m, err := cookiesession.New(cookiesession.Options{Keys: keys, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	quiet(m)
	mux := http.NewServeMux()
	// /write?deadline=<from now>&idle=<duration>: a write, with
	// a lifetime for this response.
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		var err error
		if q := r.URL.Query().Get("deadline"); q != "" {
			d, _ := time.ParseDuration(q)
			err = s.SetDeadline(time.Now().Add(d))
		}
		if q := r.URL.Query().Get("idle"); q != "" && err == nil {
			d, _ := time.ParseDuration(q)
			err = s.SetIdleTimeout(d)
		}
		if err == nil {
			err = s.Set("n", time.Now().UnixNano())
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write([]byte("{}"))
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)

	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	for _, tc := range []struct {
		query string
		want  time.Duration // the cookie's Max-Age
	}{
		{"deadline=10m", 10 * time.Minute},
		{"", time.Hour}, // the next response: MaxAge again
		{"idle=5h", 5 * time.Hour},
		{"", time.Hour},
	} {
		_, _, set := c.Req("POST", srv.URL+"/write?"+tc.query)
		ck := set["session"]
		if ck == nil || set["session.sig"] == nil {
			t.Fatalf("%q: a write sent %v", tc.query, set)
		}
		if got := time.Duration(ck.MaxAge) * time.Second; got < tc.want-time.Minute || got > tc.want {
			t.Fatalf("%q: the cookie's Max-Age is %v, want %v", tc.query, got, tc.want)
		}
		c.WantUser(nodeURL, "ann")
	}
}

// TestOutsiderOwnKeys: section 6's "the keys cookie-session keeps for
// itself (isChanged, isNew, isPopulated, _ctx) cannot be set from Go (as
// with cookie above, the request's save fails)".
func TestOutsiderOwnKeys(t *testing.T) {
	t.Parallel()
	nodeURL := nodeWith(t)
	goURL := goWith(t, cookiesession.Options{Keys: keys, MaxAge: time.Hour}, nil)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	before := c.Cookies(nodeURL)
	for _, k := range []string{"isChanged", "isNew", "isPopulated", "_ctx"} {
		if code, _, set := c.Req("POST", goURL+"/set?k="+k+"&v=1"); code != http.StatusInternalServerError || len(set) != 0 {
			t.Errorf("go set %s: status %d, Set-Cookie %v; want the ErrorHandler's 500 and no cookie", k, code, set)
		}
	}
	if after := c.Cookies(nodeURL); !interoptest.SameJSON(after, before) {
		t.Fatalf("the cookies changed: %v, were %v", after, before)
	}
	c.WantUser(nodeURL, "ann")
	c.WantUser(goURL, "ann")
}

// TestOutsiderDuplicateCookies: section 6's "With two session cookies in
// one request […], cookie-session checks only the first against
// session.sig (and, when that fails, expires session.sig), the Go side the
// first that verifies".
func TestOutsiderDuplicateCookies(t *testing.T) {
	t.Parallel()
	nodeURL := nodeWith(t)
	goURL := goWith(t, cookiesession.Options{Keys: keys, MaxAge: time.Hour}, nil)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	good := c.Cookies(nodeURL)
	foreign := "eyJhIjoxfQ==" // {"a":1}, another app's
	for _, tc := range []struct {
		header       string
		node, golang any
	}{
		{"session=" + good["session"] + "; session=" + foreign + "; session.sig=" + good["session.sig"], "ann", "ann"},
		{"session=" + foreign + "; session=" + good["session"] + "; session.sig=" + good["session.sig"], nil, "ann"},
	} {
		for base, want := range map[string]any{nodeURL: tc.node, goURL: tc.golang} {
			req, _ := http.NewRequest("GET", base+"/whoami", nil)
			req.Header.Set("Cookie", tc.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var who map[string]any
			err = json.NewDecoder(resp.Body).Decode(&who)
			resp.Body.Close()
			if err != nil || who["user"] != want {
				t.Errorf("%s with Cookie: %s: %v (%v), want user %v; Set-Cookie %q", base, tc.header, who, err, want, resp.Header["Set-Cookie"])
			}
			if base == nodeURL && want == nil {
				expired := false
				for _, ck := range resp.Cookies() {
					expired = expired || ck.Name == "session.sig" && ck.Value == ""
				}
				if !expired {
					t.Errorf("node did not expire session.sig: %q", resp.Header["Set-Cookie"])
				}
			}
		}
	}
}
