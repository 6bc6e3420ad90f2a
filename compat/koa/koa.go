package koa

import (
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/keygrip"
)

// DefaultKey is koa-session's default cookie name.
const DefaultKey = "koa.sess"

// DefaultMaxAge is the maxAge koa-session gives a session when its maxAge
// option is not set: one day.
const DefaultMaxAge = 24 * time.Hour

// Options mirror the koa-session options that matter to the Go side.
type Options struct {
	// Key is the cookie name (koa-session's key option; default
	// "koa.sess").
	Key string
	// Keys are the Koa app's app.keys: the first signs new cookies, all
	// of them verify. Required unless Signer is set. Keys made with
	// another algorithm than Keygrip's default (SHA-1) need a Signer
	// instead.
	Keys []string
	// Signer, if set, replaces the Keygrip made from Keys (for app.keys =
	// new Keygrip(keys, 'sha256'), use keygrip.NewHash).
	Signer *keygrip.Keygrip
	// MaxAge is koa-session's maxAge option (default DefaultMaxAge). A
	// session keeps the maxAge it was saved with ("_maxAge"), so this is
	// the maxAge of new sessions.
	MaxAge time.Duration
	// BrowserSession is maxAge: 'session': new sessions get a cookie that
	// the browser drops when it closes, and no expiry of their own.
	BrowserSession bool
	// Rolling is koa-session's rolling option: every request that uses the
	// session saves it with a fresh expiry and sends the cookie again
	// (sessionkit.RollingAlways).
	Rolling bool
	// Renew is koa-session's renew option: a session read when it is
	// nearly expired is saved with a fresh expiry. koa-session renews
	// when less than half of the maxAge is left; the Go side renews once
	// a quarter of it has passed (sessionkit.RollingThrottled with the
	// touch interval capped at a quarter of the idle timeout). Rolling
	// wins over Renew, as in koa-session.
	Renew bool
	// Prefix is koa-session's prefix option, in external-store mode: the
	// external keys new sessions get are Prefix followed by a random
	// UUID.
	Prefix string
	// Path and Domain are the cookie's path (default "/") and domain, as
	// in koa-session's options.
	Path, Domain string
}

func (o Options) key() string {
	if o.Key != "" {
		return o.Key
	}
	return DefaultKey
}

func (o Options) maxAge() time.Duration {
	if o.MaxAge > 0 {
		return o.MaxAge
	}
	return DefaultMaxAge
}

func (o Options) signer() (*keygrip.Keygrip, error) {
	if o.Signer != nil {
		return o.Signer, nil
	}
	if len(o.Keys) == 0 {
		return nil, errors.New("koa: Keys (the app's app.keys) are required")
	}
	return keygrip.New(o.Keys...)
}

// NewCookieMode returns a Manager that shares koa-session's cookie-mode
// sessions (koa-session's default): the whole session is in the "koa.sess"
// cookie, its signature in "koa.sess.sig" (see CookieStore). The cookie
// is signed, not encrypted. Other Manager fields (the cookie's SameSite,
// Secure, Proxies, Logger, …) may be changed afterwards, before serving.
//
// The Manager follows koa-session's timing: a session ends at its
// "_expire", which a save moves to now + its maxAge (its own, else
// MaxAge); without Rolling or Renew only a request that changes the
// session saves it (sessionkit.RollingOnWrite), and there is no absolute
// lifetime (Manager.Lifetime 0).
//
// Sessions in cookies cannot be revoked: a copy of the cookie is accepted,
// by the Node side and the Go side alike, until its "_expire" (for
// maxAge 'session', forever, while its key is in Keys). Logging out on
// either side signs out that browser only: the Go side's auth.Auth.Logout
// clears the cookie (with KeepDataOnLogout, rewrites it without the user),
// koa-passport's ctx.logout() rewrites it without the user, keeping the
// session's other values.
func NewCookieMode(o Options) (*sessionkit.Manager, error) {
	cs := &CookieStore{TTL: o.maxAge()}
	m := sessionkit.NewClientSide(cs)
	if err := configure(m, o); err != nil {
		return nil, err
	}
	cs.Now = clock(m)
	return m, nil
}

