package koa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
	"github.com/sessionkit/sessionkit/compat/keygrip"
)

// DefaultGenericKey is koa-generic-session's default cookie name.
const DefaultGenericKey = "koa.sid"

// DefaultGenericPrefix is koa-generic-session's default store prefix: the
// store key of a session is the prefix followed by its ID.
const DefaultGenericPrefix = "koa:sess:"

// GenericOptions mirror the koa-generic-session options that matter to
// the Go side.
type GenericOptions struct {
	// Key is the cookie name (koa-generic-session's key option; default
	// "koa.sid").
	Key string
	// Keys are the Koa app's app.keys: the first signs new cookies, all
	// verify. Required unless Signer is set.
	Keys []string
	// Signer, if set, replaces the Keygrip made from Keys.
	Signer *keygrip.Keygrip
	// MaxAge is the cookie's maxAge (cookie.maxAge; default one day,
	// koa-generic-session's). A session keeps the maxAge it was saved
	// with, so this is the maxAge of new sessions.
	MaxAge time.Duration
	// BrowserSession is cookie: {maxAge: null}: new sessions get a cookie
	// that the browser drops when it closes.
	BrowserSession bool
	// TTL is how long the store keeps a session whose cookie has no
	// maxAge (koa-generic-session's ttl option; default one day). With no
	// ttl, koa-generic-session stores such sessions without an expiry;
	// the Go side always gives them one.
	TTL time.Duration
	// Rolling is koa-generic-session's rolling option: every request that
	// uses the session saves it and sends the cookie again
	// (sessionkit.RollingAlways).
	Rolling bool
}

func (o GenericOptions) maxAge() time.Duration {
	if o.MaxAge > 0 {
		return o.MaxAge
	}
	return DefaultMaxAge
}

func (o GenericOptions) ttl() time.Duration {
	if o.TTL > 0 {
		return o.TTL
	}
	return DefaultMaxAge
}

// ConfigureGeneric sets m up to share koa-generic-session's sessions: the
// "koa.sid" cookie holds the session ID (24 random bytes in base64url, as
// uid-safe makes them: express.IDs), signed in "koa.sid.sig", and the
// store holds the session JSON (see GenericCodec) under the store prefix
// and the ID. m's store must use the layout of the Node side's store with
// the ID as its key (ConfigureGeneric sets Manager.RawKeys): for
// koa-redis, redisstore's LayoutConnectRedis with Prefix
// DefaultGenericPrefix (or the app's prefix option) and UserKeyOf set to
// express.UserKey.
//
// The timing is koa-generic-session's: a session's idle timeout is its
// cookie's maxAge (new sessions get MaxAge; sessions without one, TTL);
// without Rolling only a request that changes the session saves it and
// moves its expiry (sessionkit.RollingOnWrite); a cookie.expires date the
// Node side set is the session's deadline; there is no absolute lifetime
// otherwise (Manager.Lifetime 0).
func ConfigureGeneric(m *sessionkit.Manager, o GenericOptions) error {
	if m == nil {
		return errors.New("koa: nil Manager")
	}
	if m.Store() == nil {
		return errors.New("koa: ConfigureGeneric needs a server-side Manager (sessionkit.New)")
	}
	signer := o.Signer
	if signer == nil {
		if len(o.Keys) == 0 {
			return errors.New("koa: Keys (the app's app.keys) are required")
		}
		var err error
		if signer, err = keygrip.New(o.Keys...); err != nil {
			return err
		}
	}
	if o.MaxAge < 0 || o.TTL < 0 {
		return errors.New("koa: negative MaxAge or TTL")
	}
	name := o.Key
	if name == "" {
		name = DefaultGenericKey
	}
	m.Cookie.Name = name
	m.Cookie.Signer = nil
	m.Cookie.DetachedSigner = signer
	m.IDs = express.IDs{}
	m.RawKeys = true
	m.Persistent = !o.BrowserSession
	m.IdleTimeout = o.maxAge()
	if o.BrowserSession {
		m.IdleTimeout = o.ttl()
	}
	m.Lifetime = 0
	m.Rolling = sessionkit.RollingOnWrite
	if o.Rolling {
		m.Rolling = sessionkit.RollingAlways
	}
	c := &GenericCodec{Cookie: &m.Cookie, TTL: o.ttl()}
	if !o.BrowserSession {
		c.MaxAge = o.maxAge()
	}
	m.Codec = c
	return nil
}

