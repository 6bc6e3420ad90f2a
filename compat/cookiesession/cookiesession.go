// Package cookiesession lets a Go service share sessions with an Express
// app that uses cookie-session (and Passport under it), so that endpoints
// can move from Node to Go one at a time behind one domain.
//
// cookie-session keeps the whole session in the client's cookie: the
// "session" cookie is the base64 of JSON.stringify(req.session), signed in
// a second cookie, "session.sig", with the app's keys (Keygrip, see
// compat/keygrip): the first key signs, all verify, and a cookie signed
// with an older key is signed again with the first. New returns a Manager
// that reads and writes exactly those cookies; Passport's passport.user is
// read and written by auth through express.PassportField (UsePassport).
// Values the Go side does not touch keep their bytes; new ones are printed
// as JSON.stringify prints them.
//
// # Signed, not encrypted, and no lifetime of its own
//
// The cookie is signed, not encrypted: anyone holding it can
// base64-decode it and read every value in it. And cookie-session keeps no
// expiry in it: maxAge and expires only tell the browser when to drop the
// cookie, so a copy of the cookie is accepted — by the Node side and the
// Go side alike — for as long as its key is in the keys, and logging out
// clears the cookie in that browser only. The way forward is Importer: a
// Go Manager on store/cookiestore (sealed, encrypted, with an expiry in
// the token) or on a server-side store takes over each cookie-session
// cookie on the user's next request, without signing anyone out.
//
// # Example
//
//	// app.use(cookieSession({ keys: [process.env.KEY, process.env.OLD_KEY], maxAge: 24 * 3600 * 1000 }))
//	m, err := cookiesession.New(cookiesession.Options{
//		Keys:   []string{os.Getenv("KEY"), os.Getenv("OLD_KEY")},
//		MaxAge: 24 * time.Hour,
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	users := auth.New(m, func(u *User) string { return strconv.Itoa(u.ID) }, lookupUser)
//	cookiesession.UsePassport(users)
//	http.ListenAndServe(":8080", users.CrossOrigin.Handler(users.Handler(mux)))
//
// See the cookie-session section of docs/migrating-from-express.md.
package cookiesession

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/jsjson"
	"github.com/sessionkit/sessionkit/compat/internal/nodecookie"
	"github.com/sessionkit/sessionkit/compat/keygrip"
)

// DefaultName is cookie-session's default cookie name.
const DefaultName = "session"

// DefaultTTL is the default Options.TTL: the idle timeout an Importer
// gives a session with a browser-session cookie (no MaxAge).
// cookie-session itself puts no limit on such a cookie, and neither can
// the Go side that shares it: the cookie holds no time.
const DefaultTTL = 24 * time.Hour

// Options mirror the cookie-session options that matter to the Go side.
type Options struct {
	// Name is the cookie name (cookie-session's name option; default
	// "session").
	Name string
	// Keys are cookie-session's keys option (or [secret]): the first
	// signs, all verify. Required unless Signer is set.
	Keys []string
	// Signer, if set, replaces the Keygrip made from Keys (for keys: new
	// Keygrip(keys, 'sha256'), use keygrip.NewHash).
	Signer *keygrip.Keygrip
	// MaxAge is cookie-session's maxAge option: each time the session is
	// written, its cookie is set to expire MaxAge later. Zero means a
	// browser-session cookie (cookie-session's default), kept until the
	// browser closes.
	MaxAge time.Duration
	// TTL is the idle timeout NewImporter gives a session with a
	// browser-session cookie (default DefaultTTL). It does not bound
	// such a cookie where Node and Go share it: the cookie holds no
	// time, so a copy of it is accepted on both sides, at any age, for
	// as long as its key verifies.
	TTL time.Duration
	// Path and Domain are the cookie's path (default "/") and domain.
	Path, Domain string
}

func (o Options) name() string {
	if o.Name != "" {
		return o.Name
	}
	return DefaultName
}

func (o Options) lifetime() time.Duration {
	if o.MaxAge > 0 {
		return o.MaxAge
	}
	if o.TTL > 0 {
		return o.TTL
	}
	return DefaultTTL
}

