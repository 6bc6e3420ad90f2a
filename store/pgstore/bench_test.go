package pgstore_test

import (
	"testing"

	"github.com/sessionkit/sessionkit/store/pgstore"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// BenchmarkMiddleware measures whole requests through sessionkit's
// middleware on this store (handler called directly, no HTTP server):
// "read" loads one session and reads a value; "rmw" loads, changes and
// saves it (compare-and-swap). Serial runs show one request's latency;
// parallel runs use 16 goroutines, each with its own session.
//
//	go run ./internal/testenv/cmd/withbackends -only postgres -- go test -run '^$' -bench Middleware -benchtime 2s ./store/pgstore
func BenchmarkMiddleware(b *testing.B) {
	s := newStore(b, pgstore.Options{})
	storetest.BenchmarkMiddleware(b, s)
}
