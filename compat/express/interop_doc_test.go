package express_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// reqCookie sends a request and returns the session cookie its response
// set (nil if none).
func (c *client) reqCookie(method, u string) *http.Cookie {
	c.t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	// The whole body: express-session holds back its last byte until the
	// store's save or touch is done.
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: %s", method, u, resp.Status)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == express.DefaultCookieName {
			return ck
		}
	}
	return nil
}

// TestInteropGuide checks claims of docs/migrating-from-express.md from
// the browser's side, against express-session with connect-redis.
func TestInteropGuide(t *testing.T) {
	t.Parallel()
	redisURL := testenv.Getenv(t, testenv.RedisURLEnv)
	nodeModulesOrSkip(t)
	ctx := context.Background()
	prefix := uniqueName("sess_") + ":"
	store, err := redisstore.NewFromURL(ctx, redisURL, redisstore.Options{
		Prefix: prefix, Layout: redisstore.LayoutConnectRedis, UserKeyOf: express.UserKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	nodeURL := startNode(t, "redis", redisURL, prefix)
	goURL := goApp(t, store).URL
	login := func(c *client) string {
		c.do("POST", nodeURL+"/login", url.Values{"username": {"ann"}, "password": {"pw1"}})
		return c.get(nodeURL + "/whoami")["id"].(string)
	}

	// "req.login(user) (0.7: regenerates, keeps nothing) | a.Login": a Go
	// login after a Node one gives a new ID that Node sees, and the old
	// one is dead on both sides (no session fixation).
	t.Run("GoLoginRegenerates", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		sid := login(c)
		c.post(nodeURL + "/set?k=cart&v=[1]")
		c.post(goURL + "/login?id=2")
		node := c.get(nodeURL + "/whoami")
		if node["user"] != "bob" || node["id"] == sid {
			t.Fatalf("node after a Go login: %v (old id %s)", node, sid)
		}
		if cart := c.get(nodeURL + "/get?k=cart")["value"]; cart != nil {
			t.Fatalf("the Go login kept cart = %v; Passport 0.7 keeps nothing", cart)
		}
		if _, err := store.Load(ctx, sid); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Fatalf("the pre-login session is still stored: %v", err)
		}
		s, _ := express.NewSigner(newSecret)
		for _, base := range []string{nodeURL, goURL} {
			c.setCookie(base, s.Sign(sid))
			if got := c.get(base + "/whoami")["user"]; got != nil {
				t.Fatalf("%s: the pre-login cookie is user %v", base, got)
			}
		}
	})

	// "rolling: false | RollingThrottled: every use extends the session,
	// and the cookie is re-sent whenever its expiry moves — also on
	// reads": Go reads alone keep a short-maxAge session alive in the
	// browser past its maxAge, and Node still sees it.
	t.Run("GoReadsRenewTheCookie", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		login(c)
		c.post(nodeURL + "/maxage?ms=4000")
		start := time.Now()
		renewed := 0
		for time.Since(start) < 6*time.Second {
			time.Sleep(time.Second) // past the 1 s touch interval (a quarter of 4 s)
			if ck := c.reqCookie("GET", goURL+"/whoami"); ck != nil {
				if ck.MaxAge < 3 || ck.MaxAge > 4 {
					t.Fatalf("Go re-sent the cookie with Max-Age %d, want the session's 4 s", ck.MaxAge)
				}
				renewed++
			}
		}
		if renewed == 0 {
			t.Fatal("no Go read re-sent the cookie")
		}
		for _, base := range []string{goURL, nodeURL} {
			if got := c.get(base + "/whoami")["user"]; got != "ann" {
				t.Fatalf("%s: user %v after %v of Go reads of a 4 s session", base, got, time.Since(start))
			}
		}
	})

	// "The cookie name. The native Manager may keep connect.sid as its
	// cookie name: the express cookie is cleared first and the native one
	// set after it in the same response."
	t.Run("NativeKeepsCookieName", func(t *testing.T) {
		t.Parallel()
		native, err := redisstore.NewFromURL(ctx, redisURL, redisstore.Options{Prefix: uniqueName("native_") + ":"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { native.Close() })
		imp, err := express.NewImporter(express.ImportOptions{Secrets: []string{newSecret, oldSecret}, Express: store, Migrated: native})
		if err != nil {
			t.Fatal(err)
		}
		nativeURL := nativeApp(t, native, imp, func(m *sessionkit.Manager) { m.Cookie.Name = express.DefaultCookieName }).URL
		c := newClient(t)
		sid := login(c)
		old := c.cookieValue(nodeURL, express.DefaultCookieName)
		body, h := c.getResp(nativeURL + "/whoami")
		if body["user"] != "ann" {
			t.Fatalf("native app after the import: %v", body)
		}
		lines := h["Set-Cookie"]
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "connect.sid=;") || !strings.Contains(lines[0], "Max-Age=0") || strings.HasPrefix(lines[1], "connect.sid=;") {
			t.Fatalf("the import's Set-Cookie: %q, want connect.sid cleared, then the native connect.sid", lines)
		}
		now := c.cookieValue(nativeURL, express.DefaultCookieName)
		if now == "" || now == old || strings.HasPrefix(now, "s%3A") {
			t.Fatalf("the browser holds connect.sid=%q after the import (express cookie %q)", now, old)
		}
		if _, err := store.Load(ctx, sid); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Fatalf("the express session survived its import: %v", err)
		}
		// The native session from now on, without another import.
		body, h = c.getResp(nativeURL + "/whoami")
		if body["user"] != "ann" || len(h["Set-Cookie"]) != 0 {
			t.Fatalf("native app, second request: %v, Set-Cookie %q", body, h["Set-Cookie"])
		}
		// Node treats the native token as no session.
		if got := c.get(nodeURL + "/whoami")["user"]; got != nil {
			t.Fatalf("node with the native cookie: user %v", got)
		}
	})

	// "rolling: true | Manager.Rolling = sessionkit.RollingAlways: the
	// cookie on every response that uses the session, the expiry
	// extended on every such request" — on both sides.
	t.Run("RollingAlways", func(t *testing.T) {
		t.Parallel()
		rollingNode := startNode(t, "redis", redisURL, prefix, "ROLLING=true")
		rollingGo := goApp(t, store, func(m *sessionkit.Manager) { m.Rolling = sessionkit.RollingAlways }).URL
		c := newClient(t)
		c.do("POST", rollingNode+"/login", url.Values{"username": {"ann"}, "password": {"pw1"}})
		sid := c.get(rollingNode + "/whoami")["id"].(string)
		for _, base := range []string{rollingGo, rollingNode, rollingGo} {
			before, err := store.Load(ctx, sid)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // the expiry moves in whole seconds on Node's cookie
			ck := c.reqCookie("GET", base+"/whoami")
			if ck == nil {
				t.Fatalf("%s: a read sent no cookie", base)
			}
			if left := time.Until(ck.Expires); left < time.Hour-time.Minute {
				t.Fatalf("%s: a read's cookie expires in %v, want an hour", base, left)
			}
			after, err := store.Load(ctx, sid)
			if err != nil {
				t.Fatal(err)
			}
			if !after.Expiry.After(before.Expiry.Add(500 * time.Millisecond)) {
				t.Fatalf("%s (go %s): a read left the stored expiry at %v (was %v)", base, rollingGo, after.Expiry, before.Expiry)
			}
		}
		if got := c.get(rollingNode + "/whoami")["user"]; got != "ann" {
			t.Fatalf("node: user %v", got)
		}
	})

	// "no cookie.sameSite (express-session's default) |
	// m.Cookie.SameSite = http.SameSiteDefaultMode (no attribute)": no
	// SameSite on either side's cookie, for sessions either side made.
	t.Run("NoSameSite", func(t *testing.T) {
		t.Parallel()
		plainNode := startNode(t, "redis", redisURL, prefix, "SAME_SITE=none-set")
		plainGo := goApp(t, store, func(m *sessionkit.Manager) { m.Cookie.SameSite = http.SameSiteDefaultMode }).URL
		check := func(what string, ck *http.Cookie) {
			t.Helper()
			if ck == nil {
				t.Fatalf("%s: no cookie", what)
			}
			if strings.Contains(strings.ToLower(ck.Raw), "samesite") {
				t.Fatalf("%s: %s, want no SameSite", what, ck.Raw)
			}
		}
		c := newClient(t)
		check("Go login", c.reqCookie("POST", plainGo+"/login?id=1"))
		check("Node write of Go's session", c.reqCookie("POST", plainNode+"/set?k=a&v=1"))
		if got := c.get(plainNode + "/whoami")["user"]; got != "ann" {
			t.Fatalf("node: user %v", got)
		}
		c2 := newClient(t)
		check("Node login", c2.cookieOf(c2.doResp("POST", plainNode+"/login", url.Values{"username": {"bob"}, "password": {"pw2"}})))
		check("Go write of Node's session", c2.reqCookie("POST", plainGo+"/set?k=a&v=1"))
	})
}

// cookieOf returns the session cookie among Set-Cookie lines.
func (c *client) cookieOf(lines []string) *http.Cookie {
	h := http.Header{"Set-Cookie": lines}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == express.DefaultCookieName {
			return ck
		}
	}
	return nil
}

// doResp is c.do that returns the response's Set-Cookie lines.
func (c *client) doResp(method, u string, form url.Values) []string {
	c.t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s %s: %s", method, u, resp.Status)
	}
	return resp.Header["Set-Cookie"]
}
