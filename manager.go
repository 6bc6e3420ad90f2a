package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Errors the Manager reports.
var (
	// ErrNoSession is returned by Session methods when the request did not
	// pass through Manager.Handler.
	ErrNoSession = errors.New("sessionkit: no session in context (is the handler wrapped by Manager.Handler?)")
	// ErrHeadersSent reports a change made after the response headers
	// went out that could not be saved (it needed a new cookie). It
	// reaches the Logger and the Observer; the client never sees it.
	ErrHeadersSent = errors.New("sessionkit: session changed after the response headers were sent")
	// ErrTooManyConflicts is returned when a save lost its
	// compare-and-swap more than Manager.MaxRetries times in a row to
	// writers outside the Manager (other processes, or other Managers
	// over the same store); writers through one Manager never conflict
	// with one another.
	ErrTooManyConflicts = errors.New("sessionkit: too many concurrent updates")
)

// Manager loads, saves and transports sessions. Create it with New or
// NewClientSide, adjust its exported fields, then wrap handlers with
// Handler. Fields must not be changed once the Manager is serving requests.
type Manager struct {
	// Lifetime is the default absolute lifetime of a session: it ends
	// Lifetime after it was created however busy it is (default 24h; 0:
	// no absolute lifetime, which needs an IdleTimeout). A handler can
	// move one session's deadline with Session.SetDeadline.
	Lifetime time.Duration
	// IdleTimeout is the default idle lifetime: a session not used for
	// this long ends (default 2h; 0: no idle timeout, which needs a
	// Lifetime). A handler can give one session its own with
	// Session.SetIdleTimeout. How use extends it is Rolling's choice.
	IdleTimeout time.Duration
	// TouchInterval throttles idle extension under RollingThrottled: the
	// store's expiry of a session that is only read is moved at most once
	// per interval (default 1 minute; 0 or less: on every request). The
	// interval used for a session is never more than a quarter of its
	// idle timeout, so a session used more often than its idle timeout
	// stays alive whatever the two are set to.
	TouchInterval time.Duration
	// Rolling says how use extends a session and when its cookie is sent
	// again (default RollingThrottled). See the package documentation's
	// "Session lifetime".
	Rolling Rolling
	// Persistent is the default for Session.RememberMe: whether cookies
	// outlive the browser (default true).
	Persistent bool
	// SaveUninitialized stores a brand-new session (and sends its cookie)
	// even when the request put nothing in it, like express-session's
	// saveUninitialized, once the request uses it (a Get, Has, ID, ...):
	// a request that never touches its session still costs no store call
	// and gets no cookie. Default false.
	SaveUninitialized bool

	// Cookie is the default transport's configuration.
	Cookie CookieTransport
	// Transport, if set, replaces the cookie (for example a
	// HeaderTransport for API clients).
	Transport Transport
	// IDs generates and validates session IDs (default RandomIDs).
	IDs IDScheme
	// RawKeys stores sessions under their ID instead of its SHA-256 hash.
	// Only for layouts shared with other software (compat/express).
	RawKeys bool
	// Codec encodes session state for the store (default JSONCodec).
	Codec Codec
	// Import, if set, takes over sessions another system gave the client
	// (see Importer): a request that uses its session and carries none of
	// the Manager's own gets the imported one, under a new ID.
	Import Importer
	// MaxDataSize bounds an encoded session (default 1 MiB; 0 or less: no
	// bound); larger saves fail with ErrTooLarge.
	MaxDataSize int
	// MaxRetries bounds compare-and-swap retries when a writer outside
	// this Manager saved the same session first (default 8; 0 or less: a
	// save that loses fails at once with ErrTooManyConflicts). Commits
	// through one Manager are merged, never retried against each other
	// (see the package documentation's "No lost updates").
	MaxRetries int

	// OpTimeout bounds every store call (default 3s; 0 or less: only the
	// request's context bounds them). A store call waiting for its store
	// when the request's context ends returns within about 10ms of that end
	// with the context's error (during a request served by Handler the wait
	// looks at the context every 10ms rather than registering with it).
	OpTimeout time.Duration
	// ErrorHandler writes the response when the session cannot be loaded
	// or saved before the response goes out, or the Manager's settings
	// cannot work (see Handler) (default: 503, or 500 for ErrTooLarge and
	// for a session its Codec refuses to encode, with a plain body that
	// leaks nothing).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives errors and warnings (default slog.Default()).
	Logger *slog.Logger
	// Observer, if set, is called synchronously for every store operation
	// and notable event; it must be fast and safe for concurrent use.
	Observer func(Event)
	// Proxies says which peers are trusted for X-Forwarded-Proto and
	// X-Forwarded-For (nil: none). It is what SecureAuto cookies and
	// ClientIP go by: behind a TLS-terminating proxy, list the proxy here
	// and cookies get Secure when it forwards X-Forwarded-Proto: https.
	Proxies *TrustedProxies
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time

	backend   backend
	storeKind string // Event.Store
}

