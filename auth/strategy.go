package auth

import (
	"net/http"
	"time"
)

// A Strategy authenticates a request, as a Passport strategy does: it
// looks at the request (a posted form, an Authorization header, a
// provider's callback) and says what happened in a Result. Strategies are
// run by an Authenticator (see Auth.Authenticate), which does the logging
// in, the redirects, the flash messages and the error answers; a strategy
// never writes the response.
//
// An implementation must be safe for concurrent use, must not keep the
// request, and must not put a credential (password, token, code) into the
// Result's Message or Err, which are shown or logged. It may read and
// change the request's session, as the OpenID Connect strategy does to
// remember a login in progress: the Auth's, Auth.Manager.From(r.Context()),
// which is sessionkit.From(r.Context()) unless several Managers wrap the
// handler. The session may be nil when the request has none.
type Strategy[U any] interface {
	Authenticate(r *http.Request) Result[U]
}

// StrategyFunc adapts a function to the Strategy interface.
type StrategyFunc[U any] func(r *http.Request) Result[U]

// Authenticate implements Strategy.
func (f StrategyFunc[U]) Authenticate(r *http.Request) Result[U] { return f(r) }

// Stateless is implemented by strategies that prove who the user is on
// every request (bearer tokens, API keys, HTTP Basic). A success of such a
// strategy sets the user for the request only: no session is created or
// changed and no cookie is sent, as Passport's {session: false}.
type Stateless interface {
	Stateless() bool
}

// Outcome is what a Strategy decided.
type Outcome uint8

// The outcomes of a strategy, after Passport's this.pass(), success(),
// fail(), redirect() and error().
const (
	// Passed: the strategy does not apply to this request; the next one
	// is tried. The zero Result passes.
	Passed Outcome = iota
	// Succeeded: Result.User is authenticated.
	Succeeded
	// Failed: the credentials are missing or wrong; the next strategy is
	// tried, and when all fail the request fails with the first failure.
	Failed
	// Redirected: the user agent must go to Result.Location (an identity
	// provider) to continue.
	Redirected
	// Errored: the strategy could not decide (a database or the provider
	// is down). The request is answered with an error, not a failure.
	Errored
)

var outcomeNames = [...]string{"Passed", "Succeeded", "Failed", "Redirected", "Errored"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(?)"
}

// Result is a Strategy's answer. Build one with Success, Failure,
// Redirect, Pass or Error, then set optional fields.
type Result[U any] struct {
	Outcome Outcome

	// User is the authenticated user (Succeeded).
	User U
	// Info is anything more the strategy hands to the application
	// (Passport's info), for a custom Callback: the OpenID Connect and
	// OAuth 2.0 strategies put the Identity here.
	Info any
	// AuthTime is when the user authenticated (Succeeded). Zero means
	// now, and so does a time after now (a provider's clock ahead of
	// ours); a zero Unix time (time.Unix(0, 0)) means unknown, and such a
	// login never counts as recent (see RequireRecent).
	AuthTime time.Time
	// Method names the strategy in the session's LoginInfo (Succeeded).
	Method string

	// Message is safe to show the user: used by SuccessFlash and
	// FailureFlash and in failure answers.
	Message string
	// Status is the HTTP status of a failure answer (default 401).
	Status int
	// Challenge is a WWW-Authenticate value for a failure answer
	// (`Bearer realm="api"`).
	Challenge string

	// Location is where a redirect goes (Redirected).
	Location string

	// Err says what went wrong (Errored; optional for Failed). It is
	// logged, never shown.
	Err error

	// remember is Local's "keep me signed in" choice (rememberYes or
	// rememberNo; 0: none), applied by the login (LoginResult), never by a
	// stateless success.
	remember int8
}

// Values of Result.remember.
const (
	rememberNo  int8 = -1
	rememberYes int8 = 1
)

// Success returns a Succeeded result for user.
func Success[U any](user U) Result[U] {
	return Result[U]{Outcome: Succeeded, User: user}
}

// Failure returns a Failed result with a message safe to show the user and
// the HTTP status to answer with (0 means 401).
func Failure[U any](status int, message string) Result[U] {
	return Result[U]{Outcome: Failed, Status: status, Message: message}
}

// Redirect returns a Redirected result that sends the user agent to
// location.
func Redirect[U any](location string) Result[U] {
	return Result[U]{Outcome: Redirected, Location: location}
}

// Pass returns a Passed result: this strategy does not apply.
func Pass[U any]() Result[U] { return Result[U]{} }

// Error returns an Errored result.
func Error[U any](err error) Result[U] {
	return Result[U]{Outcome: Errored, Err: err}
}
