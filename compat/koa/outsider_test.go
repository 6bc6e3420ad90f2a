package koa_test

// Outside-in tests of docs/migrating-from-koa.md and the package docs of
// compat/koa and compat/keygrip: the Koa app of testdata/outsider is set
// up as the guide's section 2 shows (koa-session in cookie mode, options
// as written there, koa-passport), beside the Go side configured as the
// guide says, with one browser.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/compat/keygrip"
	"github.com/sessionkit/sessionkit/compat/koa"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/cookiestore"
	"github.com/sessionkit/sessionkit/store/memstore"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

const outsiderScript = "testdata/outsider/server.js"

// startOutsiderNode runs the guide's Koa app with app.keys = keys (a
// Keygrip of alg when alg is set).
func startOutsiderNode(t *testing.T, keys, alg string) string {
	env := []string{"KEYS=" + keys}
	if alg != "" {
		env = append(env, "ALG="+alg)
	}
	return testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, outsiderScript, env...)
}

// TestOutsiderKoaDocCookie: the guide's example cookie is what Keygrip
// signs with "keyboard cat", on both sides, and its value is the base64
// of the JSON shown.
func TestOutsiderKoaDocCookie(t *testing.T) {
	const (
		value = "eyJwYXNzcG9ydCI6eyJ1c2VyIjoxfSwiX2V4cGlyZSI6MTc5NjE0NDc3ODU1NCwiX21heEFnZSI6MzYwMDAwMH0="
		sig   = "mbrnvMgx5IICqXU4_rfnqlUbzZ0"
		body  = `{"passport":{"user":1},"_expire":1796144778554,"_maxAge":3600000}`
	)
	k, err := keygrip.New("keyboard cat")
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Sign("koa.sess=" + value); got != sig {
		t.Errorf("Go's Keygrip signs the guide's cookie %q, the guide shows %q", got, sig)
	}
	if ok, stale := k.Verify("koa.sess="+value, sig); !ok || stale {
		t.Errorf("Verify(guide's cookie) = %v, %v; want true, false", ok, stale)
	}
	if b, err := base64.StdEncoding.DecodeString(value); err != nil || string(b) != body {
		t.Errorf("the guide's cookie decodes to %s (%v), the guide shows %s", b, err, body)
	}
	nodeURL := startOutsiderNode(t, `["keyboard cat"]`, "")
	c := interoptest.NewClient(t)
	if got := c.Get(nodeURL + "/sign?data=" + url.QueryEscape("koa.sess="+value))["sig"]; got != sig {
		t.Errorf("Node's Keygrip signs the guide's cookie %v, the guide shows %q", got, sig)
	}
}

