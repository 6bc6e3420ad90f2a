package storetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/browser"
)

// ManagerFactory returns a Manager over a fresh, isolated store: a
// server-side one (sessionkit.New) or a client-side one
// (sessionkit.NewClientSide). now is the test's clock; give it to the
// store where the store reads a clock of its own (memstore.Options.Now,
// cookiestore.Options.Now). RunLifetime sets the Manager's clock, timing
// and proxy fields itself.
type ManagerFactory func(t *testing.T, now func() time.Time) *sessionkit.Manager

// RunLifetime checks sessions from the client's side: a browser-like
// client with a cookie jar that honours Max-Age, Expires and Secure talks
// to a real HTTP server, and the server and the jar share one fake clock,
// so hours of a session's life take no time. Every store kind runs it:
//
//   - a user who writes on every request, or only reads, stays signed in
//     over many idle periods;
//   - an idle user is signed out on time (not earlier than the throttle
//     allows, not later), in the browser and on the server;
//   - the absolute lifetime ends even a busy session;
//   - remember-me and browser-session cookies across a browser restart;
//   - a per-session idle timeout shorter and longer than the default, and
//     a per-session deadline;
//   - a touch interval longer than the idle timeout;
//   - each Rolling mode;
//   - behind a trusted and an untrusted TLS-terminating proxy;
//   - on every response: the cookie's expiry never passes the session's,
//     and a response that sets the cookie is never cacheable by a shared
//     cache.
//
// The clock only moves forward from the wall clock's now, so a store that
// reads its own clock keeps records at least as long as the Manager does;
// the Manager's own expiry check is what signs users out.
func RunLifetime(t *testing.T, newManager ManagerFactory) {
	t.Helper()
	for _, tc := range lifetimeTests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newJourney(t, newManager, tc.configure))
		})
	}
}

var lifetimeTests = []struct {
	name      string
	configure func(*sessionkit.Manager)
	fn        func(*testing.T, *journey)
}{
	{"ActiveWriterStaysSignedIn", nil, testActiveWriter},
	{"ActiveReaderStaysSignedIn", nil, testActiveReader},
	{"IdleSignedOutOnTime", nil, testIdleSignedOut},
	{"AbsoluteLifetimeEndsBusySession", func(m *sessionkit.Manager) { m.Lifetime = 2 * time.Hour }, testAbsoluteLifetime},
	{"RememberMeAndBrowserSession", nil, testRememberMe},
	{"PerSessionIdleTimeoutShorter", nil, testPerSessionShorter},
	{"PerSessionLifetimeLonger", nil, testPerSessionLonger},
	{"TouchIntervalAboveIdleTimeout", func(m *sessionkit.Manager) {
		m.IdleTimeout = 2 * time.Second
		m.TouchInterval = time.Minute
	}, testFastUse},
	{"ExplicitTouch", nil, testExplicitTouch},
	{"RollingAlways", func(m *sessionkit.Manager) { m.Rolling = sessionkit.RollingAlways }, testRollingAlways},
	{"RollingNever", func(m *sessionkit.Manager) { m.Rolling = sessionkit.RollingNever }, testRollingNever},
	{"RollingOnWrite", func(m *sessionkit.Manager) { m.Rolling = sessionkit.RollingOnWrite }, testRollingOnWrite},
	{"BehindTrustedProxy", func(m *sessionkit.Manager) { m.Proxies = mustProxies("127.0.0.1", "::1") }, testTrustedProxy},
	{"BehindUntrustedProxy", func(m *sessionkit.Manager) { m.Proxies = mustProxies("10.0.0.0/8") }, testUntrustedProxy},
}

// The journeys' defaults: the README's quick start.
const (
	idle     = 30 * time.Minute
	lifetime = 24 * time.Hour
)

// journey is one browser and one server sharing a fake clock.
type journey struct {
	t      *testing.T
	clock  *browser.Clock
	begin  time.Time
	m      *sessionkit.Manager
	srv    *httptest.Server
	client *browser.Client
}

