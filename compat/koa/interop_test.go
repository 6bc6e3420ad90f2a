package koa_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// The interop tests run the Koa app in testdata/nodeapp (koa-session in
// cookie or external-store mode, or koa-generic-session, with koa-redis
// and koa-passport) beside a Go app, with one cookie jar.

const script = "testdata/nodeapp/server.js"

var keys = []string{interoptest.NewKey, interoptest.OldKey}

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func quiet(m *sessionkit.Manager) *sessionkit.Manager {
	m.Logger = slog.New(slog.DiscardHandler)
	return m
}

func usePassport(clearOnLogin bool) func(*auth.Auth[interoptest.User]) {
	return func(a *auth.Auth[interoptest.User]) {
		koa.UsePassport(a)
		a.ClearOnLogin = clearOnLogin
	}
}

// cookieMode shares koa-session's cookie-mode sessions; env and o adjust
// both sides (MAX_AGE is an hour unless env sets it).
func cookieMode(o koa.Options, env ...string) interoptest.Mode {
	return interoptest.Mode{
		Name:    "cookie",
		Cookie:  "koa.sess",
		Raw:     interoptest.CookieRaw("koa.sess"),
		OwnKeys: koaOwnKeys,
		Start: func(t *testing.T) (string, string) {
			nodeURL := testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, script,
				append([]string{"MODE=cookie", "KEYS=" + interoptest.KeysJSON, "MAX_AGE=3600000"}, env...)...)
			o.Keys = keys
			if o.MaxAge == 0 {
				o.MaxAge = time.Hour
			}
			m, err := koa.NewCookieMode(o)
			if err != nil {
				t.Fatal(err)
			}
			return nodeURL, interoptest.GoApp(t, quiet(m), usePassport(false)).URL
		},
	}
}

// redisTopologies are the Redis deployments koa-redis and redisstore
// share: the Go store's URL and koa-redis's options for each.
var redisTopologies = []struct {
	name string
	urls func(t *testing.T) (goURL, nodeOpts string)
}{
	{"Single", func(t *testing.T) (string, string) {
		u := testenv.Getenv(t, testenv.RedisURLEnv)
		return u, `{"url":"` + u + `"}`
	}},
	{"Sentinel", func(t *testing.T) (string, string) {
		spec := testenv.Getenv(t, testenv.RedisSentinelEnv) // master@host:port,...
		i := strings.LastIndexByte(spec, '@')
		master, addrs := spec[:i], spec[i+1:]
		return "redis+sentinel://" + addrs + "/" + master, `{"sentinels":` + hostPorts(addrs) + `,"name":"` + master + `"}`
	}},
	{"Cluster", func(t *testing.T) (string, string) {
		addrs := testenv.Getenv(t, testenv.RedisClusterEnv)
		return "redis+cluster://" + addrs, `{"isRedisCluster":true,"nodes":` + hostPorts(addrs) + `}`
	}},
}

