package koa

import (
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
	"github.com/sessionkit/sessionkit/compat/internal/nodecookie"
)

// CookieStore is koa-session's cookie mode as a sessionkit.ClientStore:
// the whole session is in the cookie, its value the base64 (standard
// alphabet, padded) of the session JSON that Codec writes, as
// Buffer.from(JSON.stringify(session)).toString('base64') makes it. The
// signature is not part of the token: it is the "<key>.sig" cookie that
// the Manager's CookieTransport writes and checks with a Keygrip (its
// DetachedSigner).
//
// The cookie is signed, not encrypted: whoever holds it can read every
// value in it. Open refuses a token that is not canonical base64 of a
// UTF-8 JSON object, and one whose "_expire" has passed. A session without
// "_expire" (maxAge 'session') has no end of its own, in koa-session as
// here: Open reports it valid for TTL from now.
type CookieStore struct {
	// TTL is how long a session without "_expire" is reported valid from
	// the moment it is opened (default DefaultMaxAge).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

var _ sessionkit.ClientStore = (*CookieStore)(nil)

func (c *CookieStore) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Seal implements sessionkit.ClientStore. rec.Data is the session JSON;
// its "_expire", if any, is set to rec.Expiry (a touch moves the expiry
// without encoding the session again).
func (c *CookieStore) Seal(rec sessionkit.Record) (string, error) {
	data, err := setExpire(rec.Data, rec.Expiry)
	if err != nil {
		return "", fmt.Errorf("koa: seal session: %w", err)
	}
	return nodecookie.Encode(data), nil
}

// Open implements sessionkit.ClientStore. Every failure wraps
// sessionkit.ErrNotFound.
func (c *CookieStore) Open(token string) (sessionkit.Record, error) {
	data, err := nodecookie.Decode(token)
	if err != nil {
		return sessionkit.Record{}, err
	}
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("koa: open session: %v: %w", err, sessionkit.ErrNotFound)
	}
	now := c.now()
	f := readFields(ms)
	if f.expired(now) {
		return sessionkit.Record{}, errExpired
	}
	rec := sessionkit.Record{Data: data, UserKey: express.UserKey(data)}
	if f.hasExpire {
		rec.Expiry = f.expire
	} else {
		ttl := c.TTL
		if ttl <= 0 {
			ttl = DefaultMaxAge
		}
		rec.Expiry = now.Add(ttl).Truncate(time.Millisecond)
	}
	return rec, nil
}
