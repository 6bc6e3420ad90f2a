package storeurl_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/storeurl"
)

// One flag, any store: memory://, bolt://, redis://, postgres://, ...
func ExampleOpen() {
	ctx := context.Background()
	store, err := storeurl.Open(ctx, "memory://?max_entries=1000", storeurl.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	sessions := sessionkit.New(store)
	_ = sessions.Handler(http.NewServeMux())
	fmt.Println(storeurl.Scheme("memory://?max_entries=1000"))
	// Output: memory
}

// Redact hides passwords before a URL is logged.
func ExampleRedact() {
	fmt.Println(storeurl.Redact("redis://app:s3cret@cache.internal:6379/0"))
	fmt.Println(storeurl.Redact("postgres://app:s3cret@db.internal/app?sslmode=require"))
	// Output:
	// redis://app:xxxxx@cache.internal:6379/0
	// postgres://app:xxxxx@db.internal/app?sslmode=require
}

// Check validates a URL without connecting.
func ExampleCheck() {
	fmt.Println(storeurl.Check("redis://127.0.0.1:6379/0"))
	fmt.Println(storeurl.Check("ftp://example.com") != nil)
	// Output:
	// <nil>
	// true
}