// New returns a Manager that keeps sessions in store, with defaults for
// every field.
func New(store Store) *Manager {
	m := newManager()
	m.backend = &serverBackend{store: store, commits: newCommitQueues()}
	m.storeKind = kindOf(innermost(store))
	return m
}

// NewClientSide returns a Manager whose sessions live entirely in the
// client's token, sealed by cs (see store/cookiestore).
func NewClientSide(cs ClientStore) *Manager {
	m := newManager()
	m.backend = &clientBackend{cs: cs}
	m.storeKind = kindOf(cs)
	return m
}

func newManager() *Manager {
	return &Manager{
		Lifetime:      24 * time.Hour,
		IdleTimeout:   2 * time.Hour,
		TouchInterval: time.Minute,
		Persistent:    true,
		Cookie:        DefaultCookie(),
		IDs:           RandomIDs{},
		Codec:         JSONCodec{},
		MaxDataSize:   1 << 20,
		MaxRetries:    8,
		OpTimeout:     3 * time.Second,
	}
}

// ClientStore keeps a whole session in the token the client holds, instead
// of on the server. Seal and Open must be safe for concurrent use; Open
// must treat any token it did not seal (tampered, truncated, sealed with an
// unknown key, expired) as ErrNotFound and never panic.
type ClientStore interface {
	// Seal returns a token holding rec (its Data, Expiry and UserKey).
	Seal(rec Record) (token string, err error)
	// Open returns the record sealed in token. Version is ignored.
	Open(token string) (Record, error)
}

// ClientResealer is implemented by a ClientStore whose tokens can still
// open but should be replaced, such as tokens sealed with a retired key.
// When NeedsReseal reports true for the token a request presented (and
// Open accepted), the Manager sends a freshly sealed token for the
// session before the response headers go out, even if nothing changed.
type ClientResealer interface {
	NeedsReseal(token string) bool
}

