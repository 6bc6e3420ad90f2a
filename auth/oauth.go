package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/sessionkit/sessionkit"
)

// Messages the OAuth 2.0 and OpenID Connect strategies show. None says
// more than the user needs.
const (
	MsgLoginExpired   = "That sign-in has expired or was already used. Please try again."
	MsgLoginCancelled = "Sign-in was cancelled."
	MsgProviderFailed = "The sign-in provider could not sign you in."
	MsgNotVerified    = "The sign-in could not be verified. Please try again."
	MsgNoAccount      = "No account is linked to that sign-in."
	MsgNotRecent      = "The provider did not confirm a recent sign-in. Please try again."
)

// DefaultProviderTimeout bounds the calls to an identity provider
// (discovery, token exchange, profile, UserInfo) when no HTTP client is
// given, or the given one has no Timeout.
const DefaultProviderTimeout = 10 * time.Second

// Identity is who a provider says signed in, for the application's MapUser
// hook. Key users by Issuer and Subject together, never by e-mail alone:
// an address can change hands, and another provider may vouch for the
// same one.
type Identity struct {
	// Provider is the strategy's Name.
	Provider string
	// Issuer and Subject identify the user at the provider: the ID
	// token's iss and sub for OpenID Connect; for OAuth 2.0 the Issuer
	// the strategy names and the Subject the profile returned.
	Issuer, Subject string
	// Optional profile fields.
	Email         string
	EmailVerified bool
	Name          string
	Username      string // preferred_username, a GitHub login
	// AuthTime is when the user authenticated at the provider (OpenID
	// Connect auth_time), or zero when the provider did not say.
	AuthTime time.Time
	// Claims are the raw ID token claims (OpenID Connect, merged with
	// the UserInfo claims when asked for) or the raw profile (OAuth 2.0).
	Claims json.RawMessage
	// Token is the provider's token response, for an application that
	// calls the provider's API. Keep it out of logs, pages and cookies.
	Token *oauth2.Token `json:"-"`
}

// pendingTTL bounds how long a login may stay at the provider.
const pendingTTL = 10 * time.Minute

// maxPending bounds the logins in progress one session keeps (several
// tabs).
const maxPending = 3

