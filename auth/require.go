package auth

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// MaxReturnTo bounds the length of a return-to path.
const MaxReturnTo = 2048

// Require returns middleware that lets only requests with a logged-in user
// through to next. Others get 401 with a JSON body when they are API
// requests (see IsAPI), or a redirect (303) to LoginPath carrying the
// page to return to (for GET and HEAD; other methods are sent to
// LoginPath alone, as returning there would repeat them as a GET). A request whose user cannot be determined goes to the
// ErrorHandler. Require includes Handler, so next can call User cheaply.
func (a *Auth[U]) Require(next http.Handler) http.Handler {
	return a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := a.User(r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r)
		case errors.Is(err, ErrNotAuthenticated):
			a.unauthorized(w, r)
		default:
			a.fail(w, r, err)
		}
	}))
}

func (a *Auth[U]) isAPI(r *http.Request) bool {
	if a.IsAPI != nil {
		return a.IsAPI(r)
	}
	return WantsJSON(r)
}

// WantsJSON reports whether the request's Accept header asks for JSON (any
// application/json or +json type) and not for HTML (text/html or
// application/xhtml+xml). A type listed with q=0 is one the client refuses
// (RFC 9110, 12.5.1): it counts as not asked for. It is the default IsAPI.
func WantsJSON(r *http.Request) bool {
	accept := strings.ToLower(strings.Join(r.Header.Values("Accept"), ","))
	json := false
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if refused(params) {
			continue
		}
		mt = strings.TrimSpace(mt)
		switch {
		case mt == "text/html" || mt == "application/xhtml+xml":
			return false
		case mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")):
			json = true
		}
	}
	return json
}

// refused reports whether the parameters of one Accept element carry a
// zero weight (q=0, q=0.0, q=0.000).
func refused(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || strings.TrimSpace(name) != "q" {
			continue
		}
		value = strings.TrimSpace(value)
		whole, frac, _ := strings.Cut(value, ".")
		return whole == "0" && strings.Trim(frac, "0") == ""
	}
	return false
}

func (a *Auth[U]) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if a.isAPI(r) {
		writeJSON(w, http.StatusUnauthorized, `{"error":"unauthorized","message":"authentication required"}`)
		return
	}
	returnTo := ""
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		returnTo = r.URL.RequestURI()
	}
	http.Redirect(w, r, a.LoginURL(returnTo), http.StatusSeeOther)
}

func (a *Auth[U]) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.logger().ErrorContext(r.Context(), "auth: cannot determine the user", "err", err, "method", r.Method, "path", r.URL.Path)
	if a.ErrorHandler != nil {
		a.ErrorHandler(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if a.isAPI(r) {
		writeJSON(w, http.StatusServiceUnavailable, `{"error":"unavailable","message":"try again later"}`)
		return
	}
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}

func (a *Auth[U]) loginPath() string {
	if a.LoginPath != "" {
		return a.LoginPath
	}
	return "/login"
}

func (a *Auth[U]) returnToParam() string {
	if a.ReturnToParam != "" {
		return a.ReturnToParam
	}
	return "return_to"
}

// LoginURL returns LoginPath with returnTo as its return-to parameter, or
// without one when returnTo is not a safe local path (see SafeReturnTo).
func (a *Auth[U]) LoginURL(returnTo string) string {
	u, err := url.Parse(a.loginPath())
	if err != nil {
		return a.loginPath()
	}
	if rt, ok := SafeReturnTo(returnTo); ok && rt != u.Path {
		q := u.Query()
		q.Set(a.returnToParam(), rt)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// ReturnTo returns the request's return-to parameter (from the query or a
// posted form, which a posted field overrides) if it is a safe local path,
// else "". Like r.FormValue it parses a URL-encoded form body the handler
// has not parsed yet (at most 64 KiB); other bodies are left unread.
func (a *Auth[U]) ReturnTo(r *http.Request) string {
	v := r.URL.Query().Get(a.returnToParam())
	if r.Method == http.MethodPost && r.PostForm == nil && r.Body != nil && isURLEncodedForm(r) {
		r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
		_ = r.ParseForm() // an unreadable form has no return-to field
	}
	if r.Method == http.MethodPost && r.PostForm != nil && r.PostForm.Has(a.returnToParam()) {
		v = r.PostForm.Get(a.returnToParam())
	}
	rt, _ := SafeReturnTo(v)
	return rt
}

// isURLEncodedForm reports whether r's body is a URL-encoded form.
func isURLEncodedForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// SafeReturnTo reports whether s is a path on this site that is safe to
// redirect to after login, and returns it. Only paths that start with a
// single "/" qualify: never "//host" or "/\host" (which browsers treat as
// another site), never absolute URLs, backslashes, or control characters
// (browsers drop tabs and newlines, turning "/\t/evil" into "//evil"), and
// at most MaxReturnTo bytes.
func SafeReturnTo(s string) (string, bool) {
	if s == "" || len(s) > MaxReturnTo || s[0] != '/' {
		return "", false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return s, true
}
