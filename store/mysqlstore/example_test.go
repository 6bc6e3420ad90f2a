package mysqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"

	_ "github.com/go-sql-driver/mysql"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/mysqlstore"
)

// Open takes a go-sql-driver DSN or a mysql:// URL; Migrate creates the
// table if needed; Close closes the pool Open made.
func ExampleOpen() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	store, err := mysqlstore.Open(ctx, "mysql://app:secret@127.0.0.1:3306/app", mysqlstore.Options{})
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

// New uses a *sql.DB the application already has. Add
// interpolateParams=true to its DSN to save two round trips per call.
func ExampleNew() {
	db, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app?parseTime=true&interpolateParams=true")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	store, err := mysqlstore.New(db, mysqlstore.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close() // stops the sweeper; db stays open
	_ = sessionkit.New(store)
}

// DSNFromURL turns a mysql:// URL into the driver's DSN.
func ExampleDSNFromURL() {
	dsn, err := mysqlstore.DSNFromURL("mysql://app:secret@db.internal:3306/app?tls=true")
	fmt.Println(dsn, err)
	// Output: app:secret@tcp(db.internal:3306)/app?tls=true <nil>
}
