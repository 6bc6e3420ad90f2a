// Package sessiongin mounts sessionkit in gin (github.com/gin-gonic/gin).
//
//	import sessiongin "github.com/sessionkit/sessionkit/contrib/gin"
//
//	sessions := sessionkit.New(store)
//	users := auth.New(sessions, serialize, deserialize)
//
//	r := gin.New()
//	r.Use(sessiongin.Sessions(sessions))
//	r.GET("/", func(c *gin.Context) {
//		n, _ := sessionkit.Update(sessiongin.From(c), "visits", func(n int) (int, error) { return n + 1, nil })
//		c.String(http.StatusOK, "visit %d", n)
//	})
//	r.GET("/account", sessiongin.Require(users), func(c *gin.Context) {
//		u, _ := sessiongin.User(c, users)
//		c.String(http.StatusOK, "hello %s", u.Name)
//	})
//
// Sessions keeps every promise of sessionkit.Manager.Handler: it puts the
// session's writer in front of gin's, so the session is committed (and its
// cookie set) just before gin writes the headers — on c.String, c.JSON,
// c.Redirect, c.AbortWithStatus, or after the last handler when nothing
// was written — and a change made after the headers is reported.
//
// Mounting Manager.Handler by hand in a gin middleware that only passes
// the session's request on (c.Request = r; c.Next()) cannot work: gin's
// handlers keep writing through gin's writer, around the session's, so no
// cookie is sent. sessionkit detects it (gin's writer reports Written) and
// logs sessionkit.ErrResponseBypassed on every such request instead of
// storing orphan sessions. Use Sessions.
package sessiongin
