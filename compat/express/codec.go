package express

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
)

// Codec reads and writes express-session's stored session: the JSON of
// JSON.stringify(req.session), a "cookie" object followed by the
// application's keys:
//
//	{"cookie":{"originalMaxAge":86400000,"expires":"2026-11-23T23:27:29.761Z","httpOnly":true,"path":"/"},"passport":{"user":42}}
//
// Every key other than "cookie" is a session value. A record Decode read
// is written back by Encode with its keys in their order, the values the
// Go side did not change byte for byte, and the cookie object as it was
// except for "expires" and "originalMaxAge", which are updated as
// express-session updates them.
//
// The cookie object is also the session's lifetime, which the Go side
// follows as express-session does: a session whose originalMaxAge is a
// number (set by cookie.maxAge, globally or per session) has that idle
// timeout and a persistent cookie, and every use moves its expiry to now
// + originalMaxAge; a session whose originalMaxAge is null has a
// browser-session cookie and is kept by the store for TTL after its last
// use, as connect-redis, connect-pg-simple and connect-mongo keep it.
// Decode reports them as State.IdleTimeout and State.Persistent, and
// Encode writes them back; Session.SetIdleTimeout and
// Session.RememberMe change them from Go. New and changed values are printed as
// JSON.stringify prints them. A new session gets a cookie object built
// from Cookie, in express-session's key order.
//
// Codec implements sessionkit.Codec; Configure installs one.
type Codec struct {
	// Cookie is the Manager's cookie configuration, read at every Encode
	// for the path, domain, httpOnly, secure, sameSite and partitioned
	// attributes of new sessions' cookie objects. Nil means express's
	// defaults (path "/", httpOnly).
	Cookie *sessionkit.CookieTransport
	// MaxAge is the originalMaxAge written for a persistent session that
	// has no idle timeout of its own (a new session).
	MaxAge time.Duration
	// TTL is the idle timeout of sessions with a browser-session cookie
	// (originalMaxAge null): the Node store's ttl (default DefaultTTL).
	TTL time.Duration
	// Now is the clock (default time.Now). express-session records carry
	// no creation time, so Decode reports the session as created now:
	// like express-session, the Go side then enforces only the rolling
	// idle expiry, not an absolute lifetime (Configure sets no
	// Manager.Lifetime).
	Now func() time.Time
}

// opaque is what Decode passes to the next Encode through State.Opaque.
type opaque struct {
	cookie      []jsjson.Member // the stored cookie object
	cookieIndex int             // its position among the top-level keys
	values      []jsjson.Member // the values as read, to write unchanged ones verbatim
}

var errNotExpress = errors.New("not an express-session record")

