package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/memstore"
)

// A bounded in-process store behind the middleware.
func ExampleNew() {
	store := memstore.New(memstore.Options{
		MaxEntries: 100_000,  // least recently used sessions go first beyond this
		MaxBytes:   64 << 20, // and beyond 64 MiB of session data
	})
	defer store.Close() // stops the sweeper

	sessions := sessionkit.New(store)
	mux := http.NewServeMux()
	protect := http.NewCrossOriginProtection() // refuse cross-site POSTs before any session work
	if err := http.ListenAndServe("127.0.0.1:8080", protect.Handler(sessions.Handler(mux))); err != nil {
		fmt.Println(err)
	}
}

// The Store contract the Manager relies on: versions for compare-and-swap.
func ExampleStore_Save() {
	ctx := context.Background()
	store := memstore.New(memstore.Options{})
	defer store.Close()
	exp := time.Now().Add(time.Hour)

	v1, err := store.Save(ctx, "key", sessionkit.Record{Data: []byte(`{"n":1}`), Expiry: exp})
	fmt.Println(err)
	rec, _ := store.Load(ctx, "key")
	fmt.Println(string(rec.Data), rec.Version == v1)

	// A writer that read version 0 (no record) lost the race.
	_, err = store.Save(ctx, "key", sessionkit.Record{Data: []byte(`{"n":2}`), Expiry: exp})
	fmt.Println(errors.Is(err, sessionkit.ErrConflict))
	// Output:
	// <nil>
	// {"n":1} true
	// true
}
