package mongostore

import (
	"testing"

	"github.com/sessionkit/sessionkit/internal/testenv"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// BenchmarkMiddleware measures whole requests through sessionkit's
// middleware (the handler called directly, no HTTP server): "read" loads
// a session and reads a value, "rmw" loads, changes and saves it with
// compare-and-swap. Serial runs show one request's latency; parallel runs
// use 16 goroutines, each with a session of its own.
//
//	go run ./internal/testenv/cmd/withbackends -only mongo -- go test -run '^$' -bench Middleware -benchtime 2s ./store/mongostore
func BenchmarkMiddleware(b *testing.B) {
	url := testenv.Getenv(b, testenv.MongoURLEnv)
	store := testStore(b, connect(b, url), Options{})
	if store.guarded {
		b.Log("FerretDB v1: writes are guarded with claim documents (3 extra round trips per save)")
	}

	storetest.BenchmarkMiddleware(b, store)
}
