package express_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
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
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mongostore"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// Outside-in tests of docs/migrating-from-express.md and the package
// documentation: a browser (one cookie jar) talks to the real
// express-session / connect-redis / Passport app in testdata/nodeapp and
// to a Go app written from the docs, both on one Redis store.

// outsiderRedis opens a connect-redis layout store under a fresh prefix,
// as the guide's table says: redisstore.Options{Layout:
// redisstore.LayoutConnectRedis, Prefix: "sess:", UserKeyOf: express.UserKey}.
func outsiderRedis(t *testing.T) (store *redisstore.Store, redisURL, prefix string) {
	t.Helper()
	redisURL = testenv.Getenv(t, testenv.RedisURLEnv)
	nodeModulesOrSkip(t)
	prefix = uniqueName("sess_") + ":"
	s, err := redisstore.NewFromURL(context.Background(), redisURL, redisstore.Options{
		Layout: redisstore.LayoutConnectRedis, Prefix: prefix, UserKeyOf: express.UserKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for e, err := range s.All(ctx) {
			if err == nil {
				s.Delete(ctx, e.Key)
			}
		}
		s.Close()
	})
	return s, redisURL, prefix
}

// outsiderGo is the Go app of the guide's worked example: express.Configure
// with o, then express.UsePassport (or use, when given), then mods on the
// Manager. It serves interoptest.GoApp's routes.
func outsiderGo(t *testing.T, store sessionkit.Store, o express.Options, use func(*auth.Auth[interoptest.User]), mods ...func(*sessionkit.Manager)) string {
	t.Helper()
	m := sessionkit.New(store)
	if err := express.Configure(m, o); err != nil {
		t.Fatal(err)
	}
	for _, mod := range mods {
		mod(m)
	}
	if use == nil {
		use = express.UsePassport[interoptest.User]
	}
	return interoptest.GoApp(t, m, use).URL
}

func secretsEnv(secrets ...string) string {
	b, _ := json.Marshal(secrets)
	return "SECRETS=" + string(b)
}

// signedWith reports whether the connect.sid value v verifies with secret.
func signedWith(t *testing.T, secret, v string) bool {
	t.Helper()
	s, err := express.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := s.Verify(v)
	return ok
}

const sid = express.DefaultCookieName

// TestOutsiderSecretRotation follows the guide's secret rotation in its two
// deploys, with the real express-session on the other side:
//
// "first add the new secret *second* on both sides (both verify it,
// neither signs with it yet), then move it first on both. A side that
// signs with a secret the other side does not know yet signs the user out
// there on its next response with a cookie (a write, or a rolling
// re-send). Unlike express-session, the Go side also sends again, signed
// with the first secret, a cookie signed with a later one, on any response
// that uses its session (reads too […]): sessions used on the Go side
// since the switch no longer need the old secret, those used only on Node
// keep its signature until they expire."
func TestOutsiderSecretRotation(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	const oldS, newS = "the secret of last year", "the secret of this year"
	before := startNode(t, "redis", redisURL, prefix, secretsEnv(oldS))
	node1 := startNode(t, "redis", redisURL, prefix, secretsEnv(oldS, newS))
	node2 := startNode(t, "redis", redisURL, prefix, secretsEnv(newS, oldS))
	go1 := outsiderGo(t, store, express.Options{Secrets: []string{oldS, newS}, MaxAge: time.Hour}, nil)
	go2 := outsiderGo(t, store, express.Options{Secrets: []string{newS, oldS}, MaxAge: time.Hour}, nil)

	c := interoptest.NewClient(t)
	c.NodeLogin(before, "ann", "pw1")
	signedOld := c.Cookies(before)[sid]
	if !signedWith(t, oldS, signedOld) {
		t.Fatalf("node signed %q, not with its only secret", signedOld)
	}

	// Deploy 1: both verify the new secret, neither signs with it.
	for _, base := range []string{node1, go1} {
		_, who, set := c.Req("GET", base+"/whoami")
		if who["user"] != "ann" {
			t.Fatalf("deploy 1, %s: user %v", base, who["user"])
		}
		if ck := set[sid]; ck != nil && ck.Value != signedOld {
			t.Fatalf("deploy 1, %s re-signed the cookie: %s", base, ck.Value)
		}
	}
	_, _, set := c.Req("POST", go1+"/login?id=2")
	if ck := set[sid]; ck == nil || !signedWith(t, oldS, ck.Value) || signedWith(t, newS, ck.Value) {
		t.Fatalf("deploy 1: a Go login set %v, want it signed with the first secret only", set[sid])
	}
	c.WantUser(before, "bob") // a Node app not yet redeployed still reads it
	signedOld = c.Cookies(go1)[sid]

	// Deploy 2: the new secret first on both. Node reads keep the old
	// signature; a Go read sends the cookie again, signed with the new one.
	_, who, set := c.Req("GET", node2+"/whoami")
	if who["user"] != "bob" || set[sid] != nil || c.Cookies(node2)[sid] != signedOld {
		t.Fatalf("deploy 2, node read of an old-secret cookie: user %v, Set-Cookie %v", who["user"], set[sid])
	}
	_, who, set = c.Req("GET", go2+"/whoami")
	if who["user"] != "bob" {
		t.Fatalf("deploy 2, go read of an old-secret cookie: user %v", who["user"])
	}
	if ck := set[sid]; ck == nil || !signedWith(t, newS, ck.Value) {
		t.Fatalf("deploy 2: a Go read sent %v, want the cookie signed with the new secret", set[sid])
	}
	for _, base := range []string{node2, node1, go1, go2} {
		c.WantUser(base, "bob")
	}
	// Skipping deploy 1: a Node app that does not know the new secret yet
	// has the user signed out by the Go side's re-signed cookie.
	c.WantUser(before, nil)

	// Node signs with the new secret too; Go of either deploy reads it.
	d := interoptest.NewClient(t)
	d.NodeLogin(node2, "ann", "pw1")
	if v := d.Cookies(node2)[sid]; !signedWith(t, newS, v) {
		t.Fatalf("deploy 2: node signed %q, not with the new secret", v)
	}
	d.WantUser(go1, "ann")
	d.WantUser(go2, "ann")
}

