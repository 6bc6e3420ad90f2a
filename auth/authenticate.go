package auth

import (
	"encoding/json"
	"net/http"

	"github.com/sessionkit/sessionkit"
)

// ReturnToKey is the session value where an Authenticator keeps the page
// to return to while the user is away at an identity provider. It is the
// name Passport (successReturnToOrRedirect) and connect-ensure-login use,
// req.session.returnTo. It is validated again when used.
const ReturnToKey = "returnTo"

// Messages the authenticate handler shows when a strategy gave none.
const (
	MsgAuthFailed = "Authentication failed."
	MsgSignedIn   = "You are signed in."
)

// Options configure an Authenticator, as passport.authenticate's options
// do.
type Options[U any] struct {
	// SuccessRedirect is where a successful login goes (303). Without
	// it, and without a return-to page, the request continues to the
	// Authenticator's Next handler, or to "/" when there is none.
	SuccessRedirect string
	// SuccessReturnTo prefers the page to return to over SuccessRedirect
	// (Passport's successReturnToOrRedirect): the validated return-to
	// parameter of the request (see Auth.ReturnTo), else the validated
	// page under ReturnToKey in the session — kept there when the login
	// went to a provider, or put there by a Node app sharing the session
	// (connect-ensure-login). A login the handler makes itself (not
	// through a Callback) removes ReturnToKey from the session, used or
	// not.
	SuccessReturnTo bool
	// FailureRedirect is where a failed page request goes (303). API
	// requests (see Auth.IsAPI) and stateless logins never redirect: they
	// get the failure's status (default 401), its WWW-Authenticate
	// challenges and a JSON body {"error":…,"message":…}. Without it a
	// page request gets the status and the message as plain text.
	FailureRedirect string
	// SuccessFlash adds SuccessMessage (default: the strategy's message,
	// else MsgSignedIn) as a FlashSuccess message (see AddFlash).
	SuccessFlash   bool
	SuccessMessage string
	// FailureFlash adds FailureMessage (default: the strategy's message,
	// else MsgAuthFailed) as a FlashError message.
	FailureFlash   bool
	FailureMessage string
	// Stateless sets the user for the request only, without creating a
	// session or a cookie (Passport's session: false). Successes of
	// strategies that implement Stateless are always stateless.
	Stateless bool
	// Callback, if set, receives every result but a redirect, and answers
	// the request itself (Passport's custom callback). On success it
	// logs the user in itself, with Auth.LoginResult, or serves a
	// stateless request; Auth.User already returns the user of a
	// stateless success.
	Callback func(w http.ResponseWriter, r *http.Request, res Result[U])
}

// Authenticator is the authenticate handler: passport.authenticate. It
// runs its strategies in order until one succeeds, redirects or errors
// (a strategy that passes or fails hands on to the next), then:
//
//   - on success, logs the user in (Auth.LoginResult: new session ID,
//     user key, login metadata) and redirects to the return-to page or
//     SuccessRedirect, or continues to Next; a stateless success only
//     sets the user for the request and continues to Next;
//   - on failure (all strategies failed or passed), answers as the
//     Options say, with the first failure's message and status and every
//     failure's challenge;
//   - on a redirect, remembers the validated return-to parameter under
//     ReturnToKey (without one, a page already there stays) and sends the
//     user agent on (303);
//   - on an error, logs it and answers with Auth.ErrorHandler (default
//     503, "try again later"), never a redirect that could loop.
//
// Every answer carries Cache-Control: no-store and Referrer-Policy:
// no-referrer (a provider's callback URL holds a code). Cross-origin
// unsafe requests (a POST from another site) are refused with 403
// through Auth.CrossOrigin before any strategy runs. Authenticator
// includes Auth.Handler, so it works with or without it around.
type Authenticator[U any] struct {
	Auth       *Auth[U]
	Strategies []Strategy[U]
	Options[U]
	// Next serves the request after a success that does not redirect,
	// as the route handler after passport.authenticate.
	Next http.Handler
}

