package koa

import (
	"context"
	"net/http"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/internal/nodecookie"
)

// CookieImporter is a sessionkit.Importer for koa-session's cookie-mode
// sessions: a Manager with it (Manager.Import) takes over a request's
// "koa.sess" session — values, Passport's user, its maxAge and
// browser-session choice — as a new session of its own, typically sealed
// and encrypted by store/cookiestore or in a server-side store, and has
// the browser drop the koa.sess and koa.sess.sig cookies. The user stays
// signed in (give the new Manager's Auth express.PassportField, where the
// imported passport.user is).
//
// Only a cookie that verifies with Keys and whose "_expire" has not
// passed is imported. A cookie-mode session cannot be revoked: until its
// "_expire" the old cookie still works on the Node side, and if it is
// presented again the Go side imports it again.
type CookieImporter struct {
	im nodecookie.Importer
}

var _ sessionkit.Importer = (*CookieImporter)(nil)

// NewCookieImporter returns an importer for the koa-session cookie o
// describes (Key, Keys or Signer, MaxAge, Path, Domain). An imported
// session's idle timeout is its "_maxAge"; a session without one (maxAge
// 'session', "_session") gets MaxAge, as NewCookieMode gives it on the Go
// side — not the new Manager's IdleTimeout.
func NewCookieImporter(o Options) (*CookieImporter, error) {
	signer, err := o.signer()
	if err != nil {
		return nil, err
	}
	store := &CookieStore{TTL: o.maxAge()}
	codec := &Codec{MaxAge: o.maxAge()}
	decode := func(data []byte) (sessionkit.State, error) {
		st, err := codec.Decode(data)
		if st.IdleTimeout <= 0 {
			st.IdleTimeout = o.maxAge()
		}
		return st, err
	}
	ci := &CookieImporter{im: nodecookie.Importer{Cookie: sessionkit.DefaultCookie(), Open: store.Open, Decode: decode}}
	ci.im.Cookie.Name = o.key()
	ci.im.Cookie.DetachedSigner = signer
	if o.Path != "" {
		ci.im.Cookie.Path = o.Path
	}
	ci.im.Cookie.Domain = o.Domain
	return ci, nil
}

// Import implements sessionkit.Importer.
func (ci *CookieImporter) Import(ctx context.Context, r *http.Request) (*sessionkit.Imported, error) {
	return ci.im.Import(ctx, r)
}