// TestOutsiderTampering: "Only signed cookies under the configured name
// are taken over; a tampered one, one signed with a secret the Importer
// does not know […] is no session", and the Signer's "A value without the
// "s:" prefix is not a session" — on a Configure'd Manager as on
// express-session: every altered cookie is no session on both sides
// (never a 500, never a cookie for it), and the encodings cookie's
// decoding allows (unencoded, lower-case escapes) are the session on both.
func TestOutsiderTampering(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix)
	goURL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}, nil)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	good := c.Cookies(nodeURL)[sid]
	id := c.Get(nodeURL + "/whoami")["id"].(string)
	plain, ok := express.DecodeURIComponent(good)
	if !ok || !strings.HasPrefix(plain, "s:"+id+".") {
		t.Fatalf("node's cookie %q is not s:<id>.<sig> for %s", good, id)
	}
	sig := plain[len("s:"+id+"."):]
	other, _ := express.NewSigner("not one of the secrets")
	cur, _ := express.NewSigner(newSecret)
	otherID := id[:len(id)-1] + "A"
	if strings.HasSuffix(id, "A") {
		otherID = id[:len(id)-1] + "B"
	}

	accepted := map[string]string{
		"as node sent it":    good,
		"unencoded":          plain,
		"lower-case escapes": regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(good, strings.ToLower),
		"signed with old":    must(express.NewSigner(oldSecret)).Sign(id),
		"signed by go":       cur.Sign(id),
	}
	rejected := map[string]string{
		"unknown secret":      other.Sign(id),
		"no s: prefix":        express.EncodeURIComponent(id + "." + sig),
		"id alone":            id,
		"no signature":        express.EncodeURIComponent("s:" + id),
		"empty signature":     express.EncodeURIComponent("s:" + id + "."),
		"padded signature":    express.EncodeURIComponent("s:" + id + "." + sig + "="),
		"truncated signature": express.EncodeURIComponent("s:" + id + "." + sig[:len(sig)-1]),
		"other id, same sig":  express.EncodeURIComponent("s:" + otherID + "." + sig),
		"broken escape":       good + "%",
		"signed, unknown id":  cur.Sign(otherID),
	}
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range sig {
		r := b64[(strings.IndexByte(b64, sig[i])+1)%len(b64)]
		rejected["sig["+string(rune('0'+i/10))+string(rune('0'+i%10))+"]"] = express.EncodeURIComponent("s:" + id + "." + sig[:i] + string(r) + sig[i+1:])
	}
	for _, base := range []string{goURL, nodeURL} {
		for what, v := range accepted {
			f := interoptest.NewClient(t)
			f.SetCookies(base, map[string]string{sid: v})
			if code, who, _ := f.Req("GET", base+"/whoami"); code != 200 || who["user"] != "ann" {
				t.Errorf("%s, %s: %d, user %v, want ann", base, what, code, who["user"])
			}
		}
		for what, v := range rejected {
			f := interoptest.NewClient(t)
			f.SetCookies(base, map[string]string{sid: v})
			code, who, set := f.Req("GET", base+"/whoami")
			if code != 200 || who["user"] != nil {
				t.Errorf("%s, %s (%s): %d, user %v, want no user", base, what, v, code, who["user"])
			}
			if ck := set[sid]; ck != nil && ck.Value != "" {
				t.Errorf("%s, %s: a read of a rejected cookie set %s", base, what, ck.Value)
			}
			if base == goURL && who["stored"] != false {
				t.Errorf("%s, %s: go found a stored session: %v", base, what, who)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOutsiderPassportStringIDs: "serializeUser returning numeric IDs as
// strings (done(null, String(u.id))) | after UsePassport, a.Field =
// express.PassportField{Encode: …}: by default a Go login writes a key
// that looks like a number ("42") as the number 42, which such a
// deserializeUser does not find".
func TestOutsiderPassportStringIDs(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix, "SERIALIZE=string")
	o := express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}
	byDefault := outsiderGo(t, store, o, nil)
	asStrings := outsiderGo(t, store, o, func(a *auth.Auth[interoptest.User]) {
		express.UsePassport(a)
		a.Field = express.PassportField{Encode: func(k string) json.RawMessage { b, _ := json.Marshal(k); return b }}
	})
	// The stored passport object, read from the store (a Node request
	// would first drop a user its deserializeUser does not find).
	signer := must(express.NewSigner(newSecret, oldSecret))
	passportOf := func(c *interoptest.Client) string {
		t.Helper()
		id, ok := signer.Verify(c.Cookies(nodeURL)[sid])
		if !ok {
			t.Fatalf("no session cookie: %v", c.Cookies(nodeURL))
		}
		rec, err := store.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return regexp.MustCompile(`"passport":\{[^}]*\}`).FindString(string(rec.Data))
	}

	// A Node login stores "1"; both Go apps find the user.
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	if got := passportOf(c); got != `"passport":{"user":"1"}` {
		t.Fatalf("node stored %s", got)
	}
	c.WantUser(byDefault, "ann")
	c.WantUser(asStrings, "ann")

	// A Go login with the default Encode stores the number: Node does
	// not find it.
	d := interoptest.NewClient(t)
	d.Post(byDefault + "/login?id=1")
	d.WantUser(byDefault, "ann")
	if got := passportOf(d); got != `"passport":{"user":1}` {
		t.Fatalf("a default Go login stored %s", got)
	}
	d.WantUser(nodeURL, nil)

	// With the guide's Encode, the string: Node finds the user.
	e := interoptest.NewClient(t)
	e.Post(asStrings + "/login?id=2")
	if got := passportOf(e); got != `"passport":{"user":"2"}` {
		t.Fatalf("a Go login with Encode stored %s", got)
	}
	e.WantUser(nodeURL, "bob")
	e.WantUser(asStrings, "bob")
}

// TestOutsiderUnknownUser: "passport.deserializeUser → done(null, false) |
// Deserialize returns auth.ErrUserNotFound (leaves "passport":{} as
// Passport does)".
func TestOutsiderUnknownUser(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix)
	goURL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}, nil)
	for _, first := range []string{goURL, nodeURL} {
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		c.Post(nodeURL + `/set?k=passport&v={"user":99}`) // a user neither side knows (deleted)
		c.WantUser(first, nil)
		if got := c.Get(nodeURL + "/get?k=passport")["value"]; !interoptest.SameJSON(got, map[string]any{}) {
			t.Fatalf("after %s met an unknown user, passport = %v, want {}", first, got)
		}
		c.WantUser(goURL, nil)
		c.WantUser(nodeURL, nil)
	}
}

