// Declarations the docs/frameworks.md fragments assume.
package frameworks

import (
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth"
)

type User struct {
	ID   int
	Name string
}

var (
	sessions   *sessionkit.Manager
	users      *auth.Auth[User]
	check      func(username, password string) (User, bool)
	settings   http.HandlerFunc
	notes      http.HandlerFunc
	accountMux *http.ServeMux
	account    echo.HandlerFunc
)
