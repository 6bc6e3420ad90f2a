package auth

import (
	"errors"
	"fmt"
	"net/http"
)

// LogoutHandler is an http.Handler for a logout route such as
// "POST /logout": it ends the request's login (see Auth.Logout) and
// redirects (303) to Redirect, or answers 204 to an API request. A request
// without a login is redirected the same way: logging out twice is not an
// error. Cross-origin POSTs are refused (403, through Auth.CrossOrigin), so
// another site cannot sign the user out; other methods than POST get 405.
// LogoutHandler includes Auth.Handler, so it works with or without it
// around.
type LogoutHandler[U any] struct {
	Auth *Auth[U]
	// Redirect is where to go afterwards (default "/").
	Redirect string
	// Flash, if set, is added as an info flash message (see AddFlash) to
	// the fresh session after the logout.
	Flash string
}

// ServeHTTP implements http.Handler.
func (h *LogoutHandler[U]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Auth.protect(h.Auth.Handler(http.HandlerFunc(h.serve))).ServeHTTP(w, r)
}

func (h *LogoutHandler[U]) serve(w http.ResponseWriter, r *http.Request) {
	if !onlyPost(w, r) {
		return
	}
	if err := h.Auth.Logout(w, r); err != nil {
		h.Auth.fail(w, r, err)
		return
	}
	if h.Flash != "" {
		if err := AddFlash(h.Auth.session(r.Context()), FlashInfo, h.Flash); err != nil {
			h.Auth.logger().WarnContext(r.Context(), "auth: flash after logout", "err", err)
		}
	}
	if h.Auth.isAPI(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, orDefault(h.Redirect, "/"), http.StatusSeeOther)
}

// RevokeScope says which sessions a RevokeHandler ends.
type RevokeScope int

const (
	// RevokeOne ends the one session named by the posted handle (see
	// Auth.Revoke).
	RevokeOne RevokeScope = iota
	// RevokeOthers ends every session of the user but the current one
	// (see Auth.RevokeOthers).
	RevokeOthers
	// RevokeAll ends every session of the user, the current one included
	// (see Auth.RevokeAll).
	RevokeAll
)

// Revoked is what a RevokeHandler did, for its Done function.
type Revoked struct {
	// Count is how many sessions ended (0 when the handle named no live
	// session of the user).
	Count int
	// Current reports whether the request's own session ended: the user
	// is now logged out.
	Current bool
}

// RevokeHandler is an http.Handler for the routes of a "your sessions"
// page: POST ends one session (the form or query field HandleField holds
// its Handle from Auth.Sessions), all others, or all of the logged-in
// user's sessions, as Scope says. Afterwards it calls Done, or by default
// redirects (303) to Redirect — to Auth.LoginPath when the current session
// ended — and answers an API request with JSON {"revoked":n,"current":b}.
//
// A request without a login session (anonymous, or authenticated only by
// a stateless strategy) is answered like Require answers an anonymous one
// (401 or a redirect to the login page); a store without a per-user index
// or a store failure goes to Auth.ErrorHandler (503 by default).
// Cross-origin POSTs are refused (403, through Auth.CrossOrigin); other
// methods than POST get 405. RevokeHandler includes Auth.Handler, so it
// works with or without it around.
type RevokeHandler[U any] struct {
	Auth  *Auth[U]
	Scope RevokeScope
	// HandleField names the field carrying the handle (default "handle").
	HandleField string
	// Redirect is where to go afterwards (default "/").
	Redirect string
	// Done, if set, answers instead of the default redirect (to flash a
	// message of its own, say).
	Done func(w http.ResponseWriter, r *http.Request, res Revoked)
}

// ServeHTTP implements http.Handler.
func (h *RevokeHandler[U]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Auth.protect(h.Auth.Handler(http.HandlerFunc(h.serve))).ServeHTTP(w, r)
}

func (h *RevokeHandler[U]) serve(w http.ResponseWriter, r *http.Request) {
	if !onlyPost(w, r) {
		return
	}
	a := h.Auth
	s, userKey, err := a.current(r)
	switch {
	case errors.Is(err, ErrNotAuthenticated):
		a.unauthorized(w, r)
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	var res Revoked
	switch h.Scope {
	case RevokeOne:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			code := formErrorStatus(err)
			http.Error(w, http.StatusText(code), code)
			return
		}
		handle := r.FormValue(orDefault(h.HandleField, "handle"))
		res.Current = s.Key() != "" && Handle(s.Key()) == handle
		err = a.Revoke(r, handle)
		if err == nil {
			res.Count = 1
		} else if errors.Is(err, ErrUnknownSession) {
			err = nil
		}
	case RevokeOthers:
		res.Count, err = a.RevokeOthers(r)
	case RevokeAll:
		res.Count, err = a.RevokeAll(r.Context(), userKey)
		res.Current = true
	default:
		err = fmt.Errorf("auth: unknown RevokeScope %d", h.Scope)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case h.Done != nil:
		h.Done(w, r, res)
	case a.isAPI(r):
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"revoked":%d,"current":%t}`, res.Count, res.Current))
	case res.Current:
		http.Redirect(w, r, a.loginPath(), http.StatusSeeOther)
	default:
		http.Redirect(w, r, orDefault(h.Redirect, "/"), http.StatusSeeOther)
	}
}

// onlyPost answers 405 to anything but POST.
func onlyPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	return false
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