// TestOutsiderCookieAttributes: "cookie.path, domain, httpOnly, sameSite,
// secure: true | m.Cookie.Path, Domain, HttpOnly, SameSite, Secure […] —
// set them to the same values: a session Go creates carries them in its
// cookie object, and Node sends that session's cookie with them".
func TestOutsiderCookieAttributes(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix) // cookie: {sameSite: 'lax'}, httpOnly by default
	goURL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}, nil,
		func(m *sessionkit.Manager) {
			m.Cookie.SameSite = http.SameSiteStrictMode
			m.Cookie.HttpOnly = false
		})
	attrs := func(ck *http.Cookie) (sameSite http.SameSite, httpOnly bool) {
		t.Helper()
		if ck == nil || ck.Value == "" {
			t.Fatal("no session cookie")
		}
		return ck.SameSite, ck.HttpOnly
	}

	c := interoptest.NewClient(t)
	_, _, set := c.Req("POST", goURL+"/login?id=1")
	if ss, ho := attrs(set[sid]); ss != http.SameSiteStrictMode || ho {
		t.Fatalf("go's own cookie: %s", set[sid].Raw)
	}
	raw := c.Get(nodeURL + "/raw")["raw"].(string)
	if !strings.Contains(raw, `"httpOnly":false`) || !strings.Contains(raw, `"sameSite":"strict"`) {
		t.Fatalf("the cookie object of a session Go created: %s", raw)
	}
	_, _, set = c.Req("POST", nodeURL+"/set?k=n&v=1")
	if ss, ho := attrs(set[sid]); ss != http.SameSiteStrictMode || ho {
		t.Fatalf("node re-sent a Go session's cookie as %s, want Go's SameSite=Strict without HttpOnly", set[sid].Raw)
	}
	c.WantUser(nodeURL, "ann")

	// A session Node creates carries Node's: Go's writes keep them.
	d := interoptest.NewClient(t)
	d.NodeLogin(nodeURL, "bob", "pw2")
	d.Post(goURL + "/set?k=n&v=2")
	raw = d.Get(nodeURL + "/raw")["raw"].(string)
	if !strings.Contains(raw, `"httpOnly":true`) || !strings.Contains(raw, `"sameSite":"lax"`) {
		t.Fatalf("a Go write changed a Node session's cookie object: %s", raw)
	}
}

