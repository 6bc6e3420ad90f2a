package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// TestServerRestart kills, stops and freezes a private server under a
// working store: calls fail with errors (not store answers) by their
// deadline, and once the server is back the same store works again
// without being reopened.
func TestServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private MariaDB server")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv, err := testenv.StartMySQL(ctx, t.TempDir())
	if err != nil {
		testenv.SkipOrFail(t, "cannot start a private MariaDB server: "+err.Error())
	}
	defer srv.Stop()
	s, err := mysqlstore.Open(ctx, srv.DSN(), mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.RunFaults(t, s, srv)
}
