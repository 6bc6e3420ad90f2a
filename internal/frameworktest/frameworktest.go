// Package frameworktest is the end-to-end suite every framework adapter
// (contrib/gin, contrib/echo, the chi and gorilla/mux examples, Fiber's
// net/http handler path) runs: one app, written in the framework's own
// idiom, driven over real HTTP with cookie jars, checking the promises the
// core makes for net/http:
//
//   - a request that does not touch its session costs no store call and
//     gets no cookie;
//   - the session is committed before the response headers go out (a
//     redirect right after login finds the user logged in);
//   - a change made after the headers went out is reported, and a new
//     session that could not send its cookie is not stored;
//   - concurrent requests changing different keys of one session all win;
//   - login regenerates the ID, logout ends the session and clears its
//     cookie, Require redirects a page request to the login URL and
//     answers an API request 401;
//   - a response that sets the cookie is private to the browser, and one
//     that used the session varies on Cookie;
//   - use renews the session: a write, and a read once the touch interval
//     has passed, re-send the cookie with a full Max-Age (a read within
//     the interval sends none);
//   - a store that is down gets the ErrorHandler's 503 instead of the
//     handler's response, on reads and writes alike; one that refuses
//     writes only still answers reads, even when their touch is refused.
//
// The app must serve these routes, using the adapter to reach the session
// and the user:
//
//	GET  /quiet          writes "quiet"; never touches the session
//	POST /set?k=K&v=V    sets K to the string V, then writes "ok"
//	GET  /get?k=K        writes the string under K ("" when missing)
//	GET  /late?k=K       writes "sent" first, then sets K to "late"
//	POST /login          form username, password: Env.Check; on success
//	                     Auth.Login and a 303 to /whoami; else 401
//	POST /logout         Auth.Logout, then writes "bye"
//	GET  /whoami         the user's Name, or "anonymous"
//	GET  /private        behind the adapter's Require: the user's Name
package frameworktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// User is the suite's user type.
type User struct {
	ID   string
	Name string
}

// Env is what the app under test is built on.
type Env struct {
	Manager *sessionkit.Manager
	Auth    *auth.Auth[User]

	store        *countingStore
	logs         syncBuffer
	clock        *clock
	deserialized atomic.Int64 // Auth's Deserialize calls
}

// clock is the Manager's clock: real time, or a fixed time the suite moves.
type clock struct {
	mu  sync.Mutex
	now time.Time // zero: real time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// advance stops the clock (at the real time, the first time) and moves it
// on by d.
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Now()
	}
	c.now = c.now.Add(d)
}

// Check verifies a username and password (alice/wonderland, bob/builder).
func (e *Env) Check(name, password string) (User, bool) {
	u, ok := users[name]
	return u, ok && passwords[name] == password
}

var (
	users     = map[string]User{"alice": {"1", "alice"}, "bob": {"2", "bob"}}
	passwords = map[string]string{"alice": "wonderland", "bob": "builder"}
)

// NewEnv returns a Manager over a fresh memstore whose calls are counted,
// logging into a buffer the suite reads, and an Auth for User.
func NewEnv(t testing.TB) *Env {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	e := &Env{store: &countingStore{Store: mem}, clock: &clock{}}
	e.Manager = sessionkit.New(e.store)
	e.Manager.Now = e.clock.Now
	e.Manager.Logger = slog.New(slog.NewTextHandler(&e.logs, nil))
	e.Auth = auth.New(e.Manager, func(u User) string { return u.ID },
		func(_ context.Context, id string) (User, error) {
			e.deserialized.Add(1)
			for _, u := range users {
				if u.ID == id {
					return u, nil
				}
			}
			return User{}, auth.ErrUserNotFound
		})
	e.Auth.Logger = e.Manager.Logger
	return e
}

// Run builds the app with newApp and runs every check against it over a
// real HTTP server.
func Run(t *testing.T, newApp func(t *testing.T, e *Env) http.Handler) {
	RunServer(t, func(t *testing.T, e *Env) string {
		srv := httptest.NewServer(newApp(t, e))
		t.Cleanup(srv.Close)
		return srv.URL
	})
}