// TestOutsiderSaveUninitialized: "saveUninitialized: false | the default
// (Manager.SaveUninitialized)", and a browser-session cookie made by Go:
// "cookie.maxAge unset (browser-session cookie) | MaxAge: 0, TTL: the Node
// store's ttl (default 24h)".
func TestOutsiderSaveUninitialized(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix, "MAX_AGE=")
	goURL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}}, nil)

	// Reads without a session set no cookie and store nothing, on both sides.
	c := interoptest.NewClient(t)
	for _, u := range []string{goURL + "/whoami", goURL + "/get?k=x", nodeURL + "/whoami", nodeURL + "/get?k=x"} {
		if _, _, set := c.Req("GET", u); len(set) != 0 {
			t.Fatalf("%s without a session set %v", u, set)
		}
	}
	n := 0
	for _, err := range store.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 0 {
		t.Fatalf("reads without a session stored %d sessions", n)
	}

	// A Go write: a browser-session cookie, a record without a lifetime
	// of its own, kept for the TTL; Node keeps it a browser-session cookie.
	_, _, set := c.Req("POST", goURL+"/set?k=cart&v=[1]")
	if ck := set[sid]; ck == nil || ck.Value == "" || ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Fatalf("go's first write set %v, want a browser-session cookie", set[sid])
	}
	id := c.Get(nodeURL + "/whoami")["id"].(string)
	rec, ck := storedCookie(t, store, id)
	if ck.OriginalMaxAge != nil || ck.Expires != nil {
		t.Fatalf("a Go browser-session record: %s", rec.Data)
	}
	near(t, "store expiry", rec.Expiry, time.Now().Add(express.DefaultTTL), time.Minute)
	_, _, set = c.Req("POST", nodeURL+"/set?k=n&v=1") // express-session sends no cookie for it
	if ck := set[sid]; ck != nil && (ck.MaxAge != 0 || !ck.Expires.IsZero()) {
		t.Fatalf("node re-sent Go's browser-session cookie as %v", set[sid])
	}
	if rec, ck = storedCookie(t, store, id); ck.OriginalMaxAge != nil || ck.Expires != nil {
		t.Fatalf("after a Node write: %s", rec.Data)
	}
	if got := c.Get(nodeURL + "/get?k=cart")["value"]; !interoptest.SameJSON(got, []any{1}) {
		t.Fatalf("node reads cart = %v", got)
	}
}

// TestOutsiderLogout: "req.logout() | a.Logout(w, r) (destroys the
// session; KeepDataOnLogout keeps its other values like keepSessionInfo)",
// and "signing out on either side signs out on both".
func TestOutsiderLogout(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix)
	o := express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}
	destroys := outsiderGo(t, store, o, nil)
	keeps := outsiderGo(t, store, o, func(a *auth.Auth[interoptest.User]) {
		express.UsePassport(a)
		a.KeepDataOnLogout = true
	})
	for _, tc := range []struct {
		goURL string
		cart  any
	}{{destroys, nil}, {keeps, []any{1.0, 2.0}}} {
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		c.Post(nodeURL + "/set?k=cart&v=[1,2]")
		before := c.Get(nodeURL + "/whoami")["id"]
		c.Post(tc.goURL + "/logout")
		c.WantUser(nodeURL, nil)
		c.WantUser(tc.goURL, nil)
		for _, base := range []string{nodeURL, tc.goURL} {
			if got := c.Get(base + "/get?k=cart")["value"]; !interoptest.SameJSON(got, tc.cart) {
				t.Fatalf("after a Go logout (%s), %s reads cart = %v, want %v", tc.goURL, base, got, tc.cart)
			}
		}
		if after := c.Get(nodeURL + "/whoami")["id"]; after == before {
			t.Fatalf("the session kept its ID %v across a logout", before)
		}
	}
}

// TestOutsiderRememberMeFalse: "req.session.cookie.maxAge = null for one
// session | s.RememberMe(false); the store keeps it for TTL after its last
// use ([…] or the Go side keeps it for MaxAge until the session is next
// read)".
func TestOutsiderRememberMeFalse(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix)
	goURL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}, nil)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	id := c.Get(nodeURL + "/whoami")["id"].(string)
	browserSession := func(what string) {
		t.Helper()
		rec, ck := storedCookie(t, store, id)
		if ck.OriginalMaxAge != nil || ck.Expires != nil {
			t.Fatalf("%s: stored %s, want a browser-session cookie object", what, rec.Data)
		}
	}

	_, _, set := c.Req("POST", goURL+"/maxage?d=session")
	if ck := set[sid]; ck == nil || ck.Value == "" || ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Fatalf("RememberMe(false) sent %v, want a browser-session cookie", set[sid])
	}
	browserSession("after RememberMe(false)")
	rec, _ := storedCookie(t, store, id)
	near(t, "store expiry after RememberMe(false)", rec.Expiry, time.Now().Add(time.Hour), time.Minute)

	// The next read: the store's TTL from then on.
	c.WantUser(goURL, "ann")
	rec, _ = storedCookie(t, store, id)
	near(t, "store expiry after the next Go read", rec.Expiry, time.Now().Add(express.DefaultTTL), time.Minute)

	// Node treats it as its own browser-session cookie.
	c.WantUser(nodeURL, "ann")
	c.Post(nodeURL + "/set?k=n&v=1")
	browserSession("after a Node write")
	c.Post(goURL + "/set?k=n&v=2")
	browserSession("after a Go write")
	rec, _ = storedCookie(t, store, id)
	near(t, "store expiry after a Go write", rec.Expiry, time.Now().Add(express.DefaultTTL), time.Minute)
}