func newJourney(t *testing.T, newManager ManagerFactory, configure func(*sessionkit.Manager)) *journey {
	j := &journey{t: t, clock: browser.NewClock()}
	j.begin = j.clock.Now()
	j.m = newManager(t, j.clock.Now)
	j.m.Now = j.clock.Now
	j.m.IdleTimeout = idle
	j.m.Lifetime = lifetime
	j.m.TouchInterval = time.Minute
	j.m.Persistent = true
	if configure != nil {
		configure(j.m)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		j.check(s.Set("user", "ann"))
		j.check(s.Set("n", 0))
		if r.URL.Query().Get("remember") == "0" {
			j.check(s.RememberMe(false))
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		if !s.Has("user") {
			fmt.Fprint(w, "signed out")
			return
		}
		n, err := sessionkit.Get[int](s, "n")
		j.check(err)
		j.check(s.Set("n", n+1))
		fmt.Fprintf(w, "ann %d", n+1)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		user, err := sessionkit.Get[string](s, "user")
		j.check(err)
		if user == "" {
			fmt.Fprint(w, "signed out")
			return
		}
		n, err := sessionkit.Get[int](s, "n")
		j.check(err)
		fmt.Fprintf(w, "%s %d", user, n)
	})
	mux.HandleFunc("POST /lifetime", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		q := r.URL.Query()
		if v := q.Get("idle"); v != "" {
			d, err := time.ParseDuration(v)
			j.check(err)
			j.check(s.SetIdleTimeout(d))
		}
		if v := q.Get("deadline"); v != "" {
			d, err := time.ParseDuration(v)
			j.check(err)
			j.check(s.SetDeadline(j.clock.Now().Add(d)))
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /touch", func(w http.ResponseWriter, r *http.Request) {
		j.check(sessionkit.From(r.Context()).Touch())
		fmt.Fprint(w, "ok")
	})
	j.srv = httptest.NewServer(j.m.Handler(mux))
	t.Cleanup(j.srv.Close)
	j.client = j.newClient()
	return j
}

// newClient returns a browser with its own jar on the journey's clock,
// checking on every response what must always hold.
func (j *journey) newClient() *browser.Client {
	c, err := browser.NewClient(j.srv.URL, j.clock.Now)
	if err != nil {
		j.t.Fatal(err)
	}
	c.Check = j.checkResponse
	return c
}

func (j *journey) check(err error) {
	if err != nil {
		j.t.Error(err)
	}
}

// checkResponse asserts what every response must satisfy: a session
// cookie's Max-Age and Expires agree on the server's clock, and a
// response that sets it is never storable by a shared cache (RFC 9111).
func (j *journey) checkResponse(resp *http.Response) {
	j.t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name != j.m.Cookie.Name {
			continue
		}
		cc := strings.ToLower(strings.Join(resp.Header.Values("Cache-Control"), ","))
		if !strings.Contains(cc, "private") && !strings.Contains(cc, "no-store") {
			j.t.Errorf("%s %s: Set-Cookie with Cache-Control %q: a shared cache may store it", resp.Request.Method, resp.Request.URL.Path, cc)
		}
		if !varies(resp.Header, "Cookie") {
			j.t.Errorf("%s %s: Set-Cookie without Vary: Cookie", resp.Request.Method, resp.Request.URL.Path)
		}
		if c.MaxAge > 0 && !c.Expires.IsZero() {
			// Max-Age counts from the server's clock, as Expires does.
			if d := c.Expires.Sub(j.clock.Now().Add(time.Duration(c.MaxAge) * time.Second)); d < -time.Second || d > time.Second {
				j.t.Errorf("cookie Max-Age=%d disagrees with Expires=%v by %v", c.MaxAge, c.Expires, d)
			}
		}
	}
}

func varies(h http.Header, field string) bool {
	for _, line := range h.Values("Vary") {
		for v := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(v), field) {
				return true
			}
		}
	}
	return false
}

// do sends a request from the journey's browser and returns the body.
func (j *journey) do(method, path string) string {
	j.t.Helper()
	return j.doWith(j.client, method, path)
}

