package koa

import (
	"context"
	"net/http"

	"github.com/sessionkit/sessionkit"
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
	cookie sessionkit.CookieTransport
	store  CookieStore
	codec  Codec
}

var _ sessionkit.Importer = (*CookieImporter)(nil)

// NewCookieImporter returns an importer for the koa-session cookie o
// describes (Key, Keys or Signer, MaxAge, Path, Domain).
func NewCookieImporter(o Options) (*CookieImporter, error) {
	signer, err := o.signer()
	if err != nil {
		return nil, err
	}
	ci := &CookieImporter{
		cookie: sessionkit.DefaultCookie(),
		store:  CookieStore{TTL: o.maxAge()},
		codec:  Codec{MaxAge: o.maxAge()},
	}
	ci.cookie.Name = o.key()
	ci.cookie.DetachedSigner = signer
	if o.Path != "" {
		ci.cookie.Path = o.Path
	}
	ci.cookie.Domain = o.Domain
	return ci, nil
}

// Import implements sessionkit.Importer.
func (ci *CookieImporter) Import(_ context.Context, r *http.Request) (*sessionkit.Imported, error) {
	return importCookie(&ci.cookie, r, ci.store.Open, ci.codec.Decode)
}

// importCookie reads a signed cookie-mode session from r: the value ct
// verifies, opened and decoded. Anything that does not verify, open or
// decode is no session.
func importCookie(ct *sessionkit.CookieTransport, r *http.Request,
	open func(string) (sessionkit.Record, error), decode func([]byte) (sessionkit.State, error)) (*sessionkit.Imported, error) {
	token := ct.Token(r)
	if token == "" {
		return nil, nil
	}
	rec, err := open(token)
	if err != nil {
		return nil, nil
	}
	st, err := decode(rec.Data)
	if err != nil {
		return nil, nil
	}
	st.Opaque = nil
	return &sessionkit.Imported{
		State:   st,
		UserKey: rec.UserKey,
		Forget:  func(w http.ResponseWriter, r *http.Request) { ct.ClearToken(w, r) },
	}, nil
}