// TestOutsiderMongoTTL: "MongoStore.create({mongoUrl, collectionName:
// 'sessions'}) | mongostore.Options{Layout: mongostore.LayoutConnectMongo,
// …}, and express.Options.TTL: 14 * 24 * time.Hour (connect-mongo's
// default ttl […]): otherwise a Go write cuts a browser-session cookie's
// session to 24 hours".
func TestOutsiderMongoTTL(t *testing.T) {
	t.Parallel()
	mongoURL := testenv.Getenv(t, testenv.MongoURLEnv)
	nodeModulesOrSkip(t)
	ctx := context.Background()
	coll := uniqueName("express_ttl_")
	store, err := mongostore.Open(ctx, mongoURL, mongostore.Options{
		Database:      "sessionkit_express",
		Collection:    coll,
		Layout:        mongostore.LayoutConnectMongo,
		UserKeyOf:     express.UserKey,
		SweepInterval: -1,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.Collection().Drop(context.Background())
		store.Close()
	})
	u, err := url.Parse(mongoURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/sessionkit_express"
	nodeURL := startNode(t, "mongo", u.String(), coll, "MAX_AGE=") // connect-mongo's default ttl
	const fortnight = 14 * 24 * time.Hour
	withTTL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}, TTL: fortnight}, nil)
	without := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}}, nil)

	for _, tc := range []struct {
		goURL string
		want  time.Duration
	}{{withTTL, fortnight}, {without, express.DefaultTTL}} {
		c := interoptest.NewClient(t)
		c.NodeLogin(nodeURL, "ann", "pw1")
		id := c.Get(nodeURL + "/whoami")["id"].(string)
		rec, _ := storedCookie(t, store, id)
		near(t, "connect-mongo's expiry of a browser-session cookie", rec.Expiry, time.Now().Add(fortnight), time.Minute)
		c.Post(tc.goURL + "/set?k=n&v=1")
		rec, ck := storedCookie(t, store, id)
		if ck.OriginalMaxAge != nil || ck.Expires != nil {
			t.Fatalf("a Go write gave a browser-session cookie a lifetime: %s", rec.Data)
		}
		near(t, "expiry after a Go write", rec.Expiry, time.Now().Add(tc.want), time.Minute)
		c.WantUser(nodeURL, "ann")
	}
}

// TestOutsiderValues: section 3's "Values are JSON both ways: a Go struct
// read by Node is a plain object, and a Node Date is an ISO string to Go",
// "The Go side keeps the keys it does not touch byte for byte and in their
// order" (unicode keys too), and section 4's "Values named cookie are
// express-session's own and cannot be set from Go: s.Set("cookie", v)
// returns no error, but the request's save then fails — the response is
// the Manager's ErrorHandler (a 500 by default) and the session is left as
// it was".
func TestOutsiderValues(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix)
	goURL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}, nil)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	id := c.Get(nodeURL + "/whoami")["id"].(string)

	c.Post(nodeURL + "/setdate?k=when&ms=1767225600123")
	if got := c.Get(goURL + "/get?k=when")["value"]; got != "2026-01-01T00:00:00.123Z" {
		t.Fatalf("go reads a Node Date as %#v", got)
	}
	const key = "ключ 😀"
	c.Post(nodeURL + "/set?k=" + url.QueryEscape(key) + "&v=" + url.QueryEscape(`{"b":[1,2],"a":"\u2028"}`))
	before, _ := storedCookie(t, store, id)
	c.Post(goURL + "/set?k=" + url.QueryEscape("go "+key) + "&v=" + url.QueryEscape(`{"z":1,"y":[true]}`))
	after, _ := storedCookie(t, store, id)
	_, rest, _ := strings.Cut(string(before.Data), `"passport":`)
	if !strings.HasSuffix(string(after.Data), `"passport":`+strings.TrimSuffix(rest, "}")+`,"go `+key+`":{"z":1,"y":[true]}}`) {
		t.Fatalf("after a Go write:\n%s\nbefore:\n%s", after.Data, before.Data)
	}
	if got := c.Get(nodeURL + "/get?k=" + url.QueryEscape("go "+key))["value"]; !interoptest.SameJSON(got, map[string]any{"z": 1, "y": []any{true}}) {
		t.Fatalf("node reads %v", got)
	}
	if got := c.Get(nodeURL + "/get?k=when")["value"]; got != "2026-01-01T00:00:00.123Z" {
		t.Fatalf("node reads the Date back as %#v", got)
	}

	// "cookie" cannot be set from Go: the save fails, nothing changes.
	before, _ = storedCookie(t, store, id)
	if code, _, set := c.Req("POST", goURL+"/set?k=cookie&v=%7B%7D"); code != http.StatusInternalServerError || len(set) != 0 {
		t.Fatalf("go set cookie: status %d, Set-Cookie %v; want the ErrorHandler's 500 and no cookie", code, set)
	}
	if after, _ := storedCookie(t, store, id); string(after.Data) != string(before.Data) {
		t.Fatalf("a Go attempt to set cookie changed the session:\n%s\nwas\n%s", after.Data, before.Data)
	}
	c.WantUser(nodeURL, "ann")
	c.WantUser(goURL, "ann")
}

