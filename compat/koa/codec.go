package koa

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
)

// Codec reads and writes koa-session's session JSON: the body of the
// cookie in cookie mode (before base64) and the record in the external
// store. It is JSON.stringify(ctx.session) with koa-session's own keys
// appended:
//
//	{"views":3,"passport":{"user":1},"_expire":1767225600000,"_maxAge":86400000}
//	{"views":3,"_session":true}
//
// "_expire" is when the session ends unless it is saved again (Unix
// milliseconds), "_maxAge" its maxAge in milliseconds; a session whose
// maxAge is 'session' (a browser-session cookie) has "_session" instead
// and no expiry of its own. Every other key is a session value. A record
// Decode read is written back by Encode with its values in their order,
// those the Go side did not change byte for byte, and koa-session's keys
// updated as koa-session updates them when it saves.
//
// The lifetime follows koa-session: "_maxAge" is the session's own idle
// timeout (State.IdleTimeout; ctx.session.maxAge on the Node side,
// Session.SetIdleTimeout on the Go side), "_session" a browser-session
// cookie (State.Persistent false; Session.RememberMe), and "_expire" the
// expiry the Manager gave the save (State.Expires). A record whose
// "_expire" has passed is reported as expired (an error wrapping
// sessionkit.ErrNotFound), as koa-session ignores it: in external-store
// mode koa-session keeps records ten seconds longer than "_expire".
//
// koa-session itself never keeps values whose key starts with "_" nor a
// value named "isNew": the Go side keeps them (auth's "_login" is one), but
// the next save on the Node side drops them. The keys "_expire", "_maxAge"
// and "_session" cannot hold values.
//
// Codec implements sessionkit.Codec; NewCookieMode and ConfigureStore
// install one.
type Codec struct {
	// MaxAge is the "_maxAge" written for a persistent session that has
	// no idle timeout of its own (a new session): koa-session's maxAge
	// option (default DefaultMaxAge).
	MaxAge time.Duration
	// Now is the clock "_expire" is checked against (default time.Now).
	Now func() time.Time
}

// Keys koa-session keeps in the session JSON for itself.
const (
	keyExpire  = "_expire"
	keyMaxAge  = "_maxAge"
	keySession = "_session"
)

// errExpired reports a session whose "_expire" has passed.
var errExpired = fmt.Errorf("koa: session expired (_expire): %w", sessionkit.ErrNotFound)

// opaque is what Decode passes to the next Encode through State.Opaque.
type opaque struct {
	values []jsjson.Member // the values as read, to write unchanged ones verbatim
}

// fields is koa-session's own part of a session JSON.
type fields struct {
	expire    time.Time // zero: none
	maxAge    time.Duration
	browser   bool // "_session"
	hasExpire bool
}

// maxAgeLimit bounds a maxAge read from a record (in milliseconds) to what
// a time.Duration holds.
const maxAgeLimit = float64(1<<63-1) / float64(time.Millisecond)

// readFields reads koa-session's keys of ms as koa-session reads them: a
// number "_expire" is the expiry, a number "_maxAge" the maxAge, and the
// presence of "_session" a browser-session cookie.
func readFields(ms []jsjson.Member) fields {
	var f fields
	for _, m := range ms {
		switch m.Key {
		case keyExpire:
			if ms, ok := number(m.Raw); ok && ms > -8.64e15 && ms < 8.64e15 {
				f.hasExpire = true
				f.expire = time.UnixMilli(int64(ms))
			}
		case keyMaxAge:
			if ms, ok := number(m.Raw); ok && ms >= 1 && ms < maxAgeLimit {
				f.maxAge = time.Duration(ms) * time.Millisecond
			}
		case keySession:
			f.browser = true
		}
	}
	return f
}

func number(raw []byte) (float64, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// expired reports whether a session with f has expired at now, as
// koa-session's valid() decides it (_expire < Date.now()).
func (f fields) expired(now time.Time) bool {
	return f.hasExpire && f.expire.Before(now.Truncate(time.Millisecond))
}

func (c *Codec) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Codec) maxAge() time.Duration {
	if c.MaxAge > 0 {
		return c.MaxAge
	}
	return DefaultMaxAge
}

// Decode implements sessionkit.Codec.
func (c *Codec) Decode(data []byte) (sessionkit.State, error) {
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return sessionkit.State{}, fmt.Errorf("koa: decode session: %w", err)
	}
	f := readFields(ms)
	if f.expired(c.now()) {
		return sessionkit.State{}, errExpired
	}
	st := sessionkit.State{Persistent: !f.browser, IdleTimeout: f.maxAge}
	st.Values = make([]sessionkit.Value, 0, len(ms))
	for _, m := range ms {
		switch m.Key {
		case keyExpire, keyMaxAge, keySession:
			continue
		}
		st.Values = append(st.Values, sessionkit.Value{Key: m.Key, JSON: m.Raw})
	}
	st.Opaque = &opaque{values: ms}
	return st, nil
}

// Encode implements sessionkit.Codec.
func (c *Codec) Encode(st *sessionkit.State) ([]byte, error) {
	op, _ := st.Opaque.(*opaque)
	var read []jsjson.Member
	if op != nil {
		read = op.values
	}
	out, err := jsjson.Values(st.Values, read, isSessionKey, "koa", 2)
	if err != nil {
		return nil, err
	}
	if st.Persistent {
		maxAge := st.IdleTimeout
		if maxAge <= 0 {
			maxAge = c.maxAge()
		}
		exp := st.Expires
		if exp.IsZero() {
			exp = c.now().Add(maxAge)
		}
		out = append(out,
			jsjson.Member{Key: keyExpire, Raw: []byte(strconv.FormatInt(exp.UnixMilli(), 10))},
			jsjson.Member{Key: keyMaxAge, Raw: []byte(strconv.FormatInt(maxAge.Milliseconds(), 10))})
	} else {
		out = append(out, jsjson.Member{Key: keySession, Raw: []byte("true")})
	}
	var buf bytes.Buffer
	buf.Grow(64 + 32*len(out))
	jsjson.WriteObject(&buf, out)
	return buf.Bytes(), nil
}

// isSessionKey reports koa-session's own keys.
func isSessionKey(key string) bool {
	return key == keyExpire || key == keyMaxAge || key == keySession
}

// setExpire returns data with its "_expire" set to exp, or data itself
// when it has none or already that one.
func setExpire(data []byte, exp time.Time) ([]byte, error) {
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return nil, err
	}
	i := jsjson.Find(ms, keyExpire)
	if i < 0 {
		return data, nil
	}
	raw := []byte(strconv.FormatInt(exp.UnixMilli(), 10))
	if bytes.Equal(ms[i].Raw, raw) {
		return data, nil
	}
	ms[i].Raw = raw
	var buf bytes.Buffer
	jsjson.WriteObject(&buf, ms)
	return buf.Bytes(), nil
}
