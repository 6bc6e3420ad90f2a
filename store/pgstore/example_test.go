package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/pgstore"
)

// Open connects, Migrate creates the table if needed, Close closes the
// pool Open made.
func ExampleOpen() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	store, err := pgstore.Open(ctx, "postgres://app@127.0.0.1:5432/app?sslmode=disable", pgstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	sessions := sessionkit.New(store)
	protect := http.NewCrossOriginProtection() // refuse cross-site POSTs before any session work
	return http.ListenAndServe("127.0.0.1:8080", protect.Handler(sessions.Handler(http.NewServeMux())))
}

// New uses a pool the application already has (and keeps closing itself).
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	store, err := pgstore.New(pool, pgstore.Options{Table: "app.sessions"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close() // stops the sweeper; the pool stays open
	_ = sessionkit.New(store)
}