func (o Options) signer() (*keygrip.Keygrip, error) {
	if o.Signer != nil {
		return o.Signer, nil
	}
	if len(o.Keys) == 0 {
		return nil, errors.New("cookiesession: Keys are required")
	}
	return keygrip.New(o.Keys...)
}

func (o Options) cookie(m *sessionkit.Manager) (sessionkit.CookieTransport, error) {
	ct := sessionkit.DefaultCookie()
	if m != nil {
		ct = m.Cookie
	}
	signer, err := o.signer()
	if err != nil {
		return ct, err
	}
	if strings.ContainsAny(o.name(), "=; \t,\"") {
		return ct, errors.New("cookiesession: invalid cookie name " + o.name())
	}
	ct.Name = o.name()
	ct.Signer = nil
	ct.DetachedSigner = signer
	if o.Path != "" {
		ct.Path = o.Path
	}
	ct.Domain = o.Domain
	return ct, nil
}

// New returns a Manager that shares cookie-session's sessions. It follows
// cookie-session's timing: the cookie is sent only when the session
// changed (sessionkit.RollingOnWrite), set to expire MaxAge later, or as a
// browser-session cookie without MaxAge; there is no absolute lifetime. A
// maxAge the Node side set for one response (req.sessionOptions.maxAge)
// is the expiry of the cookie it sent, which a Go request that only reads
// the session leaves alone; Session.SetIdleTimeout, SetDeadline and
// RememberMe likewise apply to the cookie the Go response sends, since
// cookie-session keeps no lifetime in the session. Other Manager fields
// (SameSite, Secure, Proxies, Logger, …) may be changed afterwards, before
// serving.
func New(o Options) (*sessionkit.Manager, error) {
	if o.MaxAge < 0 || o.TTL < 0 {
		return nil, errors.New("cookiesession: negative MaxAge or TTL")
	}
	cs := &Store{TTL: o.lifetime()}
	m := sessionkit.NewClientSide(cs)
	ct, err := o.cookie(m)
	if err != nil {
		return nil, err
	}
	m.Cookie = ct
	m.Persistent = o.MaxAge > 0
	m.IdleTimeout = o.lifetime()
	m.Lifetime = 0
	m.Rolling = sessionkit.RollingOnWrite
	m.Codec = Codec{Persistent: o.MaxAge > 0}
	cs.Now = func() time.Time {
		if m.Now != nil {
			return m.Now()
		}
		return time.Now()
	}
	return m, nil
}