func (j *journey) doWith(c *browser.Client, method, path string) string {
	j.t.Helper()
	resp, body, err := c.Do(method, path)
	if err != nil {
		j.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		j.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	return body
}

func (j *journey) want(method, path, want string) {
	j.t.Helper()
	if got := j.do(method, path); got != want {
		j.t.Fatalf("at +%v: %s %s = %q, want %q", j.elapsed(), method, path, got, want)
	}
}

// elapsed is the journey's time so far, for messages.
func (j *journey) elapsed() time.Duration {
	return j.clock.Now().Sub(j.begin).Round(time.Millisecond)
}

// replay sends the session cookie value the browser held earlier, as a
// copied or restored cookie would arrive, and returns the body.
func (j *journey) replay(path, value string) string {
	j.t.Helper()
	c := j.newClient()
	c.Jar.SetCookies(c.Public, []*http.Cookie{{Name: j.m.Cookie.Name, Value: value, Path: "/"}})
	return j.doWith(c, "GET", path)
}

// cookie returns the session cookie the browser holds, if any.
func (j *journey) cookie() (browser.Cookie, bool) {
	return j.client.Cookie(j.m.Cookie.Name)
}

func (j *journey) wantCookie() browser.Cookie {
	j.t.Helper()
	c, ok := j.cookie()
	if !ok {
		j.t.Fatal("the browser holds no session cookie")
	}
	return c
}

// An active user who changes the session on every request, every ten
// minutes for ten hours (twenty idle periods), stays signed in: each
// write moves the expiry, and the cookie's with it.
func testActiveWriter(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	for i := 1; i <= 60; i++ {
		j.clock.Advance(10 * time.Minute)
		j.want("POST", "/write", "ann "+strconv.Itoa(i))
	}
	c := j.wantCookie()
	if left := c.Expires.Sub(j.clock.Now()); left < idle-time.Second {
		t.Fatalf("cookie expires in %v after a write, want the idle timeout %v", left, idle)
	}
}

// A user who only reads stays signed in too: reads touch the expiry at
// most once per touch interval, and each touch renews the cookie.
func testActiveReader(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	for i := 0; i < 60; i++ {
		j.clock.Advance(10 * time.Minute)
		j.want("GET", "/read", "ann 0")
	}
	// Reads closer together than the touch interval are not touches, but
	// the user stays signed in through them.
	for i := 0; i < 20; i++ {
		j.clock.Advance(5 * time.Second)
		j.want("GET", "/read", "ann 0")
	}
	if left := j.wantCookie().Expires.Sub(j.clock.Now()); left < idle-time.Minute-time.Second {
		t.Fatalf("cookie expires in %v, want at least idle − touch interval", left)
	}
}

// An idle user is signed out when the idle timeout has passed since the
// last use, not before: the browser drops the cookie, and a copy of it is
// refused by the server.
func testIdleSignedOut(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	j.clock.Advance(5 * time.Minute)
	j.want("POST", "/write", "ann 1")
	value := j.wantCookie().Value

	j.clock.Advance(idle - time.Second)
	j.want("GET", "/read", "ann 1") // still in: the expiry is last use + idle

	j.clock.Advance(idle + time.Second)
	if _, ok := j.cookie(); ok {
		t.Fatal("the browser still holds the cookie after the idle timeout")
	}
	j.want("GET", "/read", "signed out")
	if got := j.replay("/read", value); got != "signed out" {
		t.Fatalf("a copy of the idle session's cookie still works: %q", got)
	}
}

// The absolute lifetime ends a session however busy it is, and the cookie
// never outlives it.
func testAbsoluteLifetime(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	loginAt := j.clock.Now()
	value := j.wantCookie().Value
	for i := 1; j.clock.Now().Add(10 * time.Minute).Before(loginAt.Add(2 * time.Hour)); i++ {
		j.clock.Advance(10 * time.Minute)
		j.want("POST", "/write", "ann "+strconv.Itoa(i))
		if exp := j.wantCookie().Expires; exp.After(loginAt.Add(2*time.Hour + time.Second)) {
			t.Fatalf("cookie expires at +%v, after the 2h lifetime", exp.Sub(loginAt))
		}
	}
	j.clock.Advance(loginAt.Add(2*time.Hour + time.Second).Sub(j.clock.Now()))
	j.want("POST", "/write", "signed out")
	if got := j.replay("/read", value); got != "signed out" {
		t.Fatalf("the session outlived its absolute lifetime: %q", got)
	}
}

// A remember-me cookie survives a browser restart; a browser-session
// cookie does not. Both keep the idle timeout on the server.
func testRememberMe(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	if c := j.wantCookie(); c.Expires.IsZero() {
		t.Fatal("a persistent session got a browser-session cookie")
	}
	j.client.Jar.Restart()
	j.want("GET", "/read", "ann 0")

	other := j.newClient()
	j.doWith(other, "POST", "/login?remember=0")
	c, ok := other.Cookie(j.m.Cookie.Name)
	if !ok || !c.Expires.IsZero() {
		t.Fatalf("a browser-session login got cookie %+v", c)
	}
	j.clock.Advance(10 * time.Minute)
	if got := j.doWith(other, "POST", "/write"); got != "ann 1" {
		t.Fatalf("browser-session write = %q", got)
	}
	if c, _ := other.Cookie(j.m.Cookie.Name); !c.Expires.IsZero() {
		t.Fatal("a write made a browser-session cookie persistent")
	}
	other.Jar.Restart()
	if got := j.doWith(other, "GET", "/read"); got != "signed out" {
		t.Fatalf("a browser-session cookie survived a restart: %q", got)
	}
	// On the server it still ends after the idle timeout.
	j.clock.Advance(idle + time.Second)
	j.want("GET", "/read", "signed out")
}

// A session given a shorter idle timeout than the default ends after it.
func testPerSessionShorter(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	j.want("POST", "/lifetime?idle=5m", "ok")
	if left := j.wantCookie().Expires.Sub(j.clock.Now()); left > 5*time.Minute+time.Second {
		t.Fatalf("cookie expires in %v after SetIdleTimeout(5m)", left)
	}
	for i := 1; i <= 10; i++ {
		j.clock.Advance(4 * time.Minute)
		j.want("GET", "/read", "ann 0")
	}
	j.clock.Advance(5*time.Minute + time.Second)
	j.want("GET", "/read", "signed out")

	// The default still applies to other sessions.
	other := j.newClient()
	j.doWith(other, "POST", "/login")
	j.clock.Advance(20 * time.Minute)
	if got := j.doWith(other, "GET", "/read"); got != "ann 0" {
		t.Fatalf("a default session after 20 minutes: %q", got)
	}
}

// A "remember me" session with a longer idle timeout and deadline than
// the defaults outlives both, and is kept by the store and the cookie for
// that long.
func testPerSessionLonger(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	j.want("POST", "/lifetime?idle=72h&deadline=720h", "ok")
	if left := j.wantCookie().Expires.Sub(j.clock.Now()); left < 72*time.Hour-time.Second {
		t.Fatalf("cookie expires in %v after SetIdleTimeout(72h)", left)
	}
	for i := 0; i < 5; i++ {
		j.clock.Advance(48 * time.Hour) // longer than the default idle timeout and lifetime
		j.want("GET", "/read", "ann 0")
	}
	j.clock.Advance(72*time.Hour + time.Second)
	j.want("GET", "/read", "signed out")

	// The deadline ends it even when busy.
	other := j.newClient()
	j.doWith(other, "POST", "/login")
	j.doWith(other, "POST", "/lifetime?idle=72h&deadline=100h")
	for i := 1; i <= 4; i++ {
		j.clock.Advance(24 * time.Hour)
		if got := j.doWith(other, "POST", "/write"); got != "ann "+strconv.Itoa(i) {
			t.Fatalf("day %d: %q", i, got)
		}
	}
	if c, _ := other.Cookie(j.m.Cookie.Name); c.Expires.After(j.clock.Now().Add(4*time.Hour + time.Second)) {
		t.Fatalf("cookie expires at %v, after the session's deadline", c.Expires)
	}
	j.clock.Advance(4*time.Hour + time.Second)
	if got := j.doWith(other, "POST", "/write"); got != "signed out" {
		t.Fatalf("after the deadline: %q", got)
	}
}

// With a touch interval longer than the idle timeout (2 s idle, 1 min
// interval), a session used every 0.4 s stays alive: the throttle used is
// at most a quarter of the idle timeout.
func testFastUse(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	for i := 0; i < 50; i++ {
		j.clock.Advance(400 * time.Millisecond)
		j.want("GET", "/read", "ann 0")
	}
	j.clock.Advance(2*time.Second + time.Millisecond)
	j.want("GET", "/read", "signed out")
}

// Touch extends a session on a route that does not read it.
func testExplicitTouch(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	for i := 0; i < 10; i++ {
		j.clock.Advance(20 * time.Minute)
		j.want("GET", "/touch", "ok")
		if left := j.wantCookie().Expires.Sub(j.clock.Now()); left < idle-time.Second {
			t.Fatalf("cookie expires in %v after Touch, want %v", left, idle)
		}
	}
	j.want("GET", "/read", "ann 0")
}

// RollingAlways sends the cookie on every response that uses the session
// and extends the expiry exactly, with no throttle.
func testRollingAlways(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	for i := 0; i < 10; i++ {
		j.clock.Advance(idle - time.Second)
		resp, body, err := j.client.Do("GET", "/read")
		if err != nil || body != "ann 0" {
			t.Fatalf("read %d: %q %v", i, body, err)
		}
		if len(resp.Header.Values("Set-Cookie")) == 0 {
			t.Fatalf("read %d sent no cookie under RollingAlways", i)
		}
		if left := j.wantCookie().Expires.Sub(j.clock.Now()); left < idle-time.Second {
			t.Fatalf("cookie expires in %v, want %v", left, idle)
		}
	}
	// Exactly idle after the last use: signed out.
	j.clock.Advance(idle)
	j.want("GET", "/read", "signed out")
}

// RollingNever fixes the expiry at creation: a busy session ends at
// Created + idle timeout, and writes do not move the cookie's expiry.
func testRollingNever(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	exp := j.wantCookie().Expires
	for i := 1; i <= 2; i++ {
		j.clock.Advance(10 * time.Minute)
		resp, body, err := j.client.Do("POST", "/write")
		if err != nil || body != "ann "+strconv.Itoa(i) {
			t.Fatalf("write %d: %q %v", i, body, err)
		}
		// A server-side session's cookie is not sent again; a client-side
		// one is (it holds the data), with the same expiry.
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 && j.m.Store() != nil {
			t.Fatalf("write %d sent %v under RollingNever", i, sc)
		}
		if got := j.wantCookie().Expires; !got.Equal(exp) {
			t.Fatalf("write %d moved the cookie's expiry from %v to %v", i, exp, got)
		}
	}
	if got := j.wantCookie().Expires; !got.Equal(exp) {
		t.Fatalf("cookie expiry moved from %v to %v", exp, got)
	}
	j.clock.Advance(10*time.Minute + time.Second)
	j.want("POST", "/write", "signed out")
}

// RollingOnWrite extends a session only when a request changes it: reads
// neither move the cookie's expiry nor keep the session alive, each write
// moves both to now + idle timeout.
func testRollingOnWrite(t *testing.T, j *journey) {
	j.want("POST", "/login", "ok")
	for i := 1; i <= 3; i++ {
		exp := j.wantCookie().Expires
		j.clock.Advance(idle / 2)
		resp, body, err := j.client.Do("GET", "/read")
		if err != nil || body != "ann "+strconv.Itoa(i-1) {
			t.Fatalf("read %d: %q %v", i, body, err)
		}
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Fatalf("read %d sent %v under RollingOnWrite", i, sc)
		}
		if got := j.wantCookie().Expires; !got.Equal(exp) {
			t.Fatalf("read %d moved the cookie's expiry from %v to %v", i, exp, got)
		}
		j.clock.Advance(idle / 4)
		if _, body, err := j.client.Do("POST", "/write"); err != nil || body != "ann "+strconv.Itoa(i) {
			t.Fatalf("write %d: %q %v", i, body, err)
		}
		if left := j.wantCookie().Expires.Sub(j.clock.Now()); left < idle-time.Second {
			t.Fatalf("cookie expires in %v after write %d, want %v", left, i, idle)
		}
	}
	// Read, read, read: the last write's idle timeout still ends it.
	for i := 0; i < 3; i++ {
		j.clock.Advance(idle / 4)
		j.want("GET", "/read", "ann 3")
	}
	j.clock.Advance(idle/4 + time.Second)
	j.want("GET", "/read", "signed out")
}

