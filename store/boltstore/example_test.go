package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/store/boltstore"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Open creates data/ and the file, and starts a sweeper that deletes
	// expired sessions every 10 minutes until Close.
	store, err := boltstore.Open(filepath.Join(dir, "data", "sessions.db"),
		boltstore.WithSweepInterval(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	version, err := store.Save(ctx, "session-key", sessionkit.Record{
		Data:    []byte(`{"n":1}`),
		Expiry:  time.Now().Add(24 * time.Hour),
		UserKey: "alice",
	})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := store.Load(ctx, "session-key")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(rec.Data), rec.Version == version)

	sessions, err := store.UserSessions(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(sessions), "session for alice")
	// Output:
	// {"n":1} true
	// 1 session for alice
}