// TestOutsiderName: "name: 'connect.sid' (default) | express.Options.Name
// (default connect.sid)".
func TestOutsiderName(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix, "NAME=app.sid")
	o := express.Options{Name: "app.sid", Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}
	goURL := outsiderGo(t, store, o, nil)
	o.Name = ""
	byDefault := outsiderGo(t, store, o, nil)

	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	if cs := c.Cookies(nodeURL); cs["app.sid"] == "" || len(cs) != 1 {
		t.Fatalf("node set %v", cs)
	}
	c.WantUser(goURL, "ann")
	c.WantUser(byDefault, nil)
	d := interoptest.NewClient(t)
	if _, _, set := d.Req("POST", goURL+"/login?id=2"); set["app.sid"] == nil || len(set) != 1 {
		t.Fatalf("go set %v", set)
	}
	d.WantUser(nodeURL, "bob")
}

// TestOutsiderDefaultTTL: "express.Options.TTL […] express's TTL default
// is 24h, connect-redis's and connect-pg-simple's" — the ttl the real
// stores give a browser-session cookie's session is express.DefaultTTL.
func TestOutsiderDefaultTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redis, redisURL, prefix := outsiderRedis(t)
	pgURL := testenv.Getenv(t, testenv.PostgresURLEnv)
	table := uniqueName("sk_express_ttl_")
	pg, err := pgstore.Open(ctx, pgURL, pgstore.Options{
		Table: table, Layout: pgstore.LayoutConnectPgSimple, UserKeyOf: express.UserKey, CleanupInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pg.DropTable(context.Background())
		pg.Close()
	})
	for _, tc := range []struct {
		name  string
		store sessionkit.Store
		node  string
	}{
		{"connect-redis", redis, startNode(t, "redis", redisURL, prefix, "MAX_AGE=")},
		{"connect-pg-simple", pg, startNode(t, "pg", pgURL, table, "MAX_AGE=")},
	} {
		c := interoptest.NewClient(t)
		c.NodeLogin(tc.node, "ann", "pw1")
		id := c.Get(tc.node + "/whoami")["id"].(string)
		rec, ck := storedCookie(t, tc.store, id)
		if ck.OriginalMaxAge != nil {
			t.Fatalf("%s: %s", tc.name, rec.Data)
		}
		near(t, tc.name+"'s expiry of a browser-session cookie's session", rec.Expiry, time.Now().Add(express.DefaultTTL), time.Minute)
	}
}

// TestOutsiderImport follows section 5, step 2, for an express app with its
// own cookie name and a rotated secret: "Secrets: secrets, // all of them:
// cookies signed with the old one upgrade too" and "// Name, Path, Domain:
// the express cookie's, if not connect.sid and "/"". "A user's first
// request that uses the session is answered with an expired connect.sid
// (Max-Age=0) and the native session cookie, and users.User(r) returns
// them. […] a user upgraded on Go is signed out on Node's pages".
func TestOutsiderImport(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix, "NAME=app.sid", secretsEnv(oldSecret))
	native, err := redisstore.NewFromURL(context.Background(), redisURL, redisstore.Options{Prefix: uniqueName("native_") + ":"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { native.Close() })
	imp, err := express.NewImporter(express.ImportOptions{
		Name:     "app.sid",
		Secrets:  []string{newSecret, oldSecret},
		Express:  store,
		Migrated: native,
	})
	if err != nil {
		t.Fatal(err)
	}
	goURL := nativeApp(t, native, imp).URL

	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	c.Post(nodeURL + "/set?k=cart&v=[1,2]")
	old := c.Cookies(nodeURL)
	if !signedWith(t, oldSecret, old["app.sid"]) {
		t.Fatalf("node's cookie %v", old)
	}

	// A tampered cookie, or one under the default name, is not taken over.
	for what, cs := range map[string]map[string]string{
		"tampered":     {"app.sid": old["app.sid"][:len(old["app.sid"])-2] + "xx"},
		"default name": {sid: old["app.sid"]},
	} {
		d := interoptest.NewClient(t)
		d.SetCookies(goURL, cs)
		if _, who, set := d.Req("GET", goURL+"/whoami"); who["user"] != nil || set["session"] != nil {
			t.Fatalf("%s: taken over: %v, Set-Cookie %v", what, who, set)
		}
	}

	_, who, set := c.Req("GET", goURL+"/whoami")
	if who["user"] != "ann" || string(mustJSON(t, who["values"].(map[string]any)["cart"])) != "[1,2]" {
		t.Fatalf("after the import: %v", who)
	}
	if ck := set["app.sid"]; ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
		t.Fatalf("the import did not expire app.sid: %v", set)
	}
	if ck := set["session"]; ck == nil || ck.Value == "" {
		t.Fatalf("the import set no native cookie: %v", set)
	}
	if cs := c.Cookies(goURL); cs["app.sid"] != "" {
		t.Fatalf("the browser still holds %v", cs)
	}
	// Signed out on Node's pages, also with the old cookie replayed.
	c.SetCookies(nodeURL, old)
	c.WantUser(nodeURL, nil)
	c.WantUser(goURL, "ann") // the native cookie alone is the session now
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOutsiderDuplicateCookies: "When a request carries two cookies named
// connect.sid […] express-session reads only the first, the Go side the
// first one that verifies".
func TestOutsiderDuplicateCookies(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix)
	goURL := outsiderGo(t, store, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}, nil)
	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	good := c.Cookies(nodeURL)[sid]
	foreign := must(express.NewSigner("another app's secret")).Sign(express.IDs{}.NewID())
	for _, tc := range []struct {
		header       string
		node, golang any
	}{
		{sid + "=" + good + "; " + sid + "=" + foreign, "ann", "ann"},
		{sid + "=" + foreign + "; " + sid + "=" + good, nil, "ann"},
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
				t.Errorf("%s with Cookie: %s: %v (%v), want user %v", base, tc.header, who, err, want)
			}
		}
	}
}

