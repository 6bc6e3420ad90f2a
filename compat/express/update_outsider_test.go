package express_test

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
)

// TestOutsiderUpdateConnectRedis: sessionkit.Update's increments "all
// count, in one process or across several" (the root package's "No lost
// updates") through the express-session codec too, on the connect-redis
// layout, whose compare-and-swap goes by the stored JSON: two Go
// processes configured with express.Configure, each on its own store
// (plain, and with NearCache and AutoPipeline), answer a burst of
// concurrent increments of one client's counters, and every counter holds
// exactly the increments acknowledged.
func TestOutsiderUpdateConnectRedis(t *testing.T) {
	interoptest.RunUpdateBurst(t, func() string { return uniqueName("sess_") + ":" }, express.UserKey, func(m *sessionkit.Manager) error {
		return express.Configure(m, express.Options{Secrets: []string{"keyboard cat"}})
	})
}
