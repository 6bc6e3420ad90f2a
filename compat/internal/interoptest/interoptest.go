// Package interoptest holds the scenarios the compat packages' interop
// tests run against the real npm packages: a Go app and a Node app
// sharing one cookie jar (both on 127.0.0.1; cookies are per host, not
// per port), the values and login journeys both ways, and tampering.
package interoptest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
	"github.com/sessionkit/sessionkit/compat/keygrip"
)

// The keys both apps sign with: NewKey signs, OldKey still verifies.
const (
	NewKey = "the current key"
	OldKey = "keyboard cat"
)

// KeysJSON is the keys as the Node apps' KEYS variable.
var KeysJSON = `["` + NewKey + `","` + OldKey + `"]`

// User is a user of both apps.
type User struct {
	ID   int
	Name string
}

// Users are the users both apps know, as server.js does.
var Users = map[int]User{0: {0, "zero"}, 1: {1, "ann"}, 2: {2, "bob"}}

// GoApp is the Go side: the routes of server.js over m, with auth's
// Passport-compatible login.
func GoApp(t *testing.T, m *sessionkit.Manager, usePassport func(*auth.Auth[User])) *httptest.Server {
	a := auth.New(m, func(u User) string { return strconv.Itoa(u.ID) },
		func(_ context.Context, key string) (User, error) {
			id, err := strconv.Atoi(key)
			u, ok := Users[id]
			if err != nil || !ok {
				return User{}, auth.ErrUserNotFound
			}
			return u, nil
		})
	usePassport(a)
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), 500) }
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		var name any
		if u, err := a.User(r); err == nil {
			name = u.Name
		} else if !errors.Is(err, auth.ErrNotAuthenticated) {
			fail(w, err)
			return
		}
		s := sessionkit.From(r.Context())
		writeJSON(w, map[string]any{"user": name, "keys": s.Keys(), "stored": !s.IsNew(), "maxAge": s.IdleTimeout().Milliseconds()})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.URL.Query().Get("id"))
		if err := a.Login(w, r, Users[id]); err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Logout(w, r); err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set(r.URL.Query().Get("k"), json.RawMessage(r.URL.Query().Get("v"))); err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, err := sessionkit.Get[json.RawMessage](sessionkit.From(r.Context()), r.URL.Query().Get("k"))
		if err != nil {
			fail(w, err)
			return
		}
		if v == nil {
			v = json.RawMessage("null")
		}
		writeJSON(w, map[string]any{"value": v})
	})
	// /maxage?d=<duration>|session: this session's maxAge, set from Go.
	mux.HandleFunc("POST /maxage", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		var err error
		if q := r.URL.Query().Get("d"); q == "session" {
			err = s.RememberMe(false)
		} else {
			var d time.Duration
			if d, err = time.ParseDuration(q); err == nil {
				err = errors.Join(s.SetIdleTimeout(d), s.RememberMe(true))
			}
		}
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.HandleFunc("POST /destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Destroy(); err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	})
	srv := httptest.NewServer(a.Handler(mux))
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Client is a browser: one cookie jar for both apps.
type Client struct {
	t   *testing.T
	jar *cookiejar.Jar
	hc  *http.Client
}

// NewClient returns a browser with an empty jar.
func NewClient(t *testing.T) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, jar: jar, hc: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

// Req sends a request and returns the status, the JSON body and the
// response's cookies by name.
func (c *Client) Req(method, u string) (int, map[string]any, map[string]*http.Cookie) {
	c.t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, u, err, b)
		}
	}
	cs := map[string]*http.Cookie{}
	for _, ck := range resp.Cookies() {
		cs[ck.Name] = ck
	}
	return resp.StatusCode, m, cs
}

// Do sends a request that must succeed and returns its JSON body.
func (c *Client) Do(method, u string) map[string]any {
	c.t.Helper()
	code, m, _ := c.Req(method, u)
	if code != 200 {
		c.t.Fatalf("%s %s: status %d", method, u, code)
	}
	return m
}

// Get is Do("GET", u); Post is Do("POST", u).
func (c *Client) Get(u string) map[string]any  { return c.Do("GET", u) }
func (c *Client) Post(u string) map[string]any { return c.Do("POST", u) }

// Cookies returns the jar's cookies for base by name.
func (c *Client) Cookies(base string) map[string]string {
	u, _ := url.Parse(base)
	out := map[string]string{}
	for _, ck := range c.jar.Cookies(u) {
		out[ck.Name] = ck.Value
	}
	return out
}

