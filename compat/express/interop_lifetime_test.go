package express_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
)

// runInteropSuite runs every scenario shared with the Node app on one store.
func runInteropSuite(t *testing.T, store sessionkit.Store, nodeURL string) {
	t.Run("Sharing", func(t *testing.T) { runInterop(t, store, nodeURL) })
	t.Run("Lifetime", func(t *testing.T) { runLifetimeInterop(t, store, nodeURL) })
}

// cookieObject is the cookie object of a stored express-session record.
type cookieObject struct {
	OriginalMaxAge *int64  `json:"originalMaxAge"`
	Expires        *string `json:"expires"`
}

func storedCookie(t *testing.T, store sessionkit.Store, sid string) (sessionkit.Record, cookieObject) {
	t.Helper()
	rec, err := store.Load(context.Background(), sid)
	if err != nil {
		t.Fatalf("load %s: %v", sid, err)
	}
	var sess struct {
		Cookie cookieObject `json:"cookie"`
	}
	if err := json.Unmarshal(rec.Data, &sess); err != nil {
		t.Fatalf("stored record %s: %v", rec.Data, err)
	}
	return rec, sess.Cookie
}

// near fails unless got is within tol of want.
func near(t *testing.T, what string, got, want time.Time, tol time.Duration) {
	t.Helper()
	if d := got.Sub(want); d < -tol || d > tol {
		t.Fatalf("%s = %v, want %v ± %v (off by %v)", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), tol, d)
	}
}