// Authenticate returns the authenticate handler over strategies, tried in
// order, with the given options.
//
//	mux.Handle("POST /login", users.Authenticate(auth.Options[*User]{
//		SuccessRedirect: "/", SuccessReturnTo: true,
//		FailureRedirect: "/login", FailureFlash: true,
//	}, local))
//	mux.Handle("GET /api/", users.Authenticate(auth.Options[*User]{}, bearer).Then(api))
func (a *Auth[U]) Authenticate(opts Options[U], strategies ...Strategy[U]) *Authenticator[U] {
	return &Authenticator[U]{Auth: a, Strategies: strategies, Options: opts}
}

// Then returns a copy of h that continues to next after a success that
// does not redirect: route middleware, like passport.authenticate in front
// of a route handler.
func (h *Authenticator[U]) Then(next http.Handler) http.Handler {
	c := *h
	c.Next = next
	return &c
}

// ServeHTTP implements http.Handler.
func (h *Authenticator[U]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Before the cross-origin check, so that its 403 carries them too.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.Auth.protect(h.Auth.Handler(http.HandlerFunc(h.serve))).ServeHTTP(w, r)
}

func (h *Authenticator[U]) serve(w http.ResponseWriter, r *http.Request) {
	var (
		first      *Result[U]
		challenges []string
		// A failure is answered as an API's when every strategy is
		// stateless.
		stateless = h.Stateless || len(h.Strategies) > 0
	)
	// The strategies see the Manager's session as the request's (see
	// Strategy), however many Managers wrap the handler.
	sr := withStrategySession(r, h.Auth.session(r.Context()))
	for _, st := range h.Strategies {
		res := st.Authenticate(sr)
		if sr != r {
			// A form the strategy parsed (Local) is the request's too:
			// its return-to field, the Callback and Next read it, and
			// the body it came from is gone.
			r.Form, r.PostForm, r.MultipartForm = sr.Form, sr.PostForm, sr.MultipartForm
		}
		stateless = stateless && (h.Stateless || isStateless(st))
		switch res.Outcome {
		case Passed:
			continue
		case Failed:
			if res.Challenge != "" {
				challenges = append(challenges, res.Challenge)
			}
			if first == nil {
				first = &res
			}
			continue
		case Succeeded:
			h.success(w, r, res, h.Stateless || isStateless(st))
		case Redirected:
			h.redirect(w, r, res)
		default:
			h.error(w, r, res, h.Stateless || isStateless(st))
		}
		return
	}
	res := Failure[U](http.StatusUnauthorized, "")
	if first != nil {
		res = *first
	}
	h.failure(w, r, res, challenges, stateless)
}

func isStateless(st any) bool {
	sl, ok := st.(Stateless)
	return ok && sl.Stateless()
}