// TestOutsiderKoaSHA256Keys: "app.keys = new Keygrip(keys, 'sha256')" is
// keygrip.NewHash(sha256.New, keys...) as Options.Signer: a session
// shared both ways, which a SHA-1 Go side refuses.
func TestOutsiderKoaSHA256Keys(t *testing.T) {
	nodeURL := startOutsiderNode(t, interoptest.KeysJSON, "sha256")
	signer, err := keygrip.NewHash(sha256.New, keys...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := koa.NewCookieMode(koa.Options{Signer: signer, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	goURL := interoptest.GoApp(t, quiet(m), usePassport(false)).URL
	sha1Side, err := koa.NewCookieMode(koa.Options{Keys: keys, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sha1URL := interoptest.GoApp(t, quiet(sha1Side), usePassport(false)).URL

	c := interoptest.NewClient(t)
	c.Post(nodeURL + "/login?id=1")
	c.Post(nodeURL + "/set?k=views&v=1")
	c.WantUser(goURL, "ann")
	if v := c.Get(goURL + "/get?k=views")["value"]; v != 1.0 {
		t.Errorf("Go reads views = %v, Node set 1", v)
	}
	c.Post(goURL + "/set?k=views&v=2")
	if v := c.Get(nodeURL + "/get?k=views")["value"]; v != 2.0 {
		t.Errorf("Node reads views = %v, Go set 2", v)
	}
	c.WantUser(nodeURL, "ann")
	cs := c.Cookies(goURL)
	if want := signer.Sign("koa.sess=" + cs["koa.sess"]); cs["koa.sess.sig"] != want {
		t.Errorf("Go signed %q, want the SHA-256 signature %q", cs["koa.sess.sig"], want)
	}
	if got := c.Get(sha1URL + "/whoami"); got["user"] != nil || got["stored"] != false {
		t.Errorf("a SHA-1 Go side accepted a SHA-256 cookie: %v", got)
	}
}

// TestOutsiderKoaRotationFirstDeploy: the guide's first rotation deploy,
// the new key added last on both sides: both verify it, neither signs
// with it.
func TestOutsiderKoaRotationFirstDeploy(t *testing.T) {
	const oldKey, newKey = "the old key", "the new key"
	nodeURL := startOutsiderNode(t, `["`+oldKey+`","`+newKey+`"]`, "")
	m, err := koa.NewCookieMode(koa.Options{Keys: []string{oldKey, newKey}})
	if err != nil {
		t.Fatal(err)
	}
	goURL := interoptest.GoApp(t, quiet(m), usePassport(false)).URL
	older, _ := keygrip.New(oldKey)
	newer, _ := keygrip.New(newKey)

	c := interoptest.NewClient(t)
	c.Post(nodeURL + "/login?id=1")
	if cs := c.Cookies(nodeURL); cs["koa.sess.sig"] != older.Sign("koa.sess="+cs["koa.sess"]) {
		t.Fatalf("Node did not sign with its first key: %v", cs)
	}
	c.Post(goURL + "/set?k=views&v=1")
	cs := c.Cookies(goURL)
	if cs["koa.sess.sig"] != older.Sign("koa.sess="+cs["koa.sess"]) {
		t.Errorf("Go signed %q, want the first (old) key's signature", cs["koa.sess.sig"])
	}
	// A cookie signed with the key added last verifies on both sides.
	for _, base := range []string{goURL, nodeURL} {
		c.SetCookies(base, map[string]string{"koa.sess": cs["koa.sess"], "koa.sess.sig": newer.Sign("koa.sess=" + cs["koa.sess"])})
		c.WantUser(base, "ann")
	}
}

// TestOutsiderKoaCookieAttributes: the guide's cookie attributes. The Go
// default is SameSite=Lax and HttpOnly, Secure on HTTPS; Koa's cookies
// have no SameSite, and m.Cookie.SameSite = http.SameSiteDefaultMode
// gives the Go side's none either.
func TestOutsiderKoaCookieAttributes(t *testing.T) {
	nodeURL := startOutsiderNode(t, interoptest.KeysJSON, "")
	c := interoptest.NewClient(t)
	_, _, nodeSet := c.Req("POST", nodeURL+"/set?k=views&v=1")
	if ck := nodeSet["koa.sess"]; ck == nil || strings.Contains(strings.ToLower(ck.Raw), "samesite") || !ck.HttpOnly {
		t.Fatalf("Node's koa.sess cookie %v: the guide says HttpOnly without SameSite", ck)
	}
	set := func(t *testing.T, configure func(*sessionkit.Manager), tls bool) *http.Cookie {
		t.Helper()
		m, err := koa.NewCookieMode(koa.Options{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		if configure != nil {
			configure(m)
		}
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sessionkit.From(r.Context()).Set("views", 1)
		}))
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(h)
		} else {
			srv = httptest.NewServer(h)
		}
		defer srv.Close()
		resp, err := srv.Client().Post(srv.URL, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			if ck.Name == "koa.sess" {
				return ck
			}
		}
		t.Fatalf("no koa.sess cookie: %v", resp.Header.Values("Set-Cookie"))
		return nil
	}
	if ck := set(t, nil, false); ck.SameSite != http.SameSiteLaxMode || !ck.HttpOnly || ck.Secure {
		t.Errorf("Go default over HTTP: %v; want SameSite=Lax, HttpOnly, not Secure", ck)
	}
	if ck := set(t, nil, true); !ck.Secure {
		t.Errorf("Go default over HTTPS: %v; want Secure", ck)
	}
	ck := set(t, func(m *sessionkit.Manager) { m.Cookie.SameSite = http.SameSiteDefaultMode }, false)
	if strings.Contains(strings.ToLower(ck.Raw), "samesite") || !ck.HttpOnly {
		t.Errorf("with SameSiteDefaultMode: %q; want no SameSite, as Koa's", ck.Raw)
	}
}

// TestOutsiderKoaOwnKeys: guide section 6. koa-session's own keys cannot
// hold values set from Go; a value whose key starts with "_" or is
// "isNew" is kept by the Go side, and dropped by the next Node save.
func TestOutsiderKoaOwnKeys(t *testing.T) {
	nodeURL := startOutsiderNode(t, interoptest.KeysJSON, "")
	m, err := koa.NewCookieMode(koa.Options{Keys: keys, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	goURL := interoptest.GoApp(t, quiet(m), usePassport(false)).URL
	c := interoptest.NewClient(t)
	c.Post(nodeURL + "/set?k=views&v=1")
	for _, k := range []string{"_expire", "_maxAge", "_session"} {
		if code, _, _ := c.Req("POST", goURL+"/set?k="+k+"&v=5"); code == http.StatusOK {
			t.Errorf("Go set %s: want it refused", k)
		}
	}
	for _, k := range []string{"_mine", "isNew"} {
		c.Post(goURL + "/set?k=" + k + "&v=7")
		if v := c.Get(goURL + "/get?k=" + k)["value"]; v != 7.0 {
			t.Errorf("Go reads its %s = %v, want 7", k, v)
		}
	}
	c.Post(nodeURL + "/set?k=views&v=2")
	for _, k := range []string{"_mine", "isNew"} {
		if v := c.Get(goURL + "/get?k=" + k)["value"]; v != nil {
			t.Errorf("after a Node save, Go reads %s = %v, want it dropped", k, v)
		}
	}
	if v := c.Get(goURL + "/get?k=views")["value"]; v != 2.0 {
		t.Errorf("Go reads views = %v, want 2", v)
	}
}

// startGeneric runs the guide's section 4 on both sides: koa-generic-session
// with koa-redis (cookie: {maxAge: 3600000}) and the Go side's redisstore,
// ConfigureGeneric and koa-passport's Auth, with handlers that show the
// session's deadline and its user's sessions.
func startGeneric(t *testing.T, o koa.GenericOptions) (nodeURL, goURL string, store *redisstore.Store) {
	redisURL := testenv.Getenv(t, testenv.RedisURLEnv)
	prefix := "koa:sess:" + uniqueName("out") + ":"
	store = redisFor(t, redisURL, redisstore.Options{Prefix: prefix}, "")
	nodeURL = testenv.StartNodeApp(t, testenv.KoaNodeModulesEnv, outsiderScript,
		"KEYS="+interoptest.KeysJSON, "MODE=generic", "REDIS="+redisURL, "PREFIX="+prefix)
	m := quiet(sessionkit.New(store))
	o.Keys = keys
	if err := koa.ConfigureGeneric(m, o); err != nil {
		t.Fatal(err)
	}
	users := auth.New(m, func(u interoptest.User) string { return strconv.Itoa(u.ID) },
		func(_ context.Context, key string) (interoptest.User, error) {
			id, _ := strconv.Atoi(key)
			return interoptest.Users[id], nil
		})
	koa.UsePassport(users)
	users.ClearOnLogin = true
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		err := sessionkit.From(r.Context()).Set(r.URL.Query().Get("k"), json.RawMessage(r.URL.Query().Get("v")))
		reply(w, map[string]any{"ok": true}, err)
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, err := sessionkit.Get[json.RawMessage](sessionkit.From(r.Context()), r.URL.Query().Get("k"))
		if v == nil {
			v = json.RawMessage("null")
		}
		reply(w, map[string]any{"value": v}, err)
	})
	mux.HandleFunc("GET /deadline", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		var ms any
		if d := s.Deadline(); !d.IsZero() {
			ms = d.UnixMilli()
		}
		reply(w, map[string]any{"deadline": ms, "idle": s.IdleTimeout().Milliseconds()}, s.Err())
	})
	mux.HandleFunc("POST /deadline", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.ParseInt(r.URL.Query().Get("ms"), 10, 64)
		reply(w, map[string]any{"ok": true}, sessionkit.From(r.Context()).SetDeadline(time.UnixMilli(ms)))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"ok": true}, users.Login(w, r, interoptest.Users[1]))
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		_, err := users.Sessions(r)
		_, errAll := users.RevokeAll(r.Context(), "1")
		reply(w, map[string]any{
			"sessions":  errors.Is(err, sessionkit.ErrNotSupported),
			"revokeAll": errors.Is(errAll, sessionkit.ErrNotSupported),
		}, nil)
	})
	srv := httptest.NewServer(users.Handler(mux))
	t.Cleanup(srv.Close)
	return nodeURL, srv.URL, store
}