// hostPorts turns "h:p,h:p" into ioredis's [{"host":h,"port":p},...].
func hostPorts(addrs string) string {
	var parts []string
	for _, a := range strings.Split(addrs, ",") {
		i := strings.LastIndexByte(a, ':')
		parts = append(parts, `{"host":"`+a[:i]+`","port":`+a[i+1:]+`}`)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// redisFor opens the Go side's store for a koa-redis layout and removes
// the test's keys afterwards.
func redisFor(t *testing.T, goURL string, o redisstore.Options, prefix string) *redisstore.Store {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o.Layout = redisstore.LayoutConnectRedis
	o.UserKeyOf = express.UserKey
	store, err := redisstore.NewFromURL(ctx, goURL, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for e, err := range store.All(ctx) {
			if err == nil && strings.HasPrefix(e.Key, prefix) {
				store.Delete(ctx, e.Key)
			}
		}
		store.Close()
	})
	return store
}

// koaOwnKeys are the keys koa-session adds to a session's JSON.
var koaOwnKeys = []string{"_expire", "_maxAge", "_session"}

// storeRaw reads the session record of the client's cookie from store.
func storeRaw(store sessionkit.Store, cookie string) func(t *testing.T, c *interoptest.Client, base string) []byte {
	return func(t *testing.T, c *interoptest.Client, base string) []byte {
		t.Helper()
		id := c.Cookies(base)[cookie]
		rec, err := store.Load(context.Background(), id)
		if err != nil {
			t.Fatalf("load %s: %v", id, err)
		}
		return rec.Data
	}
}

// storeMode shares koa-session's external-store sessions through
// koa-redis (koa-session's prefix option set, to keep tests apart).
func storeMode(t *testing.T, o koa.Options, env ...string) (interoptest.Mode, *redisstore.Store) {
	goRedis, nodeRedis := redisTopologies[0].urls(t)
	prefix := uniqueName("sk") + ":"
	store := redisFor(t, goRedis, redisstore.Options{NoPrefix: true}, prefix)
	return interoptest.Mode{
		Name:     "store",
		Cookie:   "koa.sess",
		Stateful: true,
		Raw:      storeRaw(store, "koa.sess"),
		OwnKeys:  koaOwnKeys,
		Start: func(t *testing.T) (string, string) {
			nodeURL := testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, script,
				append([]string{"MODE=store", "KEYS=" + interoptest.KeysJSON, "MAX_AGE=3600000", "PREFIX=" + prefix, "REDIS=" + nodeRedis}, env...)...)
			m := quiet(sessionkit.New(koa.NewExternalStore(store)))
			o.Keys, o.Prefix = keys, prefix
			if o.MaxAge == 0 {
				o.MaxAge = time.Hour
			}
			if err := koa.ConfigureStore(m, o); err != nil {
				t.Fatal(err)
			}
			return nodeURL, interoptest.GoApp(t, m, usePassport(false)).URL
		},
	}, store
}

// genericMode shares koa-generic-session's sessions through koa-redis on
// one of the Redis topologies.
func genericMode(t *testing.T, topo int, o koa.GenericOptions, env ...string) (interoptest.Mode, *redisstore.Store) {
	goRedis, nodeRedis := redisTopologies[topo].urls(t)
	prefix := "koa:sess:" + uniqueName("sk") + ":"
	store := redisFor(t, goRedis, redisstore.Options{Prefix: prefix}, "")
	return interoptest.Mode{
		Name:     "generic",
		Cookie:   "koa.sid",
		Stateful: true,
		Raw:      storeRaw(store, "koa.sid"),
		Start: func(t *testing.T) (string, string) {
			nodeURL := testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, script,
				append([]string{"MODE=generic", "KEYS=" + interoptest.KeysJSON, "MAX_AGE=3600000", "PREFIX=" + prefix, "REDIS=" + nodeRedis}, env...)...)
			m := quiet(sessionkit.New(store))
			o.Keys = keys
			if o.MaxAge == 0 {
				o.MaxAge = time.Hour
			}
			if err := koa.ConfigureGeneric(m, o); err != nil {
				t.Fatal(err)
			}
			// koa-generic-session's regenerateSession starts an empty
			// session, which is what Passport's login then fills.
			return nodeURL, interoptest.GoApp(t, m, usePassport(true)).URL
		},
	}, store
}

func TestInteropCookieMode(t *testing.T) {
	t.Parallel()
	t.Run("Sharing", func(t *testing.T) { t.Parallel(); interoptest.RunSharing(t, cookieMode(koa.Options{})) })
	t.Run("Tampering", func(t *testing.T) {
		t.Parallel()
		b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
		interoptest.RunTampering(t, cookieMode(koa.Options{}), map[string]string{
			"not base64":     "%%%not-base64",
			"base64url":      strings.NewReplacer("+", "-", "/", "_").Replace(b64(`{"secret":"???>>>","passport":{"user":1}}`)),
			"unpadded":       strings.TrimRight(b64(`{"secret":"xy","passport":{"user":1}}`), "="),
			"truncated JSON": b64(`{"secret":"x","passport":{"user":1}`),
			"not an object":  b64(`[{"passport":{"user":1}}]`),
			"expired":        b64(`{"secret":"x","passport":{"user":1},"_expire":1000,"_maxAge":1}`),
			"not UTF-8":      base64.StdEncoding.EncodeToString([]byte("{\"secret\":\"\xff\",\"passport\":{\"user\":1}}")),
		})
	})
	t.Run("Lifetime", func(t *testing.T) { t.Parallel(); runCookieLifetime(t) })
	t.Run("Rolling", func(t *testing.T) { t.Parallel(); runRolling(t, cookieMode(koa.Options{Rolling: true}, "ROLLING=1")) })
	t.Run("Renew", func(t *testing.T) { t.Parallel(); runRenew(t) })
}

