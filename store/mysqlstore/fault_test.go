package mysqlstore_test

import (
	"context"
	"testing"

	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// TestServerRestart kills, stops and freezes a private server under a
// working store: calls fail with errors (not store answers) by their
// deadline, and once the server is back the same store works again
// without being reopened.
func TestServerRestart(t *testing.T) {
	sqlstoretest.ServerRestart(t, "MariaDB", testenv.StartMySQL, (*testenv.MySQLServer).Stop,
		func(ctx context.Context, srv *testenv.MySQLServer) (sqlstoretest.FaultStore, error) {
			return mysqlstore.Open(ctx, srv.DSN(), mysqlstore.Options{})
		})
}
