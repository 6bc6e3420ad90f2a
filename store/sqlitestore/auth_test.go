package sqlitestore

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth/authtest"
)

// TestAuthFlows runs the auth package's login, session-list and
// revocation flows through a Manager on this store.
func TestAuthFlows(t *testing.T) {
	authtest.Run(t, func(t *testing.T) sessionkit.Store {
		return openTemp(t)
	})
}