func TestInteropStoreMode(t *testing.T) {
	t.Parallel()
	t.Run("Sharing", func(t *testing.T) {
		t.Parallel()
		md, _ := storeMode(t, koa.Options{})
		interoptest.RunSharing(t, md)
	})
	t.Run("Tampering", func(t *testing.T) {
		t.Parallel()
		md, _ := storeMode(t, koa.Options{})
		interoptest.RunTampering(t, md, map[string]string{
			"unknown external key": "sk000000000000:1b4e28ba-2fa1-4d2b-883f-0016d3cca427",
			"not a UUID":           "sk000000000000:" + strings.Repeat("a", 36),
		})
	})
	t.Run("Lifetime", func(t *testing.T) {
		t.Parallel()
		md, store := storeMode(t, koa.Options{})
		runStoreLifetime(t, md, store, "_maxAge")
	})
	t.Run("Renew", func(t *testing.T) {
		t.Parallel()
		md, _ := storeMode(t, koa.Options{Renew: true, MaxAge: 4 * time.Second}, "MAX_AGE=4000")
		runStoreRenew(t, md)
	})
	t.Run("Rolling", func(t *testing.T) {
		t.Parallel()
		md, _ := storeMode(t, koa.Options{Rolling: true}, "ROLLING=1")
		runRolling(t, md)
	})
}

// runStoreRenew checks that a Go read that renews a koa-session
// external-store session moves its "_expire", so that Node (which ends a
// session at its "_expire", whatever the store's expiry) still has it
// after the "_expire" of its last write.
func runStoreRenew(t *testing.T, md interoptest.Mode) {
	nodeURL, goURL := md.Start(t)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	before := expireOf(t, md.Body(t, c, nodeURL))
	time.Sleep(1200 * time.Millisecond)
	_, who, set := c.Req("GET", goURL+"/whoami")
	if who["user"] != "ann" || set["koa.sess"] == nil {
		t.Fatalf("a session past a quarter of its maxAge was not renewed: %v %v", who, set)
	}
	if after := expireOf(t, md.Body(t, c, nodeURL)); !after.After(before.Add(time.Second)) {
		t.Fatalf("renewed _expire %v, was %v", after, before)
	}
	time.Sleep(time.Until(before) + 300*time.Millisecond)
	c.WantUser(nodeURL, "ann")
	c.WantUser(goURL, "ann")
}

func TestInteropGenericSession(t *testing.T) {
	t.Parallel()
	for i, topo := range redisTopologies {
		t.Run(topo.name, func(t *testing.T) {
			t.Parallel()
			md, _ := genericMode(t, i, koa.GenericOptions{})
			interoptest.RunSharing(t, md)
		})
	}
	t.Run("Tampering", func(t *testing.T) {
		t.Parallel()
		md, _ := genericMode(t, 0, koa.GenericOptions{})
		interoptest.RunTampering(t, md, map[string]string{
			"unknown ID": "19lww8624vKCSp5-rKj_MVbXzikR3nJN",
		})
	})
	t.Run("Lifetime", func(t *testing.T) {
		t.Parallel()
		md, store := genericMode(t, 0, koa.GenericOptions{})
		runStoreLifetime(t, md, store, "cookie.maxAge")
	})
	t.Run("Rolling", func(t *testing.T) {
		t.Parallel()
		md, _ := genericMode(t, 0, koa.GenericOptions{Rolling: true}, "ROLLING=1")
		runRolling(t, md)
	})
}

