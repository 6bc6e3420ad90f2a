package interoptest

import (
	"context"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/internal/updatetest"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// RunUpdateBurst shows sessionkit.Update's increments counted through a
// compat package's codec on redisstore's connect-redis layout (which
// compare-and-swaps by the stored JSON): two Go processes, each a Manager
// configured by configure on a store of its own under a prefix newPrefix
// makes per run (plain, then with NearCache and AutoPipeline), answer
// updatetest.Burst. userKeyOf is the layout's UserKeyOf.
func RunUpdateBurst(t *testing.T, newPrefix func() string, userKeyOf func([]byte) string, configure func(*sessionkit.Manager) error) {
	redisURL := testenv.Getenv(t, testenv.RedisURLEnv)
	for _, mode := range []struct {
		name string
		opts func() redisstore.Options
	}{
		{"Plain", func() redisstore.Options { return redisstore.Options{} }},
		{"NearCache+AutoPipeline", func() redisstore.Options {
			return redisstore.Options{NearCache: &redisstore.NearCache{}, AutoPipeline: true}
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			prefix := newPrefix()
			var ms []*sessionkit.Manager
			for range 2 {
				o := mode.opts()
				o.Layout, o.Prefix, o.UserKeyOf = redisstore.LayoutConnectRedis, prefix, userKeyOf
				st, err := redisstore.NewFromURL(context.Background(), redisURL, o)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx := context.Background()
					for e, err := range st.All(ctx) {
						if err == nil {
							st.Delete(ctx, e.Key)
						}
					}
					st.Close()
				})
				m := sessionkit.New(st)
				if err := configure(m); err != nil {
					t.Fatal(err)
				}
				m.MaxRetries = 64 // only conflicts between the two processes remain; let them all resolve
				ms = append(ms, m)
			}
			updatetest.Burst(t, ms...)
		})
	}
}
