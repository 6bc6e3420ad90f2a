package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sessionkit/sessionkit"
)

// MaxAgeParam is the query parameter RequireRecent adds when it sends a
// user to re-authenticate: the greatest age, in whole seconds, of a login
// the page accepts. The OpenID Connect strategy passes it on to the
// provider as max_age and checks the ID token's auth_time against it.
const MaxAgeParam = "max_age"

// LoginInfo returns what Login recorded about the request's login (see
// LoginInfo). It returns ErrNotAuthenticated for an anonymous request,
// and the zero LoginInfo (no login, never recent) for a user a stateless
// strategy authenticated on a request whose session holds no login of
// theirs.
func (a *Auth[U]) LoginInfo(r *http.Request) (LoginInfo, error) {
	u, err := a.User(r)
	if err != nil {
		return LoginInfo{}, err
	}
	s := a.session(r.Context())
	li, err := sessionkit.Get[LoginInfo](s, LoginInfoKey)
	if err != nil {
		// Unreadable metadata: the login stands, its recency is unknown.
		return LoginInfo{}, nil
	}
	key, _, err := a.field().Read(s)
	if err != nil || !li.belongsTo(key) {
		// Another user's login record: this login's is unknown.
		return LoginInfo{}, nil
	}
	if a.statelessUser(r.Context()) && key != a.Serialize(u) {
		// A stateless strategy's user; the session's login is another
		// user's.
		return LoginInfo{}, nil
	}
	return li, nil
}

// AuthenticatedWithin reports whether the request's user proved who they
// are (LoginInfo.AuthAt: a password login, or the provider's auth_time)
// at most maxAge ago. A login whose time is unknown is not recent. The
// error is ErrNotAuthenticated for an anonymous request.
func (a *Auth[U]) AuthenticatedWithin(r *http.Request, maxAge time.Duration) (bool, error) {
	li, err := a.LoginInfo(r)
	if err != nil {
		return false, err
	}
	if li.AuthAt <= 0 {
		return false, nil
	}
	age := a.now().Sub(time.UnixMilli(li.AuthAt))
	return age <= maxAge, nil
}

// RequireRecent returns middleware for sensitive actions (changing the
// password or e-mail address, deleting the account, paying): it lets
// through only requests whose user authenticated at most maxAge ago
// (ASVS v5 7.5.1 and 7.5.3), and sends the others through a fresh
// authentication: an API request gets 401 with JSON
// {"error":"reauthentication_required",…}; a page request is redirected
// (303) to ReauthPath (default LoginPath) with the page to return to (for
// GET and HEAD) and MaxAgeParam set to maxAge in seconds. The login form
// logs the user in again with a new AuthAt; the OpenID Connect strategy,
// given the parameter, asks the provider for max_age and refuses an ID
// token whose auth_time is older. Anonymous requests are answered as by
// Require. RequireRecent includes Handler.
func (a *Auth[U]) RequireRecent(maxAge time.Duration, next http.Handler) http.Handler {
	secs := int64(maxAge / time.Second)
	if secs < 1 {
		secs = 1
	}
	return a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, err := a.AuthenticatedWithin(r, maxAge)
		switch {
		case errors.Is(err, ErrNotAuthenticated):
			a.unauthorized(w, r)
			return
		case err != nil:
			a.fail(w, r, err)
			return
		case ok:
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if a.isAPI(r) {
			writeJSON(w, http.StatusUnauthorized, `{"error":"reauthentication_required","message":"sign in again to continue","max_age":`+strconv.FormatInt(secs, 10)+`}`)
			return
		}
		returnTo := ""
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			returnTo = r.URL.RequestURI()
		}
		http.Redirect(w, r, a.ReauthURL(returnTo, maxAge), http.StatusSeeOther)
	}))
}

// ReauthURL returns ReauthPath (default LoginPath) with returnTo as its
// return-to parameter (when it is a safe local path) and MaxAgeParam set to
// maxAge in whole seconds (at least 1).
func (a *Auth[U]) ReauthURL(returnTo string, maxAge time.Duration) string {
	path := orDefault(a.ReauthPath, a.loginPath())
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	if rt, ok := SafeReturnTo(returnTo); ok && rt != u.Path {
		q.Set(a.returnToParam(), rt)
	}
	q.Set(MaxAgeParam, strconv.FormatInt(max(int64(maxAge/time.Second), 1), 10))
	u.RawQuery = q.Encode()
	return u.String()
}

// maxAgeParam returns the request's MaxAgeParam when it is a valid number
// of seconds (1 to one year), else 0.
func maxAgeParam(r *http.Request) int64 {
	v := r.URL.Query().Get(MaxAgeParam)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > 365*24*3600 {
		return 0
	}
	return n
}