// maxAgeOf returns a stored session's maxAge: "_maxAge" (koa-session) or
// cookie.maxAge (koa-generic-session), as JSON.
func maxAgeOf(t *testing.T, body map[string]json.RawMessage, field string) string {
	t.Helper()
	if field == "_maxAge" {
		return string(body["_maxAge"])
	}
	var ck map[string]json.RawMessage
	if err := json.Unmarshal(body["cookie"], &ck); err != nil {
		t.Fatalf("cookie object %s: %v", body["cookie"], err)
	}
	if v, ok := ck["maxAge"]; ok {
		return string(v)
	}
	return "null"
}

func near(t *testing.T, what string, got, want time.Time, tol time.Duration) {
	t.Helper()
	if d := got.Sub(want); d < -tol || d > tol {
		t.Fatalf("%s = %v, want %v ± %v (off by %v)", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), tol, d)
	}
}

// expireOf returns a koa-session body's "_expire".
func expireOf(t *testing.T, body map[string]json.RawMessage) time.Time {
	t.Helper()
	ms, err := strconv.ParseInt(string(body["_expire"]), 10, 64)
	if err != nil {
		t.Fatalf("_expire %s: %v", body["_expire"], err)
	}
	return time.UnixMilli(ms)
}

// runCookieLifetime checks that the Go side keeps the lifetime the Node
// side set for one cookie-mode session (ctx.session.maxAge, 'session'),
// and the Node side the one the Go side set.
func runCookieLifetime(t *testing.T) {
	md := cookieMode(koa.Options{})
	nodeURL, goURL := md.Start(t)

	t.Run("NodeMaxAgeKeptByGo", func(t *testing.T) {
		t.Parallel()
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		c.Post(nodeURL + "/maxage?ms=2000")
		if got := string(md.Body(t, c, nodeURL)["_maxAge"]); got != "2000" {
			t.Fatalf("node stored _maxAge %s", got)
		}
		// A Go read neither extends the session nor sends the cookie.
		_, who, set := c.Req("GET", goURL+"/whoami")
		if who["user"] != "ann" || who["maxAge"] != 2000.0 || len(set) != 0 {
			t.Fatalf("go read: %v, sent %v", who, set)
		}
		// A Go write saves it for its own 2 s, not the Go default hour.
		_, _, set = c.Req("POST", goURL+"/set?k=n&v=1")
		if ck := set["koa.sess"]; ck == nil || ck.MaxAge < 1 || ck.MaxAge > 2 {
			t.Fatalf("go write sent %v, want Max-Age 2", set)
		}
		body := md.Body(t, c, nodeURL)
		if string(body["_maxAge"]) != "2000" {
			t.Fatalf("_maxAge after a Go write: %s", body["_maxAge"])
		}
		near(t, "_expire after a Go write", expireOf(t, body), time.Now().Add(2*time.Second), time.Second)
		old := c.Cookies(nodeURL)
		time.Sleep(2600 * time.Millisecond)
		// Gone on both sides, also for a client that replays the cookie.
		for _, base := range []string{goURL, nodeURL} {
			if got := c.Whoami(base); got != nil {
				t.Fatalf("%s: user %v after the session's 2 s maxAge", base, got)
			}
			c.SetCookies(base, old)
			if got := c.Whoami(base); got != nil {
				t.Fatalf("%s: a replayed cookie is signed in after its 2 s maxAge", base)
			}
		}
	})

	t.Run("GoMaxAgeKeptByNode", func(t *testing.T) {
		t.Parallel()
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		_, _, set := c.Req("POST", goURL+"/maxage?d=240h")
		if ck := set["koa.sess"]; ck == nil || ck.MaxAge < 863990 {
			t.Fatalf("go sent %v, want a 10-day cookie", set)
		}
		if got := string(md.Body(t, c, nodeURL)["_maxAge"]); got != "864000000" {
			t.Fatalf("_maxAge after Go's SetIdleTimeout(240h) = %s", got)
		}
		c.Post(nodeURL + "/set?k=n&v=3")
		body := md.Body(t, c, nodeURL)
		if string(body["_maxAge"]) != "864000000" {
			t.Fatalf("_maxAge after a Node write = %s", body["_maxAge"])
		}
		near(t, "_expire after a Node write", expireOf(t, body), time.Now().Add(240*time.Hour), time.Minute)
		if got := c.Get(nodeURL + "/whoami")["maxAge"]; got != 864000000.0 {
			t.Fatalf("node's ctx.session.maxAge = %v", got)
		}
	})

	t.Run("BrowserSession", func(t *testing.T) {
		t.Parallel()
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		c.Post(nodeURL + "/maxage?ms=session")
		if body := md.Body(t, c, nodeURL); string(body["_session"]) != "true" || body["_expire"] != nil {
			t.Fatalf("node stored %v", body)
		}
		_, _, set := c.Req("POST", goURL+"/set?k=n&v=1")
		if ck := set["koa.sess"]; ck == nil || ck.MaxAge != 0 || !ck.Expires.IsZero() {
			t.Fatalf("go sent %v, want a browser-session cookie", set)
		}
		if body := md.Body(t, c, nodeURL); string(body["_session"]) != "true" || body["_expire"] != nil || string(body["n"]) != "1" {
			t.Fatalf("after a Go write: %v", body)
		}
		if got := c.Get(nodeURL + "/whoami"); got["maxAge"] != "session" || got["user"] != "ann" {
			t.Fatalf("node: %v", got)
		}
		// And the other way: Go's RememberMe(false).
		d := interoptest.NewClient(t)
		d.NodeLogin(nodeURL, "bob", "pw2")
		d.Post(goURL + "/maxage?d=session")
		if got := d.Get(nodeURL + "/whoami"); got["maxAge"] != "session" || got["user"] != "bob" {
			t.Fatalf("node after Go's RememberMe(false): %v", got)
		}
	})
}

