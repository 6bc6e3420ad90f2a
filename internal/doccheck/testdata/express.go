// Declarations the docs/migrating-from-express.md fragments assume.
package express

import (
	"context"
	"net/http"

	"github.com/sessionkit/sessionkit/auth"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

type User struct {
	ID    int
	Email string
}

// db is the application's user table.
var db interface {
	UserByID(ctx context.Context, id int) (*User, error)
	FindOrCreateByIdentity(ctx context.Context, issuer, subject, email string) (*User, error)
}

var (
	ctx          context.Context
	mux          *http.ServeMux
	accountPages http.Handler
	users        *auth.Auth[*User]
	serialize    func(*User) string
	deserialize  func(ctx context.Context, key string) (*User, error)
	keys         []string
	store        *redisstore.Store
)