// TestOutsiderKoaGenericExpires: "ctx.session.cookie.expires = date
// (koa-generic-session) | the session's deadline (Session.SetDeadline
// from Go)", both ways.
func TestOutsiderKoaGenericExpires(t *testing.T) {
	nodeURL, goURL, _ := startGeneric(t, koa.GenericOptions{MaxAge: time.Hour})
	c := interoptest.NewClient(t)
	c.Post(nodeURL + "/set?k=views&v=1")
	at := time.Now().Add(30 * time.Minute).Truncate(time.Millisecond)
	c.Post(nodeURL + "/expires?ms=" + strconv.FormatInt(at.UnixMilli(), 10))
	got := c.Get(goURL + "/deadline")
	if got["deadline"] != float64(at.UnixMilli()) || got["idle"] != float64(time.Hour.Milliseconds()) {
		t.Errorf("Go sees deadline %v, idle %v; Node set expires %d with maxAge 3600000", got["deadline"], got["idle"], at.UnixMilli())
	}
	at2 := time.Now().Add(20 * time.Minute).Truncate(time.Millisecond)
	c.Post(goURL + "/deadline?ms=" + strconv.FormatInt(at2.UnixMilli(), 10))
	if got := c.Get(nodeURL + "/cookie"); got["expires"] != float64(at2.UnixMilli()) {
		t.Errorf("Node sees cookie.expires %v (%v), Go set the deadline %d", got["expires"], got, at2.UnixMilli())
	}
	if v := c.Get(nodeURL + "/get?k=views")["value"]; v != 1.0 {
		t.Errorf("Node reads views = %v after Go's SetDeadline, want 1", v)
	}
}