// Store is cookie-session's cookie as a sessionkit.ClientStore: the token
// is the base64 (standard alphabet, padded) of the session JSON that
// Codec writes. The signature is the "<name>.sig" cookie that the
// Manager's CookieTransport writes and checks. Open refuses a token that
// is not canonical base64 of a UTF-8 JSON object; the cookie holds no
// expiry, so a session that opens is reported valid for TTL from now.
type Store struct {
	// TTL is how long an opened session is reported valid (default
	// DefaultTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

var _ sessionkit.ClientStore = (*Store)(nil)

// Seal implements sessionkit.ClientStore.
func (s *Store) Seal(rec sessionkit.Record) (string, error) {
	return nodecookie.Encode(rec.Data), nil
}

// Open implements sessionkit.ClientStore. Every failure wraps
// sessionkit.ErrNotFound.
func (s *Store) Open(token string) (sessionkit.Record, error) {
	data, err := nodecookie.Decode(token)
	if err != nil {
		return sessionkit.Record{}, fmt.Errorf("cookiesession: %w", err)
	}
	if _, err := jsjson.ParseObject(data); err != nil {
		return sessionkit.Record{}, fmt.Errorf("cookiesession: open session: %v: %w", err, sessionkit.ErrNotFound)
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return sessionkit.Record{Data: data, Expiry: now.Add(ttl).Truncate(time.Millisecond), UserKey: express.UserKey(data)}, nil
}

// Codec reads and writes cookie-session's session JSON, which is
// JSON.stringify(req.session): every key is a session value.
//
//	{"views":3,"passport":{"user":1}}
//
// A session Decode read is written back by Encode with its keys in their
// order, the values the Go side did not change byte for byte, new ones
// printed as JSON.stringify prints them. The keys cookie-session's
// session object keeps for itself (isChanged, isNew, isPopulated, _ctx)
// cannot hold values. It implements sessionkit.Codec; New installs one.
//
// The session JSON has no lifetime in it: Decode reports none (the
// Manager's idle timeout applies) and Encode writes none.
type Codec struct {
	// Persistent is what Decode reports for every session: whether its
	// cookie outlives the browser (cookie-session's maxAge is set).
	Persistent bool
}

type opaque struct{ values []jsjson.Member }

// Decode implements sessionkit.Codec.
func (c Codec) Decode(data []byte) (sessionkit.State, error) {
	ms, err := jsjson.ParseObject(data)
	if err != nil {
		return sessionkit.State{}, fmt.Errorf("cookiesession: decode session: %w", err)
	}
	st := sessionkit.State{Persistent: c.Persistent, Values: make([]sessionkit.Value, 0, len(ms)), Opaque: &opaque{values: ms}}
	for _, m := range ms {
		st.Values = append(st.Values, sessionkit.Value{Key: m.Key, JSON: m.Raw})
	}
	return st, nil
}

// Encode implements sessionkit.Codec.
func (Codec) Encode(st *sessionkit.State) ([]byte, error) {
	op, _ := st.Opaque.(*opaque)
	var read []jsjson.Member
	if op != nil {
		read = op.values
	}
	out, err := jsjson.Values(st.Values, read, isSessionKey, "cookiesession", 0)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	jsjson.WriteObject(&buf, out)
	return buf.Bytes(), nil
}

// isSessionKey reports the keys cookie-session's Session object keeps for
// itself.
func isSessionKey(key string) bool {
	switch key {
	case "isChanged", "isNew", "isPopulated", "_ctx":
		return true
	}
	return false
}

// Importer is a sessionkit.Importer for cookie-session's sessions: a
// Manager with it (Manager.Import) takes over a request's cookie-session
// session — its values, Passport's user and the lifetime its cookie had
// (see NewImporter) — as a new session of its own,
// typically sealed and encrypted by store/cookiestore or in a server-side
// store, and has the browser drop the session and session.sig cookies.
// The user stays signed in (give the new Manager's Auth
// express.PassportField, where the imported passport.user is). Only a
// cookie that verifies with the keys is imported. It cannot be revoked:
// the old cookie still works on the Node side, and if it is presented
// again the Go side imports it again.
type Importer struct {
	im nodecookie.Importer
}

var _ sessionkit.Importer = (*Importer)(nil)

// NewImporter returns an importer for the cookie-session cookie o
// describes (Name, Keys or Signer, MaxAge, Path, Domain, TTL). An imported
// session keeps the lifetime the Node side gave it: MaxAge as its idle
// timeout and a persistent cookie, or, without MaxAge, a browser-session
// cookie and TTL as its idle timeout — not the new Manager's IdleTimeout.
func NewImporter(o Options) (*Importer, error) {
	ct, err := o.cookie(nil)
	if err != nil {
		return nil, err
	}
	idle := o.lifetime()
	store := &Store{TTL: idle}
	codec := Codec{Persistent: o.MaxAge > 0}
	decode := func(data []byte) (sessionkit.State, error) {
		st, err := codec.Decode(data)
		st.IdleTimeout = idle
		return st, err
	}
	return &Importer{im: nodecookie.Importer{Cookie: ct, Open: store.Open, Decode: decode}}, nil
}

// Import implements sessionkit.Importer.
func (im *Importer) Import(ctx context.Context, r *http.Request) (*sessionkit.Imported, error) {
	return im.im.Import(ctx, r)
}

// UsePassport makes a behave as Passport 0.7 does under cookie-session:
// the user key is kept at passport.user (express.PassportField{}), and
// Login keeps the session's other values (cookie-session has no
// regenerate; apps give Passport a no-op one).
func UsePassport[U any](a *auth.Auth[U]) {
	a.Field = express.PassportField{}
	a.ClearOnLogin = false
}