// SetCookies replaces the jar's cookies, as a browser holding older ones
// would send them.
func (c *Client) SetCookies(base string, kv map[string]string) {
	u, _ := url.Parse(base)
	var cs []*http.Cookie
	for k, v := range kv {
		cs = append(cs, &http.Cookie{Name: k, Value: v, Path: "/"})
	}
	c.jar.SetCookies(u, cs)
}

// Whoami returns the user base's /whoami reports.
func (c *Client) Whoami(base string) any { return c.Get(base + "/whoami")["user"] }

// WantUser fails the test unless base's /whoami reports want.
func (c *Client) WantUser(base string, want any) map[string]any {
	c.t.Helper()
	got := c.Get(base + "/whoami")
	if got["user"] != want {
		c.t.Fatalf("%s/whoami: user = %v, want %v (%v)", base, got["user"], want, got)
	}
	return got
}

// NodeLogin signs in on the Node app with passport-local.
func (c *Client) NodeLogin(nodeURL, name, password string) {
	c.t.Helper()
	c.Post(nodeURL + "/login?username=" + name + "&password=" + password)
}

// SharedValues are set on one side and read on the other: nested objects,
// unicode (U+2028 included), numbers JavaScript prints its own way, null,
// and an integer beyond 2^53.
var SharedValues = []struct{ Key, JSON string }{
	{"nested", `{"html":"<b>&</b>","list":[1,{"deep":[true,false,null]}],"empty":{}}`},
	{"unicode", `"é 😀 \u2028 \u2029 \u0001 \"quoted\""`},
	{"big", `1e21`},
	{"tenth", `0.1`},
	{"nothing", `null`},
	{"large", `12345678901234567890`},
}

// AsJS is what JSON.parse in Node reads from raw, as Go's encoding/json
// sees it.
func AsJS(t *testing.T, raw string) any {
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// SameJSON reports whether a and b print as the same JSON.
func SameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Mode is one of the Node session middlewares the tests share sessions
// with.
type Mode struct {
	Name string
	// Start starts the Node app and returns its URL and the Go app's.
	Start func(t *testing.T) (nodeURL, goURL string)
	// Raw returns the session JSON the client's session is stored as.
	Raw func(t *testing.T, c *Client, base string) []byte
	// OwnKeys are the keys the Node middleware adds to the stored JSON
	// beside the session's own (koa-session's "_expire", …): the Node
	// app's GET /raw, JSON.stringify of its session object, lacks them.
	OwnKeys []string
	// Cookie is the cookie name. Stateful is true for store-backed modes:
	// a replayed cookie of a signed-out session is then signed out.
	Cookie   string
	Stateful bool
}

// Body returns the stored session JSON as its members.
func (md Mode) Body(t *testing.T, c *Client, base string) map[string]json.RawMessage {
	t.Helper()
	raw := md.Raw(t, c, base)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("stored session %s: %v", raw, err)
	}
	return m
}

// CookieRaw returns a Mode.Raw that reads the session JSON from the base64
// cookie name in the jar (koa-session's cookie mode, cookie-session).
func CookieRaw(name string) func(t *testing.T, c *Client, base string) []byte {
	return func(t *testing.T, c *Client, base string) []byte {
		t.Helper()
		v := c.Cookies(base)[name]
		data, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("%s %q: %v", name, v, err)
		}
		return data
	}
}

// withoutKeys returns the JSON object raw without the members keys, its
// other members as they are.
func withoutKeys(t *testing.T, raw []byte, keys []string) string {
	t.Helper()
	ms, err := jsjson.ParseObject(raw)
	if err != nil {
		t.Fatalf("stored session %s: %v", raw, err)
	}
	out := ms[:0]
	for _, m := range ms {
		if !slices.Contains(keys, m.Key) {
			out = append(out, m)
		}
	}
	var b bytes.Buffer
	jsjson.WriteObject(&b, out)
	return b.String()
}

