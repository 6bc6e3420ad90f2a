package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/auth/password"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// Session values the demo keeps besides the login.
const countKey = "count"

// Password and username rules for sign-up.
const (
	minPassword = 8
	maxPassword = 256
)

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$`)

// Config is what New needs.
type Config struct {
	// Store keeps the sessions. It needs sessionkit.UserIndex for the
	// "Your sessions" page; without it the page says so.
	Store sessionkit.Store
	// Users keeps the accounts.
	Users *Users
	// StoreName describes the store in the page footer ("bolt", "redis").
	StoreName string
	// Secure says when session cookies get the Secure attribute (default
	// sessionkit.SecureAuto: only over HTTPS, so plain http://localhost
	// works).
	Secure sessionkit.SecureMode
	// Logger receives request logs and errors (default slog.Default()).
	Logger *slog.Logger
	// Password sets the cost of password hashing (default
	// password.DefaultParams()).
	Password *password.Params
	// OIDC, if set, adds a "Sign in with …" button for an OpenID
	// Connect provider.
	OIDC *OIDCConfig
	// Observer, if set, is the Manager's Observer (the -metrics flag).
	Observer func(sessionkit.Event)
}

// app holds the demo's state; its methods are the HTTP handlers.
type app struct {
	users     *Users
	auth      *auth.Auth[User]
	login     *auth.FormLogin[User]
	pw        password.Params
	log       *slog.Logger
	storeName string
	pages     map[string]*template.Template
	css       template.CSS
	csp       string
	oidcName  string // "" without a provider
}

// New returns the demo's HTTP handler: the pages, the session middleware,
// cross-origin request protection and request logging.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil || cfg.Users == nil {
		return nil, errors.New("demo: Config.Store and Config.Users are required")
	}
	a := &app{users: cfg.Users, log: cfg.Logger, storeName: cfg.StoreName, pw: password.DefaultParams()}
	if a.log == nil {
		a.log = slog.Default()
	}
	if cfg.Password != nil {
		a.pw = *cfg.Password
	}
	if a.storeName == "" {
		a.storeName = "a session store"
	}
	if err := a.parseTemplates(); err != nil {
		return nil, err
	}

	m := sessionkit.New(cfg.Store)
	m.Lifetime = 14 * 24 * time.Hour
	m.IdleTimeout = 3 * 24 * time.Hour
	m.Cookie.Name = "demo_session"
	m.Cookie.Secure = cfg.Secure
	m.Logger = a.log
	m.Observer = cfg.Observer

	a.auth = auth.New(m, User.Key, cfg.Users.Get)
	a.auth.Logger = a.log
	a.auth.LoginPath = "/login"
	verify := auth.PasswordVerifier(a.pw,
		func(ctx context.Context, name string) (User, string, error) {
			u, err := cfg.Users.Get(ctx, name)
			return u, u.Hash, err
		},
		func(ctx context.Context, u User, hash string) {
			if err := cfg.Users.SetHash(ctx, u.Key(), hash); err != nil {
				a.log.WarnContext(ctx, "demo: store upgraded password hash", "user", u.Key(), "err", err)
			}
		})
	a.login = &auth.FormLogin[User]{
		Auth: a.auth,
		Verify: func(ctx context.Context, name, pw string) (User, error) {
			u, err := verify(ctx, name, pw)
			if err == nil {
				// Login keeps the session's values, so the flash
				// survives the new session ID.
				setFlash(sessionkit.From(ctx), auth.FlashSuccess, "Signed in as "+u.Name+".")
			}
			return u, err
		},
		Render:          a.renderLogin,
		DefaultReturnTo: "/",
		RememberField:   "remember",
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /counter", a.counter)
	mux.HandleFunc("POST /counter", a.counterPost)
	mux.HandleFunc("GET /signup", a.signup)
	mux.HandleFunc("POST /signup", a.signupPost)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.Handle("POST /login", a.login)
	// The shipped logout and revoke handlers refuse cross-site POSTs
	// themselves; the cross-origin protection below guards the demo's
	// own forms (counter, sign-up).
	mux.Handle("POST /logout", &auth.LogoutHandler[User]{Auth: a.auth, Redirect: "/login", Flash: "You are signed out."})
	mux.Handle("GET /sessions", a.auth.Require(http.HandlerFunc(a.sessions)))
	mux.Handle("POST /sessions/revoke", &auth.RevokeHandler[User]{Auth: a.auth, Scope: auth.RevokeOne, Done: a.revoked})
	mux.Handle("POST /sessions/revoke-others", &auth.RevokeHandler[User]{Auth: a.auth, Scope: auth.RevokeOthers, Done: a.revoked})
	if cfg.OIDC != nil {
		a.oidcName = cfg.OIDC.Name
		a.oidcRoutes(mux, cfg.OIDC)
	}
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /", a.notFound)

	cop := a.auth.CrossOrigin // one protection for the shipped handlers and the demo's own
	cop.SetDenyHandler(http.HandlerFunc(a.crossOrigin))

	var h http.Handler = a.auth.Handler(mux) // sessions and the user, once per request
	h = cop.Handler(h)                       // refuse cross-site POSTs before any session work
	h = a.headers(h)
	h = a.logRequests(h)
	return h, nil
}

func (a *app) parseTemplates() error {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	a.css = template.CSS(css)
	sum := sha256.Sum256(css)
	a.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

	funcs := template.FuncMap{"ago": ago, "when": when, "browser": describeUA, "signedIn": signedIn}
	a.pages = map[string]*template.Template{}
	for _, name := range []string{"home", "counter", "signup", "login", "sessions", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("demo: parse template %s: %w", name, err)
		}
		a.pages[name] = t
	}
	return nil
}

// flash is a one-time message shown on the next page.
type flash struct {
	Kind string // success, info or error
	Text string
}

// setFlash adds a flash message (auth's, in connect-flash's layout).
func setFlash(s *sessionkit.Session, kind, text string) {
	if s == nil {
		return
	}
	_ = auth.AddFlash(s, kind, text)
}

// page is what every template gets.
type page struct {
	Title     string
	Page      string // names the page in <body data-page>, for tests and CSS
	User      *User
	Flash     flash
	CSS       template.CSS
	StoreName string
	Data      any
}

// render writes a page with the given status. It fills in the user and
// pops the flash (when the request has a session), renders into a buffer
// so a template error becomes a clean 500, and only then writes.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	p := page{Title: title, Page: name, CSS: a.css, StoreName: a.storeName, Data: data}
	if s := sessionkit.From(r.Context()); s != nil {
		if u, err := a.auth.User(r); err == nil {
			p.User = &u
		}
		if fl, _ := auth.Flashes(s); len(fl) > 0 {
			last := fl[len(fl)-1] // the latest message says the most
			p.Flash = flash{Kind: last.Kind, Text: last.Message}
		}
	}
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		a.log.ErrorContext(r.Context(), "demo: render page", "page", name, "err", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// errorPage renders a short message with a status code.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, message string) {
	a.render(w, r, status, "error", http.StatusText(status), struct {
		Status  int
		Message string
	}{status, message})
}

// unavailable answers when the store or the users database failed.
func (a *app) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.ErrorContext(r.Context(), "demo: "+what, "err", err)
	a.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong on our side. Please try again in a moment.")
}

// redirect answers a POST with 303 See Other.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// parseForm reads a small urlencoded form body.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	return r.ParseForm() == nil
}

func (a *app) notFound(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusNotFound, "There is no page at this address.")
}

func (a *app) crossOrigin(w http.ResponseWriter, r *http.Request) {
	a.log.WarnContext(r.Context(), "demo: cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	a.errorPage(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused. Go back to the page and try again.")
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	n, _ := sessionkit.Get[int](sessionkit.From(r.Context()), countKey)
	a.render(w, r, http.StatusOK, "home", "Home", struct{ Count int }{n})
}

func (a *app) counter(w http.ResponseWriter, r *http.Request) {
	n, err := sessionkit.Get[int](sessionkit.From(r.Context()), countKey)
	if err != nil && !errors.Is(err, sessionkit.ErrNoSession) {
		a.log.WarnContext(r.Context(), "demo: unreadable counter; showing 0", "err", err)
	}
	a.render(w, r, http.StatusOK, "counter", "Counter", struct{ Count int }{n})
}

func (a *app) counterPost(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	s := sessionkit.From(r.Context())
	var err error
	switch r.PostForm.Get("op") {
	case "increment":
		// Update, not Get then Set: two clicks sent at once both count.
		_, err = sessionkit.Update(s, countKey, func(n int) (int, error) { return n + 1, nil })
		if err != nil && s.Err() == nil {
			// An unreadable counter starts again from 1.
			err = s.Set(countKey, 1)
		}
	case "reset":
		err = s.Set(countKey, 0)
	default:
		a.errorPage(w, r, http.StatusBadRequest, "Unknown counter operation.")
		return
	}
	if err != nil {
		a.unavailable(w, r, "set counter", err)
		return
	}
	redirect(w, r, "/counter")
}

// signupForm is the sign-up page's data.
type signupForm struct {
	Username string
	Errors   map[string]string
}

func (a *app) signup(w http.ResponseWriter, r *http.Request) {
	if a.auth.IsAuthenticated(r) {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "signup", "Create an account", signupForm{})
}

func (a *app) signupPost(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		a.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := signupForm{Username: strings.TrimSpace(r.PostForm.Get("username")), Errors: map[string]string{}}
	pw, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	switch {
	case !usernameRE.MatchString(f.Username):
		f.Errors["username"] = "Use 3 to 32 letters, digits, dots, dashes or underscores, starting with a letter or digit."
	}
	switch n := utf8.RuneCountInString(pw); {
	case n < minPassword:
		f.Errors["password"] = fmt.Sprintf("Use at least %d characters.", minPassword)
	case len(pw) > maxPassword:
		f.Errors["password"] = fmt.Sprintf("Use at most %d bytes.", maxPassword)
	case pw != confirm:
		f.Errors["confirm"] = "The two passwords differ."
	}
	if len(f.Errors) > 0 {
		a.render(w, r, http.StatusUnprocessableEntity, "signup", "Create an account", f)
		return
	}
	hash, err := a.pw.Hash(pw)
	if err != nil {
		a.unavailable(w, r, "hash password", err)
		return
	}
	u := User{Name: f.Username, Hash: hash, Created: time.Now().UTC()}
	switch err := a.users.Create(r.Context(), u); {
	case errors.Is(err, ErrUserExists):
		f.Errors["username"] = "That username is taken. Choose another, or sign in."
		a.render(w, r, http.StatusConflict, "signup", "Create an account", f)
		return
	case err != nil:
		a.unavailable(w, r, "create user", err)
		return
	}
	a.log.InfoContext(r.Context(), "demo: account created", "user", u.Key())
	if err := a.auth.Login(w, r, u); err != nil {
		a.unavailable(w, r, "log in new user", err)
		return
	}
	setFlash(sessionkit.From(r.Context()), "success", "Welcome, "+u.Name+"! Your account is ready and you are signed in.")
	redirect(w, r, "/")
}

// loginData is the sign-in page's data.
type loginData struct {
	auth.LoginForm
	Required bool   // sent here by a page that needs sign-in
	OIDCName string // the "Sign in with …" provider, "" for none
	OIDCURL  string // its start URL, carrying the return-to page
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	if a.auth.IsAuthenticated(r) {
		to := a.auth.ReturnTo(r)
		if to == "" {
			to = "/"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	a.login.ServeHTTP(w, r)
}

func (a *app) renderLogin(w http.ResponseWriter, r *http.Request, status int, f auth.LoginForm) {
	d := loginData{LoginForm: f, Required: f.ReturnTo != "" && f.Error == "", OIDCName: a.oidcName}
	if a.oidcName != "" {
		d.OIDCURL = "/auth/oidc"
		if f.ReturnTo != "" {
			d.OIDCURL += "?return_to=" + url.QueryEscape(f.ReturnTo)
		}
	}
	a.render(w, r, status, "login", "Sign in", d)
}

// sessionsData is the "Your sessions" page's data.
type sessionsData struct {
	Sessions    []auth.SessionInfo
	Unsupported bool
}

func (a *app) sessions(w http.ResponseWriter, r *http.Request) {
	list, err := a.auth.Sessions(r)
	switch {
	case errors.Is(err, auth.ErrNotSupported):
		a.render(w, r, http.StatusOK, "sessions", "Your sessions", sessionsData{Unsupported: true})
		return
	case err != nil:
		a.unavailable(w, r, "list sessions", err)
		return
	}
	a.render(w, r, http.StatusOK, "sessions", "Your sessions", sessionsData{Sessions: list})
}

// revoked flashes what the revoke handlers did and redirects.
func (a *app) revoked(w http.ResponseWriter, r *http.Request, res auth.Revoked) {
	s := sessionkit.From(r.Context())
	switch {
	case res.Current:
		setFlash(s, auth.FlashInfo, "You signed out of this device.")
		redirect(w, r, "/login")
		return
	case r.URL.Path == "/sessions/revoke" && res.Count == 0:
		setFlash(s, auth.FlashInfo, "That session had already ended.")
	case r.URL.Path == "/sessions/revoke":
		setFlash(s, auth.FlashSuccess, "That device is signed out.")
	case res.Count == 0:
		setFlash(s, auth.FlashSuccess, "No other device was signed in.")
	case res.Count == 1:
		setFlash(s, auth.FlashSuccess, "Signed out 1 other device.")
	default:
		setFlash(s, auth.FlashSuccess, fmt.Sprintf("Signed out %d other devices.", res.Count))
	}
	redirect(w, r, "/sessions")
}

// headers sets the security headers every response carries.
func (a *app) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", a.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		a.log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration", time.Since(start).Round(time.Microsecond))
	})
}

// signedIn is when a session's user signed in: the login time Login
// recorded, else the session's creation.
func signedIn(si auth.SessionInfo) time.Time {
	if !si.LoginAt.IsZero() {
		return si.LoginAt
	}
	return si.Created
}

// when formats a time for the sessions table.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006, 15:04")
}

// ago formats how long ago t was, coarsely.
func ago(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	default:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
