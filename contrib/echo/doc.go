// Package sessionecho mounts sessionkit in Echo v5
// (github.com/labstack/echo/v5).
//
//	import sessionecho "github.com/sessionkit/sessionkit/contrib/echo"
//
//	sessions := sessionkit.New(store)
//	users := auth.New(sessions, serialize, deserialize)
//
//	e := echo.New()
//	e.Use(sessionecho.Middleware(sessions))
//	e.GET("/", func(c *echo.Context) error {
//		n, _ := sessionkit.Update(sessionecho.From(c), "visits", func(n int) (int, error) { return n + 1, nil })
//		return c.String(http.StatusOK, fmt.Sprintf("visit %d", n))
//	})
//	e.GET("/account", func(c *echo.Context) error {
//		u, _ := sessionecho.User(c, users)
//		return c.String(http.StatusOK, "hello "+u.Name)
//	}, sessionecho.Require(users))
//
// Middleware keeps every promise of sessionkit.Manager.Handler: the
// handlers' c.Response() writes through the session's writer, so the
// session is committed (and its cookie set) just before the headers go
// out, and a change made after them is reported. A handler that returns
// an error gets Echo's error response after the session was committed,
// with its cookie.
//
// Echo v5 is the current major version; v4 gets only bug fixes until the
// end of 2026 and security fixes until the end of 2027, so new adapters
// target v5. For v4, echo.WrapMiddleware(sessions.Handler) swaps the
// response as this package does.
//
// Mounting Manager.Handler by hand in an Echo middleware that only passes
// the session's request on (c.SetRequest(r); next(c)) cannot work: the
// handlers keep writing through Echo's response, around the session's
// writer, so no cookie is sent. sessionkit detects it (through the
// response's Before hook) and logs sessionkit.ErrResponseBypassed on every
// such request instead of storing orphan sessions. Use Middleware.
package sessionecho
