package pgstore_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// TestServerRestart kills, stops and freezes a private server under a
// working store: calls fail with errors (not store answers) by their
// deadline, and once the server is back the same store works again
// without being reopened.
func TestServerRestart(t *testing.T) {
	sqlstoretest.ServerRestart(t, "PostgreSQL", testenv.StartPostgres, (*testenv.PostgresServer).Close,
		func(ctx context.Context, srv *testenv.PostgresServer) (sqlstoretest.FaultStore, error) {
			return pgstore.Open(ctx, srv.URL(), pgstore.Options{})
		})
}