// RunSharing is the scenario every Mode must pass.
func RunSharing(t *testing.T, md Mode) {
	nodeURL, goURL := md.Start(t)
	c := NewClient(t)

	// Sign in on Node: Go sees the User.
	c.NodeLogin(nodeURL, "ann", "pw1")
	c.WantUser(goURL, "ann")
	c.WantUser(nodeURL, "ann")
	loggedIn := c.Cookies(nodeURL)

	// Values set on Node are read on Go, and the reverse.
	for _, v := range SharedValues {
		c.Post(nodeURL + "/set?k=node_" + v.Key + "&v=" + url.QueryEscape(v.JSON))
	}
	before := md.Body(t, c, nodeURL)
	for _, v := range SharedValues {
		got := c.Get(goURL + "/get?k=node_" + v.Key)["value"]
		if !SameJSON(got, AsJS(t, string(before["node_"+v.Key]))) {
			t.Errorf("go reads node_%s = %v, node stored %s", v.Key, got, before["node_"+v.Key])
		}
	}
	for _, v := range SharedValues {
		c.Post(goURL + "/set?k=go_" + v.Key + "&v=" + url.QueryEscape(v.JSON))
	}
	for _, v := range SharedValues {
		got := c.Get(nodeURL + "/get?k=go_" + v.Key)["value"]
		if !SameJSON(got, AsJS(t, v.JSON)) {
			t.Errorf("node reads go_%s = %v, want %s", v.Key, got, v.JSON)
		}
	}
	// A Go change to one key leaves Node's other keys identical.
	c.Post(goURL + "/set?k=node_tenth&v=0.2")
	after := md.Body(t, c, nodeURL)
	for k, raw := range before {
		switch k {
		case "node_tenth", "_expire", "cookie":
			continue
		}
		if string(after[k]) != string(raw) {
			t.Errorf("after a Go write, %s = %s, was %s", k, after[k], raw)
		}
	}
	if string(after["node_tenth"]) != "0.2" {
		t.Errorf("node_tenth = %s", after["node_tenth"])
	}
	if got := c.Get(nodeURL + "/get?k=node_tenth")["value"]; got != 0.2 {
		t.Errorf("node reads node_tenth = %v", got)
	}
	// The Node side reads what Go wrote and would write it back unchanged.
	if got, want := c.Get(nodeURL + "/raw")["raw"], withoutKeys(t, md.Raw(t, c, nodeURL), md.OwnKeys); got != want {
		t.Errorf("Go wrote %s\nthe Node side re-serializes %s", want, got)
	}
	c.Post(nodeURL + "/set?k=count&v=6")
	if got := c.Get(goURL + "/get?k=count")["value"]; got != 6.0 {
		t.Errorf("go reads count = %v", got)
	}

	// Key rotation: a cookie signed with the old key only works on both
	// sides, and the Go side signs it again with the new key: on a read,
	// the signature cookie alone, as the Node side does.
	cs := c.Cookies(nodeURL)
	old, _ := keygrip.New(OldKey)
	cur, _ := keygrip.New(NewKey)
	oldSigned := map[string]string{md.Cookie: cs[md.Cookie], md.Cookie + ".sig": old.Sign(md.Cookie + "=" + cs[md.Cookie])}
	c.SetCookies(goURL, oldSigned)
	_, who, set := c.Req("GET", goURL+"/whoami")
	if who["user"] != "ann" {
		t.Fatalf("go refused an old-key cookie: %v", who)
	}
	if s := set[md.Cookie+".sig"]; s == nil || s.Value != cur.Sign(md.Cookie+"="+cs[md.Cookie]) || set[md.Cookie] != nil {
		t.Fatalf("go did not re-sign an old-key cookie with the new key, alone: %v", set)
	}
	c.SetCookies(nodeURL, oldSigned)
	c.WantUser(nodeURL, "ann")

	// Go signs out: Node sees the User signed out, also when the old
	// cookie is replayed, for store-backed sessions. A cookie-Mode
	// session cannot be revoked: a replayed cookie is signed in on both
	// sides alike.
	c.Post(goURL + "/logout")
	c.WantUser(nodeURL, nil)
	c.WantUser(goURL, nil)
	replay := func() {
		t.Helper()
		var want any
		if !md.Stateful {
			want = "ann"
		}
		c.SetCookies(goURL, loggedIn)
		c.WantUser(goURL, want)
		c.SetCookies(nodeURL, loggedIn)
		c.WantUser(nodeURL, want)
	}
	replay()

	// Go signs in (User 0 counts as a User): Node's ctx.state.User sees it.
	c.Post(goURL + "/login?id=0")
	c.WantUser(nodeURL, "zero")
	c.Post(goURL + "/login?id=2")
	c.WantUser(nodeURL, "bob")
	c.WantUser(goURL, "bob")
	loggedIn = c.Cookies(goURL)

	// Node signs out: Go sees no User, also on replay (store modes).
	c.Post(nodeURL + "/logout")
	c.WantUser(goURL, nil)
	c.WantUser(nodeURL, nil)
	if md.Stateful {
		c.SetCookies(goURL, loggedIn)
		c.WantUser(goURL, nil)
		c.SetCookies(nodeURL, loggedIn)
		c.WantUser(nodeURL, nil)
	} else {
		c.SetCookies(goURL, loggedIn)
		c.WantUser(goURL, "bob")
		c.WantUser(nodeURL, "bob")
	}

	// Node destroys (ctx.session = null): Go sees no session.
	c.NodeLogin(nodeURL, "ann", "pw1")
	c.WantUser(goURL, "ann")
	c.Post(nodeURL + "/destroy")
	if got := c.WantUser(goURL, nil); got["stored"] != false {
		t.Fatalf("go still finds a session after node destroyed it: %v", got)
	}
	// Go destroys: Node sees none.
	c.NodeLogin(nodeURL, "ann", "pw1")
	c.Post(goURL + "/destroy")
	c.WantUser(nodeURL, nil)
	if v := c.Get(nodeURL + "/get?k=count")["value"]; v != nil {
		t.Fatalf("node still has values after Go destroyed the session: %v", v)
	}
}

