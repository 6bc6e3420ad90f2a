package reliability

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

// TestBackendFrozenUnderLoad freezes the backend (SIGSTOP: connections
// stay open, nothing answers — a hung server or a partition) under load.
// OpTimeout (1s) bounds every store call, so while it is frozen every
// request must be answered with the ErrorHandler's 503 (the load fails on
// any other answer, and on a request the client gave up on after 20s);
// once it is resumed every session must work again and hold every
// acknowledged write.
func TestBackendFrozenUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  string
		open func(t *testing.T, ctx context.Context) (sessionkit.Store, func() error, func() error)
	}{
		{"redisstore", testenv.RedisURLEnv, func(t *testing.T, ctx context.Context) (sessionkit.Store, func() error, func() error) {
			srv, err := testenv.StartRedis(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Stop() })
			store, err := redisstore.NewFromURL(ctx, srv.URL()+"?max_retries=1", redisstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			return store, srv.Pause, srv.Resume
		}},
		{"pgstore", testenv.PostgresURLEnv, func(t *testing.T, ctx context.Context) (sessionkit.Store, func() error, func() error) {
			srv, err := testenv.StartPostgres(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			store, err := pgstore.Open(ctx, srv.URL(), pgstore.Options{CleanupInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			if err := store.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return store, srv.Pause, srv.Resume
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testenv.Getenv(t, tc.env) // the backend is available
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			store, pause, resume := tc.open(t, ctx)
			m := newManager(store)
			var (
				mu       sync.Mutex
				outcomes = map[sessionkit.Outcome]int{}
			)
			m.Observer = func(e sessionkit.Event) {
				if e.Kind.StoreOp() && e.Outcome != sessionkit.OutcomeOK && e.Outcome != sessionkit.OutcomeNotFound {
					mu.Lock()
					outcomes[e.Outcome]++
					mu.Unlock()
				}
			}
			base := serve(t, appHandler(m))
			tr := newTransport(faultWorkers)
			defer tr.CloseIdleConnections()

			load := startLoad(t, tr, base, loadOptions{workers: faultWorkers})
			load.waitAcks(t, ctx, 200)
			frozen := time.Now()
			if err := pause(); err != nil {
				t.Fatal(err)
			}
			// Every client has a request in flight when the backend
			// stops; it must come back as an error answer, not hang.
			load.waitErrors(t, ctx, 2*faultWorkers)
			if err := resume(); err != nil {
				t.Fatal(err)
			}
			resumed := time.Now()
			rec := load.waitRecovered(t, ctx, resumed)
			load.waitAcks(t, ctx, 100)
			lost := load.verify(t, base, true)
			mu.Lock()
			defer mu.Unlock()
			if outcomes[sessionkit.OutcomeTimeout] == 0 {
				t.Errorf("no store call reported OutcomeTimeout while the backend was frozen (failed calls by outcome: %v)", outcomes)
			}
			if load.codes[http.StatusServiceUnavailable] == 0 {
				t.Errorf("no 503 while the backend was frozen: %s", load.summary())
			}
			t.Logf("%s frozen %v: %d acknowledged requests, %s; failed store calls by outcome %v; every session answered again %v after the resume; %d sessions lost an acknowledged write",
				tc.name, resumed.Sub(frozen).Round(time.Millisecond), load.acks(), load.summary(), outcomes, rec.Round(time.Millisecond), lost)
		})
	}
}
