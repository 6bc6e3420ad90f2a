package sessionecho

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// Middleware returns Echo middleware that gives every request that passes
// through it a session, committed before the response headers go out.
func Middleware(m *sessionkit.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			var err error
			outer := c.Response()
			m.Handler(http.HandlerFunc(func(sw http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				c.SetResponse(echo.NewResponse(sw, c.Echo().Logger))
				defer c.SetResponse(outer)
				err = next(c)
			})).ServeHTTP(outer, c.Request())
			return err
		}
	}
}

// From returns the request's session, or nil (whose methods report
// sessionkit.ErrNoSession) when Middleware is not in the chain.
func From(c *echo.Context) *sessionkit.Session {
	return sessionkit.From(c.Request().Context())
}

// User returns the logged-in user of the request (see auth.Auth.User).
func User[U any](c *echo.Context, a *auth.Auth[U]) (U, error) {
	return a.User(c.Request())
}

// Login logs user in on the request's session (see auth.Auth.Login); call
// it before writing the response.
func Login[U any](c *echo.Context, a *auth.Auth[U], user U) error {
	return a.Login(c.Response(), c.Request(), user)
}

// Logout ends the request's login (see auth.Auth.Logout); call it before
// writing the response.
func Logout[U any](c *echo.Context, a *auth.Auth[U]) error {
	return a.Logout(c.Response(), c.Request())
}

// ErrNoSessions is what Require returns when the request has no session
// of its Auth's Manager: Middleware is not before it, so no login could
// ever be seen (nor made, by Login).
var ErrNoSessions = errors.New("sessionecho: Require without the session middleware: use sessionecho.Middleware(manager) before it")

// Require returns Echo middleware that lets only requests with a
// logged-in user through, answering others as auth.Auth.Require does (401
// with JSON for API requests, a redirect to the login page otherwise). It
// must come after Middleware: without it Require returns ErrNoSessions
// (Echo's error handler answers 500), logged (Manager.Logger) and
// observed (an EventError).
func Require[U any](a *auth.Auth[U]) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if ctx := c.Request().Context(); a.Manager.From(ctx) == nil {
				logger := a.Manager.Logger
				if logger == nil {
					logger = slog.Default()
				}
				logger.ErrorContext(ctx, ErrNoSessions.Error(), "method", c.Request().Method, "path", c.Request().URL.Path)
				a.Manager.Observe(sessionkit.Event{Kind: sessionkit.EventError, Ctx: ctx, Err: ErrNoSessions})
				return ErrNoSessions
			}
			var err error
			a.Require(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				err = next(c)
			})).ServeHTTP(c.Response(), c.Request())
			return err
		}
	}
}
