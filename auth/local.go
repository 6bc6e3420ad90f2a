package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Local is the username and password strategy (passport-local): it reads
// the two fields of a posted form and checks them with Verify. It passes
// on requests that are not POSTs. A missing field or wrong credentials fail
// with status 422 and a message that does not say whether the username
// exists (MsgMissingFields, MsgInvalidCredentials); a Verify error other
// than ErrInvalidCredentials or ErrUserNotFound is an error (503). A form
// body over 64 KiB fails with 413, one that cannot be parsed with 400. Make
// Verify take as long for an unknown user as for a wrong password;
// PasswordVerifier does. Local does not rate-limit, which belongs in front
// of it.
//
// FormLogin is Local with a login page; use Local directly behind
// Auth.Authenticate for Passport's
// failureRedirect/failureFlash style.
type Local[U any] struct {
	// Verify returns the user the credentials belong to, or an error
	// wrapping ErrInvalidCredentials (or ErrUserNotFound) when they do
	// not.
	Verify func(ctx context.Context, username, password string) (U, error)
	// Form field names (defaults "username" and "password").
	UsernameField, PasswordField string
	// RememberField, if set, names a checkbox: checked makes the session
	// cookie persistent, unchecked a browser-session cookie. The choice
	// is applied when the user is logged in (Auth.LoginResult), so a
	// stateless success leaves the session as it was.
	RememberField string
}

func (l *Local[U]) usernameField() string { return orDefault(l.UsernameField, "username") }
func (l *Local[U]) passwordField() string { return orDefault(l.PasswordField, "password") }

// Authenticate implements Strategy.
func (l *Local[U]) Authenticate(r *http.Request) Result[U] {
	if r.Method != http.MethodPost {
		return Pass[U]()
	}
	if r.PostForm == nil {
		r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			res := Failure[U](formErrorStatus(err), "The form could not be read.")
			res.Err = err
			return res
		}
	}
	name, pw := r.PostForm.Get(l.usernameField()), r.PostForm.Get(l.passwordField())
	if name == "" || pw == "" {
		return Failure[U](http.StatusUnprocessableEntity, MsgMissingFields)
	}
	user, err := l.Verify(r.Context(), name, pw)
	switch {
	case errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrUserNotFound):
		return Failure[U](http.StatusUnprocessableEntity, MsgInvalidCredentials)
	case err != nil:
		return Error[U](fmt.Errorf("auth: checking credentials: %w", err))
	}
	res := Success(user)
	res.Method = "password"
	if l.RememberField != "" {
		res.remember = rememberNo
		if r.PostForm.Get(l.RememberField) != "" {
			res.remember = rememberYes
		}
	}
	return res
}