// Handler returns middleware that gives every request a session, available
// to next through From(r.Context()). The session is loaded on first use
// and committed when the handler first writes headers, calls Flush or
// Save, or returns. A handler that panics commits nothing more (what
// writing headers, Flush or Save committed before the panic stays): the
// panic goes on to the caller (net/http's server, a framework's
// recovery), and the session refuses later use, as after a return
// (ErrSessionAfterHandler).
//
// Handler checks the Manager's settings when it is called; changes made
// later are not checked. A Manager whose settings cannot work answers every
// request with the ErrorHandler (no store call, no cookie) and logs why:
// neither a Lifetime nor an IdleTimeout (sessions could not expire), a
// negative one, an unknown Rolling, Secure or SameSite mode, a nil Codec,
// IDs or Transport pointer, an IDScheme whose ValidID refuses its own NewID
// (or, with cookies, whose IDs are not cookie values), a cookie Name, Path
// or Domain that net/http would drop or alter, a cookie Path that does not
// start with "/" (browsers would scope the cookie to the directory of the
// URL that set it), SameSite=None, Partitioned or a cookie Name with the
// __Secure- or __Host- prefix with SecureNever, a __Host- cookie with a
// Domain or a Path other than "/" (browsers refuse such cookies), an
// HMACSigner not made by NewHMACSigner, or a
// Manager not made by New or NewClientSide.
//
// The handler must write its response through the http.ResponseWriter it
// is given: that writer is what commits the session before the headers go
// out. A response written around it (to the writer Handler received, as a
// framework middleware does that passes the request on but keeps the
// framework's writer) cannot carry the cookie; when the received writer
// can tell (see ErrResponseBypassed) this is logged and observed as
// ErrResponseBypassed and no new session is stored. For gin and echo use
// the adapters in contrib/gin and contrib/echo.
func (m *Manager) Handler(next http.Handler) http.Handler {
	if err := m.check(); err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.fail(w, r, err)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &Session{m: m, parent: From(r.Context())}
		if s.parent != nil && sameCookie(s.parent.m, m) {
			m.fail(w, r, errSameCookie)
			return
		}
		s.w = responseWriter{ResponseWriter: w, s: s}
		s.w.watch()
		s.ctx = sessionContext{Context: r.Context(), s: s}
		s.watch.parent = &s.ctx
		s.req = *r.WithContext(&s.ctx)
		r = &s.req
		s.r = r
		returned := false
		defer func() {
			if !returned && s.mu.TryLock() {
				// next panicked: the request is over without its final
				// commit, and a goroutine still holding the session is
				// refused, as after a return. A panic raised with the
				// session locked (a Store, Codec or Observer panicking in
				// a commit) left it locked for good: do not wait for it.
				s.w.ended = true
				s.mu.Unlock()
			}
			s.watch.close()
		}()
		next.ServeHTTP(&s.w, r)
		returned = true
		s.w.finish()
	})
}

// errNoExpiry is the configuration error of a Manager whose sessions would
// never expire.
var errNoExpiry = errors.New("sessionkit: Manager has neither a Lifetime nor an IdleTimeout: sessions would never expire")

// check reports a configuration that cannot work.
func (m *Manager) check() error {
	if m.backend == nil {
		return errors.New("sessionkit: Manager not made by New or NewClientSide")
	}
	if m.Lifetime <= 0 && m.IdleTimeout <= 0 {
		return errNoExpiry
	}
	if m.Lifetime < 0 || m.IdleTimeout < 0 {
		return fmt.Errorf("sessionkit: negative Manager.Lifetime (%v) or IdleTimeout (%v): use 0 for none", m.Lifetime, m.IdleTimeout)
	}
	if m.Rolling < RollingThrottled || m.Rolling > RollingOnWrite {
		return fmt.Errorf("sessionkit: unknown Rolling mode %d", int(m.Rolling))
	}
	if m.Codec == nil {
		return errors.New("sessionkit: Manager.Codec is nil")
	}
	if m.IDs == nil {
		return errors.New("sessionkit: Manager.IDs is nil")
	}
	id := ""
	if !m.backend.clientSide() {
		// A scheme whose IDs it does not recognize would start a new
		// session on every request.
		if id = m.IDs.NewID(); !m.IDs.ValidID(id) {
			return fmt.Errorf("sessionkit: Manager.IDs (%T) made the ID %q, which its ValidID refuses", m.IDs, id)
		}
	}
	switch t := m.transport().(type) {
	case *CookieTransport:
		if t == nil {
			return errors.New("sessionkit: Manager.Transport is a nil *CookieTransport")
		}
		if err := t.check(); err != nil {
			return err
		}
		if v := t.value(id); id != "" && !validCookieValue(v) {
			return fmt.Errorf("sessionkit: Manager.IDs (%T) made the ID %q, which is not a valid cookie value", m.IDs, id)
		}
	case *HeaderTransport:
		if t == nil {
			return errors.New("sessionkit: Manager.Transport is a nil *HeaderTransport")
		}
	}
	return nil
}

// errSameCookie reports two nested Managers that would write one cookie
// or header.
var errSameCookie = errors.New("sessionkit: two nested Managers use the same cookie (name, path and domain) or token header: give each its own Cookie.Name or HeaderTransport headers")