// sessionCookieValue returns the connect.sid value the jar holds for base.
func (c *client) sessionCookieValue(base string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == express.DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

// runLifetimeInterop checks that the Go side keeps the lifetime the Node
// side set for one session (req.session.cookie.maxAge), as express-session
// itself would: every use moves expires to now + originalMaxAge, with the
// store's TTL to match. The Go app's default is one hour.
func runLifetimeInterop(t *testing.T, store sessionkit.Store, nodeURL string) {
	goURL := goApp(t, store).URL
	login := func(c *client) string {
		c.do("POST", nodeURL+"/login", url.Values{"username": {"ann"}, "password": {"pw1"}})
		return c.get(nodeURL + "/whoami")["id"].(string)
	}
	whoami := func(c *client, base string) any { return c.get(base + "/whoami")["user"] }

	t.Run("ShortMaxAgeIsNotStretchedByGoReads", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		sid := login(c)
		c.post(nodeURL + "/maxage?ms=2000")
		cookie := c.sessionCookieValue(nodeURL)
		// Past a quarter of the 2 s idle timeout: a Go read touches the
		// session, and must touch it to now + 2 s, not to Go's hour.
		time.Sleep(800 * time.Millisecond)
		if got := whoami(c, goURL); got != "ann" {
			t.Fatalf("go sees user %v", got)
		}
		rec, ck := storedCookie(t, store, sid)
		near(t, "store expiry after a Go read", rec.Expiry, time.Now().Add(2*time.Second), 700*time.Millisecond)
		if ck.OriginalMaxAge == nil || *ck.OriginalMaxAge > 2000 || *ck.OriginalMaxAge < 1999 {
			t.Fatalf("stored originalMaxAge = %v, want 2000", ck.OriginalMaxAge)
		}
		time.Sleep(2500 * time.Millisecond)
		// Idle for longer than its maxAge: gone on both sides, also for a
		// client that replays the old cookie.
		c.setCookie(goURL, cookie)
		if got := whoami(c, goURL); got != nil {
			t.Fatalf("go still sees user %v after the session's 2 s maxAge", got)
		}
		c.setCookie(nodeURL, cookie)
		if got := whoami(c, nodeURL); got != nil {
			t.Fatalf("node still sees user %v after the session's 2 s maxAge", got)
		}
		if _, err := store.Load(context.Background(), sid); !errors.Is(err, sessionkit.ErrNotFound) {
			t.Fatalf("store still has the session after its maxAge: %v", err)
		}
	})

	t.Run("LongMaxAgeIsKeptByGoWrites", func(t *testing.T) {
		t.Parallel()
		const month = 30 * 24 * time.Hour
		c := newClient(t)
		sid := login(c)
		c.post(nodeURL + "/maxage?ms=" + "2592000000")

		before, _ := storedCookie(t, store, sid)
		// A Go write: the record keeps Node's originalMaxAge and expires
		// a month from now, as express-session would write it.
		req, _ := http.NewRequest("POST", goURL+"/set?k=n&v=1", nil)
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		now := time.Now()
		rec, ck := storedCookie(t, store, sid)
		if ck.OriginalMaxAge == nil || *ck.OriginalMaxAge < 2592000000-1 || *ck.OriginalMaxAge > 2592000000 {
			t.Fatalf("stored originalMaxAge after a Go write = %v, want 30 days: %s", ck.OriginalMaxAge, rec.Data)
		}
		if ck.Expires == nil {
			t.Fatalf("stored expires is null after a Go write: %s", rec.Data)
		}
		exp, err := time.Parse(time.RFC3339Nano, *ck.Expires)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "stored cookie.expires", exp, now.Add(month), time.Minute)
		near(t, "store expiry", rec.Expiry, now.Add(month), time.Minute)
		// The Go response renewed the browser's cookie for the month too.
		var setCookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == express.DefaultCookieName {
				setCookie = ck
			}
		}
		// Unless the write left the store's expiry where it was: Node's
		// connect-pg-simple rounds expire up to the second, and a Go
		// write that lands on that very millisecond does not move it
		// (about one run in a thousand), so the cookie needs no renewal.
		if setCookie == nil && rec.Expiry.Equal(before.Expiry) {
			t.Logf("the Go write left the expiry at %v: no Set-Cookie needed", rec.Expiry)
		} else if setCookie == nil || setCookie.MaxAge < int((month-time.Minute).Seconds()) {
			t.Fatalf("Go's Set-Cookie after a write = %v, want Max-Age of 30 days", setCookie)
		}
		for _, base := range []string{goURL, nodeURL} {
			if got := whoami(c, base); got != "ann" {
				t.Fatalf("%s: user %v after a Go write", base, got)
			}
		}
		if _, ck := storedCookie(t, store, sid); ck.OriginalMaxAge == nil || *ck.OriginalMaxAge < 2592000000-1 {
			t.Fatalf("originalMaxAge after Node read Go's write = %v", ck.OriginalMaxAge)
		}
	})

	t.Run("MaxAgeSetByGoIsKeptByNode", func(t *testing.T) {
		t.Parallel()
		const tenDays = 10 * 24 * time.Hour
		c := newClient(t)
		sid := login(c)
		c.post(goURL + "/maxage?d=240h")
		rec, ck := storedCookie(t, store, sid)
		if ck.OriginalMaxAge == nil || *ck.OriginalMaxAge != tenDays.Milliseconds() {
			t.Fatalf("originalMaxAge after Go's SetIdleTimeout(240h) = %v: %s", ck.OriginalMaxAge, rec.Data)
		}
		near(t, "store expiry", rec.Expiry, time.Now().Add(tenDays), time.Minute)
		// Node saves the session again (a change): it keeps the maxAge.
		c.post(nodeURL + "/set?k=n&v=3")
		rec, ck = storedCookie(t, store, sid)
		if ck.OriginalMaxAge == nil || *ck.OriginalMaxAge < tenDays.Milliseconds()-1 {
			t.Fatalf("originalMaxAge after a Node write = %v: %s", ck.OriginalMaxAge, rec.Data)
		}
		near(t, "store expiry after a Node write", rec.Expiry, time.Now().Add(tenDays), time.Minute)
		if got := whoami(c, goURL); got != "ann" {
			t.Fatalf("go: user %v", got)
		}
	})

	t.Run("BrowserSessionCookieFromNode", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		sid := login(c)
		c.post(nodeURL + "/maxage?ms=null")
		c.post(goURL + "/set?k=n&v=2")
		rec, ck := storedCookie(t, store, sid)
		if ck.OriginalMaxAge != nil || ck.Expires != nil {
			t.Fatalf("a browser-session cookie got a lifetime from a Go write: %s", rec.Data)
		}
		// Kept for the stores' ttl (one day), not Go's one-hour maxAge.
		near(t, "store expiry", rec.Expiry, time.Now().Add(express.DefaultTTL), time.Minute)
		if got := whoami(c, nodeURL); got != "ann" {
			t.Fatalf("node: user %v", got)
		}
		if !strings.Contains(string(rec.Data), `"n":2`) {
			t.Fatalf("go's value missing: %s", rec.Data)
		}
	})
}
