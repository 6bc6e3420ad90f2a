package sessionfiber

import (
	"net/http"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/adaptor"
	"github.com/sessionkit/sessionkit"
)

// Handler returns a Fiber handler that serves h, a net/http handler, with
// sessions from m: adaptor.HTTPHandler(m.Handler(h)). The session lives
// and is committed inside h, so every promise of Manager.Handler holds.
func Handler(m *sessionkit.Manager, h http.Handler) fiber.Handler {
	return adaptor.HTTPHandler(m.Handler(h))
}
