package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessionkit"
)

// Errors Auth reports.
var (
	// ErrUserNotFound is what Deserialize returns when the key names no
	// user (deleted, disabled). The request is then logged out, quietly.
	ErrUserNotFound = errors.New("auth: user not found")
	// ErrNotAuthenticated is what User returns for a request without a
	// logged-in user.
	ErrNotAuthenticated = errors.New("auth: not authenticated")
	// ErrInvalidCredentials is what a FormLogin Verify function returns
	// for an unknown user or a wrong password (the two must look alike).
	ErrInvalidCredentials = errors.New("auth: invalid username or password")
	// ErrUnknownSession is what Revoke returns for a handle that is not
	// one of the current user's sessions.
	ErrUnknownSession = errors.New("auth: no such session")
	// ErrNotSupported is sessionkit.ErrNotSupported, returned (wrapped)
	// by the per-user operations when the store has no per-user index.
	ErrNotSupported = sessionkit.ErrNotSupported
)

// LoginInfoKey is the reserved session value where Login records when,
// from which user agent and from which address the user logged in.
const LoginInfoKey = "_login"

// MaxUserAgent bounds the user agent recorded at login, in bytes.
const MaxUserAgent = 256

// LoginInfo is what Login records in the session under LoginInfoKey.
type LoginInfo struct {
	At        int64  `json:"at"` // Unix milliseconds
	UserAgent string `json:"ua,omitempty"`
	IP        string `json:"ip,omitempty"`
	// AuthAt is when the user last proved who they are, in Unix
	// milliseconds: the login itself for a password, the provider's
	// auth_time for OpenID Connect, never later than At. 0 means unknown:
	// such a login never counts as recent (see RequireRecent).
	AuthAt int64 `json:"authAt,omitempty"`
	// Method names the strategy that logged the user in ("password",
	// "oidc", …); "" for a plain Login.
	Method string `json:"method,omitempty"`
	// User is the user key (Serialize) the login was for. A record made
	// for another user than the session's current one is ignored: a
	// Node app sharing the session (Passport's req.logout and req.login
	// change only passport.user) would otherwise hand one user's login
	// time to the next. "" (records made before it was kept) matches any.
	User string `json:"user,omitempty"`
}

// belongsTo reports whether li describes a login of the user whose key is
// key.
func (li LoginInfo) belongsTo(key string) bool { return li.User == "" || li.User == key }

// Auth manages login sessions for users of type U on top of a
// sessionkit.Manager. Create it with New, adjust its exported fields, then
// use Handler (or Require) around the routes that need to know the user.
// Fields must not be changed once it serves requests.
type Auth[U any] struct {
	// Manager carries the sessions. Required.
	Manager *sessionkit.Manager
	// Serialize returns the small, stable key of a user that the session
	// keeps (typically its database ID). It must not return "".
	Serialize func(user U) string
	// Deserialize returns the user a key names, or an error wrapping
	// ErrUserNotFound when there is none any more: the request is then
	// treated as logged out and the stale key removed. Other errors
	// (database down) are reported, not mistaken for a logout.
	Deserialize func(ctx context.Context, key string) (U, error)

	// Field is where the session keeps the user key (default
	// DefaultUserKeyField).
	Field UserKeyField
	// ClearOnLogin drops the session's other values at Login. By default
	// they survive the ID change (a cart, a return-to), except when the
	// session belonged to a different user: then they are dropped.
	ClearOnLogin bool
	// KeepDataOnLogout makes Logout keep the session's other values under
	// a new ID instead of destroying the session.
	KeepDataOnLogout bool

	// LoginPath is where Require sends page requests without a user
	// (default "/login").
	LoginPath string
	// ReauthPath is where RequireRecent sends a user whose login is not
	// recent enough (default LoginPath).
	ReauthPath string
	// ReturnToParam is the query parameter carrying the page to return to
	// after login (default "return_to").
	ReturnToParam string
	// IsAPI tells API requests (answered 401 with JSON) from page requests
	// (redirected to LoginPath). Default: the Accept header asks for JSON
	// and not HTML.
	IsAPI func(r *http.Request) bool
	// ErrorHandler answers a request whose user cannot be determined
	// (Deserialize or the store failed). Default: 503, JSON for API
	// requests, plain text otherwise.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives errors and notable events (default slog.Default()).
	Logger *slog.Logger

	// CrossOrigin refuses cross-origin unsafe requests (POST, PUT, …) to
	// every state-changing handler this package ships: FormLogin,
	// Authenticator, LogoutHandler and RevokeHandler. New sets it to
	// http.NewCrossOriginProtection(); add trusted origins
	// (AddTrustedOrigin), bypass patterns or a deny handler to it before
	// serving. A nil CrossOrigin protects with the defaults too: there is
	// no way to switch the check off short of a bypass pattern.
	//
	// It guards only this package's handlers. Wrap the application's mux
	// so its own unsafe routes are protected as well:
	//
	//	http.ListenAndServe(addr, users.CrossOrigin.Handler(users.Handler(mux)))
	CrossOrigin *http.CrossOriginProtection
}