// RunServer is Run for apps that are not an http.Handler: start serves
// the app built on e (stopping it with t.Cleanup) and returns its base
// URL.
func RunServer(t *testing.T, start func(t *testing.T, e *Env) (baseURL string)) {
	checks := []struct {
		name string
		fn   func(t *testing.T, a *app)
	}{
		{"UntouchedCostsNothing", testUntouched},
		{"WriteReadBack", testWriteRead},
		{"LoginRedirectFindsUser", testLogin},
		{"Require", testRequire},
		{"ConcurrentWritesMerge", testConcurrent},
		{"ChangeAfterHeadersReported", testLate},
		{"Logout", testLogout},
		{"UseRenewsCookie", testRenewal},
		{"StoreDownAnswers503", testStoreDown},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			env := NewEnv(t)
			c.fn(t, &app{t: t, env: env, url: start(t, env)})
		})
	}
}

type app struct {
	t   *testing.T
	env *Env
	url string
}

type client struct {
	a   *app
	hc  *http.Client
	jar *cookiejar.Jar
}

// client returns a browser of the app with its own cookie jar and its own
// connections, which it closes when the test ends, before the server is
// stopped: a server that waits for open connections on shutdown (Fiber's
// fasthttp) would otherwise wait for the idle timeout of a connection the
// transport dialled but never used (90s).
func (a *app) client() *client {
	jar, _ := cookiejar.New(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	a.t.Cleanup(tr.CloseIdleConnections)
	return &client{a: a, jar: jar, hc: &http.Client{
		Jar:           jar,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	code   int
	body   string
	header http.Header
}

func (r response) setCookie() bool {
	return strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), "session=")
}

func (c *client) do(method, path string, form url.Values) response {
	c.a.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.a.url+path, body)
	if err != nil {
		c.a.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: strings.TrimSpace(string(b)), header: resp.Header}
}

func (c *client) cookie() string {
	u, _ := url.Parse(c.a.url)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	return ""
}

func (c *client) login(name, pw string) response {
	return c.do("POST", "/login", url.Values{"username": {name}, "password": {pw}})
}

func (c *client) set(k, v string) response {
	return c.do("POST", "/set?"+url.Values{"k": {k}, "v": {v}}.Encode(), nil)
}

func (c *client) get(k string) string {
	c.a.t.Helper()
	r := c.do("GET", "/get?k="+url.QueryEscape(k), nil)
	if r.code != http.StatusOK {
		c.a.t.Fatalf("GET /get?k=%s = %d %q", k, r.code, r.body)
	}
	return r.body
}

func testUntouched(t *testing.T, a *app) {
	c := a.client()
	for range 3 {
		r := c.do("GET", "/quiet", nil)
		if r.code != http.StatusOK || r.body != "quiet" {
			t.Fatalf("GET /quiet = %d %q", r.code, r.body)
		}
		if r.setCookie() {
			t.Errorf("an untouched session sent a cookie: %q", r.header.Values("Set-Cookie"))
		}
	}
	if n := a.env.store.calls(); n != 0 {
		t.Errorf("untouched sessions made %d store calls, want 0", n)
	}
	// Reading a missing value of a new session stores nothing either.
	if v := c.get("nothing"); v != "" || c.cookie() != "" || a.env.store.saves.Load() != 0 {
		t.Errorf("reading a new session: value %q, cookie %q, %d saves; want none", v, c.cookie(), a.env.store.saves.Load())
	}
	a.env.noErrors(t)
}

func testWriteRead(t *testing.T, a *app) {
	c := a.client()
	r := c.set("color", "blue")
	if r.code != http.StatusOK || r.body != "ok" {
		t.Fatalf("POST /set = %d %q", r.code, r.body)
	}
	if !r.setCookie() {
		t.Fatal("the first write sent no cookie with its response")
	}
	if cc, vary := r.header.Get("Cache-Control"), r.header.Values("Vary"); !strings.Contains(cc, "private") || !slices.Contains(vary, "Cookie") {
		t.Errorf("a response setting the cookie has Cache-Control %q, Vary %q; want private and Cookie", cc, vary)
	}
	if r := c.do("GET", "/get?k=color", nil); r.body != "blue" || !slices.Contains(r.header.Values("Vary"), "Cookie") {
		t.Errorf("read back %q with Vary %q, want blue and Cookie", r.body, r.header.Values("Vary"))
	}
	if r := c.do("GET", "/quiet", nil); len(r.header.Values("Vary")) != 0 {
		t.Errorf("a response that did not use the session has Vary %q, want none", r.header.Values("Vary"))
	}
	saves := a.env.store.saves.Load()
	c.set("color", "blue") // unchanged: not rewritten
	if got := a.env.store.saves.Load(); got != saves {
		t.Errorf("an unchanged value was saved again (%d saves, want %d)", got, saves)
	}
	c.set("color", "green")
	if got := c.get("color"); got != "green" {
		t.Errorf("after overwrite read %q, want green", got)
	}
	// Another client has its own session.
	if got := a.client().get("color"); got != "" {
		t.Errorf("a new client reads %q, want nothing", got)
	}
	a.env.noErrors(t)
}