// pending is a login in progress, kept in the session until its callback.
type pending struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"verifier"`
	MaxAge   int64  `json:"maxAge,omitempty"` // seconds
	Created  int64  `json:"created"`          // Unix milliseconds
}

// flow is the authorization code flow with PKCE that the OAuth 2.0 and
// OpenID Connect strategies share: the state, nonce and code verifier are
// kept in the session under "_oauth.<name>" and used once.
type flow struct {
	name string
	now  func() time.Time
}

func (f flow) key() string { return "_oauth." + f.name }

func (f flow) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}

func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// isCallback reports whether r is a provider's answer rather than the
// start of a login.
func isCallback(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("state") || q.Has("code") || q.Has("error")
}

// live returns the session's pending logins that have not expired.
func (f flow) live(s *sessionkit.Session) []pending {
	list, err := sessionkit.Get[[]pending](s, f.key())
	if err != nil {
		return nil
	}
	return f.liveIn(list)
}

// liveIn returns the pending logins of list that have not expired,
// reusing list.
func (f flow) liveIn(list []pending) []pending {
	now := f.clock().UnixMilli()
	out := list[:0]
	for _, p := range list {
		if now-p.Created <= pendingTTL.Milliseconds() && p.Created <= now+60_000 {
			out = append(out, p)
		}
	}
	return out
}

// updatePending replaces the session's live pending logins with change's
// result, with sessionkit.Update, so that the logins begun and finished
// by concurrent requests on the session (other tabs) are all kept. A
// stored value that does not decode is read as none.
func (f flow) updatePending(s *sessionkit.Session, change func([]pending) []pending) error {
	_, err := sessionkit.Update(s, f.key(), func(raw json.RawMessage) (json.RawMessage, error) {
		var list []pending
		if len(raw) > 0 && json.Unmarshal(raw, &list) != nil {
			list = nil
		}
		list = change(f.liveIn(list))
		if len(list) > maxPending {
			list = list[:maxPending]
		}
		return json.Marshal(list)
	})
	return err
}

// begin records a new pending login in the session.
func (f flow) begin(r *http.Request, nonce bool, maxAge int64) (pending, error) {
	s := sessionFrom(r)
	if s == nil {
		return pending{}, sessionkit.ErrNoSession
	}
	if err := s.Err(); err != nil {
		return pending{}, err
	}
	p := pending{Verifier: oauth2.GenerateVerifier(), MaxAge: maxAge, Created: f.clock().UnixMilli()}
	var err error
	if p.State, err = randomString(); err != nil {
		return pending{}, err
	}
	if nonce {
		if p.Nonce, err = randomString(); err != nil {
			return pending{}, err
		}
	}
	err = f.updatePending(s, func(list []pending) []pending {
		return append([]pending{p}, list...)
	})
	if err != nil {
		return pending{}, err
	}
	return p, nil
}

// errorCodeRE is the shape of an OAuth 2.0 error code worth logging.
var errorCodeRE = regexp.MustCompile(`^[a-z_]{1,64}$`)

// finish takes the pending login the callback's state names out of the
// session (it can be used once, whatever happens next) and checks the
// provider's answer. It returns the code, or a failure or error result.
func finish[U any](f flow, r *http.Request) (pending, string, *Result[U]) {
	fail := func(status int, msg string, err error) (pending, string, *Result[U]) {
		res := Failure[U](status, msg)
		res.Err = err
		return pending{}, "", &res
	}
	s := sessionFrom(r)
	if s == nil || s.Err() != nil {
		return fail(http.StatusBadRequest, MsgLoginExpired, errors.New("callback without a session"))
	}
	q := r.URL.Query()
	state := q.Get("state")
	list := f.live(s)
	found := -1
	for i, p := range list {
		if subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) == 1 && state != "" {
			found = i
		}
	}
	if found < 0 {
		// Missing, mismatched, expired or replayed. Forget nothing else:
		// another tab's login may still come back.
		return fail(http.StatusBadRequest, MsgLoginExpired, errors.New("state missing, unknown or already used"))
	}
	p := list[found]
	err := f.updatePending(s, func(list []pending) []pending {
		return slices.DeleteFunc(list, func(q pending) bool { return q.State == p.State })
	})
	if err != nil {
		res := Error[U](err)
		return pending{}, "", &res
	}
	if code := q.Get("error"); code != "" {
		if !errorCodeRE.MatchString(code) {
			code = "(malformed)"
		}
		err := fmt.Errorf("provider answered error=%s", code)
		switch code {
		case "access_denied":
			return fail(http.StatusUnauthorized, MsgLoginCancelled, err)
		case "temporarily_unavailable", "server_error":
			res := Error[U](err)
			return pending{}, "", &res
		}
		return fail(http.StatusUnauthorized, MsgProviderFailed, err)
	}
	code := q.Get("code")
	if code == "" || len(code) > MaxTokenLength {
		return fail(http.StatusBadRequest, MsgProviderFailed, errors.New("callback without a usable code"))
	}
	return p, code, nil
}

// exchange trades the code for tokens, bounded by ctx. Its errors never
// carry the provider's response body (which may echo secrets).
func exchange[U any](ctx context.Context, cfg *oauth2.Config, code string, p pending) (*oauth2.Token, *Result[U]) {
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err == nil {
		return tok, nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		ec := re.ErrorCode
		if !errorCodeRE.MatchString(ec) {
			ec = "(none)"
		}
		cause := fmt.Errorf("token endpoint answered %d, error=%s", re.Response.StatusCode, ec)
		if re.Response.StatusCode >= 500 {
			res := Error[U](cause)
			return nil, &res
		}
		res := Failure[U](http.StatusUnauthorized, MsgNotVerified)
		res.Err = cause
		return nil, &res
	}
	res := Error[U](fmt.Errorf("token exchange: %w", redactURLError(err)))
	return nil, &res
}

// redactURLError drops the query of a *url.Error's URL.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// providerClient returns the HTTP client for provider calls.
func providerClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: DefaultProviderTimeout}
}

// OAuth2 is the strategy for plain OAuth 2.0 providers without OpenID
// Connect (GitHub style; passport-github2, passport-oauth2): the
// authorization code flow with PKCE (S256), the state kept in the session
// and used once, then the application's Profile function asks the
// provider's API who the token belongs to, and MapUser maps that identity
// to the application's user.
//
// Mount one Authenticator over it on the start route and the callback
// route (they may be the same path): a request with state, code or error
// query parameters is a callback, anything else starts a login and
// redirects to the provider. Config.RedirectURL must be the callback's
// absolute URL, from configuration: the request's Host is never used.
// Config.Endpoint.AuthStyle says how the client authenticates at the token
// endpoint; when it is AuthStyleAutoDetect, OAuth2 uses HTTP Basic
// (AuthStyleInHeader, which RFC 6749 requires servers to support) rather
// than guessing by retrying.
//
// The login's AuthAt (see RequireRecent) is the Identity.AuthTime Profile
// returns, or the login's own time when it returns none: OAuth 2.0 has
// no max_age, and a provider that lets a signed-in user straight through
// still makes the login recent.
//
// Faults: a missing, unknown, expired or replayed state fails (400,
// MsgLoginExpired); error=access_denied fails (401, MsgLoginCancelled);
// other provider errors fail (401), or are errors (503) for
// server_error and temporarily_unavailable; a provider that is down or
// slower than the HTTP client's timeout (DefaultProviderTimeout when it
// has none) is an error (503), the token exchange and the profile fetch
// sharing that budget. No token, code or state reaches a log or a message.
type OAuth2[U any] struct {
	// Name identifies the strategy in the session and in LoginInfo.Method
	// (default "oauth2").
	Name string
	// Issuer is the Identity.Issuer of users of this provider
	// ("https://github.com"). Default: the origin of Config.Endpoint.AuthURL.
	Issuer string
	// Config holds the client ID and secret, the endpoints, the redirect
	// URL and the scopes.
	Config *oauth2.Config
	// Profile returns who the token belongs to; Identity.Subject must be
	// the provider's stable user ID (GitHub's numeric id, not the login).
	// client is an HTTP client that sends the token, with a timeout; ctx
	// ends when the login's time with the provider is up.
	Profile func(ctx context.Context, client *http.Client, token *oauth2.Token) (Identity, error)
	// MapUser finds, links or creates the application's user for an
	// identity, or returns ErrUserNotFound to refuse it (403,
	// MsgNoAccount).
	MapUser func(ctx context.Context, id Identity) (U, error)
	// HTTPClient makes the calls to the provider (default: one with a
	// DefaultProviderTimeout timeout). Its Timeout, or else
	// DefaultProviderTimeout, also bounds the exchange and the profile
	// fetch together.
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *OAuth2[U]) name() string { return orDefault(o.Name, "oauth2") }

// Authenticate implements Strategy.
func (o *OAuth2[U]) Authenticate(r *http.Request) Result[U] {
	if o.Config == nil || o.Profile == nil || o.MapUser == nil {
		return Error[U](errors.New("auth: OAuth2 needs Config, Profile and MapUser"))
	}
	if u, err := url.Parse(o.Config.RedirectURL); err != nil || !u.IsAbs() {
		return Error[U](fmt.Errorf("auth: OAuth2 %s: Config.RedirectURL must be an absolute URL", o.name()))
	}
	cfg := *o.Config
	if cfg.Endpoint.AuthStyle == oauth2.AuthStyleAutoDetect {
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	f := flow{name: o.name(), now: o.Now}
	if !isCallback(r) {
		p, err := f.begin(r, false, 0)
		if err != nil {
			return Error[U](fmt.Errorf("auth: start %s login: %w", o.name(), err))
		}
		return Redirect[U](cfg.AuthCodeURL(p.State, oauth2.S256ChallengeOption(p.Verifier)))
	}
	p, code, bad := finish[U](f, r)
	if bad != nil {
		return *bad
	}
	client := providerClient(o.HTTPClient)
	// One budget for the exchange and the profile, as OIDC has: a client
	// without a Timeout of its own gets DefaultProviderTimeout.
	ctx, cancel := context.WithTimeout(r.Context(), timeoutOf(client))
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	tok, bad := exchange[U](ctx, &cfg, code, p)
	if bad != nil {
		return *bad
	}
	pc := cfg.Client(ctx, tok)
	if pc.Timeout <= 0 {
		pc.Timeout = timeoutOf(client)
	}
	id, err := o.Profile(ctx, pc, tok)
	if err != nil {
		return Error[U](fmt.Errorf("auth: %s profile: %w", o.name(), redactURLError(err)))
	}
	if id.Subject == "" {
		res := Failure[U](http.StatusUnauthorized, MsgNotVerified)
		res.Err = errors.New("profile has no subject")
		return res
	}
	id.Provider, id.Token = o.name(), tok
	if id.Issuer == "" {
		id.Issuer = o.Issuer
	}
	if id.Issuer == "" {
		if u, err := url.Parse(cfg.Endpoint.AuthURL); err == nil {
			id.Issuer = u.Scheme + "://" + u.Host
		}
	}
	return mapUser(r.Context(), o.MapUser, id, o.name())
}

// mapUser runs the application's hook and builds the result.
func mapUser[U any](ctx context.Context, hook func(context.Context, Identity) (U, error), id Identity, method string) Result[U] {
	u, err := hook(ctx, id)
	switch {
	case errors.Is(err, ErrUserNotFound):
		res := Failure[U](http.StatusForbidden, MsgNoAccount)
		res.Err = fmt.Errorf("no user for %s subject %q at %s", method, id.Subject, id.Issuer)
		return res
	case err != nil:
		return Error[U](fmt.Errorf("auth: map %s identity to a user: %w", method, err))
	}
	res := Success(u)
	res.Method = method
	res.Info = id
	res.AuthTime = id.AuthTime
	return res
}