// RunTampering checks that a Client's every single-character change to a
// Node-written cookie or its signature, a signature by an unknown key, a
// missing .sig cookie and (signed with the real key) oversized or
// malformed values give no session on the Go side — never a 500, never
// the data — and none on the Node side either.
func RunTampering(t *testing.T, md Mode, extra map[string]string) {
	nodeURL, goURL := md.Start(t)
	c := NewClient(t)
	c.NodeLogin(nodeURL, "ann", "pw1")
	c.Post(nodeURL + "/set?k=secret&v=%22s3cr3t%22")
	good := c.Cookies(nodeURL)
	name := md.Cookie
	val, sig := good[name], good[name+".sig"]
	cur, _ := keygrip.New(NewKey)
	other, _ := keygrip.New("not one of the keys")

	cases := map[string][2]string{ // value, signature
		"unknown key": {val, other.Sign(name + "=" + val)},
		"missing sig": {val, ""},
	}
	// Values signed with the real key that only a holder of the keys
	// could make: the Node side is lenient with some (Buffer.from(s,
	// 'base64') decodes anything), the Go side refuses them all.
	signed := map[string]bool{}
	all := map[string]string{"oversized": strings.Repeat("A", 4100)}
	for k, v := range extra {
		all[k] = v
	}
	for k, v := range all {
		cases[k] = [2]string{v, cur.Sign(name + "=" + v)}
		signed[k] = true
	}
	alphabet := "ABab019+/=-_"
	for i := range val {
		for _, r := range alphabet {
			if byte(r) != val[i] {
				cases[fmt.Sprintf("value[%d]=%c", i, r)] = [2]string{val[:i] + string(r) + val[i+1:], sig}
				break
			}
		}
	}
	for i := range sig {
		for _, r := range alphabet {
			if byte(r) != sig[i] {
				cases[fmt.Sprintf("sig[%d]=%c", i, r)] = [2]string{val, sig[:i] + string(r) + sig[i+1:]}
				break
			}
		}
	}
	for what, vs := range cases {
		for _, base := range []string{goURL, nodeURL} {
			fresh := NewClient(t)
			kv := map[string]string{name: vs[0]}
			if vs[1] != "" {
				kv[name+".sig"] = vs[1]
			}
			fresh.SetCookies(base, kv)
			code, who, set := fresh.Req("GET", base+"/whoami")
			if base == nodeURL {
				if signed[what] {
					continue
				}
				if code == 200 && who["user"] != nil {
					t.Errorf("%s: node accepted it: %v", what, who)
				}
				continue
			}
			if code != 200 || who["user"] != nil || who["stored"] != false || len(who["keys"].([]any)) != 0 {
				t.Errorf("%s: go answered %d %v", what, code, who)
			}
			for _, ck := range set {
				if ck.Value != "" {
					t.Errorf("%s: go sent cookie %s=%s", what, ck.Name, ck.Value)
				}
			}
			if v := fresh.Get(base + "/get?k=secret")["value"]; v != nil {
				t.Errorf("%s: go adopted the data: %v", what, v)
			}
		}
	}
	// The genuine pair still works on both sides.
	c.SetCookies(goURL, good)
	c.WantUser(goURL, "ann")
	c.WantUser(nodeURL, "ann")
}