func testLogin(t *testing.T, a *app) {
	c := a.client()
	c.set("cart", "3 apples")
	before := c.cookie()
	if r := c.login("alice", "wrong"); r.code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d %q, want 401", r.code, r.body)
	}
	r := c.login("alice", "wonderland")
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/whoami" {
		t.Fatalf("login = %d (Location %q), want 303 to /whoami", r.code, r.header.Get("Location"))
	}
	after := c.cookie()
	if after == "" || after == before {
		t.Errorf("login did not regenerate the session ID (before %q, after %q)", before, after)
	}
	// The redirect target, fetched at once, finds the login saved.
	if r := c.do("GET", "/whoami", nil); r.body != "alice" {
		t.Errorf("whoami after login = %q, want alice", r.body)
	}
	if got := c.get("cart"); got != "3 apples" {
		t.Errorf("cart after login = %q, want it kept", got)
	}
	// The pre-login ID is dead.
	old := a.client()
	old.jar.SetCookies(mustURL(a.url), []*http.Cookie{{Name: "session", Value: before, Path: "/"}})
	if r := old.do("GET", "/whoami", nil); r.body != "anonymous" {
		t.Errorf("the pre-login session ID still answers as %q", r.body)
	}
	a.env.noErrors(t)
}

func testRequire(t *testing.T, a *app) {
	c := a.client()
	if r := c.do("GET", "/private", nil); r.code != http.StatusSeeOther || r.header.Get("Location") != a.env.Auth.LoginURL("/private") {
		t.Errorf("anonymous GET /private = %d (Location %q), want 303 to %s", r.code, r.header.Get("Location"), a.env.Auth.LoginURL("/private"))
	}
	req, _ := http.NewRequest("GET", a.url+"/private", nil)
	req.Header.Set("Accept", "application/json")
	if resp, err := c.hc.Do(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("anonymous API GET /private = %d (%s), want 401 with JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	c.login("bob", "builder")
	before := a.env.deserialized.Load()
	if r := c.do("GET", "/private", nil); r.code != http.StatusOK || r.body != "bob" {
		t.Errorf("GET /private logged in = %d %q, want 200 bob", r.code, r.body)
	}
	// Require found the user; the handler's User after it must not
	// deserialize again.
	if n := a.env.deserialized.Load() - before; n != 1 {
		t.Errorf("GET /private (Require, then User) deserialized the user %d times, want 1", n)
	}
	a.env.noErrors(t)
}

func testConcurrent(t *testing.T, a *app) {
	c := a.client()
	c.set("seed", "1")
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if r := c.set(fmt.Sprintf("k%d", i), fmt.Sprint(i)); r.code != http.StatusOK {
				t.Errorf("concurrent set %d = %d %q", i, r.code, r.body)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if got := c.get(fmt.Sprintf("k%d", i)); got != fmt.Sprint(i) {
			t.Errorf("k%d = %q after concurrent writes, want %d (lost update)", i, got, i)
		}
	}
	a.env.noErrors(t)
}

func testLate(t *testing.T, a *app) {
	c := a.client()
	r := c.do("GET", "/late?k=x", nil)
	if r.code != http.StatusOK || r.body != "sent" {
		t.Fatalf("GET /late = %d %q", r.code, r.body)
	}
	if r.setCookie() || a.env.store.saves.Load() != 0 {
		t.Errorf("a new session changed after the headers: cookie %v, %d saves; want neither", r.setCookie(), a.env.store.saves.Load())
	}
	if logs := a.env.logs.String(); !strings.Contains(logs, sessionkit.ErrHeadersSent.Error()) {
		t.Errorf("the lost change was not logged; logs:\n%s", logs)
	}
	// On a stored session the late change needs no cookie and is saved,
	// with a warning.
	c.set("x", "early")
	a.env.logs.Reset()
	c.do("GET", "/late?k=x", nil)
	if got := c.get("x"); got != "late" {
		t.Errorf("late change to a stored session: x = %q, want late", got)
	}
	if logs := a.env.logs.String(); !strings.Contains(logs, "after the response headers were sent") {
		t.Errorf("the late change was not reported; logs:\n%s", logs)
	}
}

func testLogout(t *testing.T, a *app) {
	c := a.client()
	c.login("alice", "wonderland")
	loggedIn := c.cookie()
	if r := c.do("POST", "/logout", nil); r.code != http.StatusOK || r.body != "bye" {
		t.Fatalf("logout = %d %q", r.code, r.body)
	}
	if got := c.cookie(); got != "" {
		t.Errorf("after logout the browser still holds the session cookie %q; want it cleared", got)
	}
	if r := c.do("GET", "/whoami", nil); r.body != "anonymous" {
		t.Errorf("whoami after logout = %q", r.body)
	}
	replay := a.client()
	replay.jar.SetCookies(mustURL(a.url), []*http.Cookie{{Name: "session", Value: loggedIn, Path: "/"}})
	if r := replay.do("GET", "/whoami", nil); r.body != "anonymous" {
		t.Errorf("the logged-out session ID still answers as %q", r.body)
	}
	a.env.noErrors(t)
}

// sessionCookie returns the session cookie r sets, or nil.
func (r response) sessionCookie() *http.Cookie {
	for _, line := range r.header.Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == "session" {
			return ck
		}
	}
	return nil
}

func testRenewal(t *testing.T, a *app) {
	c := a.client()
	m := a.env.Manager
	idle := m.IdleTimeout
	renewed := func(step string, r response) {
		t.Helper()
		ck := r.sessionCookie()
		if ck == nil {
			t.Errorf("%s: no cookie sent, want one renewed for %v", step, idle)
			return
		}
		want := a.env.clock.Now().Add(idle)
		if ck.MaxAge != int(idle/time.Second) || ck.Expires.Sub(want).Abs() > time.Second {
			t.Errorf("%s: cookie Max-Age %d, Expires %v; want %d and %v", step, ck.MaxAge, ck.Expires, int(idle/time.Second), want)
		}
	}
	renewed("first write", c.set("k", "1"))
	a.env.clock.advance(m.TouchInterval / 2)
	if r := c.do("GET", "/get?k=k", nil); r.body != "1" || r.sessionCookie() != nil {
		t.Errorf("read within the touch interval = %q, cookie %v; want 1 and no cookie", r.body, r.sessionCookie())
	}
	a.env.clock.advance(m.TouchInterval)
	r := c.do("GET", "/get?k=k", nil)
	if r.body != "1" {
		t.Errorf("read after the touch interval = %q, want 1", r.body)
	}
	renewed("read after the touch interval", r)
	a.env.clock.advance(m.TouchInterval / 4)
	renewed("write within the touch interval", c.set("k", "2"))
	// Idle for longer than the idle timeout: the session is over.
	a.env.clock.advance(idle + time.Second)
	if got := c.get("k"); got != "" {
		t.Errorf("after %v idle the session still holds k = %q", idle, got)
	}
	a.env.noErrors(t)
}

func testStoreDown(t *testing.T, a *app) {
	c := a.client()
	c.set("k", "1")
	c.login("alice", "wonderland")
	a.env.store.down.Store(true)
	for _, req := range []struct{ method, path, handlerBody string }{
		{"GET", "/get?k=k", "1"},
		{"POST", "/set?k=k&v=2", "ok"},
		{"GET", "/whoami", "alice"},
		{"GET", "/private", "alice"},
	} {
		r := c.do(req.method, req.path, nil)
		if r.code != http.StatusServiceUnavailable || strings.Contains(r.body, req.handlerBody) || r.sessionCookie() != nil {
			t.Errorf("store down: %s %s = %d %q (cookie %v); want the ErrorHandler's 503 alone", req.method, req.path, r.code, r.body, r.sessionCookie())
		}
	}
	if r := c.login("bob", "builder"); r.code != http.StatusServiceUnavailable || r.header.Get("Location") != "" || r.sessionCookie() != nil {
		t.Errorf("store down: login = %d (Location %q, cookie %v); want the ErrorHandler's 503 alone", r.code, r.header.Get("Location"), r.sessionCookie())
	}
	if r := c.do("GET", "/quiet", nil); r.code != http.StatusOK || r.body != "quiet" {
		t.Errorf("store down: GET /quiet (no session use) = %d %q, want 200 quiet", r.code, r.body)
	}
	if logs := a.env.logs.String(); !strings.Contains(logs, errStoreDown.Error()) {
		t.Errorf("the store error was not logged; logs:\n%s", logs)
	}
	a.env.store.down.Store(false)
	a.env.logs.Reset()
	if got := c.get("k"); got != "1" {
		t.Errorf("store back: k = %q, want 1 (the refused write changed nothing)", got)
	}
	if r := c.do("GET", "/whoami", nil); r.body != "alice" {
		t.Errorf("store back: whoami = %q, want alice", r.body)
	}
	a.env.noErrors(t)

	// A store that reads but refuses writes: a write gets the 503; a read
	// is answered, also when its touch is refused (the session keeps its
	// earlier expiry, and no cookie goes out).
	a.env.store.writesDown.Store(true)
	if r := c.set("k", "3"); r.code != http.StatusServiceUnavailable || r.body == "ok" || r.sessionCookie() != nil {
		t.Errorf("writes refused: POST /set = %d %q (cookie %v); want the ErrorHandler's 503 alone", r.code, r.body, r.sessionCookie())
	}
	a.env.clock.advance(2 * a.env.Manager.TouchInterval)
	touches := a.env.store.touches.Load()
	r := c.do("GET", "/get?k=k", nil)
	if r.code != http.StatusOK || r.body != "1" || r.sessionCookie() != nil {
		t.Errorf("writes refused: a read due for a touch = %d %q (cookie %v); want 200 1 and no cookie", r.code, r.body, r.sessionCookie())
	}
	if a.env.store.touches.Load() == touches {
		t.Errorf("the read made no touch: the check did not exercise a refused touch")
	}
	a.env.store.writesDown.Store(false)
	if got := c.get("k"); got != "1" {
		t.Errorf("writes back: k = %q, want 1", got)
	}
}

func (e *Env) noErrors(t *testing.T) {
	t.Helper()
	if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "level=WARN") {
		t.Errorf("unexpected errors logged:\n%s", logs)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// Logs returns what the Manager logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// StoreCalls returns the number of store calls so far.
func (e *Env) StoreCalls() (loads, saves int64) { return e.store.loads.Load(), e.store.saves.Load() }

// errStoreDown is what countingStore returns while it is down.
var errStoreDown = errors.New("frameworktest: store down")

// countingStore counts the calls to the store it wraps, and fails them all
// with errStoreDown while down is set, and all but loads while writesDown
// is (a Redis out of memory).
type countingStore struct {
	sessionkit.Store
	loads, saves, touches, deletes atomic.Int64
	down, writesDown               atomic.Bool
}

func (c *countingStore) Load(ctx context.Context, key string) (sessionkit.Record, error) {
	c.loads.Add(1)
	if c.down.Load() {
		return sessionkit.Record{}, errStoreDown
	}
	return c.Store.Load(ctx, key)
}

func (c *countingStore) Save(ctx context.Context, key string, rec sessionkit.Record) (uint64, error) {
	c.saves.Add(1)
	if c.down.Load() || c.writesDown.Load() {
		return 0, errStoreDown
	}
	return c.Store.Save(ctx, key, rec)
}

func (c *countingStore) Touch(ctx context.Context, key string, exp time.Time) error {
	c.touches.Add(1)
	if c.down.Load() || c.writesDown.Load() {
		return errStoreDown
	}
	return c.Store.Touch(ctx, key, exp)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	if c.down.Load() || c.writesDown.Load() {
		return errStoreDown
	}
	return c.Store.Delete(ctx, key)
}

func (c *countingStore) calls() int64 {
	return c.loads.Load() + c.saves.Load() + c.touches.Load() + c.deletes.Load()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// RunMisuse checks that an app mounted so that its handlers write around
// the session's writer (the framework middleware that only passes the
// session's request on) is reported on the first request and stores no
// orphan sessions. The app must serve POST /set as Run describes.
func RunMisuse(t *testing.T, newApp func(t *testing.T, e *Env) http.Handler) {
	env := NewEnv(t)
	srv := httptest.NewServer(newApp(t, env))
	t.Cleanup(srv.Close)
	a := &app{t: t, env: env, url: srv.URL}
	c := a.client()
	for i := range 2 {
		r := c.set("k", fmt.Sprint(i))
		if r.code != http.StatusOK {
			t.Fatalf("POST /set = %d %q", r.code, r.body)
		}
		if r.setCookie() {
			t.Fatalf("a cookie went out around the session's writer")
		}
	}
	if _, saves := env.StoreCalls(); saves != 0 {
		t.Errorf("%d orphan sessions stored", saves)
	}
	if n := strings.Count(env.Logs(), "written around the writer Manager.Handler gave the handler"); n != 2 {
		t.Errorf("the bypass was logged %d times in 2 requests, want 2; logs:\n%s", n, env.Logs())
	}
	if n := strings.Count(env.Logs(), sessionkit.ErrHeadersSent.Error()); n != 2 {
		t.Errorf("the lost new sessions were reported %d times in 2 requests, want 2 (ErrHeadersSent); logs:\n%s", n, env.Logs())
	}

	// An existing session (made through a correct mount on the same host,
	// so the browser sends its cookie to both) keeps the change the
	// misused app makes, with a warning; no cookie goes out.
	ref := httptest.NewServer(ServeMux(env))
	t.Cleanup(ref.Close)
	good := &app{t: t, env: env, url: ref.URL}
	seeded := &client{a: good, jar: c.jar, hc: c.hc}
	if r := seeded.set("k", "seeded"); !r.setCookie() {
		t.Fatal("the correct mount sent no cookie")
	}
	env.logs.Reset()
	if r := c.set("k", "changed"); r.code != http.StatusOK || r.setCookie() {
		t.Errorf("misused app on an existing session: POST /set = %d, cookie %v; want 200 and no cookie", r.code, r.setCookie())
	}
	if got := seeded.get("k"); got != "changed" {
		t.Errorf("the existing session's change was not saved: k = %q", got)
	}
	if logs := env.Logs(); !strings.Contains(logs, "written around the writer Manager.Handler gave the handler") || !strings.Contains(logs, "level=WARN") {
		t.Errorf("the change to an existing session was not reported (bypass error and a warning); logs:\n%s", logs)
	}
}

// Bench measures a request that reads one value of an existing session
// (GET /get?k=n) through h, called directly with a recorder; h is built
// like Run's apps. Compare adapters with the same Bench over net/http's
// ServeMux.
func Bench(b *testing.B, h http.Handler) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/set?k=n&v=1", nil))
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Name == "session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		b.Fatalf("seeding a session set no cookie (status %d)", rec.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/get?k=n", nil)
		req.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Body.String() != "1" {
			b.Fatalf("GET /get = %d %q", w.Code, w.Body.String())
		}
	}
	ReportCPU(b, cpu)
}

