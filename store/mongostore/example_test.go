package mongostore_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/mongostore"
)

func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Sessions go to the "sessions" collection of the database "myapp".
	store, err := mongostore.Open(ctx, "mongodb://127.0.0.1:27017/myapp", mongostore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	m := sessionkit.New(store)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.From(r.Context())
		n, _ := sessionkit.Get[int](s, "visits")
		_ = s.Set("visits", n+1)
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}
