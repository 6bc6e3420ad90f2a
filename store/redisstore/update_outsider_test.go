package redisstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/internal/updatetest"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestOutsiderUpdateAcrossProcesses: Update "records fn instead: when the
// change is merged with others or saved after a conflict, fn is called
// again on the value then stored, so both increments count, whichever
// process made them" (sessionkit.Update). Two processes, each a Manager
// on a store of its own over one Redis (with every option that changes
// how records are loaded and saved: AutoPipeline, NearCache), answer a
// burst of concurrent requests of one client, each incrementing one of
// three counters and a total: every request is answered 200 and every
// counter holds exactly the increments made.
func TestOutsiderUpdateAcrossProcesses(t *testing.T) {
	rawURL := testenv.Getenv(t, testenv.RedisURLEnv)
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			first := newStoreWith(t, newClient(t, rawURL), mode.opts())
			opts := mode.opts()
			opts.Prefix = first.Prefix()
			second, err := redisstore.New(newClient(t, rawURL), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { second.Close() })
			if opts.NearCache != nil {
				waitTracking(t, second)
			}
			var ms []*sessionkit.Manager
			for _, st := range []*redisstore.Store{first, second} {
				m := sessionkit.New(st)
				m.MaxRetries = 64 // only conflicts between the two processes remain; let them all resolve
				ms = append(ms, m)
			}
			updatetest.Burst(t, ms...)
		})
	}
}
