package express

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// ImportOptions configure an Importer.
type ImportOptions struct {
	// Name is the express-session cookie name (default "connect.sid").
	Name string
	// Secrets are express-session's secrets: a cookie signed with any
	// of them is accepted. Required.
	Secrets []string
	// Path and Domain are the express cookie's (cookie.path, default
	// "/", and cookie.domain), so that the client is told to drop it.
	Path, Domain string

	// Express is the express-session store itself, in its express layout
	// (redisstore.LayoutConnectRedis, pgstore.LayoutConnectPgSimple or
	// mongostore.LayoutConnectMongo, with UserKeyOf set to UserKey), for
	// as long as it holds sessions. Unless FromCopies is set it decides:
	// a session is imported only if it is still there, with what it
	// holds now, so that nothing the Node app wrote after a migration
	// pass is lost and a sign-out on the Node side is never undone. An
	// imported session is always deleted from it.
	Express sessionkit.Store
	// Migrated is the native store a migration (Migrator, the sessionkit
	// command's migrate) wrote its copies to: normally the native
	// Manager's own store. An imported session's copy is always deleted
	// from it.
	Migrated sessionkit.Store
	// FromCopies makes the copies in Migrated decide instead of Express:
	// a session is imported from its copy, and one without a copy (never
	// copied, or revoked on the native side) is not imported even if
	// Express still holds it. Set it once the Node app no longer writes
	// the express store and a migration has run to the end after its last
	// write; keep Express set until its sessions are deleted, so that what
	// is imported is deleted there too. Without Express, copies decide
	// anyway.
	FromCopies bool

	// TTL is how long the Node store keeps a session with a
	// browser-session cookie (its ttl option; default DefaultTTL): the
	// idle timeout such a session keeps when it is imported from the
	// express store. Use the value given to the migration.
	TTL time.Duration
	// UserField is the session value the native auth package reads the
	// user from (default auth.DefaultUserKeyField, "_user"); Passport's
	// passport.user moves there.
	UserField auth.ValueField
}

// An Importer is a sessionkit.Importer that lets a native Manager take
// over the sessions of an express-session app, so that leaving
// express-session signs nobody out. Set it as Manager.Import:
//
//	imp, err := express.NewImporter(express.ImportOptions{
//		Secrets:  []string{os.Getenv("SESSION_SECRET")},
//		Express:  expressStore, // the Node store, in its express layout
//		Migrated: nativeStore,  // the Manager's own store
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	m := sessionkit.New(nativeStore)
//	m.Import = imp
//
// A request that carries an express cookie ("s:<id>.<sig>" under Name,
// signed with one of Secrets) and no native session gets, before its
// response goes out, a native session with the express session's values,
// owner and lifetime under a new ID and cookie; the express session is
// then deleted (from Express, and its copy from Migrated) and the express
// cookie cleared, so the old ID stops working on both sides.
//
// Where the session comes from: while the Node app may still write, from
// Express (a session that is no longer there is not imported, even if a
// copy of it exists); once FromCopies is set (or Express is nil), from the
// copy a migration made in Migrated (a session without one is not
// imported, even if Express still holds it). The copy is found under
// MigratedKey(id), which only a cookie signed with the express secrets
// leads to. Either way the session is then deleted from both stores, the
// express store first, so that a migration running at the same time
// cannot bring a copy back.
//
// What the native session gets (see nativeState): the express values
// without express-session's cookie object; Passport's user (passport.user)
// as the owner in the per-user index and under UserField, so auth's
// User, session lists and revocation work from the first request; the
// cookie's idle lifetime (originalMaxAge, or TTL for a browser-session
// cookie) and persistence; and a creation time — the first migration's
// for a copy, the import's otherwise — from which Manager.Lifetime
// counts.
type Importer struct {
	o      ImportOptions
	signer *Signer
}

var _ sessionkit.Importer = (*Importer)(nil)

// maxImportID bounds the length of an express session ID the Importer
// looks up (uid-safe's are 32 characters).
const maxImportID = 256

