package auth

import (
	"cmp"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth/password"
)

// formErrorStatus is the status for a form body that could not be
// parsed: 413 when it was over maxFormBytes, else 400.
func formErrorStatus(err error) int {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// maxFormBytes bounds a login form body.
const maxFormBytes = 64 << 10

// Messages FormLogin shows. They never say whether the user exists.
const (
	MsgInvalidCredentials = "Invalid username or password."
	MsgMissingFields      = "Enter your username and password."
	MsgUnavailable        = "Signing in is not possible right now. Please try again later."
)

// LoginForm is what FormLogin hands to its Render function.
type LoginForm struct {
	// Username echoes the submitted username after a failure.
	Username string
	// ReturnTo is the validated page to return to ("" for none); put it
	// in a hidden field named ReturnToField.
	ReturnTo string
	// Field names the form must use.
	UsernameField, PasswordField, ReturnToField, RememberField string
	// Error is "" on first display, else a message safe to show.
	Error string
	// Reauth is set when a logged-in user was sent here by
	// RequireRecent to confirm who they are ("Enter your password again
	// to continue").
	Reauth bool
}

// FormLogin is an http.Handler for the common username/password login
// form: the Local strategy with a login page. GET (or HEAD) renders the
// form. POST checks the credentials with Verify (through Local); on
// success it logs the user in and redirects (303) to the validated
// return-to parameter (Auth.ReturnTo, carried in the form's hidden field)
// or DefaultReturnTo — not to a page under ReturnToKey, which only the
// authenticate handler reads, nor to the login page itself (a return-to
// naming the form's own path is ignored, as LoginURL ignores it); on
// failure it renders the form again with a message that does not reveal
// whether the username exists (status 422, or 503 when Verify or the
// store failed). A form body over 64 KiB gets 413, one that cannot be
// parsed 400. Other methods get 405.
//
// Cross-origin POSTs are refused (403, through Auth.CrossOrigin), which
// stops login CSRF from other sites. Make Verify take as long for an
// unknown user as for a wrong password; PasswordVerifier does. FormLogin
// includes Auth.Handler, so it works with or without it around.
type FormLogin[U any] struct {
	Auth *Auth[U]
	// Verify returns the user the credentials belong to, or an error
	// wrapping ErrInvalidCredentials (or ErrUserNotFound) when they do
	// not. Any other error is a failure to check them.
	Verify func(ctx context.Context, username, password string) (U, error)
	// Render writes the form page with the given status code. Default: a
	// minimal built-in page.
	Render func(w http.ResponseWriter, r *http.Request, status int, form LoginForm)
	// DefaultReturnTo is where to go after login without a return-to
	// (default "/").
	DefaultReturnTo string
	// Form field names (defaults "username" and "password").
	UsernameField, PasswordField string
	// RememberField, if set, names a checkbox: checked makes the session
	// cookie persistent, unchecked a browser-session cookie.
	RememberField string
}

// strategy is the Local strategy FormLogin runs.
func (f *FormLogin[U]) strategy() *Local[U] {
	return &Local[U]{Verify: f.Verify, UsernameField: f.UsernameField, PasswordField: f.PasswordField, RememberField: f.RememberField}
}

func (f *FormLogin[U]) form(r *http.Request) LoginForm {
	lf := LoginForm{
		UsernameField: f.UsernameField,
		PasswordField: f.PasswordField,
		ReturnToField: f.Auth.returnToParam(),
		RememberField: f.RememberField,
		ReturnTo:      f.Auth.ReturnTo(r),
		Reauth:        maxAgeParam(r) > 0 && f.Auth.IsAuthenticated(r),
	}
	if lf.UsernameField == "" {
		lf.UsernameField = "username"
	}
	if lf.PasswordField == "" {
		lf.PasswordField = "password"
	}
	return lf
}

// ServeHTTP implements http.Handler.
func (f *FormLogin[U]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.Auth.protect(f.Auth.Handler(http.HandlerFunc(f.serve))).ServeHTTP(w, r)
}

func (f *FormLogin[U]) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		f.render(w, r, http.StatusOK, f.form(r))
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		code := formErrorStatus(err)
		http.Error(w, http.StatusText(code), code)
		return
	}
	lf := f.form(r)
	lf.Username = r.PostForm.Get(lf.UsernameField)
	res := f.strategy().Authenticate(r)
	switch res.Outcome {
	case Succeeded:
	case Errored:
		f.Auth.logger().ErrorContext(r.Context(), "auth: checking credentials failed", "err", res.Err)
		lf.Error = MsgUnavailable
		f.render(w, r, http.StatusServiceUnavailable, lf)
		return
	default:
		if res.Outcome == Failed {
			f.Auth.Manager.Observe(sessionkit.Event{Kind: sessionkit.EventLoginFailed, Ctx: r.Context()})
		}
		lf.Error = res.Message
		f.render(w, r, cmp.Or(res.Status, http.StatusUnprocessableEntity), lf)
		return
	}
	if err := f.Auth.LoginResult(w, r, res); err != nil {
		f.Auth.logger().ErrorContext(r.Context(), "auth: login failed", "err", err)
		lf.Error = MsgUnavailable
		f.render(w, r, http.StatusServiceUnavailable, lf)
		return
	}
	dest := lf.ReturnTo
	if u, err := url.Parse(dest); err == nil && u.Path == r.URL.Path {
		dest = "" // back to the form a logged-in user just left
	}
	if dest == "" {
		dest = f.DefaultReturnTo
	}
	if dest == "" {
		dest = "/"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

func (f *FormLogin[U]) render(w http.ResponseWriter, r *http.Request, status int, lf LoginForm) {
	w.Header().Set("Cache-Control", "no-store")
	if f.Render != nil {
		f.Render(w, r, status, lf)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_ = loginPage.Execute(w, lf)
	}
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post">
<label>Username <input name="{{.UsernameField}}" value="{{.Username}}" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="{{.PasswordField}}" autocomplete="current-password" required></label>
{{if .RememberField}}<label><input type="checkbox" name="{{.RememberField}}" value="1"> Keep me signed in</label>{{end}}
{{if .ReturnTo}}<input type="hidden" name="{{.ReturnToField}}" value="{{.ReturnTo}}">{{end}}
<button type="submit">Sign in</button>
</form>
</body></html>
`))

// PasswordVerifier returns a FormLogin Verify function for users with
// argon2id password hashes. lookup returns the user and their encoded
// hash, or an error wrapping ErrUserNotFound. For an unknown user it runs a
// dummy verification with p, so timing does not reveal which usernames
// exist. A stored hash that is not one password.Verify can check (empty
// for an account without a password, or corrupted) fails like a wrong
// password, after the same dummy verification. Other lookup errors are
// returned as they are (a failure to check, 503). When a password matches
// a hash made with other parameters than p, rehash (if not nil) receives
// a new hash to store; its failure does not fail the login.
func PasswordVerifier[U any](p password.Params,
	lookup func(ctx context.Context, username string) (user U, hash string, err error),
	rehash func(ctx context.Context, user U, newHash string),
) func(ctx context.Context, username, pw string) (U, error) {
	return func(ctx context.Context, username, pw string) (U, error) {
		var zero U
		user, hash, err := lookup(ctx, username)
		if errors.Is(err, ErrUserNotFound) {
			p.VerifyDummy(pw)
			return zero, ErrInvalidCredentials
		}
		if err != nil {
			return zero, err
		}
		ok, needsRehash, err := p.Verify(pw, hash)
		if err != nil {
			// A broken stored hash is a failed login, not an outage,
			// and takes as long as one.
			p.VerifyDummy(pw)
			return zero, ErrInvalidCredentials
		}
		if !ok {
			return zero, ErrInvalidCredentials
		}
		if needsRehash && rehash != nil {
			if h, err := p.Hash(pw); err == nil {
				rehash(ctx, user, h)
			}
		}
		return user, nil
	}
}