// New returns an Auth with default settings.
func New[U any](m *sessionkit.Manager, serialize func(U) string, deserialize func(ctx context.Context, key string) (U, error)) *Auth[U] {
	return &Auth[U]{Manager: m, Serialize: serialize, Deserialize: deserialize,
		CrossOrigin: http.NewCrossOriginProtection()}
}

// protect wraps h in the cross-origin check (see CrossOrigin).
func (a *Auth[U]) protect(h http.Handler) http.Handler {
	cop := a.CrossOrigin
	if cop == nil {
		cop = new(http.CrossOriginProtection)
	}
	return cop.Handler(h)
}

func (a *Auth[U]) field() UserKeyField {
	if a.Field != nil {
		return a.Field
	}
	return DefaultUserKeyField
}

func (a *Auth[U]) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// reqState caches the request's user. Its lock is held while
// deserializing, so concurrent goroutines of one request wait for a single
// Deserialize call.
type reqState[U any] struct {
	mu   sync.Mutex
	done bool
	user U
	err  error
	// stateless: user came from a stateless strategy's success, not
	// from the session, which may hold another user's login.
	stateless bool
}

func (st *reqState[U]) set(u U, err error) {
	st.setFrom(u, err, false)
}

func (st *reqState[U]) setFrom(u U, err error, stateless bool) {
	if st == nil {
		return
	}
	st.mu.Lock()
	st.user, st.err, st.done, st.stateless = u, err, true, stateless
	st.mu.Unlock()
}

// statelessUser reports whether the request's user was set by a stateless
// success rather than read from its login session.
func (a *Auth[U]) statelessUser(ctx context.Context) bool {
	st := a.state(ctx)
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.done && st.stateless
}

func (a *Auth[U]) state(ctx context.Context) *reqState[U] {
	st, _ := ctx.Value(a).(*reqState[U])
	return st
}