// runRolling: with rolling on both sides, a Go read saves the session
// again with a fresh expiry and sends the cookie.
func runRolling(t *testing.T, md interoptest.Mode) {
	nodeURL, goURL := md.Start(t)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	before := md.Body(t, c, nodeURL)
	time.Sleep(50 * time.Millisecond)
	_, who, set := c.Req("GET", goURL+"/whoami")
	if who["user"] != "ann" || set[md.Cookie] == nil || set[md.Cookie].MaxAge < 3599 {
		t.Fatalf("a rolling Go read: %v, sent %v", who, set)
	}
	if _, ok := before["_expire"]; ok {
		if after := md.Body(t, c, nodeURL); !expireOf(t, after).After(expireOf(t, before)) {
			t.Fatalf("_expire did not move: %s then %s", before["_expire"], after["_expire"])
		}
	}
	c.WantUser(nodeURL, "ann")
}

// runRenew: with renew, a Go read of a session whose maxAge is partly
// used up saves it again; a fresh one is left alone.
func runRenew(t *testing.T) {
	md := cookieMode(koa.Options{Renew: true, MaxAge: 4 * time.Second}, "RENEW=1", "MAX_AGE=4000")
	nodeURL, goURL := md.Start(t)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	if _, _, set := c.Req("GET", goURL+"/whoami"); len(set) != 0 {
		t.Fatalf("a fresh session was renewed: %v", set)
	}
	before := expireOf(t, md.Body(t, c, nodeURL))
	time.Sleep(1200 * time.Millisecond)
	_, who, set := c.Req("GET", goURL+"/whoami")
	if who["user"] != "ann" || set["koa.sess"] == nil {
		t.Fatalf("a session past a quarter of its maxAge was not renewed: %v %v", who, set)
	}
	if after := expireOf(t, md.Body(t, c, nodeURL)); !after.After(before.Add(time.Second)) {
		t.Fatalf("renewed _expire %v, was %v", after, before)
	}
	c.WantUser(nodeURL, "ann")
}

