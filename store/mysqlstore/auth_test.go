package mysqlstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth/authtest"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// TestAuthFlows runs the auth package's login, session-list and
// revocation flows through a Manager on this store.
func TestAuthFlows(t *testing.T) {
	t.Parallel()
	authtest.Run(t, func(t *testing.T) sessionkit.Store {
		return newStore(t, mysqlstore.Options{})
	})
}