// Handler returns middleware that lets User deserialize at most once per
// request. It wraps next in a.Manager.Handler as well when the request has
// no session of a.Manager yet, so both
//
//	a.Handler(mux)
//	a.Manager.Handler(a.Handler(mux))
//
// work. Without it User still works, but deserializes on every call.
//
// Auth always works in a.Manager's session (Manager.From), so other
// Managers may wrap the handler inside or outside it (a short checkout
// session beside the login session): the login never lands in theirs.
func (a *Auth[U]) Handler(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.state(r.Context()) == nil {
			r = r.WithContext(context.WithValue(r.Context(), a, &reqState[U]{}))
		}
		next.ServeHTTP(w, r)
	})
	withSessions := a.Manager.Handler(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.session(r.Context()) == nil {
			withSessions.ServeHTTP(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// User returns the request's logged-in user. The error is
// ErrNotAuthenticated for an anonymous request (including one whose user
// no longer exists), or another error when the user could not be
// determined (the store or Deserialize failed).
func (a *Auth[U]) User(r *http.Request) (U, error) {
	st := a.state(r.Context())
	if st == nil {
		return a.resolve(r)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.done {
		st.user, st.err = a.resolve(r)
		st.done = true
	}
	return st.user, st.err
}

// IsAuthenticated reports whether the request has a logged-in user. It is
// false when the user could not be determined.
func (a *Auth[U]) IsAuthenticated(r *http.Request) bool {
	_, err := a.User(r)
	return err == nil
}

func (a *Auth[U]) resolve(r *http.Request) (U, error) {
	var zero U
	ctx := r.Context()
	s := a.session(ctx)
	if s == nil {
		return zero, fmt.Errorf("auth: %w", sessionkit.ErrNoSession)
	}
	if err := s.Err(); err != nil {
		return zero, fmt.Errorf("auth: %w", err)
	}
	key, ok, err := a.field().Read(s)
	if err != nil {
		a.logger().WarnContext(ctx, "auth: unreadable user key in session; logging the request out", "err", err)
		a.clearLogin(s)
		return zero, ErrNotAuthenticated
	}
	if !ok {
		if s.UserKey() != "" {
			// Logged out by other software that removed only the key
			// (it knows nothing of the index): leave the user's list.
			a.clearLogin(s)
		}
		return zero, ErrNotAuthenticated
	}
	user, err := a.Deserialize(ctx, key)
	if errors.Is(err, ErrUserNotFound) {
		a.logger().InfoContext(ctx, "auth: session's user no longer exists; logging the request out", "session", Handle(s.Key()))
		a.clearLogin(s)
		return zero, ErrNotAuthenticated
	}
	if err != nil {
		return zero, fmt.Errorf("auth: deserialize user: %w", err)
	}
	if s.UserKey() != key {
		// A session written by other software (or before the index
		// existed): index it under its user now.
		if err := s.SetUserKey(key); err != nil {
			return zero, fmt.Errorf("auth: %w", err)
		}
	}
	return user, nil
}

// clearLogin removes the login from s, keeping its other values.
func (a *Auth[U]) clearLogin(s *sessionkit.Session) {
	_ = a.field().Clear(s)
	_ = s.SetUserKey("")
	s.Delete(LoginInfoKey)
}

// Login logs user in on the request's session: it gives the session a new
// ID (defeating session fixation: the ID from before the login never
// becomes the logged-in session; with a server-side store the old ID stops
// working, while with client-side sessions a token from before the login
// stays the anonymous session it was), stores the user key, records login
// metadata (time, user agent, client address as seen through the
// Manager's trusted proxies) and indexes the session under the user. The
// session's other values survive unless ClearOnLogin
// is set or the session belonged to another user, or the session was
// revoked or logged out elsewhere while the request ran: the login then
// goes on in a new session that keeps none of the revoked one's values
// (see sessionkit.Session.Regenerate). The session is saved before Login
// returns, so a failure is reported here; call it before writing the
// response.
func (a *Auth[U]) Login(w http.ResponseWriter, r *http.Request, user U) error {
	return a.login(w, r, user, a.now(), "", 0)
}

// LoginResult logs in the user of a successful strategy result, as the
// authenticate handler does: like Login, and it records the result's
// AuthTime and Method in the session's LoginInfo. A custom Callback (see
// Options) calls it on success.
func (a *Auth[U]) LoginResult(w http.ResponseWriter, r *http.Request, res Result[U]) error {
	if res.Outcome != Succeeded {
		return fmt.Errorf("auth: login: result is %v, not Succeeded", res.Outcome)
	}
	at := res.AuthTime
	if at.IsZero() {
		at = a.now()
	}
	return a.login(w, r, res.User, at, res.Method, res.remember)
}

// login logs user in; remember, when not 0, is the "keep me signed in"
// choice for the session's cookie (see Result.remember).
func (a *Auth[U]) login(w http.ResponseWriter, r *http.Request, user U, authAt time.Time, method string, remember int8) error {
	ctx := r.Context()
	s := a.session(ctx)
	if s == nil {
		return fmt.Errorf("auth: login: %w", sessionkit.ErrNoSession)
	}
	key := a.Serialize(user)
	if key == "" {
		return errors.New("auth: login: Serialize returned an empty user key")
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("auth: login: %w", err)
	}
	prev, _, err := a.field().Read(s)
	if a.ClearOnLogin || err != nil || (prev != "" && prev != key) || (s.UserKey() != "" && s.UserKey() != key) {
		s.Clear()
	}
	if err := s.Regenerate(); err != nil {
		return fmt.Errorf("auth: login: %w", err)
	}
	if remember != 0 {
		if err := s.RememberMe(remember == rememberYes); err != nil {
			return fmt.Errorf("auth: login: %w", err)
		}
	}
	now := a.now()
	if authAt.After(now) {
		// A provider's clock ahead of ours, or a broken auth_time: the
		// login counts as made now, not as recent until that time.
		authAt = now
	}
	info := LoginInfo{
		At:        now.UnixMilli(),
		UserAgent: truncate(r.UserAgent(), MaxUserAgent),
		IP:        a.Manager.ClientIP(r),
		Method:    method,
		User:      key,
	}
	if ms := authAt.UnixMilli(); ms > 0 {
		info.AuthAt = ms
	}
	if err := a.field().Write(s, key); err != nil {
		return fmt.Errorf("auth: login: %w", err)
	}
	if err := s.SetUserKey(key); err != nil {
		return fmt.Errorf("auth: login: %w", err)
	}
	if err := s.Set(LoginInfoKey, info); err != nil {
		return fmt.Errorf("auth: login: %w", err)
	}
	if err := s.Save(); err != nil {
		return fmt.Errorf("auth: login: %w", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	a.state(ctx).set(user, nil)
	a.Manager.Observe(sessionkit.Event{Kind: sessionkit.EventLogin, Ctx: ctx})
	return nil
}

// Logout ends the request's login: the session is destroyed (its record
// deleted, the cookie cleared; with client-side sessions, which have no
// record, a copy of the logged-in cookie stays logged in until it
// expires: see store/cookiestore), or with KeepDataOnLogout its login is
// removed and its other values kept under a new ID (unless the session
// was revoked elsewhere while the request ran: then nothing is kept, see
// sessionkit.Session.Regenerate). Either way it leaves the user's session
// list. Values set afterwards (a flash message) go to a fresh session. It
// saves before returning; call it before writing the response. Logout does not check where the request came from: call it
// only from a handler that refuses cross-site requests (LogoutHandler
// does; see Auth.CrossOrigin).
func (a *Auth[U]) Logout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	s := a.session(ctx)
	if s == nil {
		return fmt.Errorf("auth: logout: %w", sessionkit.ErrNoSession)
	}
	if err := a.endLogin(ctx, s); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	if err := s.Save(); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	return nil
}

// endLogin ends s's login without saving and marks the request anonymous.
func (a *Auth[U]) endLogin(ctx context.Context, s *sessionkit.Session) error {
	var zero U
	defer a.state(ctx).set(zero, ErrNotAuthenticated)
	if !a.KeepDataOnLogout {
		return s.Destroy()
	}
	a.clearLogin(s)
	return s.Regenerate()
}

// truncate cuts s to at most n bytes on a rune boundary and drops invalid
// UTF-8 and control characters.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// now returns the Manager's clock.
func (a *Auth[U]) now() time.Time {
	if a.Manager.Now != nil {
		return a.Manager.Now()
	}
	return time.Now()
}

// session returns the request's session of a.Manager. It is
// Manager.From, not sessionkit.From: when several Managers wrap the
// handler (a long login session beside a short checkout one), the login
// lives in Auth's own, whichever is innermost.
func (a *Auth[U]) session(ctx context.Context) *sessionkit.Session {
	return a.Manager.From(ctx)
}

// strategySessionKey is the context key under which an Authenticator
// hands its Manager's session to the strategies it runs.
type strategySessionKey struct{}

// withStrategySession returns r with s as the session sessionFrom finds.
func withStrategySession(r *http.Request, s *sessionkit.Session) *http.Request {
	if s == nil || s == sessionkit.From(r.Context()) {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), strategySessionKey{}, s))
}

// sessionFrom returns the session a strategy works with: the one its
// Authenticator's Manager gave the request, else the innermost.
func sessionFrom(r *http.Request) *sessionkit.Session {
	if s, ok := r.Context().Value(strategySessionKey{}).(*sessionkit.Session); ok {
		return s
	}
	return sessionkit.From(r.Context())
}
