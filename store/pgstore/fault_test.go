package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestServerRestart kills, stops and freezes a private server under a
// working store: calls fail with errors (not store answers) by their
// deadline, and once the server is back the same store works again
// without being reopened.
func TestServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL server")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv, err := testenv.StartPostgres(ctx, t.TempDir())
	if err != nil {
		testenv.SkipOrFail(t, "cannot start a private PostgreSQL server: "+err.Error())
	}
	defer srv.Close()
	s, err := pgstore.Open(ctx, srv.URL(), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.RunFaults(t, s, srv)
}