// Behind a TLS-terminating proxy that Manager.Proxies trusts, cookies are
// Secure, and the browser on https keeps using them.
func testTrustedProxy(t *testing.T, j *journey) {
	c := j.newClient()
	c.Public = mustURL(t, "https://app.example/")
	c.Header.Set("X-Forwarded-Proto", "https")
	j.doWith(c, "POST", "/login")
	ck, ok := c.Cookie(j.m.Cookie.Name)
	if !ok || !ck.Secure {
		t.Fatalf("cookie behind a trusted https proxy = %+v, want Secure", ck)
	}
	for i := 1; i <= 10; i++ {
		j.clock.Advance(20 * time.Minute)
		if got := j.doWith(c, "POST", "/write"); got != "ann "+strconv.Itoa(i) {
			t.Fatalf("write %d behind the proxy: %q", i, got)
		}
	}
}

// A peer that is not a trusted proxy cannot make cookies Secure by
// sending X-Forwarded-Proto; its plain-http browser keeps the session.
func testUntrustedProxy(t *testing.T, j *journey) {
	c := j.newClient()
	c.Header.Set("X-Forwarded-Proto", "https")
	j.doWith(c, "POST", "/login")
	ck, ok := c.Cookie(j.m.Cookie.Name)
	if !ok || ck.Secure {
		t.Fatalf("cookie with X-Forwarded-Proto from an untrusted peer = %+v (ok %v), want not Secure", ck, ok)
	}
	j.clock.Advance(20 * time.Minute)
	if got := j.doWith(c, "POST", "/write"); got != "ann 1" {
		t.Fatalf("write: %q", got)
	}
}

func mustProxies(cidrs ...string) *sessionkit.TrustedProxies {
	p, err := sessionkit.NewTrustedProxies(cidrs...)
	if err != nil {
		panic(err) // the suite's own constants
	}
	return p
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
