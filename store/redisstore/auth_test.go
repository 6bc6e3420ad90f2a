package redisstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/auth/authtest"
)

// TestAuthFlows runs the auth package's login, session-list and
// revocation flows through a Manager on every topology.
func TestAuthFlows(t *testing.T) {
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			t.Parallel()
			client := newClient(t, topo.url(t))
			authtest.Run(t, func(t *testing.T) sessionkit.Store {
				return newStore(t, client)
			})
		})
	}
}
