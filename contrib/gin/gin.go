package sessiongin

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

// Sessions returns gin middleware that gives every request that passes
// through it a session, committed before the response headers go out. Use
// it once per chain, before the handlers that use sessions: engine.Use, a
// group's, or in one route's handlers. The same Manager mounted twice on a
// chain (engine and group) answers every request with its ErrorHandler's
// 503, and the handlers do not run.
func Sessions(m *sessionkit.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		gw := c.Writer
		served := false
		m.Handler(http.HandlerFunc(func(sw http.ResponseWriter, r *http.Request) {
			served = true
			c.Request = r
			c.Writer = &responseWriter{ResponseWriter: gw, sw: sw}
			defer func() { c.Writer = gw }()
			c.Next()
		})).ServeHTTP(gw, c.Request)
		if !served {
			// The Manager answered the request itself (its ErrorHandler:
			// a misconfigured Manager, or nested Managers sharing a
			// cookie). gin would otherwise go on to the next handler,
			// which would run without a session after that response.
			c.Abort()
		}
	}
}

// From returns the request's session, or nil (whose methods report
// sessionkit.ErrNoSession) when Sessions is not in the chain.
func From(c *gin.Context) *sessionkit.Session {
	return sessionkit.From(c.Request.Context())
}

// User returns the logged-in user of the request (see auth.Auth.User).
func User[U any](c *gin.Context, a *auth.Auth[U]) (U, error) {
	return a.User(c.Request)
}

// Login logs user in on the request's session (see auth.Auth.Login); call
// it before writing the response.
func Login[U any](c *gin.Context, a *auth.Auth[U], user U) error {
	return a.Login(c.Writer, c.Request, user)
}

// Logout ends the request's login (see auth.Auth.Logout); call it before
// writing the response.
func Logout[U any](c *gin.Context, a *auth.Auth[U]) error {
	return a.Logout(c.Writer, c.Request)
}

// ErrNoSessions is what Require reports when the request has no session of
// its Auth's Manager: Sessions is not before it in the chain, so no login
// could ever be seen (nor made, by Login).
var ErrNoSessions = errors.New("sessiongin: Require without the session middleware: put sessiongin.Sessions(manager) before it in the chain")

// Require returns gin middleware that lets only requests with a logged-in
// user through, answering others as auth.Auth.Require does (401 with JSON
// for API requests, a redirect to the login page otherwise) and aborting
// the chain. It must come after Sessions: without it every request is
// answered 500, and ErrNoSessions is logged (Manager.Logger) and observed
// (an EventError).
func Require[U any](a *auth.Auth[U]) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.Manager.From(c.Request.Context()) == nil {
			logger := a.Manager.Logger
			if logger == nil {
				logger = slog.Default()
			}
			ctx := c.Request.Context()
			logger.ErrorContext(ctx, ErrNoSessions.Error(), "method", c.Request.Method, "path", c.Request.URL.Path)
			a.Manager.Observe(sessionkit.Event{Kind: sessionkit.EventError, Ctx: ctx, Err: ErrNoSessions})
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		passed := false
		a.Require(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

// responseWriter is gin's writer with the session's writer in front: gin
// keeps its status and size bookkeeping (gin writes headers lazily, on the
// first body byte or after the last handler), and the session commits
// just before the headers really go out.
type responseWriter struct {
	gin.ResponseWriter                     // gin's writer; below the session's writer
	sw                 http.ResponseWriter // the session's writer, over gin's
}

// WriteHeader records the status, as gin's writer does; the headers go
// out with the first write or WriteHeaderNow.
func (w *responseWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
}

// WriteHeaderNow commits the session, then writes the headers.
func (w *responseWriter) WriteHeaderNow() {
	if !w.ResponseWriter.Written() {
		w.sw.WriteHeader(w.ResponseWriter.Status()) // commits; gin's writer records the status
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	return w.sw.Write(b)
}

func (w *responseWriter) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	return w.sw.Write([]byte(s))
}

func (w *responseWriter) Flush() {
	w.WriteHeaderNow()
	_ = http.NewResponseController(w.sw).Flush()
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.sw).Hijack()
}

// Unwrap lets http.ResponseController reach the writers below.
func (w *responseWriter) Unwrap() http.ResponseWriter {
	return w.sw
}