// sameCookie reports whether a and b would read or write the same cookie,
// or the same header of a HeaderTransport.
func sameCookie(a, b *Manager) bool {
	switch ta := a.transport().(type) {
	case *CookieTransport:
		cb, ok := b.transport().(*CookieTransport)
		return ok && ta.Name == cb.Name && ta.Path == cb.Path && ta.Domain == cb.Domain
	case *HeaderTransport:
		hb, ok := b.transport().(*HeaderTransport)
		return ok && (http.CanonicalHeaderKey(ta.requestHeader()) == http.CanonicalHeaderKey(hb.requestHeader()) ||
			http.CanonicalHeaderKey(ta.responseHeader()) == http.CanonicalHeaderKey(hb.responseHeader()))
	}
	return false
}

// ClientIP returns the client's address as seen through m.Proxies.
func (m *Manager) ClientIP(r *http.Request) string {
	a := m.Proxies.ClientIP(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

type contextKey struct{}

// From returns the request's session, or nil when the request did not pass
// through Manager.Handler. Methods of a nil *Session report ErrNoSession.
// When several Managers wrap the handler it is the innermost one's; use
// Manager.From for the others.
func From(ctx context.Context) *Session {
	s, _ := ctx.Value(contextKey{}).(*Session)
	return s
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) transport() Transport {
	if m.Transport != nil {
		return m.Transport
	}
	return &m.Cookie
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

func (m *Manager) key(id string) string {
	if m.RawKeys {
		return id
	}
	return hashedKey(id)
}

// fail answers the request with the ErrorHandler and logs err.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	m.logger().ErrorContext(r.Context(), "session error", "err", err, "method", r.Method, "path", r.URL.Path)
	m.observe(Event{Kind: EventError, Ctx: r.Context(), Err: err})
	if m.ErrorHandler != nil {
		m.ErrorHandler(w, r, err)
		return
	}
	code := http.StatusServiceUnavailable
	var enc encodeError
	if errors.Is(err, ErrTooLarge) || errors.As(err, &enc) {
		code = http.StatusInternalServerError
	}
	http.Error(w, http.StatusText(code), code)
}

// EventKind says what an Event reports. For store calls (see
// EventKind.StoreOp) it names the operation.
//
// EventCreate, EventRegenerate and EventDestroy report what a commit
// stored or deleted, once the whole commit has succeeded: a handler's
// call alone reports nothing, a failed commit reports none of them (only
// EventError), and a retried commit reports each once, when it succeeds.
type EventKind int

const (
	EventLoad     EventKind = iota + 1 // a store Load (or client token Open)
	EventSave                          // a store Save (Outcome tells success from a lost compare-and-swap)
	EventConflict                      // a Save lost its compare-and-swap to a writer outside the Manager; it retries, unless MaxRetries are used up (EventTooManyConflicts follows)
	EventTouch                         // a store Touch
	EventDelete                        // a store Delete
	EventBadToken                      // the client sent a token that was refused
	EventError                         // an error (also logged)
	EventImport                        // a foreign session was imported (Importer)

	EventTooManyConflicts // a save gave up: it lost its compare-and-swap again after MaxRetries retries (ErrTooManyConflicts)
	EventCreate           // a new session was stored for the first time (not one Regenerate gave a new ID, unless the session it came from had ended: see Session.Regenerate)
	EventRegenerate       // a stored session was stored under the new ID Session.Regenerate gave it, its old record deleted (a never-stored session Regenerate is called on is only an EventCreate, if it is stored)
	EventDestroy          // a stored session was ended (Session.Destroy, or its deadline passed during the request) and its record deleted
	EventLogin            // a user logged in (package auth)
	EventLoginFailed      // a login was refused: wrong credentials (package auth)
)

var eventNames = [...]string{"", "load", "save", "conflict", "touch", "delete", "bad-token", "error", "import",
	"too-many-conflicts", "create", "regenerate", "destroy", "login", "login-failed"}

func (k EventKind) String() string {
	if k >= 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// StoreOp reports whether k is a store call (load, save, touch, delete),
// whose Event carries a Duration and an Outcome.
func (k EventKind) StoreOp() bool {
	return k == EventLoad || k == EventSave || k == EventTouch || k == EventDelete
}

// Event describes one store operation or notable occurrence, for metrics
// and traces. Observers must not keep Ctx beyond the call.
type Event struct {
	Kind EventKind
	// Ctx is the context of the request the event belongs to (with its
	// trace span, if any), or context.Background() when there is none.
	Ctx context.Context
	// Store names the kind of store: its Go package name ("memstore",
	// "redisstore", "cookiestore", ...). A bounded label. A store that
	// wraps another (compat/koa's ExternalStore) is named by the store it
	// wraps when it says so with an Unwrap() Store method.
	Store string
	// Outcome classifies the result of a store call (OutcomeOK otherwise).
	Outcome Outcome
	// Start and Duration time a store call (zero for other events).
	Start    time.Time
	Duration time.Duration
	// Err is set when the operation failed (never for ErrNotFound or
	// ErrConflict, which Outcome reports).
	Err error
}

// Outcome classifies the result of a store call, as a bounded label.
type Outcome uint8

const (
	OutcomeOK       Outcome = iota // success
	OutcomeNotFound                // ErrNotFound: no live record
	OutcomeConflict                // ErrConflict: a compare-and-swap lost
	OutcomeTimeout                 // the call ran past OpTimeout or the request's deadline
	OutcomeCanceled                // the request's context was canceled
	OutcomeError                   // any other error
)

var outcomeNames = [...]string{"ok", "not_found", "conflict", "timeout", "canceled", "error"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// outcomeOf classifies err.
func outcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, ErrConflict):
		return OutcomeConflict
	case errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	}
	return OutcomeError
}

func (m *Manager) observe(e Event) {
	if m.Observer != nil {
		if e.Ctx == nil {
			e.Ctx = context.Background()
		}
		e.Store = m.storeKind
		m.Observer(e)
	}
}

// timed runs a store operation under OpTimeout and reports it to the
// Observer (timing it only when there is one). When ctx is a Session's
// request context, s.mu must be held.
func (m *Manager) timed(ctx context.Context, kind EventKind, op func(context.Context) error) error {
	reqCtx := ctx
	if m.OpTimeout > 0 {
		var od *opDeadline
		if sc, ok := ctx.(*sessionContext); ok {
			od = sc.s.opContext(ctx, m.OpTimeout)
		} else {
			od = newOpDeadline(ctx, time.Now().Add(m.OpTimeout))
		}
		defer od.release()
		ctx = od
	}
	if m.Observer == nil {
		return op(ctx)
	}
	start := time.Now()
	err := op(ctx)
	e := Event{Kind: kind, Ctx: reqCtx, Outcome: outcomeOf(err), Start: start, Duration: time.Since(start)}
	if e.Outcome != OutcomeOK && e.Outcome != OutcomeNotFound && e.Outcome != OutcomeConflict {
		e.Err = err
	}
	m.observe(e)
	return err
}

// Store returns the server-side store, or nil for a client-side Manager.
func (m *Manager) Store() Store {
	if b, ok := m.backend.(*serverBackend); ok {
		return b.store
	}
	return nil
}

// Info describes a stored session without loading it into a request, for
// session lists and operator tools.
type Info struct {
	Created    time.Time
	LastActive time.Time
	Expires    time.Time // when the store forgets it unless it is used
	UserKey    string
	Persistent bool
	// IdleTimeout and Deadline are the session's lifetime: its own, or
	// the Manager's defaults (Deadline is zero when it has none).
	IdleTimeout time.Duration
	Deadline    time.Time
	// Values are the session's values. Their JSON may be the store's
	// own bytes (see Record): read them, or copy them before changing.
	Values []Value
}

// Info decodes a record as the Manager would.
func (m *Manager) Info(rec Record) (Info, error) {
	st, err := m.Codec.Decode(rec.Data)
	if err != nil {
		return Info{}, err
	}
	return Info{
		Created:     st.Created,
		LastActive:  m.reportedLastActive(st, rec),
		Expires:     rec.Expiry,
		UserKey:     rec.UserKey,
		Persistent:  st.Persistent,
		IdleTimeout: m.idleTimeout(st),
		Deadline:    m.deadline(st),
		Values:      st.Values,
	}, nil
}

// KeyOf returns the store key of a session ID: what stores, indexes and the
// CLI see. It is safe to log; it cannot be used as a cookie.
func (m *Manager) KeyOf(id string) string {
	return m.key(id)
}