// NewImporter returns an Importer for o.
func NewImporter(o ImportOptions) (*Importer, error) {
	signer, err := NewSigner(o.Secrets...)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Express == nil && o.Migrated == nil:
		return nil, errors.New("express: an Importer needs the Express store, the Migrated one, or both")
	case o.FromCopies && o.Migrated == nil:
		return nil, errors.New("express: FromCopies needs the Migrated store")
	case o.TTL < 0:
		return nil, errors.New("express: negative TTL")
	case o.UserField == "passport" || o.UserField == "cookie":
		return nil, fmt.Errorf("express: UserField %q is an express-session or Passport key", o.UserField)
	}
	if o.Name == "" {
		o.Name = DefaultCookieName
	}
	if o.Path == "" {
		o.Path = "/"
	}
	return &Importer{o: o, signer: signer}, nil
}

// Import implements sessionkit.Importer.
func (im *Importer) Import(ctx context.Context, r *http.Request) (*sessionkit.Imported, error) {
	id, ok := im.sessionID(r)
	if !ok {
		return nil, nil
	}
	if im.o.Express != nil && !im.o.FromCopies {
		return im.fromExpress(ctx, id)
	}
	return im.fromCopy(ctx, id)
}

// sessionID returns the ID of the first express cookie that verifies.
func (im *Importer) sessionID(r *http.Request) (string, bool) {
	for _, c := range r.CookiesNamed(im.o.Name) {
		if id, ok := im.signer.Verify(c.Value); ok && id != "" && len(id) <= maxImportID {
			return id, true
		}
	}
	return "", false
}

func (im *Importer) fromExpress(ctx context.Context, id string) (*sessionkit.Imported, error) {
	rec, err := im.o.Express.Load(ctx, id)
	if errors.Is(err, sessionkit.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("express: import: load from the express store: %w", err)
	}
	st, owner, err := nativeState(rec.Data, im.o.TTL, im.o.UserField, time.Time{})
	if err != nil {
		return nil, nil // not an express-session record: no session
	}
	return im.imported(st, owner, im.retire(id)), nil
}

// retire returns the Retire of the session with express ID id: it deletes
// the session from the express store, then its copy. In that order, a
// migration that copies the session meanwhile finds it gone from the
// express store after writing the copy, and removes the copy itself.
func (im *Importer) retire(id string) func(context.Context) error {
	return func(ctx context.Context) error {
		var err error
		if im.o.Express != nil {
			if err = im.o.Express.Delete(ctx, id); err != nil {
				err = fmt.Errorf("express: delete the imported session from the express store: %w", err)
			}
		}
		return errors.Join(err, im.deleteCopy(ctx, id))
	}
}

func (im *Importer) fromCopy(ctx context.Context, id string) (*sessionkit.Imported, error) {
	key := MigratedKey(id)
	rec, err := im.o.Migrated.Load(ctx, key)
	if errors.Is(err, sessionkit.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("express: import: load the migrated copy: %w", err)
	}
	st, err := sessionkit.JSONCodec{}.Decode(rec.Data)
	if err != nil {
		return nil, nil
	}
	return im.imported(st, rec.UserKey, im.retire(id)), nil
}

func (im *Importer) deleteCopy(ctx context.Context, id string) error {
	if im.o.Migrated == nil {
		return nil
	}
	if err := im.o.Migrated.Delete(ctx, MigratedKey(id)); err != nil {
		return fmt.Errorf("express: delete the migrated copy %s: %w", MigratedKey(id), err)
	}
	return nil
}

func (im *Importer) imported(st sessionkit.State, owner string, retire func(context.Context) error) *sessionkit.Imported {
	st.Opaque, st.Expires, st.LastActive = nil, time.Time{}, time.Time{}
	return &sessionkit.Imported{
		State:   st,
		UserKey: owner,
		Retire:  retire,
		Forget:  im.forget,
	}
}

// forget clears the express cookie.
func (im *Importer) forget(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:    im.o.Name,
		Value:   "",
		Path:    im.o.Path,
		Domain:  im.o.Domain,
		MaxAge:  -1,
		Expires: time.Unix(0, 0),
	})
}