// Decode implements sessionkit.Codec.
func (c *Codec) Decode(data []byte) (sessionkit.State, error) {
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return sessionkit.State{}, fmt.Errorf("express: decode session: %w", err)
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	st := sessionkit.State{Created: now, LastActive: now}
	op := &opaque{}
	if st.Values, op.cookieIndex, op.cookie, err = jsjson.SplitSession(ms, "cookie"); err != nil {
		return sessionkit.State{}, fmt.Errorf("express: decode session: %w", err)
	}
	if op.cookieIndex < 0 {
		return sessionkit.State{}, fmt.Errorf("express: decode session: %w: no cookie object", errNotExpress)
	}
	op.values = ms
	if j := jsjson.Find(op.cookie, "originalMaxAge"); j >= 0 {
		if ms, err := strconv.ParseFloat(string(op.cookie[j].Raw), 64); err == nil && ms >= 1 && ms < maxAgeLimit {
			st.IdleTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	if st.IdleTimeout == 0 {
		st.IdleTimeout = c.ttl()
	}
	if i := jsjson.Find(op.cookie, "expires"); i >= 0 && string(op.cookie[i].Raw) != "null" {
		var s string
		if err := json.Unmarshal(op.cookie[i].Raw, &s); err != nil {
			return sessionkit.State{}, fmt.Errorf("express: decode session: cookie.expires: %w", err)
		}
		exp, err := jsjson.ParseDate(s)
		if err != nil {
			return sessionkit.State{}, fmt.Errorf("express: decode session: cookie.expires: %w", err)
		}
		st.Persistent = true
		st.Expires = exp
		// express-session sets expires to now + originalMaxAge whenever it
		// touches a session: that is when it was last active.
		if j := jsjson.Find(op.cookie, "originalMaxAge"); j >= 0 {
			if ms, err := strconv.ParseFloat(string(op.cookie[j].Raw), 64); err == nil && ms > 0 {
				if last := exp.Add(-time.Duration(ms) * time.Millisecond); last.Before(now) {
					st.LastActive = last
				}
			}
		}
	}
	st.Opaque = op
	return st, nil
}

// maxAgeLimit bounds the originalMaxAge read from a record (in
// milliseconds) to what a time.Duration holds.
const maxAgeLimit = float64(1<<63-1) / float64(time.Millisecond)

func (c *Codec) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultTTL
}

// Encode implements sessionkit.Codec.
func (c *Codec) Encode(st *sessionkit.State) ([]byte, error) {
	op, _ := st.Opaque.(*opaque)
	var cookie []jsjson.Member
	idx := 0
	if op != nil {
		cookie = append(cookie, op.cookie...)
		idx = op.cookieIndex
	} else {
		cookie = c.newCookie()
	}
	cookie = c.updateCookie(cookie, st)

	var read []jsjson.Member
	if op != nil {
		read = op.values
	}
	top, err := jsjson.Values(st.Values, read, isCookieKey, "express", 1)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(256 + 32*len(st.Values))
	var cb bytes.Buffer
	jsjson.WriteObject(&cb, cookie)
	idx = min(idx, len(top))
	top = append(top[:idx], append([]jsjson.Member{{Key: "cookie", Raw: cb.Bytes()}}, top[idx:]...)...)
	jsjson.WriteObject(&buf, top)
	return buf.Bytes(), nil
}

// isCookieKey reports express-session's own key, "cookie".
func isCookieKey(key string) bool { return key == "cookie" }

// cookieKeyOrder is the order of express-session's Cookie.data.
var cookieKeyOrder = []string{"originalMaxAge", "partitioned", "priority", "expires", "secure", "httpOnly", "domain", "path", "sameSite"}

// newCookie returns the cookie object express-session would store for a
// new session with the Manager's cookie settings (expires and
// originalMaxAge are filled in by updateCookie).
func (c *Codec) newCookie() []jsjson.Member {
	ct := c.Cookie
	if ct == nil {
		d := sessionkit.CookieTransport{Path: "/", HttpOnly: true}
		ct = &d
	}
	ms := []jsjson.Member{{Key: "originalMaxAge", Raw: json.RawMessage("null")}}
	if ct.Partitioned {
		ms = append(ms, jsjson.Member{Key: "partitioned", Raw: json.RawMessage("true")})
	}
	ms = append(ms, jsjson.Member{Key: "expires", Raw: json.RawMessage("null")})
	if ct.Secure == sessionkit.SecureAlways {
		ms = append(ms, jsjson.Member{Key: "secure", Raw: json.RawMessage("true")})
	}
	ms = append(ms, jsjson.Member{Key: "httpOnly", Raw: json.RawMessage(strconv.FormatBool(ct.HttpOnly))})
	if ct.Domain != "" {
		ms = append(ms, jsjson.Member{Key: "domain", Raw: jsjson.String(ct.Domain)})
	}
	path := ct.Path
	if path == "" {
		path = "/"
	}
	ms = append(ms, jsjson.Member{Key: "path", Raw: jsjson.String(path)})
	switch ct.SameSite {
	case http.SameSiteLaxMode:
		ms = append(ms, jsjson.Member{Key: "sameSite", Raw: json.RawMessage(`"lax"`)})
	case http.SameSiteStrictMode:
		ms = append(ms, jsjson.Member{Key: "sameSite", Raw: json.RawMessage(`"strict"`)})
	case http.SameSiteNoneMode:
		ms = append(ms, jsjson.Member{Key: "sameSite", Raw: json.RawMessage(`"none"`)})
	}
	return ms
}

// updateCookie sets expires and originalMaxAge as express-session does
// when it saves a session: a persistent session has its idle timeout as
// originalMaxAge and expires at st.Expires (the Manager's now + idle
// timeout, which is express's now + originalMaxAge); a browser-session
// cookie has both null.
func (c *Codec) updateCookie(ms []jsjson.Member, st *sessionkit.State) []jsjson.Member {
	exp, age := json.RawMessage("null"), json.RawMessage("null")
	if st.Persistent {
		exp = jsjson.String(jsjson.Date(st.Expires))
		maxAge := st.IdleTimeout
		if maxAge <= 0 {
			maxAge = c.MaxAge
		}
		if maxAge <= 0 {
			maxAge = c.ttl()
		}
		age = json.RawMessage(strconv.FormatInt(maxAge.Milliseconds(), 10))
	}
	ms = setCookieKey(ms, "expires", exp)
	ms = setCookieKey(ms, "originalMaxAge", age)
	return ms
}

// setCookieKey replaces key's value, or inserts it where express-session's
// key order puts it.
func setCookieKey(ms []jsjson.Member, key string, raw json.RawMessage) []jsjson.Member {
	if i := jsjson.Find(ms, key); i >= 0 {
		ms[i].Raw = raw
		return ms
	}
	at := 0
	for _, k := range cookieKeyOrder {
		if k == key {
			break
		}
		if i := jsjson.Find(ms, k); i >= 0 {
			at = i + 1
		}
	}
	return append(ms[:at], append([]jsjson.Member{{Key: key, Raw: raw}}, ms[at:]...)...)
}