// ReportCPU reports the process CPU time used since start per operation,
// as cpu-ns/op: on a shared machine, steadier than wall time.
func ReportCPU(b *testing.B, start time.Duration) {
	if used := processCPU() - start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// ProcessCPU is the process's CPU time so far, for ReportCPU.
func ProcessCPU() time.Duration { return processCPU() }

// ServeMux is the reference app on net/http's ServeMux: the routes Run
// needs (Routes), wrapped in e.Auth.Handler.
func ServeMux(e *Env) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range Routes(e) {
		mux.Handle(rt.Method+" "+rt.Path, rt.Handler)
	}
	return e.Auth.Handler(mux)
}

// Route is one of the routes Run needs, as a net/http handler.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// Routes returns the routes Run needs as net/http handlers, for routers
// that take net/http handlers (chi, gorilla/mux). Mount them behind
// e.Auth.Handler (or e.Manager.Handler).
func Routes(e *Env) []Route {
	mux := routeList{}
	mux.HandleFunc("GET /quiet", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "quiet") })
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionkit.From(r.Context()).Set(r.URL.Query().Get("k"), r.URL.Query().Get("v")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := sessionkit.Get[string](sessionkit.From(r.Context()), r.URL.Query().Get("k"))
		io.WriteString(w, v)
	})
	mux.HandleFunc("GET /late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "sent")
		sessionkit.From(r.Context()).Set(r.URL.Query().Get("k"), "late")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u, ok := e.Check(r.PostFormValue("username"), r.PostFormValue("password"))
		if !ok {
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		if err := e.Auth.Login(w, r, u); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/whoami", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Auth.Logout(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		u, err := e.Auth.User(r)
		if err != nil {
			io.WriteString(w, "anonymous")
			return
		}
		io.WriteString(w, u.Name)
	})
	mux.Handle("GET /private", e.Auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := e.Auth.User(r)
		io.WriteString(w, u.Name)
	})))
	return mux
}

type routeList []Route

func (l *routeList) Handle(pattern string, h http.Handler) {
	method, path, _ := strings.Cut(pattern, " ")
	*l = append(*l, Route{Method: method, Path: path, Handler: h})
}

func (l *routeList) HandleFunc(pattern string, h http.HandlerFunc) { l.Handle(pattern, h) }