// TestOutsiderWorkedExample runs section 2's worked example: the Node app
// as printed (connect-pg-simple, the two secrets, resave and
// saveUninitialized false, a 30-day sameSite lax cookie, Passport with
// numeric IDs) and the Go service taking over /account/, its code as
// printed but for the table name, the user lookup and the listener. "A
// user who signed in on Node opens /account/ and users.User(r) returns
// them; […] signing out on either side signs out on both."
func TestOutsiderWorkedExample(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Getenv(t, testenv.PostgresURLEnv)
	nodeModulesOrSkip(t)
	table := uniqueName("sk_worked_")
	const sessionSecret, oldSessionSecret = "the session secret", "the old session secret"
	nodeURL := startNode(t, "pg", dsn, table, "MAX_AGE=2592000000", secretsEnv(sessionSecret, oldSessionSecret))
	type User struct{ ID int }
	db := map[int]*User{1: {1}, 2: {2}}

	store, err := pgstore.Open(ctx, dsn, pgstore.Options{
		Layout:    pgstore.LayoutConnectPgSimple,
		Table:     table, // the guide's uses connect-pg-simple's "session"
		UserKeyOf: express.UserKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		store.DropTable(context.Background())
		store.Close()
	})

	m := sessionkit.New(store)
	if err := express.Configure(m, express.Options{
		Secrets: []string{sessionSecret, oldSessionSecret},
		MaxAge:  30 * 24 * time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	m.Cookie.SameSite = http.SameSiteLaxMode // as cookie.sameSite

	users := auth.New(m,
		func(u *User) string { return strconv.Itoa(u.ID) }, // stored as the number, as Passport does
		func(ctx context.Context, key string) (*User, error) {
			id, err := strconv.Atoi(key)
			if err != nil {
				return nil, auth.ErrUserNotFound
			}
			u, ok := db[id]
			if !ok {
				return nil, auth.ErrUserNotFound
			}
			return u, nil
		})
	express.UsePassport(users)
	accountPages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := users.User(r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "account of user %d", u.ID)
	})

	mux := http.NewServeMux()
	mux.Handle("/account/", users.Require(accountPages))
	srv := httptest.NewServer(users.CrossOrigin.Handler(users.Handler(mux)))
	t.Cleanup(srv.Close)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u string, header ...string) (int, string, *http.Response) {
		t.Helper()
		req, _ := http.NewRequest(method, u, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), resp
	}
	page := func(path string) (int, string, *http.Response) {
		t.Helper()
		return do("GET", srv.URL+path, "Accept", "text/html")
	}

	if code, _, resp := page("/account/"); code != http.StatusSeeOther || resp.Header.Get("Location") != "/login?return_to=%2Faccount%2F" {
		t.Fatalf("anonymous /account/: %d, Location %q", code, resp.Header.Get("Location"))
	}
	if code, _, _ := do("POST", nodeURL+"/login?username=ann&password=pw1"); code != 200 {
		t.Fatalf("node login: %d", code)
	}
	if code, body, _ := page("/account/"); code != 200 || body != "account of user 1" {
		t.Fatalf("/account/ after a Node login: %d %q", code, body)
	}
	if code, _, _ := do("POST", srv.URL+"/account/delete", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Fatalf("a cross-site POST to /account/: %d, want 403", code)
	}
	if code, _, _ := do("POST", nodeURL+"/logout"); code != 200 {
		t.Fatalf("node logout: %d", code)
	}
	if code, _, _ := page("/account/"); code != http.StatusSeeOther {
		t.Fatalf("/account/ after a Node logout: %d", code)
	}
}

