package mysqlstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/internal/sqlstore/sqlstoretest"
	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// BenchmarkMiddleware measures whole requests through sessionkit's
// middleware on this store (handler called directly, no HTTP server):
// "read" loads one session and reads a value; "rmw" loads, changes and
// saves it (compare-and-swap). Serial runs show one request's latency;
// parallel runs use 16 goroutines, each with its own session.
//
//	go run ./internal/testenv/cmd/withbackends -only mysql -- go test -run '^$' -bench Middleware -benchtime 2s ./store/mysqlstore
func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range []struct {
		name string
		open func(b *testing.B) *mysqlstore.Store
	}{
		// Open: interpolated parameters, one round trip per statement.
		{"open", func(b *testing.B) *mysqlstore.Store {
			s, err := mysqlstore.Open(b.Context(), testenv.Getenv(b, testenv.MySQLDSNEnv), mysqlstore.Options{Table: sqlstoretest.UniqueTable("sk_bench_")})
			if err != nil {
				b.Fatal(err)
			}
			return migrated(b, s)
		}},
		// New over sql.Open's defaults: server-side prepared statements.
		{"prepared", func(b *testing.B) *mysqlstore.Store { return newStore(b, mysqlstore.Options{}) }},
	} {
		b.Run(bc.name, func(b *testing.B) { storetest.BenchmarkMiddleware(b, bc.open(b)) })
	}
}