// runStoreLifetime is runCookieLifetime for store-backed sessions, which
// also checks the store's expiry.
func runStoreLifetime(t *testing.T, md interoptest.Mode, store *redisstore.Store, field string) {
	nodeURL, goURL := md.Start(t)
	load := func(t *testing.T, c *interoptest.Client) sessionkit.Record {
		t.Helper()
		rec, err := store.Load(context.Background(), c.Cookies(nodeURL)[md.Cookie])
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	t.Run("NodeMaxAgeKeptByGo", func(t *testing.T) {
		t.Parallel()
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		c.Post(nodeURL + "/maxage?ms=2000")
		if got := maxAgeOf(t, md.Body(t, c, nodeURL), field); got != "2000" {
			t.Fatalf("node stored maxAge %s", got)
		}
		exp := load(t, c).Expiry
		_, who, set := c.Req("GET", goURL+"/whoami")
		if who["user"] != "ann" || who["maxAge"] != 2000.0 || len(set) != 0 {
			t.Fatalf("go read: %v, sent %v", who, set)
		}
		if got := load(t, c).Expiry; got.Sub(exp).Abs() > 200*time.Millisecond {
			t.Fatalf("a Go read moved the store's expiry from %v to %v", exp, got)
		}
		_, _, set = c.Req("POST", goURL+"/set?k=n&v=1")
		if ck := set[md.Cookie]; ck == nil || ck.MaxAge < 1 || ck.MaxAge > 2 {
			t.Fatalf("go write sent %v, want Max-Age 2", set)
		}
		near(t, "store expiry after a Go write", load(t, c).Expiry, time.Now().Add(2*time.Second), time.Second)
		if got := maxAgeOf(t, md.Body(t, c, nodeURL), field); got != "2000" {
			t.Fatalf("maxAge after a Go write: %s", got)
		}
		old := c.Cookies(nodeURL)
		time.Sleep(2600 * time.Millisecond)
		for _, base := range []string{goURL, nodeURL} {
			c.SetCookies(base, old)
			if got := c.Whoami(base); got != nil {
				t.Fatalf("%s: a replayed cookie is signed in after its 2 s maxAge", base)
			}
		}
	})

	t.Run("GoMaxAgeKeptByNode", func(t *testing.T) {
		t.Parallel()
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		c.Post(goURL + "/maxage?d=240h")
		if got := maxAgeOf(t, md.Body(t, c, nodeURL), field); got != "864000000" {
			t.Fatalf("maxAge after Go's SetIdleTimeout(240h) = %s", got)
		}
		near(t, "store expiry", load(t, c).Expiry, time.Now().Add(240*time.Hour), time.Minute)
		c.Post(nodeURL + "/set?k=n&v=3")
		if got := maxAgeOf(t, md.Body(t, c, nodeURL), field); got != "864000000" {
			t.Fatalf("maxAge after a Node write = %s", got)
		}
		near(t, "store expiry after a Node write", load(t, c).Expiry, time.Now().Add(240*time.Hour), time.Minute)
		if got := c.Get(nodeURL + "/whoami")["maxAge"]; got != 864000000.0 {
			t.Fatalf("node's maxAge = %v", got)
		}
	})

	if field == "cookie.maxAge" {
		t.Run("BrowserSession", func(t *testing.T) {
			t.Parallel()
			c := interoptest.NewClient(t)
			c.NodeLogin(nodeURL, "ann", "pw1")
			c.Post(nodeURL + "/maxage?ms=null")
			// The browser-session cookie stays one (the Go side need not
			// send it again: its expiry does not travel).
			_, _, set := c.Req("POST", goURL+"/set?k=n&v=1")
			if ck := set[md.Cookie]; ck != nil && (ck.MaxAge != 0 || !ck.Expires.IsZero()) {
				t.Fatalf("go sent %v, want no cookie or a browser-session cookie", set)
			}
			if got := maxAgeOf(t, md.Body(t, c, nodeURL), field); got != "null" {
				t.Fatalf("maxAge after a Go write = %s", got)
			}
			// Kept for the TTL (a day), not Go's one-hour default.
			near(t, "store expiry", load(t, c).Expiry, time.Now().Add(koa.DefaultMaxAge), time.Minute)
			c.WantUser(nodeURL, "ann")
		})
	}
}