// TestOutsiderFlash: "req.flash('error', 'msg') / req.flash('error') /
// req.flash() (connect-flash) | auth.AddFlash(s, auth.FlashError, "msg") /
// auth.Flashes(s, auth.FlashError) / auth.Flashes(s) — same
// req.session.flash layout, shared with Node", against connect-flash.
func TestOutsiderFlash(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix)
	m := sessionkit.New(store)
	if err := express.Configure(m, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		if err := auth.AddFlash(sessionkit.From(r.Context()), r.URL.Query().Get("type"), r.URL.Query().Get("msg")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		var kinds []string
		if k := r.URL.Query().Get("type"); k != "" {
			kinds = append(kinds, k)
		}
		fs, err := auth.Flashes(sessionkit.From(r.Context()), kinds...)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		out := []string{}
		for _, f := range fs {
			out = append(out, f.Kind+": "+f.Message)
		}
		writeJSON(w, map[string]any{"flashes": out})
	})
	srv := httptest.NewServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	goURL := srv.URL
	flashes := func(c *interoptest.Client, base, kind string) string {
		t.Helper()
		b, _ := json.Marshal(c.Get(base + "/flashes?type=" + url.QueryEscape(kind))["flashes"])
		return string(b)
	}

	// Flashed on Go, shown on Node.
	c := interoptest.NewClient(t)
	c.Post(goURL + "/flash?type=error&msg=" + url.QueryEscape("Wrong password."))
	c.Post(goURL + "/flash?type=info&msg=hi")
	c.Post(goURL + "/flash?type=error&msg=" + url.QueryEscape("Locked ✓"))
	if got := flashes(c, nodeURL, "error"); got != `["Wrong password.","Locked ✓"]` {
		t.Fatalf("node's req.flash('error') = %s", got)
	}
	if got := flashes(c, nodeURL, ""); got != `{"info":["hi"]}` {
		t.Fatalf("node's req.flash() = %s", got)
	}
	if got := flashes(c, nodeURL, ""); got != `{}` {
		t.Fatalf("node's second req.flash() = %s", got)
	}

	// Flashed on Node, shown on Go: kind by kind in the order the kinds
	// were first added, once.
	d := interoptest.NewClient(t)
	for _, f := range [][2]string{{"success", "Welcome!"}, {"error", "a"}, {"success", "again"}, {"info", "i"}} {
		d.Post(nodeURL + "/flash?type=" + f[0] + "&msg=" + url.QueryEscape(f[1]))
	}
	if got := flashes(d, goURL, "info"); got != `["info: i"]` {
		t.Fatalf("go's Flashes(info) = %s", got)
	}
	if got := flashes(d, nodeURL, "info"); got != `[]` {
		t.Fatalf("node's req.flash('info') after Go read them = %s", got)
	}
	if got := flashes(d, goURL, ""); got != `["success: Welcome!","success: again","error: a"]` {
		t.Fatalf("go's Flashes() = %s", got)
	}
	for _, base := range []string{goURL, nodeURL} {
		if got := flashes(d, base, ""); got != `[]` && got != `{}` {
			t.Fatalf("%s after Go read every flash: %s", base, got)
		}
	}
}

// TestOutsiderPassportObjectUsers: PassportField's "The value is turned
// into Auth's string key with auth.KeyFromJSON ([…] {"id":1} → `{"id":1}`),
// and written back with Encode", whose default "writes keys that look like
// JSON numbers, objects or true as such" — for a serializeUser that stores
// an object.
func TestOutsiderPassportObjectUsers(t *testing.T) {
	t.Parallel()
	store, redisURL, prefix := outsiderRedis(t)
	nodeURL := startNode(t, "redis", redisURL, prefix, "SERIALIZE=object")
	m := sessionkit.New(store)
	if err := express.Configure(m, express.Options{Secrets: []string{newSecret, oldSecret}, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	type ref struct {
		ID int `json:"id"`
	}
	a := auth.New(m,
		func(u interoptest.User) string { b, _ := json.Marshal(ref{u.ID}); return string(b) }, // passport.user = {id}
		func(_ context.Context, key string) (interoptest.User, error) {
			var r ref
			if err := json.Unmarshal([]byte(key), &r); err != nil {
				return interoptest.User{}, auth.ErrUserNotFound
			}
			u, ok := interoptest.Users[r.ID]
			if !ok {
				return interoptest.User{}, auth.ErrUserNotFound
			}
			return u, nil
		})
	express.UsePassport(a)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		var name any
		if u, err := a.User(r); err == nil {
			name = u.Name
		}
		writeJSON(w, map[string]any{"user": name})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.URL.Query().Get("id"))
		if err := a.Login(w, r, interoptest.Users[id]); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	srv := httptest.NewServer(a.Handler(mux))
	t.Cleanup(srv.Close)

	c := interoptest.NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	c.WantUser(srv.URL, "ann")
	d := interoptest.NewClient(t)
	d.Post(srv.URL + "/login?id=2")
	id, _ := must(express.NewSigner(newSecret)).Verify(d.Cookies(srv.URL)[sid])
	rec, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec.Data), `"passport":{"user":{"id":2}}`) {
		t.Fatalf("a Go login stored %s", rec.Data)
	}
	d.WantUser(nodeURL, "bob")
	d.WantUser(srv.URL, "bob")
}
