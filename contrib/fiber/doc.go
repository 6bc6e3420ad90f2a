// Package sessionfiber is how to use sessionkit with Fiber v3
// (github.com/gofiber/fiber/v3), and what does not work.
//
// Fiber runs on fasthttp, not net/http: its handlers never see an
// http.ResponseWriter, so there is no writer for sessionkit to put in
// front of the response, and a native adapter would need sessions that
// are loaded and committed outside Manager.Handler (planned: issue 18).
// Until then, mount the routes that use sessions as net/http handlers:
//
//	import sessionfiber "github.com/sessionkit/sessionkit/contrib/fiber"
//
//	app := fiber.New()
//	app.Get("/health", func(c fiber.Ctx) error { return c.SendString("ok") }) // plain Fiber
//	app.All("/account/*", sessionfiber.Handler(sessions, accountMux))         // net/http, with sessions
//
// Handler is adaptor.HTTPHandler(sessions.Handler(h)): fasthttp's adaptor
// runs h with a buffering http.ResponseWriter and copies the response
// (status, headers with the session cookie, body) into Fiber's once h
// returns, so every promise of Manager.Handler holds. The package's tests
// run the shared adapter suite this way over Fiber's own server: nothing
// stored for an untouched session, committed before the response (login
// then redirect), changes after the headers reported, concurrent writes
// merged, logout.
//
// What does not work, measured in TestHTTPMiddlewareLosesChanges:
// adaptor.HTTPMiddleware(sessions.Handler), Fiber's way of using net/http
// middleware. It runs Manager.Handler to completion — commit included —
// before any Fiber handler runs, then copies the request context's values
// into Fiber's context by reflecting over context.WithValue's fields. The
// session would be committed before the handler could change it; in fact
// the copy does not find it at all (sessionkit's request context is not a
// context.WithValue), so sessionkit.From(c) is nil and every Session
// method that returns an error reports sessionkit.ErrNoSession: the misuse
// fails at the first request, and nothing is stored or sent.
package sessionfiber