// ConfigureStore sets m up to share koa-session's external-store sessions:
// the "koa.sess" cookie holds the external key, signed in "koa.sess.sig",
// and the store holds the session JSON (see Codec) under that key. m's
// store must use the layout of the Node side's store with the external
// key as the store key (ConfigureStore sets Manager.RawKeys): for
// koa-redis, redisstore's LayoutConnectRedis with Options.NoPrefix and
// UserKeyOf set to express.UserKey, wrapped by NewExternalStore so that
// extending a session also moves its "_expire" (required with Rolling or
// Renew):
//
//	m := sessionkit.New(koa.NewExternalStore(store))
//
// A store of the application's own that wraps the ExternalStore counts as
// wrapped when it says so with an Unwrap() sessionkit.Store method (which
// also names it in events by the store underneath).
//
// New sessions get koa-session's
// default external keys, Prefix and a random UUID (see UUIDs); set
// m.IDs afterwards for a custom genid.
//
// The timing is NewCookieMode's. The Go side writes the store's expiry at
// "_expire"; koa-session writes it ten seconds later, and both ignore a
// record past its "_expire".
func ConfigureStore(m *sessionkit.Manager, o Options) error {
	if m == nil {
		return errors.New("koa: nil Manager")
	}
	if m.Store() == nil {
		return errors.New("koa: ConfigureStore needs a server-side Manager (sessionkit.New); use NewCookieMode for cookie mode")
	}
	if !wrapsExternal(m.Store()) && (o.Rolling || o.Renew) {
		return errors.New("koa: ConfigureStore with Rolling or Renew needs the Manager's store wrapped, sessionkit.New(koa.NewExternalStore(store)), or reads would not move the sessions' \"_expire\"")
	}
	if err := configure(m, o); err != nil {
		return err
	}
	m.IDs = UUIDs{Prefix: o.Prefix}
	m.RawKeys = true
	return nil
}

func configure(m *sessionkit.Manager, o Options) error {
	signer, err := o.signer()
	if err != nil {
		return err
	}
	if o.MaxAge < 0 {
		return errors.New("koa: negative MaxAge")
	}
	if strings.ContainsAny(o.key(), "=; \t,\"") {
		return errors.New("koa: invalid cookie name " + o.key())
	}
	m.Cookie.Name = o.key()
	m.Cookie.Signer = nil
	m.Cookie.DetachedSigner = signer
	if o.Path != "" {
		m.Cookie.Path = o.Path
	}
	m.Cookie.Domain = o.Domain
	m.Persistent = !o.BrowserSession
	m.IdleTimeout = o.maxAge()
	m.Lifetime = 0
	switch {
	case o.Rolling:
		m.Rolling = sessionkit.RollingAlways
	case o.Renew:
		m.Rolling = sessionkit.RollingThrottled
		m.TouchInterval = 1<<63 - 1 // a quarter of each session's maxAge
	default:
		m.Rolling = sessionkit.RollingOnWrite
	}
	m.Codec = &Codec{MaxAge: o.maxAge(), Now: clock(m)}
	return nil
}

// clock returns the Manager's clock as it is when called.
func clock(m *sessionkit.Manager) func() time.Time {
	return func() time.Time {
		if m.Now != nil {
			return m.Now()
		}
		return time.Now()
	}
}

// UUIDs is the sessionkit.IDScheme of koa-session's default genid for
// external keys: Prefix followed by a random (version 4) UUID in the
// lower-case form of crypto.randomUUID, 122 random bits.
type UUIDs struct {
	Prefix string
}

// NewID implements sessionkit.IDScheme.
func (u UUIDs) NewID() string {
	return u.Prefix + newUUID()
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; crashes on failure
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

// ValidID implements sessionkit.IDScheme: Prefix and a version 4 UUID
// in lower case, nothing else.
func (u UUIDs) ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, u.Prefix)
	if !ok || len(rest) != 36 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case i == 14:
			if c != '4' {
				return false
			}
		case i == 19:
			if c != '8' && c != '9' && c != 'a' && c != 'b' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// UsePassport makes a behave as koa-passport with Passport 0.7 does on
// koa-session: the user key is kept at passport.user
// (express.PassportField{}), and Login keeps the session's other values
// (koa-session's regenerate keeps them). With koa-generic-session, whose
// regenerateSession starts an empty session, set a.ClearOnLogin too.
func UsePassport[U any](a *auth.Auth[U]) {
	a.Field = express.PassportField{}
	a.ClearOnLogin = false
}

// wrapsExternal reports whether s is an ExternalStore, or a wrapper that
// reaches one through Unwrap() sessionkit.Store.
func wrapsExternal(s sessionkit.Store) bool {
	for range 16 { // a wrapper that unwraps to itself must not loop forever
		if _, ok := s.(*ExternalStore); ok {
			return true
		}
		w, ok := s.(interface{ Unwrap() sessionkit.Store })
		if !ok {
			return false
		}
		if s = w.Unwrap(); s == nil {
			return false
		}
	}
	return false
}