// GenericCodec reads and writes koa-generic-session's stored session: the
// JSON of the session object, whose "cookie" member is a copy of the
// cookie options the session's cookie is set with, its maxAge included:
//
//	{"cookie":{"httpOnly":true,"path":"/","overwrite":true,"signed":true,"maxAge":86400000},"views":1}
//
// Every other key is a session value. A record Decode read is written back
// by Encode with its keys in their order, the values the Go side did not
// change byte for byte, and the cookie object as it was except for
// "maxAge" and "expires" when the Go side changed the session's lifetime.
//
// The cookie object is the session's lifetime: a number maxAge is its
// idle timeout (State.IdleTimeout) with a persistent cookie; a null or
// missing maxAge is a browser-session cookie (State.Persistent false),
// kept for TTL after its last save; an "expires" date is its deadline
// (State.Deadline), which the Node side's store also honours.
//
// GenericCodec implements sessionkit.Codec; ConfigureGeneric installs one.
type GenericCodec struct {
	// Cookie is the Manager's cookie configuration, read at every Encode
	// for the path, domain, httpOnly, secure and sameSite members of new
	// sessions' cookie objects. Nil means koa-generic-session's defaults.
	Cookie *sessionkit.CookieTransport
	// MaxAge is the maxAge written for a persistent session that has no
	// idle timeout of its own (a new session); zero writes null.
	MaxAge time.Duration
	// TTL is the idle timeout of sessions whose cookie has no maxAge
	// (default one day).
	TTL time.Duration
}

type genericOpaque struct {
	values      []jsjson.Member // the top-level members as read
	cookie      []jsjson.Member
	cookieIndex int
	deadline    time.Time // the expires read, zero if none
}

func (c *GenericCodec) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultMaxAge
}

// Decode implements sessionkit.Codec.
func (c *GenericCodec) Decode(data []byte) (sessionkit.State, error) {
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return sessionkit.State{}, fmt.Errorf("koa: decode session: %w", err)
	}
	op := &genericOpaque{values: ms}
	var st sessionkit.State
	if st.Values, op.cookieIndex, op.cookie, err = jsjson.SplitSession(ms, "cookie"); err != nil {
		return sessionkit.State{}, fmt.Errorf("koa: decode session: %w", err)
	}
	if op.cookieIndex < 0 {
		return sessionkit.State{}, errors.New("koa: decode session: no cookie object: not a koa-generic-session record")
	}
	if i := jsjson.Find(op.cookie, "maxAge"); i >= 0 {
		if ms, ok := number(op.cookie[i].Raw); ok && ms >= 1 && ms < maxAgeLimit {
			st.IdleTimeout = time.Duration(ms) * time.Millisecond
			st.Persistent = true
		}
	}
	if !st.Persistent {
		st.IdleTimeout = c.ttl()
	}
	if i := jsjson.Find(op.cookie, "expires"); i >= 0 && string(op.cookie[i].Raw) != "null" {
		var s string
		if err := json.Unmarshal(op.cookie[i].Raw, &s); err != nil {
			return sessionkit.State{}, fmt.Errorf("koa: decode session: cookie.expires: %w", err)
		}
		d, err := jsjson.ParseDate(s)
		if err != nil {
			return sessionkit.State{}, fmt.Errorf("koa: decode session: cookie.expires: %w", err)
		}
		st.Deadline, op.deadline = d, d
	}
	st.Opaque = op
	return st, nil
}

