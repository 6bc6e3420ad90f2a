package mongostore

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth/authtest"
)

// TestAuthFlows runs the auth package's login, session-list and
// revocation flows through a Manager on this store.
func TestAuthFlows(t *testing.T) {
	for name, url := range servers(t) {
		t.Run(name, func(t *testing.T) {
			client := connect(t, url)
			authtest.Run(t, func(t *testing.T) sessionkit.Store {
				return testStore(t, client, Options{})
			})
		})
	}
}
