package express

import (
	"errors"
	"time"

	"github.com/sessionkit/sessionkit"
)

// DefaultCookieName is express-session's default cookie name.
const DefaultCookieName = "connect.sid"

// DefaultTTL is how long a session without a cookie maxAge (a
// browser-session cookie) is kept by the store: connect-redis's and
// connect-pg-simple's default ttl of one day.
const DefaultTTL = 24 * time.Hour

// Options mirror the express-session options that matter to the Go side.
type Options struct {
	// Name is the cookie name (express-session's name option; default
	// "connect.sid").
	Name string
	// Secrets are express-session's secret option: the first signs new
	// cookies, all of them verify. Required.
	Secrets []string
	// MaxAge is the cookie's maxAge (express-session's cookie.maxAge).
	// Zero means a browser-session cookie (express's default, maxAge
	// null), kept by the store for TTL.
	MaxAge time.Duration
	// TTL is how long the store keeps a session without MaxAge: set it to
	// the Node store's ttl option (default DefaultTTL; connect-mongo's
	// default is 14 days).
	TTL time.Duration
}

// Configure sets m up to share sessions with an express-session app:
// the cookie name, a cookie-signature Signer with the secrets, express's
// 32-character IDs, raw store keys (the store key is the session ID, as
// the Node stores use it), the express-session Codec, and the session
// timing of express-session: every use extends a session by its own
// cookie's originalMaxAge (new sessions get MaxAge; sessions with a
// browser-session cookie, TTL), and there is no absolute lifetime
// (Manager.Lifetime 0). A maxAge the Node side set for one session
// (req.session.cookie.maxAge) is therefore kept by the Go side too.
//
// Call it before changing other Manager fields; Configure leaves the
// cookie's path, domain, HttpOnly, Secure and SameSite settings alone (the
// Codec reads them when it writes a new session's cookie object, so set
// them to what the express app uses). The store must use the matching
// express layout (see the redisstore, pgstore and mongostore packages).
func Configure(m *sessionkit.Manager, o Options) error {
	if m == nil {
		return errors.New("express: nil Manager")
	}
	signer, err := NewSigner(o.Secrets...)
	if err != nil {
		return err
	}
	name := o.Name
	if name == "" {
		name = DefaultCookieName
	}
	if o.MaxAge < 0 || o.TTL < 0 {
		return errors.New("express: negative MaxAge or TTL")
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	life := ttl
	if o.MaxAge > 0 {
		life = o.MaxAge
	}
	m.Cookie.Name = name
	m.Cookie.Signer = signer
	m.IDs = IDs{}
	m.RawKeys = true
	m.Persistent = o.MaxAge > 0
	m.IdleTimeout = life
	m.Lifetime = 0
	m.Codec = &Codec{
		Cookie: &m.Cookie,
		MaxAge: o.MaxAge,
		TTL:    ttl,
		Now: func() time.Time {
			if m.Now != nil {
				return m.Now()
			}
			return time.Now()
		},
	}
	return nil
}