func (h *Authenticator[U]) success(w http.ResponseWriter, r *http.Request, res Result[U], stateless bool) {
	a := h.Auth
	if stateless {
		a.state(r.Context()).setFrom(res.User, nil, true)
		if h.Callback != nil {
			h.Callback(w, r, res)
			return
		}
		if h.Next != nil {
			h.Next.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if h.Callback != nil {
		h.Callback(w, r, res)
		return
	}
	dest := ""
	if s := h.Auth.session(r.Context()); s != nil && s.Err() == nil && s.Has(ReturnToKey) {
		v, _ := sessionkit.Pop[string](s, ReturnToKey)
		dest, _ = SafeReturnTo(v)
	}
	if rt := a.ReturnTo(r); rt != "" {
		dest = rt
	}
	if !h.SuccessReturnTo {
		dest = ""
	}
	if err := a.LoginResult(w, r, res); err != nil {
		h.error(w, r, Error[U](err), false)
		return
	}
	if h.SuccessFlash {
		msg := orDefault(h.SuccessMessage, orDefault(res.Message, MsgSignedIn))
		if err := AddFlash(h.Auth.session(r.Context()), FlashSuccess, msg); err != nil {
			a.logger().WarnContext(r.Context(), "auth: success flash", "err", err)
		}
	}
	switch {
	case dest != "":
		http.Redirect(w, r, dest, http.StatusSeeOther)
	case h.SuccessRedirect != "":
		http.Redirect(w, r, h.SuccessRedirect, http.StatusSeeOther)
	case h.Next != nil:
		h.Next.ServeHTTP(w, r)
	default:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

func (h *Authenticator[U]) redirect(w http.ResponseWriter, r *http.Request, res Result[U]) {
	if s := h.Auth.session(r.Context()); s != nil && s.Err() == nil {
		// Without a parameter, a page already there stays: Passport
		// leaves req.session.returnTo alone too, and a Node app sharing
		// the session (connect-ensure-login) may have put it there.
		if rt := h.Auth.ReturnTo(r); rt != "" {
			if err := s.Set(ReturnToKey, rt); err != nil {
				h.error(w, r, Error[U](err), false)
				return
			}
		}
	}
	status := res.Status
	if status < 300 || status > 399 {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, res.Location, status)
}

func (h *Authenticator[U]) failure(w http.ResponseWriter, r *http.Request, res Result[U], challenges []string, stateless bool) {
	a := h.Auth
	a.Manager.Observe(sessionkit.Event{Kind: sessionkit.EventLoginFailed, Ctx: r.Context()})
	msg := orDefault(h.FailureMessage, orDefault(res.Message, MsgAuthFailed))
	status := res.Status
	if status < 400 || status > 599 {
		status = http.StatusUnauthorized
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "message", msg}
	if res.Err != nil {
		attrs = append(attrs, "err", res.Err)
	}
	a.logger().InfoContext(r.Context(), "auth: authentication failed", attrs...)
	if h.Callback != nil {
		res.Status, res.Message = status, msg
		h.Callback(w, r, res)
		return
	}
	api := stateless || a.isAPI(r)
	if h.FailureFlash && !stateless {
		if err := AddFlash(h.Auth.session(r.Context()), FlashError, msg); err != nil {
			a.logger().WarnContext(r.Context(), "auth: failure flash", "err", err)
		}
	}
	if h.FailureRedirect != "" && !api {
		http.Redirect(w, r, h.FailureRedirect, http.StatusSeeOther)
		return
	}
	for _, c := range challenges {
		w.Header().Add("WWW-Authenticate", c)
	}
	if api {
		body, _ := json.Marshal(struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}{errorCode(status), msg})
		writeJSON(w, status, string(body))
		return
	}
	http.Error(w, msg, status)
}

func errorCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	}
	return "authentication_failed"
}

func (h *Authenticator[U]) error(w http.ResponseWriter, r *http.Request, res Result[U], api bool) {
	a := h.Auth
	if h.Callback != nil && res.Outcome == Errored {
		a.logger().ErrorContext(r.Context(), "auth: authentication error", "err", res.Err, "method", r.Method, "path", r.URL.Path)
		h.Callback(w, r, res)
		return
	}
	a.unavailable(w, r, "auth: authentication error", res.Err, api)
}

// unavailable logs err and answers with the ErrorHandler, or 503.
func (a *Auth[U]) unavailable(w http.ResponseWriter, r *http.Request, what string, err error, api bool) {
	a.logger().ErrorContext(r.Context(), what, "err", err, "method", r.Method, "path", r.URL.Path)
	if a.ErrorHandler != nil {
		a.ErrorHandler(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if api || a.isAPI(r) {
		writeJSON(w, http.StatusServiceUnavailable, `{"error":"unavailable","message":"try again later"}`)
		return
	}
	http.Error(w, MsgUnavailable, http.StatusServiceUnavailable)
}