// Encode implements sessionkit.Codec.
func (c *GenericCodec) Encode(st *sessionkit.State) ([]byte, error) {
	op, _ := st.Opaque.(*genericOpaque)
	var cookie []jsjson.Member
	idx := 0
	if op != nil {
		cookie = append(cookie, op.cookie...)
		idx = op.cookieIndex
	} else {
		cookie = c.newCookie()
	}
	// maxAge: the session's idle timeout when its cookie is persistent.
	age := []byte("null")
	if st.Persistent {
		d := st.IdleTimeout
		if d <= 0 {
			d = c.MaxAge
		}
		if d <= 0 {
			d = c.ttl()
		}
		age = []byte(strconv.FormatInt(d.Milliseconds(), 10))
	}
	if i := jsjson.Find(cookie, "maxAge"); i >= 0 {
		if !sameMaxAge(cookie[i].Raw, age) {
			cookie[i].Raw = age
		}
	} else if st.Persistent {
		cookie = append(cookie, jsjson.Member{Key: "maxAge", Raw: age})
	}
	// expires: the deadline, kept as written unless it moved.
	if op == nil || !st.Deadline.Equal(op.deadline) {
		i := jsjson.Find(cookie, "expires")
		switch {
		case st.Deadline.IsZero() && i >= 0:
			cookie = append(cookie[:i], cookie[i+1:]...)
		case !st.Deadline.IsZero() && i >= 0:
			cookie[i].Raw = jsjson.String(jsjson.Date(st.Deadline))
		case !st.Deadline.IsZero():
			cookie = append(cookie, jsjson.Member{Key: "expires", Raw: jsjson.String(jsjson.Date(st.Deadline))})
		}
	}

	var read []jsjson.Member
	if op != nil {
		read = op.values
	}
	top, err := jsjson.Values(st.Values, read, func(k string) bool { return k == "cookie" }, "koa", 1)
	if err != nil {
		return nil, err
	}
	var cb bytes.Buffer
	jsjson.WriteObject(&cb, cookie)
	idx = min(idx, len(top))
	top = append(top[:idx], append([]jsjson.Member{{Key: "cookie", Raw: cb.Bytes()}}, top[idx:]...)...)
	var buf bytes.Buffer
	buf.Grow(128 + 32*len(top))
	jsjson.WriteObject(&buf, top)
	return buf.Bytes(), nil
}

// sameMaxAge reports whether a stored maxAge already says want (so that
// its bytes are kept): the same number, or null for null and other
// non-numbers.
func sameMaxAge(stored, want []byte) bool {
	a, okA := number(stored)
	b, okB := number(want)
	if okA && okB {
		return int64(a) == int64(b)
	}
	return !okA && !okB
}

// newCookie returns the cookie object koa-generic-session gives a new
// session: its default cookie options with the Manager's attributes.
func (c *GenericCodec) newCookie() []jsjson.Member {
	ct := c.Cookie
	if ct == nil {
		d := sessionkit.CookieTransport{Path: "/", HttpOnly: true}
		ct = &d
	}
	path := ct.Path
	if path == "" {
		path = "/"
	}
	ms := []jsjson.Member{
		{Key: "httpOnly", Raw: []byte(strconv.FormatBool(ct.HttpOnly))},
		{Key: "path", Raw: jsjson.String(path)},
		{Key: "overwrite", Raw: []byte("true")},
		{Key: "signed", Raw: []byte("true")},
	}
	if ct.Domain != "" {
		ms = append(ms, jsjson.Member{Key: "domain", Raw: jsjson.String(ct.Domain)})
	}
	if ct.Secure == sessionkit.SecureAlways {
		ms = append(ms, jsjson.Member{Key: "secure", Raw: []byte("true")})
	}
	switch ct.SameSite {
	case http.SameSiteLaxMode:
		ms = append(ms, jsjson.Member{Key: "sameSite", Raw: jsjson.String("lax")})
	case http.SameSiteStrictMode:
		ms = append(ms, jsjson.Member{Key: "sameSite", Raw: jsjson.String("strict")})
	case http.SameSiteNoneMode:
		ms = append(ms, jsjson.Member{Key: "sameSite", Raw: jsjson.String("none")})
	}
	return ms
}
