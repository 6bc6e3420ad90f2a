package redisstore_test

import (
	"context"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/redisstore"
)

func ExampleNewFromURL() {
	ctx := context.Background()
	// Also: redis+sentinel://s1,s2,s3/mymaster or redis+cluster://n1:7000,n2:7000.
	store, err := redisstore.NewFromURL(ctx, "redis://127.0.0.1:6379/0", redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // closes the client NewFromURL created

	m := sessionkit.New(store)
	mux := http.NewServeMux()
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}

func ExampleNew() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"},
		IsClusterMode:         true,
		ContextTimeoutEnabled: true, // bound every command by its context
	})
	defer rdb.Close() // the store never closes a client it was given

	store, err := redisstore.New(rdb, redisstore.Options{Prefix: "myapp:sess:"})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessionkit.New(store)
}