// TestOutsiderKoaGenericNoUserIndex: guide section 7, "No per-user index
// in the store modes: 'your sessions' and 'sign out everywhere' report
// sessionkit.ErrNotSupported".
func TestOutsiderKoaGenericNoUserIndex(t *testing.T) {
	_, goURL, _ := startGeneric(t, koa.GenericOptions{MaxAge: time.Hour})
	c := interoptest.NewClient(t)
	c.Post(goURL + "/login")
	if got := c.Get(goURL + "/sessions"); got["sessions"] != true || got["revokeAll"] != true {
		t.Errorf("Sessions / RevokeAll report ErrNotSupported: %v; want both", got)
	}
}

// TestOutsiderKoaSettings: the timing and keys the guide and package doc
// say each mode sets up: no absolute lifetime, koa-session's and
// koa-generic-session's rolling options as Manager.Rolling ("Rolling wins
// over Renew, as in koa-session"), raw store keys.
func TestOutsiderKoaSettings(t *testing.T) {
	mem := func() sessionkit.Store {
		s := memstore.New(memstore.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	}
	cookie := func(o koa.Options) *sessionkit.Manager {
		o.Keys = keys
		m, err := koa.NewCookieMode(o)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	store := func(o koa.Options) *sessionkit.Manager {
		o.Keys = keys
		m := sessionkit.New(koa.NewExternalStore(mem()))
		if err := koa.ConfigureStore(m, o); err != nil {
			t.Fatal(err)
		}
		return m
	}
	generic := func(o koa.GenericOptions) *sessionkit.Manager {
		o.Keys = keys
		m := sessionkit.New(mem())
		if err := koa.ConfigureGeneric(m, o); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		m       *sessionkit.Manager
		rolling sessionkit.Rolling
		raw     bool
	}{
		{"cookie", cookie(koa.Options{}), sessionkit.RollingOnWrite, false},
		{"cookie rolling", cookie(koa.Options{Rolling: true}), sessionkit.RollingAlways, false},
		{"cookie renew", cookie(koa.Options{Renew: true}), sessionkit.RollingThrottled, false},
		{"cookie rolling and renew", cookie(koa.Options{Rolling: true, Renew: true}), sessionkit.RollingAlways, false},
		{"store", store(koa.Options{}), sessionkit.RollingOnWrite, true},
		{"store rolling and renew", store(koa.Options{Rolling: true, Renew: true}), sessionkit.RollingAlways, true},
		{"generic", generic(koa.GenericOptions{}), sessionkit.RollingOnWrite, true},
		{"generic rolling", generic(koa.GenericOptions{Rolling: true}), sessionkit.RollingAlways, true},
	} {
		if tc.m.Lifetime != 0 || tc.m.Rolling != tc.rolling || (tc.raw && !tc.m.RawKeys) {
			t.Errorf("%s: Lifetime %v, Rolling %v, RawKeys %v; want 0, %v, %v", tc.name, tc.m.Lifetime, tc.m.Rolling, tc.m.RawKeys, tc.rolling, tc.raw)
		}
	}
}

// TestOutsiderKoaKeys: the guide's external keys ("sess:" and a random
// version 4 UUID, the store key itself), koa-generic-session's IDs (24
// random bytes in base64url), and a custom genid set as m.IDs after
// ConfigureStore.
func TestOutsiderKoaKeys(t *testing.T) {
	newSession := func(t *testing.T, m *sessionkit.Manager, store *memstore.Store, cookie string) string {
		t.Helper()
		srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sessionkit.From(r.Context()).Set("views", 1)
		})))
		defer srv.Close()
		resp, err := http.Post(srv.URL, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			if ck.Name == cookie {
				if _, err := store.Load(context.Background(), ck.Value); err != nil {
					t.Errorf("the cookie's value %q is not the store key: %v", ck.Value, err)
				}
				return ck.Value
			}
		}
		t.Fatalf("no %s cookie: %v", cookie, resp.Header.Values("Set-Cookie"))
		return ""
	}
	uuid := regexp.MustCompile(`^sess:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	t.Run("store", func(t *testing.T) {
		store := memstore.New(memstore.Options{})
		defer store.Close()
		m := sessionkit.New(koa.NewExternalStore(store))
		if err := koa.ConfigureStore(m, koa.Options{Keys: keys, Prefix: "sess:"}); err != nil {
			t.Fatal(err)
		}
		if id := newSession(t, m, store, "koa.sess"); !uuid.MatchString(id) {
			t.Errorf("external key %q, want sess: and a v4 UUID", id)
		}
	})
	t.Run("genid", func(t *testing.T) {
		store := memstore.New(memstore.Options{})
		defer store.Close()
		m := sessionkit.New(koa.NewExternalStore(store))
		if err := koa.ConfigureStore(m, koa.Options{Keys: keys, Prefix: "sess:"}); err != nil {
			t.Fatal(err)
		}
		m.IDs = express.IDs{}
		if id := newSession(t, m, store, "koa.sess"); len(id) != 32 || strings.HasPrefix(id, "sess:") {
			t.Errorf("external key %q, want the custom scheme's", id)
		}
	})
	t.Run("generic", func(t *testing.T) {
		store := memstore.New(memstore.Options{})
		defer store.Close()
		m := sessionkit.New(store)
		if err := koa.ConfigureGeneric(m, koa.GenericOptions{Keys: keys}); err != nil {
			t.Fatal(err)
		}
		id := newSession(t, m, store, "koa.sid")
		if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 24 {
			t.Errorf("koa.sid %q, want 24 bytes in base64url (%v)", id, err)
		}
	})
}

// TestOutsiderKoaCookieLogout: guide section 2, "logging out (on either
// side) signs out that browser — the Go side's a.Logout clears the cookie
// (with KeepDataOnLogout, rewrites it without the user), koa-passport's
// ctx.logout() rewrites it without the user and keeps the session's other
// values — but a copy taken before is still a signed-in session, on the
// Node side and the Go side alike".
func TestOutsiderKoaCookieLogout(t *testing.T) {
	nodeURL := startOutsiderNode(t, interoptest.KeysJSON, "")
	m, err := koa.NewCookieMode(koa.Options{Keys: keys, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	goURL := interoptest.GoApp(t, quiet(m), usePassport(false)).URL
	keep, err := koa.NewCookieMode(koa.Options{Keys: keys, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	keepURL := interoptest.GoApp(t, quiet(keep), func(a *auth.Auth[interoptest.User]) {
		koa.UsePassport(a)
		a.KeepDataOnLogout = true
	}).URL
	for _, side := range []struct {
		name, url string
		kept      bool // the cookie is rewritten with views, not cleared
	}{{"go", goURL, false}, {"go KeepDataOnLogout", keepURL, true}, {"node", nodeURL, true}} {
		t.Run(side.name, func(t *testing.T) {
			c := interoptest.NewClient(t)
			c.Post(nodeURL + "/login?id=1")
			c.Post(nodeURL + "/set?k=views&v=1")
			copied := c.Cookies(nodeURL)
			c.Post(side.url + "/logout")
			held := c.Cookies(nodeURL)
			if !side.kept && len(held) != 0 {
				t.Errorf("after the logout the browser holds %v; want the cookie cleared", held)
			}
			if side.kept {
				if held["koa.sess"] == "" || held["koa.sess"] == copied["koa.sess"] {
					t.Errorf("after the logout the browser holds %v; want the cookie rewritten", held)
				}
				if v := c.Get(goURL + "/get?k=views")["value"]; v != 1.0 {
					t.Errorf("after the logout views = %v, want the session's other values kept", v)
				}
			}
			c.WantUser(goURL, nil)
			c.WantUser(nodeURL, nil)
			c.SetCookies(nodeURL, copied)
			c.WantUser(goURL, "ann")
			c.WantUser(nodeURL, "ann")
		})
	}
}

// TestOutsiderKoaExternalStoreLayouts: guide section 3, "A store other
// than koa-redis works when it keeps the same shape: any layout this
// project has (connect-redis, connect-pg-simple, connect-mongo) with the
// session JSON under the external key" — koa-session's JSON under the
// "sess:" key, renewed by Rolling through NewExternalStore, and a
// maxAge 'session' session ("the Go side supports it with any store").
func TestOutsiderKoaExternalStoreLayouts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) sessionkit.Store
	}{
		{"connect-pg-simple", func(t *testing.T) sessionkit.Store {
			s, err := pgstore.Open(ctx, testenv.Getenv(t, testenv.PostgresURLEnv), pgstore.Options{
				Layout: pgstore.LayoutConnectPgSimple, Table: uniqueName("koa_session_"), UserKeyOf: express.UserKey, CleanupInterval: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"connect-mongo", func(t *testing.T) sessionkit.Store {
			s, err := mongostore.Open(ctx, testenv.Getenv(t, testenv.MongoURLEnv), mongostore.Options{
				Layout: mongostore.LayoutConnectMongo, Collection: uniqueName("koa_sessions_"), UserKeyOf: express.UserKey, Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := tc.store(t)
			for _, browser := range []bool{false, true} {
				m := quiet(sessionkit.New(koa.NewExternalStore(store)))
				if err := koa.ConfigureStore(m, koa.Options{Keys: keys, Prefix: "sess:", Rolling: true, BrowserSession: browser}); err != nil {
					t.Fatal(err)
				}
				goURL := interoptest.GoApp(t, m, usePassport(false)).URL
				c := interoptest.NewClient(t)
				_, _, set := c.Req("POST", goURL+"/set?k=views&v=1")
				if ck := set["koa.sess"]; ck == nil || !strings.HasPrefix(ck.Value, "sess:") || (ck.MaxAge == 0) != browser {
					t.Fatalf("browser=%v: cookie %v; want a sess: key, persistent unless browser", browser, ck)
				}
				c.Post(goURL + "/login?id=1")
				c.WantUser(goURL, "ann")
				if v := c.Get(goURL + "/get?k=views")["value"]; v != 1.0 {
					t.Errorf("browser=%v: views = %v, want 1", browser, v)
				}
				rec, err := store.Load(ctx, c.Cookies(goURL)["koa.sess"])
				if err != nil {
					t.Fatal(err)
				}
				var body map[string]json.RawMessage
				if err := json.Unmarshal(rec.Data, &body); err != nil {
					t.Fatalf("stored %q: %v", rec.Data, err)
				}
				if browser {
					if string(body["_session"]) != "true" || body["_expire"] != nil {
						t.Errorf("stored %s; want koa-session's _session and no _expire", rec.Data)
					}
				} else if body["_expire"] == nil || string(body["passport"]) != `{"user":1}` {
					t.Errorf("stored %s; want koa-session's JSON with passport.user and _expire", rec.Data)
				}
			}
		})
	}
}

// TestOutsiderKoaImporter: guide section 2's "way forward", set up as the
// guide shows: a koa-session cookie made by the Koa app is taken over on
// the next Go request — user, values and maxAge kept, the new cookie set
// and koa.sess and koa.sess.sig expired — while the guide's own example
// cookie (its _expire has passed), a cookie signed by another key and a
// tampered one are never imported.
func TestOutsiderKoaImporter(t *testing.T) {
	nodeURL := startOutsiderNode(t, `["keyboard cat"]`, "")
	key32 := []byte("0123456789abcdef0123456789abcdef")
	sealed, err := cookiestore.New("session", key32)
	if err != nil {
		t.Fatal(err)
	}
	m := sessionkit.NewClientSide(sealed)
	m.Lifetime = 30 * 24 * time.Hour
	imp, err := koa.NewCookieImporter(koa.Options{Keys: []string{"keyboard cat"}, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m.Import = imp
	goURL := interoptest.GoApp(t, quiet(m), func(a *auth.Auth[interoptest.User]) { a.Field = express.PassportField{} }).URL

	c := interoptest.NewClient(t)
	c.Post(nodeURL + "/login?id=1")
	c.Post(nodeURL + "/set?k=views&v=3")
	koaCookies := c.Cookies(nodeURL)
	if !strings.HasPrefix(koaCookies["koa.sess"], "e") {
		t.Fatalf("koa.sess %q is not base64 JSON", koaCookies["koa.sess"])
	}
	_, who, set := c.Req("GET", goURL+"/whoami")
	if who["user"] != "ann" || who["maxAge"] != float64((7*24*time.Hour).Milliseconds()) {
		t.Errorf("imported session: %v; want ann with the koa maxAge", who)
	}
	if set["session"] == nil || set["session"].MaxAge <= 0 {
		t.Errorf("import response cookies %v; want the new session cookie", set)
	}
	if got := c.Cookies(goURL); got["koa.sess"] != "" || got["koa.sess.sig"] != "" || got["session"] == "" {
		t.Errorf("browser after the import: %v; want only the new cookie", got)
	}
	if v := c.Get(goURL + "/get?k=views")["value"]; v != 3.0 {
		t.Errorf("imported views = %v, want 3", v)
	}

	other, _ := keygrip.New("another key")
	const docValue = "eyJwYXNzcG9ydCI6eyJ1c2VyIjoxfSwiX2V4cGlyZSI6MTc5NjE0NDc3ODU1NCwiX21heEFnZSI6MzYwMDAwMH0="
	for name, cookies := range map[string]map[string]string{
		"the guide's expired example": {"koa.sess": docValue, "koa.sess.sig": "mbrnvMgx5IICqXU4_rfnqlUbzZ0"},
		"signed by another key":       {"koa.sess": koaCookies["koa.sess"], "koa.sess.sig": other.Sign("koa.sess=" + koaCookies["koa.sess"])},
		"tampered":                    {"koa.sess": "f" + koaCookies["koa.sess"][1:], "koa.sess.sig": koaCookies["koa.sess.sig"]},
	} {
		if name == "the guide's expired example" && time.Now().Before(time.UnixMilli(1796144778554)) {
			continue // not expired yet
		}
		fresh := interoptest.NewClient(t)
		fresh.SetCookies(goURL, cookies)
		_, who, set := fresh.Req("GET", goURL+"/whoami")
		if who["user"] != nil || set["session"] != nil {
			t.Errorf("%s: imported as %v, cookies %v", name, who, set)
		}
	}
}

// TestOutsiderKoaGenericBrowserSession: the guide's "koa-generic-session
// cookie: {maxAge: null} | koa.GenericOptions.BrowserSession: true, TTL:
// how long the store keeps it": a session the Go side creates has a
// browser-session cookie, no maxAge in its cookie object (GenericCodec:
// "a null or missing maxAge is a browser-session cookie"), is kept for the
// TTL, and is read by the Node side.
func TestOutsiderKoaGenericBrowserSession(t *testing.T) {
	nodeURL, goURL, store := startGeneric(t, koa.GenericOptions{BrowserSession: true, TTL: 2 * time.Hour})
	c := interoptest.NewClient(t)
	_, _, set := c.Req("POST", goURL+"/set?k=views&v=5")
	ck := set["koa.sid"]
	if ck == nil || ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Fatalf("Go's cookie %v; want a browser-session cookie", ck)
	}
	rec, err := store.Load(context.Background(), ck.Value)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "store expiry", rec.Expiry, time.Now().Add(2*time.Hour), time.Minute)
	var body struct {
		Cookie map[string]json.RawMessage `json:"cookie"`
	}
	if err := json.Unmarshal(rec.Data, &body); err != nil || body.Cookie == nil || (body.Cookie["maxAge"] != nil && string(body.Cookie["maxAge"]) != "null") {
		t.Errorf("stored %s (%v); want a cookie object without a maxAge", rec.Data, err)
	}
	if v := c.Get(nodeURL + "/get?k=views")["value"]; v != 5.0 {
		t.Errorf("Node reads views = %v, want 5", v)
	}
	if got := c.Get(nodeURL + "/cookie"); got["maxAge"] != nil {
		t.Errorf("Node sees cookie %v; want maxAge null", got)
	}
}

// TestOutsiderKoaBrowserSessionForever: "Not revocable ... a copy taken
// before is still a signed-in session ... forever for maxAge: 'session',
// while its key is in app.keys": a signed maxAge 'session' cookie
// (_session, no _expire) is accepted by both sides whenever it was made.
func TestOutsiderKoaBrowserSessionForever(t *testing.T) {
	nodeURL := startOutsiderNode(t, interoptest.KeysJSON, "")
	m, err := koa.NewCookieMode(koa.Options{Keys: keys, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	goURL := interoptest.GoApp(t, quiet(m), usePassport(false)).URL
	value := base64.StdEncoding.EncodeToString([]byte(`{"passport":{"user":1},"views":9,"_session":true}`))
	cur, _ := keygrip.New(interoptest.NewKey)
	for _, base := range []string{goURL, nodeURL} {
		c := interoptest.NewClient(t)
		c.SetCookies(base, map[string]string{"koa.sess": value, "koa.sess.sig": cur.Sign("koa.sess=" + value)})
		c.WantUser(base, "ann")
		if v := c.Get(base + "/get?k=views")["value"]; v != 9.0 {
			t.Errorf("%s reads views = %v, want 9", base, v)
		}
	}
}

// TestOutsiderKoaKeysRequired: Options.Keys and GenericOptions.Keys are
// "required unless Signer is set": every constructor refuses neither, and
// takes a Signer alone.
func TestOutsiderKoaKeysRequired(t *testing.T) {
	signer, err := keygrip.New("k")
	if err != nil {
		t.Fatal(err)
	}
	store := func(o koa.Options) error {
		s := memstore.New(memstore.Options{})
		defer s.Close()
		return koa.ConfigureStore(sessionkit.New(koa.NewExternalStore(s)), o)
	}
	generic := func(o koa.GenericOptions) error {
		s := memstore.New(memstore.Options{})
		defer s.Close()
		return koa.ConfigureGeneric(sessionkit.New(s), o)
	}
	cookie := func(o koa.Options) error { _, err := koa.NewCookieMode(o); return err }
	importer := func(o koa.Options) error { _, err := koa.NewCookieImporter(o); return err }
	for name, f := range map[string]func(koa.Options) error{"NewCookieMode": cookie, "NewCookieImporter": importer, "ConfigureStore": store} {
		if err := f(koa.Options{}); err == nil {
			t.Errorf("%s without Keys or Signer: no error", name)
		}
		if err := f(koa.Options{Signer: signer}); err != nil {
			t.Errorf("%s with a Signer alone: %v", name, err)
		}
	}
	if err := generic(koa.GenericOptions{}); err == nil {
		t.Error("ConfigureGeneric without Keys or Signer: no error")
	}
	if err := generic(koa.GenericOptions{Signer: signer}); err != nil {
		t.Errorf("ConfigureGeneric with a Signer alone: %v", err)
	}
}
