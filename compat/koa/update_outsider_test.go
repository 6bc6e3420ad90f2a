package koa_test

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/compat/express"
	"github.com/sessionkit/sessionkit/compat/internal/interoptest"
	"github.com/sessionkit/sessionkit/compat/koa"
)

// TestOutsiderUpdateKoaRedis: sessionkit.Update's increments "all count,
// in one process or across several" (the root package's "No lost
// updates") through koa-generic-session's codec too, on koa-redis's
// layout (LayoutConnectRedis with the package's prefix), whose
// compare-and-swap goes by the stored JSON: two Go processes configured
// with koa.ConfigureGeneric, each on its own store (plain, and with
// NearCache and AutoPipeline), answer a burst of concurrent increments of
// one client's counters, and every counter holds exactly the increments
// acknowledged.
func TestOutsiderUpdateKoaRedis(t *testing.T) {
	interoptest.RunUpdateBurst(t, func() string { return koa.DefaultGenericPrefix + uniqueName("u") + ":" }, express.UserKey, func(m *sessionkit.Manager) error {
		return koa.ConfigureGeneric(m, koa.GenericOptions{Keys: []string{"koa key"}})
	})
}
